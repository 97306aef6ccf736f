"""MCU model, arena planner, fusion and device registry (hand-built IRs; reference data where present)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from simulators.api import simulate
from simulators.arena import Buffer, plan_arena
from simulators.devices import UnknownDeviceError, get_device, list_devices
from simulators.fusion import fuse
from simulators.ir import LayerGraph, Op
from simulators.mcu import DEFAULT_COEFFICIENTS, estimate, kernel_class, scratch_bytes

REQUIRED = ["mcu-stm32f746", "mcu-stm32h743", "mcu-nucleo-l4r5zi", "fpga-zc706", "fpga-zcu102",
            "gpu-jetson-tx2", "gpu-jetson-orin-nano", "gpu-rtx2080ti", "asic-eyeriss"]


def tiny_graph() -> LayerGraph:
    """input 1x4x8x8 -> conv3x3(8)+bn+relu -> dw3x3+bn+relu -> conv1x1(8) -> add(skip) -> gap -> flatten -> fc(10)."""
    g = LayerGraph("tiny", (), ())
    g.add_input("x", (1, 4, 8, 8))

    def add(name: str, kind: str, ins: tuple[str, ...], out: tuple[int, ...], **kw: object) -> str:
        return g.add_op(Op(name, kind, ins, name, tuple(g.tensors[t].shape for t in ins), out, **kw))  # type: ignore[arg-type]

    a = add("c1", "conv2d", ("x",), (1, 8, 8, 8), kernel=(3, 3), stride=(1, 1), padding=(1, 1), weight_count=8 * 4 * 9)
    a = add("bn1", "batchnorm", (a,), (1, 8, 8, 8), weight_count=16)
    a = add("r1", "relu", (a,), (1, 8, 8, 8))
    b = add("d1", "dwconv2d", (a,), (1, 8, 8, 8), kernel=(3, 3), stride=(1, 1), padding=(1, 1), groups=8, weight_count=72)
    b = add("bn2", "batchnorm", (b,), (1, 8, 8, 8), weight_count=16)
    b = add("r2", "relu", (b,), (1, 8, 8, 8))
    c = add("p1", "conv2d", (b,), (1, 8, 8, 8), kernel=(1, 1), stride=(1, 1), padding=(0, 0), weight_count=64)
    s = add("s", "add", (a, c), (1, 8, 8, 8))
    z = add("z", "zero", (s,), (1, 8, 8, 8))
    s2 = add("s2", "add", (s, z), (1, 8, 8, 8))
    gp = add("gap", "global_avgpool", (s2,), (1, 8, 1, 1))
    f = add("fl", "flatten", (gp,), (1, 8))
    o = add("fc", "linear", (f,), (1, 10), weight_count=80, bias_count=10)
    g.outputs = (o,)
    g.validate()
    return g


def test_registry_has_required_devices_with_sources() -> None:
    names = list_devices()
    for n in REQUIRED:
        assert n in names
        spec = get_device(n)
        assert spec.family == n.split("-")[0]
        assert spec.figures and all(spec.sources[k] for k in spec.figures)
    assert list_devices("mcu-*") == ["mcu-nucleo-l4r5zi", "mcu-stm32f746", "mcu-stm32h743"]
    assert list_devices(family="gpu") == ["gpu-jetson-orin-nano", "gpu-jetson-tx2", "gpu-rtx2080ti"]


def test_unknown_device_lists_valid_names() -> None:
    with pytest.raises(UnknownDeviceError) as ei:
        get_device("mcu-stm32f747")
    msg = str(ei.value)
    assert "mcu-stm32f747" in msg and "mcu-stm32f746" in msg and "gpu-rtx2080ti" in msg


def test_fusion_folds_bn_relu_prunes_zero_and_flatten() -> None:
    kg = fuse(tiny_graph())
    kinds = [(k.kind, k.fused) for k in kg.kernels]
    assert kinds == [("conv2d", ("batchnorm", "relu")), ("dwconv2d", ("batchnorm", "relu")), ("conv2d", ()),
                     ("add", ()), ("global_avgpool", ()), ("linear", ())]
    # the zero edge vanished, s2 aliases s, the fc reads the gap output directly (flatten aliased)
    assert kg.kernels[-1].inputs == ("gap",)
    assert kg.outputs == ("fc",)


def test_arena_greedy_by_size_is_tight_and_non_overlapping() -> None:
    bufs = [Buffer("a", 100, 0, 1), Buffer("b", 50, 1, 2), Buffer("c", 100, 2, 3), Buffer("d", 30, 0, 3)]
    plan = plan_arena(bufs, alignment=1)
    # a and c never live together -> share offset 0; b and d fit beside them
    assert plan.offset_of("a") == plan.offset_of("c") == 0
    assert plan.arena_bytes == 180 == plan.lower_bound
    for i, (x, ox) in enumerate(zip(plan.buffers, plan.offsets)):
        for y, oy in list(zip(plan.buffers, plan.offsets))[i + 1:]:
            if not (x.last < y.first or y.last < x.first):
                assert ox + x.size <= oy or oy + y.size <= ox


def test_mcu_latency_flash_and_sram_follow_the_formulas() -> None:
    g = tiny_graph()
    dev = get_device("mcu-stm32f746")
    c = DEFAULT_COEFFICIENTS["cortex-m7"]
    e = estimate(g, dev)
    kg = fuse(g)
    assert [kernel_class(k) for k in kg.kernels] == ["conv", "dw", "conv1x1", "add", "pool", "fc"]
    # conv3x3: 8*8*8*4*9 MACs, im2col = MACs / c_out, 512 outputs
    conv = c.cpm_conv * 18432 + c.c_im2col * 18432 / 8 + c.c_out * 512 + c.c_layer
    assert e.layers["cycles"][0] == pytest.approx(conv)
    assert e.cycles == pytest.approx(e.layers["cycles"].sum())
    assert e.latency_ms == pytest.approx(e.cycles / 216e6 * 1e3)
    assert e.energy_mj == pytest.approx(e.latency_ms * dev.active_power_w)
    # flash: int8 weights (BN folded away) + int32 bias per out channel + 12 B per quant channel + runtime
    weights = 288 + 72 + 64 + 80
    bias = 8 + 8 + 8 + 10
    quant = 8 + 8 + 8 + 1
    assert e.flash_bytes == pytest.approx(weights + 4 * bias + 12 * quant + c.flash_runtime)
    # arena: x (256 B) + two 512 B tensors live together at most + conv im2col scratch (4*4*9 B)
    assert scratch_bytes(kg.kernels[0]) == 2 * 4 * 9 * 2
    assert e.arena_bytes >= 512 * 2
    assert e.peak_sram_bytes > e.arena_bytes
    assert e.fits


def test_fits_verdict_against_small_device() -> None:
    dev = get_device("mcu-stm32f746").replace(sram_bytes=1024.0, flash_bytes=1e9)
    r = simulate(tiny_graph(), dev)
    assert r.fits is False and r.details["fits_sram"] is False and r.details["fits_flash"] is True
    assert r.metrics()["fits"] == 0.0


def test_simulate_result_records_and_metrics() -> None:
    r = simulate(tiny_graph(), "mcu-nucleo-l4r5zi")
    m = r.metrics()
    assert set(m) >= {"latency_ms", "energy_mj", "peak_sram_bytes", "flash_bytes"}
    recs = r.layer_records()
    assert len(recs) == 6 and recs[0]["kind"] == "conv2d"
    assert sum(x["latency_ms"] for x in recs) == pytest.approx(r.latency_ms)
    # Cortex-M4 at 120 MHz is slower than the M7 at 216 MHz on the same graph
    assert r.latency_ms > simulate(tiny_graph(), "mcu-stm32f746").latency_ms


def test_more_macs_cost_more() -> None:
    from hwbench.reference_models import mobilenet_v2

    small = simulate(mobilenet_v2(0.35, 96), "mcu-stm32h743")
    big = simulate(mobilenet_v2(0.35, 144), "mcu-stm32h743")
    assert big.latency_ms > 2 * small.latency_ms * 0.9
    assert big.peak_memory_bytes > small.peak_memory_bytes
    assert big.storage_bytes == pytest.approx(small.storage_bytes)  # same weights


@pytest.mark.reference
def test_mcu_validation_held_out_error_bounds(reference_dir) -> None:  # type: ignore[no-untyped-def]
    from hwbench.simulate import calibrate_mcu, summarize, validate_mcu

    fitted = calibrate_mcu(reference_dir)
    for core, c in fitted.items():  # the shipped coefficients are the calibration's output
        d = DEFAULT_COEFFICIENTS[core]
        for k, v in c.__dict__.items():
            assert getattr(d, k) == pytest.approx(v, rel=2e-3, abs=1.0), (core, k)
    rows = validate_mcu(reference_dir)
    s = summarize(rows)
    # the error bounds stated in docs/targets.md (held-out rows only)
    assert s["latency_ms"]["n"] >= 3 and s["latency_ms"]["mean_abs_rel_error"] < 0.10
    assert s["latency_ms"]["max_abs_rel_error"] < 0.20
    assert s["energy_mj"]["max_abs_rel_error"] < 0.10
    assert s["flash_bytes"]["max_abs_rel_error"] < 0.08
    assert s["peak_sram_bytes"]["max_abs_rel_error"] < 0.20
    held = [r for r in rows if r["split"] == "held-out"]
    assert {r["model"] for r in held} >= {"kws", "vww", "proxyless-w0.3-r176"}
