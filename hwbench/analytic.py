"""Analytic (device-independent) metrics of NB201 networks, computed from the layer graph.

Every metric is a pure function of the architecture and the config, computed on the graph of
:func:`hwbench.builders.nb201_analytic.build_graph` (batch 1). Definitions (also in
``docs/metrics.md``):

``params``
    learnable parameters: conv and linear weights and biases, batch-norm scale and shift
    (running statistics are buffers and excluded); equals ``sum(p.numel() for p in
    model.parameters())`` of the torch model and NAS-Bench-201's published parameter counts.
``macs``
    multiply-accumulates of conv2d, depthwise conv and linear ops (batch 1). Element-wise work
    (batch norm, activations, adds, pooling) is not included.
``flops``
    ``2 * macs`` (one multiply and one add per MAC); like ``macs``, conv/linear only.
``peak_activation_bytes``
    peak live activation memory over the execution order at fp32 (4 bytes per element), by the
    liveness rule of :mod:`simulators.memory` (every op output is a new buffer except
    ``flatten``; a buffer lives from its producer to its last reader; input and output included).
``weight_bytes_fp32``
    ``4 * params``.
``weight_bytes_int8``
    an int8 deployment without batch-norm folding: 1 byte per conv/linear weight, 4 bytes
    (int32, as TFLite / CMSIS-NN store int8-layer biases) per bias, and 4 bytes per batch-norm
    scale and shift (kept at 32 bits). Folding batch norm into the preceding conv, as most
    int8 tool chains do, would save part of the latter; device models that fold report their own
    storage figure.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hwbench.spaces.nb201 import SIZE, SPACE, MacroConfig, get_config
from simulators.ir import MAC_KINDS, LayerGraph
from simulators.memory import peak_activation_bytes

__all__ = ["METRIC_INFO", "analytic_metrics", "graph_metrics", "space_metrics"]

#: metric name -> (unit, description)
METRIC_INFO: dict[str, tuple[str, str]] = {
    "params": ("count", "learnable parameters (conv/linear weights and biases, batch-norm scale and shift)"),
    "macs": ("count", "multiply-accumulates of conv and linear ops at batch 1"),
    "flops": ("count", "floating-point operations of conv and linear ops at batch 1, defined as 2 * macs"),
    "peak_activation_bytes": ("bytes", "peak live activation memory over the execution order, batch 1, fp32 "
                              "(liveness rule of simulators.memory)"),
    "weight_bytes_fp32": ("bytes", "parameter storage at 4 bytes per parameter"),
    "weight_bytes_int8": ("bytes", "parameter storage with int8 conv/linear weights, int32 biases and 32-bit "
                          "batch-norm scale/shift (no folding)"),
}


def graph_metrics(graph: LayerGraph) -> dict[str, float]:
    """The :data:`METRIC_INFO` metrics of any layer graph (its own batch size and dtypes)."""
    params = macs = int8 = 0
    for op in graph.ops:
        p = op.weight_count + op.bias_count
        if p:
            params += p
            if op.kind in MAC_KINDS:
                int8 += op.weight_count + 4 * op.bias_count
            else:
                int8 += 4 * p
        if op.kind in MAC_KINDS:
            macs += op.macs
    return {
        "params": float(params),
        "macs": float(macs),
        "flops": float(2 * macs),
        "peak_activation_bytes": float(peak_activation_bytes(graph)),
        "weight_bytes_fp32": float(4 * params),
        "weight_bytes_int8": float(int8),
    }


def analytic_metrics(
    arch: str | int | Sequence[int], config: str | MacroConfig = "cifar10"
) -> dict[str, float]:
    """All :data:`METRIC_INFO` metrics of one NB201 cell for ``config`` (batch 1, fp32 activations)."""
    from hwbench.builders.nb201_analytic import build_graph

    return graph_metrics(build_graph(arch, config))


def space_metrics(config: str | MacroConfig = "cifar10", progress: bool = True) -> dict[str, np.ndarray]:
    """The metrics of all 15,625 cells in hwbench index order: name -> float64 array of length 15,625.

    Computed per cell from its full graph (cells of one isomorphism class can differ: an op on an
    edge whose result is later multiplied by zero still runs and costs).
    """
    from tqdm.auto import tqdm

    from hwbench.builders.nb201_analytic import build_graph

    cfg = get_config(config)
    out = {name: np.full(SIZE, np.nan) for name in METRIC_INFO}
    ops = SPACE.op_matrix
    bar = tqdm(range(SIZE), desc=f"analytic metrics nb201/{cfg.name}", disable=not progress, mininterval=1.0)
    for i in bar:
        m = graph_metrics(build_graph(tuple(int(o) for o in ops[i]), cfg))
        for name, v in m.items():
            out[name][i] = v
    return out
