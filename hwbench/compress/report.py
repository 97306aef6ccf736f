"""What the shipped compression table says: the figures of docs/compression.md, computed from the table.

``compress_report(table)`` reads a compression table (``hwbench build compress``, loaded with
``hwbench.load("compress-<space>")``) and returns, per base network:

* ``uniform``: the same bit-width on every stage (weights ``w``, activations ``a``) at full width —
  accuracy, its drop from the float network, and the simulated / analytic costs relative to float;
* ``pruning``: every width choice, float and w8/a8 — accuracy drop, MACs and MCU latency relative to
  the unpruned network;
* ``stage_sensitivity``: w8/a8 everywhere except one stage at the lowest bit-width — which stage
  tolerates low precision;
* ``pareto``: the configurations not dominated in (test accuracy, MCU latency) and in (test accuracy,
  model size), their number and the front itself;

and, over all bases, ``int8_tvm``: the measured int8 / fp32 TVM latency ratio of the all-int8
configurations (median, range, per base), their parameter-byte ratio and the int8 check.

Every figure names the columns it comes from (``columns``); rows without an accuracy (campaign not
run) are left out, never counted as zero. ``hwbench compress report --space S [--format markdown]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from hwbench.compress.bases import ROLES
from hwbench.compress.space import SPACES, CompressionConfig
from hwbench.errors import HwbenchError
from hwbench.search.problem import pareto_mask

CFG = "fashion-mnist"
ACC = f"{CFG}/compress/test_accuracy_pct"
MACS = f"{CFG}/model/macs"
SIZE = f"{CFG}/model/model_size_bytes"
MCU_LAT = f"{CFG}/mcu-stm32f746/latency_ms"
MCU_SRAM = f"{CFG}/mcu-stm32f746/peak_sram_bytes"
FPGA_LAT = f"{CFG}/fpga-zc706/latency_ms"
FPGA_DSP = f"{CFG}/fpga-zc706/dsp_used"
RATIO = f"{CFG}/cpu-host/int8_fp32_latency_ratio"
INT8_LAT = f"{CFG}/cpu-host/int8_latency_ms"
FP32_LAT = f"{CFG}/cpu-host/fp32_latency_ms"
INT8_BYTES = f"{CFG}/cpu-host/int8_param_bytes"
FP32_BYTES = f"{CFG}/cpu-host/fp32_param_bytes"
ARGMAX = f"{CFG}/cpu-host/int8_check_same_argmax"
KEYS = ["key/base_role", "key/config_index", "key/all_int8"]
COSTS = {"mcu_latency": MCU_LAT, "mcu_peak_sram": MCU_SRAM, "model_size": SIZE, "fpga_latency": FPGA_LAT,
         "fpga_dsp": FPGA_DSP, "macs": MACS}


class CompressReportError(HwbenchError, ValueError):
    """The table is not a compression table (a column the report reads is missing)."""


def _f(x: Any, nd: int = 3) -> float | None:
    """JSON-safe rounded float: NaN -> None (missing, never 0)."""
    v = float(x)
    return None if not math.isfinite(v) else round(v, nd)


def _frame(table: Any) -> tuple[pd.DataFrame, str]:
    space_id = str(table.space)  # compress:<space>:joint
    parts = space_id.split(":")
    if len(parts) != 3 or parts[0] != "compress" or parts[1] not in SPACES:
        raise CompressReportError(f"table space {space_id!r} is not a compression table (compress:<space>:joint)")
    want = KEYS + [ACC, *COSTS.values()]
    optional = [RATIO, INT8_LAT, FP32_LAT, INT8_BYTES, FP32_BYTES, ARGMAX]
    have = set(table.metrics)
    missing = [c for c in want if c not in have]
    if missing:
        raise CompressReportError(f"compression table lacks column(s) {', '.join(missing)}")
    df = table.to_pandas([c for c in want + optional if c in have]).reset_index(drop=True)
    for c in optional:
        if c not in df:
            df[c] = np.nan
    return df, parts[1]


def _config_rows(sp: Any, configs: Sequence[str]) -> np.ndarray:
    return np.array([sp.index(c) for c in configs], dtype=np.int64)


def compress_report(table: Any, *, front_limit: int | None = None) -> dict[str, Any]:
    """The report of a loaded compression table (see the module docstring); ``front_limit`` caps the
    listed front points per base (their count is always exact)."""
    df, space_name = _frame(table)
    sp = SPACES[space_name]
    lo = min(sp.bits)
    full = max(sp.widths)
    full_m = (full, full, full)
    out: dict[str, Any] = {
        "space": space_name,
        "table_sha256": table.sha256,
        "columns": {"accuracy": ACC, **COSTS, "int8_fp32_ratio": RATIO},
        "bases": {},
    }
    for role_i, role in enumerate(ROLES):
        b = df[df["key/base_role"] == role_i].set_index("key/config_index").sort_index()
        acc = b[ACC].to_numpy(dtype=float)
        n_acc = int(np.isfinite(acc).sum())
        entry: dict[str, Any] = {"rows": len(b), "rows_with_accuracy": n_acc}
        out["bases"][role] = entry
        if n_acc == 0:
            entry["note"] = "no accuracy for this base (campaign not run)"
            continue
        float_cfg = str(CompressionConfig(full_m, (32,) * 3, (32,) * 3))
        fidx = sp.index(float_cfg)
        f_acc = float(b.at[fidx, ACC])
        entry["float_config"] = float_cfg
        entry["float_accuracy_pct"] = _f(f_acc)

        def rel(col: str, idx: int, ref: int, b: pd.DataFrame = b) -> float | None:
            return _f(b.at[idx, col] / b.at[ref, col], 4)

        uniform = []
        for w in sorted(sp.bits, reverse=True):
            for a in sorted(sp.bits, reverse=True):
                cfg = str(CompressionConfig(full_m, (w,) * 3, (a,) * 3))
                i = sp.index(cfg)
                row = {"w_bits": w, "a_bits": a, "config": cfg, "accuracy_pct": _f(b.at[i, ACC]),
                       "drop_points": _f(f_acc - b.at[i, ACC])}
                row.update({f"{k}_vs_float": rel(c, i, fidx) for k, c in COSTS.items() if k != "macs"})
                uniform.append(row)
        entry["uniform"] = uniform

        pruning = []
        unpruned8 = sp.index(str(CompressionConfig(full_m, (8,) * 3, (8,) * 3))) if 8 in sp.bits else None
        for widths in sp.width_choices():
            for bits in ((32, 32), (8, 8)) if 8 in sp.bits else ((32, 32),):
                cfg = str(CompressionConfig(tuple(widths), (bits[0],) * 3, (bits[1],) * 3))
                i = sp.index(cfg)
                ref = fidx if bits == (32, 32) else unpruned8
                assert ref is not None
                pruning.append({
                    "config": cfg, "bits": f"w{bits[0]}a{bits[1]}", "accuracy_pct": _f(b.at[i, ACC]),
                    "drop_points_vs_unpruned": _f(b.at[ref, ACC] - b.at[i, ACC]),
                    "macs_vs_unpruned": rel(MACS, i, ref), "mcu_latency_vs_unpruned": rel(MCU_LAT, i, ref),
                })
        entry["pruning"] = pruning

        if 8 in sp.bits and lo < 8:
            base8 = sp.index(str(CompressionConfig(full_m, (8,) * 3, (8,) * 3)))
            sens = []
            for s in range(3):
                for which in ("w", "a", "wa"):
                    wb = [8, 8, 8]
                    ab = [8, 8, 8]
                    if "w" in which:
                        wb[s] = lo
                    if "a" in which:
                        ab[s] = lo
                    cfg = str(CompressionConfig(full_m, tuple(wb), tuple(ab)))  # type: ignore[arg-type]
                    i = sp.index(cfg)
                    sens.append({"stage": s + 1, "low": which, "bits": lo, "config": cfg,
                                 "drop_points_vs_w8a8": _f(b.at[base8, ACC] - b.at[i, ACC])})
            entry["stage_sensitivity"] = sens

        ok = np.isfinite(acc)
        names = [str(sp.from_index(int(i))) for i in b.index[ok]]
        fronts = {}
        for key, col in (("mcu_latency", MCU_LAT), ("model_size", SIZE)):
            cost = b[col].to_numpy(dtype=float)[ok]
            m = pareto_mask(acc[ok], cost)
            order = np.argsort(cost[m])
            pts = [{"config": names[j], "accuracy_pct": _f(acc[ok][j]), key: _f(cost[j], 4)}
                   for j in np.flatnonzero(m)[order]]
            fronts[key] = {"points": int(m.sum()), "of": int(ok.sum()),
                           "front": pts if front_limit is None else _thin(pts, front_limit)}
        entry["pareto"] = fronts

    meas = df[np.isfinite(df[RATIO].to_numpy(dtype=float))]
    int8: dict[str, Any] = {"configs_measured": len(meas), "configs_all_int8": int(df["key/all_int8"].sum())}
    if len(meas):
        r = meas[RATIO].to_numpy(dtype=float)
        pb = (meas[INT8_BYTES] / meas[FP32_BYTES]).to_numpy(dtype=float)
        int8.update({
            "ratio_median": _f(np.median(r)), "ratio_min": _f(r.min()), "ratio_max": _f(r.max()),
            "faster_than_fp32": int((r < 1).sum()),
            "param_bytes_ratio_median": _f(np.nanmedian(pb), 4),
            "same_argmax_min": _f(meas[ARGMAX].min(), 4),
            "per_base": {},
        })
        for role_i, role in enumerate(ROLES):
            mb = meas[meas["key/base_role"] == role_i]
            if len(mb):
                int8["per_base"][role] = {
                    "measured": len(mb), "ratio_median": _f(mb[RATIO].median()),
                    "int8_ms_median": _f(mb[INT8_LAT].median(), 4), "fp32_ms_median": _f(mb[FP32_LAT].median(), 4),
                }
    out["int8_tvm"] = int8
    return out


def _thin(pts: list[dict[str, Any]], k: int) -> list[dict[str, Any]]:
    """At most ``k`` points spread evenly over a front (first and last kept)."""
    if len(pts) <= k or k < 2:
        return pts[:max(k, 0)] if len(pts) > k else pts
    idx = np.unique(np.round(np.linspace(0, len(pts) - 1, k)).astype(int))
    return [pts[i] for i in idx]


def _num(x: Any, fmt: str = "{:.2f}") -> str:
    return "n/a" if x is None else fmt.format(x)


def report_markdown(rep: dict[str, Any]) -> str:
    """The report as markdown (the tables of docs/compression.md section 8)."""
    lines = [(f"Compression table `{rep['space']}` (sha256 `{rep['table_sha256'][:12]}…`); accuracy = "
              f"`{rep['columns']['accuracy']}`."), ""]
    lines += ["| base | float acc % | rows with acc |", "| --- | --- | --- |"]
    for role, e in rep["bases"].items():
        lines.append(f"| {role} | {_num(e.get('float_accuracy_pct'))} | {e['rows_with_accuracy']} of {e['rows']} |")
    lines += ["", "**Uniform bit-width at full width** (drop in points from float; costs relative to float):", "",
              "| base | w/a bits | acc % | drop | MCU latency | MCU SRAM | model size | FPGA latency | FPGA DSPs |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for role, e in rep["bases"].items():
        for u in e.get("uniform", []):
            lines.append(f"| {role} | w{u['w_bits']}/a{u['a_bits']} | {_num(u['accuracy_pct'])} | "
                         f"{_num(u['drop_points'])} | {_num(u['mcu_latency_vs_float'], '{:.3f}')} | "
                         f"{_num(u['mcu_peak_sram_vs_float'], '{:.3f}')} | {_num(u['model_size_vs_float'], '{:.3f}')} | "
                         f"{_num(u['fpga_latency_vs_float'], '{:.3f}')} | {_num(u['fpga_dsp_vs_float'], '{:.3f}')} |")
    lines += ["", "**Pruning** (drop in points and costs relative to the unpruned network of the same bits):", "",
              "| base | config | acc % | drop | MACs | MCU latency |", "| --- | --- | --- | --- | --- | --- |"]
    for role, e in rep["bases"].items():
        for p in e.get("pruning", []):
            lines.append(f"| {role} | `{p['config']}` | {_num(p['accuracy_pct'])} | "
                         f"{_num(p['drop_points_vs_unpruned'])} | {_num(p['macs_vs_unpruned'], '{:.3f}')} | "
                         f"{_num(p['mcu_latency_vs_unpruned'], '{:.3f}')} |")
    if any("stage_sensitivity" in e for e in rep["bases"].values()):
        lines += ["", ("**Stage sensitivity** (w8/a8 everywhere except one stage at the lowest bit-width; drop "
                       "in points from all-w8/a8):"), "", "| base | stage | weights low | activations low | both low |",
                  "| --- | --- | --- | --- | --- |"]
        for role, e in rep["bases"].items():
            sens = e.get("stage_sensitivity", [])
            for s in (1, 2, 3):
                d = {x["low"]: x["drop_points_vs_w8a8"] for x in sens if x["stage"] == s}
                if d:
                    lines.append(f"| {role} | {s} | {_num(d.get('w'))} | {_num(d.get('a'))} | {_num(d.get('wa'))} |")
    lines += ["", "**Pareto fronts** (test accuracy vs cost, per base):", "",
              "| base | front | points | configurations | best accuracy on the front | cheapest point |",
              "| --- | --- | --- | --- | --- | --- |"]
    for role, e in rep["bases"].items():
        for key, f in e.get("pareto", {}).items():
            pts = f["front"]
            if not pts:
                continue
            hi, lo_ = pts[-1], pts[0]
            lines.append(f"| {role} | acc vs {key} | {f['points']} | {f['of']} | {_num(hi['accuracy_pct'])} % "
                         f"(`{hi['config']}`) | {_num(lo_['accuracy_pct'])} % at {lo_[key]:g} (`{lo_['config']}`) |")
    t = rep["int8_tvm"]
    lines += ["", (f"**int8 TVM (measured)**: {t['configs_measured']} of {t['configs_all_int8']} all-int8 "
                   "configurations measured.")]
    if t["configs_measured"]:
        lines += [(f"int8 / fp32 latency ratio median {_num(t['ratio_median'], '{:.3f}')} (range "
                  f"{_num(t['ratio_min'], '{:.3f}')}–{_num(t['ratio_max'], '{:.3f}')}); int8 faster on "
                  f"{t['faster_than_fp32']} of {t['configs_measured']}; parameter bytes int8 / fp32 median "
                  f"{_num(t['param_bytes_ratio_median'], '{:.3f}')}; same argmax as the torch fake-quant network on "
                  f"≥ {_num(t['same_argmax_min'], '{:.4f}')} of the check images."), "",
                  "| base | measured | ratio median | int8 ms median | fp32 ms median |", "| --- | --- | --- | --- | --- |"]
        for role, pb in t["per_base"].items():
            lines.append(f"| {role} | {pb['measured']} | {_num(pb['ratio_median'], '{:.3f}')} | "
                         f"{_num(pb['int8_ms_median'], '{:.3f}')} | {_num(pb['fp32_ms_median'], '{:.3f}')} |")
    return "\n".join(lines) + "\n"
