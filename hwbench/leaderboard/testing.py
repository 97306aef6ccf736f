"""Fixtures for leaderboard tests: a synthetic accuracy overlay and a small registered task.

The synthetic columns are made up (a smooth function of the analytic parameter count plus seeded
noise); they exist so that the submission pipeline can be exercised end to end (table + user
overlay + registry + runner + scoring + site) before the project's trained accuracies ship.
They are written only to the overlay of the user folder given (tests point ``HWBENCH_USER_DIR``
at a temporary folder), never into the shipped table.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

#: the accuracy columns the synthetic overlay provides (those of the ``fmnist-train`` tasks)
TEST_COLUMN = "fashion-mnist/synthetic-test/test_accuracy_pct"
VALID_COLUMN = "fashion-mnist/synthetic-test/valid_accuracy_pct"
#: a small task (3 seeds, 40 evaluations) on those columns, registered by :func:`register_test_task`
TEST_TASK = "test-lb-fmnist-params-constrained.v1"


def write_synthetic_overlay(user_dir: str | os.PathLike[str], seed: int = 0) -> Path:
    """Write ``<user_dir>/overlays/nb201.h5`` with synthetic test/valid accuracy columns."""
    import numpy as np

    from hwbench.table import TableWriter, load, overlay_path

    t = load("nb201", overlay=False)
    logp = np.log(np.asarray(t.column("fashion-mnist/model/params"), dtype=np.float64))
    rng = np.random.default_rng(seed)
    acc = 80.0 + 10.0 * (logp - logp.min()) / np.ptp(logp) + rng.normal(0.0, 1.0, len(logp))
    val = acc + rng.normal(0.0, 0.5, len(logp))
    out = overlay_path("nb201", user_dir)
    with TableWriter(out, "nb201", kind="overlay") as w:
        for name, v in ((TEST_COLUMN, acc), (VALID_COLUMN, val)):
            w.add_column(name, v, unit="%", source="trained", tool="hwbench.leaderboard.testing (synthetic)",
                         tool_version="0", device="none", protocol={"synthetic": True, "seed": seed},
                         description="SYNTHETIC accuracy for tests only")
    return out


def register_test_task() -> Any:
    """Register :data:`TEST_TASK` in the default registry (once per process) and return it."""
    from hwbench.search.tasks import Budget, Task, Threshold, default_registry

    reg = default_registry()
    if TEST_TASK in reg:
        return reg.get(TEST_TASK)
    c = "fashion-mnist"
    return reg.register(Task(
        TEST_TASK, "constrained", config=c, accuracy=TEST_COLUMN, search_accuracy=VALID_COLUMN,
        costs=(f"{c}/model/params",), constraints=(Threshold(f"{c}/model/params", quantile=0.3),),
        budget=Budget(evaluations=40), seeds=3, description="leaderboard test task (synthetic accuracy)",
        tags=("test",),
    ))
