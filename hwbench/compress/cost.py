"""Cost of a compression configuration: the pruned layer graph with bit-widths, through the simulators.

**Graph** (:func:`compressed_graph`, no torch): the analytic NB201 graph of the base cell with every
channel count of a stage replaced by its pruned count (the stream widths C, 2C, 4C of the three stages
are distinct, so the map is by value; the reduction's inner ``conv_a`` output is pruned like its
stage, as :func:`hwbench.compress.nets.prune_network` does), weight counts recomputed, and:

* ``Op.weight_bits`` of every op of stage ``s`` = ``w_s``;
* ``dtype_bits`` of a tensor = the largest activation bit-width of the stages that read it (the graph
  input is read by stage 1; the logits, read by nobody, keep their producer's stage bits).

A test holds the graph equal to ``torch.export`` of the pruned torch network.

**MCU** (:func:`mcu_cost`): the project's int8 MCU model (:mod:`simulators.mcu`: CMSIS-NN cycles,
TFLM greedy arena, flash) extended to mixed precision, composed from its public parts (no change to
``simulators``); with every bit-width at 8 it gives exactly ``simulators.mcu.estimate`` (tested):

* a conv / linear kernel is *integer* when its weights and its input are <= 8 bits, else *float*
  (weights or activations are dequantized: the TFLM float reference kernels);
* cycles = MAC cycles x factor + the other terms of the int8 model; integer factor =
  ``MAC_FACTOR_W[w] * MAC_FACTOR_A[a]`` (sub-byte kernels unpack before the int16 SIMD MACs, as in
  CMix-NN, so they are *slower* per MAC than int8), float factor = :data:`FLOAT_MAC_FACTOR`.
  These factors are assumptions, not calibrated on measurements (none were available here);
* arena: every tensor at ``ceil(numel * dtype_bits / 8)`` bytes (sub-byte tensors packed), CMSIS-NN
  scratch for integer kernels; a float kernel (the reference kernels need no im2col) gets a scratch
  buffer for a float copy of its input when that input is quantized (TFLM's DEQUANTIZE) and one
  dequantized filter row when its weights are quantized;
* flash: weights packed at ``weight_bits``, 4-byte biases, per-channel quantization parameters only
  for quantized weights; runtime constants as in the int8 model;
* persistent SRAM: requantization data only for integer kernels.

**FPGA**: :mod:`simulators.fpga` with ``bits`` = the widest bit-width in use (its engine has one data
width; per-layer widths are not modelled). **Other families**: the float graph (not bit-aware).
**Model size**: weights packed at their bit-widths + 4-byte biases after batch-norm folding.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache
from typing import Any

from hwbench.compress.space import CompressionConfig, CompressionSpace, get_space
from hwbench.errors import HwbenchError
from simulators.ir import LayerGraph, TensorSpec

MAC_FACTOR_W: dict[int, float] = {8: 1.0, 7: 1.1, 6: 1.1, 5: 1.2, 4: 1.2, 3: 1.35, 2: 1.35, 1: 1.5}
MAC_FACTOR_A: dict[int, float] = {8: 1.0, 7: 1.05, 6: 1.05, 5: 1.1, 4: 1.1, 3: 1.2, 2: 1.2, 1: 1.3}
FLOAT_MAC_FACTOR = 4.0
_MAC_CLASSES = ("conv", "conv1x1", "dw", "fc")


def op_stage(name: str, n: int) -> int:
    """Stage (0, 1, 2) of an op of the NB201 graph by its module path (``n`` cells per stage)."""
    if name.startswith("stem"):
        return 0
    if name.startswith("cells."):
        i = int(re.match(r"cells\.(\d+)", name).group(1))  # type: ignore[union-attr]
        return 0 if i < n else 1 if i <= 2 * n else 2
    return 2


def _map_shape(shape: tuple[int, ...], cmap: Mapping[int, int]) -> tuple[int, ...]:
    if len(shape) == 4:
        return (shape[0], cmap.get(shape[1], shape[1]), *shape[2:])
    return shape


@lru_cache(maxsize=256)
def _pruned_graph(arch: str, config: str, widths: tuple[float, float, float]) -> LayerGraph:
    from hwbench.builders.nb201_analytic import build_graph
    from hwbench.compress.space import stage_channel_map
    from hwbench.spaces.nb201 import get_config

    cfg = get_config(config)
    g = build_graph(arch, cfg)
    cmap = stage_channel_map(cfg.C, widths)
    out = LayerGraph(g.name, (), tuple(g.outputs))
    for t in g.inputs:
        out.add_input(t, g.tensors[t].shape)
    for op in g.ops:
        ins = tuple(_map_shape(s, cmap) for s in op.in_shapes)
        o = _map_shape(op.out_shape, cmap)
        if op.kind == "flatten" or (op.kind == "linear" and op.name.startswith("classifier")):
            # the pooled feature vector: (1, 4C) -> (1, pruned 4C); the logits keep num_classes
            if op.kind == "flatten":
                o = (o[0], ins[0][1])
            else:
                ins = ((ins[0][0], cmap.get(ins[0][1], ins[0][1])),)
        wc, bc = op.weight_count, op.bias_count
        if op.kind in ("conv2d", "dwconv2d"):
            assert op.kernel is not None
            wc = o[1] * (ins[0][1] // op.groups) * op.kernel[0] * op.kernel[1]
        elif op.kind == "batchnorm":
            wc = bc = o[1]
        elif op.kind == "linear":
            wc = ins[0][-1] * o[-1]
        new = replace(op, in_shapes=ins, out_shape=o, weight_count=wc, bias_count=bc)
        out.tensors[op.output] = TensorSpec(op.output, o, 32)
        out.ops.append(new)
    return out


def compressed_graph(arch: str | int, config: str | int | CompressionConfig, space: CompressionSpace | str = "mpq-prune",
                     macro: str = "fashion-mnist") -> LayerGraph:
    """The layer graph of base cell ``arch`` compressed by ``config`` (see the module docstring)."""
    from hwbench.spaces.nb201 import SPACE, get_config

    sp = get_space(space)
    c = sp.parse(config)
    a = SPACE.arch_str(arch)
    base = _pruned_graph(a, macro, c.widths)
    n = get_config(macro).N
    readers: dict[str, list[int]] = {t: [] for t in base.tensors}
    for op in base.ops:
        st = op_stage(op.name, n)
        for t in op.inputs:
            readers[t].append(st)
    producer_stage = {op.output: op_stage(op.name, n) for op in base.ops}

    def tbits(t: str) -> int:
        rs = readers[t]
        if rs:
            return max(c.a_bits[s] for s in rs)
        return c.a_bits[producer_stage.get(t, 0)]

    g = LayerGraph(f"{base.name}[{c}]", (), tuple(base.outputs))
    for t in base.inputs:
        g.add_input(t, base.tensors[t].shape, tbits(t))
    for op in base.ops:
        bits = tbits(op.output)
        g.tensors[op.output] = TensorSpec(op.output, op.out_shape, bits)
        g.ops.append(replace(op, weight_bits=c.w_bits[op_stage(op.name, n)], dtype_bits=bits))
    return g


def _is_integer(k: Any, kg: Any) -> bool:
    a = kg.tensors[k.inputs[0]].dtype_bits if k.inputs else 32
    return k.main.weight_bits <= 8 and a <= 8


def mcu_cost(graph: LayerGraph, device: str = "mcu-stm32f746") -> dict[str, float]:
    """Mixed-precision MCU cost (see the module docstring): latency, energy, SRAM, flash."""
    from simulators import mcu
    from simulators.arena import Buffer, plan_arena
    from simulators.devices import get_device
    from simulators.fusion import fuse

    spec = get_device(device)
    if spec.family != "mcu":
        raise HwbenchError(f"device {device!r} is a {spec.family} target; mcu_cost needs an MCU")
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
        if cls in _MAC_CLASSES:
            f = mcu.kernel_features(k)
            mac = cpm[cls] * f[cls]
            a = kg.tensors[k.inputs[0]].dtype_bits
            wb = k.main.weight_bits
            integer = _is_integer(k, kg)
            factor = MAC_FACTOR_W[wb] * MAC_FACTOR_A[a] if integer else FLOAT_MAC_FACTOR
            total += mac * (factor - 1.0)
            if integer:
                scratch.append(mcu.scratch_bytes(k))
            else:  # float kernel: a dequantized copy of a quantized input, one dequantized filter row
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
             + c.flash_per_tensor * len(kg.tensors) + c.flash_runtime)
    latency_ms = cycles / float(spec.clock_hz) * 1e3
    sram = plan.arena_bytes + persistent + c.sram_runtime
    return {
        "latency_ms": latency_ms, "energy_mj": latency_ms * float(spec.active_power_w),
        "peak_sram_bytes": float(sram), "arena_bytes": float(plan.arena_bytes),
        "arena_lower_bound_bytes": float(plan.lower_bound), "flash_bytes": float(flash),
        "cycles": cycles, "fits": float(sram <= float(spec.sram_bytes) and flash <= float(spec.flash_bytes)),
    }


def model_size_bytes(graph: LayerGraph) -> float:
    """Weights packed at their bit-widths + 4-byte biases of the conv / linear kernels after BN folding."""
    from simulators.fusion import fuse

    total = 0.0
    for k in fuse(graph).kernels:
        if k.main.kind in ("conv2d", "dwconv2d", "linear"):
            total += math.ceil(k.main.weight_count * k.main.weight_bits / 8) + 4 * k.main.out_shape[1]
    return total


def compress_cost(base: str | int, config: str | int | CompressionConfig, device: str = "mcu-stm32f746",
                  space: CompressionSpace | str = "mpq-prune", macro: str = "fashion-mnist") -> dict[str, float]:
    """Cost metrics of base cell ``base`` (an nb201 string or index, or a base role such as ``best``)
    compressed by ``config`` on ``device``; names carry units. Always includes ``params``, ``macs`` and
    ``model_size_bytes``."""
    from hwbench.compress.bases import PINNED_BASES
    from simulators.api import simulate
    from simulators.devices import get_device

    arch = PINNED_BASES.get(base, base) if isinstance(base, str) else base
    g = compressed_graph(arch, config, space, macro)
    out: dict[str, float] = {"params": float(g.params), "macs": float(g.macs), "model_size_bytes": model_size_bytes(g)}
    spec = get_device(device)
    if spec.family == "mcu":
        out.update(mcu_cost(g, device))
    else:
        opts: dict[str, Any] = {}
        if spec.family == "fpga":
            c = get_space(space).parse(config)
            opts["bits"] = max(*c.w_bits, *c.a_bits)
        out.update(simulate(g, spec, **opts).metrics())
    return out
