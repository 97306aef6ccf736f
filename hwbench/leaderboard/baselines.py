"""Baseline entries: run the built-in algorithms on every runnable task and submit them (re-run).

Two task families, each with its own default algorithms:

* **NB201 tasks** (space ``nb201``; columns from the table): :data:`NB201_ALGORITHMS`. Only tasks
  whose every column is *committable* are eligible by default: the column is in the shipped table
  file (not a user overlay) and its source is not ``imported`` (external data such as NATS-Bench
  accuracies, which the project may not redistribute; an entry's evaluation and Pareto fronts
  contain accuracy values). ``include_overlay=True`` lifts the first condition for local
  experiments (entries made that way must not be committed).
* **compression tasks** (spaces ``compress:<space>:<base>``; accuracy from the project's own
  compression campaign shards, costs analytic, :func:`hwbench.compress.tasks.compression_source`):
  :data:`COMPRESSION_ALGORITHMS`. Eligible when the campaign has the task's accuracy table
  (:func:`hwbench.compress.tasks.availability`).

Tasks tagged ``test`` are left out of a selection by pattern (:func:`select_tasks`) unless asked
for. Algorithms that cannot run a task are skipped with the reason (single-objective algorithms on
Pareto tasks, compression-only algorithms on NB201 tasks).

Generation is **resumable**: before running a (task, algorithm) pair, the stored entries of the
task are read; a baseline entry of that algorithm (author :data:`BASELINE_AUTHOR`) made on the
task's current column data (same ``data_sha256``) means the pair is done (status ``exists``).
An entry made on other column data is **stale** (``hwbench leaderboard verify`` fails on it): a
new entry is made and the stale file is named so that it can be removed. Since submissions are
bound to the task's columns only, rebuilding the table without changing those columns keeps every
entry valid.
"""

from __future__ import annotations

import fnmatch
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: the author name of every baseline entry (how stored baselines are recognised)
BASELINE_AUTHOR = "hwbench baselines"
#: the default algorithms of NB201 tasks (local-search and reinforce skip Pareto tasks)
NB201_ALGORITHMS: tuple[str, ...] = ("random", "regularized-evolution", "local-search", "reinforce")
#: the default algorithms of compression tasks (haq-reinforce skips Pareto tasks)
COMPRESSION_ALGORITHMS: tuple[str, ...] = ("greedy-bits", "haq-reinforce", "regularized-evolution", "random")
#: kept for compatibility: the NB201 defaults
DEFAULT_ALGORITHMS: tuple[str, ...] = NB201_ALGORITHMS
#: statuses of :class:`BaselineResult`
STATUSES: tuple[str, ...] = ("stored", "exists", "would-run", "skipped", "present", "missing", "stale")


@dataclass(frozen=True)
class BaselineResult:
    """One row of ``hwbench leaderboard baselines``.

    ``status``: ``stored`` (made now), ``exists`` (already stored on the current data, not re-run),
    ``would-run`` (``dry_run``), ``skipped`` (``detail`` says why); in a gap report (:func:`baseline_gaps`)
    ``present``, ``missing`` or ``stale``. ``stale`` lists stored baseline entries of the same pair
    made on other column data (they no longer verify)."""

    task: str
    algorithm: str
    status: str
    detail: str
    stale: tuple[str, ...] = ()

    def to_row(self) -> dict[str, str]:
        detail = self.detail
        if self.stale:
            detail += ("; " if detail else "") + "stale entr" + ("y " if len(self.stale) == 1 else "ies ") \
                + ", ".join(self.stale) + " (made on other column data: remove)"
        return {"task": self.task, "algorithm": self.algorithm, "status": self.status, "detail": detail}


# -- families and algorithms --------------------------------------------------------------------
def is_compression_task(task: Any) -> bool:
    from hwbench.compress.tasks import is_compression_space

    return is_compression_space(str(task.space))


def default_algorithms(task: Any) -> tuple[str, ...]:
    """The baseline algorithms of the task's family."""
    return COMPRESSION_ALGORITHMS if is_compression_task(task) else NB201_ALGORITHMS


def _needs_compression_space(cls: Any) -> bool:
    return bool(getattr(cls, "requires_compression_space", cls.__module__ == "hwbench.compress.baselines"))


