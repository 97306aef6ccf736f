"""The Fashion-MNIST training campaign over the 6,466 non-isomorphic NB201 cells.

Items are ``{"index": hwbench index of a class representative, "seed": int, "role": "main"|"seed2"}``
in a fixed order: the representatives are shuffled by ``numpy.random.default_rng(ORDER_SEED)``;
the first ``n_second`` of that permutation are trained with ``seed`` and ``seed + 1`` (interleaved,
so the two-seed subset comes first), then every other cell with ``seed``. A partial campaign is thus
a uniform sample of the space with the second-seed subset complete.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.train.recipe import FASHION_MNIST_RECIPE, Recipe

ORDER_SEED = 201
N_SECOND_SEED = 200
SHARD_SIZE = 25
DEFAULT_STORE = Path("datasets") / "shards"


def campaign_name(config: str = "fashion-mnist", seed: int = 0) -> str:
    return f"nb201-{config}-train" + (f"-seed{seed}" if seed != 0 else "")


def training_items(seed: int = 0, n_second: int = N_SECOND_SEED) -> list[dict[str, Any]]:
    """The campaign's items in run order (see the module docstring)."""
    from hwbench.spaces.nb201 import SPACE

    order = np.random.default_rng(ORDER_SEED).permutation(SPACE.representatives)
    items: list[dict[str, Any]] = []
    for k, idx in enumerate(order):
        items.append({"index": int(idx), "seed": int(seed), "role": "main"})
        if k < n_second:
            items.append({"index": int(idx), "seed": int(seed) + 1, "role": "seed2"})
    return items


def train_item(item: Mapping[str, Any], recipe: Recipe = FASHION_MNIST_RECIPE) -> dict[str, Any]:
    """Campaign function: train one item (1 torch thread) and return its result record."""
    from hwbench.train.trainer import train_cell

    out = train_cell(int(item["index"]), recipe, int(item["seed"]), threads=1).to_dict()
    out["role"] = str(item.get("role", "main"))
    return out


def protocol(recipe: Recipe = FASHION_MNIST_RECIPE, seed: int = 0, n_second: int = N_SECOND_SEED) -> dict[str, Any]:
    from hwbench.data.fashion_mnist import describe

    return {
        "what": "train NB201 cells on Fashion-MNIST",
        "recipe": recipe.to_dict(),
        "data": describe(),
        "seed": seed,
        "second_seed": seed + 1,
        "n_second_seed": n_second,
        "order_seed": ORDER_SEED,
        "threads_per_worker": 1,
    }


def run_training_campaign(
    *,
    recipe: Recipe = FASHION_MNIST_RECIPE,
    seed: int = 0,
    store_dir: str | os.PathLike[str] = DEFAULT_STORE,
    executor: str = "local",
    workers: int = 2,
    client: Any = None,
    address: str | None = None,
    limit: int | None = None,
    progress: bool = True,
    n_second: int = N_SECOND_SEED,
    shard_size: int = SHARD_SIZE,
) -> Any:
    """Run (or resume) the campaign; ``limit`` = at most this many items (whole shards) in this call."""
    from hwbench.campaign import run_campaign

    items = training_items(seed, n_second)
    return run_campaign(
        campaign_name(recipe.config, seed),
        items,
        partial(train_item, recipe=recipe),
        shard_size=shard_size,
        store_dir=store_dir,
        executor=executor,
        workers=workers,
        client=client,
        address=address,
        progress=progress,
        protocol=protocol(recipe, seed, n_second),
        max_shards=None if limit is None else math.ceil(limit / shard_size),
    )


def broadcast(merged: Mapping[str, np.ndarray], role: str = "main") -> dict[str, np.ndarray]:
    """Spread the merged results of one role over all 15,625 cells through the canonical form.

    Returns arrays of length 15,625 in hwbench index order (NaN where the class was not trained
    yet); 2-D curves keep their second axis. ``trained_index`` is the representative that was trained.
    """
    from hwbench.spaces.nb201 import SPACE

    sel = np.flatnonzero(merged["role"] == role)
    rep_idx = merged["index"][sel]
    pos = np.full(SPACE.size, -1, dtype=np.int64)
    pos[rep_idx] = np.arange(len(sel))
    row = pos[SPACE.canonical_ids]
    have = row >= 0
    out: dict[str, np.ndarray] = {"trained_index": np.where(have, SPACE.canonical_ids, -1)}
    for key, col in merged.items():
        if key in ("item", "shard", "role", "arch", "index") or col.dtype == object:
            continue
        col = col[sel]
        if col.dtype.kind in "biu":
            col = col.astype(np.float64)
        if col.dtype.kind != "f":
            continue
        full = np.full((SPACE.size, *col.shape[1:]), np.nan)
        full[have] = col[row[have]]
        out[key] = full
    return out


