"""Bit-width-aware FPGA model (``simulators.fpga`` with ``layer_bits``), the FPGA columns of the
compression cost block, and the agreement between the cost model's quantized tensors and what the
accuracy evaluation fake-quantizes (issue 9)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hwbench.builders.nb201_analytic import build_graph
from hwbench.compress.bases import PINNED_BASES
from hwbench.compress.cost import QUANTIZED_READERS, compress_cost, compressed_graph
from hwbench.spaces.nb201 import SPACE, get_config
from simulators.api import simulate
from simulators.devices import get_device
from simulators.fusion import fuse
from simulators.ir import LayerGraph, Op

# Outputs of simulate(graph, device, bits=B) computed with the code BEFORE per-layer bit-widths were
# added (2026-11-24): the default path must stay bit for bit the same.
FROZEN = {
    ("fpga-zc706", "cifar10", 8592, 16): {"bram36_used": 67.0, "bram_util": 0.12293577981651377, "dram_traffic_bytes": 11808136.0, "dsp_used": 800.0, "dsp_util": 0.8888888888888888, "energy_mj": 10.635654998095237, "latency_ms": 4.747337619047607, "peak_dram_bytes": 2254196.0, "weight_bytes": 2188660.0},
    ("fpga-zc706", "fashion-mnist", 3408, 8): {"bram36_used": 8.0, "bram_util": 0.014678899082568808, "dram_traffic_bytes": 72012.0, "dsp_used": 800.0, "dsp_util": 0.8888888888888888, "energy_mj": 0.6706112720000001, "latency_ms": 0.33224, "peak_dram_bytes": 34130.0, "weight_bytes": 31826.0},
    ("fpga-zcu102", "cifar10", 13629, 32): {"bram36_used": 319.0, "bram_util": 0.34978070175438597, "dram_traffic_bytes": 6365968.0, "dsp_used": 2256.0, "dsp_util": 0.8952380952380953, "energy_mj": 2.856346701333334, "latency_ms": 0.7406766666666669, "peak_dram_bytes": 422632.0, "weight_bytes": 291560.0},
    ("fpga-zcu102", "fashion-mnist", 15624, 16): {"bram36_used": 38.0, "bram_util": 0.041666666666666664, "dram_traffic_bytes": 153432.0, "dsp_used": 2256.0, "dsp_util": 0.8952380952380953, "energy_mj": 1.0460647631999997, "latency_ms": 0.2970299999999999, "peak_dram_bytes": 41380.0, "weight_bytes": 36772.0},
    ("fpga-zc706", "cifar10", 0, 16): {"bram36_used": 1.0, "bram_util": 0.001834862385321101, "dram_traffic_bytes": 9768.0, "dsp_used": 800.0, "dsp_util": 0.8888888888888888, "energy_mj": 0.041545040000000005, "latency_ms": 0.02043, "peak_dram_bytes": 21780.0, "weight_bytes": 9492.0},
}


@pytest.mark.parametrize("key", sorted(FROZEN))
def test_default_path_unchanged(key):
    dev, cfg, arch, bits = key
    r = simulate(build_graph(SPACE.arch_str(arch), get_config(cfg)), get_device(dev), bits=bits)
    assert r.metrics() == FROZEN[key]


@pytest.mark.parametrize("dev", ["fpga-zc706", "fpga-zcu102"])
@pytest.mark.parametrize("arch", [8592, 3408, 15624])
def test_uniform_16_bit_layer_bits_equals_default(dev, arch):
    """Every kernel at (16, 16) through ``layer_bits`` is the one-width model at bits=16, bit for bit."""
    g = build_graph(SPACE.arch_str(arch), get_config("cifar10"))
    r0 = simulate(g, get_device(dev), bits=16)
    r1 = simulate(g, get_device(dev), layer_bits={k.name: (16, 16) for k in fuse(g).kernels})
    m1 = r1.metrics()
    assert m1.pop("dsp_active_peak") <= m1["dsp_used"]
    assert m1 == r0.metrics()
    assert (r0.layers == r1.layers).all()
    # "graph" reads the IR's widths: an IR at 16 bits everywhere gives the same
    g16 = LayerGraph(g.name, (), g.outputs)
    for t in g.inputs:
        g16.add_input(t, g.tensors[t].shape, 16)
    for op in g.ops:
        g16.add_op(Op(**{**op.__dict__, "weight_bits": 16, "dtype_bits": 16}))
    assert simulate(g16, get_device(dev), layer_bits="graph").metrics() == r1.metrics()


def _one_conv() -> LayerGraph:
    g = LayerGraph("one-conv", (), ("y",))
    g.add_input("x", (1, 16, 8, 8))
    g.add_op(Op("conv", "conv2d", ("x",), "y", ((1, 16, 8, 8),), (1, 32, 8, 8), kernel=(3, 3), stride=(1, 1),
                padding=(1, 1), weight_count=32 * 16 * 9, bias_count=32))
    return g


@pytest.mark.parametrize("bits, lanes, cycles, dsp_peak, wbytes", [
    # ZC706: engine Tm x Tn = 50 x 16 (0.9 x 900 DSPs at one DSP per 16-bit MAC)
    (16, 50, 1 * 1 * 64 * 9, 32 * 16, 32 * 16 * 9 * 2 + 32 * 2),   # 1 DSP per MAC, 16-bit biases
    (8, 100, 1 * 1 * 64 * 9, 32 * 16 // 2, 32 * 16 * 9 + 32 * 4),   # 2 MACs / DSP (WP486), int32 biases
    (4, 200, 1 * 1 * 64 * 9, 32 * 16 // 4, 32 * 16 * 9 // 2 + 32 * 4),  # 4 MACs / DSP (WP521)
    (2, 200, 1 * 1 * 64 * 9, 32 * 16 // 4, 32 * 16 * 9 // 4 + 32 * 4),  # no packing beyond int4
    (32, 10, 4 * 1 * 64 * 9, 10 * 16 * 5, 32 * 16 * 9 * 4 + 32 * 4),  # 5 DSPs per fp32 MAC: Tm = 10
])
def test_bit_widths_by_hand_on_one_conv(bits, lanes, cycles, dsp_peak, wbytes):
    dev = get_device("fpga-zc706")
    r = simulate(_one_conv(), dev, layer_bits={"conv": (bits, bits)})
    row = r.layers[0]
    assert row["compute_cycles"] == cycles
    assert r.resources["dsp_active_peak"] == dsp_peak
    assert r.resources["dsp_used"] == 800.0
    assert r.metrics()["weight_bytes"] == wbytes
    in_b, out_b = 16 * 64 * bits / 8, 32 * 64 * bits / 8  # the output is read by nobody: producer's width
    assert row["tile"] == "8x8"  # one spatial tile, one C_out tile except fp32 (ceil(32 / 10) = 4)
    cout_tiles = math.ceil(32 / lanes)
    traffic = in_b * cout_tiles + wbytes + out_b
    assert row["dram_bytes"] == traffic
    t = max((cycles + 2000) / 200e6, traffic / 4.2e9)
    assert math.isclose(r.latency_ms, t * 1e3, rel_tol=1e-12)
    macs = 32 * 16 * 9 * 64
    e = 2.0 * t + 2.0e-12 * (16 / lanes * 50 / 16) * macs + 70e-12 * traffic  # energy per MAC = 16-bit MAC / rate
    assert math.isclose(r.energy_mj, e * 1e3, rel_tol=1e-9)


def test_layer_bits_errors():
    with pytest.raises(ValueError, match="expected None, 'graph' or a mapping"):
        simulate(_one_conv(), "fpga-zc706", layer_bits="int8")
    with pytest.raises(ValueError, match="not kernels of"):
        simulate(_one_conv(), "fpga-zc706", layer_bits={"nope": (8, 8)})
    with pytest.raises(ValueError, match="bit-width 12 is not one of"):
        simulate(_one_conv(), "fpga-zc706", layer_bits={"conv": (12, 8)})


def test_compress_cost_fpga_is_bit_aware():
    """On the compressed graph: fewer bits -> fewer weight bytes, fewer DSPs needed, no slower."""
    costs = {b: compress_cost("best", f"m100.100.100-w{b}.{b}.{b}-a{b}.{b}.{b}", "fpga-zc706") for b in (2, 4, 8, 32)}
    assert costs[2]["weight_bytes"] < costs[4]["weight_bytes"] < costs[8]["weight_bytes"] < costs[32]["weight_bytes"]
    assert costs[4]["dsp_active_peak"] < costs[8]["dsp_active_peak"] < costs[32]["dsp_active_peak"]
    assert costs[4]["latency_ms"] <= costs[8]["latency_ms"] < costs[32]["latency_ms"]
    assert {c["dsp_used"] for c in costs.values()} == {800.0}
    # one stage at fp32 costs more DSPs than all int8
    mixed = compress_cost("best", "m100.100.100-w8.8.32-a8.8.8", "fpga-zc706")
    assert mixed["dsp_active_peak"] > costs[8]["dsp_active_peak"] and mixed["latency_ms"] > costs[8]["latency_ms"]


def test_cost_block_has_fpga_columns():
    from hwbench.compress.campaign import cost_block

    idx = [0, 5, 300, 511]
    devs = ("mcu-stm32f746", "fpga-zc706", "fpga-zcu102")
    b = cost_block("best", "test-tiny", indices=idx, devices=devs)
    for dev in devs[1:]:
        for m in ("latency_ms", "dsp_used", "dsp_active_peak", "weight_bytes", "energy_mj"):
            col = b[f"{dev}/{m}"]
            assert col.shape == (4,) and np.isfinite(col).all()
    assert "mcu-stm32f746/peak_sram_bytes" in b and "model_size_bytes" in b and "latency_ms" not in b
    for j, i in enumerate(idx):
        c = compress_cost("best", i, "fpga-zc706", "test-tiny")
        assert b["fpga-zc706/latency_ms"][j] == c["latency_ms"] and b["fpga-zc706/weight_bytes"][j] == c["weight_bytes"]
        assert b["model_size_bytes"][j] == c["model_size_bytes"]
    one = cost_block("best", "test-tiny", "fpga-zc706", indices=idx)
    assert np.array_equal(one["dsp_active_peak"], b["fpga-zc706/dsp_active_peak"])
    # the least compressed configuration (all fp32) needs the whole array; the most compressed much less
    assert b["fpga-zc706/dsp_active_peak"][-1] == 800.0 > b["fpga-zc706/dsp_active_peak"][0]


# ----------------------------------------------------------------------------- accuracy vs cost quantization
@pytest.mark.parametrize("config", ["m100.100.100-w8.8.8-a8.4.2", "m50.75.25-w4.32.8-a32.8.4",
                                    "m100.100.100-w32.32.32-a32.32.32", "m25.50.100-w2.8.4-a4.2.8"])
@pytest.mark.parametrize("role", ["best", "mcu"])
def test_cost_quantizes_what_accuracy_quantizes(role, config):
    torch = pytest.importorskip("torch")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _check_quantized_tensors(role, config)
    finally:
        torch.set_num_threads(n)


def _check_quantized_tensors(role: str, config: str) -> None:
    """The tensors the cost model stores below 32 bits are exactly the inputs of the layers the
    accuracy evaluation fake-quantizes (every QuantLayer, at its stage's activation bits), and the
    weight bits agree layer by layer."""
    import torch

    from hwbench.compress.nets import QuantLayer, prune_network, quantize_network, set_bits
    from hwbench.compress.space import get_space
    from hwbench.models.nb201 import build_model

    c = get_space("mpq-prune").parse(config)
    torch.manual_seed(0)
    net = prune_network(build_model(PINNED_BASES[role], "fashion-mnist").eval(), c.widths)
    q = quantize_network(net, torch.randn(8, 1, 12, 12), sorted({*c.w_bits, *c.a_bits}))
    set_bits(q, c.w_bits, c.a_bits)
    torch_bits = {name: (m.w_bits, m.a_bits) for name, m in q.named_modules() if isinstance(m, QuantLayer)}

    g = compressed_graph(PINNED_BASES[role], config)
    graph_bits = {op.name: (op.weight_bits, g.tensors[op.inputs[0]].dtype_bits)
                  for op in g.ops if op.kind in QUANTIZED_READERS}
    assert graph_bits == torch_bits
    quantized_inputs = {op.inputs[0] for op in g.ops if op.kind in QUANTIZED_READERS}
    # the classifier reads the pooled features through a flatten (an alias): both carry its bits
    aliases = {op.inputs[0] for op in g.ops if op.kind == "flatten" and op.output in quantized_inputs}
    for t, spec in g.tensors.items():
        if t not in quantized_inputs | aliases:
            assert spec.dtype_bits == 32, t
    # after fusion, every conv / linear kernel reads a tensor at its QuantLayer's activation bits
    kg = fuse(g)
    for k in kg.kernels:
        if k.main.kind in QUANTIZED_READERS:
            assert kg.tensors[k.inputs[0]].dtype_bits == torch_bits[k.main.name][1]
