"""ASIC model: an Eyeriss-like row-stationary (RS) accelerator (Chen et al., ISCA 2016 / JSSC 2017).

Per convolution (filter ``R x S``, output ``E x F``, ``C`` input channels per group, ``M`` filters):

* a logical PE set is ``R`` rows x ``E`` columns (one PE per filter row x output row); sets wider than
  the array are folded into strips of at most ``pe_cols`` columns, and as many sets as fit are
  replicated over the 12 x 14 array (different filters / channels). PE utilization =
  used PEs / 168; compute cycles = MACs / (168 x utilization x array efficiency) (one 16-bit MAC per
  active PE per cycle; the array efficiency -- pipeline fill, NoC and buffer stalls -- is the device
  figure ``array_efficiency``, fitted on the measured Eyeriss AlexNet layers, see docs/targets.md).
* DRAM traffic (16-bit words): ifmap + weights + ofmap once each per layer (the Eyeriss chip's measured
  DRAM accesses are close to this: JSSC 2017 Tables V and VI).
* time = compute + traffic / DRAM bandwidth: the chip does not hide a layer's DRAM transfers behind its
  processing (JSSC 2017 Tables V/VI: every layer's total latency exceeds its processing latency by about
  its DRAM accesses over the link bandwidth).
* energy, in units of one MAC (ISCA 2016 Table IV: RF 1x, inter-PE 2x, global buffer 6x, DRAM 200x):
  MACs x (1 + 3 RF accesses) + NoC transfers (ifmap reuse over R, weight reuse over F, psum accumulation
  over R) x 2 + global-buffer accesses x 6 + DRAM words x 200, plus static power x time.

Fully connected layers map as 1 x 1 convolutions (R = E = 1); pooling, add and activations go through a
14-lane post-processing path, memory-bound on the global buffer. Weight bytes include constant tensors
(the feature map of a constant network, :mod:`simulators.fusion`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from simulators.devices import DeviceSpec
from simulators.fusion import fuse
from simulators.ir import LayerGraph

LAYER_DTYPE = np.dtype([
    ("name", "U64"), ("kind", "U16"), ("fused", "U32"), ("macs", "i8"), ("pe_util", "f8"),
    ("compute_cycles", "f8"), ("dram_bytes", "f8"), ("latency_ms", "f8"), ("energy_mj", "f8"), ("bound", "U8"),
])


def _numel(s: tuple[int, ...]) -> int:
    n = 1
    for v in s:
        n *= int(v)
    return n


def rs_utilization(r: int, e: int, rows: int = 12, cols: int = 14) -> float:
    """Fraction of the PE array busy under the row-stationary mapping of an R-row filter, E output rows."""
    r = max(r, 1)
    strips = math.ceil(e / cols)
    width = math.ceil(e / strips)
    if r > rows:  # filter rows split across passes
        passes = math.ceil(r / rows)
        r = math.ceil(r / passes)
    sets = (rows // r) * (cols // width)
    return min(sets * r * width / (rows * cols), 1.0)


def simulate_asic(graph: LayerGraph, device: DeviceSpec, batch: int = 1) -> Any:
    from simulators.api import SimResult

    rows, cols = int(device.pe_rows), int(device.pe_cols)
    pes = rows * cols
    clock = float(device.clock_hz)
    bw = float(device.dram_bw_bytes_per_s)
    glb = float(device.glb_bytes)
    wb = int(device.word_bits) // 8
    e_mac = float(device.energy_mac_j)
    rf, noc, gbuf, dram = (float(device.energy_rf_rel), float(device.energy_noc_rel), float(device.energy_glb_rel),
                           float(device.energy_dram_rel))
    eff = float(device.get("array_efficiency", 1.0))
    kg = fuse(graph)
    g_batch = max(int(graph.tensors[graph.inputs[0]].shape[0]), 1) if graph.inputs else 1
    scale = batch / g_batch
    rows_out = []
    total = 0.0
    for k in kg.kernels:
        op = k.main
        out = _numel(k.out_shape) * scale
        ins = sum(_numel(s) for s in op.in_shapes) * scale
        macs = k.macs * scale
        wts = op.weight_count + op.bias_count
        if op.kind in ("conv2d", "dwconv2d", "linear"):
            if op.kind == "linear":
                r, e, f = 1, 1, 1
            else:
                assert op.kernel is not None
                r, e, f = op.kernel[0], op.out_shape[2], op.out_shape[3]
            util = rs_utilization(r, e, rows, cols)
            cyc = macs / (pes * util * eff)
            traffic = (ins + out + wts) * wb
            noc_t = macs / max(r, 1) + macs / max(f, 1) + out * r
            glb_acc = ins + wts + 2 * out * max(1, math.ceil(op.in_shapes[0][1] / max(op.groups, 1) / 4))
            e_dyn = e_mac * (macs * (1 + 3 * rf) + noc_t * noc + glb_acc * gbuf + traffic / wb * dram)
        else:
            util = 0.0
            cyc = max(k.elementwise_ops * scale, out) / cols
            traffic = 0.0 if out * wb < glb else (ins + out) * wb
            e_dyn = e_mac * ((ins + out) * gbuf + traffic / wb * dram)
        t_c, t_m = cyc / clock, traffic / bw
        t = t_c + t_m
        total += t
        e = e_dyn + float(device.static_power_w) * t
        rows_out.append((k.name[:64], k.kind, "+".join(k.fused)[:32], int(macs), util, cyc, traffic, t * 1e3,
                         e * 1e3, "compute" if t_c >= t_m else "memory"))
    layers = np.array(rows_out, dtype=LAYER_DTYPE)
    # weights + constant tensors (a constant network's feature map, stored with the weights)
    weights = float((sum(k.main.weight_count + k.main.bias_count for k in kg.kernels) + kg.constant_numel()) * wb)
    peak_act = max((_numel(t.shape) for n, t in kg.tensors.items() if n not in kg.constants), default=0) * wb * scale
    mac_total = float(layers["macs"].sum()) if len(layers) else 0.0
    util_avg = (mac_total / (float((layers["compute_cycles"]).sum()) * pes)) if len(layers) and layers["compute_cycles"].sum() else 0.0
    return SimResult(device.name, "asic", total * 1e3, float(layers["energy_mj"].sum()) if len(layers) else 0.0,
                     weights + 2 * peak_act, weights,
                     {"pe_util": util_avg, "dram_traffic_bytes": float(layers["dram_bytes"].sum()) if len(layers) else 0.0},
                     layers, None, {"batch": batch})
