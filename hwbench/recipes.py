"""Recipes: raw results (campaign shards, analytic sweeps) -> the shipped table files in ``datasets/``.

Serving never runs a recipe. ``hwbench build nb201`` (or :func:`build_nb201`) rebuilds
``datasets/nb201.h5`` from code and the committed campaign shards, updates ``datasets/manifest.toml``
and reports the file's sha256. Each column group is a *part*; a part whose inputs do not exist yet
(e.g. no training shard) is skipped with a note, never filled with zeros.
"""

from __future__ import annotations

import datetime as _dt
import logging
import platform
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwbench._version import __version__
from hwbench.spaces.nb201 import CONFIGS, SIZE, SPACE, get_config, is_connected

log = logging.getLogger("hwbench")

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO / "datasets"


@dataclass
class Column:
    """One column for a table writer: values, attributes, and optionally its dispersion sibling."""

    name: str
    values: np.ndarray
    attrs: dict[str, Any]
    std: np.ndarray | None = None
    iqr: np.ndarray | None = None


@dataclass
class BuildReport:
    path: Path
    sha256: str
    columns: int
    parts: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "sha256": self.sha256, "columns": self.columns, "parts": self.parts}


def _today() -> str:
    return _dt.date.today().isoformat()


def _as_int_if_exact(v: np.ndarray) -> np.ndarray:
    if np.all(np.isfinite(v)) and np.all(v == np.round(v)):
        return v.astype(np.int64)
    return v


def part_keys() -> list[Column]:
    """Space-level key columns: isomorphism class representative and connectivity."""
    attrs = dict(unit="index", source="analytic", tool="hwbench", tool_version=__version__, device="none",
                 protocol={}, description="")
    canon = SPACE.canonical_ids.astype(np.int64)
    conn = np.array([is_connected(tuple(int(o) for o in row)) for row in SPACE.op_matrix], dtype=np.int64)
    return [
        Column("canonical_index", canon, {**attrs, "description": "hwbench index of the isomorphism-class "
               "representative (smallest index with the same NAS-Bench-201 unique string)"}),
        Column("is_connected", conn, {**attrs, "unit": "bool (0/1)", "description": "1 if the cell's output "
               "depends on its input, 0 if every path is cut by a 'none' edge (the cell outputs zeros)"}),
    ]


def part_analytic(configs: Iterable[str] = tuple(CONFIGS), progress: bool = True) -> list[Column]:
    """``<config>/model/<metric>``: params, MACs, FLOPs, peak activation and weight bytes (analytic)."""
    from hwbench.analytic import METRIC_INFO, space_metrics

    out = []
    for config in configs:
        cfg = get_config(config)
        cols = space_metrics(cfg, progress=progress)
        proto = {"batch": 1, "activation_dtype": "fp32", "macro": {"C": cfg.C, "N": cfg.N,
                 "input": list(cfg.input_shape), "num_classes": cfg.num_classes}}
        for metric, values in cols.items():
            unit, desc = METRIC_INFO[metric]
            out.append(Column(f"{cfg.name}/model/{metric}", _as_int_if_exact(values), dict(
                unit=unit, source="analytic", tool="hwbench.analytic (layer-graph IR)", tool_version=__version__,
                device="none", protocol=proto, description=desc)))
    return out


def part_simulated(devices: Iterable[str] | None = None, progress: bool = True) -> list[Column]:
    """``<config>/<device>/<metric>`` for every simulated device (analytic device models, ``simulators/``)."""
    from tqdm.auto import tqdm

    from hwbench.simulate import sweep_columns
    from simulators.devices import list_devices

    out = []
    for device in tqdm(list(devices or list_devices()), desc="simulated devices", disable=not progress):
        for name, (values, attrs) in sweep_columns(device).items():
            a = dict(attrs)
            a.setdefault("tool_version", __version__)
            metric = name.rsplit("/", 1)[1]
            a.setdefault("description", f"{metric} of the nb201 network on {device} (simulated; model and "
                         "validation error in docs/targets.md)")
            out.append(Column(name, np.asarray(values, dtype=np.float64), a))
    return out


