"""Few-shot transfer of a cost predictor to a new device.

:class:`FewShotTransfer` is pretrained on the columns of other devices (``pretrain(X, Y)``, one
XGBoost model per source device on ``log`` cost) and adapted to the new device with a handful of
measured cells (``fit(X_k, y_k)``): a ridge regression of ``log y`` on the source models'
predictions, i.e. the new device's cost is modelled as a weighted (geometric) mix of the known
devices' costs, with weights learned from the few shots. Prediction: ``exp(ridge(sources(X)))``.
This is a simple stand-in for meta-learned adapters such as HELP (which reports mean rho 0.932 with
10 samples on NB201).

:func:`leave_one_out` evaluates it: for each target device, pretrain on all other devices (on a
pretraining pool of cells), adapt with ``shots`` random cells of the target, score on held-out cells.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np

from hwbench.predictors._base import NotFittedError, Predictor, PredictorError
from hwbench.predictors.metrics import regression_report


class FewShotTransfer(Predictor):
    """Pretrain on source devices, adapt to a target with a few cells (see the module docstring)."""

    kind = "few_shot_transfer"

    #: models a source device can be fitted with (``source_model``)
    SOURCE_MODELS = ("xgboost", "mlp")

    def __init__(
        self, *, alpha: float = 1e-2, n_estimators: int = 400, source_model: str = "xgboost",
        random_state: int | None = 0,
    ) -> None:
        self.alpha = alpha
        self.n_estimators = n_estimators
        self.source_model = source_model
        self.random_state = random_state

    def _new_source(self) -> Predictor:
        from hwbench.predictors.models import MLPPredictor, XGBoostPredictor

        if self.source_model == "xgboost":
            return XGBoostPredictor(n_estimators=self.n_estimators, log_target=True, random_state=self.random_state)
        if self.source_model == "mlp":
            return MLPPredictor(log_target=True, random_state=self.random_state)
        raise PredictorError(f"unknown source_model {self.source_model!r}; valid: {', '.join(self.SOURCE_MODELS)}")

    def pretrain(self, X: Any, Y: Mapping[str, Any]) -> Self:
        """Fit one model per source device ``Y[name]`` (rows with a finite, positive value)."""
        Xa = self._check_X(X)
        if not Y:
            raise PredictorError("pretrain needs at least one source device column")
        self.sources_ = []
        self.source_names_ = []
        for name, y in Y.items():
            ya = np.asarray(y, dtype=np.float64)
            ok = np.isfinite(ya) & (ya > 0)
            if ok.sum() < 10:
                raise PredictorError(f"source {name!r} has {int(ok.sum())} usable rows; need >= 10")
            self.sources_.append(self._new_source().fit(Xa[ok], ya[ok]))
            self.source_names_.append(str(name))
        self.n_pretrain_features_ = Xa.shape[1]
        return self

    def _source_matrix(self, X: np.ndarray) -> np.ndarray:
        return np.stack([np.log(np.maximum(m.predict(X), 1e-300)) for m in self.sources_], axis=1)

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        if not hasattr(self, "sources_"):
            raise NotFittedError("call pretrain(X, Y_sources) before fit(X_few, y_few)")
        if X.shape[1] != self.n_pretrain_features_:
            raise PredictorError(f"X has {X.shape[1]} features, pretraining used {self.n_pretrain_features_}")
        if (y <= 0).any():
            raise PredictorError("few-shot transfer models log cost: y must be > 0")
        S = self._source_matrix(X)
        self.s_mean_ = S.mean(0)
        self.s_std_ = np.where(S.std(0) > 0, S.std(0), 1.0)
        A = np.hstack([(S - self.s_mean_) / self.s_std_, np.ones((len(S), 1))])
        reg = np.sqrt(self.alpha) * np.eye(A.shape[1])
        reg[-1, -1] = 0.0
        t = np.log(y)
        sol, *_ = np.linalg.lstsq(np.vstack([A, reg]), np.concatenate([t, np.zeros(A.shape[1])]), rcond=None)
        self.coef_, self.intercept_ = sol[:-1], float(sol[-1])

    def _predict(self, X: np.ndarray) -> np.ndarray:
        S = (self._source_matrix(X) - self.s_mean_) / self.s_std_
        return np.asarray(np.exp(S @ self.coef_ + self.intercept_), dtype=np.float64)

    def _get_state(self, folder: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        files = []
        for i, m in enumerate(self.sources_):
            sub = folder / f"source{i}"
            m.save(sub)
            files.append(sub.name)
        arrays = {"coef": self.coef_, "s_mean": self.s_mean_, "s_std": self.s_std_}
        return arrays, {"intercept": self.intercept_, "sources": files, "source_names": self.source_names_,
                        "n_pretrain_features": int(self.n_pretrain_features_)}

    def _set_state(self, folder: Path, arrays: Mapping[str, np.ndarray], extra: Mapping[str, Any]) -> None:
        from hwbench.predictors._base import load

        self.sources_ = [load(folder / f) for f in extra["sources"]]
        self.source_names_ = list(extra["source_names"])
        self.n_pretrain_features_ = int(extra["n_pretrain_features"])
        self.coef_, self.s_mean_, self.s_std_ = arrays["coef"], arrays["s_mean"], arrays["s_std"]
        self.intercept_ = float(extra["intercept"])


def leave_one_out(
    X: np.ndarray,
    Y: Mapping[str, np.ndarray],
    *,
    shots: Sequence[int] = (10, 20),
    pretrain_size: int = 1000,
    test_size: int = 1000,
    seeds: Sequence[int] = (0, 1, 2),
    flops: np.ndarray | None = None,
    split_seed: int = 0,
    exclude_family: bool = False,
    targets: Sequence[str] | None = None,
    source_model: str = "xgboost",
    n_estimators: int = 400,
    progress: Callable[[], None] | None = None,
) -> list[dict[str, Any]]:
    """For each target in ``Y``: pretrain on the others, adapt with ``k`` shots, report on a test set.

    Rows with a finite, positive value on every device (a cell with no input-output path costs 0 in
    the simulators) are split once into a pretraining pool, a shot pool and a test set. With
    ``flops`` given, a FLOPs-linear floor fitted on the same shots is reported too. With
    ``exclude_family``, sources of the target's family (name prefix before the first ``-``, e.g.
    ``mcu``) are left out too: devices of one simulated family share a cost model, which makes
    transfer within a family nearly trivial. ``source_model`` / ``n_estimators`` are passed to
    :class:`FewShotTransfer`; ``progress`` (if given) is called after every (shots, seed) repeat.
    """
    from hwbench.predictors.models import LinearPredictor

    valid = np.ones(len(X), dtype=bool)
    for v in Y.values():
        v = np.asarray(v, dtype=float)
        valid &= np.isfinite(v) & (v > 0)
    perm = np.random.default_rng(split_seed).permutation(np.flatnonzero(valid))
    pre, test, shot_pool = perm[:pretrain_size], perm[pretrain_size : pretrain_size + test_size], perm[
        pretrain_size + test_size :]
    rows = []
    for target in targets or list(Y):
        fam = target.split("-", 1)[0]
        sources = {k: v[pre] for k, v in Y.items()
                   if k != target and not (exclude_family and k.split("-", 1)[0] == fam)}
        base = FewShotTransfer(source_model=source_model, n_estimators=n_estimators).pretrain(X[pre], sources)
        y = np.asarray(Y[target], dtype=float)
        for k in shots:
            for s in seeds:
                idx = np.random.default_rng(s).permutation(shot_pool)[:k]
                model = FewShotTransfer(source_model=source_model, n_estimators=n_estimators, random_state=s)
                model.sources_, model.source_names_ = base.sources_, base.source_names_
                model.n_pretrain_features_ = base.n_pretrain_features_
                model.fit(X[idx], y[idx])
                rep = regression_report(y[test], model.predict(X[test]))
                rows.append({"target": target, "method": "few_shot_transfer", "shots": k, "seed": s, **rep})
                if flops is not None:
                    lin = LinearPredictor().fit(flops[idx, None], y[idx])
                    rep = regression_report(y[test], lin.predict(flops[test, None]))
                    rows.append({"target": target, "method": "flops_linear", "shots": k, "seed": s, **rep})
                if progress is not None:
                    progress()
    return rows
