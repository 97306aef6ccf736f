"""Speed of the search runner (pytest-benchmark; asserts correctness only, never time).

Run: ``pytest tests/benchmarks/test_bench_search.py -q --benchmark-enable``. Target (issue 6):
one 1,000-evaluation random-search run <= 0.5 s.
"""

from __future__ import annotations

from typing import Any

from hwbench.search.algorithms import create_algorithm
from hwbench.search.runner import run, run_seeds
from hwbench.search.scoring import aggregate, score_trajectory
from hwbench.search.testing import synthetic_problem


def test_random_search_1000_evaluations(benchmark: Any) -> None:
    prob = synthetic_problem("constrained", evaluations=1000)
    run(prob, create_algorithm("random"), seed=0)  # warm caches (space strings)

    def one() -> Any:
        traj = run(prob, create_algorithm("random"), seed=0)
        return score_trajectory(prob, traj.indices, traj.clock_s)

    s = benchmark(one)
    assert s.evaluations == 1000 and s.regret >= 0


def test_regularized_evolution_1000_evaluations(benchmark: Any) -> None:
    prob = synthetic_problem("scalarized", evaluations=1000)
    traj = benchmark(lambda: run(prob, create_algorithm("regularized-evolution"), seed=0))
    assert len(traj.indices) == 1000


def test_pareto_scoring_10_seeds_300_evaluations(benchmark: Any) -> None:
    prob = synthetic_problem("pareto", evaluations=300)
    trajs = run_seeds(prob, lambda: create_algorithm("random"), range(10))

    def score() -> Any:
        return aggregate([score_trajectory(prob, t.indices, t.clock_s, t.seed) for t in trajs])

    s = benchmark(score)
    assert s.n == 10 and 0 <= s.mean <= 1
