"""Validate a submission against its task and the table, re-score it, and store it.

Rules (each rejection is one :class:`~hwbench.leaderboard.schema.SubmissionError` naming the field
and the rule):

1. the file: at most ``MAX_FILE_BYTES``, UTF-8, strict JSON (no NaN, no duplicate keys);
2. the schema ``hwbench.submission/1`` (:mod:`hwbench.leaderboard.schema`);
3. ``task``: a registered task, exact version, runnable on the loaded table;
4. ``data_sha256``: equal to the hash of the task's columns as loaded (what the score depends on).
   ``table_sha256`` (the table file the run used) is provenance: a rebuilt table whose task
   columns are unchanged (new columns for other targets, other configs) still scores the entry,
   and the evaluation records the table it was scored on;
5. ``runs[].seed``: exactly the seeds the task requires, ``0 .. task.seeds - 1``, once each;
6. every architecture a cell of the task's space, the budget never overrun, the recorded clock
   (and fidelities) equal to the table's (a replay through the runner's own checks);
7. the score is re-computed from the table; anything under ``scores`` is dropped.

Accepted entries are written to ``<root>/submissions/<task>/<id>.json``; ``id`` is the first 16 hex
digits of the sha256 of the canonical JSON of the submission (without ``scores``). An existing
file is never overwritten (an identical submission is rejected as a duplicate).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.leaderboard.schema import (
    MAX_FILE_BYTES,
    SCHEMA_ID,
    SubmissionError,
    parse_bytes,
    validate_document,
)

ENTRY_FORMAT = "hwbench.leaderboard-entry/1"
#: fields of a submission that are not stored (re-computed, or informational only)
IGNORED_FIELDS = ("scores",)
ID_HEX = 16


@dataclass(frozen=True)
class Evaluated:
    """A submission that passed every check, with its re-computed evaluation."""

    submission: dict[str, Any]
    evaluation: dict[str, Any]
    problem: Any  # hwbench.search.problem.Problem
    indices: tuple[tuple[int, ...], ...]  # per run, the replayed row indices
    epochs: tuple[tuple[int | None, ...], ...]

    @property
    def id(self) -> str:
        return submission_id(self.submission)


@dataclass(frozen=True)
class Accepted:
    id: str
    path: Path
    entry: dict[str, Any]


# -- reading ------------------------------------------------------------------------------------
def read_submission(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read, parse and schema-check a submission file."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SubmissionError("(file)", f"is {size} bytes; the limit is {MAX_FILE_BYTES} bytes")
        with p.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise SubmissionError("(file)", f"{str(p)!r} does not exist") from None
    except IsADirectoryError:
        raise SubmissionError("(file)", f"{str(p)!r} is a directory, not a submission file") from None
    except OSError as exc:
        raise SubmissionError("(file)", f"cannot read {str(p)!r}: {exc.strerror}") from None
    return parse_document(raw)


def parse_document(raw: bytes | str) -> dict[str, Any]:
    """Parse and schema-check a submission given as bytes or text."""
    doc = parse_bytes(raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw)
    validate_document(doc)
    return doc  # type: ignore[no-any-return]


def normalized(doc: dict[str, Any]) -> dict[str, Any]:
    """The stored form: the submission without the ignored fields."""
    return {k: v for k, v in doc.items() if k not in IGNORED_FIELDS}


def canonical_json(doc: dict[str, Any]) -> bytes:
    return json.dumps(normalized(doc), sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode()


def submission_id(doc: dict[str, Any]) -> str:
    """Content-derived id: sha256 of the canonical JSON (sorted keys, no scores), 16 hex digits."""
    return hashlib.sha256(canonical_json(doc)).hexdigest()[:ID_HEX]


# -- checking against the table -----------------------------------------------------------------
def resolve_task(doc: dict[str, Any]) -> Any:
    from hwbench.errors import UnknownNameError
    from hwbench.search.tasks import default_registry

    name = doc["task"]
    try:
        task = default_registry().get(name)
    except UnknownNameError as exc:
        valid = ", ".join(exc.close) if exc.close else "see `hwbench tasks list`"
        raise SubmissionError("task", f"must be a registered task name with its version; {name!r} is not "
                              f"(closest: {valid})") from None
    if task.name != name:
        raise SubmissionError("task", f"must name the exact version, e.g. {task.name!r}")
    return task


def load_problem(task: Any, source: Any | None = None) -> Any:
    """The task resolved against ``source`` (a table-like object) or the task space's table."""
    from hwbench.search._errors import TaskNotRunnableError
    from hwbench.search.runner import problem_for

    try:
        if str(task.space).startswith("compress:") and (source is None or task.missing_columns(source.metrics)):
            from hwbench.compress.tasks import compression_source  # compression campaign + analytic costs

            source = compression_source(task)
        elif source is None:
            from hwbench.table import load

            source = load(task.space)
        return problem_for(task, source)
    except TaskNotRunnableError as exc:
        raise SubmissionError("task", f"must be runnable on the loaded table to be scored: {exc}") from None


