"""MCU model, arena planner, fusion and device registry (hand-built IRs; reference data where present)."""

from __future__ import annotations

from dataclasses import replace

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


# ----------------------------------------------------------------------------- bit-widths (layer_bits)
def _old_mcu_cost(graph: LayerGraph, device: str = "mcu-stm32f746") -> dict[str, float]:
    """Private copy of ``hwbench.compress.cost.mcu_cost`` as it was before the simulator learnt bit-widths
    (it rebuilt the mixed-precision model from parts of ``simulators.mcu``): the new path must equal it."""
    import math

    from simulators import mcu

    mac_w = {8: 1.0, 7: 1.1, 6: 1.1, 5: 1.2, 4: 1.2, 3: 1.35, 2: 1.35, 1: 1.5}
    mac_a = {8: 1.0, 7: 1.05, 6: 1.05, 5: 1.1, 4: 1.1, 3: 1.2, 2: 1.2, 1: 1.3}
    spec = get_device(device)
    c = mcu.DEFAULT_COEFFICIENTS[str(spec.core)]
    kg = fuse(graph)
    cpm = {"conv": c.cpm_conv, "conv1x1": c.cpm_conv1x1, "dw": c.cpm_dw, "fc": c.cpm_fc}
    cycles = 0.0
    scratch = []
    weights = bias = quant = 0.0
    int_channels = 0
    for k in kg.kernels:
        cls = mcu.kernel_class(k)
        total = mcu.kernel_cycles(k, c)
        if cls in ("conv", "conv1x1", "dw", "fc"):
            mac = cpm[cls] * mcu.kernel_features(k)[cls]
            a = kg.tensors[k.inputs[0]].dtype_bits
            wb = k.main.weight_bits
            integer = wb <= 8 and a <= 8
            factor = mac_w[wb] * mac_a[a] if integer else 4.0
            total += mac * (factor - 1.0)
            if integer:
                scratch.append(mcu.scratch_bytes(k))
            else:
                row = math.prod(k.main.in_shapes[0][1:]) if cls == "fc" else (
                    k.main.in_shapes[0][1] // k.main.groups * math.prod(k.main.kernel or (1, 1)))
                scratch.append((4 * math.prod(k.main.in_shapes[0]) if a < 32 else 0) + (4 * row if wb < 32 else 0))
            weights += math.ceil(k.main.weight_count * wb / 8)
            ch = k.main.out_shape[1]
            bias += 4 * ch
            if wb < 32:
                quant += ch if cls != "fc" else 1
            if integer:
                int_channels += ch
        else:
            scratch.append(mcu.scratch_bytes(k))
        cycles += total
    life = kg.lifetimes()
    bufs = [Buffer(t, math.ceil(math.prod(kg.tensors[t].shape) * kg.tensors[t].dtype_bits / 8), a, b)
            for t, (a, b) in life.items()]
    bufs += [Buffer(f"scratch:{k.name}", s, i, i) for i, (k, s) in enumerate(zip(kg.kernels, scratch)) if s > 0]
    plan = plan_arena(bufs)
    persistent = (c.sram_persistent_per_channel * int_channels + c.sram_per_tensor * len(kg.tensors)
                  + c.sram_per_kernel * len(kg.kernels))
    flash = (weights + bias + c.flash_per_quant_channel * quant + c.flash_per_kernel * len(kg.kernels)
             + c.flash_per_tensor * len(kg.tensors) + c.flash_runtime
             # constant tensors (the feature map a constant network's head reads; simulators.fusion, issue #5)
             + sum(math.ceil(kg.tensors[t].numel * kg.tensors[t].dtype_bits / 8) for t in kg.constants))
    latency_ms = cycles / float(spec.clock_hz) * 1e3
    sram = plan.arena_bytes + persistent + c.sram_runtime
    return {
        "latency_ms": latency_ms, "energy_mj": latency_ms * float(spec.active_power_w),
        "peak_sram_bytes": float(sram), "arena_bytes": float(plan.arena_bytes),
        "arena_lower_bound_bytes": float(plan.lower_bound), "flash_bytes": float(flash),
        "cycles": cycles, "fits": float(sram <= float(spec.sram_bytes) and flash <= float(spec.flash_bytes)),
    }


_BIT_CONFIGS = ["m100.100.100-w8.8.8-a8.8.8", "m100.50.75-w8.4.8-a8.8.32", "m25.50.100-w2.32.4-a4.2.8",
                "m100.100.100-w32.32.32-a32.32.32", "m75.75.25-w4.8.2-a32.4.8", "m50.100.25-w2.2.2-a2.2.2"]


@pytest.mark.parametrize("arch", [0, 5000, 15624])
def test_layer_bits_graph_equals_the_old_compress_mcu_cost(arch: int) -> None:
    from hwbench.compress.cost import compressed_graph, mcu_cost

    for cfg in _BIT_CONFIGS:
        g = compressed_graph(arch, cfg)
        for dev in ("mcu-stm32f746", "mcu-nucleo-l4r5zi"):
            assert mcu_cost(g, dev) == _old_mcu_cost(g, dev), (arch, cfg, dev)  # exact, not approx


def _int8_estimate_fields(graph: LayerGraph, dev_name: str, **kw: object) -> tuple[object, ...]:
    e = estimate(graph, get_device(dev_name), **kw)  # type: ignore[arg-type]
    return (e.latency_ms, e.energy_mj, e.peak_sram_bytes, e.arena_bytes, e.flash_bytes, e.cycles, e.fits,
            e.details["flash_parts"], e.details["persistent_sram_bytes"], e.details["arena_lower_bound"],
            e.layers.tobytes())


@pytest.mark.parametrize("name", ["kws", "vww", "ic", "ad", "mbv2-w0.3-r64", "proxyless-w0.3-r176"])
def test_default_is_int8_whatever_the_ir_says(name: str) -> None:
    """Reference networks (built fp32): the default ignores the IR's 32-bit widths and costs int8,
    identical to ``layer_bits="graph"`` on the same graph relabelled int8 and to an all-(8, 8) mapping."""
    from hwbench.reference_models import REFERENCE_MODELS, reference_graph

    if name not in REFERENCE_MODELS:
        pytest.skip(f"reference model {name!r} not registered")
    g = reference_graph(name)
    g8 = LayerGraph(g.name, (), tuple(g.outputs))
    for t in g.inputs:
        g8.add_input(t, g.tensors[t].shape, 8)
    for op in g.ops:
        g8.add_op(replace(op, weight_bits=8, dtype_bits=8))
    base = _int8_estimate_fields(g, "mcu-stm32f746")
    assert _int8_estimate_fields(g8, "mcu-stm32f746", layer_bits="graph") == base
    names = [k.name for k in fuse(g).kernels]
    assert _int8_estimate_fields(g, "mcu-stm32f746", layer_bits={n: (8, 8) for n in names}) == base
    assert _int8_estimate_fields(g, "mcu-stm32f746", layer_bits={}) == base
    # the fp32 IR read as is: float kernels, fp32 weights and tensors -> slower, bigger
    f = estimate(g, get_device("mcu-stm32f746"), layer_bits="graph")
    e = estimate(g, get_device("mcu-stm32f746"))
    assert f.latency_ms > e.latency_ms and f.flash_bytes > e.flash_bytes and f.arena_bytes > e.arena_bytes


def test_layer_bits_mapping_per_kernel() -> None:
    g = tiny_graph()
    dev = get_device("mcu-stm32f746")
    c = DEFAULT_COEFFICIENTS["cortex-m7"]
    e8 = estimate(g, dev)
    # 4-bit weights on the first conv, 4-bit input activations on the pointwise conv
    e = estimate(g, dev, layer_bits={"c1": (4, 8), "p1": (8, 4)})
    conv_macs, pw_macs = 18432, 8 * 8 * 8 * 8
    assert e.layers["cycles"][0] == pytest.approx(e8.layers["cycles"][0] + c.cpm_conv * conv_macs * (1.2 - 1.0))
    assert e.layers["cycles"][2] == pytest.approx(e8.layers["cycles"][2] + c.cpm_conv1x1 * pw_macs * (1.1 - 1.0))
    assert e.layers["cycles"][1] == e8.layers["cycles"][1]
    # flash: conv weights 288 -> 144 bytes packed; the rest unchanged
    assert e8.flash_bytes - e.flash_bytes == 144
    assert e.layers["weight_bytes"][0] == 144 + 4 * 8
    # p1 reads the dw output (512 elements): stored at 4 bits, 256 bytes fewer live while it exists
    assert list(e8.layers["live_bytes"] - e.layers["live_bytes"]) == [0, 256, 256, 0, 0, 0]
    assert e.arena_bytes <= e8.arena_bytes
    # a float kernel (32-bit input activations): 4x MAC factor, a float input copy as scratch, no requant data
    ef = estimate(g, dev, layer_bits={"p1": (8, 32)})
    assert ef.layers["cycles"][2] == pytest.approx(e8.layers["cycles"][2] + c.cpm_conv1x1 * pw_macs * 3.0)
    assert ef.layers["scratch_bytes"][2] == 4 * 8  # one dequantized filter row (C_in x 1 x 1 floats)
    assert ef.details["persistent_sram_bytes"] == e8.details["persistent_sram_bytes"] - 8 * 8
    assert ef.layers["live_bytes"][2] == e8.layers["live_bytes"][2] + 3 * 512 + 32  # fp32 input + row
    # float weights on a quantized input: a float copy of the input, no filter row, no quant params
    ew = estimate(g, dev, layer_bits={"p1": (32, 8)})
    assert ew.layers["scratch_bytes"][2] == 4 * 512
    assert ew.flash_bytes - e8.flash_bytes == 3 * 64 - 12 * 8


def test_layer_bits_are_validated() -> None:
    g = tiny_graph()
    dev = get_device("mcu-stm32f746")
    with pytest.raises(ValueError, match="bn1") as ei:  # fused into c1: not a kernel
        estimate(g, dev, layer_bits={"bn1": (4, 4)})
    assert "c1" in str(ei.value) and "fc" in str(ei.value)
    with pytest.raises(ValueError, match="bit-width 12"):
        estimate(g, dev, layer_bits={"c1": (12, 8)})
    with pytest.raises(ValueError, match="pair"):
        estimate(g, dev, layer_bits={"c1": 8})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="'int4'"):
        estimate(g, dev, layer_bits="int4")  # type: ignore[arg-type]
    # through the common entry point
    r = simulate(g, dev, layer_bits={"c1": (2, 8)})
    assert r.storage_bytes < simulate(g, dev).storage_bytes
