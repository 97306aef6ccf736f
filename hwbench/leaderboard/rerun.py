"""Re-execute a submission's algorithm in its own process and compare the trajectories.

Both recipes drive the algorithm through the JSON-lines protocol of
:class:`hwbench.search.external.ExternalAlgorithm`, so the algorithm runs in a separate process and
sees only what the runner tells it (task spec, seed, its own trials; never the table):

* ``{"algorithm": NAME, "params": {...}}`` - a built-in or an installed entry point
  (``hwbench.algorithms``), hosted by ``python -m hwbench.leaderboard.bridge``. The bridge is given
  the run's seed and builds the same ``np.random.default_rng(SeedSequence(seed))`` the in-process
  runner gives, so a trajectory made by ``hwbench run --algorithm NAME`` is reproduced bit for bit.
* ``{"command": [ARGV...]}`` - any program speaking the protocol, started once per seed exactly as
  ``hwbench run --algorithm "exec:..."`` starts it (same seed derivation).

This is process separation, not a sandbox: ``--rerun`` runs the submitter's code. Maintainers run
it in a container (see leaderboard/README.md).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from hwbench.leaderboard.schema import SubmissionError


def _algorithm_for(recipe: dict[str, Any], seed: int) -> Any:
    from hwbench.search.external import ExternalAlgorithm

    if "command" in recipe:
        return ExternalAlgorithm(list(recipe["command"]), timeout_s=float(recipe.get("timeout_s", 30.0)))
    name = str(recipe["algorithm"])
    params = recipe.get("params") or {}
    cmd = [sys.executable, "-m", "hwbench.leaderboard.bridge", "--seed", str(int(seed)), "--algorithm", name,
           "--params", json.dumps(params, allow_nan=False)]
    return ExternalAlgorithm(cmd, timeout_s=60.0)


def rerun(ev: Any) -> str:
    """Re-run every submitted seed of an :class:`~hwbench.leaderboard.submit.Evaluated` submission.

    Returns a one-line note for the entry; raises :class:`SubmissionError` (field ``rerun``) if the
    submission has no recipe, the process fails, or any trajectory differs."""
    from hwbench.errors import HwbenchError
    from hwbench.search.runner import run

    doc = ev.submission
    recipe = doc.get("rerun")
    if not recipe:
        raise SubmissionError("rerun", "is required for --rerun: give {\"algorithm\": NAME, \"params\": {...}} "
                              "or {\"command\": [ARGV...]}")
    if "algorithm" in recipe:
        from hwbench.search.algorithms import is_algorithm

        if not is_algorithm(recipe["algorithm"]) or recipe["algorithm"].startswith("exec:"):
            raise SubmissionError("rerun.algorithm", f"must be a built-in or installed algorithm; "
                                  f"{recipe['algorithm']!r} is not (see `hwbench run --help`)")
    seeds = sorted(r["seed"] for r in doc["runs"])
    for seed, want_idx, want_eps in zip(seeds, ev.indices, ev.epochs):
        alg = _algorithm_for(recipe, seed)
        try:
            traj = run(ev.problem, alg, seed)
        except HwbenchError as exc:
            raise SubmissionError("rerun", f"re-running seed {seed} failed: {str(exc)[:400]}") from None
        got_idx = tuple(int(i) for i in traj.indices)
        got_eps = tuple(traj.epochs)
        if got_idx != tuple(want_idx) or got_eps != tuple(want_eps):
            j = next((j for j, (a, b) in enumerate(zip(got_idx, want_idx)) if a != b), min(len(got_idx), len(want_idx)))
            if got_idx == tuple(want_idx):
                j = next(j for j, (a, b) in enumerate(zip(got_eps, want_eps)) if a != b)
            raise SubmissionError(
                "rerun", f"must reproduce the submitted trajectories; seed {seed} differs at trial {j} "
                f"(re-run made {len(got_idx)} trials, the submission has {len(want_idx)})"
            )
    how = "command " + " ".join(recipe["command"]) if "command" in recipe else f"algorithm {recipe['algorithm']}"
    return f"re-ran {len(seeds)} seed(s) with {how} in a separate process; trajectories identical"
