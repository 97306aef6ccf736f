"""optuna and pymoo algorithms through the same runner (skipped where the extras are absent)."""

from __future__ import annotations

import pytest

from hwbench.search.algorithms import create_algorithm
from hwbench.search.runner import run, run_seeds
from hwbench.search.scoring import aggregate, score_trajectory
from hwbench.search.testing import AlgorithmConformance, synthetic_problem


class TestOptunaTPE(AlgorithmConformance):
    algorithm = "optuna-tpe"
    evaluations = 30

    @pytest.fixture(autouse=True)
    def _needs_optuna(self) -> None:
        pytest.importorskip("optuna")


class TestPymooNSGA2(AlgorithmConformance):
    algorithm = "pymoo-nsga2"

    @pytest.fixture(autouse=True)
    def _needs_pymoo(self) -> None:
        pytest.importorskip("pymoo")


def _mean(prob, name: str, **kw: object) -> float:
    trajs = run_seeds(prob, lambda: create_algorithm(name, **kw), range(10))
    return aggregate([score_trajectory(prob, t.indices, t.clock_s, t.seed) for t in trajs]).mean


def test_nsga2_finds_a_better_front_than_random() -> None:
    pytest.importorskip("pymoo")
    prob = synthetic_problem("pareto", 200)
    assert _mean(prob, "pymoo-nsga2") < _mean(prob, "random")


def test_tpe_beats_random_on_the_additive_problem() -> None:
    pytest.importorskip("optuna")
    prob = synthetic_problem("scalarized", 80)
    assert _mean(prob, "optuna-tpe", n_startup_trials=10) < _mean(prob, "random")


def test_any_optuna_sampler_by_name() -> None:
    pytest.importorskip("optuna")
    from hwbench.errors import UnknownNameError
    from hwbench.search.algorithms.optuna_adapter import OptunaSampler

    prob = synthetic_problem("pareto", 12)
    a = run(prob, OptunaSampler("NSGAIISampler", population_size=4), 0)
    b = run(prob, OptunaSampler("NSGAIISampler", population_size=4), 0)
    assert len(a.indices) == 12 and a.indices == b.indices
    with pytest.raises(UnknownNameError, match="TPESampler"):
        run(prob, OptunaSampler("NoSuchSampler"), 0)