def algorithm_skip(task: Any, algorithm: str) -> str | None:
    """``None`` if ``algorithm`` can run ``task``, else why not."""
    from hwbench.search.algorithms import get_algorithm_class

    cls = get_algorithm_class(algorithm)
    if task.kind == "pareto" and not getattr(cls, "supports_multi_objective", True):
        return "single-objective algorithm, Pareto task"
    if _needs_compression_space(cls) and not is_compression_task(task):
        return "needs a compression search space (compress:<space>:<base>)"
    return None


def check_algorithms(algorithms: Iterable[str]) -> tuple[str, ...]:
    """Validate algorithm names (built-in or installed; ``exec:`` is not a baseline)."""
    from hwbench.errors import UnknownNameError
    from hwbench.search.algorithms import is_algorithm, list_algorithms

    out = tuple(a.strip() for a in algorithms if a.strip())
    for a in out:
        if a.startswith("exec:") or not is_algorithm(a):
            raise UnknownNameError("algorithm", a, list_algorithms())
    return out


# -- task eligibility ---------------------------------------------------------------------------
def _columns_of(task: Any, table: Any) -> list[str]:
    cols: list[str] = list(task.required_columns())
    if task.search_accuracy and task.search_accuracy in table.metrics:
        cols.append(task.search_accuracy)
    return cols


def eligibility(task: Any, table: Any, include_overlay: bool = False, *,
                compress_store: str | os.PathLike[str] | None = None) -> str | None:
    """``None`` if baseline entries for ``task`` may be made (and committed), else why not.

    NB201 tasks: every column in ``table`` (see the module docstring). Compression tasks: the
    campaign under ``compress_store`` (default ``datasets/shards``) has the task's accuracy table."""
    if is_compression_task(task):
        from hwbench.compress.tasks import DEFAULT_STORE, availability

        avail = availability(task, compress_store if compress_store is not None else DEFAULT_STORE)
        return None if avail == "yes" else avail.removeprefix("no: ")
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


def _patterns(patterns: str | Sequence[str]) -> list[str]:
    if isinstance(patterns, str):
        patterns = patterns.split(",")
    return [p.strip() for p in patterns if p.strip()] or ["*"]


def select_tasks(patterns: str | Sequence[str] = "*", *, include_test: bool = False) -> tuple[list[str], list[BaselineResult]]:
    """Registered tasks matching any of ``patterns`` (fnmatch; a string may hold several, comma
    separated): (the tasks to consider, rows for the ``test``-tagged ones left out)."""
    from hwbench.search.tasks import default_registry

    reg = default_registry()
    names = sorted({n for p in _patterns(patterns) for n in reg.names(p)})
    keep: list[str] = []
    skipped: list[BaselineResult] = []
    for n in names:
        if "test" in reg.get(n).tags and not include_test:
            skipped.append(BaselineResult(n, "*", "skipped", "tagged test (smoke task; --include-test to run it)"))
        else:
            keep.append(n)
    return keep, skipped


def eligible_tasks(table: Any, pattern: str = "*", include_overlay: bool = False) -> list[str]:
    """The NB201-table tasks matching ``pattern`` (not tagged ``test``) that are eligible on ``table``."""
    from hwbench.search.tasks import default_registry

    return [t.name for t in default_registry().list(pattern)
            if "test" not in t.tags and not is_compression_task(t) and eligibility(t, table, include_overlay) is None]


# -- data and stored entries --------------------------------------------------------------------
def task_source(task: Any, table: Any, compress_store: str | os.PathLike[str] | None = None,
                cost_cache: str | os.PathLike[str] | None | bool = True) -> Any:
    """The columns a task runs on: ``table`` for NB201 tasks, the compression campaign + analytic
    costs for compression tasks (``cost_cache=True``: the default cache folder)."""
    if not is_compression_task(task):
        return table
    from hwbench.compress.tasks import DEFAULT_COST_CACHE, DEFAULT_STORE, compression_source

    cache = DEFAULT_COST_CACHE if cost_cache is True else (cost_cache or None)
    return compression_source(task, compress_store if compress_store is not None else DEFAULT_STORE, cache)


