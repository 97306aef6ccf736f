"""Microcontroller model: int8 inference with CMSIS-NN-style kernels under a TF-Lite-Micro runtime.

Latency: per kernel (after folding batch norm and fusing activations, :mod:`simulators.fusion`)::

    cycles = cpm[kind] * MACs + c_im2col * im2col_elements + c_out * output_elements + c_layer

with ``kind`` one of conv (k > 1), conv1x1, depthwise, fc; pooling, add and stand-alone element-wise
kernels cost per element. The coefficients depend on the core (Cortex-M4 / M7) and were calibrated
on public measurements (see docs/targets.md: MLPerf Tiny reference results and the TinyEngine tables).

Peak SRAM: the TFLM greedy-by-size arena over int8 activation tensors and CMSIS-NN scratch buffers
(:mod:`simulators.arena`) + persistent per-channel requantization data (8 B per output channel) + per
tensor / per kernel runtime structs + a runtime constant (stack, static data).

Flash: int8 weights + int32 biases (one per output channel once batch norm is folded) + per-channel
quantization parameters (float32 scale + int64 zero point per output channel in the flatbuffer) + per
kernel / per tensor flatbuffer metadata + a runtime code constant.

Energy: the device's active power x latency.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from simulators.arena import Buffer, plan_arena
from simulators.devices import DeviceSpec
from simulators.fusion import Kernel, KernelGraph, fuse
from simulators.ir import LayerGraph


@dataclass(frozen=True)
class MCUCoefficients:
    """Cycle and byte coefficients of the MCU model (one set per core)."""

    cpm_conv: float        # cycles per MAC, k>1 convolution (im2col + int16 SMLAD matmul)
    cpm_conv1x1: float     # cycles per MAC, pointwise convolution (no im2col)
    cpm_dw: float          # cycles per MAC, depthwise convolution
    cpm_fc: float          # cycles per MAC, fully connected (weights streamed from flash once)
    c_im2col: float        # cycles per im2col element (int8 -> int16 copy)
    c_out: float           # cycles per output element (requantize + store)
    c_pool: float          # cycles per pooling window element
    c_add: float           # cycles per element of an int8 add (two rescales + requantize)
    c_elem: float          # cycles per element of a stand-alone element-wise kernel
    c_layer: float         # fixed cycles per kernel (TFLM invoke, parameter setup)
    sram_persistent_per_channel: float = 8.0     # int32 multiplier + shift per output channel
    sram_per_tensor: float = 48.0                # TfLiteEvalTensor + quantization struct
    sram_per_kernel: float = 64.0                # node + op data
    sram_runtime: float = 0.0                    # stack, .bss/.data of the runtime
    flash_per_quant_channel: float = 12.0        # float32 scale + int64 zero point per channel
    flash_per_kernel: float = 0.0                # operator + options in the flatbuffer
    flash_per_tensor: float = 0.0                # tensor table entry, shape, name, quantization
    flash_runtime: float = 0.0                   # TFLM + kernels code and constants


#: Calibrated coefficients (see ``python -m hwbench.simulate calibrate-mcu`` and docs/targets.md).
#: Relative costs between kinds follow the structure of CMSIS-NN's inner loops; the per-core scale,
#: the depthwise cost and the runtime constants were fitted on the calibration split only.
DEFAULT_COEFFICIENTS: dict[str, MCUCoefficients] = {
    "cortex-m7": MCUCoefficients(cpm_conv=2.755, cpm_conv1x1=2.479, cpm_dw=8.264, cpm_fc=1.594, c_im2col=4.132, c_out=16.53, c_pool=5.509, c_add=33.06, c_elem=8.264, c_layer=11020.0, sram_persistent_per_channel=8.0, sram_per_tensor=48.0, sram_per_kernel=64.0, sram_runtime=53970.0, flash_per_quant_channel=12.0, flash_per_kernel=0.0, flash_per_tensor=0.0, flash_runtime=253400.0),
    "cortex-m4": MCUCoefficients(cpm_conv=5.944, cpm_conv1x1=5.349, cpm_dw=17.83, cpm_fc=3.44, c_im2col=8.915, c_out=35.66, c_pool=11.89, c_add=71.32, c_elem=17.83, c_layer=23770.0, sram_persistent_per_channel=8.0, sram_per_tensor=48.0, sram_per_kernel=64.0, sram_runtime=53970.0, flash_per_quant_channel=12.0, flash_per_kernel=0.0, flash_per_tensor=0.0, flash_runtime=253400.0),
}

LAYER_DTYPE = np.dtype([
    ("name", "U64"), ("kind", "U16"), ("fused", "U32"), ("macs", "i8"), ("cycles", "f8"),
    ("latency_ms", "f8"), ("energy_mj", "f8"), ("out_bytes", "i8"), ("scratch_bytes", "i8"),
    ("live_bytes", "i8"), ("weight_bytes", "i8"),
])


def kernel_class(k: Kernel) -> str:
    """The CMSIS-NN kernel family a fused kernel maps to."""
    op = k.main
    if op.kind == "dwconv2d":
        return "dw"
    if op.kind == "conv2d":
        assert op.kernel is not None
        c_in = op.in_shapes[0][1]
        if op.groups > 1 and op.groups == c_in:
            return "dw"
        return "conv1x1" if op.kernel == (1, 1) else "conv"
    if op.kind == "linear":
        return "fc"
    if op.kind in ("avgpool2d", "maxpool2d", "global_avgpool"):
        return "pool"
    if op.kind in ("add", "mul"):
        return "add"
    return "elem"


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


def kernel_features(k: Kernel) -> dict[str, float]:
    """Work counts of one kernel that the cycle model multiplies by coefficients."""
    cls = kernel_class(k)
    out = _numel(k.out_shape)
    f = {"conv": 0.0, "conv1x1": 0.0, "dw": 0.0, "fc": 0.0, "im2col": 0.0, "out": 0.0, "pool": 0.0,
         "add": 0.0, "elem": 0.0, "layer": 1.0}
    op = k.main
    if cls in ("conv", "conv1x1", "dw", "fc"):
        f[cls] = float(k.main.macs)
        f["out"] = float(out)
        if cls == "conv":
            assert op.kernel is not None
            f["im2col"] = float(op.macs // max(op.out_shape[1], 1))
        if cls == "dw":
            assert op.kernel is not None
            f["im2col"] = float(_numel(op.out_shape) * op.kernel[0] * op.kernel[1]) / 4.0
    elif cls == "pool":
        f["pool"] = float(op.elementwise_ops)
    elif cls == "add":
        f["add"] = float(out * max(len(op.inputs) - 1, 1))
    else:
        f["elem"] = float(out * len(k.ops))
    if cls in ("pool", "add"):
        f["elem"] = float(out * (len(k.ops) - 1))  # fused activations
    return f


def kernel_cycles(k: Kernel, c: MCUCoefficients) -> float:
    f = kernel_features(k)
    return (c.cpm_conv * f["conv"] + c.cpm_conv1x1 * f["conv1x1"] + c.cpm_dw * f["dw"] + c.cpm_fc * f["fc"]
            + c.c_im2col * f["im2col"] + c.c_out * f["out"] + c.c_pool * f["pool"] + c.c_add * f["add"]
            + c.c_elem * f["elem"] + c.c_layer * f["layer"])


def scratch_bytes(k: Kernel) -> int:
    """CMSIS-NN scratch buffer of a kernel (``arm_*_get_buffer_size`` for cores with the DSP extension)."""
    op = k.main
    cls = kernel_class(k)
    if cls == "conv":
        assert op.kernel is not None
        return 2 * op.in_shapes[0][1] * op.kernel[0] * op.kernel[1] * 2  # two int16 im2col columns
    if cls == "conv1x1":
        fast = op.stride == (1, 1) and (op.padding in (None, (0, 0)))
        return 0 if fast else 2 * op.in_shapes[0][1] * 2
    if cls == "dw":
        assert op.kernel is not None
        c_in = op.in_shapes[0][1]
        if op.kernel == (3, 3) and op.out_shape[1] == c_in and (op.padding or (0, 0))[0] <= 1:
            return 0  # arm_depthwise_conv_3x3_s8
        return c_in * op.kernel[0] * op.kernel[1] * 2
    if cls == "pool" and op.kind != "maxpool2d":
        return 4 * op.out_shape[1]  # int32 accumulators per channel
    return 0


def flash_parts(kg: KernelGraph, c: MCUCoefficients) -> dict[str, float]:
    weights = bias = quant = 0
    for k in kg.kernels:
        cls = kernel_class(k)
        if cls in ("conv", "conv1x1", "dw", "fc"):
            op = k.main
            weights += op.weight_count
            ch = op.out_shape[1]
            bias += ch  # int32 bias after folding (always present in TFLite int8 conv / fc)
            quant += ch if cls != "fc" else 1
        else:
            weights += 0
    n_tensors = len(kg.tensors)
    return {
        "weights": float(weights), "biases": 4.0 * bias, "quant_params": c.flash_per_quant_channel * quant,
        "metadata": c.flash_per_kernel * len(kg.kernels) + c.flash_per_tensor * n_tensors,
        "runtime": c.flash_runtime,
    }


@dataclass
class MCUEstimate:
    latency_ms: float
    energy_mj: float
    peak_sram_bytes: float
    arena_bytes: float
    flash_bytes: float
    fits: bool
    fits_sram: bool
    fits_flash: bool
    cycles: float
    layers: np.ndarray
    details: dict[str, Any]


def estimate(graph: LayerGraph | KernelGraph, device: DeviceSpec,
             coefficients: MCUCoefficients | None = None, **overrides: float) -> MCUEstimate:
    """Cost ``graph`` (int8) on an MCU ``device``; ``overrides`` replace single coefficients."""
    core = str(device.core)
    if coefficients is None:
        if core not in DEFAULT_COEFFICIENTS:
            raise ValueError(f"device {device.name!r}: no MCU coefficients for core {core!r}; "
                             f"known cores: {sorted(DEFAULT_COEFFICIENTS)}")
        coefficients = DEFAULT_COEFFICIENTS[core]
    c = replace(coefficients, **overrides) if overrides else coefficients
    kg = graph if isinstance(graph, KernelGraph) else fuse(graph)
    clock = float(device.clock_hz)
    power = float(device.active_power_w)

    # arena: int8 activations (1 byte per element) + scratch buffers living during their kernel
    life = kg.lifetimes()
    bufs = [Buffer(t, _numel(kg.tensors[t].shape), a, b) for t, (a, b) in life.items()]
    scr = [scratch_bytes(k) for k in kg.kernels]
    bufs += [Buffer(f"scratch:{k.name}", s, i, i) for i, (k, s) in enumerate(zip(kg.kernels, scr)) if s > 0]
    plan = plan_arena(bufs)
    channels = sum(k.main.out_shape[1] for k in kg.kernels if kernel_class(k) in ("conv", "conv1x1", "dw", "fc"))
    persistent = (c.sram_persistent_per_channel * channels + c.sram_per_tensor * len(kg.tensors)
                  + c.sram_per_kernel * len(kg.kernels))
    peak_sram = plan.arena_bytes + persistent + c.sram_runtime

    fp = flash_parts(kg, c)
    flash = sum(fp.values())

    rows = []
    total_cycles = 0.0
    for i, k in enumerate(kg.kernels):
        cyc = kernel_cycles(k, c)
        total_cycles += cyc
        ms = cyc / clock * 1e3
        wb = k.main.weight_count + 4 * (k.main.out_shape[1] if kernel_class(k) in ("conv", "conv1x1", "dw", "fc") else 0)
        live = int(plan.live_bytes[i]) if i < len(plan.live_bytes) else 0
        rows.append((k.name[:64], k.kind, "+".join(k.fused)[:32], k.macs, cyc, ms, ms * power,
                     _numel(k.out_shape), scr[i], live, wb))
    layers = np.array(rows, dtype=LAYER_DTYPE)
    latency_ms = total_cycles / clock * 1e3
    fits_sram = peak_sram <= float(device.sram_bytes)
    fits_flash = flash <= float(device.flash_bytes)
    return MCUEstimate(
        latency_ms=latency_ms, energy_mj=latency_ms * power, peak_sram_bytes=float(peak_sram),
        arena_bytes=float(plan.arena_bytes), flash_bytes=float(flash), fits=fits_sram and fits_flash,
        fits_sram=fits_sram, fits_flash=fits_flash, cycles=total_cycles, layers=layers,
        details={"flash_parts": fp, "persistent_sram_bytes": persistent, "arena_lower_bound": plan.lower_bound,
                 "coefficients": c, "core": core},
    )
