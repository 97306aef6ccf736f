"""Learning curves: predictor quality versus training-set size on a fixed held-out set.

``learning_curve(X, y, predictors, sizes, test_size, seeds)``: the rows with a finite target are
split once (``numpy.random.default_rng(split_seed)``) into a test set of ``test_size`` rows and a
training pool; for every size ``n`` and seed ``s`` the first ``n`` rows of the pool permuted by
``default_rng(s)`` train each predictor (``random_state=s``), which is scored on the test set with
:func:`hwbench.predictors.metrics.regression_report`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hwbench.predictors._base import Predictor, PredictorError, clone
from hwbench.predictors.metrics import regression_report


def split(y: np.ndarray, test_size: int, split_seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train pool indices, test indices) among the rows where ``y`` is finite."""
    rows = np.flatnonzero(np.isfinite(np.asarray(y, dtype=float)))
    if test_size >= len(rows):
        raise PredictorError(f"test_size {test_size} leaves no training rows out of {len(rows)} with a target")
    perm = np.random.default_rng(split_seed).permutation(rows)
    return perm[test_size:], perm[:test_size]


def learning_curve(
    X: Mapping[str, np.ndarray] | np.ndarray,
    y: np.ndarray,
    predictors: Mapping[str, Predictor],
    sizes: Sequence[int] = (10, 50, 100, 500, 1000),
    *,
    test_size: int = 1000,
    seeds: Sequence[int] = (0,),
    split_seed: int = 0,
) -> list[dict[str, Any]]:
    """One row per (predictor, size, seed) with the metrics on the test set and the fit time.

    ``X`` is one matrix for every predictor or ``{predictor name: matrix}`` (different features).
    """
    y = np.asarray(y, dtype=float)
    pool, test = split(y, test_size, split_seed)
    rows = []
    for name, proto in predictors.items():
        Xn = X[name] if isinstance(X, Mapping) else X
        for n in sizes:
            if n > len(pool):
                continue
            for s in seeds:
                train = np.random.default_rng(s).permutation(pool)[:n]
                p = clone(proto)
                if "random_state" in p.get_params():
                    p.set_params(random_state=int(s))
                t0 = time.perf_counter()
                p.fit(Xn[train], y[train])
                fit_s = time.perf_counter() - t0
                rep = regression_report(y[test], p.predict(Xn[test]))
                rows.append({"predictor": name, "train_size": int(n), "seed": int(s), "fit_seconds": fit_s, **rep})
    return rows


def summarize(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Mean over seeds per (predictor, train_size)."""
    keys: dict[tuple[str, int], list[Mapping[str, Any]]] = {}
    for r in rows:
        keys.setdefault((r["predictor"], r["train_size"]), []).append(r)
    out = []
    for (name, n), rs in keys.items():
        agg: dict[str, Any] = {"predictor": name, "train_size": n, "seeds": len(rs)}
        for m in ("rmse", "mape_pct", "within_5pct", "within_10pct", "spearman", "kendall_tau", "fit_seconds"):
            agg[m] = float(np.mean([r[m] for r in rs]))
        out.append(agg)
    return out
