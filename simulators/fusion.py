"""Kernel formation over the layer graph: what a deployment compiler would run as one kernel.

Shared by the device models. Rules (each can be switched off):

* ``zero`` ops (NAS-Bench-201 ``none`` edges) are pruned: their output is a known-zero tensor; an
  ``add`` drops zero inputs, becomes an alias when one input is left and a zero when none is; any op
  whose inputs are all zero is constant-folded to zero (NAS-Bench-201's own canonical form does the same).
* ``flatten`` is an alias (no data movement).
* ``batchnorm`` right after a conv/linear whose output has no other reader is folded into it.
* an activation right after a conv/linear/batchnorm/add kernel whose output has no other reader is
  fused into it (TF-Lite's fused activation, cuDNN/TVM epilogue fusion).
* dead kernels (whose result never reaches a graph output) are removed.

A network whose output is a compile-time constant (an NB201 network of a cell with no path from input to
output: 341 of the 15,625 cells) is a constant function. It is not costed as nothing (0 ms would be a lie):
its deployed program is taken to be the **head on a constant feature map**, the upper bound of what
``hwbench.measure.compile`` says TVM leaves of such a network. The head is the chain of single-input ops
that ends at the output, walked back to the first op that reads a feature map (a tensor of spatial size
> 1) -- not past a ``zero`` op or an op with several inputs. For NB201 that is global average pooling +
(``flatten``) + the linear classifier, reading the network's last feature map (after the final
batchnorm + ReLU) as a constant. Its kernels are formed by the same rules; the feature map is listed in
:attr:`KernelGraph.constants`: it is stored with the weights (flash on an MCU, a module constant
elsewhere) and never placed in the activation arena. The graph input stays an input (the runtime still
allocates it). A constant output with no such chain (e.g. a bare sum of ``zero`` ops) keeps no kernel.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulators.ir import LayerGraph, Op, TensorSpec

ACTIVATIONS = frozenset({"relu", "relu6", "hswish", "sigmoid"})
_FOLD_BN_INTO = frozenset({"conv2d", "dwconv2d", "linear"})
_FUSE_ACT_INTO = frozenset({"conv2d", "dwconv2d", "linear", "batchnorm", "add"})


@dataclass
class Kernel:
    """One executed kernel: a main op plus the ops fused into it."""

    name: str
    main: Op
    ops: list[Op]
    inputs: tuple[str, ...]
    output: str
    out_shape: tuple[int, ...]

    @property
    def kind(self) -> str:
        return self.main.kind

    @property
    def fused(self) -> tuple[str, ...]:
        return tuple(op.kind for op in self.ops[1:])

    @property
    def macs(self) -> int:
        return sum(op.macs for op in self.ops)

    @property
    def elementwise_ops(self) -> int:
        return sum(op.elementwise_ops for op in self.ops)

    @property
    def weight_count(self) -> int:
        return sum(op.weight_count for op in self.ops)

    @property
    def bias_count(self) -> int:
        return sum(op.bias_count for op in self.ops)


@dataclass
class KernelGraph:
    """Kernels in execution order over the tensors that remain after fusion."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    tensors: dict[str, TensorSpec] = field(default_factory=dict)
    kernels: list[Kernel] = field(default_factory=list)
    #: compile-time constant tensors read by kernels (also in ``tensors``): stored with the weights, not
    #: in the activation arena (the constant feature map of a constant network, see the module docstring)
    constants: tuple[str, ...] = ()

    def constant_numel(self) -> int:
        """Elements of the constant tensors (each device model stores them at its weight width)."""
        return sum(self.tensors[t].numel for t in self.constants)

    def lifetimes(self) -> dict[str, tuple[int, int]]:
        """Tensor -> (first kernel index that needs it, last kernel index that needs it), inclusive.

        Graph inputs live from -1 (before the first kernel) ... they are placed from kernel 0;
        graph outputs live until the last kernel. Constants (:attr:`constants`) have no lifetime.
        """
        n = len(self.kernels)
        first: dict[str, int] = {t: 0 for t in self.inputs}
        last: dict[str, int] = {t: 0 for t in self.inputs}
        for i, k in enumerate(self.kernels):
            first.setdefault(k.output, i)
            last[k.output] = max(last.get(k.output, i), i)
            for t in k.inputs:
                last[t] = max(last.get(t, i), i)
        for t in self.outputs:
            if t in first:
                last[t] = max(n - 1, 0)
        return {t: (first[t], last[t]) for t in first}


