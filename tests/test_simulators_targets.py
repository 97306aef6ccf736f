"""GPU, FPGA and ASIC models (hand-built IRs, formulas checked), reference networks through torch."""

from __future__ import annotations

import math

import pytest

from hwbench.reference_models import GraphBuilder, reference_graph
from simulators.api import simulate
from simulators.asic import rs_utilization
from simulators.devices import get_device
from simulators.fpga import engine_shape


def conv_net(c: int = 32, hw: int = 32, batch: int = 1) -> object:
    b = GraphBuilder("convnet", (batch, 3, hw, hw))
    x = b.cbr("input", c, 3)
    x = b.cbr(x, c, 3, groups=c)
    x = b.cbr(x, 2 * c, 1)
    x = b.gap(x)
    return b.finish(b.linear(b.flatten(x), 10))


def test_gpu_roofline_fusion_launch_and_batch() -> None:
    g = conv_net()
    dev = get_device("gpu-rtx2080ti")
    r = simulate(g, dev)
    # conv+bn+relu fused: 3 conv kernels, gap, linear
    assert [x["kind"] for x in r.layer_records()] == ["conv2d", "dwconv2d", "conv2d", "global_avgpool", "linear"]
    assert all(x["fused"] == "batchnorm+relu" for x in r.layer_records()[:3])
    # every kernel pays the launch overhead and is at least its memory time
    for x in r.layer_records():
        assert x["latency_ms"] >= dev.launch_overhead_s * 1e3
        assert x["latency_ms"] == pytest.approx(max(x["compute_ms"], x["memory_ms"]) + dev.launch_overhead_s * 1e3)
    assert r.energy_mj == pytest.approx(r.latency_ms * dev.power_w)
    # tiny batch-1 net is launch-bound: latency ~ kernels x launch overhead
    assert r.latency_ms < 3 * 5 * dev.launch_overhead_s * 1e3
    # small-batch occupancy: 64x larger batch costs far less than 64x the time per image
    r64 = simulate(g, dev, batch=64)
    assert r64.latency_ms > r.latency_ms
    assert r64.latency_ms / 64 < r.latency_ms / 4
    assert r64.details["throughput_per_s"] > 10 * r.details["throughput_per_s"]
    assert simulate(g, dev, precision="fp16").latency_ms <= r.latency_ms
    with pytest.raises(ValueError, match="precision"):
        simulate(g, dev, precision="fp8")


def test_gpu_slower_device_is_slower_on_big_net() -> None:
    g = reference_graph("mbv2-w0.35")
    tx2 = simulate(g, "gpu-jetson-tx2", batch=8).latency_ms
    orin = simulate(g, "gpu-jetson-orin-nano", batch=8).latency_ms
    rtx = simulate(g, "gpu-rtx2080ti", batch=8).latency_ms
    assert rtx < orin < tx2


def test_fpga_tiled_engine_formula_and_resources() -> None:
    dev = get_device("fpga-zc706")
    tm, tn = engine_shape(dev)
    assert tm * tn <= dev.dsp and tm * tn >= 0.8 * dev.dsp
    b = GraphBuilder("one", (1, 32, 16, 16))
    g = b.finish(b.conv("input", 64, 3, 1, p=1))
    r = simulate(g, dev)
    row = r.layer_records()[0]
    cyc = math.ceil(64 / tm) * math.ceil(32 / tn) * 16 * 16 * 9
    assert row["compute_cycles"] == cyc
    t = max((cyc + 2000) / dev.clock_hz, row["dram_bytes"] / dev.dram_bw_bytes_per_s)
    assert r.latency_ms == pytest.approx(t * 1e3)
    assert r.energy_mj == pytest.approx(1e3 * (dev.static_power_w * t + dev.energy_per_mac_j * g.macs
                                               + dev.energy_per_dram_byte_j * row["dram_bytes"]))
    m = r.metrics()
    assert m["dsp_used"] == tm * tn and 0 < m["bram36_used"] <= dev.bram36
    # depthwise leaves the Tn input lanes idle: lower PE utilization than a dense conv
    b2 = GraphBuilder("dw", (1, 64, 16, 16))
    dw = simulate(b2.finish(b2.conv("input", 64, 3, 1, p=1, groups=64)), dev).layer_records()[0]
    assert dw["pe_util"] < row["pe_util"]
    assert simulate(g, "fpga-zcu102").latency_ms < r.latency_ms


def test_asic_row_stationary_utilization_and_energy() -> None:
    assert rs_utilization(3, 14) == pytest.approx(12 * 14 / 168)
    assert rs_utilization(3, 13) == pytest.approx(4 * 3 * 13 / 168)
    assert rs_utilization(11, 55) == pytest.approx(11 * 14 / 168)
    assert rs_utilization(1, 1) == 1.0
    dev = get_device("asic-eyeriss")
    g = conv_net(32, 28)
    r = simulate(g, dev)
    for x in r.layer_records():
        assert x["latency_ms"] > 0 and x["energy_mj"] > 0
    # energy at least the MAC + RF cost of the MACs
    assert r.energy_mj * 1e-3 >= g.macs * dev.energy_mac_j * 4
    assert 0 < r.metrics()["pe_util"] <= 1


def test_every_device_costs_any_graph() -> None:
    from simulators.devices import list_devices

    g = reference_graph("kws")
    for d in list_devices():
        r = simulate(g, d)
        m = r.metrics()
        assert m["latency_ms"] > 0 and m["energy_mj"] > 0 and r.storage_bytes > 0 and r.peak_memory_bytes > 0
        assert len(r.layers) > 0
        assert r.latency_ms == pytest.approx(float(r.layers["latency_ms"].sum()))


@pytest.mark.parametrize("name", ["kws", "ad"])
def test_reference_network_torch_export_equals_direct_ir(name: str) -> None:
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    assert reference_graph(name, via="torch").signature() == reference_graph(name).signature()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ic", "vww", "mbv2-w0.3-r64", "proxyless-w0.3-r176"])
def test_reference_network_torch_export_equals_direct_ir_slow(name: str) -> None:
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    assert reference_graph(name, via="torch").signature() == reference_graph(name).signature()


def test_reference_models_match_published_sizes() -> None:
    # MLPerf Tiny: ResNet-8 12.5 M MACs, DS-CNN ~2.7 M, MobileNetV1-0.25 ~7.5 M, AE ~0.26 M;
    # MCUNet zoo: mbv2-w0.35 23.5 M MACs / 0.75 M params
    assert reference_graph("ic").macs == pytest.approx(12.5e6, rel=0.01)
    assert reference_graph("kws").macs == pytest.approx(2.66e6, rel=0.02)
    assert reference_graph("vww").macs == pytest.approx(7.49e6, rel=0.01)
    assert reference_graph("ad").macs == pytest.approx(0.264e6, rel=0.01)
    g = reference_graph("mbv2-w0.35")
    assert g.macs == pytest.approx(23.5e6, rel=0.01) and g.params == pytest.approx(0.75e6, rel=0.01)
