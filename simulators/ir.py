"""The layer graph: the one description of a network that every cost model reads.

A :class:`LayerGraph` is a list of :class:`Op` in execution order over named :class:`TensorSpec`
values. Execution order is part of the IR because peak memory depends on it. Shapes include the
batch dimension and are NCHW for feature maps, (N, F) for vectors.

Conventions (every builder must follow them, tests hold the builders equal):

* ``kind`` is one of :data:`OP_KINDS`.
* ``weight_count`` counts learnable weights of the op (conv kernels, linear matrices, the affine
  scale (gamma) of batch norm, a learned scale of ``mul``); ``bias_count`` counts biases (conv and
  linear biases, the shift (beta) of batch norm). Running statistics of batch norm are buffers,
  not parameters, and are not counted.
* Shapes include the batch dimension. ``flatten`` stands for any reshape (view, reshape, flatten,
  squeeze): no data moves and its output aliases its input (see :mod:`simulators.memory`).
* ``zero`` is NAS-Bench-201's ``none`` edge as executed (``x * 0``): it produces a tensor of its
  input's shape. ``add`` with inputs ``(a, a)`` reads one tensor twice (a sum of two skip edges).
* Sums of more than two tensors are chains of binary ``add`` ops, as ``torch.export`` gives them.
* ``macs`` are multiply-accumulates of conv2d / dwconv2d / linear only (the usual definition used
  by NAS-Bench-201 and HW-NAS-Bench); FLOPs are defined as ``2 * macs``. Element-wise work
  (activation, batch norm, add, pooling) is reported separately as ``elementwise_ops``.
* ``dtype_bits`` is the width of one element of a tensor (32 for fp32, 8 for int8).

numpy is the only dependency of this package.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

#: Operator kinds understood by the simulators.
OP_KINDS = (
    "conv2d",          # dense or grouped (groups < in_channels) convolution
    "dwconv2d",        # depthwise convolution (groups == in_channels == out_channels / multiplier)
    "linear",          # fully connected
    "batchnorm",       # inference batch norm (foldable into the preceding conv)
    "relu",            # activation functions
    "relu6",
    "hswish",
    "sigmoid",
    "avgpool2d",
    "maxpool2d",
    "global_avgpool",  # adaptive average pooling to 1x1
    "add",             # element-wise sum of >= 2 inputs
    "mul",
    "zero",            # output = 0 * input (NAS-Bench-201 'none' edge); no real work after pruning
    "concat",
    "flatten",         # reshape, no data movement in a planned arena
)

CONV_KINDS = frozenset({"conv2d", "dwconv2d"})
MAC_KINDS = frozenset({"conv2d", "dwconv2d", "linear"})


def _prod(shape: Iterable[int]) -> int:
    out = 1
    for s in shape:
        out *= int(s)
    return out


@dataclass(frozen=True)
class TensorSpec:
    """A value flowing between ops."""

    name: str
    shape: tuple[int, ...]
    dtype_bits: int = 32

    @property
    def numel(self) -> int:
        return _prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.numel * self.dtype_bits // 8


@dataclass(frozen=True)
class Op:
    """One operator, in execution order.

    ``inputs`` and ``output`` are tensor names of the owning graph. ``kernel``, ``stride`` and
    ``padding`` are (h, w) pairs for convolution and pooling and ``None`` elsewhere.
    """

    name: str
    kind: str
    inputs: tuple[str, ...]
    output: str
    in_shapes: tuple[tuple[int, ...], ...]
    out_shape: tuple[int, ...]
    kernel: tuple[int, int] | None = None
    stride: tuple[int, int] | None = None
    padding: tuple[int, int] | None = None
    groups: int = 1
    weight_count: int = 0
    bias_count: int = 0
    weight_bits: int = 32
    dtype_bits: int = 32

    def __post_init__(self) -> None:
        if self.kind not in OP_KINDS:
            raise ValueError(f"op {self.name!r}: unknown kind {self.kind!r}; expected one of {OP_KINDS}")
        if len(self.inputs) != len(self.in_shapes):
            raise ValueError(f"op {self.name!r}: {len(self.inputs)} inputs but {len(self.in_shapes)} shapes")

    @property
    def param_count(self) -> int:
        return self.weight_count + self.bias_count

    @property
    def macs(self) -> int:
        """Multiply-accumulates (conv2d, dwconv2d, linear only)."""
        if self.kind in CONV_KINDS:
            assert self.kernel is not None
            n, c_out, h, w = self.out_shape
            c_in = self.in_shapes[0][1]
            return n * c_out * h * w * (c_in // self.groups) * self.kernel[0] * self.kernel[1]
        if self.kind == "linear":
            n = self.out_shape[0]
            return n * self.in_shapes[0][-1] * self.out_shape[-1]
        return 0

    @property
    def elementwise_ops(self) -> int:
        """Arithmetic of the non-MAC ops, one per output element and input (pooling: per window)."""
        out = _prod(self.out_shape)
        if self.kind in ("avgpool2d", "maxpool2d"):
            assert self.kernel is not None
            return out * self.kernel[0] * self.kernel[1]
        if self.kind == "global_avgpool":
            return _prod(self.in_shapes[0])
        if self.kind in ("add", "mul"):
            return out * (len(self.inputs) - 1)
        if self.kind in ("relu", "relu6", "hswish", "sigmoid", "batchnorm"):
            return out
        return 0

    @property
    def weight_bytes(self) -> int:
        return self.param_count * self.weight_bits // 8

    def signature(self) -> tuple[Any, ...]:
        """What makes two ops the same operator regardless of naming (used to compare builders)."""
        return (self.kind, self.in_shapes, self.out_shape, self.kernel, self.stride, self.padding,
                self.groups, self.weight_count, self.bias_count)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Op:
        def tup(v: Any) -> Any:
            return None if v is None else tuple(v)

        return cls(
            name=d["name"], kind=d["kind"], inputs=tuple(d["inputs"]), output=d["output"],
            in_shapes=tuple(tuple(s) for s in d["in_shapes"]), out_shape=tuple(d["out_shape"]),
            kernel=tup(d.get("kernel")), stride=tup(d.get("stride")), padding=tup(d.get("padding")),
            groups=int(d.get("groups", 1)), weight_count=int(d.get("weight_count", 0)),
            bias_count=int(d.get("bias_count", 0)), weight_bits=int(d.get("weight_bits", 32)),
            dtype_bits=int(d.get("dtype_bits", 32)),
        )


@dataclass
class LayerGraph:
    """A network as ops in execution order over named tensors."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    tensors: dict[str, TensorSpec] = field(default_factory=dict)
    ops: list[Op] = field(default_factory=list)

    # -- construction -------------------------------------------------------------------------
    def add_input(self, name: str, shape: Sequence[int], dtype_bits: int = 32) -> str:
        self.tensors[name] = TensorSpec(name, tuple(int(s) for s in shape), dtype_bits)
        self.inputs = (*self.inputs, name)
        return name

    def add_op(self, op: Op) -> str:
        for t in op.inputs:
            if t not in self.tensors:
                raise ValueError(f"op {op.name!r} reads tensor {t!r} that no earlier op produced")
        if op.output in self.tensors:
            raise ValueError(f"op {op.name!r} writes tensor {op.output!r} twice")
        self.tensors[op.output] = TensorSpec(op.output, op.out_shape, op.dtype_bits)
        self.ops.append(op)
        return op.output

    def validate(self) -> None:
        """Check that ops are topologically ordered and shapes agree with tensors."""
        seen = set(self.inputs)
        for op in self.ops:
            for t, s in zip(op.inputs, op.in_shapes):
                if t not in seen:
                    raise ValueError(f"op {op.name!r} reads {t!r} before it is produced")
                if self.tensors[t].shape != s:
                    raise ValueError(f"op {op.name!r}: input {t!r} has shape {self.tensors[t].shape}, op says {s}")
            seen.add(op.output)
        for t in self.outputs:
            if t not in seen:
                raise ValueError(f"graph output {t!r} is never produced")

    # -- metrics ------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Op]:
        return iter(self.ops)

    def __len__(self) -> int:
        return len(self.ops)

    @property
    def params(self) -> int:
        return sum(op.param_count for op in self.ops)

    @property
    def macs(self) -> int:
        return sum(op.macs for op in self.ops)

    @property
    def flops(self) -> int:
        """FLOPs = 2 x MACs (conv and linear only)."""
        return 2 * self.macs

    def weight_bytes(self, bits: int = 32) -> int:
        return sum(op.param_count for op in self.ops) * bits // 8

    def signature(self) -> list[tuple[Any, ...]]:
        return [op.signature() for op in self.ops]

    def consumers(self) -> dict[str, list[int]]:
        """Tensor name -> indices of ops that read it."""
        out: dict[str, list[int]] = {name: [] for name in self.tensors}
        for i, op in enumerate(self.ops):
            for t in op.inputs:
                out[t].append(i)
        return out

    def kind_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for op in self.ops:
            out[op.kind] = out.get(op.kind, 0) + 1
        return out

    def macs_by_kind(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for op in self.ops:
            out[op.kind] = out.get(op.kind, 0) + op.macs
        return out

    # -- serialization (JSON, never pickle) ------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "hwbench.layergraph/1",
            "name": self.name,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "tensors": [asdict(t) for t in self.tensors.values()],
            "ops": [op.to_dict() for op in self.ops],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LayerGraph:
        if d.get("format") != "hwbench.layergraph/1":
            raise ValueError(f"not a layer graph: format={d.get('format')!r}, expected 'hwbench.layergraph/1'")
        g = cls(name=d["name"], inputs=tuple(d["inputs"]), outputs=tuple(d["outputs"]))
        g.tensors = {t["name"]: TensorSpec(t["name"], tuple(t["shape"]), int(t["dtype_bits"])) for t in d["tensors"]}
        g.ops = [Op.from_dict(o) for o in d["ops"]]
        return g

    @classmethod
    def from_json(cls, s: str) -> LayerGraph:
        return cls.from_dict(json.loads(s))

    def summary(self) -> np.ndarray:
        """Per-op structured array (name, kind, macs, params, output bytes) for quick inspection."""
        dt = np.dtype([("name", "U64"), ("kind", "U16"), ("macs", "i8"), ("params", "i8"), ("out_bytes", "i8")])
        rows = [(op.name[:64], op.kind, op.macs, op.param_count, self.tensors[op.output].nbytes) for op in self.ops]
        return np.array(rows, dtype=dt)
