"""Base networks of the compression benchmark: the selection rule, the longer recipe, safetensors I/O.

**Selection rule** (:func:`select_bases`, reproducible from the project's own data): the candidates are
the first :data:`SELECTION_POOL` main-seed cells, in campaign order, of the Fashion-MNIST training
campaign (``nb201-fashion-mnist-train``: a fixed permutation of the 6,466 class representatives,
trained with the campaign recipe, seed 0), restricted to connected cells. From them:

* ``best``: highest campaign test accuracy;
* ``median``: test accuracy closest to the candidates' median;
* ``small``: fewest parameters (``fashion-mnist/model/params``, analytic);
* ``mcu``: highest test accuracy among the candidates whose simulated int8 latency on
  ``mcu-stm32f746`` is at most the candidates' 25th percentile.

Ties break to the smaller hwbench index; a role whose pick is already taken takes its next-ranked
candidate. The rule needs only the first ``SELECTION_POOL`` campaign items, so it gives the same
four cells whenever the campaign has passed that point.

**Base recipe** (:data:`BASE_RECIPE`): the campaign recipe (AdamW, lr 3e-3, weight decay 1e-2, cosine,
batch 128, 12x12 crop24-pool2 input, C=8, N=1) on all 50,000 training images for 10 epochs instead of
13,000 images for 2 epochs (19x the steps).

Weights are stored as safetensors (``<dir>/<role>.safetensors``) with the architecture, recipe, seed
and accuracies in the file's string metadata; never pickle.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.errors import HwbenchError
from hwbench.train.recipe import FASHION_MNIST_RECIPE, Recipe

SELECTION_POOL = 80
ROLES: tuple[str, ...] = ("best", "median", "small", "mcu")
MCU_DEVICE = "mcu-stm32f746"
BASE_RECIPE: Recipe = FASHION_MNIST_RECIPE.replace(train_subset=50_000, epochs=10)
BASE_SEED = 0
DEFAULT_BASE_DIR = Path("datasets") / "compress" / "bases"
FORMAT = "hwbench-compress-base/1"

#: The selection's result on the campaign as of 2026-11-24 (first 80 main-seed cells), pinned so that
#: the benchmark does not depend on the campaign shards being present. ``select_bases`` re-derives it.
PINNED_BASES: dict[str, str] = {
    "best": "|nor_conv_1x1~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_1x1~2|",
    "median": "|nor_conv_1x1~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|nor_conv_1x1~0|avg_pool_3x3~1|skip_connect~2|",
    "small": "|avg_pool_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|none~0|none~1|avg_pool_3x3~2|",
    "mcu": "|skip_connect~0|+|none~0|nor_conv_1x1~1|+|skip_connect~0|skip_connect~1|nor_conv_3x3~2|",
}


def pinned_bases() -> dict[str, BaseNetwork]:
    """The four base networks as selected on 2026-11-24 (see :data:`PINNED_BASES`)."""
    from hwbench.spaces.nb201 import SPACE

    return {r: BaseNetwork(r, a, SPACE.index(a)) for r, a in PINNED_BASES.items()}


class BaseNetworkError(HwbenchError):
    """A base network that is unknown, missing on disk or inconsistent."""


@dataclass(frozen=True)
class BaseNetwork:
    role: str
    arch: str
    index: int
    config: str = "fashion-mnist"


def select_bases(merged: Mapping[str, np.ndarray], pool: int = SELECTION_POOL) -> dict[str, BaseNetwork]:
    """Apply the selection rule to merged training-campaign results (``hwbench.campaign.merge``)."""
    from hwbench.builders.nb201_analytic import build_graph
    from hwbench.spaces.nb201 import SPACE, is_connected
    from hwbench.train.campaign import training_items
    from simulators.api import simulate

    done = {int(i): float(a) for i, a, r in zip(merged["index"], merged["test_acc"], merged["role"])
            if r == "main"}
    order = [it["index"] for it in training_items() if it["role"] == "main"][:pool]
    missing = [i for i in order if i not in done]
    if missing:
        raise BaseNetworkError(f"the training campaign has not finished the first {pool} main-seed cells "
                               f"({len(missing)} missing, e.g. index {missing[0]}); run `hwbench campaign train`")
    cand = [i for i in order if is_connected(SPACE.parse(i))]
    acc = np.array([done[i] for i in cand])
    params, lat = [], []
    for i in cand:
        g = build_graph(i, "fashion-mnist")
        params.append(g.params)
        lat.append(simulate(g, MCU_DEVICE).latency_ms)
    params_a, lat_a = np.array(params), np.array(lat)
    idx = np.array(cand)

    def ranked(key: np.ndarray, mask: np.ndarray | None = None) -> list[int]:
        sel = np.ones(len(cand), bool) if mask is None else mask
        pos = np.flatnonzero(sel)
        return [int(idx[p]) for p in pos[np.lexsort((idx[pos], key[pos]))]]

    rankings = {
        "best": ranked(-acc),
        "median": ranked(np.abs(acc - np.median(acc))),
        "small": ranked(params_a.astype(float)),
        "mcu": ranked(-acc, lat_a <= np.percentile(lat_a, 25)),
    }
    out: dict[str, BaseNetwork] = {}
    taken: set[int] = set()
    for role in ROLES:
        pick = next(i for i in rankings[role] if i not in taken)
        taken.add(pick)
        out[role] = BaseNetwork(role, SPACE.arch_str(pick), pick)
    return out


def base_path(role: str, base_dir: str | os.PathLike[str] = DEFAULT_BASE_DIR) -> Path:
    return Path(base_dir) / f"{role}.safetensors"


def train_base(base: BaseNetwork, recipe: Recipe = BASE_RECIPE, seed: int = BASE_SEED,
               base_dir: str | os.PathLike[str] | None = DEFAULT_BASE_DIR,
               data_path: str | None = None) -> dict[str, Any]:
    """Train a base network with ``recipe`` (1 torch thread), evaluate it and save it (safetensors)."""
    import time

    import torch

    from hwbench.compress.nets import accuracy, fit
    from hwbench.models.nb201 import build_model
    from hwbench.train.trainer import prepared_data

    torch.set_num_threads(1)
    t0, c0 = time.perf_counter(), time.process_time()
    data = prepared_data(data_path, recipe.transform)
    x, y = data["train"]
    torch.manual_seed(seed)
    model = build_model(base.arch, recipe.macro())
    tr = fit(model, x[:recipe.train_subset], y[:recipe.train_subset], epochs=recipe.epochs, lr=recipe.lr,
             weight_decay=recipe.weight_decay, batch_size=recipe.batch_size, seed=seed)
    meta = {
        "format": FORMAT, "role": base.role, "arch": base.arch, "index": str(base.index), "config": base.config,
        "seed": str(seed), "recipe": json.dumps(recipe.to_dict(), sort_keys=True),
        "train_acc": repr(tr["train_acc"]),
        "valid_acc": repr(accuracy(model, *data["valid"])), "test_acc": repr(accuracy(model, *data["test"])),
        "params": str(sum(p.numel() for p in model.parameters())),
        "cpu_time_s": repr(time.process_time() - c0), "wall_time_s": repr(time.perf_counter() - t0),
    }
    if base_dir is not None:
        save_base(model, meta, base_path(base.role, base_dir))
    return {"model": model, "meta": meta}


def save_base(model: Any, meta: Mapping[str, str], path: str | os.PathLike[str]) -> Path:
    """Write the state dict (tensors only) and string metadata as safetensors, atomically."""
    try:
        from safetensors.torch import save_file
    except ImportError as exc:  # pragma: no cover - depends on the environment
        from hwbench.errors import MissingDependencyError

        raise MissingDependencyError("safetensors", "compress", "saving base networks") from exc
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    tmp = p.with_suffix(".tmp")
    save_file(sd, str(tmp), metadata={k: str(v) for k, v in meta.items()})
    os.chmod(tmp, 0o644)
    os.replace(tmp, p)
    return p


def load_base(role_or_path: str | os.PathLike[str], base_dir: str | os.PathLike[str] = DEFAULT_BASE_DIR
              ) -> tuple[Any, dict[str, str]]:
    """Load a saved base network: ``(model in eval mode, metadata)``; a role name or a file path."""
    try:
        from safetensors import safe_open
        from safetensors.torch import load_file
    except ImportError as exc:  # pragma: no cover
        from hwbench.errors import MissingDependencyError

        raise MissingDependencyError("safetensors", "compress", "loading base networks") from exc
    from hwbench.models.nb201 import build_model

    p = Path(role_or_path)
    if not p.suffix:
        p = base_path(str(role_or_path), base_dir)
    if not p.is_file():
        have = sorted(f.stem for f in Path(base_dir).glob("*.safetensors")) if Path(base_dir).is_dir() else []
        raise BaseNetworkError(f"base network {str(role_or_path)!r} not found at {p}; saved bases: "
                               f"{', '.join(have) or 'none'} (train with `hwbench compress train-base`)")
    with safe_open(str(p), framework="pt") as f:
        meta = dict(f.metadata() or {})
    if meta.get("format") != FORMAT:
        raise BaseNetworkError(f"{p}: not an hwbench base network (format {meta.get('format')!r}, expected {FORMAT!r})")
    recipe = Recipe(**{k: v for k, v in json.loads(meta["recipe"]).items()
                       if k not in ("resolution", "transform_description")})
    model = build_model(meta["arch"], recipe.macro())
    model.load_state_dict(load_file(str(p)))
    return model.eval(), meta
