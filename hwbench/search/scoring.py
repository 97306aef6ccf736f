"""Scores re-computed from the table, never taken from the algorithm.

* Constrained and scalarized tasks: the incumbent after each evaluation is the feasible evaluated
  cell with the best *searched* value (validation accuracy or reward; earliest on ties); its
  *scored* value (test accuracy or test reward) is compared with the oracle = best feasible cell of
  the table by the scored value. ``regret = oracle - scored(incumbent)`` (accuracy points or reward
  units). Before any feasible cell is found the run is credited with the worst feasible cell.
* Pareto tasks: the front the run reports is the non-dominated set of its feasible evaluated cells
  by (searched accuracy, cost); it is valued with the scored accuracy, both axes normalised to
  [0, 1] by the feasible table's ranges (reference point = worst accuracy, largest cost), and its
  exact 2-D hypervolume is divided by the true front's. ``regret = 1 - HV / HV_true``.
* Anytime curves: regret against simulated time (evaluations, or seconds of training time) on a
  fixed grid; aggregation over seeds gives the mean and a 95 % bootstrap confidence interval
  (deterministic resampling) plus a t interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hwbench.search.problem import Problem

CI_LEVEL = 0.95
BOOTSTRAP_RESAMPLES = 4000
BOOTSTRAP_SEED = 20240611


@dataclass(frozen=True, eq=False)
class RunScore:
    """One seed's score. ``curve_x`` is the shared grid, ``curve_regret`` the regret on it."""

    seed: int
    regret: float
    value: float  # scored value of the incumbent (accuracy / reward), or the normalised HV
    oracle: float  # oracle value (accuracy / reward), or the true front's normalised HV
    evaluations: int
    clock_s: float
    incumbent: int | None  # row index (scalar tasks)
    curve_x: np.ndarray = field(repr=False)
    curve_regret: np.ndarray = field(repr=False)


def time_grid(problem: Problem, points: int = 100) -> np.ndarray:
    """The anytime grid: evaluations 1..budget (at most ``points`` of them) or simulated seconds."""
    if problem.max_evaluations is not None:
        n = problem.max_evaluations
        return np.unique(np.linspace(1, n, num=min(points, n)).round()).astype(np.float64)
    assert problem.max_seconds is not None
    return np.linspace(problem.max_seconds / points, problem.max_seconds, points)