def _costs_cached(task: Any, cost_cache: str | os.PathLike[str] | None | bool) -> bool:
    """Whether loading a compression task's columns is cheap (its analytic costs are cached)."""
    from hwbench.compress.bases import ROLES
    from hwbench.compress.tasks import DEFAULT_COST_CACHE, DEVICE, JOINT, _cost_model_key, parse_space_name

    cache = DEFAULT_COST_CACHE if cost_cache is True else cost_cache
    if not cache:
        return False
    space, base = parse_space_name(task.space)
    key = _cost_model_key()
    # the devices whose columns the task reads (``compress/<space>/<base>/<device>/<metric>``)
    devices = {DEVICE} | {c.split("/")[3] for c in task.required_columns() if c.count("/") == 4}
    return all((Path(cache) / f"{space}-{b}-{d}-{key}.npz").is_file()
               for b in (ROLES if base == JOINT else (base,)) for d in devices)


def stored_baselines(root: str | os.PathLike[str], task: str) -> dict[str, list[tuple[str, str | None]]]:
    """Algorithm -> [(entry path relative to ``root``, its data_sha256)] of the baseline entries
    (author :data:`BASELINE_AUTHOR`) stored for ``task``; unreadable files are ignored (``verify``
    reports them)."""
    out: dict[str, list[tuple[str, str | None]]] = {}
    folder = Path(root) / "submissions" / task
    if not folder.is_dir():
        return out
    for p in sorted(folder.glob("*.json")):
        try:
            sub = json.loads(p.read_text(encoding="utf-8"))["submission"]
            if sub.get("authors") != [{"name": BASELINE_AUTHOR}]:
                continue
            algo = (sub.get("rerun") or {}).get("algorithm") or sub["algorithm"]["name"]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        out.setdefault(str(algo), []).append((p.relative_to(root).as_posix(), sub.get("data_sha256")))
    return out


# -- generation ---------------------------------------------------------------------------------
def _pairs(tasks: Sequence[Any], algorithms: Sequence[str] | None) -> int:
    return sum(len(algorithms or default_algorithms(t)) for t in tasks)


def make_baselines(root: str | os.PathLike[str], table: Any, tasks: Iterable[str],
                   algorithms: Sequence[str] | None = None, *, rerun: bool = True,
                   include_overlay: bool = False, compress_store: str | os.PathLike[str] | None = None,
                   cost_cache: str | os.PathLike[str] | None | bool = True, dry_run: bool = False,
                   progress: bool = False) -> list[BaselineResult]:
    """For every task x algorithm (default: the task family's, :func:`default_algorithms`): skip it
    if a baseline entry made on the task's current column data is stored (``exists``), else run
    the task's seeds, wrap the results as a submission and submit it (re-run in its own process
    unless ``rerun=False``). With ``dry_run`` nothing is run or written (``would-run``); a
    compression task whose analytic costs are not cached yet is then matched by algorithm only
    (computing the costs can take minutes)."""
    from hwbench._version import __version__
    from hwbench.errors import HwbenchError
    from hwbench.leaderboard.schema import SubmissionError
    from hwbench.leaderboard.submit import submission_from_results, submit
    from hwbench.search.algorithms import create_algorithm
    from hwbench.search.runner import problem_for, results_dict, run_seeds
    from hwbench.search.tasks import get_task

    algos = check_algorithms(algorithms) if algorithms else None
    task_objs = [get_task(n) for n in tasks]
    bar: Any = None
    if progress and not dry_run:
        from tqdm import tqdm

        bar = tqdm(total=_pairs(task_objs, algos), desc="baselines", unit="run")
    out: list[BaselineResult] = []
    try:
        for task in task_objs:
            names = algos or default_algorithms(task)
            why = eligibility(task, table, include_overlay, compress_store=compress_store)
            problem = data = None
            if why is None and (not dry_run or not is_compression_task(task) or _costs_cached(task, cost_cache)):
                try:
                    problem = problem_for(task, task_source(task, table, compress_store, cost_cache))
                    data = problem.objective.data_sha256
                except HwbenchError as exc:
                    why = str(exc)
            if why is not None:
                out.append(BaselineResult(task.name, "*", "skipped", why))
                if bar is not None:
                    bar.update(len(names))
                continue
            have = stored_baselines(root, task.name)
            for algo in names:
                if bar is not None:
                    bar.set_postfix_str(f"{task.name} {algo}", refresh=True)
                skip = algorithm_skip(task, algo)
                entries = have.get(algo, [])
                same = [p for p, d in entries if data is None or d == data]
                stale = tuple(p for p, d in entries if data is not None and d != data)
                if skip is not None:
                    out.append(BaselineResult(task.name, algo, "skipped", skip))
                elif same:
                    note = "" if data is not None else " (data hash not checked: costs not cached)"
                    out.append(BaselineResult(task.name, algo, "exists", str(Path(root) / same[0]) + note))
                elif dry_run:
                    what = f"{task.seeds} seed(s) x {task.budget.describe()}" + (", re-run" if rerun else "")
                    if data is None:
                        what += "; analytic costs computed first (not cached)"
                    out.append(BaselineResult(task.name, algo, "would-run", what, stale))
                else:
                    assert problem is not None
                    trajs = run_seeds(problem, lambda a=algo: create_algorithm(a), range(task.seeds))  # type: ignore[misc]
                    doc = submission_from_results(
                        results_dict(problem, algo, trajs), authors=[{"name": BASELINE_AUTHOR}],
                        version=f"hwbench {__version__}", url=None, license="Apache-2.0",
                        notes=f"built-in `{algo}`, default parameters; made by `hwbench leaderboard baselines`",
                    )
                    try:
                        acc = submit(doc, root, problem=problem, rerun=rerun)
                    except SubmissionError as exc:
                        if "already stored" not in exc.rule:
                            raise
                        out.append(BaselineResult(task.name, algo, "exists", exc.rule, stale))
                    else:
                        out.append(BaselineResult(task.name, algo, "stored", str(acc.path), stale))
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return out


