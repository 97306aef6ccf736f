"""Feature matrices of NB201 cells for the predictors.

Kinds (``featurize(archs, kind, config)``):

``onehot``
    the space's one-hot cell encoding, (n, 30), edge-major blocks of 5 ops.
``ir``
    from the layer graph of the cell's full network for ``config`` (batch 1): the analytic
    ``params``, ``macs``, ``peak_activation_bytes`` (log1p-scaled) and the number of ops of each
    kind (conv2d, pooling, add, ...), (n, 3 + kinds).
``onehot+ir``
    both, concatenated.
``opcounts``
    the number of ops of each *op type* (kind + input/output shapes + kernel/stride/groups, batch
    dimension dropped) in the layer graph; the input of the layer-wise lookup table. The
    vocabulary is fixed per config (the op types of the five single-op cells, which contain every
    op type the space can produce), listed by :func:`opcount_vocabulary`.
``flops``
    one column: the analytic FLOPs (the FLOPs floor).

Every kind but ``onehot`` also exists as ``<kind>_pruned``: computed on the *pruned* cell, where
edges that carry zeros (``none``, or fed by a zero node) or whose result never reaches the cell
output are set to ``none``, and a cell without an input-output path becomes the all-``none`` cell.
That is the network a compiler that folds ``x * 0`` and removes dead code runs (and what the
simulators cost), while the plain kinds describe the network as built in torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from hwbench.errors import UnknownNameError

_BASE_KINDS: tuple[str, ...] = ("onehot", "ir", "onehot+ir", "opcounts", "flops")
KINDS: tuple[str, ...] = _BASE_KINDS + tuple(f"{k}_pruned" for k in _BASE_KINDS[1:])


def pruned(arch: Sequence[int]) -> tuple[int, ...]:
    """The cell with zero-carrying and dead edges set to ``none`` (all ``none`` if disconnected)."""
    from hwbench.spaces.nb201 import EDGES

    a = tuple(int(o) for o in arch)
    nz = {0: True}
    for i in (1, 2, 3):
        nz[i] = any(a[k] != 0 and nz[s] for k, (d, s) in enumerate(EDGES) if d == i)
    if not nz[3]:
        return (0,) * len(EDGES)
    useful = {3: True}
    for j in (2, 1, 0):
        useful[j] = any(a[k] != 0 and useful[d] for k, (d, s) in enumerate(EDGES) if s == j)
    return tuple(a[k] if (a[k] != 0 and nz[s] and useful[d]) else 0 for k, (d, s) in enumerate(EDGES))


def _op_key(op: Any) -> str:
    ins = ",".join("x".join(map(str, s[1:])) for s in op.in_shapes)
    out = "x".join(map(str, op.out_shape[1:]))
    return f"{op.kind}|in={ins}|out={out}|k={op.kernel}|s={op.stride}|p={op.padding}|g={op.groups}"


@lru_cache(maxsize=8)
def _vocab(config: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    from hwbench.builders.nb201_analytic import build_graph
    from hwbench.spaces.nb201 import NUM_EDGES, NUM_OPS

    keys: set[str] = set()
    kinds: set[str] = set()
    for o in range(NUM_OPS):
        for op in build_graph((o,) * NUM_EDGES, config).ops:
            keys.add(_op_key(op))
            kinds.add(op.kind)
    return tuple(sorted(keys)), tuple(sorted(kinds))


def opcount_vocabulary(config: str = "cifar10") -> list[str]:
    return list(_vocab(config)[0])


def feature_names(kind: str, config: str = "cifar10") -> list[str]:
    from hwbench.spaces.nb201 import EDGES, OPS

    if kind.endswith("_pruned") and kind in KINDS:
        return feature_names(kind[: -len("_pruned")], config)
    if kind == "onehot":
        return [f"edge{d}<-{s}={op}" for (d, s) in EDGES for op in OPS]
    if kind == "ir":
        return ["log1p_params", "log1p_macs", "log1p_peak_activation_bytes"] + [f"n_{k}" for k in _vocab(config)[1]]
    if kind == "onehot+ir":
        return feature_names("onehot", config) + feature_names("ir", config)
    if kind == "opcounts":
        return opcount_vocabulary(config)
    if kind == "flops":
        return ["flops"]
    raise UnknownNameError("feature kind", kind, KINDS)


def featurize(archs: Sequence[str | int], kind: str = "onehot+ir", config: str = "cifar10") -> np.ndarray:
    """(n, d) float64 features of ``archs`` (strings or hwbench indices); see the module docstring."""
    from hwbench.spaces.nb201 import SPACE, get_config

    cfg = get_config(config).name
    if kind not in KINDS:
        raise UnknownNameError("feature kind", kind, KINDS)
    if kind.endswith("_pruned"):
        return featurize([SPACE.index(pruned(SPACE.parse(a))) for a in archs], kind[: -len("_pruned")], cfg)
    if kind == "onehot":
        return np.asarray(SPACE.encode(list(archs), "onehot"), dtype=np.float64).reshape(len(archs), -1)
    if kind == "onehot+ir":
        return np.hstack([featurize(archs, "onehot", cfg), featurize(archs, "ir", cfg)])

    from hwbench.analytic import graph_metrics
    from hwbench.builders.nb201_analytic import build_graph

    vocab, kinds = _vocab(cfg)
    col = {k: i for i, k in enumerate(vocab if kind == "opcounts" else kinds)}
    width = {"opcounts": len(vocab), "ir": 3 + len(kinds), "flops": 1}[kind]
    out = np.zeros((len(archs), width), dtype=np.float64)
    for r, a in enumerate(archs):
        g = build_graph(SPACE.parse(a), cfg)
        if kind == "opcounts":
            for op in g.ops:
                key = _op_key(op)
                if key not in col:  # pragma: no cover - the vocabulary covers the space
                    raise UnknownNameError("op type", key, vocab)
                out[r, col[key]] += 1
            continue
        m = graph_metrics(g)
        if kind == "flops":
            out[r, 0] = m["flops"]
            continue
        out[r, :3] = np.log1p([m["params"], m["macs"], m["peak_activation_bytes"]])
        for op in g.ops:
            out[r, 3 + col[op.kind]] += 1
    return out
