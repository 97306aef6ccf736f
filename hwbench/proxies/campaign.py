"""The zero-cost-proxy campaign: every proxy for every NB201 cell of a config.

Items are ``{"index": hwbench index, "config": str, "source": batch source, "batch_size": int,
"seed": int, "proxies": [names]}`` in hwbench index order (every one of the 15,625 cells: isomorphic
cells are different networks whose initialization and dead ops differ). :func:`proxy_item` is the
campaign function (module-level, picklable, 1 torch thread): it builds the cell's network with
``torch.manual_seed(seed)`` (inside a forked RNG state), scores it on the fixed batch and returns
``{name: score, name + "_seconds": compute seconds}``.

Default batches (see :mod:`hwbench.proxies.batches`): ``fashion-mnist`` config -> real Fashion-MNIST
training images (batch 64, seed 0); ``cifar10`` config -> ``gaussian`` inputs (CIFAR-10 is not
available here; data-free proxies only look at the shape, data-needing ones then see noise with
random labels, recorded in the protocol) unless ``source`` says otherwise. Without an explicit
proxy list, a ``gaussian`` campaign computes only the data-free proxies (:func:`default_proxies`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

SHARD_SIZE = 125
DEFAULT_STORE = Path("datasets") / "shards"
DEFAULT_SOURCE = {"fashion-mnist": "fashion-mnist", "cifar10": "gaussian", "cifar100": "gaussian",
                  "imagenet16-120": "gaussian"}
BATCH_SIZE = 64
TARGET = "proxy"


def default_proxies(source: str) -> list[str]:
    """All proxies on real data; only the data-free ones (which look at the input shape only) on ``gaussian``."""
    from hwbench.proxies import default_registry

    reg = default_registry()
    return [i.name for i in reg if source != "gaussian" or not i.needs_data]


def campaign_name(config: str, source: str | None = None, seed: int = 0) -> str:
    src = source or DEFAULT_SOURCE.get(config, "gaussian")
    return f"nb201-{config}-proxies-{src}" + (f"-seed{seed}" if seed else "")


def proxy_items(
    config: str,
    proxies: Sequence[str] | None = None,
    *,
    source: str | None = None,
    batch_size: int = BATCH_SIZE,
    seed: int = 0,
    indices: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    from hwbench.spaces.nb201 import SIZE, get_config

    get_config(config)
    src = source or DEFAULT_SOURCE.get(config, "gaussian")
    names = list(proxies or default_proxies(src))
    idx = range(SIZE) if indices is None else indices
    return [
        {"index": int(i), "config": config, "source": src, "batch_size": int(batch_size), "seed": int(seed),
         "proxies": names}
        for i in idx
    ]


@lru_cache(maxsize=4)
def _batch(source: str, config: str, batch_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    from hwbench.proxies.batches import make_batch

    return make_batch(source, config, batch_size, seed)


def score_cell(
    arch: int | str, config: str = "cifar10", proxies: Sequence[str] | None = None, *,
    source: str | None = None, batch_size: int = BATCH_SIZE, seed: int = 0, threads: int | None = 1,
) -> dict[str, float]:
    """All (or the named) proxies of one NB201 cell: ``{name: score, name + "_seconds": seconds}``."""
    import torch

    from hwbench.models.nb201 import build_model
    from hwbench.proxies import list_proxies, score_many
    from hwbench.spaces.nb201 import SPACE

    if threads is not None:
        torch.set_num_threads(int(threads))
    src = source or DEFAULT_SOURCE.get(config, "gaussian")
    batch = _batch(src, config, int(batch_size), int(seed))
    ops = SPACE.parse(arch)
    with torch.random.fork_rng():
        torch.manual_seed(int(seed))
        model = build_model(ops, config)
    out: dict[str, float] = {}
    for name, (value, secs) in score_many(list(proxies or list_proxies()), model, batch, seed=seed).items():
        out[name] = value
        out[f"{name}_seconds"] = secs
    return out


def proxy_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """Campaign function: score one item (see the module docstring)."""
    res: dict[str, Any] = score_cell(
        int(item["index"]), str(item["config"]), list(item["proxies"]), source=str(item["source"]),
        batch_size=int(item["batch_size"]), seed=int(item["seed"]), threads=1,
    )
    res["index"] = int(item["index"])
    return res


def protocol(config: str, proxies: Sequence[str], source: str, batch_size: int, seed: int) -> dict[str, Any]:
    from hwbench.proxies import get_proxy
    from hwbench.proxies.batches import describe_batch

    return {
        "what": "zero-cost proxies of NB201 cells at initialization",
        "config": config,
        "batch": describe_batch(source, config, batch_size, seed),
        "init": f"torch default init after torch.manual_seed({seed}); proxies run in train mode on a copy",
        "proxies": {p: get_proxy(p).reference for p in proxies},
        "threads_per_worker": 1,
    }


def run_proxy_campaign(
    config: str,
    proxies: Sequence[str] | None = None,
    *,
    source: str | None = None,
    batch_size: int = BATCH_SIZE,
    seed: int = 0,
    store_dir: str | os.PathLike[str] = DEFAULT_STORE,
    executor: str = "local",
    workers: int = 2,
    client: Any = None,
    address: str | None = None,
    limit: int | None = None,
    indices: Sequence[int] | None = None,
    progress: bool = True,
    shard_size: int = SHARD_SIZE,
    name: str | None = None,
) -> Any:
    """Run (or resume) the proxy campaign of ``config``; ``limit`` = at most this many items this call."""
    from hwbench.campaign import run_campaign

    src = source or DEFAULT_SOURCE.get(config, "gaussian")
    names = list(proxies or default_proxies(src))
    items = proxy_items(config, names, source=src, batch_size=batch_size, seed=seed, indices=indices)
    return run_campaign(
        name or campaign_name(config, src, seed),
        items,
        proxy_item,
        shard_size=shard_size,
        store_dir=store_dir,
        executor=executor,
        workers=workers,
        client=client,
        address=address,
        progress=progress,
        protocol=protocol(config, names, src, batch_size, seed),
        max_shards=None if limit is None else math.ceil(limit / shard_size),
    )


def to_columns(merged: Mapping[str, np.ndarray], config: str) -> dict[str, np.ndarray]:
    """Merged campaign results -> ``{"<config>/proxy/<name>": float64[15625]}`` (NaN where not run).

    Compute times become ``<config>/proxy/<name>_seconds``.
    """
    from hwbench.spaces.nb201 import SIZE

    idx = np.asarray(merged["index"], dtype=np.int64)
    out: dict[str, np.ndarray] = {}
    for key, col in merged.items():
        if key in ("item", "shard", "index") or col.dtype.kind not in "fiu" or col.ndim != 1:
            continue
        full = np.full(SIZE, np.nan)
        full[idx] = col.astype(np.float64)
        out[f"{config}/{TARGET}/{key}"] = full
    return out


def add_columns(writer: Any, columns: Mapping[str, np.ndarray], proto: Mapping[str, Any]) -> list[str]:
    """Add proxy columns to an open :class:`hwbench.table.TableWriter` with their attributes."""
    from hwbench._version import __version__
    from hwbench.proxies import get_proxy

    done = []
    for name, values in columns.items():
        proxy = name.rsplit("/", 1)[1]
        is_time = proxy.endswith("_seconds")
        base = proxy[: -len("_seconds")] if is_time else proxy
        info = get_proxy(base)
        writer.add_column(
            name, values, unit="s" if is_time else info.unit, source="analytic", tool="hwbench.proxies",
            tool_version=__version__, device="cpu (1 thread)" if is_time else "none", protocol=dict(proto),
            description=(f"compute time of proxy {base}" if is_time else f"zero-cost proxy {base}: {info.description}"),
        )
        done.append(name)
    return done


def table_columns(store_dir: str | os.PathLike[str] | None = None, progress: bool = True) -> list[Any]:
    """The ``proxies`` part of ``hwbench build nb201``: ``<config>/proxy/*`` from every committed proxy campaign.

    Reads the default-source, seed-0 campaign of each config (:func:`campaign_name`); cells not
    scored yet are NaN. Raises FileNotFoundError when no proxy shard exists (the build skips the part).
    """
    import json

    from hwbench._version import __version__
    from hwbench.campaign import merge
    from hwbench.proxies import get_proxy
    from hwbench.recipes import Column
    from hwbench.spaces.nb201 import CONFIGS

    store = Path(store_dir) if store_dir is not None else Path(__file__).resolve().parents[2] / DEFAULT_STORE
    cols: list[Column] = []
    for config in CONFIGS:
        name = campaign_name(config)
        shards = sorted((store / name).glob("shard-*.json")) if (store / name).is_dir() else []
        if not shards:
            continue
        proto = json.loads(shards[0].read_text()).get("protocol", {})
        for cname, values in to_columns(merge(name, store), config).items():
            proxy = cname.rsplit("/", 1)[1]
            is_time = proxy.endswith("_seconds")
            base = proxy[: -len("_seconds")] if is_time else proxy
            info = get_proxy(base)
            cols.append(Column(cname, values, {
                "unit": "s" if is_time else info.unit, "source": "analytic" if not is_time else "measured",
                "tool": "hwbench.proxies", "tool_version": __version__,
                "device": "cpu (1 thread)" if is_time else "none", "protocol": dict(proto),
                "description": (f"compute time of proxy {base} (1 torch thread, shared machine)" if is_time
                                else f"zero-cost proxy {base}: {info.description}")}))
    if not cols:
        raise FileNotFoundError(f"no proxy campaign shards under {store}")
    return cols