def _check_seeds(doc: dict[str, Any], task: Any) -> None:
    want = list(range(task.seeds))
    seen: dict[int, int] = {}
    for k, run in enumerate(doc["runs"]):
        s = run["seed"]
        if s in seen:
            raise SubmissionError(f"runs[{k}].seed", f"seed {s} appears twice (also runs[{seen[s]}]); each seed once")
        if s >= task.seeds:
            raise SubmissionError(f"runs[{k}].seed", f"task {task.name} requires seeds 0..{task.seeds - 1}; "
                                  f"{s} is not one of them")
        seen[s] = k
    missing = [s for s in want if s not in seen]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        raise SubmissionError("runs", f"task {task.name} requires seeds 0..{task.seeds - 1}, one run each; "
                              f"missing seed(s) {shown}")


def _replay(problem: Any, k: int, run: dict[str, Any]) -> tuple[list[int], list[float], list[int | None]]:
    """Re-evaluate one run through a fresh TaskRun, naming the offending field on failure."""
    from hwbench.search._errors import BudgetExhaustedError, InvalidProposalError
    from hwbench.search.algorithms.base import Query
    from hwbench.search.runner import TaskRun

    archs = run["archs"]
    clock = run.get("clock_s")
    epochs = run.get("epochs")
    for name, arr in (("clock_s", clock), ("epochs", epochs)):
        if arr is not None and len(arr) != len(archs):
            raise SubmissionError(f"runs[{k}].{name}", f"must have one entry per architecture ({len(archs)}), "
                                  f"has {len(arr)}")
    session = TaskRun(problem)
    space = session.space.name
    for j, a in enumerate(archs):
        e = None if epochs is None else epochs[j]
        try:
            t = session.evaluate(a if e is None else Query(a, e))
        except BudgetExhaustedError:
            raise SubmissionError(f"runs[{k}].archs", f"overruns the budget of task {problem.task.name} "
                                  f"({problem.task.budget.describe()}) at trial {j}") from None
        except InvalidProposalError as exc:
            if e is not None and "epochs" in str(exc):
                raise SubmissionError(f"runs[{k}].epochs[{j}]", str(exc)) from None
            raise SubmissionError(f"runs[{k}].archs[{j}]", f"must be a cell of space {space}: "
                                  f"{str(exc)[:300]}") from None
        if clock is not None and not math.isclose(t.clock_s, float(clock[j]), rel_tol=1e-9, abs_tol=1e-9):
            raise SubmissionError(f"runs[{k}].clock_s[{j}]", f"must equal the table's simulated clock "
                                  f"{t.clock_s!r} s, is {clock[j]!r}")
    tr = session.trials
    return [t.index for t in tr], [t.clock_s for t in tr], [t.epochs for t in tr]


