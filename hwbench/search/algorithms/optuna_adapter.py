"""Optuna samplers as hwbench algorithms (TPE by default), through optuna's ask/tell interface.

Each edge of the cell is a categorical parameter ``edge_k`` over the op names, so any optuna
sampler runs unchanged. Constrained tasks pass the constraint violation through optuna's
``constraints_func`` (feasible <= 0) where the sampler supports it; Pareto tasks create a
two-objective study (maximise accuracy, minimise cost); cells the table has no value for are told
as FAIL. optuna is an optional dependency (``pip install 'hwbench[optuna]'``).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from typing import Any

from hwbench.errors import MissingDependencyError
from hwbench.search.algorithms.base import Algorithm, Trial, TrialState


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise MissingDependencyError("optuna", "optuna", "the optuna-tpe algorithm") from None
    return optuna


@contextlib.contextmanager
def _quiet(optuna: Any) -> Iterator[None]:
    """Silence optuna's per-trial INFO logging for the duration of a call, then restore it."""
    import warnings

    old = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            # multivariate TPE and constraints_func are marked experimental by optuna
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(old)


def _constraints(frozen: Any) -> list[float]:
    return [float(frozen.user_attrs.get("hwbench_violation", 0.0))]


class OptunaSampler(Algorithm):
    """Drive an optuna sampler: ``sampler`` is a class name in ``optuna.samplers`` (seeded from
    the runner's generator); ``sampler_kwargs`` go to its constructor."""

    name = "optuna"

    def __init__(self, sampler: str = "TPESampler", **sampler_kwargs: Any) -> None:
        super().__init__(sampler=sampler, **sampler_kwargs)
        self.sampler_name = sampler
        self.sampler_kwargs = dict(sampler_kwargs)

    def _setup(self) -> None:
        optuna = _optuna()
        cls = getattr(optuna.samplers, self.sampler_name, None)
        if cls is None:
            from hwbench.errors import UnknownNameError

            raise UnknownNameError("optuna sampler", self.sampler_name,
                                   [n for n in dir(optuna.samplers) if n.endswith("Sampler")])
        kw = dict(self.sampler_kwargs)
        sig = inspect.signature(cls)
        if "seed" in sig.parameters:
            kw.setdefault("seed", int(self.rng.integers(0, 2**31 - 1)))
        # optuna >= 5 takes constraints on the trial (Trial.set_constraint); older ones a function
        self._set_constraint = hasattr(optuna.trial.Trial, "set_constraint")
        if self.spec.constraints and not self._set_constraint and "constraints_func" in sig.parameters:  # type: ignore[union-attr]
            kw.setdefault("constraints_func", _constraints)
        spec = self.spec
        assert spec is not None
        directions = ["maximize", "minimize"] if spec.multi_objective else ["maximize"]
        with _quiet(optuna):
            self.study = optuna.create_study(directions=directions, sampler=cls(**kw))
        self._optuna = optuna
        self._pending: Any = None

    def ask(self) -> tuple[int, ...]:
        with _quiet(self._optuna):
            t = self.study.ask()
        self._pending = t
        ops = self.space.ops
        return tuple(ops.index(t.suggest_categorical(f"edge_{k}", list(ops))) for k in range(len(self.space.edges)))

    def tell(self, trial: Trial) -> None:
        t, self._pending = self._pending, None
        optuna = self._optuna
        spec = self.spec
        assert t is not None and spec is not None
        t.set_user_attr("hwbench_violation", float(trial.violation))
        if spec.constraints and self._set_constraint:
            t.set_constraint("hwbench_violation", float(trial.violation))
        with _quiet(optuna):
            if trial.state is TrialState.FAILED:
                self.study.tell(t, state=optuna.trial.TrialState.FAIL)
            elif spec.multi_objective:
                self.study.tell(t, [trial.objectives[0], trial.objectives[1]])
            elif trial.score is not None:
                self.study.tell(t, float(trial.score))
            else:  # infeasible: the accuracy it would have, the violation goes to constraints_func
                self.study.tell(t, float(trial.values.get("accuracy", float("nan"))))


class OptunaTPE(OptunaSampler):
    """optuna's Tree-structured Parzen Estimator (multivariate, seeded); MOTPE on Pareto tasks."""

    name = "optuna-tpe"

    def __init__(self, n_startup_trials: int = 20, multivariate: bool = True, **kwargs: Any) -> None:
        super().__init__("TPESampler", n_startup_trials=n_startup_trials, multivariate=multivariate, **kwargs)
        self._params = {"n_startup_trials": n_startup_trials, "multivariate": multivariate, **kwargs}
