"""The NAS-Bench-201 / NATS-Bench topology search space.

A cell is a DAG over 4 nodes; every edge ``j -> i`` (``j < i``) carries one of five operations.
The architecture string format is exactly NAS-Bench-201's::

    |nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|

(node 1's input edge, then node 2's two, then node 3's three, each ``op~source``).

**hwbench index order.** The six edges in string order ``(1<-0), (2<-0), (2<-1), (3<-0), (3<-1),
(3<-2)`` are the digits of a base-5 number, first edge most significant, with the op digits
``none=0, skip_connect=1, nor_conv_1x1=2, nor_conv_3x3=3, avg_pool_3x3=4`` (NAS-Bench-201's
``OPS`` list order). Index 0 is the all-``none`` cell, index 15,624 the all-``avg_pool_3x3`` one.
This differs from NAS-Bench-201's own index order; the NATS importer stores that order as a column
so users can query by either.

**Canonical form.** Two cells that compute the same function class share a canonical string,
computed exactly like NAS-Bench-201's ``Structure.to_unique_str(consider_zero=True)``: ``none``
edges and edges from zero nodes are ``#``, ``skip_connect`` passes its input's string through,
other ops wrap it as ``(input)@op``, and each node is the ``+``-join of its sorted inputs. This
gives the published 6,466 classes. (Like NAS-Bench-201's, the form does not merge every cell whose
output is disconnected from its input: ``(#+#)@nor_conv_3x3`` stays its own class. Use
:func:`is_connected` to find those cells.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from hwbench.errors import InvalidArchitectureError

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: (target node, source node) of the six edges in string order.
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
NUM_EDGES = len(EDGES)
NUM_OPS = len(OPS)
SIZE = NUM_OPS**NUM_EDGES  # 15,625
_OP_ID = {op: i for i, op in enumerate(OPS)}
_TOKEN = re.compile(r"^([a-z0-9_]+)~(\d+)$")

Arch = tuple[int, ...]  # six op ids, one per edge in string order


def _fail(arch: object, why: str) -> InvalidArchitectureError:
    return InvalidArchitectureError(
        f"invalid nb201 architecture {arch!r}: {why}. Expected NAS-Bench-201 format "
        f"'|op~0|+|op~0|op~1|+|op~0|op~1|op~2|' with op in {', '.join(OPS)}, "
        f"or an index in 0..{SIZE - 1}"
    )


def parse(arch_str: str) -> Arch:
    """Parse a NAS-Bench-201 architecture string strictly; raise on any deviation."""
    if not isinstance(arch_str, str):
        raise _fail(arch_str, f"expected a string, got {type(arch_str).__name__}")
    s = arch_str.strip()
    if not s:
        raise _fail(arch_str, "empty string")
    nodes = s.split("+")
    if len(nodes) != 3:
        raise _fail(arch_str, f"expected 3 nodes separated by '+', found {len(nodes)}")
    ops: list[int] = []
    for i, node in enumerate(nodes, start=1):
        if len(node) < 2 or not node.startswith("|") or not node.endswith("|"):
            raise _fail(arch_str, f"node {i} {node!r} must be enclosed in '|'")
        tokens = node[1:-1].split("|")
        if len(tokens) != i:
            raise _fail(arch_str, f"node {i} must have {i} input edge(s), found {len(tokens)}")
        for j, tok in enumerate(tokens):
            m = _TOKEN.match(tok)
            if m is None:
                raise _fail(arch_str, f"edge token {tok!r} is not 'op~source'")
            op, src = m.group(1), int(m.group(2))
            if op not in _OP_ID:
                raise _fail(arch_str, f"unknown op {op!r}")
            if src != j:
                raise _fail(arch_str, f"node {i}'s edge {j + 1} must come from node {j}, found ~{src}")
            ops.append(_OP_ID[op])
    return tuple(ops)


def to_str(arch: Sequence[int]) -> str:
    """Format op ids (one per edge) as a NAS-Bench-201 string."""
    a = _check_ops(arch)
    return "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*(OPS[o] for o in a))


def _check_ops(arch: Sequence[int]) -> Arch:
    a = tuple(int(o) for o in arch)
    if len(a) != NUM_EDGES or any(not 0 <= o < NUM_OPS for o in a):
        raise _fail(arch, f"expected {NUM_EDGES} op ids in 0..{NUM_OPS - 1}")
    return a


def to_index(arch: Sequence[int]) -> int:
    idx = 0
    for o in _check_ops(arch):
        idx = idx * NUM_OPS + o
    return idx


def from_index(index: int) -> Arch:
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise _fail(index, "expected an integer index")
    i = int(index)
    if not 0 <= i < SIZE:
        raise _fail(index, f"index out of range 0..{SIZE - 1}")
    out = []
    for _ in range(NUM_EDGES):
        out.append(i % NUM_OPS)
        i //= NUM_OPS
    return tuple(reversed(out))


def unique_str(arch: Sequence[int]) -> str:
    """NAS-Bench-201's ``to_unique_str(consider_zero=True)`` of a cell."""
    a = _check_ops(arch)
    nodes = {0: "0"}
    k = 0
    for i in range(1, 4):
        cur = []
        for j in range(i):
            op = OPS[a[k]]
            k += 1
            if op == "none" or nodes[j] == "#":
                cur.append("#")
            elif op == "skip_connect":
                cur.append(nodes[j])
            else:
                cur.append(f"({nodes[j]})@{op}")
        nodes[i] = "+".join(sorted(cur))
    return nodes[3]


