"""Base class of the cost/accuracy predictors: scikit-learn conventions, persistence without pickle.

* ``__init__`` only stores its keyword arguments (validated in ``fit``);
* ``fit(X, y) -> self`` sets fitted attributes ending in ``_``; ``predict(X) -> ndarray``;
* ``get_params()`` / ``set_params(**p)`` / :func:`clone`;
* ``save(path)`` writes a folder: ``predictor.json`` (class, parameters, hwbench version, feature
  description, names of the fitted arrays) + ``arrays.npz`` (read back with ``allow_pickle=False``)
  + model-specific files in open formats (XGBoost's JSON model). :func:`load` reads it back and
  refuses files of another format version.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

import numpy as np

from hwbench.errors import HwbenchError

FORMAT = "hwbench-predictor/1"


class PredictorError(HwbenchError):
    """Bad input to a predictor (shapes, NaN, not fitted) or an unreadable saved predictor."""


class NotFittedError(PredictorError):
    """``predict`` or ``save`` before ``fit``."""


class Predictor:
    """Base of every predictor; subclasses implement ``_fit``, ``_predict`` and (de)serialization hooks."""

    #: registry name of the class (used in saved files)
    kind: str = ""

    # -- parameters -----------------------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.name != "self" and p.kind == p.KEYWORD_ONLY]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self._param_names()}

    def set_params(self, **params: Any) -> Self:
        valid = self._param_names()
        for k, v in params.items():
            if k not in valid:
                raise PredictorError(f"{type(self).__name__} has no parameter {k!r}; valid: {', '.join(valid)}")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- fit / predict ----------------------------------------------------------------------------
    @staticmethod
    def _check_X(X: Any, n_features: int | None = None) -> np.ndarray:
        a = np.asarray(X, dtype=np.float64)
        if a.ndim != 2:
            raise PredictorError(f"X must be 2-D (n_samples, n_features), got shape {a.shape}")
        if n_features is not None and a.shape[1] != n_features:
            raise PredictorError(f"X has {a.shape[1]} features, the predictor was fitted on {n_features}")
        if not np.isfinite(a).all():
            raise PredictorError("X contains NaN or infinite values")
        return a

    def fit(self, X: Any, y: Any) -> Self:
        Xa = self._check_X(X)
        ya = np.asarray(y, dtype=np.float64).ravel()
        if len(ya) != len(Xa):
            raise PredictorError(f"X has {len(Xa)} rows, y has {len(ya)}")
        if len(ya) < 2:
            raise PredictorError(f"need at least 2 training samples, got {len(ya)}")
        if not np.isfinite(ya).all():
            raise PredictorError("y contains NaN or infinite values; drop unmeasured rows before fitting")
        rs = getattr(self, "random_state", None)
        if rs is not None and not isinstance(rs, (int, np.integer)):
            raise PredictorError(f"random_state must be an int or None, got {rs!r}")
        self.n_features_in_ = Xa.shape[1]
        self._fit(Xa, ya)
        return self

    def predict(self, X: Any) -> np.ndarray:
        if not hasattr(self, "n_features_in_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit(X, y) first")
        return np.asarray(self._predict(self._check_X(X, self.n_features_in_)), dtype=np.float64)

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _predict(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- persistence ------------------------------------------------------------------------------
    def _get_state(self, folder: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Fitted arrays and JSON extras; may write extra open-format files into ``folder``."""
        raise NotImplementedError  # pragma: no cover

    def _set_state(self, folder: Path, arrays: Mapping[str, np.ndarray], extra: Mapping[str, Any]) -> None:
        raise NotImplementedError  # pragma: no cover

    def save(self, path: str | os.PathLike[str], *, features: Mapping[str, Any] | None = None) -> Path:
        """Write the fitted predictor to folder ``path`` (created; existing files are replaced)."""
        from hwbench._version import __version__

        if not hasattr(self, "n_features_in_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; nothing to save")
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        arrays, extra = self._get_state(folder)
        np.savez(folder / "arrays.npz", **arrays)  # type: ignore[arg-type]
        meta = {
            "format": FORMAT,
            "class": self.kind,
            "params": self.get_params(),
            "n_features_in": int(self.n_features_in_),
            "hwbench_version": __version__,
            "features": dict(features or {}),
            "arrays": sorted(arrays),
            "extra": extra,
        }
        tmp = folder / ".predictor.json.tmp"
        tmp.write_text(json.dumps(meta, indent=1, sort_keys=True, allow_nan=False) + "\n")
        os.replace(tmp, folder / "predictor.json")
        return folder


def read_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    f = Path(path) / "predictor.json"
    try:
        meta = json.loads(f.read_text())
    except (OSError, ValueError) as exc:
        raise PredictorError(f"{f} is not a readable saved predictor ({exc})") from None
    if meta.get("format") != FORMAT:
        raise PredictorError(f"{f}: format {meta.get('format')!r}, expected {FORMAT!r}")
    return meta  # type: ignore[no-any-return]


def load(path: str | os.PathLike[str]) -> Predictor:
    """Read a predictor written by :meth:`Predictor.save` (no pickle involved)."""
    from hwbench.predictors import get_predictor_class

    folder = Path(path)
    meta = read_meta(folder)
    cls = get_predictor_class(meta["class"])
    pred = cls(**meta["params"])
    with np.load(folder / "arrays.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    pred.n_features_in_ = int(meta["n_features_in"])
    pred._set_state(folder, arrays, meta.get("extra", {}))
    pred.features_ = meta.get("features", {})  # type: ignore[attr-defined]
    pred.saved_with_version_ = meta.get("hwbench_version")  # type: ignore[attr-defined]
    return pred


def clone(pred: Predictor) -> Predictor:
    """An unfitted copy with the same parameters."""
    return type(pred)(**pred.get_params())
