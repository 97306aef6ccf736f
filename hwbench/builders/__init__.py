"""Layer-graph builders: from a search-space architecture (analytic, no torch) or from any
``torch.nn.Module`` (through ``torch.export``). Both produce :class:`simulators.ir.LayerGraph`.

``graph_from_module`` imports torch only when called.
"""

from __future__ import annotations

from typing import Any

from hwbench.builders.nb201_analytic import build_graph

__all__ = ["build_graph", "graph_from_exported_program", "graph_from_module"]


def graph_from_module(
    module: Any, example_input: Any, name: str | None = None, *, decompose: bool = False
) -> Any:
    """See :func:`hwbench.builders.torch_export.graph_from_module`."""
    from hwbench.builders.torch_export import graph_from_module as _impl

    return _impl(module, example_input, name, decompose=decompose)


def graph_from_exported_program(ep: Any, name: str = "model") -> Any:
    """See :func:`hwbench.builders.torch_export.graph_from_exported_program`."""
    from hwbench.builders.torch_export import graph_from_exported_program as _impl

    return _impl(ep, name)
