"""Task registry: names, versions, validation, runnable checks."""

from __future__ import annotations

import numpy as np
import pytest

from hwbench.errors import UnknownNameError
from hwbench.search.tasks import (
    Budget,
    Task,
    TaskRegistry,
    Threshold,
    builtin_tasks,
    get_task,
    is_task,
    list_tasks,
)


def test_builtin_suite_names_are_unique_versioned_and_cover_every_kind() -> None:
    tasks = builtin_tasks()
    names = [t.name for t in tasks]
    assert len(names) == len(set(names))
    assert all(n.rsplit(".v", 1)[1].isdigit() for n in names)
    assert {t.kind for t in tasks} == {"constrained", "scalarized", "pareto"}
    # both accuracy sources, every family of cost columns
    assert {t.config for t in tasks} == {"cifar10", "cifar100", "imagenet16-120", "fashion-mnist"}
    targets = {c.split("/")[1] for t in tasks for c in t.costs}
    assert {"model", "mcu-stm32f746", "fpga-zcu102", "cpu-host"} <= targets
    mcu = get_task("nb201-fmnist-train-mcu-stm32f746-constrained.v1")
    assert Threshold("fashion-mnist/mcu-stm32f746/peak_sram_bytes", value=256 * 1024) in mcu.constraints


def test_lookup_by_unversioned_name_gives_latest_and_unknown_names_suggest() -> None:
    reg = TaskRegistry()
    t1 = Task("x-task.v1", "pareto", "cifar10", "a", ("c",), Budget(evaluations=5))
    t2 = Task("x-task.v2", "pareto", "cifar10", "a", ("c",), Budget(evaluations=6))
    reg.register(t1)
    reg.register(t2)
    assert reg.get("x-task") is t2
    assert reg.get("x-task.v1") is t1
    with pytest.raises(ValueError, match="already registered"):
        reg.register(t1)
    with pytest.raises(UnknownNameError, match="x-task.v1"):
        reg.get("x-tsak.v1")
    assert is_task("nb201-c10-nats-params-constrained")
    assert "nb201-c10-nats-params-constrained.v1" in list_tasks("*c10-nats*")
    with pytest.raises(UnknownNameError, match="closest"):
        get_task("nb201-c10-nats-params-constraind.v1")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"name": "NoVersion"}, "lowercase-name.vN"),
        ({"kind": "best"}, "kind"),
        ({"kind": "scalarized"}, "target"),
        ({"costs": ("a", "b")}, "exactly one cost"),
        ({"budget": Budget(seconds=10.0)}, "time_column"),
        ({"curve_column": "curve"}, "multi-fidelity"),
    ],
)
def test_task_validation(kwargs: dict, match: str) -> None:
    base = {"name": "t.v1", "kind": "pareto", "config": "cifar10", "accuracy": "acc", "costs": ("c",),
            "budget": Budget(evaluations=3)}
    base.update(kwargs)
    with pytest.raises(ValueError, match=match):
        Task(**base)


def test_budget_and_threshold_validation() -> None:
    with pytest.raises(ValueError):
        Budget()
    with pytest.raises(ValueError):
        Budget(evaluations=3, seconds=1.0)
    with pytest.raises(ValueError):
        Budget(evaluations=0)
    with pytest.raises(ValueError):
        Threshold("m")
    with pytest.raises(ValueError):
        Threshold("m", quantile=1.5)
    col = np.array([5.0, 1.0, np.nan, 3.0, 2.0, 4.0])
    assert Threshold("m", quantile=0.4).resolve(col) == 2.0  # a value of the column, NaN ignored
    assert Threshold("m", value=7).resolve(col) == 7.0


def test_round_trip_and_missing_columns() -> None:
    for t in builtin_tasks():
        assert Task.from_dict(t.to_dict()) == t
    t = get_task("nb201-c10-nats-mcu-stm32f746-constrained.v1")
    assert t.missing_columns(["cifar10/nats-bench/test_accuracy_pct", "cifar10/mcu-stm32f746/latency_ms"]) == [
        "cifar10/mcu-stm32f746/peak_sram_bytes"
    ]
    assert t.describe()["search_on"] == "cifar10/nats-bench/valid_accuracy_pct"
