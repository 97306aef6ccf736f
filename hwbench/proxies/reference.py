"""Implementation check: rank agreement of hwbench's proxies with published reference scores.

References (external data, read from a folder the user points to, never shipped):

* ``naslib-zc-nb201-subset/zc_nasbench201_subset_flat.csv``: NASLib's zero-cost scores of ~725
  NB201 cells per dataset (CIFAR-10 network, real CIFAR-10 batches);
* ``naswot-nb201-scores/naswot_nb201_cifar10_scores.csv``: NASWOT (v1, the Jacobian-covariance
  score = hwbench ``jacob_cov``) scores for all 15,625 cells.

Name mapping hwbench -> NASLib: ``jacob_cov`` -> ``jacov``; every other name is the same (NASLib
has no ``zen`` column in this subset). NASLib stores ``log(synflow)``; ranks are unaffected.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.errors import HwbenchError

NASLIB_FILE = Path("naslib-zc-nb201-subset") / "zc_nasbench201_subset_flat.csv"
NASWOT_FILE = Path("naswot-nb201-scores") / "naswot_nb201_cifar10_scores.csv"
#: hwbench proxy -> NASLib column
NASLIB_NAMES: dict[str, str] = {
    "synflow": "synflow", "snip": "snip", "grasp": "grasp", "fisher": "fisher", "grad_norm": "grad_norm",
    "jacob_cov": "jacov", "nwot": "nwot", "epe_nas": "epe_nas", "l2_norm": "l2_norm", "plain": "plain",
    "params": "params", "flops": "flops",
}
_NASLIB_SENTINEL = -1e8  # NASLib's stand-in for NaN/inf


class ReferenceDataError(HwbenchError):
    """A reference file that is absent or malformed."""


@dataclass
class Agreement:
    proxy: str
    reference: str  # "naslib" or "naswot"
    n: int  # cells with finite scores on both sides
    spearman: float
    kendall: float
    seconds_per_cell: float


def load_naslib(root: str | os.PathLike[str], dataset: str = "cifar10") -> Any:
    import pandas as pd

    path = Path(root) / NASLIB_FILE
    if not path.is_file():
        raise ReferenceDataError(f"NASLib reference scores not found at {path}")
    df = pd.read_csv(path)
    return df[df["dataset"] == dataset].reset_index(drop=True)


def load_naswot(root: str | os.PathLike[str]) -> Any:
    import pandas as pd

    path = Path(root) / NASWOT_FILE
    if not path.is_file():
        raise ReferenceDataError(f"NASWOT reference scores not found at {path}")
    return pd.read_csv(path)


def sample_cells(root: str | os.PathLike[str], n: int, seed: int = 0) -> list[str]:
    """``n`` cells of the NASLib CIFAR-10 subset (also in the NASWOT file), drawn with ``seed``."""
    df = load_naslib(root)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(df), size=min(n, len(df)), replace=False)
    return [str(df["arch_str"].iloc[i]) for i in sorted(pick)]


def compute_scores(
    cells: Sequence[str],
    proxies: Sequence[str],
    *,
    config: str = "cifar10",
    source: str = "gaussian",
    batch_size: int = 64,
    seed: int = 0,
    progress: bool = False,
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """hwbench scores of ``cells`` (models initialized with ``torch.manual_seed(seed)``)."""
    import torch
    from tqdm.auto import tqdm

    from hwbench.models.nb201 import build_model
    from hwbench.proxies import default_registry, score_many
    from hwbench.proxies.batches import make_batch

    reg = default_registry()
    batch = make_batch(source, config, batch_size, seed)
    out = {p: np.full(len(cells), np.nan) for p in proxies}
    secs = {p: 0.0 for p in proxies}
    for i, cell in enumerate(tqdm(cells, desc="proxies", disable=not progress)):
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model = build_model(cell, config)
        for p, (v, dt) in score_many(proxies, model, batch, seed=seed, registry=reg).items():
            out[p][i] = v
            secs[p] += dt
    return out, {p: s / max(len(cells), 1) for p, s in secs.items()}


def rank_agreement(a: np.ndarray, b: np.ndarray) -> tuple[int, float, float]:
    """(n, Spearman, Kendall tau-b) over the rows where both are finite."""
    from hwbench.predictors.metrics import kendall_tau, spearman

    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return int(ok.sum()), math.nan, math.nan
    return int(ok.sum()), spearman(a[ok], b[ok]), kendall_tau(a[ok], b[ok])


def agreement(
    root: str | os.PathLike[str],
    proxies: Sequence[str] | None = None,
    *,
    n_cells: int = 40,
    cell_seed: int = 0,
    source: str = "gaussian",
    batch_size: int = 64,
    seed: int = 0,
    progress: bool = False,
) -> list[Agreement]:
    """Per proxy, rank agreement with NASLib (and, for ``jacob_cov``, NASWOT) on sampled cells.

    NASLib's ``-1e8`` sentinel (its NaN/inf stand-in) is treated as missing.
    """
    proxies = list(proxies or NASLIB_NAMES)
    unknown = [p for p in proxies if p not in NASLIB_NAMES]
    if unknown:
        raise ReferenceDataError(f"no reference scores for {unknown}; references exist for {sorted(NASLIB_NAMES)}")
    ref = load_naslib(root).set_index("arch_str")
    cells = sample_cells(root, n_cells, cell_seed)
    t0 = time.perf_counter()
    ours, secs = compute_scores(cells, proxies, source=source, batch_size=batch_size, seed=seed, progress=progress)
    del t0
    out = []
    for p in proxies:
        theirs = ref.loc[cells, NASLIB_NAMES[p]].to_numpy(dtype=float)
        theirs = np.where(theirs <= _NASLIB_SENTINEL, np.nan, theirs)
        n, rho, tau = rank_agreement(ours[p], theirs)
        out.append(Agreement(p, "naslib", n, rho, tau, secs[p]))
    if "jacob_cov" in proxies:
        nw = load_naswot(root).set_index("cellstr")
        theirs = nw.loc[cells, "score"].to_numpy(dtype=float)
        n, rho, tau = rank_agreement(ours["jacob_cov"], theirs)
        out.append(Agreement("jacob_cov", "naswot", n, rho, tau, secs["jacob_cov"]))
    return out


def as_rows(results: Sequence[Agreement]) -> list[dict[str, Any]]:
    return [asdict(r) for r in results]
