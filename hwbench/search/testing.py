"""Tiny in-memory problems and a conformance suite any plug-in algorithm can run.

``synthetic_columns`` builds real arrays over the 15,625 nb201 cells (an additive op-per-edge
accuracy model with fixed noise, parameter counts from the ops, a training time), so tests and
algorithm authors need no table. ``AlgorithmConformance`` is a pytest base class::

    class TestMine(AlgorithmConformance):
        algorithm = "my-algorithm"      # or a zero-argument factory
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from hwbench.search.problem import Problem, TabularObjective
from hwbench.search.tasks import Budget, Task, Threshold

ACC, VAL, PARAMS, TIME = "syn/acc/test_accuracy_pct", "syn/acc/valid_accuracy_pct", "syn/model/params", "syn/train/train_time_s"
CURVE = "syn/acc/valid_accuracy_curve_pct"
EPOCHS = 12


def synthetic_columns(seed: int = 0) -> dict[str, np.ndarray]:
    """Columns over all nb201 cells: accuracy additive in (edge, op) plus noise, params, time."""
    from hwbench.spaces.nb201 import SPACE

    rng = np.random.default_rng(seed)
    ops = SPACE.op_matrix.astype(np.int64)  # (15625, 6)
    w = rng.normal(0.0, 3.0, size=(6, 5))
    w[:, 3] += 2.0  # conv3x3 helps
    base = 60.0 + w[np.arange(6), ops].sum(axis=1)
    test = base + rng.normal(0.0, 0.5, size=len(ops))
    valid = base + rng.normal(0.0, 0.5, size=len(ops))
    # params: conv1x1 = 1 unit, conv3x3 = 9 units per edge, plus a fixed stem/classifier
    per_op = np.array([0.0, 0.0, 1.0, 9.0, 0.0])
    params = 1000.0 + 2000.0 * per_op[ops].sum(axis=1)
    time_s = 10.0 + params / 1000.0
    # learning curves: saturating towards the final validation accuracy, with per-epoch noise
    e = np.arange(1, EPOCHS + 1)
    curve = 10.0 + (valid[:, None] - 10.0) * (1.0 - 0.6 ** e[None, :]) + rng.normal(0.0, 0.3, (len(ops), EPOCHS))
    curve[:, -1] = valid
    return {ACC: test, VAL: valid, PARAMS: params, TIME: time_s, CURVE: curve}


def synthetic_tasks(evaluations: int = 100) -> dict[str, Task]:
    common: dict[str, Any] = {"config": "cifar10", "accuracy": ACC, "search_accuracy": VAL}
    return {
        "constrained": Task("test-syn-constrained.v1", "constrained", costs=(PARAMS,),
                            constraints=(Threshold(PARAMS, quantile=0.3),),
                            budget=Budget(evaluations=evaluations), **common),
        "scalarized": Task("test-syn-mnasnet.v1", "scalarized", costs=(PARAMS,),
                           target=Threshold(PARAMS, quantile=0.25), budget=Budget(evaluations=evaluations),
                           **common),
        "pareto": Task("test-syn-pareto.v1", "pareto", costs=(PARAMS,), budget=Budget(evaluations=evaluations),
                       **common),
        "time": Task("test-syn-time.v1", "constrained", costs=(PARAMS,),
                     constraints=(Threshold(PARAMS, quantile=0.3),),
                     budget=Budget(seconds=30.0 * evaluations), time_column=TIME, **common),
        "fidelity": Task("test-syn-fidelity.v1", "constrained", costs=(PARAMS,),
                         constraints=(Threshold(PARAMS, quantile=0.3),),
                         budget=Budget(seconds=30.0 * evaluations), time_column=TIME, curve_column=CURVE,
                         **common),
    }


def synthetic_problem(kind: str = "constrained", evaluations: int = 100, seed: int = 0) -> Problem:
    task = synthetic_tasks(evaluations)[kind]
    return Problem(task, TabularObjective.for_task(task, synthetic_columns(seed)))


class AlgorithmConformance:
    """pytest base class: set ``algorithm`` (registry name or factory) and ``kinds``."""

    algorithm: str | Callable[[], Any] = "random"
    kinds: tuple[str, ...] = ("constrained", "scalarized", "pareto", "time")
    evaluations: int = 40

    def make(self) -> Any:
        from hwbench.search.algorithms import create_algorithm

        a = self.algorithm
        return create_algorithm(a) if isinstance(a, str) else a()

    def _kinds(self) -> list[str]:
        alg = self.make()
        return [k for k in self.kinds if k != "pareto" or alg.supports_multi_objective]

    def test_runs_within_budget_with_valid_proposals(self) -> None:
        from hwbench.search.runner import run

        for kind in self._kinds():
            prob = synthetic_problem(kind, self.evaluations)
            traj = run(prob, self.make(), seed=0)
            assert len(traj.indices) >= 1
            if prob.max_evaluations is not None:
                assert len(traj.indices) == prob.max_evaluations
            else:
                assert traj.clock_s[-1] <= prob.max_seconds  # type: ignore[operator]
            assert all(0 <= i < prob.num_rows for i in traj.indices)

    def test_deterministic(self) -> None:
        from hwbench.search.runner import run

        for kind in self._kinds():
            prob = synthetic_problem(kind, self.evaluations)
            a = run(prob, self.make(), seed=3)
            b = run(prob, self.make(), seed=3)
            assert a.indices == b.indices and a.clock_s == b.clock_s

    def test_seeds_differ(self) -> None:
        from hwbench.search.runner import run

        prob = synthetic_problem(self._kinds()[0], self.evaluations)
        assert run(prob, self.make(), seed=1).indices != run(prob, self.make(), seed=2).indices
