"""Tabular objective (arrays over the space's rows) and a task resolved against it.

:class:`TabularObjective` is the only thing search and scoring read: numpy arrays indexed by the
space's row (hwbench index order). Build it from a table (:meth:`TabularObjective.from_table`) or
directly from arrays (tests, user data). :class:`Problem` = task + objective with the task's
thresholds, feasibility, scalar values, oracle and true Pareto front resolved once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from hwbench.search._errors import TaskNotRunnableError
from hwbench.search.tasks import Task


def _col(a: Any, n: int | None, what: str) -> np.ndarray:
    arr = np.array(a, dtype=np.float64, copy=True)
    if arr.ndim != 2:  # 2-D = one curve (e.g. per epoch) per row
        arr = arr.reshape(-1)
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{what}: expected {n} rows, got {arr.shape[0]}")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)  # frozen + cached_property: fine, it writes __dict__ directly
class TabularObjective:
    """Per-row arrays a task is evaluated on. NaN = missing (the cell is reported as failed).

    ``columns`` maps column name -> float64 array; ``search_column`` is told to algorithms,
    ``score_column`` is used only for scoring. ``time_column`` (optional) charges the clock.
    """

    columns: Mapping[str, np.ndarray]
    score_column: str
    search_column: str
    time_column: str | None = None
    table_sha256: str | None = None
    num_rows: int = field(init=False)

    def __post_init__(self) -> None:
        if not self.columns:
            raise ValueError("TabularObjective needs at least one column")
        n = len(next(iter(self.columns.values())))
        cols = {k: _col(v, n, f"column {k!r}") for k, v in self.columns.items()}
        object.__setattr__(self, "columns", cols)
        object.__setattr__(self, "num_rows", n)
        for c in (self.score_column, self.search_column, self.time_column):
            if c is not None and c not in cols:
                raise ValueError(f"column {c!r} not among {sorted(cols)}")
            if c is not None and cols[c].ndim != 1:
                raise ValueError(f"column {c!r} must be 1-D, got shape {cols[c].shape}")

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    @cached_property
    def data_sha256(self) -> str:
        """sha256 over the task's columns (names, roles and float64 values): what a score depends
        on, including user-imported overlay columns that a table file's hash does not cover."""
        import hashlib

        h = hashlib.sha256()
        h.update(f"score={self.score_column};search={self.search_column};time={self.time_column}\n".encode())
        for k in sorted(self.columns):
            h.update(k.encode() + b"\0" + str(self.columns[k].shape).encode())
            h.update(np.ascontiguousarray(self.columns[k], dtype="<f8").tobytes())
        return h.hexdigest()

    @classmethod
    def from_arrays(
        cls,
        accuracy: Any,
        costs: Mapping[str, Any],
        *,
        search_accuracy: Any | None = None,
        train_time_s: Any | None = None,
        accuracy_name: str = "accuracy",
        search_name: str = "search_accuracy",
        time_name: str = "train_time_s",
        table_sha256: str | None = None,
    ) -> TabularObjective:
        cols: dict[str, Any] = {accuracy_name: accuracy, **costs}
        if search_accuracy is not None:
            cols[search_name] = search_accuracy
        if train_time_s is not None:
            cols[time_name] = train_time_s
        return cls(
            cols,
            score_column=accuracy_name,
            search_column=search_name if search_accuracy is not None else accuracy_name,
            time_column=time_name if train_time_s is not None else None,
            table_sha256=table_sha256,
        )

    @classmethod
    def for_task(cls, task: Task, columns: Mapping[str, Any], table_sha256: str | None = None) -> TabularObjective:
        """Pick the task's columns out of ``columns`` (name -> array). The searched column falls
        back to the scored one when the validation column is absent (recorded in ``search_column``)."""
        missing = task.missing_columns(columns)
        if missing:
            raise TaskNotRunnableError(
                f"task {task.name} needs column(s) {', '.join(missing)} that the table does not have"
            )
        names = task.required_columns()
        search = task.search_accuracy if task.search_accuracy and task.search_accuracy in columns else task.accuracy
        if search not in names:
            names.append(search)
        return cls(
            {k: columns[k] for k in names},
            score_column=task.accuracy,
            search_column=search,
            time_column=task.time_column,
            table_sha256=table_sha256,
        )

    @classmethod
    def from_table(cls, table: Any, task: Task) -> TabularObjective:
        """Read the task's columns from an hwbench table (anything with ``metrics``,
        ``column(name)`` and optionally ``sha256``)."""
        metrics = list(table.metrics)
        missing = task.missing_columns(metrics)
        if missing:
            raise TaskNotRunnableError(
                f"task {task.name} needs column(s) {', '.join(missing)} that the table does not have; "
                f"import or build them first (see `hwbench metrics`)"
            )
        names = task.required_columns()
        if task.search_accuracy and task.search_accuracy in metrics:
            names.append(task.search_accuracy)
        cols = {k: np.asarray(table.column(k), dtype=np.float64) for k in dict.fromkeys(names)}
        return cls.for_task(task, cols, table_sha256=_sha_of(table))