def fuse(graph: LayerGraph, fold_bn: bool = True, fuse_activation: bool = True,
         prune_zero: bool = True, eliminate_dead: bool = True) -> KernelGraph:
    """Group the ops of ``graph`` into kernels (see the module docstring)."""
    readers: dict[str, int] = {t: len(v) for t, v in graph.consumers().items()}
    for t in graph.outputs:
        readers[t] = readers.get(t, 0) + 1
    alias: dict[str, str] = {}
    zero: set[str] = set()
    producer: dict[str, Kernel] = {}
    kg = KernelGraph(graph.name, tuple(graph.inputs), (), {t: graph.tensors[t] for t in graph.inputs})

    def res(t: str) -> str:
        while t in alias:
            t = alias[t]
        return t

    for op in graph.ops:
        ins = [res(t) for t in op.inputs]
        live = [t for t in ins if t not in zero]
        if prune_zero:
            if op.kind == "zero" or (ins and not live):
                zero.add(op.output)
                continue
            if op.kind == "mul" and len(live) < len(ins):
                zero.add(op.output)
                continue
            if op.kind == "add" and len(live) < len(ins):
                if len(live) == 1:
                    alias[op.output] = live[0]
                    readers[live[0]] = readers.get(live[0], 0) + readers.get(op.output, 0) - 1
                    continue
                ins = live
        if op.kind == "flatten":
            alias[op.output] = ins[0]
            readers[ins[0]] = readers.get(ins[0], 0) + readers.get(op.output, 0) - 1
            continue
        src = ins[0] if ins else None
        prev = producer.get(src) if src is not None else None
        single = src is not None and readers.get(src, 0) == 1
        can_merge = prev is not None and single and prev.output == src and len(ins) == 1
        if can_merge and prev is not None:
            last_kind = prev.ops[-1].kind
            if (fold_bn and op.kind == "batchnorm" and prev.kind in _FOLD_BN_INTO
                    and last_kind in _FOLD_BN_INTO):
                merge = True
            elif (fuse_activation and op.kind in ACTIVATIONS and prev.kind in _FUSE_ACT_INTO
                  and last_kind not in ACTIVATIONS):
                merge = True
            else:
                merge = False
            if merge:
                prev.ops.append(op)
                del producer[src]
                del kg.tensors[src]
                prev.output = op.output
                prev.out_shape = op.out_shape
                producer[op.output] = prev
                kg.tensors[op.output] = graph.tensors[op.output]
                continue
        k = Kernel(op.name, op, [op], tuple(ins), op.output, op.out_shape)
        kg.kernels.append(k)
        producer[op.output] = k
        kg.tensors[op.output] = graph.tensors[op.output]
    kg.outputs = tuple(res(t) for t in graph.outputs)
    if prune_zero:
        _constant_heads(graph, kg, zero, fold_bn=fold_bn, fuse_activation=fuse_activation)
    if eliminate_dead:
        needed = {t for t in kg.outputs if t in kg.tensors}
        keep: list[Kernel] = []
        for k in reversed(kg.kernels):
            if k.output in needed:
                keep.append(k)
                needed.update(k.inputs)
            else:
                del kg.tensors[k.output]
        kg.kernels = keep[::-1]
    return kg


def _is_feature_map(shape: tuple[int, ...]) -> bool:
    return len(shape) == 4 and int(shape[2]) * int(shape[3]) > 1


def _constant_heads(graph: LayerGraph, kg: KernelGraph, zero: set[str], *, fold_bn: bool,
                    fuse_activation: bool) -> None:
    """Give every compile-time-constant output of ``kg`` its head on a constant feature map (module doc)."""
    producer = {op.output: op for op in graph.ops}
    outputs = list(kg.outputs)
    for n, out in enumerate(outputs):
        if out not in zero:
            continue
        chain: list[Op] = []
        t = out
        while t in producer:
            op = producer[t]
            if op.kind == "zero" or len(op.inputs) != 1:
                break
            chain.append(op)
            t = op.inputs[0]
            if _is_feature_map(graph.tensors[t].shape):
                break
        if not chain:
            continue
        const = chain[-1].inputs[0]
        head = LayerGraph(f"{graph.name}:head", (const,), (chain[0].output,),
                          {const: graph.tensors[const], **{op.output: graph.tensors[op.output] for op in chain}},
                          chain[::-1])
        hk = fuse(head, fold_bn=fold_bn, fuse_activation=fuse_activation, prune_zero=False, eliminate_dead=True)
        kg.kernels.extend(hk.kernels)
        kg.tensors.update(hk.tensors)
        if const not in kg.constants:
            kg.constants = (*kg.constants, const)
        outputs[n] = hk.outputs[0]
    kg.outputs = tuple(outputs)