def _prefix_regret_scalar(problem: Problem, idx: np.ndarray, full: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Regret and incumbent row after each trial (scalar tasks); only fully trained trials count."""
    feas = problem.feasible[idx] & full
    sv = np.where(feas, problem.search_value[idx], -np.inf)
    # running argmax with earliest-on-ties
    best_pos = np.zeros(len(idx), dtype=np.int64)
    cur, cur_v = -1, -np.inf
    for k, v in enumerate(sv):
        if v > cur_v:
            cur, cur_v = k, v
        best_pos[k] = cur
    found = best_pos >= 0
    inc = np.where(found, idx[np.maximum(best_pos, 0)], -1)
    val = np.where(found, problem.score_value[np.maximum(inc, 0)], problem.floor_value)
    return problem.oracle_value - val, inc


def score_trajectory(problem: Problem, indices: Sequence[int], clock_s: Sequence[float], seed: int = 0,
                     grid: np.ndarray | None = None, epochs: Sequence[int | None] | None = None) -> RunScore:
    """Score one trajectory. ``epochs`` (multi-fidelity) marks partially trained trials (not
    ``None``): they cost time but cannot become the incumbent or join the reported front."""
    idx = np.asarray(indices, dtype=np.int64)
    clk = np.asarray(clock_s, dtype=np.float64)
    full = np.ones(len(idx), dtype=bool) if epochs is None else np.array([e is None for e in epochs], dtype=bool)
    x = time_grid(problem) if grid is None else grid
    n_nothing = problem.oracle_value - problem.floor_value
    # the position of the last trial finished at each grid time (-1 = none yet)
    clock = clk if problem.max_evaluations is None else np.arange(1, len(idx) + 1, dtype=np.float64)
    pos = np.searchsorted(clock, x, side="right") - 1
    if problem.task.kind == "pareto":
        true_hv = problem.true_hypervolume
        hv = np.array([problem.front_hypervolume(idx[: p + 1][full[: p + 1]]) if p >= 0 else 0.0 for p in pos])
        curve = 1.0 - hv / true_hv
        final_hv = problem.front_hypervolume(idx[full]) if len(idx) else 0.0
        return RunScore(seed, 1.0 - final_hv / true_hv, final_hv, true_hv, len(idx),
                        float(clk[-1]) if len(clk) else 0.0, None, x, curve)
    if len(idx) == 0:
        curve = np.full(len(x), n_nothing)
        return RunScore(seed, n_nothing, problem.floor_value, problem.oracle_value, 0, 0.0, None, x, curve)
    regret, inc = _prefix_regret_scalar(problem, idx, full)
    curve = np.where(pos >= 0, regret[np.maximum(pos, 0)], n_nothing)
    final_inc = int(inc[-1])
    return RunScore(
        seed, float(regret[-1]), float(problem.oracle_value - regret[-1]), problem.oracle_value, len(idx),
        float(clk[-1]), final_inc if final_inc >= 0 else None, x, curve,
    )


def _t_quantile(level: float, df: int) -> float:
    try:
        from scipy import stats  # optional

        return float(stats.t.ppf(0.5 + level / 2, df))
    except ImportError:  # normal approximation
        return 1.959963984540054 if level == 0.95 else float("nan")


@dataclass(frozen=True, eq=False)
class Summary:
    """Scores aggregated over seeds."""

    n: int
    mean: float
    std: float
    ci_low: float  # bootstrap percentile CI of the mean
    ci_high: float
    t_low: float  # Student t CI of the mean
    t_high: float
    per_seed: tuple[float, ...]
    curve_x: np.ndarray = field(repr=False)
    curve_mean: np.ndarray = field(repr=False)
    curve_low: np.ndarray = field(repr=False)
    curve_high: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n, "mean": self.mean, "std": self.std,
            "ci95_bootstrap": [self.ci_low, self.ci_high], "ci95_t": [self.t_low, self.t_high],
            "per_seed": list(self.per_seed),
            "anytime": {"x": self.curve_x.tolist(), "mean": self.curve_mean.tolist(),
                        "ci_low": self.curve_low.tolist(), "ci_high": self.curve_high.tolist()},
        }


def bootstrap_ci(samples: np.ndarray, level: float = CI_LEVEL, resamples: int = BOOTSTRAP_RESAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap CI of the mean along axis 0 (deterministic: fixed resampling seed)."""
    s = np.asarray(samples, dtype=np.float64)
    n = s.shape[0]
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    pick = rng.integers(0, n, size=(resamples, n))
    means = s[pick].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return lo, hi


def aggregate(scores: Sequence[RunScore]) -> Summary:
    if not scores:
        raise ValueError("no runs to aggregate")
    r = np.array([s.regret for s in scores])
    curves = np.stack([s.curve_regret for s in scores])
    n = len(r)
    mean = float(r.mean())
    std = float(r.std(ddof=1)) if n > 1 else 0.0
    lo, hi = bootstrap_ci(r)
    c_lo, c_hi = bootstrap_ci(curves)
    half = _t_quantile(CI_LEVEL, n - 1) * std / math.sqrt(n) if n > 1 else float("nan")
    return Summary(n, mean, std, float(lo), float(hi), mean - half, mean + half, tuple(float(x) for x in r),
                   scores[0].curve_x, curves.mean(axis=0), np.asarray(c_lo), np.asarray(c_hi))


def score_results(problem: Problem, data: dict[str, Any]) -> tuple[list[RunScore], Summary]:
    """Validate a results file against the problem (replaying every trajectory through the runner's
    checks: proposals in the space, budget, recorded clock) and score it."""
    from hwbench.search._errors import ResultsFormatError
    from hwbench.search.runner import replay

    if data["task"]["name"] != problem.task.name:
        raise ResultsFormatError(f"results are for task {data['task']['name']!r}, not {problem.task.name!r}")
    sha = data.get("table_sha256")
    dsha = data.get("data_sha256")
    if sha and not dsha and problem.objective.table_sha256 and sha != problem.objective.table_sha256:
        # no column hash to compare: only the table file's hash says whether the data is the same
        raise ResultsFormatError(
            f"results were produced on table {sha[:12]}..., the loaded table is "
            f"{problem.objective.table_sha256[:12]}...; score them on the same table"
        )
    if dsha and dsha != problem.objective.data_sha256:
        raise ResultsFormatError(
            f"results were produced on different data for task {problem.task.name} (columns "
            f"{problem.objective.search_column}, {problem.objective.score_column}, costs): data hash "
            f"{dsha[:12]}... vs {problem.objective.data_sha256[:12]}... now; re-import the same columns"
        )
    scores = []
    for run in data["runs"]:
        session = replay(problem, run["archs"], run.get("clock_s"), run.get("epochs"))
        idx = [t.index for t in session.trials]
        clk = [t.clock_s for t in session.trials]
        eps = [t.epochs for t in session.trials]
        scores.append(score_trajectory(problem, idx, clk, seed=int(run["seed"]), epochs=eps))
    return scores, aggregate(scores)