def baseline_gaps(root: str | os.PathLike[str], table: Any, tasks: Iterable[str],
                  algorithms: Sequence[str] | None = None, *, include_overlay: bool = False,
                  compress_store: str | os.PathLike[str] | None = None,
                  cost_cache: str | os.PathLike[str] | None | bool = True) -> list[BaselineResult]:
    """Which runnable tasks lack baseline entries under ``root``: per task x algorithm ``present``,
    ``missing`` or ``stale`` (only entries made on other column data); ``skipped`` rows say why a
    task or algorithm is not expected. Runs and writes nothing."""
    out = []
    for r in make_baselines(root, table, tasks, algorithms, include_overlay=include_overlay,
                            compress_store=compress_store, cost_cache=cost_cache, dry_run=True):
        if r.status == "exists":
            r = BaselineResult(r.task, r.algorithm, "present", r.detail)
        elif r.status == "would-run":
            r = BaselineResult(r.task, r.algorithm, "stale" if r.stale else "missing",
                               "no baseline entry on the task's current column data", r.stale)
        out.append(r)
    return out


def has_gaps(results: Iterable[BaselineResult]) -> bool:
    return any(r.status in ("missing", "stale") for r in results)


def match_tasks(names: Iterable[str], pattern: str) -> list[str]:
    """``names`` matching any comma-separated fnmatch pattern of ``pattern``."""
    pats = _patterns(pattern)
    return [n for n in names if any(fnmatch.fnmatch(n, p) for p in pats)]


def source_with_compression(table: Any, tasks: Iterable[str], compress_store: str | os.PathLike[str] | None = None,
                            cost_cache: str | os.PathLike[str] | None | bool = True) -> Any:
    """``table`` with the columns of the given compression tasks laid over it (those whose data is
    available), so one source serves ``verify`` of NB201 and compression entries alike."""
    from hwbench.errors import HwbenchError
    from hwbench.search.problem import ColumnSource
    from hwbench.search.tasks import get_task

    cols: dict[str, Any] = {}
    done: set[str] = set()
    for n in tasks:
        t = get_task(n)
        if not is_compression_task(t) or t.space in done:
            continue
        done.add(t.space)
        try:
            src = task_source(t, table, compress_store, cost_cache)
        except HwbenchError:
            continue  # verify reports the task as not runnable
        cols.update({m: src.column(m) for m in src.metrics})
    return ColumnSource(cols, base=table) if cols else table
