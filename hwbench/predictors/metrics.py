"""Error and rank metrics of predictions (numpy; Kendall tau through scipy when installed).

Every function ignores nothing silently: pass finite arrays of equal length (use
:func:`finite_pairs` to drop missing rows first).
"""

from __future__ import annotations

import math

import numpy as np


def finite_pairs(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    if t.shape != p.shape:
        raise ValueError(f"y_true has shape {t.shape}, y_pred {p.shape}")
    ok = np.isfinite(t) & np.isfinite(p)
    return t[ok], p[ok]


def rankdata(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank (as scipy.stats.rankdata)."""
    x = np.asarray(x, dtype=float)
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    ranks = np.empty(len(x), dtype=float)
    start = 0
    n = len(x)
    while start < n:
        end = start + 1
        while end < n and xs[end] == xs[start]:
            end += 1
        ranks[order[start:end]] = 0.5 * (start + end - 1) + 1.0
        start = end
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho (Pearson correlation of average ranks); NaN for < 3 points or a constant input."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 3:
        return math.nan
    ra, rb = rankdata(a), rankdata(b)
    ra -= ra.mean()
    rb -= rb.mean()
    den = math.sqrt(float((ra * ra).sum() * (rb * rb).sum()))
    return float((ra * rb).sum() / den) if den > 0 else math.nan


def kendall_tau(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall's tau-b (scipy.stats.kendalltau); NaN for < 3 points."""
    if len(a) < 3:
        return math.nan
    try:
        from scipy.stats import kendalltau
    except ImportError:  # pragma: no cover - scipy comes with xgboost
        from hwbench.errors import MissingDependencyError

        raise MissingDependencyError("scipy", "predict", "Kendall tau") from None
    return float(kendalltau(np.asarray(a, float), np.asarray(b, float)).statistic)


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    t, p = np.asarray(y_true, float), np.asarray(y_pred, float)
    return float(np.sqrt(np.mean((t - p) ** 2))) if len(t) else math.nan


def mape(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute percentage error in percent (rows with y_true == 0 are excluded)."""
    t, p = np.asarray(y_true, float), np.asarray(y_pred, float)
    ok = t != 0
    return float(100.0 * np.mean(np.abs((p[ok] - t[ok]) / t[ok]))) if ok.any() else math.nan


def within(y_true: np.ndarray, y_pred: np.ndarray, tol: float) -> float:
    """Fraction of predictions within ``tol`` relative error (0.1 = +-10%) of the truth."""
    t, p = np.asarray(y_true, float), np.asarray(y_pred, float)
    ok = t != 0
    return float(np.mean(np.abs(p[ok] - t[ok]) <= tol * np.abs(t[ok]))) if ok.any() else math.nan


def regression_report(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """RMSE, MAPE (%), fraction within +-5% and +-10%, Spearman and Kendall tau on finite rows."""
    t, p = finite_pairs(y_true, y_pred)
    return {
        "n": float(len(t)),
        "rmse": rmse(t, p),
        "mape_pct": mape(t, p),
        "within_5pct": within(t, p, 0.05),
        "within_10pct": within(t, p, 0.10),
        "spearman": spearman(t, p),
        "kendall_tau": kendall_tau(t, p),
    }
