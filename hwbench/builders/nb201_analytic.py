"""Layer graph of an NB201 network straight from its architecture, without torch.

:func:`build_graph` gives, op for op and in the same order, the graph that
:func:`hwbench.builders.torch_export.graph_from_module` produces for
``hwbench.models.nb201.build_model(arch, config).eval()`` at batch 1 (tests hold the two equal,
op names included). The network (NAS-Bench-201's ``TinyNetwork``):

* stem: conv 3x3 (no bias) -> batchnorm;
* three stages of ``N`` cells at ``C``, ``2C``, ``4C`` channels, separated by two reduction
  blocks (ReLU-conv3x3/s2-BN -> ReLU-conv3x3-BN, plus the shortcut avgpool 2x2/s2 -> conv 1x1,
  then an ``add`` of shortcut and branch);
* lastact batchnorm -> relu, global average pooling, ``flatten`` (the ``view``), linear.

Inside a cell, nodes are computed in order 1, 2, 3; for each node its input edges in string
order; each edge op runs and is summed into the node with a chained binary ``add`` (so node 2
has one add and node 3 two, always). Edge ops: ``nor_conv_kxk`` = relu -> conv (no bias) ->
batchnorm; ``avg_pool_3x3`` = avgpool2d 3x3/s1/p1; ``none`` = a ``zero`` op (``x * 0``: it
still produces a tensor of the input's shape, as the torch model does); ``skip_connect`` = no op
(the source tensor itself is summed). All ops run, including those on edges whose result only
feeds zeros: the graph is the network as executed, not a pruned one.

Speed: the op template of the cell is made once per stage width and instantiated for each
cell of the stage, and ops are constructed without re-validation: a CIFAR-10 graph (about 340
ops) takes well under 1 ms.
"""

from __future__ import annotations

from collections.abc import Sequence

from hwbench.spaces.nb201 import EDGES, OPS, SPACE, MacroConfig, get_config
from simulators.ir import LayerGraph, Op, TensorSpec

__all__ = ["build_graph"]

# A template op: (name suffix, kind, input refs, kernel, stride, padding, weights, biases). Input
# refs are name suffixes of earlier template ops, or None for the cell input.
_T = tuple


def _conv_out(h: int, k: int, s: int, p: int) -> int:
    return (h + 2 * p - k) // s + 1


def _new_op(name: str, kind: str, inputs: tuple[str, ...], output: str,
            in_shapes: tuple[tuple[int, ...], ...], out_shape: tuple[int, ...],
            kernel: tuple[int, int] | None = None, stride: tuple[int, int] | None = None,
            padding: tuple[int, int] | None = None, groups: int = 1, weight_count: int = 0,
            bias_count: int = 0) -> Op:
    """Construct an :class:`Op` without re-running its validation (the builder is exact by design;
    tests validate the result). Saves most of the construction time of frozen dataclasses."""
    op = object.__new__(Op)
    op.__dict__.update(name=name, kind=kind, inputs=inputs, output=output, in_shapes=in_shapes,
                       out_shape=out_shape, kernel=kernel, stride=stride, padding=padding, groups=groups,
                       weight_count=weight_count, bias_count=bias_count, weight_bits=32, dtype_bits=32)
    return op


def _cell_template(arch: tuple[int, ...], c: int) -> tuple[_T, ...]:
    """Ops of one InferCell as (local name, kind, local inputs, kernel, stride, padding, weights, biases).

    Local names are relative to the cell's module path (the first add's is "", the cell's own
    path); every tensor has the cell input's shape. The cell input is ``None``; the cell output
    is the last op.
    """
    ops: list[_T] = []
    nodes: list[str | None] = [None]  # local tensor names of nodes 0..3; None = the cell input
    k = 0
    n_add = 0
    for i in range(1, 4):
        feat: str | None = None
        first = True
        for _ in range(i):
            src = nodes[EDGES[k][1]]  # == j: edges are in string order
            op = OPS[arch[k]]
            y: str | None
            base = f".layers.{k}"
            if op == "none":
                ops.append((base, "zero", (src,), None, None, None, 0, 0))
                y = base
            elif op == "skip_connect":
                y = src
            elif op == "avg_pool_3x3":
                ops.append((base + ".op", "avgpool2d", (src,), (3, 3), (1, 1), (1, 1), 0, 0))
                y = base + ".op"
            else:
                kk = 1 if op == "nor_conv_1x1" else 3
                pad = (kk - 1) // 2
                ops.append((base + ".0", "relu", (src,), None, None, None, 0, 0))
                ops.append((base + ".1", "conv2d", (base + ".0",), (kk, kk), (1, 1), (pad, pad),
                            c * c * kk * kk, 0))
                ops.append((base + ".2", "batchnorm", (base + ".1",), None, None, None, c, c))
                y = base + ".2"
            k += 1
            if first:
                feat, first = y, False
            else:
                name = "" if n_add == 0 else f"#{n_add}"
                n_add += 1
                ops.append((name, "add", (feat, y), None, None, None, 0, 0))
                feat = name
        nodes.append(feat)  # type: ignore[arg-type]
    return tuple(ops)


