"""Activation memory over a layer graph's execution order (numpy only).

Liveness rule (the one every memory figure of hwbench uses):

* Ops run one at a time in the graph's order; step ``t`` is the execution of ``graph.ops[t]``.
* Every op output is a new buffer, except ``flatten``, whose output *aliases* its input (a
  reshape: no new buffer; a read of the flatten output is a read of the input's buffer).
* A buffer is live from the step of the op that produces it until the last step that reads it
  (directly or through an alias), both included. Graph inputs are live from step 0; graph
  outputs (and the buffers they alias) stay live to the last step. A buffer that nobody reads
  and that is not an output is live only at its own producer step.
* The live bytes at step ``t`` are the sum over buffers live at ``t``: the inputs and the output
  of op ``t`` plus everything produced earlier and still needed later. No op works in place and
  buffers are never shared (the model of a simple arena without in-place reuse; a planner that
  packs buffers into a fixed arena needs at least this much, and exactly this much when it
  packs without fragmentation).
* A buffer's size is ``numel * dtype_bits / 8`` of its tensor, or with ``dtype_bits`` given,
  every buffer at that width (e.g. 8 for an int8 deployment).

The peak activation memory is the maximum over steps (for a graph without ops: the inputs).
"""

from __future__ import annotations

import numpy as np

from simulators.ir import LayerGraph

__all__ = ["buffer_lifetimes", "live_bytes_timeline", "peak_activation_bytes"]


def buffer_lifetimes(graph: LayerGraph, dtype_bits: int | None = None) -> dict[str, tuple[int, int, int]]:
    """Buffer (root tensor name) -> (first live step, last live step, bytes); see the module doc."""
    n = len(graph.ops)
    last = max(n - 1, 0)
    root: dict[str, str] = {}
    life: dict[str, list[int]] = {}
    tensors = graph.tensors

    def size(name: str) -> int:
        t = tensors[name]
        bits = t.dtype_bits if dtype_bits is None else dtype_bits
        return t.numel * bits // 8

    for name in graph.inputs:
        root[name] = name
        life[name] = [0, 0, size(name)]
    for t, op in enumerate(graph.ops):
        for i in op.inputs:
            r = root[i]
            life[r][1] = max(life[r][1], t)
        if op.kind == "flatten" and len(op.inputs) == 1:
            root[op.output] = root[op.inputs[0]]
        else:
            root[op.output] = op.output
            life[op.output] = [t, t, size(op.output)]
    for name in graph.outputs:
        life[root[name]][1] = last
    return {k: (v[0], v[1], v[2]) for k, v in life.items()}


def live_bytes_timeline(graph: LayerGraph, dtype_bits: int | None = None) -> np.ndarray:
    """Live activation bytes at each step (int64 array, one entry per op in execution order)."""
    n = len(graph.ops)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    delta = np.zeros(n + 1, dtype=np.int64)
    for start, end, nbytes in buffer_lifetimes(graph, dtype_bits).values():
        delta[start] += nbytes
        delta[end + 1] -= nbytes
    return np.cumsum(delta[:n])


def peak_activation_bytes(graph: LayerGraph, dtype_bits: int | None = None) -> int:
    """Peak of :func:`live_bytes_timeline`; the graph inputs' size if the graph has no ops."""
    if not graph.ops:
        return sum(v[2] for v in buffer_lifetimes(graph, dtype_bits).values())
    return int(live_bytes_timeline(graph, dtype_bits).max())