def is_connected(arch: Sequence[int]) -> bool:
    """Whether the output node depends on the input (otherwise the cell outputs zeros)."""
    a = _check_ops(arch)
    reach = {0: True}
    k = 0
    for i in range(1, 4):
        r = False
        for j in range(i):
            r = r or (a[k] != 0 and reach[j])
            k += 1
        reach[i] = r
    return reach[3]


@dataclass(frozen=True)
class NB201Space:
    """The 15,625-cell NAS-Bench-201 topology space (see the module docstring for the orders)."""

    name: str = "nb201"
    ops: tuple[str, ...] = OPS
    edges: tuple[tuple[int, int], ...] = EDGES

    def __len__(self) -> int:
        return SIZE

    @property
    def size(self) -> int:
        return SIZE

    # -- identity -------------------------------------------------------------------------------
    def parse(self, arch: str | int | Sequence[int]) -> Arch:
        """Accept a string, an hwbench index or a sequence of op ids; return op ids."""
        if isinstance(arch, str):
            return parse(arch)
        if isinstance(arch, (int, np.integer)) and not isinstance(arch, bool):
            return from_index(int(arch))
        if isinstance(arch, (tuple, list, np.ndarray)):
            return _check_ops(arch)
        raise _fail(arch, f"unsupported type {type(arch).__name__}")

    def index(self, arch: str | int | Sequence[int]) -> int:
        return to_index(self.parse(arch))

    def arch_str(self, arch: str | int | Sequence[int]) -> str:
        return to_str(self.parse(arch))

    def enumerate(self) -> Iterator[str]:
        """All cells, as strings, in hwbench index order."""
        for i in range(SIZE):
            yield to_str(from_index(i))

    @cached_property
    def all_strings(self) -> tuple[str, ...]:
        return tuple(self.enumerate())

    @cached_property
    def op_matrix(self) -> np.ndarray:
        """(15625, 6) uint8 op ids in index order."""
        idx = np.arange(SIZE)
        cols = [(idx // NUM_OPS ** (NUM_EDGES - 1 - e)) % NUM_OPS for e in range(NUM_EDGES)]
        return np.stack(cols, axis=1).astype(np.uint8)

    # -- isomorphism ------------------------------------------------------------------------------
    def canonical(self, arch: str | int | Sequence[int]) -> str:
        """The isomorphism-canonical string (NAS-Bench-201's ``UniqueString``)."""
        return unique_str(self.parse(arch))

    @cached_property
    def canonical_ids(self) -> np.ndarray:
        """For each index, the smallest index of its isomorphism class (the class representative)."""
        rep: dict[str, int] = {}
        out = np.empty(SIZE, dtype=np.int32)
        for i in range(SIZE):
            u = unique_str(from_index(i))
            out[i] = rep.setdefault(u, i)
        return out

    @cached_property
    def representatives(self) -> np.ndarray:
        """Sorted indices of one cell per isomorphism class (6,466 of them)."""
        ids = self.canonical_ids
        return np.flatnonzero(ids == np.arange(SIZE)).astype(np.int32)

    def is_connected(self, arch: str | int | Sequence[int]) -> bool:
        return is_connected(self.parse(arch))

    # -- search operators -------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, n: int | None = None) -> str | list[str]:
        """Uniform random cell(s) as strings, from an explicit generator."""
        if n is None:
            return to_str(tuple(int(x) for x in rng.integers(0, NUM_OPS, NUM_EDGES)))
        return [to_str(tuple(int(x) for x in row)) for row in rng.integers(0, NUM_OPS, (n, NUM_EDGES))]

    def neighbours(self, arch: str | int | Sequence[int]) -> list[str]:
        """All 24 cells that differ from ``arch`` in exactly one edge, in edge then op order."""
        a = self.parse(arch)
        out = []
        for e in range(NUM_EDGES):
            for o in range(NUM_OPS):
                if o != a[e]:
                    b = list(a)
                    b[e] = o
                    out.append(to_str(b))
        return out

    def mutate(self, arch: str | int | Sequence[int], rng: np.random.Generator) -> str:
        """Change one uniformly chosen edge to a different, uniformly chosen op."""
        a = list(self.parse(arch))
        e = int(rng.integers(NUM_EDGES))
        o = int(rng.integers(NUM_OPS - 1))
        a[e] = o if o < a[e] else o + 1
        return to_str(a)

    # -- encodings --------------------------------------------------------------------------------
    def encode(self, archs: Sequence[str | int] | str | int, kind: str = "onehot") -> np.ndarray:
        """Encode one or many cells.

        ``onehot``: (n, 30) float32, edge-major blocks of 5.
        ``adjacency``: (n, 8, 8) + ops, see :meth:`encode_graph`; returned flattened as (n, 64 + 8*7).
        ``ops``: (n, 6) int op ids.
        """
        single = isinstance(archs, (str, int, np.integer))
        items = [archs] if single else list(archs)  # type: ignore[list-item]
        ids = np.array([self.parse(a) for a in items], dtype=np.int64).reshape(-1, NUM_EDGES)
        if kind == "ops":
            out = ids
        elif kind == "onehot":
            out = np.zeros((len(ids), NUM_EDGES * NUM_OPS), dtype=np.float32)
            rows = np.repeat(np.arange(len(ids)), NUM_EDGES)
            cols = (np.tile(np.arange(NUM_EDGES), len(ids)) * NUM_OPS + ids.ravel())
            out[rows, cols] = 1.0
        elif kind == "adjacency":
            out = np.stack([np.concatenate([m.ravel(), f.ravel()]) for m, f in map(self._graph_of, ids)])
        else:
            raise InvalidArchitectureError(f"unknown encoding {kind!r}; expected onehot, adjacency or ops")
        return out[0] if single else out

    def encode_graph(self, arch: str | int | Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Op-on-node graph (as in NAS-Bench-201 predictor papers): 8 nodes = input, 6 edge ops, output.

        Returns ``(adjacency (8, 8) uint8, node features (8, 7) float32)`` where features are a
        one-hot over ``[input, output] + OPS``.
        """
        return self._graph_of(np.array(self.parse(arch)))

    @staticmethod
    def _graph_of(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        adj = np.zeros((8, 8), dtype=np.uint8)
        feat = np.zeros((8, 2 + NUM_OPS), dtype=np.float32)
        feat[0, 0] = 1.0
        feat[7, 1] = 1.0
        # op node k+1 for edge k; a node's value = sum of incoming edge-op nodes
        into = {0: [0]}
        for k, (dst, src) in enumerate(EDGES):
            feat[k + 1, 2 + int(ids[k])] = 1.0
            for s in into[src]:
                adj[s, k + 1] = 1
            into.setdefault(dst, []).append(k + 1)
        for s in into[3]:
            adj[s, 7] = 1
        return adj, feat


SPACE = NB201Space()


@dataclass(frozen=True)
class MacroConfig:
    """The network skeleton around the cell for one dataset ("config").

    NAS-Bench-201's skeleton: a 3x3 conv stem with ``C`` channels, three stages of ``N`` cells
    with ``C``, ``2C``, ``4C`` channels separated by two residual reduction blocks (stride 2),
    then BN-ReLU, global average pooling and a linear classifier.
    """

    name: str
    in_channels: int
    resolution: int
    num_classes: int
    C: int = 16
    N: int = 5
    #: how the dataset's images become the network input ("" = as is); fashion-mnist trains on
    #: 12x12 inputs made from the 28x28 images (see hwbench/train/recipe.py TRANSFORMS)
    input_transform: str = ""

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (1, self.in_channels, self.resolution, self.resolution)


#: The configs of the nb201 space. ``fashion-mnist`` is the project's own CPU-trainable macro
#: (see docs/training.md for why its C and N were chosen).
CONFIGS: dict[str, MacroConfig] = {
    "cifar10": MacroConfig("cifar10", 3, 32, 10),
    "cifar100": MacroConfig("cifar100", 3, 32, 100),
    "imagenet16-120": MacroConfig("imagenet16-120", 3, 16, 120),
    "fashion-mnist": MacroConfig("fashion-mnist", 1, 12, 10, C=8, N=1, input_transform="crop24-pool2"),
}


def get_config(name: str | MacroConfig) -> MacroConfig:
    if isinstance(name, MacroConfig):
        return name
    try:
        return CONFIGS[name]
    except KeyError:
        from hwbench.errors import UnknownNameError

        raise UnknownNameError("config", name, CONFIGS) from None
