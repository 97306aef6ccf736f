"""Runner: budget, clock, proposal validation, determinism, results files and replay."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from hwbench.search import BudgetExhaustedError, InvalidProposalError, ResultsFormatError
from hwbench.search.algorithms import Algorithm, TrialState, create_algorithm
from hwbench.search.problem import Problem, TabularObjective
from hwbench.search.runner import (
    TaskRun,
    load_results,
    replay,
    results_dict,
    run,
    run_seeds,
    save_results,
)
from hwbench.search.scoring import score_results, score_trajectory
from hwbench.search.testing import ACC, PARAMS, TIME, VAL, synthetic_problem
from hwbench.spaces.nb201 import SPACE


class Fixed(Algorithm):
    """A plain Python class: proposes a fixed list, records what it is told."""

    name = "fixed"

    def __init__(self, proposals: list) -> None:
        super().__init__()
        self.proposals = list(proposals)
        self.told: list = []

    def ask(self):
        return self.proposals[len(self.told)]

    def tell(self, trial) -> None:
        self.told.append(trial)


def test_plain_class_is_told_searched_values_only_and_trials_are_immutable() -> None:
    prob = synthetic_problem("constrained", evaluations=3)
    alg = Fixed([0, "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
                 (1, 2, 3, 4, 0, 1)])
    traj = run(prob, alg, seed=0)
    conv3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    assert traj.indices == (0, SPACE.index(conv3), SPACE.index((1, 2, 3, 4, 0, 1)))
    t0, t1, _ = alg.told
    cols = prob.objective.columns
    # told: the *validation* accuracy and the costs, never the test accuracy
    assert t1.values["accuracy"] == cols[VAL][t1.index] != cols[ACC][t1.index]
    assert set(t1.values) == {"accuracy", PARAMS}
    # the all-conv3x3 cell is the largest: infeasible under the params <= q0.3 constraint
    assert t1.state is TrialState.INFEASIBLE and t1.score is None and t1.violation > 0
    assert t0.state is TrialState.COMPLETE and t0.score == cols[VAL][0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        t0.score = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        t0.values["accuracy"] = 1.0  # type: ignore[index]
    assert [t.clock_s for t in alg.told] == [1.0, 2.0, 3.0]  # no time column: the clock counts evaluations


@pytest.mark.parametrize("bad", ["|nor_conv_3x3~0|+|", 15625, -1, (1, 2, 3), (0, 0, 0, 0, 0, 9), 1.5, None, True])
def test_proposals_outside_the_space_are_rejected(bad: object) -> None:
    prob = synthetic_problem("constrained", evaluations=3)
    with pytest.raises(InvalidProposalError, match="proposal 0"):
        run(prob, Fixed([bad]), seed=0)


def test_budget_in_evaluations_and_overrun_error() -> None:
    prob = synthetic_problem("pareto", evaluations=4)
    session = TaskRun(prob)
    for i in range(4):
        session.evaluate(i)
    assert session.finished
    with pytest.raises(BudgetExhaustedError, match="budget of 4 evaluations is spent"):
        session.evaluate(5)


def test_budget_in_simulated_seconds_charges_each_cells_training_time() -> None:
    prob = synthetic_problem("time", evaluations=10)  # budget 300 s, times 10..~120 s
    times = prob.objective.columns[TIME]
    traj = run(prob, create_algorithm("random"), seed=0)
    clock = np.cumsum([times[i] for i in traj.indices])
    assert np.allclose(traj.clock_s, clock)
    assert traj.clock_s[-1] <= 300.0
    # the runner stopped because the next proposal did not fit
    session = TaskRun(prob)
    big = int(np.argmax(times))
    with pytest.raises(BudgetExhaustedError, match="past the budget"):
        for _ in range(100):
            session.evaluate(big)
    assert session.clock_s <= 300.0 and session.finished


def test_same_seed_bit_identical_trajectory_and_score() -> None:
    prob = synthetic_problem("scalarized", evaluations=60)
    for name in ("random", "regularized-evolution", "local-search", "reinforce"):
        a = run(prob, create_algorithm(name), seed=7)
        b = run(prob, create_algorithm(name), seed=7)
        assert a.indices == b.indices and a.clock_s == b.clock_s, name
        sa = score_trajectory(prob, a.indices, a.clock_s)
        sb = score_trajectory(prob, b.indices, b.clock_s)
        assert sa.regret == sb.regret and np.array_equal(sa.curve_regret, sb.curve_regret)
        assert run(prob, create_algorithm(name), seed=8).indices != a.indices


def test_results_file_round_trip_and_tampering_is_rejected(tmp_path: Path) -> None:
    prob = synthetic_problem("constrained", evaluations=30)
    trajs = run_seeds(prob, lambda: create_algorithm("regularized-evolution", population_size=10, sample_size=3),
                      range(3))
    data = results_dict(prob, "regularized-evolution", trajs)
    path = tmp_path / "r.json"
    save_results(path, data)
    loaded = load_results(path)
    scores, summary = score_results(prob, loaded)
    direct = [score_trajectory(prob, t.indices, t.clock_s, t.seed).regret for t in trajs]
    assert [s.regret for s in scores] == direct
    assert summary.n == 3 and summary.mean == pytest.approx(np.mean(direct))

    over = json.loads(path.read_text())
    over["runs"][0]["archs"].append(over["runs"][0]["archs"][0])
    with pytest.raises(ResultsFormatError, match="30 clock entries"):
        score_results(prob, over)
    over["runs"][0]["clock_s"].append(31.0)
    with pytest.raises(BudgetExhaustedError):
        score_results(prob, over)
    bad_arch = json.loads(path.read_text())
    bad_arch["runs"][1]["archs"][2] = "|conv~0|+|"
    with pytest.raises(InvalidProposalError):
        score_results(prob, bad_arch)
    bad_clock = json.loads(path.read_text())
    bad_clock["runs"][0]["clock_s"][5] += 0.5
    with pytest.raises(ResultsFormatError, match="clock"):
        score_results(prob, bad_clock)
    other = json.loads(path.read_text())
    other["table_sha256"] = "0" * 64
    prob_sha = Problem(prob.task, TabularObjective(dict(prob.objective.columns), ACC, VAL, table_sha256="f" * 64))
    # another table file with the same task columns: the data hash matches, the scores are the same
    assert [s.regret for s in score_results(prob_sha, other)[0]] == [s.regret for s in score_results(prob, other)[0]]
    other.pop("data_sha256")  # without a column hash only the table hash can vouch for the data
    with pytest.raises(ResultsFormatError, match="same table"):
        score_results(prob_sha, other)
    # different column values (e.g. another NATS import in the overlay) under the same table file
    cols = dict(prob.objective.columns)
    cols[ACC] = cols[ACC] + 0.01
    changed = Problem(prob.task, TabularObjective.for_task(prob.task, cols))
    with pytest.raises(ResultsFormatError, match="different data"):
        score_results(changed, json.loads(path.read_text()))
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ResultsFormatError, match="not an hwbench search results file"):
        load_results(tmp_path / "x.json")
    with pytest.raises(ResultsFormatError, match="does not exist"):
        load_results(tmp_path / "missing.json")


def test_replay_reproduces_trials() -> None:
    prob = synthetic_problem("time", evaluations=20)
    traj = run(prob, create_algorithm("local-search"), seed=1)
    session = replay(prob, traj.archs(), traj.clock_s)
    assert tuple(t.index for t in session.trials) == traj.indices
    assert session.trials == list(traj.trials)


def test_objective_from_arrays_validates_shapes() -> None:
    obj = TabularObjective.from_arrays(np.arange(5.0), {"c": np.ones(5)})
    assert obj.search_column == obj.score_column == "accuracy" and obj.num_rows == 5
    assert not obj["accuracy"].flags.writeable
    with pytest.raises(ValueError, match="expected 5 rows"):
        TabularObjective.from_arrays(np.arange(5.0), {"c": np.ones(4)})
    prob = synthetic_problem("constrained")
    small = Problem(prob.task, TabularObjective.for_task(prob.task, {k: v[:100] for k, v in prob.objective.columns.items()}))
    with pytest.raises(ValueError, match="100 rows but space nb201 has 15625"):
        TaskRun(small)


@pytest.mark.parametrize(
    "name, head, last, regret",
    [
        ("random", (13291, 9952, 7986, 4215, 4809, 640), 9615, 10.750304868720079),
        ("regularized-evolution", (13291, 9952, 7986, 4215, 4809, 640), 5755, 7.736597150392285),
        ("local-search", (13291, 13366, 3916, 13416, 13341, 13281), 14615, 4.094356059535585),
        ("reinforce", (10024, 11620, 12897, 4393, 10618, 10086), 4494, 6.067126308910574),
    ],
)
def test_golden_trajectories(name: str, head: tuple, last: int, regret: float) -> None:
    """Pinned at seed 0: a change here changes every published score (bump the task or algorithm
    version, or explain why in the changelog)."""
    prob = synthetic_problem("constrained", 50)
    t = run(prob, create_algorithm(name), 0)
    assert t.indices[:6] == head and t.indices[-1] == last
    assert score_trajectory(prob, t.indices, t.clock_s).regret == regret
