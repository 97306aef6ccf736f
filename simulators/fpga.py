"""FPGA model: a tiled convolution engine (Zhang et al., FPGA 2015 style) on a named board.

The engine is a ``Tm x Tn`` multiply-accumulate array (output x input channels) sized from the DSP
budget (``Tm * Tn * dsp_per_mac <= dsp_fraction * DSPs``), fed from on-chip tile buffers sized from
BRAM, at the board's clock, with off-chip bandwidth ``dram_bw``. Per conv / linear layer:

* compute cycles = ceil(C_out / Tm) * ceil(C_in_per_group / Tn) * groups' * H_out * W_out * k_h * k_w
  (depthwise layers use one input lane: the Tn lanes idle, a real tiling effect);
* the output is tiled in ``Tr x Tc`` blocks, the largest that fit the BRAM budget (double-buffered
  input, weight and output tiles); DRAM traffic = inputs re-read once per C_out tile + weights
  re-read once per spatial tile + outputs written once;
* time = max(compute, traffic / bandwidth) + a per-layer setup;
* pooling, add and stand-alone activations run on a ``Tm``-lane vector unit, memory-bound.

Energy = static power x latency + energy per MAC x MACs + energy per DRAM byte x traffic.
Resources: DSPs of the array, BRAM36 blocks of the largest tile set. Weight bytes include constant
tensors (the feature map of a constant network, :mod:`simulators.fusion`).

**Bit-widths.** ``layer_bits=None`` (default): one data width ``bits`` for every tensor and weight
(the model above, unchanged). ``layer_bits="graph"`` reads them from the IR (the main op's
``Op.weight_bits``, each tensor's ``TensorSpec.dtype_bits``); a mapping ``kernel name -> (w_bits,
a_bits)`` gives them per kernel (``a_bits`` = its input activations; a tensor is stored at the widest
``a_bits`` of its readers, a tensor nobody reads at its producer's; unlisted kernels at ``bits``), as
:mod:`simulators.mcu` does. Widths 1..8, 16 or 32. Then, per conv / linear kernel of precision
``p = max(w_bits, a_bits)``, the same DSP array (sized for 16-bit lanes, one DSP per MAC) runs
:func:`macs_per_dsp` MACs per DSP per cycle: the ``Tm`` (output-channel) lanes scale by that factor
(int8: two MACs per DSP sharing the input activation, Xilinx WP486 / WP487; int4 and below: twice the
int8 rate, Xilinx WP521; 9..16 bit: ``1 / dsp_per_mac``; fp32: ``1 / dsps_per_mac_fp32`` -- an
assumption, see the device files). Tiles, DRAM traffic, weight and activation bytes use each tensor's
own width (sub-byte packed; biases int32 next to <= 8-bit weights, else at the weights' width); energy per MAC = ``energy_per_mac_j`` (a 16-bit DSP MAC)
/ that factor (energy per DSP operation taken as constant). Extra resource ``dsp_active_peak``: DSPs
busy in the busiest layer (what an engine sized for this network would need).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from simulators.devices import DeviceSpec
from simulators.fusion import KernelGraph, fuse
from simulators.ir import LayerGraph
from simulators.mcu import LayerBits
from simulators.mcu import resolve_bits as mcu_resolve_bits

LAYER_DTYPE = np.dtype([
    ("name", "U64"), ("kind", "U16"), ("fused", "U32"), ("macs", "i8"), ("compute_cycles", "f8"),
    ("dram_bytes", "f8"), ("tile", "U16"), ("latency_ms", "f8"), ("energy_mj", "f8"), ("pe_util", "f8"),
    ("bound", "U8"),
])
BRAM36_BYTES = 4608


def _numel(s: tuple[int, ...]) -> int:
    n = 1
    for v in s:
        n *= int(v)
    return n


def engine_shape(device: DeviceSpec, tn: int = 16, dsp_fraction: float = 0.9) -> tuple[int, int]:
    """(Tm, Tn) of the MAC array that fits the DSP budget."""
    macs = int(float(device.dsp) * dsp_fraction / float(device.dsp_per_mac))
    return max(macs // tn, 1), tn


def _tile(h: int, w: int, k: int, s: int, tm: int, tn: int, budget: int, eb: int) -> tuple[int, int, int]:
    """Largest square-ish output tile (Tr, Tc) whose double-buffered tiles fit ``budget`` bytes."""
    best = (1, 1, 0)
    for tr in sorted({h, *[v for v in (1, 2, 4, 7, 8, 13, 14, 16, 28, 32, 56, 64) if v < h]}, reverse=True):
        tc = min(w, tr)
        inb = tn * ((tr - 1) * s + k) * ((tc - 1) * s + k)
        wb = tm * tn * k * k
        ob = tm * tr * tc
        need = 2 * (inb + wb + ob) * eb
        if need <= budget:
            return tr, tc, need
        best = (tr, tc, need)
    return best


def macs_per_dsp(device: DeviceSpec, w_bits: int, a_bits: int) -> float:
    """MACs one DSP slice of ``device`` performs per cycle for a ``w_bits`` x ``a_bits`` multiply-add
    (device figures ``macs_per_dsp_int8``, ``macs_per_dsp_int4``, ``dsp_per_mac``, ``dsps_per_mac_fp32``)."""
    p = max(int(w_bits), int(a_bits))
    if p <= 4:
        return float(device.macs_per_dsp_int4)
    if p <= 8:
        return float(device.macs_per_dsp_int8)
    if p <= 16:
        return 1.0 / float(device.dsp_per_mac)
    return 1.0 / float(device.dsps_per_mac_fp32)


def resolve_bits(kg: KernelGraph, layer_bits: LayerBits, default: int) -> tuple[list[int], dict[str, int]]:
    """Weight bits per kernel (in order) and bits per tensor for ``layer_bits`` (module docstring): the MCU
    model's rules, with the engine's own precision ``default`` for everything not named."""
    return mcu_resolve_bits(kg, layer_bits, default)


def _geometry(op: Any) -> tuple[int, int, int, int, int, int, int, int, int]:
    """(batch, input channels per group, output channels, out H, out W, kernel H, kernel W, stride, groups)
    of a conv/dwconv/linear op (a linear layer is a 1x1 conv on a 1x1 map)."""
    if op.kind == "linear":
        return op.out_shape[0], op.in_shapes[0][-1], op.out_shape[-1], 1, 1, 1, 1, 1, 1
    assert op.kernel is not None and op.stride is not None
    n, cout, h, w = op.out_shape
    g = op.groups
    return n, op.in_shapes[0][1] // g, cout, h, w, op.kernel[0], op.kernel[1], op.stride[0], g


def _nbytes(numel: int, bits: int) -> int:
    return -(-int(numel) * int(bits) // 8)


def _tile_mixed(h: int, w: int, k: int, s: int, tm: int, tn: int, budget: int, ib: int, wb_: int,
                ob_: int) -> tuple[int, int, int]:
    """:func:`_tile` with input / weight / output tiles at their own bit-widths (sub-byte packed)."""
    best = (1, 1, 0)
    for tr in sorted({h, *[v for v in (1, 2, 4, 7, 8, 13, 14, 16, 28, 32, 56, 64) if v < h]}, reverse=True):
        tc = min(w, tr)
        inb = tn * ((tr - 1) * s + k) * ((tc - 1) * s + k)
        need = 2 * (_nbytes(inb, ib) + _nbytes(tm * tn * k * k, wb_) + _nbytes(tm * tr * tc, ob_))
        if need <= budget:
            return tr, tc, need
        best = (tr, tc, need)
    return best


def simulate_fpga(graph: LayerGraph, device: DeviceSpec, bits: int = 16, tn: int = 16, dsp_fraction: float = 0.9,
                  bram_fraction: float = 0.8, setup_cycles: int = 2000, *, layer_bits: LayerBits = None) -> Any:
    """Cost ``graph`` on an FPGA ``device`` (module docstring); ``layer_bits`` = per-layer bit-widths
    (``None``: ``bits`` everywhere, ``"graph"``: from the IR, or kernel name -> (w_bits, a_bits))."""
    if layer_bits is not None:
        return _simulate_mixed(graph, device, bits, tn, dsp_fraction, bram_fraction, setup_cycles, layer_bits)
    from simulators.api import SimResult

    eb = max(bits // 8, 1)
    tm, tn = engine_shape(device, tn, dsp_fraction)
    budget = int(float(device.bram_bytes) * bram_fraction)
    kg = fuse(graph)
    rows = []
    total = 0.0
    traffic_total = 0.0
    max_buf = 0
    for k in kg.kernels:
        op = k.main
        out = _numel(k.out_shape)
        ins = sum(_numel(s) for s in op.in_shapes)
        if op.kind in ("conv2d", "dwconv2d", "linear"):
            n, cin, cout, h, w, kh, kw, s, g = _geometry(op)
            if g > 1 and cin == 1:  # depthwise: channels go on the Tm lanes, one input lane
                cyc = n * math.ceil(cout / tm) * h * w * kh * kw
            else:
                cyc = n * g * math.ceil(cout // g / tm) * math.ceil(cin / tn) * h * w * kh * kw
            tr, tc, need = _tile(h, w, max(kh, kw), s, tm, tn, budget, eb)
            max_buf = max(max_buf, need)
            spatial_tiles = math.ceil(h / tr) * math.ceil(w / tc) * n
            wbytes = (op.weight_count + op.bias_count) * eb
            cout_tiles = 1 if (g > 1 and cin == 1) else math.ceil(cout // g / tm)
            traffic = ins * eb * cout_tiles + wbytes * spatial_tiles + out * eb
            util = k.macs / max(cyc * tm * tn, 1)
            tile = f"{tr}x{tc}"
        else:
            cyc = math.ceil(max(k.elementwise_ops, out) / tm)
            traffic = (ins + out) * eb
            util = 0.0
            tile = ""
        t, row = _kernel_row(k, device, cyc, traffic, tile, util, float(device.energy_per_mac_j), setup_cycles)
        total += t
        traffic_total += traffic
        rows.append(row)
    layers = np.array(rows, dtype=LAYER_DTYPE)
    latency_ms = total * 1e3
    energy_mj = float(layers["energy_mj"].sum()) if len(layers) else 0.0
    # weights + constant tensors (a constant network's feature map, stored with the weights)
    weights = float((sum(k.main.weight_count + k.main.bias_count for k in kg.kernels) + kg.constant_numel()) * eb)
    acts = max((_numel(t.shape) for n, t in kg.tensors.items() if n not in kg.constants), default=0) * eb
    dsp_used = tm * tn * float(device.dsp_per_mac)
    bram_used = math.ceil(max_buf / BRAM36_BYTES)
    res = {"dsp_used": dsp_used, "dsp_util": dsp_used / float(device.dsp), "bram36_used": float(bram_used),
           "bram_util": bram_used / float(device.bram36), "dram_traffic_bytes": traffic_total}
    return SimResult(device.name, "fpga", latency_ms, energy_mj, weights + 2 * acts, weights, res, layers, None,
                     {"engine": (tm, tn), "bits": bits})


def _kernel_row(k: Any, device: DeviceSpec, cyc: float, traffic: float, tile: str, util: float, e_mac: float,
                setup_cycles: int) -> tuple[float, tuple]:
    """One kernel's time (s; compute and DRAM transfer overlap, the slower one bounds) and its layer row."""
    t_c = (cyc + setup_cycles) / float(device.clock_hz)
    t_m = traffic / float(device.dram_bw_bytes_per_s)
    t = max(t_c, t_m)
    e = float(device.static_power_w) * t + e_mac * k.macs + float(device.energy_per_dram_byte_j) * traffic
    return t, (k.name[:64], k.kind, "+".join(k.fused)[:32], k.macs, float(cyc), float(traffic), tile,
               t * 1e3, e * 1e3, util, "compute" if t_c >= t_m else "memory")


