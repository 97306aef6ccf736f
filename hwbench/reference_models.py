"""Public reference networks used to calibrate and validate the simulators.

* MLPerf Tiny v0.5+ reference models (mlcommons/tiny ``benchmark/training``): ResNet-8 (``ic``,
  CIFAR-10 32x32x3), DS-CNN (``kws``, 49x10x1 MFCC), MobileNetV1-0.25 (``vww``, 96x96x3, 2 classes) and
  the fully connected autoencoder (``ad``, 640 inputs).
* MCUNet / TinyEngine baselines (ImageNet, 1000 classes): MobileNetV2 width 0.3 / 0.35 and
  ProxylessNAS-Mobile width 0.3 at a given resolution, channel counts rounded with the usual
  ``make_divisible(c * width, 8)``.

Each network is described once as a list of layers and turned into a layer graph directly by
:class:`GraphBuilder` (numpy only) or into a ``torch.nn.Module`` by :func:`torch_module` (torch imported
inside). The layer graph follows ``simulators.ir``'s conventions: conv, batch norm and activation are
separate ops; batch norm counts C scale weights and C shift biases (as the torch exporter).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulators.ir import LayerGraph, Op


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    new_v = max(min_value or divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


class GraphBuilder:
    """Append ops to a :class:`LayerGraph` with shape inference (NCHW, batch first)."""

    def __init__(self, name: str, input_shape: tuple[int, ...]) -> None:
        self.g = LayerGraph(name=name, inputs=(), outputs=())
        self.g.add_input("input", input_shape)
        self._n = 0

    def _name(self, kind: str) -> str:
        self._n += 1
        return f"{kind}_{self._n}"

    def shape(self, t: str) -> tuple[int, ...]:
        return self.g.tensors[t].shape

    def _add(self, kind: str, inputs: tuple[str, ...], out_shape: tuple[int, ...], **kw: Any) -> str:
        name = self._name(kind)
        op = Op(name=name, kind=kind, inputs=inputs, output=name,
                in_shapes=tuple(self.shape(t) for t in inputs), out_shape=tuple(int(s) for s in out_shape), **kw)
        return self.g.add_op(op)

    def conv(self, x: str, c_out: int, k: int | tuple[int, int], s: int | tuple[int, int] = 1,
             p: int | tuple[int, int] | str = "same", groups: int = 1, bias: bool = False) -> str:
        n, c, h, w = self.shape(x)
        kh, kw = _pair(k)
        sh, sw = _pair(s)
        if p == "same":  # TF 'same' output size
            oh, ow = -(-h // sh), -(-w // sw)
            ph = -(-max((oh - 1) * sh + kh - h, 0) // 2)  # symmetric, rounded up: same output size
            pw = -(-max((ow - 1) * sw + kw - w, 0) // 2)
        else:
            ph, pw = _pair(p)  # type: ignore[arg-type]
            oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
        kind = "dwconv2d" if groups > 1 and groups == c and c_out % c == 0 else "conv2d"
        return self._add(kind, (x,), (n, c_out, oh, ow), kernel=(kh, kw), stride=(sh, sw), padding=(ph, pw),
                         groups=groups, weight_count=c_out * (c // groups) * kh * kw,
                         bias_count=c_out if bias else 0)

    def bn(self, x: str) -> str:
        c = self.shape(x)[1]
        return self._add("batchnorm", (x,), self.shape(x), weight_count=c, bias_count=c)

    def act(self, x: str, kind: str = "relu") -> str:
        return self._add(kind, (x,), self.shape(x))

    def cbr(self, x: str, c_out: int, k: int | tuple[int, int], s: int | tuple[int, int] = 1,
            groups: int = 1, act: str | None = "relu", bias: bool = False) -> str:
        y = self.bn(self.conv(x, c_out, k, s, groups=groups, bias=bias))
        return self.act(y, act) if act else y

    def add(self, *xs: str) -> str:
        return self._add("add", tuple(xs), self.shape(xs[0]))

    def pool(self, x: str, k: int | tuple[int, int], s: int | tuple[int, int] | None = None,
             kind: str = "avgpool2d", p: int = 0) -> str:
        n, c, h, w = self.shape(x)
        kh, kw = _pair(k)
        sh, sw = _pair(s if s is not None else k)
        oh, ow = (h + 2 * p - kh) // sh + 1, (w + 2 * p - kw) // sw + 1
        return self._add(kind, (x,), (n, c, oh, ow), kernel=(kh, kw), stride=(sh, sw), padding=(p, p))

    def gap(self, x: str) -> str:
        n, c, _, _ = self.shape(x)
        return self._add("global_avgpool", (x,), (n, c, 1, 1))

    def flatten(self, x: str) -> str:
        s = self.shape(x)
        f = 1
        for v in s[1:]:
            f *= v
        return self._add("flatten", (x,), (s[0], f))

    def linear(self, x: str, out: int, bias: bool = True) -> str:
        n, f = self.shape(x)
        return self._add("linear", (x,), (n, out), weight_count=f * out, bias_count=out if bias else 0)

    def finish(self, out: str) -> LayerGraph:
        self.g.outputs = (out,)
        self.g.validate()
        return self.g


class TorchBuilder(GraphBuilder):
    """Same interface as :class:`GraphBuilder`; :meth:`finish` returns ``(module, example_input)``.

    Every recorded op becomes one torch module (or functional step) of a :class:`torch.nn.Module` that
    runs them in the same order, so ``graph_from_module`` gives back the same layer graph.
    """

    def finish(self, out: str) -> Any:  # type: ignore[override]
        g = super().finish(out)
        return torch_module_from_graph(g)


def torch_module_from_graph(g: LayerGraph) -> tuple[Any, Any]:
    """A ``torch.nn.Module`` executing the ops of ``g`` (conv/bn/act/pool/add/flatten/linear) in order."""
    import torch
    from torch import nn

    class _Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.steps: list[tuple[str, str, tuple[str, ...], str]] = []
            self.layers = nn.ModuleDict()
            for i, op in enumerate(g.ops):
                key = f"l{i}"
                mod: nn.Module | None = None
                if op.kind in ("conv2d", "dwconv2d"):
                    assert op.kernel and op.stride and op.padding
                    mod = nn.Conv2d(op.in_shapes[0][1], op.out_shape[1], op.kernel, op.stride, op.padding,
                                    groups=op.groups, bias=op.bias_count > 0)
                elif op.kind == "batchnorm":
                    c = op.out_shape[1]
                    mod = nn.BatchNorm2d(c) if len(op.out_shape) == 4 else nn.BatchNorm1d(c)
                elif op.kind == "relu":
                    mod = nn.ReLU()
                elif op.kind == "relu6":
                    mod = nn.ReLU6()
                elif op.kind == "avgpool2d":
                    assert op.kernel and op.stride and op.padding
                    mod = nn.AvgPool2d(op.kernel, op.stride, op.padding)
                elif op.kind == "maxpool2d":
                    assert op.kernel and op.stride and op.padding
                    mod = nn.MaxPool2d(op.kernel, op.stride, op.padding)
                elif op.kind == "global_avgpool":
                    mod = nn.AdaptiveAvgPool2d(1)
                elif op.kind == "linear":
                    mod = nn.Linear(op.in_shapes[0][-1], op.out_shape[-1], bias=op.bias_count > 0)
                elif op.kind not in ("add", "flatten"):
                    raise ValueError(f"no torch layer for op kind {op.kind!r}")
                if mod is not None:
                    self.layers[key] = mod
                self.steps.append((key, op.kind, op.inputs, op.output))
            self.inp, self.out = g.inputs[0], g.outputs[0]

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            env = {self.inp: x}
            for key, kind, ins, out in self.steps:
                if kind == "add":
                    y = env[ins[0]]
                    for t in ins[1:]:
                        y = y + env[t]
                elif kind == "flatten":
                    y = torch.flatten(env[ins[0]], 1)
                else:
                    y = self.layers[key](env[ins[0]])
                env[out] = y
            return env[self.out]

    net = _Net().eval()
    return net, torch.randn(*g.tensors[g.inputs[0]].shape)


# -- MLPerf Tiny reference models ----------------------------------------------------------------
def resnet8(batch: int = 1, builder: type[GraphBuilder] | None = None) -> Any:
    """MLPerf Tiny IC: ResNet-8 (Keras Conv2D with bias, 16/32/64 filters), CIFAR-10."""
    b = (builder or GraphBuilder)("mlperf-tiny-ic-resnet8", (batch, 3, 32, 32))
    x = b.cbr("input", 16, 3, bias=True)
    for c, s in ((16, 1), (32, 2), (64, 2)):
        y = b.cbr(x, c, 3, s, bias=True)
        y = b.bn(b.conv(y, c, 3, 1, bias=True))
        sc = x if s == 1 else b.conv(x, c, 1, s, bias=True)
        x = b.act(b.add(sc, y))
    x = b.pool(x, 8)
    return b.finish(b.linear(b.flatten(x), 10))


def dscnn(batch: int = 1, builder: type[GraphBuilder] | None = None) -> Any:
    """MLPerf Tiny KWS: DS-CNN (64 filters), 49x10 MFCC input, 12 classes."""
    b = (builder or GraphBuilder)("mlperf-tiny-kws-dscnn", (batch, 1, 49, 10))
    x = b.cbr("input", 64, (10, 4), (2, 2), bias=True)
    for _ in range(4):
        x = b.cbr(x, 64, 3, 1, groups=64, bias=True)
        x = b.cbr(x, 64, 1, bias=True)
    _, _, h, w = b.shape(x)
    x = b.pool(x, (h, w))
    return b.finish(b.linear(b.flatten(x), 12))


def mobilenet_v1_vww(batch: int = 1, alpha: float = 0.25, resolution: int = 96, classes: int = 2,
                     builder: type[GraphBuilder] | None = None) -> Any:
    """MLPerf Tiny VWW: MobileNetV1 alpha=0.25, 96x96x3, 2 classes (Keras layers with bias)."""
    b = (builder or GraphBuilder)("mlperf-tiny-vww-mobilenetv1", (batch, 3, resolution, resolution))
    ch = lambda c: int(c * alpha)
    x = b.cbr("input", ch(32), 3, 2, bias=True)
    for c, s in ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), *[(512, 1)] * 5, (1024, 2), (1024, 1)):
        x = b.cbr(x, b.shape(x)[1], 3, s, groups=b.shape(x)[1], bias=True)
        x = b.cbr(x, ch(c), 1, bias=True)
    _, _, h, w = b.shape(x)
    x = b.pool(x, (h, w))
    return b.finish(b.linear(b.flatten(x), classes))


def fc_autoencoder(batch: int = 1, builder: type[GraphBuilder] | None = None) -> Any:
    """MLPerf Tiny AD: 640-128-128-128-128-8-128-128-128-128-640 dense autoencoder (BN + ReLU)."""
    b = (builder or GraphBuilder)("mlperf-tiny-ad-autoencoder", (batch, 640, 1, 1))
    x = b.flatten("input")
    for u in (128, 128, 128, 128, 8, 128, 128, 128, 128):
        x = b.linear(x, u)
        x = b.act(b.bn(x))
    return b.finish(b.linear(x, 640))


# -- MCUNet / TinyEngine baselines ----------------------------------------------------------------
def _mbconv(b: GraphBuilder, x: str, c_out: int, k: int, s: int, t: int, act: str = "relu6") -> str:
    c_in = b.shape(x)[1]
    mid = make_divisible(c_in * t, 8) if t != 1 else c_in
    y = b.cbr(x, mid, 1, act=act) if t != 1 else x
    y = b.cbr(y, mid, k, s, groups=mid, act=act)
    y = b.cbr(y, c_out, 1, act=None)
    return b.add(x, y) if s == 1 and c_in == c_out else y


def mobilenet_v2(width: float = 0.35, resolution: int = 144, classes: int = 1000, batch: int = 1,
                 builder: type[GraphBuilder] | None = None) -> Any:
    """MobileNetV2 (ImageNet) at ``width``; last channel scaled as in MCUNet's model zoo."""
    b = (builder or GraphBuilder)(f"mbv2-w{width}-r{resolution}", (batch, 3, resolution, resolution))
    x = b.cbr("input", make_divisible(32 * width), 3, 2, act="relu6")
    for t, c, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                       (6, 160, 3, 2), (6, 320, 1, 1)):
        for i in range(n):
            x = _mbconv(b, x, make_divisible(c * width), 3, s if i == 0 else 1, t)
    x = b.cbr(x, make_divisible(1280 * width), 1, act="relu6")
    return b.finish(b.linear(b.flatten(b.gap(x)), classes))


