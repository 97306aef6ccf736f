"""Compression benchmark: per-stage mixed-precision quantization and channel pruning of NB201 base networks.

Torch-free parts are importable directly (space, cost, base selection); the torch parts
(:mod:`hwbench.compress.nets`, :mod:`hwbench.compress.accuracy`, the campaign function) import torch
inside their functions. See docs/compression.md.
"""

from hwbench.compress.space import (
    SPACES,
    CompressionConfig,
    CompressionSpace,
    InvalidCompressionConfigError,
    get_space,
)

__all__ = [
    "SPACES",
    "CompressionConfig",
    "CompressionSpace",
    "InvalidCompressionConfigError",
    "compress_cost",
    "compressed_graph",
    "get_space",
]


def compress_cost(*args, **kwargs):  # type: ignore[no-untyped-def]
    """See :func:`hwbench.compress.cost.compress_cost`."""
    from hwbench.compress.cost import compress_cost as _impl

    return _impl(*args, **kwargs)


def compressed_graph(*args, **kwargs):  # type: ignore[no-untyped-def]
    """See :func:`hwbench.compress.cost.compressed_graph`."""
    from hwbench.compress.cost import compressed_graph as _impl

    return _impl(*args, **kwargs)
