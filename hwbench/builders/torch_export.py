"""Layer graph of any ``torch.nn.Module`` through ``torch.export``.

:func:`graph_from_module` exports the module in eval mode with the example input as given (its
batch size is the graph's batch size) and maps every ATen op of the exported graph to one IR op
(:mod:`simulators.ir`), in the exported graph's execution order:

* ``conv2d``, ``convolution`` (2-D, not transposed, dilation 1) -> ``conv2d``, or ``dwconv2d``
  when ``groups == in_channels > 1`` (other grouped convs stay ``conv2d`` with ``groups``);
* ``linear``, ``addmm``, ``mm``/``matmul`` with a parameter operand -> ``linear``;
* ``batch_norm``, ``_native_batch_norm_legit_no_training``, ``native_batch_norm`` ... -> ``batchnorm``;
* ``relu``/``relu_`` -> ``relu``; ``hardtanh``/``clamp`` with bounds (0, 6) and ``relu6`` -> ``relu6``
  (``clamp(0, None)`` -> ``relu``); ``hardswish`` -> ``hswish``; ``sigmoid`` -> ``sigmoid``;
* ``avg_pool2d`` -> ``avgpool2d``; ``max_pool2d`` (and ``max_pool2d_with_indices``) -> ``maxpool2d``;
* ``adaptive_avg_pool2d`` to 1x1 and ``mean`` over H and W -> ``global_avgpool``;
* ``add``/``add_`` -> ``add``; ``mul``/``mul_`` -> ``zero`` when multiplied by the scalar 0, else ``mul``;
* ``cat`` -> ``concat``; ``view``, ``reshape``, ``flatten``, ``squeeze``, ``unsqueeze`` -> ``flatten``
  (a reshape: no data movement);
* ``dropout``, ``clone``, ``contiguous``, ``alias``, ``detach`` -> no op (the tensor passes through).

Shapes come from the exported graph's tensor metadata. Weight counts come from the parameters an
op reads (conv/linear weight and bias, batch-norm weight = scale and bias = shift); buffers
(batch-norm running statistics) are not parameters and are not counted. Parameter-only
subgraphs (for example the ``permute`` of a linear weight after decomposition) are folded into
the op that consumes them. ``getitem`` of a multi-output op (decomposed batch norm, max pool with
indices) selects output 0; using another output raises. An ATen op outside this list raises
:class:`UnsupportedOpError` naming it: nothing is dropped silently.

IR op names are the module path of the op (``cells.3.layers.0.1``); a second op in the same
module gets ``#1``, ``#2`` ... appended (the three sums of an NB201 cell are ``cells.3``,
``cells.3#1``, ``cells.3#2``). Ops of the root module are named after their FX node (``view``).
IR tensor names are the FX node names.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

from hwbench.errors import HwbenchError
from simulators.ir import LayerGraph, Op


class UnsupportedOpError(HwbenchError, NotImplementedError):
    """An operator of an exported model that the layer-graph IR cannot represent."""


# ATen op names (the packet name, without overload) grouped by how they map.
_CONV = {"conv2d", "convolution", "_convolution"}
_LINEAR = {"linear", "addmm", "mm", "matmul"}
_BN_SINGLE = {"batch_norm"}
_BN_MULTI = {"_native_batch_norm_legit_no_training", "native_batch_norm", "_native_batch_norm_legit",
             "_batch_norm_no_update", "_batch_norm_with_update", "cudnn_batch_norm"}
_ACT = {"relu": "relu", "relu_": "relu", "relu6": "relu6", "relu6_": "relu6", "hardswish": "hswish",
        "hardswish_": "hswish", "sigmoid": "sigmoid", "sigmoid_": "sigmoid"}
_HARDTANH = {"hardtanh", "hardtanh_", "clamp", "clamp_", "clip", "clip_"}
_POOL = {"avg_pool2d": "avgpool2d", "max_pool2d": "maxpool2d", "max_pool2d_with_indices": "maxpool2d"}
_MULTI_OUT = _BN_MULTI | {"max_pool2d_with_indices"}
_GAP = {"adaptive_avg_pool2d", "_adaptive_avg_pool2d"}
_ADD = {"add", "add_"}
_MUL = {"mul", "mul_"}
_CAT = {"cat", "concat"}
_RESHAPE = {"view", "reshape", "_unsafe_view", "flatten", "squeeze", "squeeze_", "unsqueeze", "unsqueeze_",
            "view_copy", "_reshape_alias", "unflatten"}
_PASS = {"dropout", "dropout_", "feature_dropout", "alpha_dropout", "clone", "contiguous", "alias",
         "detach", "detach_", "lift_fresh_copy", "identity"}
#: ops that produce no tensor (checks on metadata); skipped
_NO_TENSOR = {"_assert_tensor_metadata", "_assert_async", "_assert_scalar", "sym_size", "sym_numel",
              "sym_stride", "sym_constrain_range_for_size", "_functional_assert_async"}


def graph_from_module(
    module: Any, example_input: Any, name: str | None = None, *, decompose: bool = False
) -> LayerGraph:
    """Export ``module`` (in eval mode) on ``example_input`` and return its layer graph.

    ``example_input`` is a tensor or a tuple of tensors (positional arguments). The module's
    training flag is restored afterwards. ``decompose=True`` lowers the export to the core ATen
    op set first (``run_decompositions``, keeping hardswish and hardtanh, which the IR has kinds
    for); both forms give the same graph.
    """
    import torch

    args = tuple(example_input) if isinstance(example_input, (tuple, list)) else (example_input,)
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            ep = torch.export.export(module, args)
    finally:
        module.train(was_training)
    if decompose:
        ep = ep.run_decompositions(_decomposition_table())
    return graph_from_exported_program(ep, name or type(module).__name__)


def _decomposition_table() -> Any:
    """torch.export's core-ATen table minus the activations the IR has a kind for (else hardswish
    would become add/clamp/mul/div and relu6 a clamp)."""
    import torch
    from torch.export import default_decompositions

    table = default_decompositions()
    aten = torch.ops.aten
    for name in ("hardswish", "hardswish_", "hardtanh", "hardtanh_", "relu6", "relu6_"):
        packet = getattr(aten, name, None)
        if packet is not None and hasattr(packet, "default") and packet.default in table:
            table.pop(packet.default)
    return table


def _opname(target: Any) -> str:
    """``aten.conv2d.default`` -> ``conv2d``; other callables -> their name."""
    if target is operator.getitem:
        return "getitem"
    s = str(target)
    if s.startswith("aten."):
        return s.split(".")[1]
    return getattr(target, "__name__", s)


def _is_tensor(v: Any) -> bool:
    import torch

    return isinstance(v, torch.Tensor)


def _shape(v: Any) -> tuple[int, ...]:
    return tuple(int(s) for s in v.shape)


def _arguments(node: Any) -> dict[str, Any]:
    """The op's arguments by schema name, defaults filled in."""
    schema = getattr(node.target, "_schema", None)
    if schema is None:
        return {f"arg{i}": v for i, v in enumerate(node.args)} | dict(node.kwargs)
    out: dict[str, Any] = {}
    for i, arg in enumerate(schema.arguments):
        if i < len(node.args):
            out[arg.name] = node.args[i]
        elif arg.name in node.kwargs:
            out[arg.name] = node.kwargs[arg.name]
        elif arg.has_default_value():
            out[arg.name] = arg.default_value
    return out


