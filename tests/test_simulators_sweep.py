"""The vectorized nb201 sweep equals full-network simulation, cell by cell, on every device family."""

from __future__ import annotations

import numpy as np
import pytest

from hwbench.builders import build_graph
from hwbench.simulate import _cell_graph, _pruned, sweep_nb201
from hwbench.spaces.nb201 import SIZE, SPACE
from simulators.api import simulate
from simulators.fusion import fuse

DEVICES = ["mcu-stm32f746", "gpu-jetson-tx2", "fpga-zc706", "asic-eyeriss"]

#: disconnected cells (the output does not depend on the input) other than the all-none cell
DISCONNECTED = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|none~2|",
    "|none~0|+|none~0|none~1|+|none~0|skip_connect~1|skip_connect~2|",
    "|none~0|+|none~0|nor_conv_3x3~1|+|none~0|avg_pool_3x3~1|nor_conv_1x1~2|",
]
#: connected cells whose stages partly prune away (dead or zero-fed convs; a cell with no kernel)
PARTLY_PRUNED = [
    "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
    "|none~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|",
    "|skip_connect~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|",
]


def _sample() -> list[int]:
    rng = np.random.default_rng(7)
    special = [0, 1, 5, 781, 1175, 4215, 14610, SIZE - 1, SPACE.index((3, 3, 3, 3, 3, 3)),
               SPACE.index((1, 0, 0, 1, 0, 0)), SPACE.index((2, 2, 2, 2, 2, 2)),
               *(SPACE.index(a) for a in DISCONNECTED + PARTLY_PRUNED)]
    return special + [int(i) for i in rng.integers(0, SIZE, 8)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("config", ["cifar10", "imagenet16-120", "fashion-mnist"])
def test_sweep_equals_full_simulation(config: str, device: str) -> None:
    sw = sweep_nb201(config, device)
    assert all(v.shape == (SIZE,) and v.dtype == np.float64 for v in sw.values())
    assert not any(np.isnan(v).any() for v in sw.values())
    # no cell is free or without memory, disconnected ones included (they run the head on a constant)
    storage = "flash_bytes" if "flash_bytes" in sw else "weight_bytes"
    for k in ["latency_ms", "energy_mj", storage, *(k for k in sw if k.startswith("peak_"))]:
        assert np.all(sw[k] > 0), (config, device, k, np.flatnonzero(sw[k] <= 0)[:5])
    for i in _sample():
        full = simulate(build_graph(i, config), device).metrics()
        for k, v in sw.items():
            assert v[i] == pytest.approx(full[k], rel=1e-9, abs=1e-9), (config, device, i, k)


def test_sweep_has_expected_columns_and_ordering() -> None:
    mcu = sweep_nb201("cifar10", "mcu-stm32h743")
    assert set(mcu) >= {"latency_ms", "energy_mj", "peak_sram_bytes", "flash_bytes", "fits"}
    conv3 = SPACE.index((3, 3, 3, 3, 3, 3))
    conv1 = SPACE.index((2, 2, 2, 2, 2, 2))
    assert mcu["latency_ms"][conv3] > mcu["latency_ms"][conv1] > 0
    assert mcu["flash_bytes"][conv3] > mcu["flash_bytes"][conv1]
    fpga = sweep_nb201("cifar10", "fpga-zcu102")
    assert set(fpga) >= {"dsp_used", "bram36_used", "bram_util"}
    # disconnected cells compile to a constant network: all share the all-none cost
    disc = [i for i in range(0, SIZE, 97) if not SPACE.is_connected(i)]
    assert disc and np.all(mcu["latency_ms"][disc] == mcu["latency_ms"][0])


def test_pruned_cell_matches_fusion_of_the_full_cell() -> None:
    for i in _sample():
        a = SPACE.parse(i)
        p = _pruned(a)
        if p is None:
            assert not SPACE.is_connected(a)
            assert fuse(_cell_graph(a, 4, 8, 8)).kernels == []
            continue
        k_full = [(k.kind, k.fused) for k in fuse(_cell_graph(a, 4, 8, 8)).kernels]
        k_pruned = [(k.kind, k.fused) for k in fuse(_cell_graph(p, 4, 8, 8)).kernels]
        assert sorted(k_full) == sorted(k_pruned)


def test_cifar100_differs_only_in_the_classifier() -> None:
    a = sweep_nb201("cifar10", "gpu-rtx2080ti")
    b = sweep_nb201("cifar100", "gpu-rtx2080ti")
    d = b["weight_bytes"] - a["weight_bytes"]
    conn = np.array([SPACE.is_connected(i) for i in range(0, SIZE, 251)])
    assert np.allclose(d[::251][conn], 64 * 90 * 4 + 90 * 4)


@pytest.mark.parametrize(("device", "opts"), [("gpu-jetson-orin-nano", {"batch": 4, "precision": "fp16"}),
                                              ("asic-eyeriss", {"batch": 3}), ("fpga-zcu102", {"bits": 8})])
def test_sweep_passes_options(device: str, opts: dict) -> None:  # type: ignore[type-arg]
    sw = sweep_nb201("cifar10", device, **opts)
    for i in _sample()[:8]:
        full = simulate(build_graph(i, "cifar10"), device, **opts).metrics()
        for k, v in sw.items():
            assert v[i] == pytest.approx(full[k], rel=1e-9, abs=1e-9), (device, i, k)


def test_sweep_columns_are_named_and_attributed() -> None:
    import json

    from hwbench.simulate import sweep_columns

    cols = sweep_columns("mcu-stm32f746", ("cifar10", "fashion-mnist"))
    assert "cifar10/mcu-stm32f746/latency_ms" in cols and "fashion-mnist/mcu-stm32f746/peak_sram_bytes" in cols
    values, attrs = cols["cifar10/mcu-stm32f746/flash_bytes"]
    assert values.shape == (SIZE,) and attrs["unit"] == "bytes" and attrs["source"] == "simulated"
    assert json.loads(attrs["device"])["figures"]["clock_hz"]["source"]
    assert all(a["unit"] for _, a in cols.values())


def test_a_constant_network_deploys_its_head_on_a_constant_feature_map() -> None:
    g = build_graph(0, "cifar10")
    kg = fuse(g)
    assert [(k.kind, k.name) for k in kg.kernels] == [("global_avgpool", "global_pooling"), ("linear", "classifier")]
    assert kg.constants == ("lastact.1",) and kg.tensors["lastact.1"].shape == (1, 64, 8, 8)
    assert kg.kernels[0].inputs == ("lastact.1",) and kg.outputs == ("classifier",)
    life = kg.lifetimes()
    assert "lastact.1" not in life and "x" in life  # the constant is stored, the input still allocated
    for a in DISCONNECTED:
        k2 = fuse(build_graph(a, "cifar10"))
        assert [k.name for k in k2.kernels] == ["global_pooling", "classifier"] and k2.constants == kg.constants
    # a connected network has no constant
    assert fuse(build_graph(PARTLY_PRUNED[0], "cifar10")).constants == ()


@pytest.fixture(scope="module")
def exported_disconnected() -> dict[str, object]:
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from hwbench.builders import graph_from_module
    from hwbench.models.nb201 import build_model
    from hwbench.spaces.nb201 import get_config

    cfg = get_config("cifar10")
    return {a: graph_from_module(build_model(a, cfg).eval(), torch.zeros(cfg.input_shape)) for a in DISCONNECTED}


@pytest.mark.parametrize("device", DEVICES)
def test_disconnected_cells_cost_the_head_in_sweep_and_per_network(device: str, exported_disconnected) -> None:  # type: ignore[no-untyped-def]
    from simulators.devices import get_device

    sw = sweep_nb201("cifar10", device)
    disc = np.array([not SPACE.is_connected(i) for i in range(SIZE)])
    assert disc.sum() == 341
    for k, v in sw.items():  # every disconnected cell costs what the all-none network costs
        assert np.all(v[disc] == v[0]), k
    spec = get_device(device)
    for a in DISCONNECTED:
        i = SPACE.index(a)
        assert not SPACE.is_connected(i)
        for how, g in (("analytic", build_graph(a, "cifar10")), ("torch", exported_disconnected[a])):
            r = simulate(g, device)
            assert [x["kind"] for x in r.layer_records()] == ["global_avgpool", "linear"], (how, a)
            for k, v in r.metrics().items():
                assert sw[k][i] == pytest.approx(v, rel=1e-9, abs=1e-9), (device, how, a, k)
    lat = sw["latency_ms"][disc]
    assert np.all(np.isfinite(lat)) and np.all(lat > 0)
    assert np.all(lat < 0.25 * sw["latency_ms"][~disc].min())  # the head alone: far below any connected cell
    if spec.family == "gpu":  # two kernels, each paying the launch overhead
        assert sw["kernels"][0] == 2 and sw["latency_ms"][0] > 2 * float(spec.launch_overhead_s) * 1e3
    if spec.family == "mcu":  # two TFLM kernels, each paying the per-layer overhead; the constant in flash
        from simulators.mcu import DEFAULT_COEFFICIENTS

        c = DEFAULT_COEFFICIENTS[str(spec.core)]
        assert sw["cycles"][0] > 2 * c.c_layer
        assert sw["flash_bytes"][0] == pytest.approx(c.flash_runtime + 64 * 8 * 8 + 64 * 10 + 4 * 10 + 12)
