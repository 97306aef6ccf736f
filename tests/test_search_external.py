"""External algorithms over JSON lines: the shipped POSIX-sh example, determinism, protocol errors."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from hwbench.search import ExternalAlgorithmError
from hwbench.search.algorithms import create_algorithm
from hwbench.search.external import ExternalAlgorithm
from hwbench.search.runner import run
from hwbench.search.scoring import score_trajectory
from hwbench.search.testing import synthetic_problem

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "docs" / "examples" / "hill_climb.sh"


@pytest.fixture()
def sh() -> str:
    path = shutil.which("sh")
    if path is None or shutil.which("awk") is None:
        pytest.skip("the example needs a POSIX sh and awk")
    return path


def test_shipped_shell_example_runs_through_the_runner_deterministically(sh: str) -> None:
    prob = synthetic_problem("constrained", evaluations=60)
    alg = create_algorithm(f"exec:{sh} {EXAMPLE}")
    a = run(prob, alg, seed=4)
    b = run(prob, create_algorithm(f"exec:{sh} {EXAMPLE}"), seed=4)
    c = run(prob, create_algorithm(f"exec:{sh} {EXAMPLE}"), seed=5)
    assert len(a.indices) == 60 and a.indices == b.indices and a.indices != c.indices
    # it is a hill climber: after the first cell every proposal is one edge away from an earlier one
    from hwbench.spaces.nb201 import SPACE

    ops = [SPACE.parse(t.arch) for t in a.trials]
    first = next(k for k, t in enumerate(a.trials) if t.score is not None)  # random until a feasible cell
    assert first < 20
    for k in range(first + 1, len(ops)):
        assert any(sum(x != y for x, y in zip(ops[k], ops[j])) == 1 for j in range(k)), k
    s = score_trajectory(prob, a.indices, a.clock_s)
    r = run(prob, create_algorithm("random"), 4)
    rand = score_trajectory(prob, r.indices, r.clock_s)
    assert s.regret >= 0 and rand.regret >= 0
    assert a.algorithm.startswith("exec:") and a.params["command"][-1] == str(EXAMPLE)


def test_shell_example_on_a_pareto_task_gets_null_scores(sh: str) -> None:
    prob = synthetic_problem("pareto", evaluations=15)
    traj = run(prob, create_algorithm(f"exec:{sh} {EXAMPLE}"), seed=0)
    assert len(traj.indices) == 15 and all(t.score is None for t in traj.trials)


def _py(tmp_path: Path, body: str) -> list[str]:
    script = tmp_path / "alg.py"
    script.write_text(body)
    return [sys.executable, str(script)]


def test_external_protocol_messages_and_what_the_process_sees(tmp_path: Path) -> None:
    log = tmp_path / "seen.jsonl"
    cmd = _py(tmp_path, f'''
import json, sys
import os
with open({str(log)!r}, "w") as log:
    log.write(json.dumps({{"type": "env", "hwbench": sorted(k for k in os.environ if k.startswith("HWBENCH_"))}}) + "\\n")
    for line in sys.stdin:
        msg = json.loads(line)
        log.write(line)
        if msg["type"] == "ask":
            print(json.dumps({{"index": 7}}), flush=True)
        elif msg["type"] == "stop":
            break
''')
    prob = synthetic_problem("constrained", evaluations=2)
    traj = run(prob, ExternalAlgorithm(cmd), seed=1)
    assert traj.indices == (7, 7)
    import json

    env, *msgs = [json.loads(x) for x in log.read_text().splitlines()]
    assert env["hwbench"] == []  # table locations are not passed on (conftest sets HWBENCH_USER_DIR)
    assert [m["type"] for m in msgs] == ["start", "ask", "tell", "ask", "tell", "stop"]
    start = msgs[0]
    assert start["protocol"] == 1 and isinstance(start["seed"], int)
    assert start["spec"]["kind"] == "constrained" and start["spec"]["max_evaluations"] == 2
    told = msgs[2]["trial"]
    assert set(told) >= {"arch", "index", "state", "values", "score", "clock_s"}
    # only the searched (validation) accuracy and the costs are told
    assert set(told["values"]) == {"accuracy", "syn/model/params"}


@pytest.mark.parametrize(
    "body, match",
    [
        ("import sys\nfor l in sys.stdin:\n    print('hello', flush=True)\n", "not a JSON object"),
        ("import sys, json\nfor l in sys.stdin:\n    print(json.dumps({'x': 1}), flush=True)\n", "expected"),
        ("import sys\nsys.stderr.write('boom: bad config\\n')\nsys.exit(3)\n", "boom: bad config"),
        ("import sys, json\nfor l in sys.stdin:\n    print(json.dumps({'arch': 'nope'}), flush=True)\n", None),
    ],
)
def test_broken_external_algorithms_raise_clear_errors(tmp_path: Path, body: str, match: str | None) -> None:
    from hwbench.search import InvalidProposalError

    prob = synthetic_problem("constrained", evaluations=3)
    if match is None:
        with pytest.raises(InvalidProposalError, match="nope"):
            run(prob, ExternalAlgorithm(_py(tmp_path, body)), seed=0)
    else:
        with pytest.raises(ExternalAlgorithmError, match=match):
            run(prob, ExternalAlgorithm(_py(tmp_path, body)), seed=0)


def test_silent_external_algorithm_times_out(tmp_path: Path) -> None:
    cmd = _py(tmp_path, "import time\ntime.sleep(30)\n")
    with pytest.raises(ExternalAlgorithmError, match="no reply within 0.5 s"):
        run(synthetic_problem("constrained", 3), ExternalAlgorithm(cmd, timeout_s=0.5), seed=0)


def test_missing_program_is_a_clear_error() -> None:
    with pytest.raises(ExternalAlgorithmError, match="cannot start"):
        run(synthetic_problem("constrained", 3), ExternalAlgorithm(["/nonexistent/alg"]), seed=0)


def test_infinite_violation_of_a_missing_constraint_metric_is_sent_as_null(tmp_path: Path) -> None:
    """A NaN constraint metric makes the violation infinite; the protocol has no Infinity (strict
    JSON), so it must reach the program as null rather than crash the runner's json.dumps."""
    import json

    from hwbench.search.problem import Problem, TabularObjective
    from hwbench.search.testing import PARAMS, synthetic_columns, synthetic_tasks

    cols = synthetic_columns(0)
    params = cols[PARAMS].copy()
    params[7] = np.nan
    cols[PARAMS] = params
    task = synthetic_tasks(2)["constrained"]
    prob = Problem(task, TabularObjective.for_task(task, cols))
    assert np.isinf(prob.violation[7])
    log = tmp_path / "told.jsonl"
    cmd = _py(tmp_path, f'''
import json, sys
with open({str(log)!r}, "w") as log:
    for line in sys.stdin:
        msg = json.loads(line)
        if msg["type"] == "tell":
            log.write(json.dumps(msg["trial"]) + "\\n")
        if msg["type"] == "ask":
            print(json.dumps({{"index": 7}}), flush=True)
        elif msg["type"] == "stop":
            break
''')
    traj = run(prob, ExternalAlgorithm(cmd), seed=0)
    assert traj.indices == (7, 7)
    told = [json.loads(x) for x in log.read_text().splitlines()]
    assert len(told) == 2
    assert told[0]["state"] == "infeasible" and told[0]["violation"] is None
    assert told[0]["values"][PARAMS] is None and told[0]["score"] is None


def test_trial_message_has_no_non_finite_numbers() -> None:
    import json

    from hwbench.search.algorithms.base import Trial, TrialState, frozen_mapping

    t = Trial(number=0, arch="a", index=0, state=TrialState.INFEASIBLE,
              values=frozen_mapping({"accuracy": 90.0, "lat": float("inf"), "mem": float("nan")}),
              score=None, objectives=(90.0, float("-inf")), violation=float("inf"), cost_s=1.0, clock_s=1.0)
    msg = json.loads(json.dumps(t.to_message(), allow_nan=False))
    assert msg["violation"] is None and msg["values"] == {"accuracy": 90.0, "lat": None, "mem": None}
    assert msg["objectives"] == [90.0, None]
