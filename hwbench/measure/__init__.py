"""Compiled (TVM) latency and memory of search-space cells: compile, measure, tune, remote devices.

Nothing here imports TVM, torch or ONNX Runtime at import time; every function imports what it
needs. See docs/measurement.md.
"""

from __future__ import annotations

from hwbench.measure.compile import (
    CompiledCell,
    CompileError,
    compile_cell,
    cuda_target,
    deployed_model,
    host_target,
    reference_model,
    target_json,
)
from hwbench.measure.protocol import ALL_CORES, ONE_THREAD, MeasureError, Protocol, Timing, measure_cell
from hwbench.measure.run import measure_campaign, measure_cells

__all__ = [
    "ALL_CORES",
    "ONE_THREAD",
    "CompileError",
    "CompiledCell",
    "MeasureError",
    "Protocol",
    "Timing",
    "compile_cell",
    "cuda_target",
    "deployed_model",
    "host_target",
    "measure_campaign",
    "measure_cell",
    "measure_cells",
    "reference_model",
    "target_json",
]
