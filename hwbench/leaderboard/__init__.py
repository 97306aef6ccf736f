"""The leaderboard: validated, re-scored submissions and a static site.

* :mod:`hwbench.leaderboard.schema` - the submission format ``hwbench.submission/1`` (JSON Schema);
* :mod:`hwbench.leaderboard.submit` - checks against the task and the table, re-scoring, storage;
* :mod:`hwbench.leaderboard.rerun` - re-executing the algorithm in its own process;
* :mod:`hwbench.leaderboard.build` - the static site (inline SVG plots, no scripts, no CDN);
* :mod:`hwbench.leaderboard.serve` - serving the site on localhost.

Names are resolved lazily: importing :mod:`hwbench.leaderboard` does no work.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "SCHEMA_ID": "hwbench.leaderboard.schema",
    "SubmissionError": "hwbench.leaderboard.schema",
    "json_schema": "hwbench.leaderboard.schema",
    "validate_document": "hwbench.leaderboard.schema",
    "submit": "hwbench.leaderboard.submit",
    "evaluate": "hwbench.leaderboard.submit",
    "read_submission": "hwbench.leaderboard.submit",
    "submission_id": "hwbench.leaderboard.submit",
    "submission_from_results": "hwbench.leaderboard.submit",
    "build_site": "hwbench.leaderboard.build",
    "load_entries": "hwbench.leaderboard.build",
    "verify": "hwbench.leaderboard.build",
    "serve": "hwbench.leaderboard.serve",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hwbench.leaderboard' has no attribute {name!r}")
