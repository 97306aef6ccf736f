"""Search algorithms, looked up by name.

Built-ins are registered as ``"module:Class"`` strings (imported on first use); third-party
algorithms come from the ``hwbench.algorithms`` entry-point group; ``exec:COMMAND`` runs an external
process speaking the JSON-lines protocol (see docs/search.md).
"""

from __future__ import annotations

import fnmatch
import importlib
import shlex
from importlib import metadata
from typing import Any

from hwbench.errors import UnknownNameError
from hwbench.search.algorithms.base import (
    Algorithm,
    Query,
    TaskSpec,
    Trial,
    TrialState,
    best_of,
    dominates,
    fitness_key,
)

ENTRY_POINT_GROUP = "hwbench.algorithms"

BUILTIN: dict[str, str] = {
    "random": "hwbench.search.algorithms.random_search:RandomSearch",
    "regularized-evolution": "hwbench.search.algorithms.evolution:RegularizedEvolution",
    "predictor-guided-evolution": "hwbench.search.algorithms.predictor_guided:PredictorGuidedEvolution",
    "local-search": "hwbench.search.algorithms.local_search:LocalSearch",
    "reinforce": "hwbench.search.algorithms.reinforce:Reinforce",
    "successive-halving": "hwbench.search.algorithms.successive_halving:SuccessiveHalving",
    "optuna-tpe": "hwbench.search.algorithms.optuna_adapter:OptunaTPE",
    "pymoo-nsga2": "hwbench.search.algorithms.pymoo_adapter:PymooNSGA2",
    "greedy-bits": "hwbench.compress.baselines:GreedyBitAllocation",  # compression spaces only
    "haq-reinforce": "hwbench.compress.baselines:CompressionReinforce",  # compression spaces only
}


def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def list_algorithms(pattern: str = "*") -> list[str]:
    """Built-in and installed (entry point) algorithm names matching an fnmatch pattern."""
    names = set(BUILTIN) | set(_entry_points())
    return sorted(n for n in names if fnmatch.fnmatch(n, pattern))


def is_algorithm(name: str) -> bool:
    return name.startswith("exec:") or name in BUILTIN or name in _entry_points()


def get_algorithm_class(name: str) -> type[Algorithm]:
    if name in BUILTIN:
        module, cls = BUILTIN[name].split(":")
        return getattr(importlib.import_module(module), cls)  # type: ignore[no-any-return]
    eps = _entry_points()
    if name in eps:
        obj = eps[name].load()
        if not (isinstance(obj, type) and issubclass(obj, Algorithm)) and not callable(obj):
            raise TypeError(f"entry point {name!r} in {ENTRY_POINT_GROUP} is not an Algorithm factory")
        return obj  # type: ignore[no-any-return]
    raise UnknownNameError("algorithm", name, [*BUILTIN, *eps, "exec:COMMAND"])


def create_algorithm(name: str, **params: Any) -> Algorithm:
    """Instantiate an algorithm by name with keyword parameters.

    ``exec:COMMAND ARGS`` starts an external process (shell-style split, no shell) per run.
    """
    if name.startswith("exec:"):
        from hwbench.search.external import ExternalAlgorithm

        return ExternalAlgorithm(shlex.split(name[len("exec:"):]), **params)
    obj = get_algorithm_class(name)(**params)
    if not isinstance(obj, Algorithm):
        raise TypeError(f"algorithm {name!r} did not produce an hwbench Algorithm (got {type(obj).__name__})")
    return obj


__all__ = [
    "BUILTIN",
    "ENTRY_POINT_GROUP",
    "Algorithm",
    "Query",
    "TaskSpec",
    "Trial",
    "TrialState",
    "best_of",
    "create_algorithm",
    "dominates",
    "fitness_key",
    "get_algorithm_class",
    "is_algorithm",
    "list_algorithms",
]
