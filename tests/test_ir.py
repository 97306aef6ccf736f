"""The layer-graph IR: construction, validation, per-op arithmetic and the JSON round trip."""

from __future__ import annotations

import json

import pytest

from hwbench.builders import build_graph
from simulators.ir import OP_KINDS, LayerGraph, Op, TensorSpec


def small_graph() -> LayerGraph:
    g = LayerGraph("small", (), ())
    x = g.add_input("x", (1, 3, 8, 8))
    c = g.add_op(Op("conv", "conv2d", (x,), "c", ((1, 3, 8, 8),), (1, 8, 4, 4), kernel=(3, 3), stride=(2, 2),
                    padding=(1, 1), weight_count=8 * 3 * 9, bias_count=8))
    d = g.add_op(Op("dw", "dwconv2d", (c,), "d", ((1, 8, 4, 4),), (1, 8, 4, 4), kernel=(3, 3), stride=(1, 1),
                    padding=(1, 1), groups=8, weight_count=8 * 9))
    b = g.add_op(Op("bn", "batchnorm", (d,), "b", ((1, 8, 4, 4),), (1, 8, 4, 4), weight_count=8,
                    bias_count=8))
    s = g.add_op(Op("sum", "add", (c, b), "s", ((1, 8, 4, 4), (1, 8, 4, 4)), (1, 8, 4, 4)))
    p = g.add_op(Op("pool", "avgpool2d", (s,), "p", ((1, 8, 4, 4),), (1, 8, 2, 2), kernel=(2, 2),
                    stride=(2, 2), padding=(0, 0)))
    q = g.add_op(Op("gap", "global_avgpool", (p,), "q", ((1, 8, 2, 2),), (1, 8, 1, 1)))
    f = g.add_op(Op("flat", "flatten", (q,), "f", ((1, 8, 1, 1),), (1, 8)))
    y = g.add_op(Op("fc", "linear", (f,), "y", ((1, 8),), (1, 5), weight_count=40, bias_count=5))
    g.outputs = (y,)
    return g


def test_construction_and_counts() -> None:
    g = small_graph()
    g.validate()
    assert len(g) == 8 and [op.name for op in g] == ["conv", "dw", "bn", "sum", "pool", "gap", "flat", "fc"]
    ops = {op.name: op for op in g}
    assert ops["conv"].macs == 8 * 4 * 4 * 3 * 9
    assert ops["dw"].macs == 8 * 4 * 4 * 1 * 9
    assert ops["fc"].macs == 40
    assert g.macs == 8 * 16 * 27 + 8 * 16 * 9 + 40 and g.flops == 2 * g.macs
    assert g.params == 224 + 72 + 16 + 45
    assert g.weight_bytes() == 4 * g.params and g.weight_bytes(8) == g.params
    assert ops["pool"].elementwise_ops == 8 * 2 * 2 * 4
    assert ops["gap"].elementwise_ops == 8 * 2 * 2
    assert ops["sum"].elementwise_ops == 8 * 16 and ops["bn"].elementwise_ops == 8 * 16
    assert ops["flat"].elementwise_ops == 0 and ops["conv"].elementwise_ops == 0
    assert g.kind_counts()["conv2d"] == 1 and g.macs_by_kind()["dwconv2d"] == 8 * 16 * 9
    assert g.consumers()["c"] == [1, 3] and g.consumers()["y"] == []
    assert g.tensors["c"] == TensorSpec("c", (1, 8, 4, 4), 32) and g.tensors["c"].nbytes == 512
    assert TensorSpec("t", (2, 3), 8).nbytes == 6
    summary = g.summary()
    assert summary.shape == (8,) and summary["macs"].sum() == g.macs and summary["out_bytes"][0] == 512


def test_json_round_trip() -> None:
    for g in (small_graph(), build_graph("|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|"
                                         "nor_conv_1x1~1|nor_conv_3x3~2|", "imagenet16-120")):
        s = g.to_json()
        json.loads(s)  # plain JSON
        h = LayerGraph.from_json(s)
        h.validate()
        assert h.name == g.name and h.inputs == g.inputs and h.outputs == g.outputs
        assert h.tensors == g.tensors
        assert h.ops == g.ops  # every field, names and wiring included
        assert h.signature() == g.signature() and h.to_dict() == g.to_dict()
        assert isinstance(h.ops[0].in_shapes[0], tuple) and isinstance(h.ops[0].kernel, tuple)


def test_bad_ops_raise() -> None:
    with pytest.raises(ValueError, match="unknown kind 'conv3d'"):
        Op("a", "conv3d", ("x",), "y", ((1, 1),), (1, 1))
    with pytest.raises(ValueError, match="2 inputs but 1 shapes"):
        Op("a", "add", ("x", "z"), "y", ((1, 1),), (1, 1))
    assert "zero" in OP_KINDS and "flatten" in OP_KINDS


def test_bad_graphs_raise() -> None:
    g = LayerGraph("g", (), ())
    g.add_input("x", (1, 4))
    with pytest.raises(ValueError, match="reads tensor 'nope'"):
        g.add_op(Op("a", "relu", ("nope",), "y", ((1, 4),), (1, 4)))
    g.add_op(Op("a", "relu", ("x",), "y", ((1, 4),), (1, 4)))
    with pytest.raises(ValueError, match="writes tensor 'y' twice"):
        g.add_op(Op("b", "relu", ("x",), "y", ((1, 4),), (1, 4)))
    # shape disagreement between an op and the tensor it reads
    specs = {"x": TensorSpec("x", (1, 4)), "y": TensorSpec("y", (1, 4))}
    bad = LayerGraph("g", ("x",), ("y",), tensors=specs,
                     ops=[Op("a", "relu", ("x",), "y", ((1, 5),), (1, 4))])
    with pytest.raises(ValueError, match="input 'x' has shape"):
        bad.validate()
    # ops out of order
    t = {n: TensorSpec(n, (1, 4)) for n in ("x", "y", "z")}
    unordered = LayerGraph("g", ("x",), ("z",), tensors=t, ops=[
        Op("b", "relu", ("y",), "z", ((1, 4),), (1, 4)), Op("a", "relu", ("x",), "y", ((1, 4),), (1, 4))])
    with pytest.raises(ValueError, match="reads 'y' before it is produced"):
        unordered.validate()
    missing_out = LayerGraph("g", ("x",), ("w",), tensors=dict(t),
                             ops=[Op("a", "relu", ("x",), "y", ((1, 4),), (1, 4))])
    with pytest.raises(ValueError, match="graph output 'w' is never produced"):
        missing_out.validate()


def test_from_dict_rejects_other_formats() -> None:
    d = small_graph().to_dict()
    d["format"] = "something/2"
    with pytest.raises(ValueError, match="not a layer graph"):
        LayerGraph.from_dict(d)
    with pytest.raises(json.JSONDecodeError):
        LayerGraph.from_json("{not json")


def test_signature_ignores_names() -> None:
    a = Op("a", "relu", ("x",), "y", ((1, 4),), (1, 4))
    b = Op("other", "relu", ("p",), "q", ((1, 4),), (1, 4))
    assert a.signature() == b.signature() and a != b
    c = Op("a", "relu", ("x",), "y", ((1, 5),), (1, 5))
    assert a.signature() != c.signature()
    sig = small_graph().signature()
    assert len(sig) == 8 and all(len(t) == 9 for t in sig)