def _f(x: Any) -> Any:
    """JSON-safe float (NaN/inf -> None), recursively."""
    if isinstance(x, dict):
        return {str(k): _f(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_f(v) for v in x]
    if isinstance(x, np.ndarray):
        return _f(x.tolist())
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def _front_points(problem: Any, rows: np.ndarray) -> list[list[float]]:
    """(cost, scored accuracy) of the front a run reports (selected on the searched accuracy)."""
    from hwbench.search.problem import pareto_mask

    rows = np.asarray(rows, dtype=np.int64)
    rows = np.unique(rows[problem.feasible[rows]])
    if rows.size == 0:
        return []
    cost = problem.costs[problem.cost_names[0]]
    sel = rows[pareto_mask(problem.search_acc[rows], cost[rows])]
    sel = sel[np.argsort(cost[sel], kind="stable")]
    return [[float(cost[i]), float(problem.score_acc[i])] for i in sel]


def evaluate(doc: dict[str, Any], source: Any | None = None, problem: Any | None = None) -> Evaluated:
    """Run every check that needs the table and re-compute the score (ignoring ``scores``)."""
    from hwbench.search.scoring import aggregate, score_trajectory

    task = resolve_task(doc)
    if problem is None:
        problem = load_problem(task, source)
    obj = problem.objective
    if doc["data_sha256"] != obj.data_sha256:
        raise SubmissionError("data_sha256", f"must equal the sha256 of task {task.name}'s columns as loaded "
                              f"({obj.data_sha256}); the submission was produced on other column data")
    _check_seeds(doc, task)
    runs = sorted(enumerate(doc["runs"]), key=lambda kr: kr[1]["seed"])
    scores: list[Any] = []
    all_idx: list[tuple[int, ...]] = []
    all_eps: list[tuple[int | None, ...]] = []
    for k, run in runs:
        idx, clk, eps = _replay(problem, k, run)
        scores.append(score_trajectory(problem, idx, clk, seed=int(run["seed"]), epochs=eps))
        all_idx.append(tuple(idx))
        all_eps.append(tuple(eps))
    summary = aggregate(scores)
    space = _space(task.space)
    kind = task.kind
    per_run: list[dict[str, Any]] = []
    for s, ridx, reps in zip(scores, all_idx, all_eps):
        r: dict[str, Any] = {"seed": s.seed, "regret": s.regret, "value": s.value, "evaluations": s.evaluations,
                             "clock_s": s.clock_s}
        if kind == "pareto":
            full = np.array([i for i, e in zip(ridx, reps) if e is None], dtype=np.int64)
            r["front"] = _front_points(problem, full)
        else:
            r["incumbent"] = None if s.incumbent is None else space.arch_str(int(s.incumbent))
        per_run.append(r)
    evaluation: dict[str, Any] = {
        "metric": "1 - HV/HV_true" if kind == "pareto" else "regret",
        "lower_is_better": True,
        "kind": kind,
        "oracle": scores[0].oracle,
        "clock_unit": "evaluations" if problem.max_evaluations is not None else "simulated s",
        "summary": summary.to_dict(),
        "runs": per_run,
        "scored_on_table_sha256": obj.table_sha256,
        "data_sha256": obj.data_sha256,
    }
    if kind == "pareto":
        evaluation["cost"] = task.costs[0]
        evaluation["accuracy"] = obj.score_column
        evaluation["true_front"] = _front_points(problem, problem.true_front)
    return Evaluated(normalized(doc), _f(evaluation), problem, tuple(all_idx), tuple(all_eps))


def _space(name: str) -> Any:
    from hwbench.spaces import get_space

    return get_space(name)


# -- storing ------------------------------------------------------------------------------------
def entry_path(root: str | os.PathLike[str], task: str, sid: str) -> Path:
    """``<root>/submissions/<task>/<id>.json``, refusing anything that would leave ``root``."""
    import re

    if not re.fullmatch(r"[a-z0-9][a-z0-9_\-]*\.v[0-9]+", task) or not re.fullmatch(r"[0-9a-f]{16}", sid):
        raise SubmissionError("task", f"cannot store under task {task[:80]!r} / id {sid[:80]!r}")
    base = (Path(root) / "submissions").resolve()
    p = (base / task / f"{sid}.json").resolve()
    if base not in p.parents:
        raise SubmissionError("task", "would be stored outside the leaderboard folder")
    return p


def make_entry(ev: Evaluated, verified: bool, verification: str, accepted: str | None = None) -> dict[str, Any]:
    from hwbench._version import __version__

    return {
        "format": ENTRY_FORMAT,
        "id": ev.id,
        "accepted": accepted or _dt.datetime.now(_dt.UTC).date().isoformat(),
        "hwbench_version": __version__,
        "verified": bool(verified),
        "verification": verification,
        "submission": ev.submission,
        "evaluation": ev.evaluation,
    }


def write_entry(root: str | os.PathLike[str], entry: dict[str, Any]) -> Path:
    """Write an entry without ever replacing an existing file (link from a temp file = atomic,
    and fails if the name exists)."""
    task = entry["submission"]["task"]
    path = entry_path(root, task, entry["id"])
    if path.exists():
        raise SubmissionError("(document)", f"an identical submission is already stored as "
                              f"submissions/{task}/{path.name}; entries are never overwritten")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(entry, indent=1, sort_keys=False, allow_nan=False, ensure_ascii=False) + "\n",
                   encoding="utf-8")
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise SubmissionError("(document)", f"an identical submission is already stored as "
                              f"submissions/{task}/{path.name}; entries are never overwritten") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def submit(path_or_doc: str | os.PathLike[str] | dict[str, Any], root: str | os.PathLike[str] = "leaderboard",
           *, source: Any | None = None, problem: Any | None = None, rerun: bool = False,
           accepted: str | None = None, dry_run: bool = False) -> Accepted:
    """Validate, re-score and (unless ``dry_run``) store a submission. With ``rerun`` the
    algorithm is re-executed in its own process for every submitted seed
    (:func:`hwbench.leaderboard.rerun.rerun`); the entry is marked verified only if all
    trajectories match, and a mismatch rejects the submission."""
    if isinstance(path_or_doc, dict):
        doc = path_or_doc
        validate_document(doc)
    else:
        doc = read_submission(path_or_doc)
    ev = evaluate(doc, source, problem)
    verified, note = False, "not re-run"
    if rerun:
        from hwbench.leaderboard.rerun import rerun as do_rerun

        note = do_rerun(ev)  # raises SubmissionError on a mismatch
        verified = True
    entry = make_entry(ev, verified, note, accepted)
    if dry_run:
        return Accepted(ev.id, entry_path(root, doc["task"], ev.id), entry)
    return Accepted(ev.id, write_entry(root, entry), entry)


