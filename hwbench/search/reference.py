"""Columns from the published NATS-Bench / NASWOT CSV exports, joined by architecture string into
hwbench index order, named like the table's imported columns. For tests and for users who have
those files but have not imported them into a table (``hwbench import-nats`` is the table route).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hwbench.errors import TableFormatError

_NATS_COLS = {
    "cifar10": "CIFAR10TestAccuracy200Epochs",
    "cifar100": "CIFAR100TestAccuracy200Epochs",
    "imagenet16-120": "ImageNetTestAccuracy200Epochs",
}


def _rows(arch_strings: np.ndarray | list[str], what: str) -> np.ndarray:
    from hwbench.spaces.nb201 import SPACE

    try:
        rows = np.array([SPACE.index(a) for a in arch_strings], dtype=np.int64)
    except Exception as exc:  # noqa: BLE001 - re-raised with the file named
        raise TableFormatError(f"{what}: bad architecture string: {exc}") from None
    if len(np.unique(rows)) != SPACE.size or len(rows) != SPACE.size:
        raise TableFormatError(f"{what}: expected all {SPACE.size} cells once, got {len(rows)} rows")
    return rows


def nats_columns(nats_csv: str | Path, naswot_csv: str | Path | None = None) -> dict[str, np.ndarray]:
    """``<config>/nats-bench/test_accuracy_pct`` for the three configs from the NATS CSV; with the
    NASWOT CSV also ``cifar10/nats-bench/valid_accuracy_pct`` and ``cifar10/model/params`` (count)."""
    import pandas as pd

    d = pd.read_csv(nats_csv)
    rows = _rows(d["ArchitectureString"].tolist(), str(nats_csv))
    out: dict[str, np.ndarray] = {}
    for cfg, col in _NATS_COLS.items():
        a = np.full(len(rows), np.nan)
        a[rows] = d[col].to_numpy(dtype=np.float64)
        out[f"{cfg}/nats-bench/test_accuracy_pct"] = a
    if naswot_csv is not None:
        w = pd.read_csv(naswot_csv)
        r2 = _rows(w["cellstr"].tolist(), str(naswot_csv))
        for name, col, scale in (("cifar10/nats-bench/valid_accuracy_pct", "valid_top1", 1.0),
                                 ("cifar10/model/params", "params", 1e6)):
            a = np.full(len(r2), np.nan)
            a[r2] = w[col].to_numpy(dtype=np.float64) * scale
            out[name] = np.round(a) if name.endswith("params") else a
    return out
