"""Cost of a compression configuration: the pruned layer graph with bit-widths, through the simulators.

**Graph** (:func:`compressed_graph`, no torch): the analytic NB201 graph of the base cell with every
channel count of a stage replaced by its pruned count (the stream widths C, 2C, 4C of the three stages
are distinct, so the map is by value; the reduction's inner ``conv_a`` output is pruned like its
stage, as :func:`hwbench.compress.nets.prune_network` does), weight counts recomputed, and:

* ``Op.weight_bits`` of every op of stage ``s`` = ``w_s``;
* ``dtype_bits`` of a tensor = what the accuracy evaluation quantizes (:mod:`hwbench.compress.nets`
  wraps every Conv2d / Linear in a QuantLayer that fake-quantizes its *input*): a tensor read only by
  conv / linear ops is stored at the largest ``a_s`` of their stages (the graph input at ``a_1``;
  the pooled features through ``flatten``, an alias, at the classifier's); every other tensor (conv
  outputs, cell sums, pooling outputs, the logits) stays float, 32 bits -- the measured network keeps
  them float, so its cost does too (tested against the torch QuantLayers).

A test holds the graph equal to ``torch.export`` of the pruned torch network.

**MCU** (:func:`mcu_cost`): the project's MCU model, :func:`simulators.mcu.estimate` with
``layer_bits="graph"`` (CMSIS-NN cycles, TFLM greedy arena, flash, with the bit-widths read from the
graph; the mixed-precision rules are in :mod:`simulators.mcu`); with every bit-width at 8 it gives
exactly the int8 model (tested):

* a conv / linear kernel is *integer* when its weights and its input are <= 8 bits, else *float*;
* cycles = MAC cycles x ``MAC_FACTOR_W[w] * MAC_FACTOR_A[a]`` (integer) or :data:`FLOAT_MAC_FACTOR`
  (float) + the other terms of the int8 model. These factors are assumptions, not calibrated;
* arena: tensors packed at their ``dtype_bits``; flash: weights packed at ``weight_bits``.

**FPGA**: :func:`simulators.fpga.simulate_fpga` with ``layer_bits="graph"``: per conv / linear
kernel, MACs per DSP by precision (int8 two, int4 four, fp32 a fifth; device data), tiles, DRAM
traffic and weight bytes at each tensor's width; ``dsp_active_peak`` = DSPs the busiest layer keeps
busy. **Other families**: the float graph (not bit-aware).
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
from simulators.mcu import FLOAT_MAC_FACTOR, MAC_FACTOR_A, MAC_FACTOR_W  # noqa: F401 (re-exported)

#: Op kinds whose input the accuracy evaluation fake-quantizes (every Conv2d / Linear is a QuantLayer).
QUANTIZED_READERS = frozenset({"conv2d", "dwconv2d", "linear"})


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
    # what the accuracy evaluation quantizes (nets.QuantLayer): the input of every conv / linear, at
    # the reader's stage bits; ``flatten`` is an alias, so a tensor read through it counts as read by
    # the flatten's readers. Every other tensor stays float (32 bits).
    readers: dict[str, list[tuple[str, int]]] = {t: [] for t in base.tensors}
    for op in base.ops:
        for t in op.inputs:
            readers[t].append((op.kind, op_stage(op.name, n)))
    flat_out = {op.inputs[0]: op.output for op in base.ops if op.kind == "flatten"}

    def tbits(t: str) -> int:
        rs = readers[t]
        if t in flat_out and all(k == "flatten" for k, _ in rs):
            return tbits(flat_out[t])
        if rs and all(k in QUANTIZED_READERS for k, _ in rs):
            return max(c.a_bits[s] for _, s in rs)
        return 32

    g = LayerGraph(f"{base.name}[{c}]", (), tuple(base.outputs))
    for t in base.inputs:
        g.add_input(t, base.tensors[t].shape, tbits(t))
    for op in base.ops:
        bits = tbits(op.output)
        g.tensors[op.output] = TensorSpec(op.output, op.out_shape, bits)
        g.ops.append(replace(op, weight_bits=c.w_bits[op_stage(op.name, n)], dtype_bits=bits))
    return g


def mcu_cost(graph: LayerGraph, device: str = "mcu-stm32f746") -> dict[str, float]:
    """Mixed-precision MCU cost of ``graph`` at the bit-widths it carries (``simulators.mcu.estimate``
    with ``layer_bits="graph"``): latency, energy, SRAM, flash."""
    from simulators import mcu
    from simulators.devices import get_device

    spec = get_device(device)
    if spec.family != "mcu":
        raise HwbenchError(f"device {device!r} is a {spec.family} target; mcu_cost needs an MCU")
    e = mcu.estimate(graph, spec, layer_bits="graph")
    return {
        "latency_ms": e.latency_ms, "energy_mj": e.energy_mj, "peak_sram_bytes": e.peak_sram_bytes,
        "arena_bytes": e.arena_bytes, "arena_lower_bound_bytes": float(e.details["arena_lower_bound"]),
        "flash_bytes": e.flash_bytes, "cycles": e.cycles, "fits": float(e.fits),
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
        opts: dict[str, Any] = {"layer_bits": "graph"} if spec.family == "fpga" else {}
        out.update(simulate(g, spec, **opts).metrics())
    return out
