"""Host an hwbench algorithm (built-in or entry point) behind the JSON-lines protocol.

``python -m hwbench.leaderboard.bridge --seed S --algorithm NAME [--params JSON]`` reads the
runner's messages on stdin and answers ``ask`` on stdout (see docs/search.md). It builds the
algorithm's generator from ``S`` exactly as the in-process runner does
(``np.random.default_rng(np.random.SeedSequence(S))``), so the trajectory equals that of
``hwbench run --algorithm NAME`` for seed ``S``. Used by ``hwbench submit --rerun``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from typing import Any


def _nan(x: Any) -> float:
    return math.nan if x is None else float(x)


def _trial(m: dict[str, Any]) -> Any:
    from hwbench.search.algorithms.base import Trial, TrialState, frozen_mapping

    return Trial(
        number=int(m["number"]), arch=str(m["arch"]), index=int(m["index"]), state=TrialState(m["state"]),
        values=frozen_mapping({k: _nan(v) for k, v in m["values"].items()}),
        score=None if m["score"] is None else float(m["score"]),
        objectives=tuple(_nan(x) for x in m["objectives"]), violation=_nan(m["violation"]),
        cost_s=float(m["cost_s"]), clock_s=float(m["clock_s"]), epochs=m.get("epochs"),
    )


def _spec(m: dict[str, Any]) -> Any:
    from hwbench.search.algorithms.base import TaskSpec

    return TaskSpec(
        task=m["task"], space=m["space"], kind=m["kind"], accuracy=m["accuracy"], costs=tuple(m["costs"]),
        constraints=dict(m["constraints"]), max_evaluations=m["max_evaluations"],
        max_seconds=m["max_seconds"], num_cells=int(m["num_cells"]), max_epochs=m["max_epochs"],
    )


def _reply(proposal: Any) -> dict[str, Any]:
    from hwbench.search.algorithms.base import Query

    epochs = None
    if isinstance(proposal, Query):
        epochs, proposal = int(proposal.epochs), proposal.arch
    if isinstance(proposal, str):
        out: dict[str, Any] = {"arch": proposal}
    elif hasattr(proposal, "__index__") and not isinstance(proposal, bool):
        out = {"index": int(proposal)}
    else:
        out = {"ops": [int(x) for x in proposal]}
    if epochs is not None:
        out["epochs"] = epochs
    return out


def main(argv: Sequence[str] | None = None) -> int:
    import numpy as np

    from hwbench.search.algorithms import create_algorithm

    ap = argparse.ArgumentParser(prog="python -m hwbench.leaderboard.bridge")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--algorithm", required=True)
    ap.add_argument("--params", default="{}")
    args = ap.parse_args(argv)
    alg = create_algorithm(args.algorithm, **json.loads(args.params))
    out = sys.stdout
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            msg = json.loads(line)
            t = msg.get("type")
            if t == "start":
                alg.setup(_spec(msg["spec"]), np.random.default_rng(np.random.SeedSequence(args.seed)))
            elif t == "ask":
                out.write(json.dumps(_reply(alg.ask())) + "\n")
                out.flush()
            elif t == "tell":
                alg.tell(_trial(msg["trial"]))
            elif t == "stop":
                break
    finally:
        alg.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