_PROXYLESS_MOBILE = (  # (expand, kernel, out, stride) per block, ProxylessNAS-Mobile (zero blocks removed)
    (1, 3, 16, 1),
    (3, 5, 32, 2), (3, 3, 32, 1),
    (3, 7, 40, 2), (3, 3, 40, 1), (3, 5, 40, 1), (3, 5, 40, 1),
    (6, 7, 80, 2), (3, 5, 80, 1), (3, 5, 80, 1), (3, 5, 80, 1),
    (6, 5, 96, 1), (3, 5, 96, 1), (3, 5, 96, 1), (3, 5, 96, 1),
    (6, 7, 192, 2), (6, 7, 192, 1), (3, 7, 192, 1), (3, 7, 192, 1),
    (6, 7, 320, 1),
)


def proxyless_mobile(width: float = 0.3, resolution: int = 176, classes: int = 1000, batch: int = 1,
                     builder: type[GraphBuilder] | None = None) -> Any:
    """ProxylessNAS-Mobile at ``width`` (block list from the published net config)."""
    b = (builder or GraphBuilder)(f"proxyless-w{width}-r{resolution}", (batch, 3, resolution, resolution))
    x = b.cbr("input", make_divisible(32 * width), 3, 2, act="relu6")
    for t, k, c, s in _PROXYLESS_MOBILE:
        x = _mbconv(b, x, make_divisible(c * width), k, s, t)
    x = b.cbr(x, make_divisible(1280 * width), 1, act="relu6")
    return b.finish(b.linear(b.flatten(b.gap(x)), classes))


