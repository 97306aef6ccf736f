"""The runner: owns the randomness, the simulated clock and the budget; records trajectories.

Per seed the algorithm gets ``np.random.default_rng(np.random.SeedSequence(seed))`` and nothing
else random exists in the loop, so the same algorithm, task and seed give a bit-identical
trajectory. Each evaluation advances the simulated clock by the cell's training time when the task
has a time column (else by 1 "second" per evaluation, i.e. the clock counts evaluations).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.errors import InvalidArchitectureError
from hwbench.search._errors import BudgetExhaustedError, InvalidProposalError, ResultsFormatError
from hwbench.search.algorithms.base import Algorithm, Query, TaskSpec, Trial, TrialState, frozen_mapping
from hwbench.search.problem import Problem
from hwbench.search.tasks import Task

RESULTS_FORMAT = "hwbench.search-results"
RESULTS_VERSION = 1


def task_spec(problem: Problem) -> TaskSpec:
    t = problem.task
    return TaskSpec(
        task=t.name,
        space=t.space,
        kind=t.kind,
        accuracy=problem.objective.search_column,
        costs=tuple(t.costs),
        constraints=dict(problem.thresholds),
        max_evaluations=problem.max_evaluations,
        max_seconds=problem.max_seconds,
        num_cells=problem.num_rows,
        max_epochs=problem.max_epochs,
    )


class TaskRun:
    """One budgeted session on a problem: :meth:`evaluate` a proposal, get a :class:`Trial`.

    This is the primitive the loop in :func:`run` is built on; drive it directly to plug in an
    algorithm that wants to own its loop (e.g. an optuna study or a pymoo algorithm).
    """

    def __init__(self, problem: Problem) -> None:
        from hwbench.spaces import get_space

        self.problem = problem
        self.space = get_space(problem.task.space)
        if problem.num_rows != self.space.size:
            raise ValueError(
                f"table has {problem.num_rows} rows but space {self.space.name} has {self.space.size} cells"
            )
        self.spec = task_spec(problem)
        self.trials: list[Trial] = []
        self.clock_s = 0.0
        self._finished = False
        self._acc_key = "accuracy"
        self._median_time = float(np.nanmedian(problem.time_s)) if problem.time_s is not None else 1.0

    @property
    def finished(self) -> bool:
        p = self.problem
        if self._finished:
            return True
        return p.max_evaluations is not None and len(self.trials) >= p.max_evaluations

    def index_of(self, proposal: Any) -> int:
        """The hwbench row index of a proposal, or :class:`InvalidProposalError`."""
        if isinstance(proposal, (bool, float)) or proposal is None:
            raise InvalidProposalError(
                f"proposal {len(self.trials)} {proposal!r} is not a cell of space {self.space.name}: "
                "expected an architecture string, an index or a sequence of op ids"
            )
        try:
            return int(self.space.index(proposal))
        except InvalidArchitectureError as exc:
            raise InvalidProposalError(f"proposal {len(self.trials)} rejected: {exc}") from None

    def cost_of(self, index: int, epochs: int | None = None) -> float:
        t = self.problem.time_s
        if t is None:
            return 1.0
        c = float(t[index])
        c = c if math.isfinite(c) and c >= 0 else self._median_time
        if epochs is not None:
            c *= epochs / self.problem.max_epochs  # type: ignore[operator]
        return c

    def _fidelity(self, proposal: Query) -> int:
        p = self.problem
        if p.max_epochs is None:
            raise InvalidProposalError(
                f"proposal {len(self.trials)} asks for {proposal.epochs} epochs, but task {p.task.name} "
                "has no learning curves (no multi-fidelity); propose a plain architecture"
            )
        e = proposal.epochs
        if isinstance(e, bool) or not isinstance(e, (int, np.integer)) or not 1 <= int(e) <= p.max_epochs:
            raise InvalidProposalError(
                f"proposal {len(self.trials)}: epochs {e!r} not an integer in 1..{p.max_epochs}"
            )
        return int(e)

    def try_evaluate(self, proposal: Any) -> Trial | None:
        """Evaluate, or return ``None`` (and finish) if the cell's time would overrun the budget.

        ``proposal`` is a cell (string, index, op ids) or, on multi-fidelity tasks, a
        :class:`Query` ``(arch, epochs)``; ``epochs`` equal to the full schedule counts as full.
        """
        if self.finished:
            raise BudgetExhaustedError(
                f"task {self.problem.task.name}: budget of {self.problem.task.budget.describe()} is spent "
                f"after {len(self.trials)} evaluations ({self.clock_s:g} simulated s); no more evaluations"
            )
        epochs: int | None = None
        if isinstance(proposal, Query):
            epochs = self._fidelity(proposal)
            if epochs == self.problem.max_epochs:
                epochs = None  # full training
            proposal = proposal.arch
        i = self.index_of(proposal)
        cost = self.cost_of(i, epochs)
        p = self.problem
        if p.max_seconds is not None and self.clock_s + cost > p.max_seconds:
            self._finished = True
            return None
        self.clock_s += cost
        trial = self._trial(i, cost, epochs)
        self.trials.append(trial)
        return trial

    def evaluate(self, proposal: Any) -> Trial:
        """Evaluate a proposal; raise :class:`BudgetExhaustedError` if it would overrun the budget."""
        t = self.try_evaluate(proposal)
        if t is None:
            raise BudgetExhaustedError(
                f"task {self.problem.task.name}: evaluating {proposal!r} would take the clock past the "
                f"budget of {self.problem.max_seconds:g} simulated s (now {self.clock_s:g} s)"
            )
        return t

    def _trial(self, i: int, cost: float, epochs: int | None = None) -> Trial:
        p = self.problem
        acc = float(p.search_acc[i]) if epochs is None else float(p.curve[i, epochs - 1])  # type: ignore[index]
        values = {self._acc_key: acc}
        for c in p.cost_names:
            values[c] = float(p.costs[c][i])
        if not math.isfinite(acc) or not math.isfinite(float(p.score_acc[i])):
            state = TrialState.FAILED
        elif p.feasible[i]:
            state = TrialState.COMPLETE
        else:
            state = TrialState.INFEASIBLE
        if state is TrialState.COMPLETE and epochs is not None and not math.isfinite(acc):
            state = TrialState.FAILED  # no value at that epoch
        score = None
        if state is TrialState.COMPLETE and p.task.kind != "pareto":
            score = float(p.search_value[i]) if epochs is None else p.value_at(i, acc)
        objectives = (acc, *(values[c] for c in p.cost_names)) if p.task.kind == "pareto" else ()
        return Trial(
            number=len(self.trials),
            arch=self.space.arch_str(i),
            index=i,
            state=state,
            values=frozen_mapping(values),
            score=score,
            objectives=objectives,
            violation=float(p.violation[i]),
            cost_s=cost,
            clock_s=self.clock_s,
            epochs=epochs,
        )


@dataclass(frozen=True)
class Trajectory:
    """What one seed of one algorithm asked, in order, and at which simulated time."""

    task: str
    algorithm: str
    seed: int
    indices: tuple[int, ...]
    clock_s: tuple[float, ...]
    params: dict[str, Any] = field(default_factory=dict)
    trials: tuple[Trial, ...] = ()
    epochs: tuple[int | None, ...] = ()  #: per trial, None = full training (empty: all full)

    def archs(self, space_name: str = "nb201") -> list[str]:
        from hwbench.spaces import get_space

        sp = get_space(space_name)
        return [sp.arch_str(i) for i in self.indices]

    def to_dict(self, space_name: str = "nb201") -> dict[str, Any]:
        d: dict[str, Any] = {"seed": self.seed, "archs": self.archs(space_name), "clock_s": list(self.clock_s)}
        if any(e is not None for e in self.epochs):
            d["epochs"] = list(self.epochs)
        return d


def run(problem: Problem, algorithm: Algorithm, seed: int) -> Trajectory:
    """Run one seed of ``algorithm`` on ``problem`` until the budget is spent."""
    session = TaskRun(problem)
    rng = np.random.default_rng(np.random.SeedSequence(int(seed)))
    algorithm.setup(session.spec, rng)
    try:
        while not session.finished:
            proposal = algorithm.ask()
            trial = session.try_evaluate(proposal)
            if trial is None:
                break
            algorithm.tell(trial)
    finally:
        algorithm.close()
    return Trajectory(
        task=problem.task.name,
        algorithm=getattr(algorithm, "name", type(algorithm).__name__),
        seed=int(seed),
        indices=tuple(t.index for t in session.trials),
        clock_s=tuple(t.clock_s for t in session.trials),
        params=algorithm.get_params(),
        trials=tuple(session.trials),
        epochs=tuple(t.epochs for t in session.trials),
    )


def run_seeds(
    problem: Problem,
    make_algorithm: Callable[[], Algorithm],
    seeds: Iterable[int],
    progress: bool = False,
) -> list[Trajectory]:
    """Run a fresh algorithm instance per seed."""
    seeds = list(seeds)
    it: Iterable[int] = seeds
    if progress:
        from tqdm import tqdm

        it = tqdm(seeds, desc=f"{problem.task.name}", unit="seed")
    return [run(problem, make_algorithm(), s) for s in it]


# -- results files ------------------------------------------------------------------------------
def results_dict(problem: Problem, algorithm: str, trajectories: Sequence[Trajectory],
                 params: dict[str, Any] | None = None) -> dict[str, Any]:
    from hwbench._version import __version__

    return {
        "format": RESULTS_FORMAT,
        "format_version": RESULTS_VERSION,
        "hwbench_version": __version__,
        "task": problem.task.to_dict(),
        "algorithm": {"name": algorithm, "params": params or (trajectories[0].params if trajectories else {})},
        "table_sha256": problem.objective.table_sha256,
        "data_sha256": problem.objective.data_sha256,
        "search_column": problem.objective.search_column,
        "score_column": problem.objective.score_column,
        "runs": [t.to_dict(problem.task.space) for t in trajectories],
    }


def save_results(path: str | Path, data: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(data, indent=1, allow_nan=False) + "\n")


def load_results(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise ResultsFormatError(f"results file {str(p)!r} does not exist") from None
    except json.JSONDecodeError as exc:
        raise ResultsFormatError(f"results file {str(p)!r} is not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != RESULTS_FORMAT:
        raise ResultsFormatError(f"{str(p)!r} is not an hwbench search results file (format {RESULTS_FORMAT!r})")
    if data.get("format_version") != RESULTS_VERSION:
        raise ResultsFormatError(
            f"{str(p)!r} has format_version {data.get('format_version')!r}; this hwbench reads {RESULTS_VERSION}"
        )
    for k in ("task", "algorithm", "runs"):
        if k not in data:
            raise ResultsFormatError(f"{str(p)!r} lacks the {k!r} field")
    return data


def replay(problem: Problem, archs: Sequence[str], claimed_clock: Sequence[float] | None = None,
           epochs: Sequence[int | None] | None = None) -> TaskRun:
    """Re-evaluate a recorded trajectory through a fresh :class:`TaskRun` (validating every
    proposal, the budget and, if given, the recorded clock and fidelities)."""
    if claimed_clock is not None and len(claimed_clock) != len(archs):
        raise ResultsFormatError(f"{len(archs)} architectures but {len(claimed_clock)} clock entries")
    if epochs is not None and len(epochs) != len(archs):
        raise ResultsFormatError(f"{len(archs)} architectures but {len(epochs)} epochs entries")
    session = TaskRun(problem)
    for k, a in enumerate(archs):
        e = None if epochs is None else epochs[k]
        t = session.evaluate(a if e is None else Query(a, e))
        if claimed_clock is not None and not math.isclose(
            t.clock_s, float(claimed_clock[k]), rel_tol=1e-9, abs_tol=1e-9
        ):
            raise ResultsFormatError(
                f"trial {k}: recorded clock {claimed_clock[k]} s disagrees with the table's {t.clock_s:g} s"
            )
    return session


def problem_for(task: Task | str, table: Any | None = None, objective: Any | None = None) -> Problem:
    """Resolve a task against a table (or a ready :class:`TabularObjective`)."""
    from hwbench.search.problem import TabularObjective
    from hwbench.search.tasks import get_task

    t = get_task(task)
    if objective is None:
        if table is None:
            raise ValueError("give a table or an objective")
        objective = TabularObjective.from_table(table, t)
    return Problem(t, objective)
