"""Named, versioned search tasks (``name.vN``) and their registry.

A task fixes everything a score depends on: the space and config, the accuracy column that is
searched on (validation where the table has one) and the one that is scored (test), the cost
column(s), the objective (hard-constrained best accuracy, MnasNet soft-constraint reward, or the
accuracy-vs-cost Pareto front scored by hypervolume), the budget (evaluations, or simulated seconds
charged by the table's training time), the number of seeds and, once pinned, the table hash.

Tasks are data: they name columns, so a task becomes runnable as soon as its columns exist in the
loaded table (:meth:`Task.missing_columns`).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any, Literal

import numpy as np

from hwbench.errors import UnknownNameError

Kind = Literal["constrained", "scalarized", "pareto"]
KINDS: tuple[str, ...] = ("constrained", "scalarized", "pareto")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]*\.v[0-9]+$")


@dataclass(frozen=True)
class Threshold:
    """An upper bound on a cost column, absolute (``value``) or as a quantile of the column over
    the whole space (``quantile``, resolved on the table the task runs on and recorded)."""

    metric: str
    value: float | None = None
    quantile: float | None = None

    def __post_init__(self) -> None:
        if (self.value is None) == (self.quantile is None):
            raise ValueError(f"threshold on {self.metric!r}: give exactly one of value or quantile")
        if self.quantile is not None and not 0.0 < self.quantile <= 1.0:
            raise ValueError(f"threshold on {self.metric!r}: quantile must be in (0, 1]")

    def resolve(self, column: np.ndarray) -> float:
        if self.value is not None:
            return float(self.value)
        finite = np.asarray(column, dtype=np.float64)
        finite = finite[np.isfinite(finite)]
        if finite.size == 0 or self.quantile is None:
            return float("nan")
        return float(np.quantile(finite, self.quantile, method="lower"))

    def describe(self) -> str:
        bound = f"{self.value:g}" if self.value is not None else f"q{self.quantile:g} of the space"
        return f"{self.metric} <= {bound}"


@dataclass(frozen=True)
class Budget:
    """Either a number of evaluations, or simulated seconds (each evaluation advances the clock by
    the evaluated cell's training time from the task's ``time_column``). ``seconds`` may be given
    as ``median_evaluations`` = that many times the median training time over the space."""

    evaluations: int | None = None
    seconds: float | None = None
    median_evaluations: float | None = None

    def __post_init__(self) -> None:
        given = [x is not None for x in (self.evaluations, self.seconds, self.median_evaluations)]
        if sum(given) != 1:
            raise ValueError("a budget is exactly one of evaluations, seconds or median_evaluations")
        if self.evaluations is not None and self.evaluations < 1:
            raise ValueError("budget evaluations must be >= 1")

    @property
    def unit(self) -> str:
        return "evaluations" if self.evaluations is not None else "seconds"

    def describe(self) -> str:
        if self.evaluations is not None:
            return f"{self.evaluations} evaluations"
        if self.seconds is not None:
            return f"{self.seconds:g} simulated s"
        return f"{self.median_evaluations:g} x median train time (simulated s)"


@dataclass(frozen=True)
class Task:
    """One benchmark problem. ``name`` carries the version: ``nb201-cifar10-nats-params-constrained.v1``."""

    name: str
    kind: Kind
    config: str
    accuracy: str
    costs: tuple[str, ...]
    budget: Budget
    description: str = ""
    search_accuracy: str | None = None
    constraints: tuple[Threshold, ...] = ()
    target: Threshold | None = None  # scalarized: the cost target T of reward = acc * (cost / T) ** w
    alpha: float = -0.07  # exponent w when cost <= T (MnasNet's soft constraint: alpha = beta = -0.07)
    beta: float = -0.07  # exponent w when cost > T
    time_column: str | None = None
    curve_column: str | None = None  # 2-D searched accuracy per epoch: enables multi-fidelity queries
    seeds: int = 10
    space: str = "nb201"
    table_sha256: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"task name {self.name!r} must look like 'lowercase-name.vN'")
        if self.kind not in KINDS:
            raise ValueError(f"task {self.name}: kind {self.kind!r} not in {KINDS}")
        if not self.costs and self.kind != "constrained":
            raise ValueError(f"task {self.name}: a {self.kind} task needs a cost column")
        if self.kind == "scalarized" and self.target is None:
            raise ValueError(f"task {self.name}: a scalarized task needs a target")
        if self.kind == "pareto" and len(self.costs) != 1:
            raise ValueError(f"task {self.name}: a pareto task has exactly one cost column (2-D front)")
        if self.budget.unit == "seconds" and self.time_column is None:
            raise ValueError(f"task {self.name}: a budget in seconds needs a time_column")
        if self.curve_column is not None and (self.budget.unit != "seconds" or self.time_column is None):
            raise ValueError(f"task {self.name}: multi-fidelity (curve_column) needs a budget in seconds")
        if self.seeds < 1:
            raise ValueError(f"task {self.name}: seeds must be >= 1")

    @property
    def base_name(self) -> str:
        return self.name.rsplit(".v", 1)[0]

    @property
    def version(self) -> int:
        return int(self.name.rsplit(".v", 1)[1])

    def required_columns(self) -> list[str]:
        cols = [self.accuracy, *self.costs, *(c.metric for c in self.constraints)]
        if self.target is not None:
            cols.append(self.target.metric)
        if self.time_column is not None:
            cols.append(self.time_column)
        if self.curve_column is not None:
            cols.append(self.curve_column)
        return list(dict.fromkeys(cols))

    def missing_columns(self, available: Iterable[str]) -> list[str]:
        have = set(available)
        return [c for c in self.required_columns() if c not in have]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Task:
        d = dict(d)
        d["budget"] = Budget(**d["budget"])
        d["constraints"] = tuple(Threshold(**c) for c in d.get("constraints", ()))
        d["target"] = Threshold(**d["target"]) if d.get("target") else None
        d["costs"] = tuple(d["costs"])
        d["tags"] = tuple(d.get("tags", ()))
        return cls(**d)

    def describe(self) -> dict[str, Any]:
        """A flat, human-readable summary (what ``hwbench tasks show`` prints)."""
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "space": self.space,
            "config": self.config,
            "search_on": self.search_accuracy or self.accuracy,
            "scored_on": self.accuracy,
            "costs": ", ".join(self.costs),
            "budget": self.budget.describe(),
            "seeds": self.seeds,
        }
        if self.constraints:
            out["constraints"] = "; ".join(c.describe() for c in self.constraints)
        if self.target is not None:
            out["reward"] = (
                f"acc * ({self.target.metric} / T) ** w, T = {self.target.describe().split('<= ')[1]}, "
                f"w = {self.alpha:g} if under T else {self.beta:g}"
            )
        if self.time_column:
            out["clock"] = self.time_column
        if self.curve_column:
            out["multi_fidelity"] = f"Query(arch, epochs) told {self.curve_column}[epochs]"
        if self.table_sha256:
            out["table_sha256"] = self.table_sha256
        if self.description:
            out["description"] = self.description
        return out


class TaskRegistry:
    """Tasks by full name (``name.vN``); rejects duplicates. Stores frozen :class:`Task` records."""

    def __init__(self, tasks: Iterable[Task] = ()) -> None:
        self._tasks: dict[str, Task] = {}
        for t in tasks:
            self.register(t)

    def register(self, task: Task) -> Task:
        if task.name in self._tasks:
            raise ValueError(f"task {task.name!r} is already registered; bump its version instead")
        self._tasks[task.name] = task
        return task

    def names(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in self._tasks if fnmatch.fnmatch(n, pattern))

    def list(self, pattern: str = "*") -> list[Task]:
        return [self._tasks[n] for n in self.names(pattern)]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._resolve(name) is not None

    def _resolve(self, name: str) -> str | None:
        if name in self._tasks:
            return name
        # an unversioned name means its latest version
        versions = [n for n in self._tasks if n.rsplit(".v", 1)[0] == name]
        if versions:
            return max(versions, key=lambda n: int(n.rsplit(".v", 1)[1]))
        return None

    def get(self, name: str) -> Task:
        full = self._resolve(name)
        if full is None:
            raise UnknownNameError("task", name, self._tasks)
        return self._tasks[full]


# ---------------------------------------------------------------------------------------------
# The built-in suite
# ---------------------------------------------------------------------------------------------

#: accuracy sources: short name -> (configs, scored column, searched column, train-time column)
_SOURCES: dict[str, tuple[tuple[str, ...], str, str, str]] = {
    "nats": (
        ("cifar10", "cifar100", "imagenet16-120"),
        "{c}/nats-bench/test_accuracy_pct",
        "{c}/nats-bench/valid_accuracy_pct",
        "{c}/nats-bench/train_time_s",
    ),
    "train": (
        ("fashion-mnist",),
        "{c}/train/test_accuracy_pct",
        "{c}/train/valid_accuracy_pct",
        "{c}/train/train_time_s",
    ),
}
_SHORT = {"cifar10": "c10", "cifar100": "c100", "imagenet16-120": "in16", "fashion-mnist": "fmnist"}
KIB = 1024


def builtin_tasks() -> list[Task]:
    """The shipped suite: for every accuracy source x config, the three objective kinds over the
    analytic cost columns, plus device tasks (MCU, FPGA, GPU, ASIC, CPU) that become runnable when those
    columns land."""
    out: list[Task] = []
    for src, (configs, acc_t, val_t, time_t) in _SOURCES.items():
        for c in configs:
            acc, val, tcol = acc_t.format(c=c), val_t.format(c=c), time_t.format(c=c)
            pre = f"nb201-{_SHORT[c]}-{src}"
            params, macs, act = f"{c}/model/params", f"{c}/model/macs", f"{c}/model/peak_activation_bytes"
            common: dict[str, Any] = {"config": c, "accuracy": acc, "search_accuracy": val}
            out += [
                Task(
                    f"{pre}-params-constrained.v1", "constrained", costs=(params,),
                    constraints=(Threshold(params, quantile=0.3),), budget=Budget(evaluations=300),
                    description="best accuracy among the 30% smallest models (by parameter count)",
                    tags=("analytic",), **common,
                ),
                Task(
                    f"{pre}-macs-mnasnet.v1", "scalarized", costs=(macs,),
                    target=Threshold(macs, quantile=0.25), budget=Budget(evaluations=300),
                    description="MnasNet soft-constraint reward acc * (MACs / T)^-0.07, T = 25% quantile of MACs",
                    tags=("analytic",), **common,
                ),
                Task(
                    f"{pre}-macs-pareto.v1", "pareto", costs=(macs,), budget=Budget(evaluations=300),
                    description="accuracy vs MACs Pareto front, scored by hypervolume relative to the true front",
                    tags=("analytic",), **common,
                ),
                Task(
                    f"{pre}-actmem-constrained.v1", "constrained", costs=(act,),
                    constraints=(Threshold(act, quantile=0.2),), budget=Budget(evaluations=300),
                    description="best accuracy among the 20% of cells with the smallest peak activation memory",
                    tags=("analytic",), **common,
                ),
                Task(
                    f"{pre}-mcu-stm32f746-constrained.v1", "constrained",
                    costs=(f"{c}/mcu-stm32f746/peak_sram_bytes", f"{c}/mcu-stm32f746/latency_ms"),
                    constraints=(
                        Threshold(f"{c}/mcu-stm32f746/peak_sram_bytes", value=256 * KIB),
                        Threshold(f"{c}/mcu-stm32f746/latency_ms", quantile=0.5),
                    ),
                    budget=Budget(evaluations=300),
                    description="best accuracy on an STM32F746 with peak SRAM <= 256 KiB and latency <= median",
                    tags=("simulated", "mcu"), **common,
                ),
                Task(
                    f"{pre}-mcu-stm32f746-pareto.v1", "pareto", costs=(f"{c}/mcu-stm32f746/latency_ms",),
                    constraints=(Threshold(f"{c}/mcu-stm32f746/peak_sram_bytes", value=256 * KIB),),
                    budget=Budget(evaluations=300),
                    description="accuracy vs STM32F746 latency front among cells that fit 256 KiB SRAM",
                    tags=("simulated", "mcu"), **common,
                ),
                Task(
                    f"{pre}-fpga-zcu102-mnasnet.v1", "scalarized", costs=(f"{c}/fpga-zcu102/latency_ms",),
                    target=Threshold(f"{c}/fpga-zcu102/latency_ms", quantile=0.25),
                    budget=Budget(evaluations=300),
                    description="MnasNet reward with ZCU102 FPGA latency, T = 25% quantile",
                    tags=("simulated", "fpga"), **common,
                ),
                Task(
                    f"{pre}-gpu-jetson-tx2-pareto.v1", "pareto", costs=(f"{c}/gpu-jetson-tx2/latency_ms",),
                    budget=Budget(evaluations=300),
                    description="accuracy vs Jetson TX2 GPU latency front (simulated roofline + launch model)",
                    tags=("simulated", "gpu"), **common,
                ),
                Task(
                    f"{pre}-asic-eyeriss-energy-constrained.v1", "constrained",
                    costs=(f"{c}/asic-eyeriss/energy_mj",),
                    constraints=(Threshold(f"{c}/asic-eyeriss/energy_mj", quantile=0.25),),
                    budget=Budget(evaluations=300),
                    description="best accuracy among the 25% of cells with the lowest Eyeriss energy per inference",
                    tags=("simulated", "asic"), **common,
                ),
                Task(
                    f"{pre}-cpu-host-pareto.v1", "pareto", costs=(f"{c}/cpu-host/latency_ms",),
                    budget=Budget(evaluations=300),
                    description="accuracy vs measured (TVM-compiled) host-CPU latency front",
                    tags=("measured", "cpu"), **common,
                ),
                Task(
                    f"{pre}-params-constrained-time.v1", "constrained", costs=(params,),
                    constraints=(Threshold(params, quantile=0.3),),
                    budget=Budget(median_evaluations=300), time_column=tcol,
                    description="as params-constrained, but the budget is simulated training time "
                    "(300 x the median cell's training time)",
                    tags=("analytic", "time"), **common,
                ),
            ]
            if src == "train":  # the project's own training stores per-epoch validation curves
                out.append(Task(
                    f"{pre}-params-constrained-mf.v1", "constrained", costs=(params,),
                    constraints=(Threshold(params, quantile=0.3),),
                    budget=Budget(median_evaluations=100), time_column=tcol,
                    curve_column=f"{c}/train/valid_accuracy_curve_pct",
                    description="multi-fidelity: as params-constrained-time with 100 x the median training "
                    "time; Query(arch, epochs) is told the validation curve at that epoch and charged "
                    "epochs / E of the cell's training time",
                    tags=("analytic", "time", "multi-fidelity"), **common,
                ))
    from hwbench.compress.tasks import compression_tasks  # compression spaces (docs/compression.md)

    return out + compression_tasks()


@cache
def default_registry() -> TaskRegistry:
    """The registry of built-in tasks (built on first use, not at import)."""
    return TaskRegistry(builtin_tasks())


def list_tasks(pattern: str = "*") -> list[str]:
    return default_registry().names(pattern)


def get_task(name: str | Task) -> Task:
    if isinstance(name, Task):
        return name
    return default_registry().get(name)


def is_task(name: str) -> bool:
    return name in default_registry()


def register_task(task: Task) -> Task:
    """Add a task to the default registry (for plug-ins; duplicates are rejected)."""
    return default_registry().register(task)


def runnable(tasks: Sequence[Task], available: Iterable[str]) -> dict[str, list[str]]:
    """Task name -> its missing columns (empty = runnable) against a table's metric names."""
    have = list(available)
    return {t.name: t.missing_columns(have) for t in tasks}
