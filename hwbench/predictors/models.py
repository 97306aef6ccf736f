"""The predictors: FLOPs-linear floor, layer-wise lookup table, XGBoost, MLP (torch)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.predictors._base import Predictor, PredictorError


def _forward_target(y: np.ndarray, log: bool) -> np.ndarray:
    if log:
        if (y <= 0).any():
            raise PredictorError("log_target=True needs a strictly positive target")
        return np.asarray(np.log(y), dtype=np.float64)
    return y


class LinearPredictor(Predictor):
    """Ordinary least squares ``y = X w + b`` (with ``X`` = one FLOPs column this is the FLOPs floor)."""

    kind = "linear"

    def __init__(self, *, alpha: float = 0.0, random_state: int | None = None) -> None:
        self.alpha = alpha
        self.random_state = random_state

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        if self.alpha < 0:
            raise PredictorError(f"alpha must be >= 0, got {self.alpha}")
        self.x_scale_ = np.where(X.std(0) > 0, X.std(0), 1.0)
        A = np.hstack([X / self.x_scale_, np.ones((len(X), 1))])
        reg = np.sqrt(self.alpha) * np.eye(A.shape[1])
        reg[-1, -1] = 0.0
        sol, *_ = np.linalg.lstsq(np.vstack([A, reg]), np.concatenate([y, np.zeros(A.shape[1])]), rcond=None)
        self.coef_ = sol[:-1] / self.x_scale_
        self.intercept_ = float(sol[-1])

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X @ self.coef_ + self.intercept_, dtype=np.float64)

    def _get_state(self, folder: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {"coef": self.coef_, "x_scale": self.x_scale_}, {"intercept": self.intercept_}

    def _set_state(self, folder: Path, arrays: Mapping[str, np.ndarray], extra: Mapping[str, Any]) -> None:
        self.coef_, self.x_scale_ = arrays["coef"], arrays["x_scale"]
        self.intercept_ = float(extra["intercept"])


class LayerTablePredictor(Predictor):
    """Layer-wise lookup table: cost = overhead + sum over ops of a learned per-op-type cost.

    ``X`` holds per-op-type counts (:func:`hwbench.predictors.features.featurize` kind ``opcounts``);
    ``fit`` solves non-negative least squares (costs >= 0) with a small ridge ``alpha`` on the
    per-op costs (relative to the scale of ``y``), so the table is well defined when op types
    always co-occur. ``coef_[j]`` is the learned cost of one op of type ``j``.
    """

    kind = "layer_table"

    def __init__(self, *, alpha: float = 1e-6, intercept: bool = True, random_state: int | None = None) -> None:
        self.alpha = alpha
        self.intercept = intercept
        self.random_state = random_state

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        from scipy.optimize import nnls

        if (X < 0).any():
            raise PredictorError("a lookup table needs op counts >= 0")
        A = np.hstack([X, np.ones((len(X), 1))]) if self.intercept else X
        scale = np.where(A.max(0) > 0, A.max(0), 1.0)
        As = A / scale
        k = As.shape[1]
        reg = np.sqrt(self.alpha) * np.eye(k)
        if self.intercept:
            reg[-1, -1] = 0.0
        ys = y / (np.abs(y).mean() or 1.0)
        sol, _ = nnls(np.vstack([As, reg]), np.concatenate([ys, np.zeros(k)]), maxiter=50 * k)
        sol = sol / scale * (np.abs(y).mean() or 1.0)
        self.coef_ = sol[: X.shape[1]]
        self.intercept_ = float(sol[-1]) if self.intercept else 0.0

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X @ self.coef_ + self.intercept_, dtype=np.float64)

    def _get_state(self, folder: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {"coef": self.coef_}, {"intercept": self.intercept_}

    def _set_state(self, folder: Path, arrays: Mapping[str, np.ndarray], extra: Mapping[str, Any]) -> None:
        self.coef_ = arrays["coef"]
        self.intercept_ = float(extra["intercept"])


class XGBoostPredictor(Predictor):
    """Gradient-boosted trees (``xgboost.train``, hist method); saved in XGBoost's JSON model format.

    ``n_jobs`` (a positive int, default 1: the project runs one process per core) is XGBoost's
    ``nthread`` everywhere: the ``DMatrix`` built in ``fit`` / ``predict``, the training parameters and
    the booster used for prediction (also after ``load`` or ``set_params``). Results are deterministic
    for a given ``random_state`` and ``n_jobs``.
    """

    kind = "xgboost"

    def __init__(
        self, *, n_estimators: int = 600, max_depth: int = 6, learning_rate: float = 0.05, subsample: float = 0.8,
        colsample_bytree: float = 0.8, min_child_weight: float = 1.0, log_target: bool = False,
        n_jobs: int = 1, random_state: int | None = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight
        self.log_target = log_target
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _xgb(self) -> Any:
        try:
            import xgboost
        except ImportError:
            from hwbench.errors import MissingDependencyError

            raise MissingDependencyError("xgboost", "predict", "the XGBoost predictor") from None
        return xgboost

    def _nthread(self) -> int:
        n = self.n_jobs
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise PredictorError(f"n_jobs must be a positive int (XGBoost threads), got {n!r}")
        return int(n)

    def _booster_params(self) -> dict[str, Any]:
        return {
            "objective": "reg:squarederror", "max_depth": int(self.max_depth), "eta": float(self.learning_rate),
            "subsample": float(self.subsample), "colsample_bytree": float(self.colsample_bytree),
            "min_child_weight": float(self.min_child_weight), "nthread": self._nthread(),
            "seed": 0 if self.random_state is None else int(self.random_state), "tree_method": "hist",
            "verbosity": 0,
        }

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        xgb = self._xgb()
        dtrain = xgb.DMatrix(X, label=_forward_target(y, self.log_target), nthread=self._nthread())
        self.booster_ = xgb.train(self._booster_params(), dtrain, num_boost_round=int(self.n_estimators))

    def _predict(self, X: np.ndarray) -> np.ndarray:
        n = self._nthread()
        self.booster_.set_param({"nthread": n})
        p = self.booster_.predict(self._xgb().DMatrix(X, nthread=n)).astype(np.float64)
        return np.asarray(np.exp(p) if self.log_target else p, dtype=np.float64)

    def _get_state(self, folder: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        self.booster_.save_model(str(folder / "xgboost.json"))
        return {}, {"model_file": "xgboost.json"}

    def _set_state(self, folder: Path, arrays: Mapping[str, np.ndarray], extra: Mapping[str, Any]) -> None:
        xgb = self._xgb()
        self.booster_ = xgb.Booster(params={"nthread": self._nthread()})
        self.booster_.load_model(str(folder / extra["model_file"]))


class MLPPredictor(Predictor):
    """A small fully connected network (torch) on standardized features, trained full-batch with Adam."""

    kind = "mlp"

    def __init__(
        self, *, hidden: Sequence[int] = (128, 128), epochs: int = 400, lr: float = 3e-3,
        weight_decay: float = 1e-4, log_target: bool = False, random_state: int | None = 0,
    ) -> None:
        self.hidden = hidden
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.log_target = log_target
        self.random_state = random_state

    def _net(self, n_in: int) -> Any:
        from torch import nn

        layers: list[Any] = []
        prev = n_in
        for h in self.hidden:
            layers += [nn.Linear(prev, int(h)), nn.ReLU()]
            prev = int(h)
        layers.append(nn.Linear(prev, 1))
        return nn.Sequential(*layers).double()

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        import torch

        t = _forward_target(y, self.log_target)
        self.x_mean_, self.x_std_ = X.mean(0), np.where(X.std(0) > 0, X.std(0), 1.0)
        self.y_mean_, self.y_std_ = float(t.mean()), float(t.std() or 1.0)
        xs = torch.from_numpy((X - self.x_mean_) / self.x_std_)
        ys = torch.from_numpy((t - self.y_mean_) / self.y_std_)[:, None]
        with torch.random.fork_rng():
            torch.manual_seed(0 if self.random_state is None else int(self.random_state))
            net = self._net(X.shape[1])
        opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        for _ in range(int(self.epochs)):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(net(xs), ys)
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
        self.net_ = net

    def _predict(self, X: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            out = self.net_(torch.from_numpy((X - self.x_mean_) / self.x_std_))[:, 0].numpy()
        t = out * self.y_std_ + self.y_mean_
        return np.asarray(np.exp(t) if self.log_target else t, dtype=np.float64)

    def _get_state(self, folder: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {f"net.{k}": v.detach().numpy() for k, v in self.net_.state_dict().items()}
        arrays.update(x_mean=self.x_mean_, x_std=self.x_std_)
        return arrays, {"y_mean": self.y_mean_, "y_std": self.y_std_}

    def _set_state(self, folder: Path, arrays: Mapping[str, np.ndarray], extra: Mapping[str, Any]) -> None:
        import torch

        self.hidden = tuple(self.hidden)
        net = self._net(self.n_features_in_)
        net.load_state_dict({k[4:]: torch.from_numpy(np.array(v)) for k, v in arrays.items() if k.startswith("net.")})
        self.net_ = net
        self.x_mean_, self.x_std_ = arrays["x_mean"], arrays["x_std"]
        self.y_mean_, self.y_std_ = float(extra["y_mean"]), float(extra["y_std"])
