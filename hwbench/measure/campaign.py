"""Measured CPU columns of the nb201 table, and the report of the measurement campaign.

* :func:`table_columns` — the ``measured`` part of ``hwbench build nb201``: for every config with
  committed shards, ``<config>/cpu-host/latency_ms`` (1 thread; ``latency_all_cores_ms`` for the
  all-cores protocol) with IQR, CV and the stable flag, from the measure phase; and the TVM memory
  plan ``<config>/cpu-host/planned_activation_bytes``, ``param_bytes``, ``output_bytes`` from the
  compile phase. Results of the representatives are broadcast to every cell of their isomorphism
  class through the canonical form; cells not measured yet are NaN.
* :func:`campaign_report` — figures of (a part of) a campaign: coverage, latency spread, CV and
  stability, Spearman / Kendall with MACs and FLOPs, planned activation storage against the
  analytic peak activation; :func:`framework_ratios` and :func:`repeatability` turn the JSON of
  ``hwbench measure --format json`` runs into the ratio and repeatability figures.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.campaign import first_shard, hosts_summary

#: protocol name (``Protocol.name``) -> metric suffix in the table
PROTOCOL_METRIC = {"1-thread": "latency", "all-cores": "latency_all_cores"}
DEVICE = "cpu-host"
DEFAULT_STORE = Path("datasets") / "shards"


def _repo_store() -> Path:
    return Path(__file__).resolve().parents[2] / DEFAULT_STORE


def broadcast(merged: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Spread per-representative results over all 15,625 cells (hwbench index order; NaN where absent)."""
    from hwbench.spaces.nb201 import SPACE

    idx = np.asarray(merged["index"], dtype=np.int64)
    pos = np.full(SPACE.size, -1, dtype=np.int64)
    pos[idx] = np.arange(len(idx))
    row = pos[SPACE.canonical_ids]
    have = row >= 0
    out: dict[str, np.ndarray] = {"measured_index": np.where(have, SPACE.canonical_ids, -1)}
    for key, col in merged.items():
        if key in ("item", "shard", "arch", "index") or col.dtype == object:
            continue
        if col.dtype.kind in "biu":
            col = col.astype(np.float64)
        if col.dtype.kind != "f":
            continue
        full = np.full(SPACE.size, np.nan)
        full[have] = col[row[have]]
        out[key] = full
    return out


def _merged(name: str, store: Path) -> dict[str, np.ndarray] | None:
    from hwbench.campaign import merge

    if not (store / name).is_dir() or not any((store / name).glob("shard-*.json")):
        return None
    merged = merge(name, store)
    return merged if len(merged.get("index", [])) else None


def table_columns(store_dir: str | Path | None = None, progress: bool = True, tuned: bool = True) -> list[Any]:
    """Columns of the ``measured`` part of the nb201 table (see the module docstring).

    Only campaigns compiled against a tuning database enter the table (``tuned=False`` reads the
    untuned ones instead, for comparisons). Raises FileNotFoundError when no measurement or
    compile shard exists (the build then skips the part).
    """
    from hwbench.measure.run import campaign_name, compile_campaign_name
    from hwbench.recipes import Column
    from hwbench.spaces.nb201 import CONFIGS

    store = Path(store_dir) if store_dir is not None else _repo_store()
    cols: list[Column] = []
    for config in CONFIGS:
        for proto_name, metric in PROTOCOL_METRIC.items():
            name = campaign_name(config, proto_name, tuned=tuned)
            merged = _merged(name, store)
            if merged is None:
                continue
            shard = first_shard(store / name)
            full = broadcast(merged)
            base = {"source": "measured", "tool": "Apache TVM (Relax, tvm.compile) + hwbench.measure",
                    "tool_version": str(shard.get("protocol", {}).get("apache-tvm", "?")),
                    "device": f"{DEVICE}: {hosts_summary(shard)}", "protocol": shard.get("protocol", {})}
            what = (f"{proto_name} protocol, batch 1, deployed network (BN folded, none removed), "
                    + ("tuned TVM" if tuned else "untuned TVM"))
            cols.append(Column(f"{config}/{DEVICE}/{metric}_ms", full["latency_ms"], {
                **base, "unit": "ms", "description": f"median latency over the timed repeats ({what})"},
                std=full.get("latency_std_ms")))
            cols.append(Column(f"{config}/{DEVICE}/{metric}_iqr_ms", full["latency_iqr_ms"], {
                **base, "unit": "ms", "description": f"interquartile range of the timed repeats ({what})"}))
            cols.append(Column(f"{config}/{DEVICE}/{metric}_cv", full["latency_cv"], {
                **base, "unit": "1", "description": f"coefficient of variation of the timed repeats ({what})"}))
            cols.append(Column(f"{config}/{DEVICE}/{metric}_stable", full["latency_stable"], {
                **base, "unit": "bool (0/1)", "description": f"1 if the CV met the protocol's bound ({what})"}))
        cname = compile_campaign_name(config, tuned)
        merged = _merged(cname, store)
        if merged is None:
            continue
        shard = first_shard(store / cname)
        full = broadcast(merged)
        base = {"source": "measured", "tool": "Apache TVM static memory planning (StaticPlanBlockMemory)",
                "tool_version": str(shard.get("protocol", {}).get("apache-tvm", "?")),
                "device": f"{DEVICE} target: {json.dumps(shard.get('protocol', {}).get('target'), sort_keys=True)}",
                "protocol": shard.get("protocol", {})}
        for metric, desc in (
            ("planned_activation_bytes", ("sum of the storages TVM's static planner allocates for intermediate "
                                          "tensors (input, output and kernel workspaces excluded)")),
            ("param_bytes", "bytes of the compiled module's constants (folded weights and biases)"),
            ("output_bytes", "bytes of the output tensor (allocated outside the plan)"),
        ):
            cols.append(Column(f"{config}/{DEVICE}/{metric}", full[metric], {**base, "unit": "bytes",
                                                                              "description": desc}))
    if not cols:
        raise FileNotFoundError(f"no measurement or compile shards under {store}")
    return cols