def submission_from_results(results: dict[str, Any], *, authors: list[dict[str, str]], version: str,
                            url: str | None, license: str, name: str | None = None, notes: str | None = None,
                            rerun: dict[str, Any] | None = None) -> dict[str, Any]:
    """Wrap a results file of ``hwbench run --out`` as a submission (metadata added, scores dropped).

    The algorithm name of the results (built-in, entry point or ``exec:COMMAND``) becomes the
    default ``rerun`` recipe."""
    import shlex

    algo = results["algorithm"]
    params = dict(algo.get("params") or {})
    aname = str(algo["name"])
    display = aname
    if aname.startswith("exec:"):
        argv = shlex.split(aname[len("exec:"):])
        display = "exec:" + (os.path.basename(argv[-1]) if argv else "")
        params = {}
        if rerun is None:
            rerun = {"command": argv}
    elif rerun is None:
        rerun = {"algorithm": aname, "params": params}
    doc: dict[str, Any] = {
        "schema": SCHEMA_ID,
        "task": results["task"]["name"],
        "table_sha256": results.get("table_sha256"),
        "data_sha256": results.get("data_sha256"),
        "algorithm": {"name": name or display[:100], "version": version, **({"url": url} if url else {}),
                      "license": license, "params": params},
        "authors": authors,
        "runs": results["runs"],
        "rerun": rerun,
    }
    if notes:
        doc["notes"] = notes
    if results.get("hwbench_version"):
        doc["hwbench_version"] = results["hwbench_version"]
    validate_document(doc)
    return doc
