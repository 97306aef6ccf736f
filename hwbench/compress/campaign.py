"""The compression accuracy campaign (runs on :func:`hwbench.campaign.run_campaign`).

Items: one per (base network, pruning choice), ``{"base": role, "widths": "m100.50.75", "space": name,
"seed": int}``, bases in :data:`hwbench.compress.bases.ROLES` order, pruning choices in space index
order. One item prunes + fine-tunes once and evaluates all ``len(bits) ** 6`` bit-width choices
(:func:`hwbench.compress.accuracy.evaluate_bits_block`); its result holds their test accuracies in space
index order (``index_start`` is the space index of the first). One item per shard.

Costs are analytic and cheap; they are computed by :func:`cost_block`, not by the campaign.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.compress.accuracy import FINETUNE, FinetuneRecipe
from hwbench.compress.bases import DEFAULT_BASE_DIR, ROLES, base_path
from hwbench.compress.space import CompressionConfig, CompressionSpace, get_space

DEFAULT_STORE = Path("datasets") / "shards"
SHARD_SIZE = 1


def campaign_name(space: str = "mpq-prune", seed: int = 0) -> str:
    return f"compress-{space}-fashion-mnist" + (f"-seed{seed}" if seed else "")


def compress_items(space: CompressionSpace | str = "mpq-prune", bases: Sequence[str] = ROLES,
                   seed: int = 0) -> list[dict[str, Any]]:
    sp = get_space(space)
    out = []
    for role in bases:
        for k, w in enumerate(sp.width_choices()):
            key = CompressionConfig(w, (32,) * 3, (32,) * 3).width_key()
            out.append({"base": role, "widths": key, "block": k, "space": sp.name, "seed": int(seed)})
    return out


def evaluate_item(item: Mapping[str, Any], base_dir: str = str(DEFAULT_BASE_DIR),
                  test_limit: int | None = None, finetune: FinetuneRecipe = FINETUNE) -> dict[str, Any]:
    """Campaign function: one (base, pruning choice) block of configurations (1 torch thread)."""
    import torch

    from hwbench.compress.accuracy import evaluate_bits_block, pruned_model
    from hwbench.compress.bases import load_base
    from hwbench.compress.nets import accuracy

    torch.set_num_threads(1)
    c0, t0 = time.process_time(), time.perf_counter()
    sp = get_space(str(item["space"]))
    widths = sp.parse(f"{item['widths']}-w32.32.32-a32.32.32").widths
    model, meta = load_base(str(item["base"]), base_dir)
    from hwbench.compress.accuracy import _data

    data = _data()
    net, info = pruned_model(model, widths, int(item["seed"]), finetune, data=data)
    c1 = time.process_time()
    xt, yt = data["test"]
    float_acc = accuracy(net, xt[:test_limit], yt[:test_limit])
    acc = evaluate_bits_block(net, sp, data, test_limit)
    return {
        "base": str(item["base"]), "arch": meta["arch"], "widths": str(item["widths"]),
        "index_start": int(item["block"]) * sp.n_bit_choices, "seed": int(item["seed"]),
        "params": int(sum(p.numel() for p in net.parameters())), "float_test_acc": float_acc,
        "finetune_train_acc": info["finetune_train_acc"], "test_acc": [float(a) for a in acc],
        "finetune_cpu_s": c1 - c0, "cpu_time_s": time.process_time() - c0, "wall_time_s": time.perf_counter() - t0,
    }


def _sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def campaign_protocol(space: str, bases: Sequence[str], base_dir: str | os.PathLike[str], seed: int,
                      test_limit: int | None, finetune: FinetuneRecipe = FINETUNE) -> dict[str, Any]:
    from hwbench.compress.accuracy import protocol
    from hwbench.data.fashion_mnist import describe

    out = protocol(space, finetune)
    out.update({"data": describe(), "seed": seed, "test_limit": test_limit,
                "bases_sha256": {r: _sha256(base_path(r, base_dir)) for r in bases}})
    return out


def run_compress_campaign(*, space: str = "mpq-prune", bases: Sequence[str] = ROLES, seed: int = 0,
                          base_dir: str | os.PathLike[str] = DEFAULT_BASE_DIR,
                          store_dir: str | os.PathLike[str] = DEFAULT_STORE, executor: str = "local",
                          workers: int = 2, address: str | None = None, limit: int | None = None,
                          progress: bool = True, test_limit: int | None = None, name: str | None = None,
                          finetune: FinetuneRecipe = FINETUNE) -> Any:
    """Run (or resume) the accuracy campaign; ``limit`` = at most this many items in this call."""
    from hwbench.campaign import run_campaign

    items = compress_items(space, bases, seed)
    return run_campaign(
        name or campaign_name(space, seed), items,
        partial(evaluate_item, base_dir=str(base_dir), test_limit=test_limit, finetune=finetune),
        shard_size=SHARD_SIZE, store_dir=store_dir, executor=executor, workers=workers, address=address,
        progress=progress, protocol=campaign_protocol(space, bases, base_dir, seed, test_limit, finetune),
        max_shards=None if limit is None else math.ceil(limit / SHARD_SIZE),
    )


def cost_block(base: str, space: str = "mpq-prune", device: str = "mcu-stm32f746",
               indices: Sequence[int] | None = None, devices: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Cost metrics of many configurations of one base (all of the space by default), as columns.

    One ``device``: its metrics unprefixed (``latency_ms``, ...; an FPGA adds ``dsp_used``,
    ``dsp_active_peak``, ``weight_bytes``, ... at per-layer bit-widths). Several ``devices`` (e.g.
    ``("mcu-stm32f746", "fpga-zc706", "fpga-zcu102")``): the model metrics (``params``, ``macs``,
    ``model_size_bytes``) unprefixed and every device metric as ``<device>/<metric>``."""
    from hwbench.compress.cost import compress_cost

    sp = get_space(space)
    idx = np.arange(sp.size) if indices is None else np.asarray(indices, dtype=np.int64)
    model = ("params", "macs", "model_size_bytes")
    cols: dict[str, list[float]] = {}
    for i in idx:
        if devices is None:
            for k, v in compress_cost(base, int(i), device, sp).items():
                cols.setdefault(k, []).append(v)
            continue
        for j, dev in enumerate(devices):
            for k, v in compress_cost(base, int(i), dev, sp).items():
                if k in model:
                    if j == 0:
                        cols.setdefault(k, []).append(v)
                else:
                    cols.setdefault(f"{dev}/{k}", []).append(v)
    out: dict[str, np.ndarray] = {k: np.asarray(v, dtype=np.float64) for k, v in cols.items()}
    out["index"] = idx
    return out