# ----------------------------------------------------------------------------- report
def _rank(x: np.ndarray) -> np.ndarray:
    import pandas as pd

    return pd.Series(x).rank().to_numpy()


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return math.nan
    return float(np.corrcoef(_rank(a[ok]), _rank(b[ok]))[0, 1])


def kendall(a: np.ndarray, b: np.ndarray) -> float:
    import pandas as pd

    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return math.nan
    return float(pd.Series(a[ok]).corr(pd.Series(b[ok]), method="kendall"))


def _quantiles(x: np.ndarray) -> dict[str, float]:
    x = x[np.isfinite(x)]
    if not len(x):
        return {}
    q = np.percentile(x, [0, 10, 50, 90, 100])
    return {"min": float(q[0]), "p10": float(q[1]), "median": float(q[2]), "p90": float(q[3]), "max": float(q[4])}


def _analytic(config: str) -> dict[str, np.ndarray]:
    """The analytic columns of ``config``: from the shipped table when it has them, else computed (~10 s)."""
    from hwbench.analytic import METRIC_INFO, space_metrics
    from hwbench.errors import HwbenchError
    from hwbench.spaces.nb201 import get_config

    try:
        from hwbench.table import load

        t = load("nb201")
        return {m: np.asarray(t.column(f"{config}/model/{m}"), dtype=float) for m in METRIC_INFO}
    except (HwbenchError, OSError, KeyError):  # no shipped table, or one without the config: compute
        return {k: np.asarray(v, dtype=float) for k, v in space_metrics(get_config(config), progress=False).items()}


def campaign_report(config: str, store_dir: str | Path | None = None, protocol_name: str = "1-thread",
                    tuned: bool = True) -> dict[str, Any]:
    """Figures of the compile and measure campaigns of ``config`` (whatever part of them is done)."""
    from hwbench.measure.run import campaign_name, compile_campaign_name
    from hwbench.spaces.nb201 import SPACE, get_config, is_connected

    cfg = get_config(config)
    store = Path(store_dir) if store_dir is not None else _repo_store()
    ana = _analytic(cfg.name)
    out: dict[str, Any] = {"config": cfg.name, "representatives": len(SPACE.representatives), "tuned": tuned}
    meas = _merged(campaign_name(cfg.name, protocol_name, tuned=tuned), store)
    if meas is not None:
        idx = np.asarray(meas["index"], dtype=np.int64)
        lat = np.asarray(meas["latency_ms"], dtype=float)
        conn = np.array([is_connected(SPACE.parse(SPACE.arch_str(int(i)))) for i in idx])
        cv = np.asarray(meas["latency_cv"], dtype=float)
        out["measure"] = {
            "protocol": protocol_name, "cells": len(idx), "connected": int(conn.sum()),
            "latency_ms": _quantiles(lat[conn]),
            "cv": _quantiles(cv), "stable_fraction": float(np.nanmean(np.asarray(meas["latency_stable"], float))),
            "attempts_mean": float(np.nanmean(np.asarray(meas["latency_attempts"], float)))
            if "latency_attempts" in meas else math.nan,
            "spearman_macs": spearman(lat[conn], ana["macs"][idx][conn]),
            "kendall_macs": kendall(lat[conn], ana["macs"][idx][conn]),
            "spearman_flops": spearman(lat[conn], ana["flops"][idx][conn]),
            "spearman_params": spearman(lat[conn], ana["params"][idx][conn]),
        }
    comp = _merged(compile_campaign_name(cfg.name, tuned), store)
    if comp is not None:
        idx = np.asarray(comp["index"], dtype=np.int64)
        planned = np.asarray(comp["planned_activation_bytes"], dtype=float)
        peak = ana["peak_activation_bytes"][idx]
        conn = np.array([is_connected(SPACE.parse(SPACE.arch_str(int(i)))) for i in idx])
        ratio = planned[conn] / peak[conn]
        out["compile"] = {
            "cells": len(idx), "compile_s": _quantiles(np.asarray(comp["compile_s"], dtype=float)),
            "check_max_abs_err": float(np.nanmax(np.asarray(comp["check_max_abs_err"], dtype=float))),
            "planned_over_analytic_peak": _quantiles(ratio),
            "spearman_planned_vs_peak": spearman(planned[conn], peak[conn]),
            "param_bytes_over_fp32_weights": _quantiles(
                np.asarray(comp["param_bytes"], dtype=float)[conn] / ana["weight_bytes_fp32"][idx][conn]),
        }
    return out