class _Emitter:
    __slots__ = ("ops", "templates", "tensors")

    def __init__(self) -> None:
        self.ops: list[Op] = []
        self.tensors: dict[str, TensorSpec] = {}
        self.templates: dict[int, tuple[_T, ...]] = {}  # channels -> cell template (one build only)

    def op(self, name: str, kind: str, inputs: tuple[str, ...], out_shape: tuple[int, ...],
           **kw: object) -> str:
        t = self.tensors
        sp = _new_spec(name, out_shape)
        self.ops.append(_new_op(name, kind, inputs, name, tuple(t[i].shape for i in inputs), out_shape,
                                **kw))  # type: ignore[arg-type]
        t[name] = sp
        return name


def _new_spec(name: str, shape: tuple[int, ...]) -> TensorSpec:
    sp = object.__new__(TensorSpec)
    sp.__dict__.update(name=name, shape=shape, dtype_bits=32)
    return sp


def _relu_conv_bn(e: _Emitter, path: str, x: str, c_in: int, c_out: int, k: int, s: int, p: int) -> str:
    _, _, h, w = e.tensors[x].shape
    ho, wo = _conv_out(h, k, s, p), _conv_out(w, k, s, p)
    e.op(path + ".0", "relu", (x,), (1, c_in, h, w))
    e.op(path + ".1", "conv2d", (path + ".0",), (1, c_out, ho, wo), kernel=(k, k), stride=(s, s),
         padding=(p, p), weight_count=c_out * c_in * k * k)
    return e.op(path + ".2", "batchnorm", (path + ".1",), (1, c_out, ho, wo), weight_count=c_out,
                bias_count=c_out)


def _infer_cell(e: _Emitter, path: str, x: str, arch: tuple[int, ...]) -> str:
    shape = e.tensors[x].shape
    c = shape[1]
    ops, tensors = e.ops, e.tensors
    out = x
    template = e.templates.get(c)
    if template is None:
        template = e.templates[c] = _cell_template(arch, c)
    for local, kind, ins, kernel, stride, padding, wc, bc in template:
        name = path + local
        inputs = tuple(x if i is None else path + i for i in ins)
        ops.append(_new_op(name, kind, inputs, name, (shape,) * len(inputs), shape, kernel, stride, padding,
                           1, wc, bc))
        tensors[name] = _new_spec(name, shape)
        out = name
    return out


def _reduction(e: _Emitter, path: str, x: str, c_out: int) -> str:
    _, c_in, h, w = e.tensors[x].shape
    b = _relu_conv_bn(e, path + ".conv_a", x, c_in, c_out, 3, 2, 1)
    b = _relu_conv_bn(e, path + ".conv_b", b, c_out, c_out, 3, 1, 1)
    ph, pw = _conv_out(h, 2, 2, 0), _conv_out(w, 2, 2, 0)
    d = e.op(path + ".downsample.0", "avgpool2d", (x,), (1, c_in, ph, pw), kernel=(2, 2), stride=(2, 2),
             padding=(0, 0))
    d = e.op(path + ".downsample.1", "conv2d", (d,), (1, c_out, ph, pw), kernel=(1, 1), stride=(1, 1),
             padding=(0, 0), weight_count=c_out * c_in)
    if e.tensors[d].shape != e.tensors[b].shape:
        from hwbench.errors import HwbenchError

        raise HwbenchError(f"reduction block {path}: shortcut shape {e.tensors[d].shape} differs from branch "
                           f"shape {e.tensors[b].shape}; the input resolution does not halve cleanly")
    return e.op(path, "add", (d, b), e.tensors[b].shape)


def build_graph(arch: str | int | Sequence[int], config: str | MacroConfig = "cifar10") -> LayerGraph:
    """The layer graph (batch 1, fp32) of the NB201 network of ``arch`` for ``config``.

    ``arch`` is an architecture string, an hwbench index or six op ids; ``config`` a name of
    :data:`hwbench.spaces.nb201.CONFIGS` or a :class:`~hwbench.spaces.nb201.MacroConfig`.
    """
    a = SPACE.parse(arch)
    cfg = get_config(config)
    C, N = cfg.C, cfg.N
    e = _Emitter()
    x = "x"
    e.tensors[x] = _new_spec(x, cfg.input_shape)
    r = cfg.resolution
    e.op("stem.0", "conv2d", (x,), (1, C, r, r), kernel=(3, 3), stride=(1, 1), padding=(1, 1),
         weight_count=C * cfg.in_channels * 9)
    f = e.op("stem.1", "batchnorm", ("stem.0",), (1, C, r, r), weight_count=C, bias_count=C)
    i = 0
    c = C
    for stage in range(3):
        if stage > 0:
            f = _reduction(e, f"cells.{i}", f, 2 * c)
            c *= 2
            i += 1
        for _ in range(N):
            f = _infer_cell(e, f"cells.{i}", f, a)
            i += 1
    shape = e.tensors[f].shape
    f = e.op("lastact.0", "batchnorm", (f,), shape, weight_count=c, bias_count=c)
    f = e.op("lastact.1", "relu", (f,), shape)
    f = e.op("global_pooling", "global_avgpool", (f,), (1, c, 1, 1))
    f = e.op("view", "flatten", (f,), (1, c))
    f = e.op("classifier", "linear", (f,), (1, cfg.num_classes), weight_count=c * cfg.num_classes,
             bias_count=cfg.num_classes)
    g = LayerGraph(name=f"nb201/{cfg.name}/{SPACE.arch_str(a)}", inputs=(x,), outputs=(f,))
    g.tensors = e.tensors
    g.ops = e.ops
    return g
