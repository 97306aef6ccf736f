"""Scoring: hypervolume, Pareto fronts, regret against the oracle, anytime curves, aggregation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hwbench.search.problem import Problem, TabularObjective, hypervolume_2d, pareto_mask
from hwbench.search.scoring import aggregate, bootstrap_ci, score_trajectory
from hwbench.search.tasks import Budget, Task, Threshold
from hwbench.search.testing import ACC, PARAMS, VAL, synthetic_problem


def _hv_brute(points: np.ndarray, ref: tuple[float, float], n: int = 400) -> float:
    """Hypervolume by counting the cells of a fine grid dominated by some point (midpoint rule)."""
    lo = points.min(axis=0)
    xs = np.linspace(lo[0], ref[0], n + 1)
    ys = np.linspace(lo[1], ref[1], n + 1)
    cx, cy = (xs[:-1] + xs[1:]) / 2, (ys[:-1] + ys[1:]) / 2
    X, Y = np.meshgrid(cx, cy, indexing="ij")
    dom = np.zeros_like(X, dtype=bool)
    for p in points:
        dom |= (X >= p[0]) & (Y >= p[1])
    return float(dom.sum() * (xs[1] - xs[0]) * (ys[1] - ys[0]))


def test_hypervolume_2d_exact_cases() -> None:
    assert hypervolume_2d(np.array([[0.0, 0.0]])) == 1.0
    assert hypervolume_2d(np.array([[0.5, 0.5]])) == 0.25
    # two points: union of two rectangles = 0.5*1 + 0.5*... computed by hand
    pts = np.array([[0.0, 0.5], [0.5, 0.0]])
    assert hypervolume_2d(pts) == pytest.approx(0.75)
    # dominated and out-of-reference points change nothing
    assert hypervolume_2d(np.vstack([pts, [[0.6, 0.6], [2.0, -1.0]]])) == pytest.approx(0.75)
    assert hypervolume_2d(np.zeros((0, 2))) == 0.0
    # a general reference point
    assert hypervolume_2d(np.array([[1.0, 2.0]]), reference=(3.0, 5.0)) == pytest.approx(6.0)


def test_hypervolume_matches_brute_force() -> None:
    rng = np.random.default_rng(1)
    pts = rng.random((25, 2))
    assert hypervolume_2d(pts) == pytest.approx(_hv_brute(pts, (1.0, 1.0)), abs=5e-3)


def test_pareto_mask_against_definition() -> None:
    rng = np.random.default_rng(2)
    acc = rng.integers(0, 8, 60).astype(float)
    cost = rng.integers(0, 8, 60).astype(float)
    mask = pareto_mask(acc, cost)
    for i, j in itertools.product(range(60), range(60)):
        if mask[i] and i != j:
            dominated = acc[j] >= acc[i] and cost[j] <= cost[i] and (acc[j] > acc[i] or cost[j] < cost[i])
            assert not dominated
    # every non-front point is dominated by, or duplicates, a front point
    front = np.flatnonzero(mask)
    for j in np.flatnonzero(~mask):
        assert any(acc[f] >= acc[j] and cost[f] <= cost[j] for f in front)


def _tiny(kind: str, **kw: object) -> Problem:
    """A 15,625-row problem where only a handful of cells matter (the rest are infeasible/NaN)."""
    n = 15625
    acc = np.full(n, np.nan)
    val = np.full(n, np.nan)
    cost = np.full(n, 100.0)
    acc[:6] = [50, 60, 70, 80, 90, 10]
    val[:6] = [51, 59, 72, 79, 85, 95]  # validation ranks cell 5 best, but its test accuracy is 10
    cost[:6] = [1, 2, 3, 4, 5, 1]
    cols = {ACC: acc, VAL: val, PARAMS: cost}
    task = Task(f"tiny-{kind}.v1", kind, "cifar10", ACC, (PARAMS,), Budget(evaluations=4), search_accuracy=VAL,
                **kw)  # type: ignore[arg-type]
    return Problem(task, TabularObjective.for_task(task, cols))


def test_regret_selects_on_validation_and_scores_on_test() -> None:
    prob = _tiny("constrained", constraints=(Threshold(PARAMS, value=4.0),))
    assert prob.oracle_value == 80.0 and prob.oracle_index == 3
    assert prob.floor_value == 10.0
    s = score_trajectory(prob, [0, 2, 5, 4], [1, 2, 3, 4])  # cell 4 is infeasible (cost 5)
    assert s.incumbent == 5  # best validation accuracy among feasible evaluated cells
    assert s.regret == pytest.approx(70.0)  # its test accuracy is only 10
    assert s.value == pytest.approx(10.0)
    assert list(s.curve_regret) == [30.0, 10.0, 70.0, 70.0]  # anytime: after 1, 2, 3, 4 evaluations
    # nothing feasible found: credited with the worst feasible cell
    none = score_trajectory(prob, [4], [1])
    assert none.regret == pytest.approx(70.0) and none.incumbent is None


def test_scalarized_reward_is_mnasnet() -> None:
    prob = _tiny("scalarized", target=Threshold(PARAMS, value=2.0), alpha=-0.07, beta=-0.07)
    ratio = np.array([1, 2, 3, 4, 5, 1]) / 2.0
    expected = np.array([50, 60, 70, 80, 90, 10]) * ratio**-0.07
    assert np.allclose(prob.score_value[:6], expected)
    assert prob.oracle_index == int(np.argmax(expected))
    hard = _tiny("scalarized", target=Threshold(PARAMS, value=2.0), alpha=0.0, beta=-1.0)
    assert hard.score_value[1] == 60.0 and hard.score_value[3] == pytest.approx(80 * 0.5)


def test_pareto_score_is_hypervolume_ratio_of_front_chosen_on_validation() -> None:
    prob = _tiny("pareto")
    assert set(prob.true_front.tolist()) == {0, 1, 2, 3, 4}  # cell 5 (acc 10, cost 1) is dominated by 0
    full = score_trajectory(prob, [0, 1, 2, 3], [1, 2, 3, 4])
    assert 0 < full.value <= full.oracle and full.regret == pytest.approx(1 - full.value / full.oracle)
    # finding the whole true front gives regret 0
    five = Problem(Task("tiny5.v1", "pareto", "cifar10", ACC, (PARAMS,), Budget(evaluations=5),
                        search_accuracy=VAL), prob.objective)
    assert score_trajectory(five, [0, 1, 2, 3, 4], [1, 2, 3, 4, 5]).regret == pytest.approx(0.0, abs=1e-12)
    # on validation, cell 5 dominates cell 0 (95 > 51 at equal cost): the reported front holds 5, not 0
    with5 = score_trajectory(five, [5, 1, 2, 3, 4], [1, 2, 3, 4, 5])
    assert with5.regret > 0


def test_anytime_curve_is_monotone_and_ends_at_final_regret() -> None:
    prob = synthetic_problem("constrained", evaluations=100)
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 15625, 100)
    s = score_trajectory(prob, idx, np.arange(1, 101, dtype=float))
    # (searching on validation, the test regret of the incumbent may go up; see below for search == score)
    assert s.curve_regret[-1] == s.regret
    # with search == score accuracy the curve cannot go up
    same = Problem(prob.task, TabularObjective.for_task(
        Task("same.v1", "constrained", "cifar10", ACC, (PARAMS,), Budget(evaluations=100),
             constraints=prob.task.constraints), dict(prob.objective.columns)))
    s2 = score_trajectory(same, idx, np.arange(1, 101, dtype=float))
    assert np.all(np.diff(s2.curve_regret) <= 0)
    assert s2.regret >= 0


def test_aggregate_intervals_are_deterministic_and_bracket_the_mean() -> None:
    prob = synthetic_problem("constrained", evaluations=50)
    rng = np.random.default_rng(5)
    scores = [score_trajectory(prob, rng.integers(0, 15625, 50), np.arange(1, 51.0), seed=k) for k in range(10)]
    a, b = aggregate(scores), aggregate(scores)
    assert a.to_dict() == b.to_dict()
    assert a.ci_low <= a.mean <= a.ci_high and a.t_low <= a.mean <= a.t_high
    assert a.n == 10 and len(a.per_seed) == 10
    assert np.all(a.curve_low <= a.curve_mean + 1e-12) and np.all(a.curve_mean <= a.curve_high + 1e-12)
    lo, hi = bootstrap_ci(np.full(7, 3.0))
    assert lo == hi == 3.0
    d = a.to_dict()
    assert d["ci95_bootstrap"] == [a.ci_low, a.ci_high] and len(d["anytime"]["x"]) == len(a.curve_x)
