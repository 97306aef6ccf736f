"""hwbench: a hardware-aware NAS benchmark and simulator suite.

Importing this package is cheap: it touches neither the filesystem nor torch/TVM. The public
names below are resolved lazily on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from hwbench._version import __version__

_LAZY = {
    "load": "hwbench.table",
    "Table": "hwbench.table",
    "get_space": "hwbench.spaces",
    "list_spaces": "hwbench.spaces",
    "HwbenchError": "hwbench.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hwbench' has no attribute {name!r}")