@dataclass(frozen=True)
class ReferenceModel:
    name: str
    build: Callable[..., Any]
    description: str


REFERENCE_MODELS: dict[str, ReferenceModel] = {
    "ic": ReferenceModel("ic", resnet8, "MLPerf Tiny image classification, ResNet-8"),
    "kws": ReferenceModel("kws", dscnn, "MLPerf Tiny keyword spotting, DS-CNN"),
    "vww": ReferenceModel("vww", mobilenet_v1_vww, "MLPerf Tiny visual wake words, MobileNetV1-0.25"),
    "ad": ReferenceModel("ad", fc_autoencoder, "MLPerf Tiny anomaly detection, FC autoencoder"),
    "mbv2-w0.3-r64": ReferenceModel("mbv2-w0.3-r64", lambda builder=None: mobilenet_v2(0.3, 64, builder=builder),
                                    "TinyEngine baseline MobileNetV2 w0.3 r64"),
    "mbv2-w0.35": ReferenceModel("mbv2-w0.35", lambda builder=None: mobilenet_v2(0.35, 144, builder=builder),
                                 "MCUNet zoo baseline MobileNetV2 w0.35 r144"),
    "proxyless-w0.3-r64": ReferenceModel(
        "proxyless-w0.3-r64", lambda builder=None: proxyless_mobile(0.3, 64, builder=builder),
        "TinyEngine baseline ProxylessNAS-Mobile w0.3 r64"),
    "proxyless-w0.3-r176": ReferenceModel(
        "proxyless-w0.3-r176", lambda builder=None: proxyless_mobile(0.3, 176, builder=builder),
        "TinyEngine baseline ProxylessNAS-Mobile w0.3 r176"),
}


def _check(name: str) -> ReferenceModel:
    if name not in REFERENCE_MODELS:
        from hwbench.errors import UnknownNameError

        raise UnknownNameError("reference model", name, REFERENCE_MODELS)
    return REFERENCE_MODELS[name]


def reference_graph(name: str, via: str = "ir") -> LayerGraph:
    """The layer graph of a reference network: built directly (``via="ir"``) or through torch
    (``via="torch"``: the torch module exported with ``hwbench.builders.graph_from_module``)."""
    m = _check(name)
    if via == "ir":
        return m.build()  # type: ignore[no-any-return]
    if via == "torch":
        from hwbench.builders import graph_from_module

        module, x = m.build(builder=TorchBuilder)
        return graph_from_module(module, x, name=name)  # type: ignore[no-any-return]
    raise ValueError(f"via must be 'ir' or 'torch', got {via!r}")


def reference_module(name: str) -> tuple[Any, Any]:
    """``(torch module, example input)`` of a reference network (torch imported inside)."""
    return _check(name).build(builder=TorchBuilder)  # type: ignore[no-any-return]
