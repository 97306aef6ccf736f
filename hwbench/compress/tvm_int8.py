"""TVM-compiled int8 networks of compression configurations (issue #9: "for int8 configurations,
TVM-compiled CPU latency where TVM supports it"). Needs torch and apache-tvm (0.27, Relax).

**How the network is built** (:func:`relax_module`): a Relax ``BlockBuilder`` walks the torch
NB201 network (:class:`hwbench.models.nb201.NB201Network`, pruned or not, optionally after
:func:`hwbench.compress.nets.quantize_network`) module by module, following its ``forward`` exactly
(stem, ``InferCell`` node sums, reduction blocks, BN-ReLU, global average pooling, classifier). It is
written by hand rather than via ``torch.export`` + rewriting because the fake-quant ``QuantLayer``
carries its scales as Python attributes that an exported graph loses; walking the modules keeps the
scale of every layer next to its convolution.

Every :class:`~hwbench.compress.nets.QuantLayer` set to ``w_bits = a_bits = 8`` becomes a real int8
kernel with the fake-quant semantics of the accuracy protocol:

1. its float input is quantized with the layer's calibrated per-tensor scale ``s_a``:
   ``clip(round(x / s_a), qmin, qmax)`` cast to **uint8** ``[0, 255]`` when the calibrated
   activation is unsigned (non-negative, e.g. after ReLU) or **int8** ``[-127, 127]`` when signed
   (``round`` is round-half-to-even in both torch and TVM). TVM's conv2d / matmul accept uint8 data
   with int8 weights directly, so no zero-point shift or widening is needed;
2. ``conv2d`` (or ``matmul`` for the classifier) of the int8/uint8 data with the **int8 weights**
   (per-output-channel symmetric, the integers ``q`` with ``q * s_w[c]`` equal, bit for bit, to the
   layer's fake-quantized weights) accumulates in **int32** (``out_dtype="int32"``);
3. the int32 result is dequantized to float32: ``acc * (s_a * s_w[c] * g[c]) + b[c]``, where a batch
   norm that follows the convolution (stem, every ReLU-Conv-BN) is folded into the per-channel scale
   ``g`` and bias ``b`` (the layer's own bias, if any, too).

Everything else stays float32: ReLU, average pooling, the residual sums, the final BN-ReLU (a
per-channel affine), global pooling and the float layers (``w_bits = a_bits = 32``). ``none`` edges
contribute nothing (a node fed only by ``none`` edges is a zero tensor). The fp32 counterpart
(:func:`relax_module` of the same network unquantized) is the same graph with float convolutions, so
the int8/fp32 latency ratio compares only the kernels.

**Supported configurations** (:func:`check_supported`): every stage either int8 (``w8``, ``a8``) or
float (``w32``, ``a32``). Sub-8-bit stages and weight-only / activation-only quantization (e.g.
``w8``+``a32``) are not compiled (they have no native TVM CPU kernel; see docs/compression.md).

**Numerical check** (:func:`check_agreement`): the compiled int8 network runs on
:data:`CHECK_IMAGES` test images (batch 1 each) and is compared with the torch fake-quant network.
A rounding-boundary flip (``x / s_a`` within float error of ``k + 0.5``; BN folding and the
accumulation order differ) moves one activation by one step and propagates, so exact equality is
not expected. Required: logits within :data:`INT8_ATOL_REL` x the image's max |logit| for at least
:data:`INT8_MIN_CLOSE` of the elements, and the same argmax on at least :data:`INT8_MIN_ARGMAX` of
the images. The fp32 counterpart is held to :data:`hwbench.measure.compile.RTOL` / ``ATOL_REL``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwbench.compress.space import CompressionConfig, CompressionSpace, get_space
from hwbench.errors import HwbenchError

#: int8 check: an element agrees when ``|tvm - torch| <= INT8_ATOL_REL * max(1, max|torch logits of the image|)``
INT8_ATOL_REL = 2e-2
#: ... for at least this fraction of the logits
INT8_MIN_CLOSE = 0.99
#: ... and the predicted class (argmax) agrees on at least this fraction of the images
INT8_MIN_ARGMAX = 0.99
#: images of the check (the first of the test split)
CHECK_IMAGES = 256
#: seed of the input of :meth:`CompressedCompiled.measure`
INPUT_SEED = 1
#: per-stage (w_bits, a_bits) pairs that are compiled
SUPPORTED_STAGES: tuple[tuple[int, int], ...] = ((8, 8), (32, 32))


class Int8CompileError(HwbenchError, ValueError):
    """A compression configuration that cannot be compiled to int8, or a compiled network that
    disagrees with its torch counterpart."""


# ----------------------------------------------------------------------------- configurations
def check_supported(config: str | int | CompressionConfig, space: CompressionSpace | str = "mpq-prune"
                    ) -> CompressionConfig:
    """Parse ``config`` and require every stage to be int8 (w8, a8) or float (w32, a32)."""
    sp = get_space(space)
    c = sp.parse(config)
    for s, (w, a) in enumerate(zip(c.w_bits, c.a_bits), 1):
        if (w, a) not in SUPPORTED_STAGES:
            raise Int8CompileError(
                f"compression config {str(c)!r}: stage {s} has w{w}/a{a}; TVM int8 compilation needs every "
                f"stage at w8/a8 (int8) or w32/a32 (float), e.g. "
                f"'{c.width_key()}-w8.8.8-a8.8.8'; sub-8-bit and weight- or activation-only quantization "
                f"are not compiled")
    if not c.quantized:
        raise Int8CompileError(f"compression config {str(c)!r} has no int8 stage (all w32/a32): it is the fp32 "
                               f"network itself; ask for e.g. '{c.width_key()}-w8.8.8-a8.8.8'")
    return c


# ----------------------------------------------------------------------------- weights
def int8_weight(qlayer: Any) -> tuple[Any, Any]:
    """``(q, s_w)`` of a QuantLayer's 8-bit weights: int8 numpy integers and the float64 per-output-channel
    scales, with ``q * s_w`` (in float32) equal to ``qlayer.qweights[8]``.

    Replays :func:`hwbench.compress.nets.quantize_weight` (per-channel MSE clip search) to get the
    scales, which it does not return, and checks the replay bit for bit.
    """
    import numpy as np
    import torch

    from hwbench.compress.nets import CLIP_FRACTIONS

    if 8 not in getattr(qlayer, "qweights", {}):
        raise Int8CompileError(f"layer {qlayer!r} has no 8-bit weights (quantize_network with bits including 8)")
    w = qlayer.layer.weight.detach()
    qmax = 127
    flat = w.flatten(1)
    amax = flat.abs().max(1).values.clamp_min(1e-12)
    best_err = torch.full_like(amax, math.inf)
    best_q = torch.zeros_like(flat)
    best_s = torch.zeros_like(amax)
    for f in CLIP_FRACTIONS:
        s = (amax * f / qmax).unsqueeze(1)
        q = torch.clamp(torch.round(flat / s), -qmax, qmax)
        err = ((q * s - flat) ** 2).sum(1)
        better = err < best_err
        best_err = torch.where(better, err, best_err)
        best_q[better] = q[better]
        best_s[better] = s[better, 0]
    want = qlayer.qweights[8].flatten(1)
    if not torch.equal(best_q * best_s.unsqueeze(1), want):
        raise Int8CompileError("the int8 weights do not reproduce the fake-quantized weights of the layer "
                               "(hwbench.compress.nets.quantize_weight changed?)")
    return best_q.numpy().astype(np.int8).reshape(w.shape), best_s.double().numpy()


# ----------------------------------------------------------------------------- the Relax graph
def _bn_affine(bn: Any) -> tuple[Any, Any]:
    """(g, b) float64 per channel of an eval-mode BatchNorm2d: ``bn(x) = x * g + b``."""
    import numpy as np

    var = bn.running_var.detach().double().numpy()
    mean = bn.running_mean.detach().double().numpy()
    g = 1.0 / np.sqrt(var + bn.eps)
    if bn.affine:
        g = g * bn.weight.detach().double().numpy()
        b = bn.bias.detach().double().numpy() - mean * g
    else:
        b = -mean * g
    return g, b


class _Walker:
    """Emits the Relax graph of an NB201 network (see the module docstring)."""

    def __init__(self, bb: Any) -> None:
        self.bb = bb
        self.int8_layers = 0
        self.float_layers = 0
        self._cell_shape: list[int] = []  # shape of the tensors of the current cell (for zero tensors)

    def const(self, a: Any, dtype: str = "float32") -> Any:
        import numpy as np
        from tvm import relax

        return relax.const(np.ascontiguousarray(np.asarray(a).astype(dtype)), dtype)

    def emit(self, e: Any) -> Any:
        return self.bb.emit(e)

    def shape(self, x: Any) -> list[int]:
        return [int(v) for v in x.ty.shape.values]

    # -- weighted layers (conv / linear), with an optional folded BN
    def weighted(self, x: Any, m: Any, bn: Any = None) -> Any:
        import numpy as np
        from torch import nn
        from tvm import relax

        from hwbench.compress.nets import QuantLayer

        if isinstance(m, QuantLayer):
            layer, bits = m.layer, (m.w_bits, m.a_bits)
        elif isinstance(m, (nn.Conv2d, nn.Linear)):
            layer, bits = m, (32, 32)
        else:  # pragma: no cover - callers pass only these
            raise Int8CompileError(f"not a weighted layer: {type(m).__name__}")
        if bits not in SUPPORTED_STAGES:
            raise Int8CompileError(f"layer with w{bits[0]}/a{bits[1]}: only w8/a8 (int8) and w32/a32 (float) "
                                   "layers are compiled")
        is_conv = isinstance(layer, nn.Conv2d)
        c_out = layer.out_channels if is_conv else layer.out_features
        g = np.ones(c_out)
        b = layer.bias.detach().double().numpy() if layer.bias is not None else np.zeros(c_out)
        if bn is not None:
            bg, bb_ = _bn_affine(bn)
            g, b = g * bg, b * bg + bb_
        cshape = (1, c_out, 1, 1) if is_conv else (1, c_out)
        int8 = bits == (8, 8)
        if int8:
            q, s_w = int8_weight(m)
            s_a, signed = m.act[8]
            qmin, qmax, qdtype = (-127, 127, "int8") if signed else (0, 255, "uint8")
            xq = self.emit(relax.op.divide(x, self.const(s_a)))
            xq = self.emit(relax.op.round(xq))
            xq = self.emit(relax.op.clip(xq, qmin, qmax))
            xq = self.emit(relax.op.astype(xq, qdtype))
            w_c, data, out_dtype = self.const(q, "int8"), xq, "int32"
            scale = (float(np.float32(s_a)) * s_w * g).reshape(cshape)
            self.int8_layers += 1
        else:
            w = layer.weight.detach().double().numpy()
            w_c, data, out_dtype = self.const(w * g.reshape((-1,) + (1,) * (w.ndim - 1))), x, "float32"
            scale = None
            self.float_layers += 1
        if is_conv:
            if layer.groups != 1 or tuple(layer.dilation) != (1, 1) or isinstance(layer.padding, str):
                raise Int8CompileError(f"unsupported conv {layer!r} (groups, dilation or string padding)")
            y = self.emit(relax.op.nn.conv2d(data, w_c, strides=tuple(layer.stride), padding=tuple(layer.padding),
                                             out_dtype=out_dtype))
        else:
            wt = q.T if int8 else (w * g.reshape(-1, 1)).T
            w_c = self.const(wt, "int8" if int8 else "float32")
            y = self.emit(relax.op.matmul(data, w_c, out_dtype=out_dtype))
        if int8:
            y = self.emit(relax.op.astype(y, "float32"))
            y = self.emit(relax.op.multiply(y, self.const(scale)))
        if int8 or np.any(b != 0):
            y = self.emit(relax.op.add(y, self.const(b.reshape(cshape))))
        return y

    # -- generic modules
    def module(self, x: Any, m: Any) -> Any:
        """``m(x)``; ``x`` None stands for an all-zero tensor (returns None when the result is zero)."""
        from torch import nn
        from tvm import relax

        from hwbench.compress.nets import QuantLayer
        from hwbench.models.nb201 import InferCell, Pooling, ResNetBasicBlock, Zero

        if isinstance(m, Zero):
            return None
        if isinstance(m, nn.Identity):
            return x
        if isinstance(m, nn.Sequential):
            kids = list(m)
            i = 0
            while i < len(kids):
                k = kids[i]
                if isinstance(k, (QuantLayer, nn.Conv2d, nn.Linear)):
                    bn = kids[i + 1] if i + 1 < len(kids) and isinstance(kids[i + 1], nn.BatchNorm2d) else None
                    x = self.weighted(self.materialise(x), k, bn)
                    i += 2 if bn is not None else 1
                else:
                    x = self.module(x, k)
                    i += 1
            return x
        if x is None and isinstance(m, (nn.ReLU, Pooling, nn.AvgPool2d)):
            return None  # relu / average of zero is zero
        if isinstance(m, nn.ReLU):
            return self.emit(relax.op.nn.relu(x))
        if isinstance(m, Pooling):
            return self.module(x, m.op)
        if isinstance(m, nn.AvgPool2d):
            def pair(v: Any) -> tuple[int, int]:
                return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))
            if m.ceil_mode or m.divisor_override is not None:
                raise Int8CompileError(f"unsupported pooling {m!r}")
            return self.emit(relax.op.nn.avg_pool2d(x, pool_size=pair(m.kernel_size),
                                                    strides=pair(m.stride or m.kernel_size),
                                                    padding=pair(m.padding),
                                                    count_include_pad=bool(m.count_include_pad)))
        if isinstance(m, nn.BatchNorm2d):
            g, b = _bn_affine(m)
            c = len(g)
            x = self.materialise(x)
            return self.emit(relax.op.add(relax.op.multiply(x, self.const(g.reshape(1, c, 1, 1))),
                                          self.const(b.reshape(1, c, 1, 1))))
        if isinstance(m, (QuantLayer, nn.Conv2d, nn.Linear)):
            return self.weighted(self.materialise(x), m)
        if isinstance(m, InferCell):
            return self.infer_cell(x, m)
        if isinstance(m, ResNetBasicBlock):
            x = self.materialise(x)
            a = self.module(self.module(x, m.conv_a), m.conv_b)
            return self.emit(relax.op.add(self.module(x, m.downsample), a))
        raise Int8CompileError(f"module {type(m).__name__} is not supported by the int8 compiler "
                               "(nb201 networks only)")

    def infer_cell(self, x: Any, cell: Any) -> Any:
        from tvm import relax

        self._cell_shape = self.shape(x) if x is not None else self._cell_shape
        nodes = [x]
        for inputs in cell.node_in:
            feat = None
            for k, src in inputs:
                y = self.module(nodes[src], cell.layers[k])
                if y is None:
                    continue
                feat = y if feat is None else self.emit(relax.op.add(feat, y))
            nodes.append(feat)
        return nodes[-1]

    def materialise(self, x: Any) -> Any:
        from tvm import relax

        if x is None:
            return self.emit(relax.op.zeros(self._cell_shape, "float32"))
        return x

    def network(self, x: Any, model: Any) -> Any:
        from tvm import relax

        self._cell_shape = self.shape(x)
        h = self.module(x, model.stem)
        for cell in model.cells:
            h = self.module(h, cell)
        h = self.module(h, model.lastact)
        h = self.emit(relax.op.mean(self.materialise(h), axis=[2, 3], keepdims=False))
        return self.module(h, model.classifier)


def relax_module(model: Any, input_shape: Sequence[int] | None = None) -> Any:
    """The Relax IRModule (function ``main``, one float32 input) of an NB201 network.

    ``model``: a (pruned) ``NB201Network`` in eval mode, either float (compiles to the fp32
    counterpart) or after :func:`~hwbench.compress.nets.quantize_network` with every QuantLayer at
    w8/a8 (int8 kernel) or w32/a32 (float). ``input_shape`` defaults to the model's config (batch 1).
    """
    from hwbench.measure.compile import _require_tvm

    _require_tvm()
    from tvm import relax

    if model.training:
        raise Int8CompileError("the network must be in eval mode (batch norm is folded with its running statistics)")
    shape = tuple(int(v) for v in (input_shape or model.config.input_shape))
    bb = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorType(shape, "float32"))
    walker = _Walker(bb)
    with bb.function("main", [x]):
        with bb.dataflow():
            out = walker.network(x, model)
            gv = bb.emit_output(out)
        bb.emit_func_output(gv)
    return bb.get()


def int8_module(model_q: Any, input_shape: Sequence[int] | None = None) -> Any:
    """:func:`relax_module` of a quantized network that must hold at least one int8 layer."""
    mod = relax_module(model_q, input_shape)
    if not any(k["int8"] for k in kernel_dtypes(mod)):
        raise Int8CompileError("the network has no w8/a8 layer (set_bits(qnet, (8, 8, 8), (8, 8, 8)) first)")
    return mod


def kernel_dtypes(mod: Any) -> list[dict[str, Any]]:
    """Every conv2d / matmul of a Relax module (before legalization) with its data, weight and output
    dtypes; ``int8`` is True when data and weight are 8-bit integers accumulated in int32."""
    from tvm import relax

    out: list[dict[str, Any]] = []

    def visit(e: Any) -> None:
        import tvm

        if isinstance(e, relax.Call) and isinstance(e.op, tvm.ir.Op) and e.op.name in ("relax.nn.conv2d",
                                                                                        "relax.matmul"):
            d, w = (str(a.ty.dtype) for a in e.args[:2])
            o = str(e.ty.dtype)
            out.append({"op": e.op.name, "data": d, "weight": w, "out": o,
                        "int8": d in ("int8", "uint8") and w == "int8" and o == "int32"})

    for func in mod.functions.values():
        if isinstance(func, relax.Function):
            relax.analysis.post_order_visit(func, visit)
    return out


# ----------------------------------------------------------------------------- compile + check
@dataclass
class CompiledNet:
    """One compiled network: executable, memory statistics and the numerical check."""

    kind: str  # "int8" or "fp32"
    executable: Any
    memory: dict[str, int]
    param_bytes: int
    compile_s: float
    kernels: list[dict[str, Any]]
    check: dict[str, Any] = field(default_factory=dict)

    def vm(self, device: Any = None) -> Any:
        from hwbench.measure.compile import ensure_thread_pool

        ensure_thread_pool()
        import tvm
        from tvm import relax

        return relax.VirtualMachine(self.executable, device if device is not None else tvm.cpu())

    @property
    def int8_kernels(self) -> int:
        return sum(bool(k["int8"]) for k in self.kernels)


def compile_module(mod: Any, target: Mapping[str, Any] | None = None, kind: str = "int8") -> CompiledNet:
    """Compile a Relax module like :func:`hwbench.measure.compile.compile_cell` (default CPU pipeline,
    memory statistics after ``StaticPlanBlockMemory``); no tuning database (untuned schedules)."""
    from hwbench.measure.compile import build_relax, host_target, target_json

    target = dict(target) if target is not None else host_target()
    kernels = kernel_dtypes(mod)
    t0 = time.perf_counter()
    try:
        ex, mem = build_relax(mod, target)
    except Exception as exc:
        raise Int8CompileError(f"TVM failed to compile the {kind} network for {target_json(target)}: {exc}") from exc
    return CompiledNet(kind=kind, executable=ex, memory=mem, param_bytes=mem["constant_bytes"],
                       compile_s=time.perf_counter() - t0, kernels=kernels)


def run_batch(net: CompiledNet, x: Any) -> Any:
    """Outputs (numpy, float32) of the batch-1 compiled network on every image of ``x`` (N, C, H, W)."""
    import numpy as np
    import tvm

    vm = net.vm()
    f = vm["main"]
    xs = np.ascontiguousarray(np.asarray(x, dtype="float32"))
    return np.concatenate([f(tvm.runtime.tensor(xs[i:i + 1])).numpy() for i in range(len(xs))])


def check_agreement(net: CompiledNet, ref_model: Any, x: Any, what: str = "") -> dict[str, Any]:
    """Compare the compiled network with the torch model on images ``x`` (see the module docstring);
    store the result in ``net.check`` and raise :class:`Int8CompileError` when it fails."""
    import numpy as np
    import torch

    from hwbench.measure.compile import ATOL_REL, RTOL

    with torch.inference_mode():
        want = ref_model(x).numpy().astype(np.float64)
    got = run_batch(net, x.numpy()).astype(np.float64)
    err = np.abs(got - want)
    scale = np.maximum(1.0, np.abs(want).max(1, keepdims=True))
    same_argmax = float(np.mean(got.argmax(1) == want.argmax(1)))
    if net.kind == "int8":
        close = float(np.mean(err <= INT8_ATOL_REL * scale))
        ok = close >= INT8_MIN_CLOSE and same_argmax >= INT8_MIN_ARGMAX
        rule = (f">= {INT8_MIN_CLOSE:.0%} of logits within {INT8_ATOL_REL} x max(1, max|logit|) of the image and "
                f">= {INT8_MIN_ARGMAX:.0%} same argmax")
        against = "torch fake-quant network (hwbench.compress.nets.quantize_network)"
    else:
        close = float(np.mean(err <= ATOL_REL * scale + RTOL * np.abs(want)))
        ok = close == 1.0
        rule = f"every logit within {ATOL_REL} x max(1, max|logit|) + {RTOL} x |logit|"
        against = "torch float network"
    check = {"images": len(want), "max_abs_err": float(err.max()), "max_rel_err": float((err / scale).max()),
             "close_fraction": close, "same_argmax_fraction": same_argmax, "rule": rule, "against": against,
             "ok": bool(ok)}
    net.check = check
    if not ok:
        raise Int8CompileError(
            f"compiled {net.kind} network {what} disagrees with the {against} on {len(want)} images: "
            f"{close:.2%} of logits close, {same_argmax:.2%} same argmax, max |err| {err.max():.3g} "
            f"(required: {rule})")
    return check


# ----------------------------------------------------------------------------- one configuration
@dataclass
class CompressedCompiled:
    """The int8 network of a configuration and its fp32 counterpart (same pruned network), compiled."""

    base: str
    config: str
    space: str
    target: dict[str, Any]
    int8: CompiledNet
    fp32: CompiledNet
    input_shape: tuple[int, ...]
    finetuned: bool
    #: the torch networks that were compiled: the fake-quant one (int8) and the float one (fp32)
    torch_int8: Any = field(default=None, repr=False)
    torch_fp32: Any = field(default=None, repr=False)

    def summary(self) -> dict[str, Any]:
        """Memory, parameter bytes, kernel counts, checks (no latency)."""
        from hwbench.measure.compile import target_json

        out: dict[str, Any] = {"base": self.base, "config": self.config, "space": self.space,
                               "target": target_json(self.target), "finetuned": self.finetuned}
        for net in (self.int8, self.fp32):
            p = net.kind + "_"
            out.update({p + "param_bytes": net.param_bytes,
                        p + "planned_activation_bytes": net.memory["planned_activation_bytes"],
                        p + "output_bytes": net.memory["output_bytes"], p + "compile_s": net.compile_s,
                        p + "weighted_kernels": len(net.kernels), p + "int8_kernels": net.int8_kernels,
                        p + "check_ok": net.check.get("ok", math.nan),
                        p + "check_max_abs_err": net.check.get("max_abs_err", math.nan),
                        p + "check_same_argmax": net.check.get("same_argmax_fraction", math.nan)})
        out["int8_fp32_param_bytes_ratio"] = self.int8.param_bytes / self.fp32.param_bytes
        return out

    def measure(self, protocol: Any = None, device: Any = None) -> dict[str, Any]:
        """Latency of both networks with :func:`hwbench.measure.protocol.time_tvm` (batch 1, seeded input)
        plus :meth:`summary` and the host fingerprint. Run on a quiet machine."""
        import numpy as np
        import tvm

        from hwbench.measure.protocol import ONE_THREAD, _timing_cols, fingerprint, time_tvm

        protocol = protocol or ONE_THREAD
        dev = device if device is not None else tvm.cpu()
        x = np.random.default_rng(INPUT_SEED).standard_normal(self.input_shape).astype("float32")
        rec = self.summary()
        for net in (self.int8, self.fp32):
            t = time_tvm(net.vm(dev), x, dev, protocol)
            rec.update(_timing_cols(net.kind + "_", t))
        rec["int8_fp32_latency_ratio"] = rec["int8_latency_ms"] / rec["fp32_latency_ms"]
        rec["protocol"] = protocol.name
        rec["fingerprint"] = fingerprint(self.target, protocol)
        return rec


def compile_compressed(base: str, config: str | int | CompressionConfig, *,
                       space: CompressionSpace | str = "mpq-prune",
                       base_dir: str | Path | None = None, target: Mapping[str, Any] | None = None,
                       finetune: bool = False, seed: int = 0, data: dict[str, Any] | None = None,
                       check: bool = True, check_images: int = CHECK_IMAGES,
                       base_model: Any = None) -> CompressedCompiled:
    """Build, compile and check the int8 network of ``config`` for base ``base`` and its fp32 counterpart.

    Steps: load the base (``base_model`` overrides the file); prune to the configuration's widths
    (:func:`~hwbench.compress.nets.prune_network` + BN recalibration, and the protocol's fine-tune
    when ``finetune``; without it the weights differ from the accuracy table's but every shape, and
    so the compiled code, latency and memory, is the same); quantize with the protocol's calibration
    (first ``CALIB_SIZE`` training images, bits {8}); set the configuration's bits; build both Relax
    modules; compile for ``target`` (default :func:`~hwbench.measure.compile.host_target`); check both
    on the first ``check_images`` test images.

    Raises:
        InvalidCompressionConfigError: ``config`` is not in ``space``.
        Int8CompileError: a stage is neither w8/a8 nor w32/a32, TVM fails, or a check fails.
    """
    import torch

    from hwbench.compress.accuracy import BN_RECAL_SIZE, CALIB_SIZE, _data, pruned_model
    from hwbench.compress.bases import DEFAULT_BASE_DIR, load_base
    from hwbench.compress.nets import prune_network, quantize_network, recalibrate_bn, set_bits
    from hwbench.measure.compile import host_target

    sp = get_space(space)
    c = check_supported(config, sp)
    if base_model is None:
        base_model, _ = load_base(base, base_dir if base_dir is not None else DEFAULT_BASE_DIR)
    data = data or _data()
    x_train = data["train"][0]
    if finetune:
        net, _info = pruned_model(base_model, c.widths, seed, data=data)
    elif c.pruned:
        net = recalibrate_bn(prune_network(base_model, c.widths), x_train[:BN_RECAL_SIZE]).eval()
    else:
        net = base_model.eval()
    q = quantize_network(net, x_train[:CALIB_SIZE], [8])
    set_bits(q, c.w_bits, c.a_bits)
    target = dict(target) if target is not None else host_target()
    shape = tuple(net.config.input_shape)
    i8 = compile_module(int8_module(q, shape), target, "int8")
    f32 = compile_module(relax_module(net, shape), target, "fp32")
    if check:
        xt = data["test"][0][:check_images]
        with torch.inference_mode():
            check_agreement(i8, q, xt, f"{base} {c}")
            check_agreement(f32, net, xt, f"{base} {c.width_key()} (fp32)")
    return CompressedCompiled(base=base, config=str(c), space=sp.name, target=target, int8=i8, fp32=f32,
                              input_shape=shape, finetuned=finetune, torch_int8=q, torch_fp32=net)


__all__ = [
    "CHECK_IMAGES",
    "INT8_ATOL_REL",
    "INT8_MIN_ARGMAX",
    "INT8_MIN_CLOSE",
    "CompiledNet",
    "CompressedCompiled",
    "Int8CompileError",
    "check_agreement",
    "check_supported",
    "compile_compressed",
    "compile_module",
    "int8_module",
    "int8_weight",
    "kernel_dtypes",
    "relax_module",
    "run_batch",
]
