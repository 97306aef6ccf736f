"""Re-train the items of a committed training shard from scratch and compare with what it stores.

``hwbench campaign reproduce --config fashion-mnist --shard K [--items N]`` is the check behind the
training campaign's promise: any shard rebuilt with the documented recipe gives its accuracies back
within the seed noise. The recipe is read from the shard's own protocol (not from the current code),
so an old shard is checked against what produced it. With the same thread count on the same kind
of CPU the runs are bit-identical; elsewhere float summation order may differ slightly.
"""

from __future__ import annotations

import json
import os
from dataclasses import fields
from pathlib import Path
from typing import Any

from hwbench.errors import HwbenchError

COMPARED = ("test_acc", "valid_acc", "train_acc", "test_loss", "valid_loss", "train_loss")


def shard_recipe(shard: dict[str, Any]) -> Any:
    """The :class:`~hwbench.train.recipe.Recipe` recorded in a shard's protocol."""
    from hwbench.train.recipe import Recipe

    rec = dict(shard.get("protocol", {}).get("recipe", {}))
    if not rec:
        raise HwbenchError("the shard's protocol holds no training recipe")
    names = {f.name for f in fields(Recipe)}
    return Recipe(**{k: v for k, v in rec.items() if k in names})


def reproduce_shard(k: int, store_dir: str | os.PathLike[str] | None = None, *, config: str = "fashion-mnist",
                    n_items: int | None = None) -> dict[str, Any]:
    """Re-train the first ``n_items`` (default all) items of shard ``k``; per item the stored and new values."""
    from hwbench.campaign import read_shard, shard_path
    from hwbench.train.campaign import DEFAULT_STORE, campaign_name
    from hwbench.train.trainer import train_cell

    store = Path(store_dir) if store_dir is not None else Path(__file__).resolve().parents[2] / DEFAULT_STORE
    name = campaign_name(config)
    path = shard_path(name, store, k)
    if not path.is_file():
        done = sorted(p.name for p in (store / name).glob("shard-*.json")) if (store / name).is_dir() else []
        raise HwbenchError(f"no shard {k} of campaign {name} under {store} "
                           f"({len(done)} shards there{', e.g. ' + done[0] if done else ''})")
    shard = read_shard(path, name=name)
    recipe = shard_recipe(shard)
    items = shard["items"][: n_items if n_items is not None else None]
    rows: list[dict[str, Any]] = []
    for item, stored in zip(items, shard["results"]):
        new = train_cell(int(item["index"]), recipe, int(item["seed"]), threads=1).to_dict()
        row: dict[str, Any] = {"index": int(item["index"]), "seed": int(item["seed"]), "role": item.get("role")}
        for key in COMPARED:
            row[f"stored_{key}"] = stored.get(key)
            row[f"new_{key}"] = new.get(key)
        row["abs_diff_test_acc_pts"] = 100.0 * abs(float(new["test_acc"]) - float(stored["test_acc"]))
        row["identical"] = all(new.get(key) == stored.get(key) for key in COMPARED)
        rows.append(row)
    diffs = [r["abs_diff_test_acc_pts"] for r in rows]
    return {"campaign": name, "shard": k, "file": str(path), "items": len(rows),
            "identical": sum(r["identical"] for r in rows),
            "max_abs_diff_test_acc_pts": max(diffs) if diffs else float("nan"),
            "stored_hosts": sorted({json.dumps(h, sort_keys=True) for h in shard.get("hosts", [])}),
            "rows": rows}
