"""Learned cost/accuracy predictors with scikit-learn conventions, persisted without pickle.

>>> from hwbench.predictors import create_predictor, featurize     # doctest: +SKIP
>>> X = featurize(cells, "onehot+ir", "cifar10")                    # doctest: +SKIP
>>> p = create_predictor("xgboost", random_state=0).fit(X, y)       # doctest: +SKIP
>>> p.save("latency-xgb"); load("latency-xgb").predict(X)           # doctest: +SKIP

Predictors (see docs/predictors.md): ``linear`` (with the ``flops`` feature: the FLOPs floor),
``layer_table`` (layer-wise lookup table on ``opcounts``), ``xgboost``, ``mlp``.
"""

from __future__ import annotations

import fnmatch
import importlib
from typing import Any

from hwbench.errors import UnknownNameError
from hwbench.predictors._base import FORMAT, NotFittedError, Predictor, PredictorError, clone, load, read_meta
from hwbench.predictors.features import KINDS as FEATURE_KINDS
from hwbench.predictors.features import feature_names, featurize

#: predictor name -> "module:Class" (imported on use)
PREDICTORS: dict[str, str] = {
    "linear": "hwbench.predictors.models:LinearPredictor",
    "layer_table": "hwbench.predictors.models:LayerTablePredictor",
    "xgboost": "hwbench.predictors.models:XGBoostPredictor",
    "mlp": "hwbench.predictors.models:MLPPredictor",
    "few_shot_transfer": "hwbench.predictors.transfer:FewShotTransfer",
}
#: the features each predictor uses by default
DEFAULT_FEATURES: dict[str, str] = {"linear": "flops", "layer_table": "opcounts", "xgboost": "onehot+ir",
                                    "mlp": "onehot+ir", "few_shot_transfer": "onehot+ir_pruned"}


def list_predictors(pattern: str | None = None) -> list[str]:
    names = sorted(PREDICTORS)
    return [n for n in names if fnmatch.fnmatchcase(n, pattern)] if pattern else names


def get_predictor_class(name: str) -> type[Predictor]:
    if name not in PREDICTORS:
        raise UnknownNameError("predictor", name, PREDICTORS)
    module, cls = PREDICTORS[name].split(":")
    return getattr(importlib.import_module(module), cls)  # type: ignore[no-any-return]


def create_predictor(name: str, **params: Any) -> Predictor:
    return get_predictor_class(name)(**params)


__all__ = [
    "DEFAULT_FEATURES",
    "FEATURE_KINDS",
    "FORMAT",
    "PREDICTORS",
    "NotFittedError",
    "Predictor",
    "PredictorError",
    "clone",
    "create_predictor",
    "feature_names",
    "featurize",
    "get_predictor_class",
    "list_predictors",
    "load",
    "read_meta",
]