def _hv2d(points: np.ndarray) -> float:
    """Hypervolume of 2-D points to *minimise*, each in [0, 1], w.r.t. the reference point (1, 1)."""
    if points.size == 0:
        return 0.0
    p = points[np.all(points < 1.0, axis=1)]
    if p.size == 0:
        return 0.0
    order = np.lexsort((p[:, 1], p[:, 0]))  # by x, then y
    p = p[order]
    best_y = np.minimum.accumulate(p[:, 1])
    keep = np.concatenate([[True], best_y[1:] < best_y[:-1]])
    f = p[keep]  # non-dominated, x increasing, y decreasing
    xs = np.append(f[1:, 0], 1.0)
    return float(np.sum((xs - f[:, 0]) * (1.0 - f[:, 1])))


def hypervolume_2d(points: np.ndarray, reference: tuple[float, float] = (1.0, 1.0)) -> float:
    """Exact hypervolume dominated by 2-D points (both objectives minimised) up to ``reference``."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    ref = np.asarray(reference, dtype=np.float64)
    if pts.size == 0:
        return 0.0
    span = np.where(ref != 0, np.abs(ref), 1.0)
    # translate so the reference is (1, 1) in a scaled frame, then rescale the area
    scaled = 1.0 - (ref - pts) / span
    return _hv2d(scaled) * float(span[0] * span[1])


def pareto_mask(acc: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Boolean mask of points not dominated (maximise ``acc``, minimise ``cost``); ties kept once."""
    n = len(acc)
    order = np.lexsort((-acc, cost))  # cost ascending, then accuracy descending
    mask = np.zeros(n, dtype=bool)
    best = -np.inf
    for i in order:
        if acc[i] > best:
            mask[i] = True
            best = acc[i]
    return mask


