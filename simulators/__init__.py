"""Analytic device models over the layer-graph IR (numpy only)."""

from simulators.ir import OP_KINDS, LayerGraph, Op, TensorSpec

__all__ = ["OP_KINDS", "LayerGraph", "Op", "TensorSpec"]
