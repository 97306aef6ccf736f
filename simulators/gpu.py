"""GPU model: per-kernel roofline with compiler fusion, launch overhead and small-batch occupancy.

Kernels come from :func:`simulators.fusion.fuse` (conv + batch norm + activation in one kernel, add +
activation in one kernel, ``none`` edges pruned). For each kernel at batch ``B`` and a precision:

* convolution / linear run as implicit GEMMs ``M = B*H_out*W_out`` (``B`` for linear), ``N = C_out``,
  ``K = C_in/groups * k_h * k_w``, tiled into ``tile_m x tile_n`` thread-block tiles. Padded tiles do
  wasted work, and the tiles run in waves of ``SMs * blocks_per_sm``: a last partial wave (or a grid
  smaller than one wave, the small-batch case) leaves SMs idle. Depthwise convolutions do not use the
  GEMM path: they are bandwidth kernels with a low arithmetic ceiling.
* compute time = padded FLOPs / (peak FLOP/s x efficiency x wave utilization); the GEMM efficiency
  (0.84) is fitted on published Jetson TX2 latencies (``hwbench.simulate.calibrate_gpu``, docs/targets.md);
  memory time = (inputs + output + weights bytes) / (bandwidth x efficiency);
  kernel time = max(compute, memory) + launch overhead.
* element-wise, pooling and add kernels are memory-bound.

Energy = board power x latency. Peak memory = weights (with constant tensors: the feature map of a
constant network, :mod:`simulators.fusion`) + the activation arena (a caching allocator reuses freed
blocks; greedy-by-size planning over kernel lifetimes).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from simulators.arena import Buffer, plan_arena
from simulators.devices import DeviceSpec
from simulators.fusion import fuse
from simulators.ir import LayerGraph

BYTES = {"fp32": 4, "fp16": 2, "int8": 1}
PEAK_KEY = {"fp32": "fp32_flops", "fp16": "fp16_flops", "int8": "int8_ops"}

LAYER_DTYPE = np.dtype([
    ("name", "U64"), ("kind", "U16"), ("fused", "U32"), ("macs", "i8"), ("flops", "f8"),
    ("bytes", "f8"), ("compute_ms", "f8"), ("memory_ms", "f8"), ("latency_ms", "f8"), ("energy_mj", "f8"),
    ("wave_util", "f8"), ("bound", "U8"),
])


def _numel(s: tuple[int, ...]) -> int:
    n = 1
    for v in s:
        n *= int(v)
    return n


def simulate_gpu(graph: LayerGraph, device: DeviceSpec, batch: int = 1, precision: str = "fp32",
                 gemm_efficiency: float = 0.84, bw_efficiency: float = 0.75, tile_m: int = 64, tile_n: int = 64,
                 blocks_per_sm: int = 2, dw_efficiency: float = 0.15, elementwise_efficiency: float = 0.25,
                 host_overhead_s: float = 0.0) -> Any:
    """Cost ``graph`` at batch ``batch`` (the graph's own batch is rescaled) on a GPU ``device``.

    ``host_overhead_s`` is a fixed per-inference cost outside the kernels (framework dispatch, input and
    output copies) added once to the latency (0 by default: the device's own cost); the validation fits it
    per measurement protocol (``hwbench.simulate.validate_gpu``).
    """
    from simulators.api import SimResult

    if precision not in BYTES:
        raise ValueError(f"precision must be one of {sorted(BYTES)}, got {precision!r}")
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    eb = BYTES[precision]
    peak = float(device.get(PEAK_KEY[precision]) or device.fp32_flops)
    bw = float(device.dram_bw_bytes_per_s) * bw_efficiency
    launch = float(device.launch_overhead_s)
    sms = int(device.sms)
    power = float(device.power_w)
    kg = fuse(graph)
    g_batch = max(int(graph.tensors[graph.inputs[0]].shape[0]), 1) if graph.inputs else 1
    scale = batch / g_batch

    rows = []
    total = 0.0
    for k in kg.kernels:
        op = k.main
        out = _numel(k.out_shape) * scale
        ins = sum(_numel(s) for s in op.in_shapes) * scale
        wbytes = (op.weight_count + op.bias_count) * eb
        nbytes = (ins + out) * eb + wbytes
        macs = k.macs * scale
        util = 1.0
        if op.kind in ("conv2d", "linear"):
            if op.kind == "conv2d":
                assert op.kernel is not None
                m = _numel(op.out_shape[:1]) * scale * op.out_shape[2] * op.out_shape[3]
                n = op.out_shape[1] // op.groups
                kk = op.in_shapes[0][1] // op.groups * op.kernel[0] * op.kernel[1]
                groups = op.groups
            else:
                m, n, kk, groups = op.out_shape[0] * scale, op.out_shape[-1], op.in_shapes[0][-1], 1
            tiles = math.ceil(m / tile_m) * math.ceil(n / tile_n) * groups
            padded = math.ceil(m / tile_m) * tile_m * math.ceil(n / tile_n) * tile_n * kk * groups
            slots = sms * blocks_per_sm
            waves = math.ceil(tiles / slots)
            util = tiles / (waves * slots)
            flops = 2.0 * padded
            compute = flops / (peak * gemm_efficiency * util)
        elif op.kind == "dwconv2d":
            flops = 2.0 * macs
            compute = flops / (peak * dw_efficiency)  # no GEMM tiling: FMA throughput limited by gathers
        else:
            flops = float(k.elementwise_ops * scale)
            compute = flops / (peak * elementwise_efficiency)
        memory = nbytes / bw
        t = max(compute, memory) + launch
        total += t
        rows.append((k.name[:64], k.kind, "+".join(k.fused)[:32], int(macs), flops, nbytes, compute * 1e3,
                     memory * 1e3, t * 1e3, t * power * 1e3, util, "compute" if compute >= memory else "memory"))
    layers = np.array(rows, dtype=LAYER_DTYPE)
    life = kg.lifetimes()
    plan = plan_arena([Buffer(t, int(_numel(kg.tensors[t].shape) * scale * eb), a, b) for t, (a, b) in life.items()],
                      alignment=512)
    # weights + constant tensors (a constant network's feature map, stored with the weights)
    weights = float((sum((k.main.weight_count + k.main.bias_count) for k in kg.kernels) + kg.constant_numel()) * eb)
    total += host_overhead_s
    latency_ms = total * 1e3
    return SimResult(device.name, "gpu", latency_ms, latency_ms * power, plan.arena_bytes + weights, weights,
                     {"kernels": float(len(kg.kernels))}, layers, None,
                     {"batch": batch, "precision": precision, "host_overhead_ms": host_overhead_s * 1e3,
                      "throughput_per_s": batch / total if total else math.nan})