class Problem:
    """A task resolved against a :class:`TabularObjective` (thresholds, feasibility, oracle)."""

    def __init__(self, task: Task, objective: TabularObjective) -> None:
        self.task = task
        self.objective = objective
        n = objective.num_rows
        self.num_rows = n
        self.search_acc = objective[objective.search_column]
        self.score_acc = objective[objective.score_column]
        self.cost_names: tuple[str, ...] = tuple(task.costs)
        self.costs = {c: objective[c] for c in self.cost_names}
        self.thresholds = {c.metric: c.resolve(objective[c.metric]) for c in task.constraints}
        viol = np.zeros(n)
        ok = np.isfinite(self.search_acc) & np.isfinite(self.score_acc)
        for m, thr in self.thresholds.items():
            v = objective[m]
            ok &= np.isfinite(v) & (v <= thr)
            rel = np.where(np.isfinite(v), np.maximum(v - thr, 0.0) / max(abs(thr), 1e-300), np.inf)
            viol += rel
        for c in self.cost_names:
            ok &= np.isfinite(objective[c])
        self.feasible = ok
        self.violation = viol
        self.target = (
            task.target.resolve(objective[task.target.metric]) if task.target is not None else None
        )
        if task.kind == "scalarized":
            self.search_value = self._reward(self.search_acc)
            self.score_value = self._reward(self.score_acc)
        else:
            self.search_value = self.search_acc
            self.score_value = self.score_acc
        if not ok.any():
            raise TaskNotRunnableError(f"task {task.name}: no cell of the table is feasible")
        if objective.time_column is not None:
            t = objective[objective.time_column]
            self.time_s: np.ndarray | None = t
        else:
            self.time_s = None
        self.curve: np.ndarray | None = None
        self.max_epochs: int | None = None
        if task.curve_column is not None:
            curve = objective[task.curve_column]
            if curve.ndim != 2 or curve.shape[1] < 1:
                raise TaskNotRunnableError(
                    f"task {task.name}: {task.curve_column} must be a 2-D (rows x epochs) column, "
                    f"got shape {curve.shape}"
                )
            self.curve = curve
            self.max_epochs = int(curve.shape[1])
        b = task.budget
        if b.evaluations is not None:
            self.max_evaluations: int | None = b.evaluations
            self.max_seconds: float | None = None
        else:
            self.max_evaluations = None
            if self.time_s is None:
                raise TaskNotRunnableError(f"task {task.name}: a budget in seconds needs a time column")
            med = float(np.nanmedian(self.time_s))
            self.max_seconds = float(b.seconds) if b.seconds is not None else float(b.median_evaluations) * med  # type: ignore[arg-type]

    def value_at(self, i: int, acc: float) -> float:
        """The task's scalar for row ``i`` if its searched accuracy were ``acc`` (fidelity queries)."""
        if self.task.kind != "scalarized":
            return float(acc)
        return float(self._reward(np.array([acc]), rows=np.array([i]))[0])

    def _reward(self, acc: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        assert self.target is not None
        cost = self.objective[self.task.target.metric]  # type: ignore[union-attr]
        if rows is not None:
            cost = cost[rows]
        ratio = cost / self.target
        w = np.where(ratio <= 1.0, self.task.alpha, self.task.beta)
        with np.errstate(invalid="ignore", divide="ignore"):
            return acc * np.power(ratio, w)

    # -- oracle ---------------------------------------------------------------------------------
    @cached_property
    def oracle_index(self) -> int:
        """The best feasible row by the scored value (the task's oracle)."""
        v = np.where(self.feasible, self.score_value, -np.inf)
        return int(np.argmax(v))

    @cached_property
    def oracle_value(self) -> float:
        return float(self.score_value[self.oracle_index])

    @cached_property
    def floor_value(self) -> float:
        """Worst feasible scored value: what a run that found no feasible cell is credited with."""
        return float(np.min(self.score_value[self.feasible]))

    # -- Pareto ---------------------------------------------------------------------------------
    @cached_property
    def bounds(self) -> tuple[float, float, float, float]:
        """(acc_ref, acc_max, cost_min, cost_max) over feasible rows, for normalisation. The
        accuracy reference is the *median* feasible accuracy (the minimum would let degenerate cells
        at chance level stretch the axis so that every run scores ~99 % of the true volume)."""
        f = self.feasible
        cost = self.costs[self.cost_names[0]][f]
        acc = self.score_acc[f]
        return float(np.median(acc)), float(acc.max()), float(cost.min()), float(cost.max())

    def normalized(self, acc: np.ndarray, cost: np.ndarray) -> np.ndarray:
        """Map (accuracy, cost) to [0, 1]^2 to minimise; the reference point (1, 1) is the median
        feasible accuracy and the largest feasible cost of the table (points beyond it count 0)."""
        a0, a1, c0, c1 = self.bounds
        x = (np.asarray(cost, dtype=np.float64) - c0) / max(c1 - c0, 1e-300)
        y = (a1 - np.asarray(acc, dtype=np.float64)) / max(a1 - a0, 1e-300)
        return np.stack([x, y], axis=1)

    def front_hypervolume(self, rows: np.ndarray) -> float:
        """Normalised HV of the front *selected on the searched accuracy* among ``rows``, valued
        with the scored accuracy."""
        rows = np.asarray(rows, dtype=np.int64)
        rows = rows[self.feasible[rows]]
        if rows.size == 0:
            return 0.0
        rows = np.unique(rows)
        cost = self.costs[self.cost_names[0]][rows]
        sel = rows[pareto_mask(self.search_acc[rows], cost)]
        return _hv2d(self.normalized(self.score_acc[sel], self.costs[self.cost_names[0]][sel]))

    @cached_property
    def true_front(self) -> np.ndarray:
        """Row indices of the true Pareto front (scored accuracy vs cost) over feasible rows."""
        rows = np.flatnonzero(self.feasible)
        mask = pareto_mask(self.score_acc[rows], self.costs[self.cost_names[0]][rows])
        return np.asarray(rows[mask], dtype=np.int64)

    @cached_property
    def true_hypervolume(self) -> float:
        rows = self.true_front
        return _hv2d(self.normalized(self.score_acc[rows], self.costs[self.cost_names[0]][rows]))


class ColumnSource:
    """A minimal table-like view over in-memory columns (``metrics``, ``column``, ``sha256``), and
    the way to lay extra columns (e.g. from reference CSVs) over a real table's."""

    def __init__(self, columns: Mapping[str, Any], sha256: str | None = None, base: Any | None = None) -> None:
        self._cols = {k: np.asarray(v, dtype=np.float64) for k, v in columns.items()}
        self._base = base
        self.sha256 = sha256 if sha256 is not None else self._digest()

    def _digest(self) -> str:
        """sha256 over the base table's hash and the extra columns' names and float64 bytes."""
        import hashlib

        h = hashlib.sha256()
        h.update(str(_sha_of(self._base) if self._base is not None else "").encode())
        for k in sorted(self._cols):
            h.update(k.encode() + b"\0")
            h.update(np.ascontiguousarray(self._cols[k], dtype="<f8").tobytes())
        return h.hexdigest()

    @property
    def metrics(self) -> list[str]:
        names = list(self._base.metrics) if self._base is not None else []
        return names + [k for k in self._cols if k not in names]

    def column(self, name: str) -> np.ndarray:
        if name in self._cols:
            return self._cols[name]
        if self._base is not None:
            return np.asarray(self._base.column(name), dtype=np.float64)
        from hwbench.errors import UnknownMetricError

        raise UnknownMetricError(name, self._cols)


def _sha_of(table: Any) -> str | None:
    sha = getattr(table, "sha256", None)
    return sha() if callable(sha) else sha