def summarize(merged: Mapping[str, np.ndarray], n_items_total: int | None = None) -> dict[str, Any]:
    """Figures of a (partial) training campaign: cost, accuracy spread, best cell, seed agreement."""
    from hwbench.train.trainer import spearman

    out: dict[str, Any] = {"items_done": len(merged.get("role", []))}
    if out["items_done"] == 0:
        return out
    cpu = merged["cpu_time_s"]
    out["cpu_s_per_item_mean"] = float(np.nanmean(cpu))
    out["cpu_s_per_item_median"] = float(np.nanmedian(cpu))
    out["epoch_time_s_mean"] = float(np.nanmean(merged["epoch_time_s"]))
    if "epoch_cpu_time_s" in merged:
        out["epoch_cpu_time_s_mean"] = float(np.nanmean(merged["epoch_cpu_time_s"]))
    if n_items_total:
        out["projected_cpu_hours_all_items"] = float(np.nanmean(cpu) * n_items_total / 3600)
    main = merged["role"] == "main"
    acc = merged["test_acc"][main]
    conn = ~merged["degenerate"][main].astype(bool)
    out["main_cells_done"] = int(main.sum())
    out["degenerate_cells_done"] = int((~conn).sum())
    a = acc[conn]
    if len(a):
        out.update({
            "test_acc_mean": float(a.mean()), "test_acc_std": float(a.std()), "test_acc_min": float(a.min()),
            "test_acc_p10": float(np.percentile(a, 10)), "test_acc_median": float(np.median(a)),
            "test_acc_p90": float(np.percentile(a, 90)), "test_acc_max": float(a.max()),
        })
        best = int(np.flatnonzero(main)[np.argmax(np.where(conn, acc, -1))])
        out["best_cell"] = {"arch": str(merged["arch"][best]), "index": int(merged["index"][best]),
                            "test_acc": float(merged["test_acc"][best]), "valid_acc": float(merged["valid_acc"][best])}
    s2 = np.flatnonzero(merged["role"] == "seed2")
    pos = {int(i): k for k, i in enumerate(merged["index"]) if main[k]}
    pairs = [(pos[int(merged["index"][k])], k) for k in s2 if int(merged["index"][k]) in pos]
    out["two_seed_cells"] = len(pairs)
    if len(pairs) >= 3:
        i0 = np.array([p for p, _ in pairs])
        i1 = np.array([q for _, q in pairs])
        for metric in ("test_acc", "valid_acc"):
            out[f"two_seed_spearman_{metric}"] = spearman(merged[metric][i0], merged[metric][i1])
        out["two_seed_mean_abs_diff_test_acc"] = float(np.mean(np.abs(merged["test_acc"][i0] - merged["test_acc"][i1])))
        out["valid_vs_test_spearman"] = spearman(merged["valid_acc"][main], merged["test_acc"][main])
    return out


def nats_correlation(merged: Mapping[str, np.ndarray], nats_csv: str | os.PathLike[str]) -> dict[str, Any]:
    """Spearman of the trained (main-seed, non-degenerate) test accuracy with NATS-Bench's 200-epoch
    test accuracies, joined on the architecture string (CSV format of ../shared/reference/nats_tss)."""
    import pandas as pd

    from hwbench.train.trainer import spearman

    ref = pd.read_csv(nats_csv).set_index("ArchitectureString")
    main = (merged["role"] == "main") & ~merged["degenerate"].astype(bool)
    archs = [str(a) for a in merged["arch"][main]]
    ours = merged["test_acc"][main]
    out: dict[str, Any] = {"nats_cells": int(main.sum())}
    if main.sum() < 3:
        return out
    for col, key in (("CIFAR10TestAccuracy200Epochs", "cifar10"), ("CIFAR100TestAccuracy200Epochs", "cifar100"),
                     ("ImageNetTestAccuracy200Epochs", "imagenet16-120")):
        out[f"spearman_vs_nats_{key}"] = spearman(ours, ref.loc[archs, col].to_numpy(dtype=float))
    return out