def _pair(v: Any, default: int | None = None) -> tuple[int, int]:
    if v is None or (isinstance(v, (list, tuple)) and len(v) == 0):
        if default is None:
            raise ValueError("missing value")
        return (default, default)
    if isinstance(v, (list, tuple)):
        return (int(v[0]), int(v[0])) if len(v) == 1 else (int(v[0]), int(v[1]))
    return (int(v), int(v))


class _Builder:
    def __init__(self, ep: Any, name: str) -> None:
        self.ep = ep
        self.g = LayerGraph(name=name, inputs=(), outputs=())
        sig = ep.graph_signature
        self.param_names = set(sig.inputs_to_parameters)
        self.user_inputs = set(sig.user_inputs)
        # node name -> ("act", tensor name) | ("const", frozenset of parameter placeholders) |
        #              ("multi", tensor name of output 0) | ("none", None)
        self.env: dict[str, tuple[str, Any]] = {}
        self.numel: dict[str, int] = {}
        self.name_counts: dict[str, int] = {}

    # -- helpers ----------------------------------------------------------------------------
    def _op_name(self, node: Any) -> str:
        stack = node.meta.get("nn_module_stack") or {}
        path = ""
        if stack:
            path = list(stack.values())[-1][0]
        base = path or node.name
        n = self.name_counts.get(base, 0)
        self.name_counts[base] = n + 1
        return base if n == 0 else f"{base}#{n}"

    def _kind_of(self, a: Any) -> tuple[str, Any]:
        from torch.fx import Node

        if isinstance(a, Node):
            return self.env[a.name]
        return ("lit", a)

    def _act(self, node: Any, a: Any, what: str) -> str:
        kind, v = self._kind_of(a)
        if kind != "act":
            raise UnsupportedOpError(
                f"op {node.target} ({node.name}): its {what} is not an activation tensor ({kind}); "
                "the layer-graph IR needs it to be computed from the model input"
            )
        return str(v)

    def _params(self, node: Any, a: Any, what: str) -> int:
        """Parameter count of a weight-like argument (0 for None; buffers count 0)."""
        if a is None:
            return 0
        kind, v = self._kind_of(a)
        if kind != "const":
            raise UnsupportedOpError(
                f"op {node.target} ({node.name}): its {what} is computed from the input ({kind}); only "
                "parameters or constants are supported as weights"
            )
        return sum(self.numel[p] for p in v)

    def _emit(self, node: Any, kind: str, inputs: Sequence[str], out_val: Any, **kw: Any) -> None:
        out = node.name
        op = Op(
            name=self._op_name(node), kind=kind, inputs=tuple(inputs), output=out,
            in_shapes=tuple(self.g.tensors[t].shape for t in inputs), out_shape=_shape(out_val),
            dtype_bits=out_val.dtype.itemsize * 8, **kw,
        )
        self.g.add_op(op)

    # -- main loop --------------------------------------------------------------------------
    def run(self) -> LayerGraph:
        from torch.fx import Node

        for node in self.ep.graph.nodes:
            val = node.meta.get("val")
            if node.op == "placeholder":
                if node.name in self.user_inputs:
                    if not _is_tensor(val):
                        self.env[node.name] = ("none", None)
                        continue
                    self.g.add_input(node.name, _shape(val), val.dtype.itemsize * 8)
                    self.env[node.name] = ("act", node.name)
                elif node.name in self.param_names:
                    self.numel[node.name] = int(val.numel())
                    self.env[node.name] = ("const", frozenset({node.name}))
                else:  # buffer or lifted constant: not a parameter
                    self.env[node.name] = ("const", frozenset())
            elif node.op == "call_function":
                self._call(node, val)
            elif node.op == "output":
                outs = []
                for a in node.args[0]:
                    if isinstance(a, Node) and self.env[a.name][0] == "act":
                        outs.append(str(self.env[a.name][1]))
                self.g.outputs = tuple(outs)
            else:  # get_attr (constants captured as attributes)
                self.env[node.name] = ("const", frozenset())
        self.g.validate()
        return self.g

    def _call(self, node: Any, val: Any) -> None:
        from torch.fx import Node

        name = _opname(node.target)
        # all tensor-valued node arguments, flattened (cat takes a list)
        nodes = [a for a in node.args if isinstance(a, Node)]
        for a in node.args:
            if isinstance(a, (list, tuple)):
                nodes.extend(x for x in a if isinstance(x, Node))
        nodes.extend(v for v in node.kwargs.values() if isinstance(v, Node))
        kinds = [self.env[a.name][0] for a in nodes]

        if name == "getitem":
            src_kind, src = self.env[node.args[0].name]
            if src_kind == "multi":
                if node.args[1] == 0:
                    self.env[node.name] = ("act", src)
                elif len(node.users) == 0:
                    self.env[node.name] = ("none", None)
                else:
                    raise UnsupportedOpError(
                        f"output {node.args[1]} of {node.args[0].target} ({node.args[0].name}) is used; "
                        "the layer-graph IR keeps only output 0 of multi-output ops"
                    )
            else:
                self.env[node.name] = (src_kind, src)  # const stays const
            return
        if name in _NO_TENSOR or not (_is_tensor(val) or isinstance(val, (tuple, list))):
            self.env[node.name] = ("none", None)
            return
        if "act" not in kinds:
            # computed from parameters/constants only (e.g. permute of a linear weight): fold it
            params: frozenset[str] = frozenset()
            for a in nodes:
                k, v = self.env[a.name]
                if k == "const":
                    params = params | v
            self.env[node.name] = ("const", params)
            return
        out_val = val[0] if isinstance(val, (tuple, list)) else val
        self.env[node.name] = ("multi" if name in _MULTI_OUT else "act", node.name)
        p = _arguments(node)

        if name in _CONV:
            w = p["weight"]
            wval = w.meta["val"]
            if p.get("transposed", False) or wval.dim() != 4:
                raise UnsupportedOpError(f"op {node.target} ({node.name}): only 2-D, non-transposed "
                                         f"convolution is supported (weight shape {tuple(wval.shape)})")
            if _pair(p.get("dilation", 1), 1) != (1, 1):
                raise UnsupportedOpError(f"op {node.target} ({node.name}): dilation {p['dilation']} is not "
                                         "representable in the layer-graph IR")
            kernel = (int(wval.shape[2]), int(wval.shape[3]))
            padding = p.get("padding", 0)
            if isinstance(padding, str):
                padding = 0 if padding == "valid" else [(k - 1) // 2 for k in kernel]
            xin = self._act(node, p["input"], "input")
            c_in = self.g.tensors[xin].shape[1]
            groups = int(p.get("groups", 1))
            kind = "dwconv2d" if groups > 1 and groups == c_in else "conv2d"
            self._emit(node, kind, [xin], out_val, kernel=kernel, stride=_pair(p.get("stride", 1), 1),
                       padding=_pair(padding, 0), groups=groups,
                       weight_count=self._params(node, w, "weight"),
                       bias_count=self._params(node, p.get("bias"), "bias"))
        elif name in _LINEAR:
            if name == "addmm":
                x, w, bias = p["mat1"], p["mat2"], p["self"]
            elif name == "linear":
                x, w, bias = p["input"], p["weight"], p.get("bias")
            else:  # mm / matmul: (activation, weight)
                x, w, bias = p["self"], p.get("mat2", p.get("other")), None
            self._emit(node, "linear", [self._act(node, x, "input")], out_val,
                       weight_count=self._params(node, w, "weight"),
                       bias_count=self._params(node, bias, "bias"))
        elif name in _BN_SINGLE or name in _BN_MULTI:
            self._emit(node, "batchnorm", [self._act(node, p["input"], "input")], out_val,
                       weight_count=self._params(node, p.get("weight"), "weight"),
                       bias_count=self._params(node, p.get("bias"), "bias"))
        elif name in _ACT or name in _HARDTANH:
            kind = _ACT.get(name, "")
            if name in _HARDTANH:
                if name.startswith("hardtanh"):
                    lo, hi = p.get("min_val", -1.0), p.get("max_val", 1.0)
                else:
                    lo, hi = p.get("min"), p.get("max")
                bounds = (None if lo is None else float(lo), None if hi is None else float(hi))
                kinds = {(0.0, 6.0): "relu6", (0.0, None): "relu"}
                if bounds not in kinds:
                    raise UnsupportedOpError(f"op {node.target} ({node.name}): {name}{bounds} is not "
                                             "representable; only (0, 6) = relu6 and (0, None) = relu are")
                kind = kinds[bounds]
            self._emit(node, kind, [self._act(node, p["self"], "input")], out_val)
        elif name in _POOL:
            kernel = _pair(p["kernel_size"])
            stride = _pair(p["stride"]) if p.get("stride") else kernel
            if name != "avg_pool2d" and _pair(p.get("dilation", 1), 1) != (1, 1):
                raise UnsupportedOpError(f"op {node.target} ({node.name}): dilated max pooling is not "
                                         "representable")
            self._emit(node, _POOL[name], [self._act(node, p["self"], "input")], out_val,
                       kernel=kernel, stride=stride, padding=_pair(p.get("padding", 0), 0))
        elif name in _GAP:
            if tuple(_pair(p["output_size"])) != (1, 1):
                raise UnsupportedOpError(f"op {node.target} ({node.name}): adaptive average pooling to "
                                         f"{p['output_size']} is not representable; only to 1x1 "
                                         "(global_avgpool)")
            self._emit(node, "global_avgpool", [self._act(node, p["self"], "input")], out_val)
        elif name == "mean":
            xin = self._act(node, p["self"], "input")
            rank = len(self.g.tensors[xin].shape)
            dim = p.get("dim")
            dims = sorted(int(d) % rank for d in (dim if dim is not None else range(rank)))
            if rank != 4 or dims != [2, 3]:
                raise UnsupportedOpError(f"op {node.target} ({node.name}): mean over dims {dim} of a "
                                         f"rank-{rank} tensor; only the mean over H and W of NCHW "
                                         "(global_avgpool) is supported")
            self._emit(node, "global_avgpool", [xin], out_val)
        elif name in _ADD or name in _MUL:
            ins, w = [], 0
            for x in (p["self"], p["other"]):
                k, v = self._kind_of(x)
                if k == "act":
                    ins.append(str(v))
                elif k == "const":
                    w += self._params(node, x, "operand")
            other = p["other"]
            if name in _MUL and not isinstance(other, Node) and float(other) == 0.0:
                self._emit(node, "zero", ins, out_val)
            else:
                self._emit(node, "add" if name in _ADD else "mul", ins, out_val, weight_count=w)
        elif name in _CAT:
            ins = [self._act(node, x, "input") for x in p["tensors"]]
            self._emit(node, "concat", ins, out_val)
        elif name in _RESHAPE:
            self._emit(node, "flatten", [self._act(node, node.args[0], "input")], out_val)
        elif name in _PASS:
            self.env[node.name] = ("act", self._act(node, node.args[0], "input"))
        else:
            raise UnsupportedOpError(
                f"unsupported op {node.target} (FX node {node.name!r}, module "
                f"{self._module_path(node) or '<root>'}): the layer-graph IR has no mapping for it; "
                "supported: conv2d/convolution, linear/addmm, batch_norm, relu, relu6/hardtanh(0,6), "
                "hardswish, sigmoid, avg_pool2d, max_pool2d, adaptive_avg_pool2d(1), mean over HW, add, mul, "
                "cat, view/reshape/flatten, dropout/clone (pass-through)"
            )

    @staticmethod
    def _module_path(node: Any) -> str:
        stack = node.meta.get("nn_module_stack") or {}
        return list(stack.values())[-1][0] if stack else ""


def graph_from_exported_program(ep: Any, name: str = "model") -> LayerGraph:
    """Layer graph of an already exported program (``torch.export.ExportedProgram``)."""
    return _Builder(ep, name).run()
