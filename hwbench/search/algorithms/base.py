"""The ask/tell protocol every search algorithm implements.

An algorithm never holds the table. The runner calls :meth:`Algorithm.setup` once with a
:class:`TaskSpec` (what the task exposes: space, objective kind, metric names, constraints, budget)
and an ``np.random.Generator`` it owns, then alternates :meth:`Algorithm.ask` (propose one cell as
an NB201 string, an hwbench index or op ids) and :meth:`Algorithm.tell` (an immutable
:class:`Trial` with what the table says about it: searched accuracy and costs, never the scored
accuracy). :meth:`Algorithm.close` is called at the end, also on errors.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np


class TrialState(enum.Enum):
    COMPLETE = "complete"  #: evaluated and feasible
    INFEASIBLE = "infeasible"  #: evaluated, violates a hard constraint of the task
    FAILED = "failed"  #: the table has no value (NaN) for this cell


@dataclass(frozen=True)
class Trial:
    """One evaluation, as told to the algorithm.

    ``values``: column -> value for the searched accuracy (key ``accuracy``) and each cost column.
    ``score``: the task's scalar to maximise (accuracy for constrained tasks, the MnasNet reward for
    scalarized ones), ``None`` for infeasible/failed trials and for Pareto tasks.
    ``objectives``: (searched accuracy, cost_1, ...) for Pareto tasks (accuracy maximised, costs
    minimised). ``violation``: summed relative violation of the hard constraints (0 if feasible).
    """

    number: int
    arch: str
    index: int
    state: TrialState
    values: Mapping[str, float]
    score: float | None
    objectives: tuple[float, ...]
    violation: float
    cost_s: float
    clock_s: float
    epochs: int | None = None  #: the fidelity queried (None = full training)

    @property
    def feasible(self) -> bool:
        return self.state is TrialState.COMPLETE

    def to_message(self) -> dict[str, Any]:
        """The JSON form sent to external algorithms. Strict JSON has no NaN or Infinity: every
        non-finite number becomes null (NaN = missing value; an infinite ``violation`` = a
        constraint metric missing for the cell; an infinite cost or reward)."""

        def f(x: float | None) -> float | None:
            return None if x is None or not math.isfinite(x) else float(x)

        return {
            "number": self.number,
            "arch": self.arch,
            "index": self.index,
            "state": self.state.value,
            "values": {k: f(v) for k, v in self.values.items()},
            "score": f(self.score),
            "objectives": [f(x) for x in self.objectives],
            "violation": f(self.violation),
            "cost_s": f(self.cost_s),
            "clock_s": f(self.clock_s),
            "epochs": self.epochs,
        }


@dataclass(frozen=True)
class Query:
    """A multi-fidelity proposal: ``arch`` trained for ``epochs`` (1..``TaskSpec.max_epochs``).
    The runner tells the searched accuracy after that epoch and charges ``epochs / max_epochs`` of
    the cell's training time. Only tasks with a ``curve_column`` and a budget in seconds accept it."""

    arch: str | int | tuple[int, ...]
    epochs: int


def frozen_mapping(d: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class TaskSpec:
    """What an algorithm may know about a task (no table, no scored accuracy)."""

    task: str
    space: str
    kind: str
    accuracy: str  # the searched column (told as values["accuracy"])
    costs: tuple[str, ...]
    constraints: Mapping[str, float] = field(default_factory=dict)  # metric -> resolved upper bound
    max_evaluations: int | None = None
    max_seconds: float | None = None
    num_cells: int = 15625
    max_epochs: int | None = None  #: set on multi-fidelity tasks (Query accepted)

    @property
    def multi_objective(self) -> bool:
        return self.kind == "pareto"

    def to_message(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "space": self.space,
            "kind": self.kind,
            "accuracy": self.accuracy,
            "costs": list(self.costs),
            "constraints": dict(self.constraints),
            "max_evaluations": self.max_evaluations,
            "max_seconds": self.max_seconds,
            "num_cells": self.num_cells,
            "max_epochs": self.max_epochs,
        }


Proposal = str | int | Sequence[int] | Query


class Algorithm:
    """Base class. Subclasses implement ``_setup`` (optional), ``ask`` and ``tell``.

    Keyword parameters go to ``__init__`` and are reported by :meth:`get_params` (stored in
    results so a run can be reproduced). Randomness must come only from ``self.rng``.
    """

    name: str = "algorithm"
    #: whether the algorithm can handle Pareto tasks
    supports_multi_objective: bool = True

    def __init__(self, **params: Any) -> None:
        self._params = dict(params)
        self.spec: TaskSpec | None = None
        self.rng: np.random.Generator = np.random.default_rng(0)

    def get_params(self) -> dict[str, Any]:
        return dict(self._params)

    def setup(self, spec: TaskSpec, rng: np.random.Generator) -> None:
        from hwbench.search._errors import TaskNotRunnableError

        if spec.multi_objective and not self.supports_multi_objective:
            raise TaskNotRunnableError(
                f"algorithm {self.name!r} is single-objective and cannot run Pareto task {spec.task}"
            )
        self.spec = spec
        self.rng = rng
        from hwbench.spaces import get_space

        self.space = get_space(spec.space)
        self._setup()

    def _setup(self) -> None:
        """Hook: reset state for a new run."""

    def ask(self) -> Proposal:  # pragma: no cover - abstract
        raise NotImplementedError

    def tell(self, trial: Trial) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        """Release resources (processes, files). Called once at the end of each run."""


def fitness_key(trial: Trial) -> tuple[float, float]:
    """Total order for single-objective selection: feasible before infeasible, then by score;
    infeasible ones by smaller violation; failed ones last."""
    if trial.state is TrialState.COMPLETE and trial.score is not None:
        return (1.0, float(trial.score))
    if trial.state is TrialState.INFEASIBLE:
        return (0.0, -float(trial.violation))
    return (-1.0, 0.0)


def dominates(a: Trial, b: Trial) -> bool:
    """Whether ``a`` Pareto-dominates ``b`` (feasible over infeasible; accuracy up, costs down)."""
    if a.feasible != b.feasible:
        return a.feasible
    if not a.feasible:
        return a.violation < b.violation
    xa = (-a.objectives[0], *a.objectives[1:])
    xb = (-b.objectives[0], *b.objectives[1:])
    return all(p <= q for p, q in zip(xa, xb)) and any(p < q for p, q in zip(xa, xb))


def best_of(trials: Sequence[Trial], multi_objective: bool, reference: Sequence[Trial] | None = None) -> Trial:
    """The tournament winner: max :func:`fitness_key`, or for Pareto tasks the trial dominated by
    the fewest members of ``reference`` (default: ``trials``; earliest on ties)."""
    if not multi_objective:
        return max(trials, key=fitness_key)
    ref = trials if reference is None else reference
    counts = [sum(dominates(o, t) for o in ref) for t in trials]
    return trials[int(np.argmin(counts))]
