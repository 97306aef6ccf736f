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
kernel / per tensor flatbuffer metadata + a runtime code constant + constant tensors (the constant feature
map of a network whose output does not depend on its input, :mod:`simulators.fusion`; not in the arena).

Energy: the device's active power x latency.

Bit-widths (``layer_bits``, default ``None`` = int8 everywhere, the calibrated model above): per
kernel, weights at ``w_bits`` and every activation tensor at its own width. ``layer_bits="graph"``
reads them from the IR (the main op's ``Op.weight_bits``, each tensor's ``TensorSpec.dtype_bits``);
a mapping ``kernel name -> (w_bits, a_bits)`` gives them per layer (``a_bits`` = the width of the
layer's input activations; a tensor is stored at the widest ``a_bits`` of the kernels that read it,
a tensor nobody reads at its producer's; unlisted kernels are int8). Widths are 1..8, 16 or 32. Then:

* a conv / linear kernel is *integer* when its weights and its input are <= 8 bits, else *float*
  (the TFLM float reference kernels on dequantized data);
* MAC cycles x factor: integer ``MAC_FACTOR_W[w] * MAC_FACTOR_A[a]`` (sub-byte kernels unpack before
  the int16 SIMD MACs, as in CMix-NN), float :data:`FLOAT_MAC_FACTOR`; other terms as int8. These
  factors are assumptions, not calibrated on measurements;
* arena: each tensor at ``ceil(numel * bits / 8)`` bytes (sub-byte tensors packed); CMSIS-NN scratch
  for integer kernels; a float kernel gets a float copy of a quantized input (TFLM's DEQUANTIZE) and
  one dequantized filter row when its weights are quantized;
* flash: weights packed at ``w_bits``, 4-byte biases, per-channel quantization data only for
  quantized (< 32 bit) weights; persistent SRAM: requantization data only for integer kernels.

With every width at 8 this is the int8 model exactly (tested).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

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

#: MAC-cycle factor of integer kernels by weight / activation bit-width (int8 = 1; assumptions, see above).
MAC_FACTOR_W: dict[int, float] = {8: 1.0, 7: 1.1, 6: 1.1, 5: 1.2, 4: 1.2, 3: 1.35, 2: 1.35, 1: 1.5}
MAC_FACTOR_A: dict[int, float] = {8: 1.0, 7: 1.05, 6: 1.05, 5: 1.1, 4: 1.1, 3: 1.2, 2: 1.2, 1: 1.3}
#: MAC-cycle factor of a float (dequantized, TFLM reference) kernel.
FLOAT_MAC_FACTOR = 4.0
#: Bit-widths the model accepts.
VALID_BITS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8, 16, 32)
MAC_CLASSES = ("conv", "conv1x1", "dw", "fc")

#: ``layer_bits`` argument: ``None`` (int8), ``"graph"`` (from the IR) or kernel name -> (w_bits, a_bits).
LayerBits = Literal["graph"] | Mapping[str, tuple[int, int]] | None

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
    """Flash parts of the int8 model (``estimate`` computes them at any ``layer_bits``)."""
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
        "runtime": c.flash_runtime, "constants": float(kg.constant_numel()),
    }


def _check_bits(b: Any, what: str) -> int:
    if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or int(b) not in VALID_BITS:
        raise ValueError(f"{what}: bit-width {b!r} is not one of {VALID_BITS}")
    return int(b)


def resolve_bits(kg: KernelGraph, layer_bits: LayerBits = None, default: int = 8) -> tuple[list[int], dict[str, int]]:
    """Weight bits per kernel (in order) and bits per tensor of ``kg`` for ``layer_bits`` (see the module
    docstring); ``default`` is the width of everything not named (8 here, the FPGA model's own precision there)."""
    if layer_bits is None:
        return [default] * len(kg.kernels), {t: default for t in kg.tensors}
    if isinstance(layer_bits, str):
        if layer_bits != "graph":
            raise ValueError(f"layer_bits={layer_bits!r}: expected None, 'graph' or a mapping "
                             "kernel name -> (w_bits, a_bits)")
        w = [_check_bits(k.main.weight_bits, f"kernel {k.name!r} weight") for k in kg.kernels]
        return w, {t: _check_bits(ts.dtype_bits, f"tensor {t!r}") for t, ts in kg.tensors.items()}
    names = [k.name for k in kg.kernels]
    unknown = sorted(set(layer_bits) - set(names))
    if unknown:
        raise ValueError(f"layer_bits names {unknown} that are not kernels of {kg.name!r} (after fusion); "
                         f"valid kernel names: {names}")
    wa: list[tuple[int, int]] = []
    for k in kg.kernels:
        v = layer_bits.get(k.name, (default, default))
        if not (isinstance(v, tuple | list) and len(v) == 2):
            raise ValueError(f"layer_bits[{k.name!r}] = {v!r}: expected a pair (w_bits, a_bits)")
        wa.append((_check_bits(v[0], f"kernel {k.name!r} weight"), _check_bits(v[1], f"kernel {k.name!r} activation")))
    readers: dict[str, list[int]] = {t: [] for t in kg.tensors}
    for k, (_, a) in zip(kg.kernels, wa):
        for t in k.inputs:
            readers[t].append(a)
    producer = {k.output: a for k, (_, a) in zip(kg.kernels, wa)}
    tb = {t: max(r) if r else producer.get(t, default) for t, r in readers.items()}
    return [w for w, _ in wa], tb


