"""Baseline entries: run the built-in algorithms on the shipped tasks and submit them (re-run).

Only tasks whose every column is *committable* are eligible by default: the column is in the
shipped table file (not a user overlay) and its source is not ``imported`` (external data such
as NATS-Bench accuracies, which the project may not redistribute; an entry's evaluation and
Pareto fronts contain accuracy values). ``include_overlay=True`` lifts the first condition for
local experiments (entries made that way must not be committed).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

#: the algorithms every baseline set includes (multi-objective-incapable ones skip Pareto tasks)
DEFAULT_ALGORITHMS: tuple[str, ...] = ("random", "regularized-evolution", "local-search", "reinforce")


@dataclass(frozen=True)
class BaselineResult:
    task: str
    algorithm: str
    status: str  # "stored", "exists", "skipped"
    detail: str


def _columns_of(task: Any, table: Any) -> list[str]:
    cols: list[str] = list(task.required_columns())
    if task.search_accuracy and task.search_accuracy in table.metrics:
        cols.append(task.search_accuracy)
    return cols


def eligibility(task: Any, table: Any, include_overlay: bool = False) -> str | None:
    """``None`` if baseline entries for ``task`` may be made (and committed), else why not."""
    have = set(table.metrics)
    missing = [c for c in _columns_of(task, table) if c not in have]
    if missing:
        return "missing columns " + ", ".join(missing)
    for c in _columns_of(task, table):
        info = table.column_info(c)
        if info.source == "imported":
            return f"column {c} is imported external data (not redistributable)"
        if info.origin != "table" and not include_overlay:
            return f"column {c} comes from the user overlay, not the shipped table"
    return None


def eligible_tasks(table: Any, pattern: str = "*", include_overlay: bool = False) -> list[str]:
    from hwbench.search.tasks import default_registry

    return [t.name for t in default_registry().list(pattern)
            if "test" not in t.tags and eligibility(t, table, include_overlay) is None]


def make_baselines(root: str | os.PathLike[str], table: Any, tasks: Iterable[str],
                   algorithms: Sequence[str] = DEFAULT_ALGORITHMS, *, rerun: bool = True,
                   include_overlay: bool = False) -> list[BaselineResult]:
    """For every task x algorithm: run the task's seeds, wrap as a submission, submit it."""
    from hwbench._version import __version__
    from hwbench.leaderboard.schema import SubmissionError
    from hwbench.leaderboard.submit import submission_from_results, submit
    from hwbench.search.algorithms import create_algorithm, get_algorithm_class
    from hwbench.search.runner import problem_for, results_dict, run_seeds
    from hwbench.search.tasks import get_task

    out: list[BaselineResult] = []
    for name in tasks:
        task = get_task(name)
        why = eligibility(task, table, include_overlay)
        if why is not None:
            out.append(BaselineResult(task.name, "*", "skipped", why))
            continue
        problem = problem_for(task, table)
        for algo in algorithms:
            if task.kind == "pareto" and not getattr(get_algorithm_class(algo), "supports_multi_objective", True):
                out.append(BaselineResult(task.name, algo, "skipped", "single-objective algorithm, Pareto task"))
                continue
            trajs = run_seeds(problem, lambda a=algo: create_algorithm(a), range(task.seeds))  # type: ignore[misc]
            doc = submission_from_results(
                results_dict(problem, algo, trajs), authors=[{"name": "hwbench baselines"}],
                version=f"hwbench {__version__}", url=None, license="Apache-2.0",
                notes=f"built-in `{algo}`, default parameters; made by `hwbench leaderboard baselines`",
            )
            try:
                acc = submit(doc, root, problem=problem, rerun=rerun)
            except SubmissionError as exc:
                if "already stored" in exc.rule:
                    out.append(BaselineResult(task.name, algo, "exists", exc.rule))
                    continue
                raise
            out.append(BaselineResult(task.name, algo, "stored", str(acc.path)))
    return out
