"""TF-Lite-Micro-style arena planning: greedy-by-size placement over buffer lifetimes.

Like TFLM's ``GreedyMemoryPlanner``: buffers (activation tensors and per-kernel scratch buffers such as
CMSIS-NN's im2col buffer) are sorted by size, largest first, and each is placed at the lowest offset
where it does not overlap, in address and in time, any buffer placed before it. The arena size is the
highest end address. Lifetimes are inclusive kernel-index ranges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Buffer:
    name: str
    size: int
    first: int
    last: int


@dataclass(frozen=True)
class ArenaPlan:
    """Placed buffers (offset per buffer) and the arena size in bytes."""

    buffers: tuple[Buffer, ...]
    offsets: tuple[int, ...]
    arena_bytes: int
    #: per kernel index, bytes live at that step (lower bound for any planner)
    live_bytes: np.ndarray

    @property
    def lower_bound(self) -> int:
        return int(self.live_bytes.max()) if len(self.live_bytes) else 0

    def offset_of(self, name: str) -> int:
        for b, o in zip(self.buffers, self.offsets):
            if b.name == name:
                return o
        raise KeyError(name)


def plan_arena(buffers: Sequence[Buffer], alignment: int = 16) -> ArenaPlan:
    """Greedy-by-size placement (see the module docstring); sizes are rounded up to ``alignment``."""
    bufs = [b for b in buffers if b.size > 0]
    order = sorted(range(len(bufs)), key=lambda i: (-bufs[i].size, bufs[i].first, i))
    placed: list[tuple[int, int, int, int]] = []  # (offset, end, first, last)
    offsets = [0] * len(bufs)
    for i in order:
        b = bufs[i]
        size = -(-b.size // alignment) * alignment
        overlapping = sorted((o, e) for o, e, f, l in placed if not (l < b.first or f > b.last))
        off = 0
        for o, e in overlapping:
            if off + size <= o:
                break
            off = max(off, e)
        offsets[i] = off
        placed.append((off, off + size, b.first, b.last))
    arena = max((e for _, e, _, _ in placed), default=0)
    n = max((b.last for b in bufs), default=-1) + 1
    live = np.zeros(max(n, 0), dtype=np.int64)
    for b in bufs:
        live[b.first:b.last + 1] += -(-b.size // alignment) * alignment
    return ArenaPlan(tuple(bufs), tuple(offsets), int(arena), live)