def framework_ratios(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """TVM / ONNX Runtime / PyTorch eager over records of ``hwbench measure --frameworks tvm,torch,onnxruntime``."""
    tvm = np.array([r.get("latency_ms", math.nan) for r in records], dtype=float)
    out: dict[str, Any] = {"cells": len(records), "tvm_ms": _quantiles(tvm)}
    for fw in ("torch", "onnxruntime"):
        other = np.array([r.get(f"{fw}_latency_ms", math.nan) for r in records], dtype=float)
        if np.isfinite(other).any():
            out[f"{fw}_ms"] = _quantiles(other)
            out[f"tvm_over_{fw}"] = _quantiles(tvm / other)
            out[f"tvm_faster_than_{fw}_fraction"] = float(np.nanmean(tvm < other))
            out[f"spearman_tvm_{fw}"] = spearman(tvm, other)
    return out


def paired_latency(base: Sequence[Mapping[str, Any]], other: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """TVM latency of the same cells measured two ways (records of ``hwbench measure --format json``, matched by
    config and index): quantiles of each, of ``other / base`` and their rank agreement, with what differs between
    the two runs (target, threads, tuned or not) read from the records; with ``base``'s ONNX Runtime column
    also ``other`` / ONNX Runtime."""
    b = {(r.get("config"), int(r["index"])): r for r in base}
    o = {(r.get("config"), int(r["index"])): r for r in other}
    common = sorted(set(b) & set(o))
    x = np.array([b[k].get("latency_ms", math.nan) for k in common], dtype=float)
    y = np.array([o[k].get("latency_ms", math.nan) for k in common], dtype=float)
    out: dict[str, Any] = {"cells": len(common), "base_ms": _quantiles(x), "other_ms": _quantiles(y),
                           "other_over_base": _quantiles(y / x), "other_faster_fraction": float(np.mean(y < x))
                           if common else math.nan, "spearman": spearman(x, y)}
    ort = np.array([b[k].get("onnxruntime_latency_ms", math.nan) for k in common], dtype=float)
    if np.isfinite(ort).any():
        out["other_over_onnxruntime"] = _quantiles(y / ort)

    def setting(recs: Mapping[Any, Mapping[str, Any]]) -> dict[str, Any]:
        fps = [r.get("fingerprint") or {} for r in (recs[k] for k in common)]
        return {"targets": sorted({json.dumps(f.get("target"), sort_keys=True) for f in fps}),
                "threads": sorted({int(f.get("threads", -1)) for f in fps}),
                "tuned": sorted({bool(recs[k].get("tuned")) for k in common})}

    out["base"], out["other"] = setting(b), setting(o)
    return out


def tuning_speedup(tuned: Sequence[Mapping[str, Any]], untuned: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Untuned / tuned TVM latency of the same cells (:func:`paired_latency` of records measured with and without
    ``--database``); refuses records on the wrong side."""
    from hwbench.errors import HwbenchError

    for name, recs, want in (("tuned", tuned, True), ("untuned", untuned, False)):
        wrong = [r.get("index") for r in recs if bool(r.get("tuned")) != want]
        if wrong:
            raise HwbenchError(f"the {name} records include cells measured {'without' if want else 'with'} a tuning "
                               f"database (indices {wrong[:5]})")
    p = paired_latency(tuned, untuned)
    out = {"cells": p["cells"], "untuned_ms": p["other_ms"], "tuned_ms": p["base_ms"], "speedup": p["other_over_base"],
           "spearman_untuned_tuned": p["spearman"]}
    if "other_over_onnxruntime" in p:
        out["untuned_over_onnxruntime"] = p["other_over_onnxruntime"]
    return out


def repeatability(first: Mapping[int, float], second: Mapping[int, float]) -> dict[str, Any]:
    """Relative difference of two measurements of the same cells (index -> latency_ms)."""
    common = sorted(set(first) & set(second))
    a = np.array([first[i] for i in common], dtype=float)
    b = np.array([second[i] for i in common], dtype=float)
    rel = np.abs(b - a) / a
    return {"cells": len(common), "median_abs_rel_diff": float(np.nanmedian(rel)) if common else math.nan,
            "p90_abs_rel_diff": float(np.nanpercentile(rel, 90)) if common else math.nan,
            "spearman": spearman(a, b)}


def campaign_latencies(config: str, store_dir: str | Path | None = None, protocol_name: str = "1-thread",
                       tuned: bool = True) -> dict[int, float]:
    """index -> latency_ms of the measured representatives (for :func:`repeatability`)."""
    from hwbench.measure.run import campaign_name

    store = Path(store_dir) if store_dir is not None else _repo_store()
    merged = _merged(campaign_name(config, protocol_name, tuned=tuned), store)
    if merged is None:
        return {}
    return {int(i): float(v) for i, v in zip(merged["index"], merged["latency_ms"])}
