"""Multi-fidelity queries: accuracy after e epochs, charged e/E of the training time."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from hwbench.search import InvalidProposalError
from hwbench.search.algorithms import Algorithm, Query, Trial, TrialState, create_algorithm
from hwbench.search.external import ExternalAlgorithm
from hwbench.search.runner import TaskRun, load_results, results_dict, run, save_results
from hwbench.search.scoring import score_results, score_trajectory
from hwbench.search.testing import CURVE, EPOCHS, TIME, VAL, AlgorithmConformance, synthetic_problem


def test_query_tells_the_curve_and_charges_a_fraction_of_the_time() -> None:
    prob = synthetic_problem("fidelity", 50)
    cols = prob.objective.columns
    s = TaskRun(prob)
    assert s.spec.max_epochs == EPOCHS
    t = s.evaluate(Query(123, 3))
    assert t.epochs == 3 and t.values["accuracy"] == cols[CURVE][123, 2]
    assert t.cost_s == pytest.approx(cols[TIME][123] * 3 / EPOCHS)
    if t.state is TrialState.COMPLETE:
        assert t.score == cols[CURVE][123, 2]
    full = s.evaluate(Query(123, EPOCHS))  # the whole schedule is a full evaluation
    assert full.epochs is None and full.values["accuracy"] == cols[VAL][123]
    assert full.cost_s == pytest.approx(cols[TIME][123])
    plain = s.evaluate(124)
    assert plain.epochs is None


@pytest.mark.parametrize("epochs", [0, EPOCHS + 1, 1.5, True, "3"])
def test_bad_fidelities_are_rejected(epochs: object) -> None:
    with pytest.raises(InvalidProposalError, match="epochs"):
        TaskRun(synthetic_problem("fidelity", 10)).evaluate(Query(5, epochs))  # type: ignore[arg-type]


def test_query_on_a_task_without_curves_is_rejected() -> None:
    with pytest.raises(InvalidProposalError, match="no learning curves"):
        TaskRun(synthetic_problem("time", 10)).evaluate(Query(5, 2))


class ScreenThenTrain(Algorithm):
    """Screen cells at 1 epoch, fully train the best screened one, repeat (a minimal
    successive-halving flavour, enough to exercise the protocol)."""

    name = "screen-then-train"

    def _setup(self) -> None:
        self.screened: list[Trial] = []
        self.pending_full: int | str | None = None

    def ask(self) -> Query | str | int:
        if len(self.screened) >= 8:
            best = max(self.screened, key=lambda t: t.score if t.score is not None else -np.inf)
            self.screened = []
            return best.arch
        return Query(int(self.rng.integers(self.space.size)), 1)

    def tell(self, trial: Trial) -> None:
        if trial.epochs is not None:
            self.screened.append(trial)


def test_partial_trials_cost_time_but_never_become_the_incumbent(tmp_path: Path) -> None:
    prob = synthetic_problem("fidelity", 40)
    traj = run(prob, ScreenThenTrain(), seed=0)
    eps = traj.epochs
    assert any(e == 1 for e in eps) and any(e is None for e in eps)
    s = score_trajectory(prob, traj.indices, traj.clock_s, epochs=eps)
    full_rows = [i for i, e in zip(traj.indices, eps) if e is None]
    assert s.incumbent in full_rows
    # scored as if every trial were fully trained, the screened cells become candidates too
    as_full = score_trajectory(prob, traj.indices, traj.clock_s)
    assert as_full.incumbent in traj.indices
    # results round trip keeps the fidelities, and a tampered fidelity is caught by the clock check
    data = results_dict(prob, "screen-then-train", [traj])
    assert data["runs"][0]["epochs"] == list(eps)
    save_results(tmp_path / "r.json", data)
    scores, _ = score_results(prob, load_results(tmp_path / "r.json"))
    assert scores[0].regret == s.regret
    bad = json.loads((tmp_path / "r.json").read_text())
    k = bad["runs"][0]["epochs"].index(1)
    bad["runs"][0]["epochs"][k] = 2
    from hwbench.search import ResultsFormatError

    with pytest.raises(ResultsFormatError, match="clock"):
        score_results(prob, bad)


def test_plain_algorithms_still_run_on_multi_fidelity_tasks() -> None:
    prob = synthetic_problem("fidelity", 30)
    traj = run(prob, create_algorithm("regularized-evolution"), 1)
    assert all(e is None for e in traj.epochs) and traj.clock_s[-1] <= prob.max_seconds


def test_external_algorithm_can_ask_for_epochs(tmp_path: Path) -> None:
    script = tmp_path / "mf.py"
    script.write_text(
        "import json, sys\n"
        "n = 0\n"
        "for line in sys.stdin:\n"
        "    m = json.loads(line)\n"
        "    if m['type'] == 'start':\n"
        f"        assert m['spec']['max_epochs'] == {EPOCHS}\n"
        "    if m['type'] == 'ask':\n"
        "        n += 1\n"
        "        print(json.dumps({'index': n, 'epochs': 2}), flush=True)\n"
        "    if m['type'] == 'stop':\n"
        "        break\n"
    )
    traj = run(synthetic_problem("fidelity", 5), ExternalAlgorithm([sys.executable, str(script)]), 0)
    assert traj.indices[:3] == (1, 2, 3) and set(traj.epochs) == {2}


class TestSuccessiveHalving(AlgorithmConformance):
    algorithm = "successive-halving"
    kinds = ("fidelity",)


def test_successive_halving_beats_random_under_the_same_time_budget() -> None:
    from hwbench.search.runner import run_seeds
    from hwbench.search.scoring import aggregate

    prob = synthetic_problem("fidelity", 20)

    def mean(name: str) -> float:
        trajs = run_seeds(prob, lambda: create_algorithm(name), range(10))
        return aggregate([score_trajectory(prob, t.indices, t.clock_s, t.seed, epochs=t.epochs) for t in trajs]).mean

    assert mean("successive-halving") < mean("random")


def test_successive_halving_needs_curves() -> None:
    from hwbench.search import TaskNotRunnableError

    with pytest.raises(TaskNotRunnableError, match="multi-fidelity"):
        run(synthetic_problem("time", 10), create_algorithm("successive-halving"), 0)