def _float_scratch(k: Kernel, a_bits: int, w_bits: int) -> int:
    """Scratch of a float kernel: a float copy of a quantized input + one dequantized filter row."""
    op = k.main
    row = math.prod(op.in_shapes[0][1:]) if kernel_class(k) == "fc" else (
        op.in_shapes[0][1] // op.groups * math.prod(op.kernel or (1, 1)))
    return (4 * math.prod(op.in_shapes[0]) if a_bits < 32 else 0) + (4 * row if w_bits < 32 else 0)


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
             coefficients: MCUCoefficients | None = None, *, layer_bits: LayerBits = None,
             **overrides: float) -> MCUEstimate:
    """Cost ``graph`` on an MCU ``device``; ``overrides`` replace single coefficients.

    ``layer_bits``: ``None`` (default) costs int8 everywhere whatever the IR says; ``"graph"`` takes the
    bit-widths from the IR; a mapping gives ``(w_bits, a_bits)`` per kernel name (module docstring).
    """
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
    wbits, tbits = resolve_bits(kg, layer_bits)
    cpm = {"conv": c.cpm_conv, "conv1x1": c.cpm_conv1x1, "dw": c.cpm_dw, "fc": c.cpm_fc}

    # per kernel: cycles, scratch, packed weight bytes; integer / float MAC kernels
    cycles: list[float] = []
    scr: list[int] = []
    wbytes: list[int] = []
    weights = bias = quant = int_channels = 0
    for k, wb in zip(kg.kernels, wbits):
        cls = kernel_class(k)
        cyc = kernel_cycles(k, c)
        if cls in MAC_CLASSES:
            a = tbits[k.inputs[0]]
            integer = wb <= 8 and a <= 8
            factor = MAC_FACTOR_W[wb] * MAC_FACTOR_A[a] if integer else FLOAT_MAC_FACTOR
            cyc += cpm[cls] * kernel_features(k)[cls] * (factor - 1.0)
            scr.append(scratch_bytes(k) if integer else _float_scratch(k, a, wb))
            ch = k.main.out_shape[1]
            packed = -(-k.main.weight_count * wb // 8)
            weights += packed
            bias += ch  # int32 bias after folding (always present in TFLite int8 conv / fc)
            if wb < 32:
                quant += ch if cls != "fc" else 1
            if integer:
                int_channels += ch
            wbytes.append(packed + 4 * ch)
        else:
            scr.append(scratch_bytes(k))
            wbytes.append(k.main.weight_count)
        cycles.append(cyc)

    # arena: activations at their bit-widths + scratch buffers living during their kernel
    life = kg.lifetimes()
    bufs = [Buffer(t, -(-_numel(kg.tensors[t].shape) * tbits[t] // 8), a, b) for t, (a, b) in life.items()]
    bufs += [Buffer(f"scratch:{k.name}", s, i, i) for i, (k, s) in enumerate(zip(kg.kernels, scr)) if s > 0]
    plan = plan_arena(bufs)
    persistent = (c.sram_persistent_per_channel * int_channels + c.sram_per_tensor * len(kg.tensors)
                  + c.sram_per_kernel * len(kg.kernels))
    peak_sram = plan.arena_bytes + persistent + c.sram_runtime

    fp = {
        "weights": float(weights), "biases": 4.0 * bias, "quant_params": c.flash_per_quant_channel * quant,
        "metadata": c.flash_per_kernel * len(kg.kernels) + c.flash_per_tensor * len(kg.tensors),
        "runtime": c.flash_runtime,
        # constant tensors (a constant network's feature map) live in flash at their width
        "constants": float(sum(-(-kg.tensors[t].numel * tbits[t] // 8) for t in kg.constants)),
    }
    flash = sum(fp.values())

    rows = []
    total_cycles = 0.0
    for i, k in enumerate(kg.kernels):
        cyc = cycles[i]
        total_cycles += cyc
        ms = cyc / clock * 1e3
        live = int(plan.live_bytes[i]) if i < len(plan.live_bytes) else 0
        rows.append((k.name[:64], k.kind, "+".join(k.fused)[:32], k.macs, cyc, ms, ms * power,
                     _numel(k.out_shape), scr[i], live, wbytes[i]))
    layers = np.array(rows, dtype=LAYER_DTYPE)
    latency_ms = total_cycles / clock * 1e3
    fits_sram = peak_sram <= float(device.sram_bytes)
    fits_flash = flash <= float(device.flash_bytes)
    return MCUEstimate(
        latency_ms=latency_ms, energy_mj=latency_ms * power, peak_sram_bytes=float(peak_sram),
        arena_bytes=float(plan.arena_bytes), flash_bytes=float(flash), fits=fits_sram and fits_flash,
        fits_sram=fits_sram, fits_flash=fits_flash, cycles=total_cycles, layers=layers,
        details={"flash_parts": fp, "persistent_sram_bytes": persistent, "arena_lower_bound": plan.lower_bound,
                 "coefficients": c, "core": core, "layer_bits": "int8" if layer_bits is None else
                 ("graph" if isinstance(layer_bits, str) else "mapping")},
    )
