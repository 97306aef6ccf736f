"""Search tasks, the ask/tell algorithm interface, the runner and scoring.

Public names are resolved lazily (importing :mod:`hwbench.search` does no work)::

    from hwbench.search import get_task, problem_for, create_algorithm, run, score_trajectory
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Task": "hwbench.search.tasks",
    "Budget": "hwbench.search.tasks",
    "Threshold": "hwbench.search.tasks",
    "TaskRegistry": "hwbench.search.tasks",
    "get_task": "hwbench.search.tasks",
    "list_tasks": "hwbench.search.tasks",
    "is_task": "hwbench.search.tasks",
    "register_task": "hwbench.search.tasks",
    "TabularObjective": "hwbench.search.problem",
    "Problem": "hwbench.search.problem",
    "hypervolume_2d": "hwbench.search.problem",
    "Algorithm": "hwbench.search.algorithms",
    "Trial": "hwbench.search.algorithms",
    "Query": "hwbench.search.algorithms",
    "TrialState": "hwbench.search.algorithms",
    "TaskSpec": "hwbench.search.algorithms",
    "create_algorithm": "hwbench.search.algorithms",
    "list_algorithms": "hwbench.search.algorithms",
    "TaskRun": "hwbench.search.runner",
    "Trajectory": "hwbench.search.runner",
    "run": "hwbench.search.runner",
    "run_seeds": "hwbench.search.runner",
    "problem_for": "hwbench.search.runner",
    "score_trajectory": "hwbench.search.scoring",
    "aggregate": "hwbench.search.scoring",
    "score_results": "hwbench.search.scoring",
    "ExternalAlgorithm": "hwbench.search.external",
    "InvalidProposalError": "hwbench.search._errors",
    "BudgetExhaustedError": "hwbench.search._errors",
    "TaskNotRunnableError": "hwbench.search._errors",
    "ResultsFormatError": "hwbench.search._errors",
    "ExternalAlgorithmError": "hwbench.search._errors",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hwbench.search' has no attribute {name!r}")