def part_trained(store_dir: str | Path | None = None, progress: bool = True) -> list[Column]:
    """``fashion-mnist/train/*`` from the committed training shards, broadcast to every cell of each
    trained isomorphism class. Cells whose class has not been trained yet are NaN."""
    from hwbench.campaign import merge
    from hwbench.train.campaign import DEFAULT_STORE, N_SECOND_SEED, broadcast, campaign_name, protocol
    from hwbench.train.recipe import FASHION_MNIST_RECIPE as recipe

    store = Path(store_dir) if store_dir is not None else REPO / DEFAULT_STORE
    name = campaign_name(recipe.config)
    if not (store / name).is_dir():
        raise FileNotFoundError(f"no training shards under {store / name}")
    merged = merge(name, store)
    if len(merged.get("role", [])) == 0:
        raise FileNotFoundError(f"no finished training shard under {store / name}")
    main = broadcast(merged, "main")
    seed2 = broadcast(merged, "seed2")
    proto = protocol(recipe)
    proto.pop("data", None)
    import json

    first = json.loads(sorted((store / name).glob("shard-*.json"))[0].read_text())
    hosts = sorted({f"{h.get('cpu', '?')} ({h.get('cpu_count', '?')} cores, {h.get('machine', '?')})"
                    for h in first.get("hosts", [])})
    base = dict(source="trained", tool="hwbench.train (PyTorch)",
                tool_version=str(first.get("tool_versions", {}).get("torch", "?")),
                device="CPU, 1 thread per run: " + ("; ".join(hosts) or "unknown host"), protocol=proto)
    cfg = recipe.config
    n_epochs = int(main["valid_acc_curve"].shape[1]) if main["valid_acc_curve"].ndim == 2 else 0
    cols: list[Column] = []

    def add(metric: str, values: np.ndarray, unit: str, desc: str, src: dict[str, Any] | None = None) -> None:
        cols.append(Column(f"{cfg}/train/{metric}", values, {**base, **(src or {}), "unit": unit, "description": desc}))

    for split in ("train", "valid", "test"):
        add(f"{split}_accuracy_pct", 100.0 * main[f"{split}_acc"], "%",
            f"{split} accuracy after the last epoch (seed 0; train = running value over the last epoch)")
        add(f"{split}_loss", main[f"{split}_loss"], "nats", f"{split} cross-entropy after the last epoch (seed 0)")
    add("valid_accuracy_curve_pct", 100.0 * main["valid_acc_curve"], "%",
        f"validation accuracy after each of the {n_epochs} epochs on the first 1,000 valid images (seed 0)")
    add("test_accuracy_curve_pct", 100.0 * main["test_acc_curve"], "%",
        f"test accuracy after each of the {n_epochs} epochs on the first 1,000 test images (seed 0)")
    epoch_cpu = main.get("epoch_cpu_time_s", main["epoch_time_s"])
    add("epoch_time_s", epoch_cpu, "s", "CPU time of each epoch's training steps, 1 thread (the machine was "
        "shared, so CPU time rather than wall time is the stable cost figure)")
    add("train_time_s", np.nansum(epoch_cpu, axis=1) if epoch_cpu.ndim == 2 else epoch_cpu, "s",
        "CPU time of all training epochs, 1 thread: the simulated clock of search tasks charges it")
    cols[-1].values[~np.isfinite(main["test_acc"])] = np.nan  # untrained: NaN, not a 0-s sum
    add("degenerate", main["degenerate"], "bool (0/1)", "1 if the cell's output does not depend on its input")
    add("trained_index", np.where(main["trained_index"] >= 0, main["trained_index"], np.nan), "index",
        "hwbench index of the representative that was trained for this cell's isomorphism class")
    add("seed2_test_accuracy_pct", 100.0 * seed2["test_acc"], "%",
        f"test accuracy with seed 1, for a fixed subset of {N_SECOND_SEED} classes (seed-noise estimate)")
    add("seed2_valid_accuracy_pct", 100.0 * seed2["valid_acc"], "%",
        f"validation accuracy with seed 1, for a fixed subset of {N_SECOND_SEED} classes")
    return cols


#: part name -> function returning columns (or raising FileNotFoundError when inputs are missing)
PARTS: dict[str, Callable[..., list[Column]]] = {
    "keys": part_keys,
    "analytic": part_analytic,
    "simulated": part_simulated,
    "trained": part_trained,
}


def _optional_parts() -> dict[str, Callable[..., list[Column]]]:
    """Parts contributed by other subsystems, looked up lazily (absent modules are skipped)."""
    import importlib

    found: dict[str, Callable[..., list[Column]]] = {}
    for name, spec in {
        "measured": "hwbench.measure.campaign:table_columns",
        "proxies": "hwbench.proxies.campaign:table_columns",
    }.items():
        mod, fn = spec.split(":")
        try:
            found[name] = getattr(importlib.import_module(mod), fn)
        except (ImportError, AttributeError):
            continue
    return found


def build_nb201(
    out_dir: str | Path = DATASETS,
    *,
    parts: Iterable[str] | None = None,
    progress: bool = True,
    version: str = "1",
) -> BuildReport:
    """Rebuild ``<out_dir>/nb201.h5`` and its manifest entry. Returns where it went and its sha256."""
    from hwbench.table import TableWriter, update_manifest_entry

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    available = {**PARTS, **_optional_parts()}
    wanted = list(parts) if parts is not None else list(available)
    notes: dict[str, str] = {}
    columns: list[Column] = []
    for part in wanted:
        fn = available.get(part)
        if fn is None:
            notes[part] = "not available (module missing)"
            continue
        try:
            cols = fn(progress=progress) if part != "keys" else fn()
        except FileNotFoundError as exc:
            notes[part] = f"skipped: {exc}"
            continue
        notes[part] = f"{len(cols)} columns"
        columns.extend(cols)
    path = out_dir / "nb201.h5"
    with TableWriter(path, space="nb201") as w:
        for c in columns:
            if len(c.values) != SIZE:
                raise ValueError(f"column {c.name} has {len(c.values)} rows, expected {SIZE}")
            w.add_column(c.name, c.values, std=c.std, iqr=c.iqr, date=c.attrs.pop("date", _today()), **c.attrs)
    built_with = {"hwbench": __version__, "python": platform.python_version(), "numpy": np.__version__}
    entry = update_manifest_entry(
        out_dir / "manifest.toml", path, name="nb201", version=version,
        description="NAS-Bench-201 topology space (15,625 cells): analytic, simulated, trained and measured "
                    "columns; see docs/metrics.md and the per-column attributes",
        citation="hwbench (this project); space from Dong & Yang, NAS-Bench-201, ICLR 2020",
        built_with=built_with,
    )
    return BuildReport(path=path, sha256=entry.sha256, columns=len(columns), parts=notes)
