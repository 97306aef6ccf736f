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


def _sample() -> list[int]:
    rng = np.random.default_rng(7)
    special = [0, 1, 5, 781, 1175, 4215, 14610, SIZE - 1, SPACE.index((3, 3, 3, 3, 3, 3)),
               SPACE.index((1, 0, 0, 1, 0, 0)), SPACE.index((2, 2, 2, 2, 2, 2))]
    return special + [int(i) for i in rng.integers(0, SIZE, 8)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("config", ["cifar10", "imagenet16-120", "fashion-mnist"])
def test_sweep_equals_full_simulation(config: str, device: str) -> None:
    sw = sweep_nb201(config, device)
    assert all(v.shape == (SIZE,) and v.dtype == np.float64 for v in sw.values())
    assert not any(np.isnan(v).any() for v in sw.values())
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