def _simulate_mixed(graph: LayerGraph | KernelGraph, device: DeviceSpec, bits: int, tn: int, dsp_fraction: float,
                    bram_fraction: float, setup_cycles: int, layer_bits: LayerBits) -> Any:
    """:func:`simulate_fpga` with per-layer bit-widths (module docstring)."""
    from simulators.api import SimResult

    tm, tn = engine_shape(device, tn, dsp_fraction)
    budget = int(float(device.bram_bytes) * bram_fraction)
    dpm16 = float(device.dsp_per_mac)
    kg = graph if isinstance(graph, KernelGraph) else fuse(graph)
    wbits, tbits = resolve_bits(kg, layer_bits, int(bits))
    rows = []
    total = traffic_total = 0.0
    max_buf = 0
    dsp_peak = 0.0
    weights = 0
    for k, wbit in zip(kg.kernels, wbits):
        op = k.main
        out_bits = tbits[k.output]
        out = _numel(k.out_shape)
        in_bytes = sum(_nbytes(kg.tensors[t].numel, tbits[t]) for t in k.inputs)
        out_bytes = _nbytes(out, out_bits)
        e_mac = float(device.energy_per_mac_j)
        if op.kind in ("conv2d", "dwconv2d", "linear"):
            n, cin, cout, h, w, kh, kw, s, g = _geometry(op)
            a_bits = tbits[k.inputs[0]]
            rate = macs_per_dsp(device, wbit, a_bits) * dpm16  # MACs per 16-bit lane
            tm_p = max(int(tm * rate), 1)
            dw = g > 1 and cin == 1
            if dw:
                cyc = n * math.ceil(cout / tm_p) * h * w * kh * kw
                lanes = min(cout, tm_p)
            else:
                cyc = n * g * math.ceil(cout // g / tm_p) * math.ceil(cin / tn) * h * w * kh * kw
                lanes = min(cout // g, tm_p) * min(cin, tn)
            dsp_peak = max(dsp_peak, lanes * dpm16 / rate)
            tr, tc, need = _tile_mixed(h, w, max(kh, kw), s, tm_p, tn, budget, a_bits, wbit, out_bits)
            max_buf = max(max_buf, need)
            spatial_tiles = math.ceil(h / tr) * math.ceil(w / tc) * n
            # biases: int32 next to quantized (<= 8-bit) weights, else at the weights' width
            wbytes = _nbytes(op.weight_count, wbit) + _nbytes(op.bias_count, 32 if wbit <= 8 else wbit)
            weights += wbytes
            cout_tiles = 1 if dw else math.ceil(cout // g / tm_p)
            traffic = in_bytes * cout_tiles + wbytes * spatial_tiles + out_bytes
            util = k.macs / max(cyc * tm_p * tn, 1)
            tile = f"{tr}x{tc}"
            e_mac = e_mac * dpm16 / rate
        else:
            cyc = math.ceil(max(k.elementwise_ops, out) / tm)
            weights += _nbytes(op.weight_count + op.bias_count, out_bits)
            traffic = in_bytes + out_bytes
            util = 0.0
            tile = ""
        t, row = _kernel_row(k, device, cyc, traffic, tile, util, e_mac, setup_cycles)
        total += t
        traffic_total += traffic
        rows.append(row)
    layers = np.array(rows, dtype=LAYER_DTYPE)
    latency_ms = total * 1e3
    energy_mj = float(layers["energy_mj"].sum()) if len(layers) else 0.0
    weights_total = float(weights + sum(_nbytes(kg.tensors[t].numel, tbits[t]) for t in kg.constants))
    acts = float(max((_nbytes(_numel(t.shape), tbits[n]) for n, t in kg.tensors.items() if n not in kg.constants),
                     default=0))
    dsp_used = tm * tn * dpm16
    bram_used = math.ceil(max_buf / BRAM36_BYTES)
    res = {"dsp_used": dsp_used, "dsp_util": dsp_used / float(device.dsp), "bram36_used": float(bram_used),
           "bram_util": bram_used / float(device.bram36), "dram_traffic_bytes": traffic_total,
           "dsp_active_peak": float(math.ceil(dsp_peak))}
    return SimResult(device.name, "fpga", latency_ms, energy_mj, weights_total + 2 * acts, weights_total, res, layers,
                     None, {"engine": (tm, tn), "bits": bits,
                            "layer_bits": "graph" if isinstance(layer_bits, str) else "mapping"})
