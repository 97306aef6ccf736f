"""The shipped compression table: every (base network, configuration) of a compression space with its
accuracy and costs, through the project's table store (``hwbench build compress --space S``).

**File** ``<out>/compress-<space>.h5`` (format ``hwbench.table/1``, docs/tables.md), table space
``compress:<space>:joint``: row ``i = base_role * space.size + config_index``, bases in
:data:`hwbench.compress.bases.ROLES` order, configurations in the compression space's index order; the
row's architecture string is ``<role>:<config>`` (``best:m100.50.75-w8.4.8-a8.8.32``). Registered as
``compress-<space>`` in ``<out>/manifest.toml``, so ``hwbench.load("compress-mpq-prune-small")``
opens it (sha256-verified).

**Columns** (each with unit, source, tool, tool_version, device, protocol, date, description):

* ``key/*`` (analytic): ``base_role``, ``base_nb201_index``, ``config_index``, the nine digits as values
  (``m1_pct`` .. ``m3_pct``, ``w1_bits`` .. ``w3_bits``, ``a1_bits`` .. ``a3_bits``; 32 = float), ``all_int8``;
* ``fashion-mnist/compress/*`` (trained): ``test_accuracy_pct`` from the merged accuracy-campaign shards
  (``compress-<space>-fashion-mnist``), and per pruning block ``float_test_accuracy_pct``,
  ``finetune_train_accuracy_pct``, ``finetune_time_s``, ``block_time_s``; NaN where a block is missing;
* ``fashion-mnist/model/{params, macs, model_size_bytes}`` (analytic) and
  ``fashion-mnist/mcu-stm32f746/*``, ``fashion-mnist/fpga-zc706/*`` (simulated): from
  :func:`hwbench.compress.campaign.cost_block` via the cached :func:`hwbench.compress.tasks.cost_columns`
  (the metric names the compression tasks read);
* ``fashion-mnist/cpu-host/*`` (measured): the int8 TVM campaign (``compress-<space>-tvm-int8``, see
  :mod:`hwbench.compress.tvm_campaign`): int8 and fp32 latency (with IQR), CV, stability, their ratio,
  parameter and planned activation bytes, the numerical check; NaN for configurations that are not
  all-int8 and for those not measured yet.

A part whose inputs do not exist (no campaign shard) gives NaN columns and a note in the report;
nothing is filled with zeros.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.campaign import first_shard, hosts_summary
from hwbench.compress.bases import ROLES
from hwbench.compress.space import CompressionSpace, get_space
from hwbench.recipes import Column, _as_int_if_exact

log = logging.getLogger("hwbench")

CONFIG = "fashion-mnist"
MCU = "mcu-stm32f746"
FPGA = "fpga-zc706"
UNITS: dict[str, str] = {
    "params": "count",
    "macs": "count",
    "model_size_bytes": "bytes",
    "latency_ms": "ms",
    "energy_mj": "mJ",
    "peak_sram_bytes": "bytes",
    "arena_bytes": "bytes",
    "flash_bytes": "bytes",
    "weight_bytes": "bytes",
    "dsp_used": "DSP slices",
    "dsp_active_peak": "DSP slices",
    "bram36_used": "BRAM36 blocks",
    "dram_traffic_bytes": "bytes",
}
COST_DESCRIPTIONS: dict[str, str] = {
    "params": "learnable parameters of the pruned network (analytic layer graph)",
    "macs": "multiply-accumulates of conv and linear ops at batch 1 (pruned network)",
    "model_size_bytes": "weights packed at their bit-widths + 4-byte biases after batch-norm folding "
    "(the compression tasks' weight bytes)",
    "latency_ms": "latency at batch 1",
    "energy_mj": "energy per inference",
    "peak_sram_bytes": "peak SRAM (arena + scratch)",
    "arena_bytes": "TFLM greedy arena",
    "flash_bytes": "flash: runtime + packed weights + biases + quantization data",
    "weight_bytes": "packed weights + int32 biases",
    "dsp_used": "DSP slices of the engine (constant per board)",
    "dsp_active_peak": "DSP slices the busiest layer keeps busy (what an engine sized for this configuration needs)",
    "bram36_used": "BRAM36 blocks used",
    "dram_traffic_bytes": "DRAM traffic per inference",
}


def table_name(space: str) -> str:
    """Manifest name (and file stem) of the compression table of ``space``: ``compress-<space>``."""
    return f"compress-{space}"


def table_space(space: str) -> str:
    """The table's search space: ``compress:<space>:joint`` (all four base networks)."""
    return f"compress:{space}:joint"


@dataclass
class CompressTableReport:
    path: Path
    sha256: str
    rows: int
    columns: int
    size_bytes: int
    seconds: dict[str, float] = field(default_factory=dict)
    parts: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "rows": self.rows,
            "columns": self.columns,
            "size_bytes": self.size_bytes,
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            "parts": self.parts,
        }


# ----------------------------------------------------------------------------- parts
def part_keys(space: CompressionSpace, version: str) -> list[Column]:
    from hwbench.compress.bases import pinned_bases

    sp = space
    n = sp.size
    idx = np.arange(n, dtype=np.int64)
    # the nine digits of every configuration (mixed radix, first most significant)
    digits = np.empty((n, 9), dtype=np.int64)
    rest = idx.copy()
    for k, r in reversed(list(enumerate(sp.radices))):
        digits[:, k] = rest % r
        rest //= r
    widths = np.round(np.asarray(sp.widths) * 100).astype(np.int64)
    bits = np.asarray(sp.bits, dtype=np.int64)
    bases = pinned_bases()
    nr = len(ROLES)
    attrs = {
        "source": "analytic",
        "tool": "hwbench.compress.space",
        "tool_version": version,
        "device": "none",
        "protocol": {"space": {"name": sp.name, "bits": list(sp.bits), "widths": list(sp.widths)}},
    }

    def tile(v: np.ndarray) -> np.ndarray:
        return np.tile(v, nr)

    roles_desc = ", ".join(
        f"{k} = {r} (nb201 index {bases[r].index}, {bases[r].arch})" for k, r in enumerate(ROLES)
    )
    cols = [
        Column(
            "key/base_role",
            np.repeat(np.arange(nr, dtype=np.int64), n),
            {**attrs, "unit": "index", "description": f"base network of the row: {roles_desc}"},
        ),
        Column(
            "key/base_nb201_index",
            np.repeat(np.array([bases[r].index for r in ROLES], dtype=np.int64), n),
            {
                **attrs,
                "unit": "index",
                "description": "hwbench nb201 index of the base cell (fashion-mnist macro "
                "C=8, N=1; pinned selection, docs/compression.md section 1)",
            },
        ),
        Column(
            "key/config_index",
            tile(idx),
            {
                **attrs,
                "unit": "index",
                "description": f"index of the configuration "
                f"in compression space {sp.name!r} (mixed radix of m1 m2 m3 w1 w2 w3 a1 a2 a3, first most "
                f"significant); row = base_role * {n} + config_index",
            },
        ),
    ]
    for s in range(3):
        cols.append(
            Column(
                f"key/m{s + 1}_pct",
                tile(widths[digits[:, s]]),
                {
                    **attrs,
                    "unit": "%",
                    "description": f"channel width multiplier of stage {s + 1} (structured pruning)",
                },
            )
        )
    for s in range(3):
        cols.append(
            Column(
                f"key/w{s + 1}_bits",
                tile(bits[digits[:, 3 + s]]),
                {**attrs, "unit": "bits", "description": f"weight bit-width of stage {s + 1} (32 = float)"},
            )
        )
    for s in range(3):
        cols.append(
            Column(
                f"key/a{s + 1}_bits",
                tile(bits[digits[:, 6 + s]]),
                {
                    **attrs,
                    "unit": "bits",
                    "description": f"activation (conv / linear input) bit-width of stage {s + 1} (32 = float)",
                },
            )
        )
    all8 = np.all(bits[digits[:, 3:]] == 8, axis=1).astype(np.int64)
    cols.append(
        Column(
            "key/all_int8",
            tile(all8),
            {
                **attrs,
                "unit": "bool (0/1)",
                "description": "1 if every stage "
                "is w8/a8: the configurations the int8 TVM campaign compiles and measures",
            },
        )
    )
    return cols


def part_trained(space: CompressionSpace, store_dir: Path, seed: int = 0) -> tuple[list[Column], str, float]:
    """Accuracy columns from the merged accuracy-campaign shards; (columns, note, CPU seconds)."""
    from hwbench.campaign import merge
    from hwbench.compress.accuracy import protocol as acc_protocol
    from hwbench.compress.campaign import campaign_name
    from hwbench.compress.tasks import campaign_command

    sp = space
    n, nb, nr = sp.size, sp.n_bit_choices, len(ROLES)
    name = campaign_name(sp.name, seed)
    root = store_dir / name
    keys = (
        "test_accuracy_pct",
        "float_test_accuracy_pct",
        "finetune_train_accuracy_pct",
        "finetune_time_s",
        "block_time_s",
    )
    vals = {k: np.full(nr * n, np.nan) for k in keys}
    cmd = campaign_command(sp.name, (), store_dir)
    man = json.loads((root / "campaign.json").read_text()) if (root / "campaign.json").is_file() else {}
    shard = first_shard(root)
    proto = dict(man.get("protocol") or acc_protocol(sp))
    blocks = {r: 0 for r in ROLES}
    cpu = 0.0
    if shard:
        merged = merge(name, store_dir)
        for k in range(len(merged["shard"])):
            role = str(merged["base"][k])
            if role not in ROLES:
                continue
            start = int(merged["index_start"][k])
            acc = np.asarray(merged["test_acc"][k], dtype=np.float64).reshape(-1)
            if acc.shape[0] != nb or start % nb or not 0 <= start < n:
                from hwbench.campaign import CampaignShardError

                raise CampaignShardError(
                    f"campaign {name!r} under {store_dir}: malformed result for base {role} "
                    f"block at {start} ({acc.shape[0]} values, expected {nb})"
                )
            sl = slice(ROLES.index(role) * n + start, ROLES.index(role) * n + start + nb)
            vals["test_accuracy_pct"][sl] = 100.0 * acc
            vals["float_test_accuracy_pct"][sl] = 100.0 * float(merged["float_test_acc"][k])
            vals["finetune_train_accuracy_pct"][sl] = 100.0 * float(merged["finetune_train_acc"][k])
            vals["finetune_time_s"][sl] = float(merged["finetune_cpu_s"][k])
            vals["block_time_s"][sl] = float(merged["cpu_time_s"][k])
            cpu += float(merged["cpu_time_s"][k])
            blocks[role] += 1
        note = (
            f"{sum(blocks.values())} of {nr * sp.n_width_choices} pruning blocks from {root} ("
            + ", ".join(f"{r} {b}/{sp.n_width_choices}" for r, b in blocks.items())
            + "); missing blocks NaN"
            + ("" if sum(blocks.values()) == nr * sp.n_width_choices else f"; resume with `{cmd}`")
        )
    else:
        note = f"no accuracy campaign shard under {root}: accuracy columns are NaN; build them with `{cmd}`"
        proto["note"] = "campaign not run when this table was built: every value is NaN"
    tv = shard.get("tool_versions", {}) if shard else {}
    base = {
        "source": "trained",
        "tool": "hwbench.compress (PyTorch; prune + fine-tune, PTQ fake quantization)",
        "tool_version": str(tv.get("torch", "not run")),
        "device": "CPU, 1 thread per item: " + (hosts_summary(shard) if shard else "not run yet"),
        "protocol": proto,
    }
    test_n = proto.get("test_limit") or 10000
    cols = [
        Column(
            f"{CONFIG}/compress/test_accuracy_pct",
            vals["test_accuracy_pct"],
            {
                **base,
                "unit": "%",
                "description": f"test accuracy of the compressed network (first {test_n} official Fashion-MNIST test "
                f"images): pruned + fine-tuned, then post-training fake-quantized at the row's bit-widths; campaign "
                f"{name!r}; NaN where the block is not in the shards",
            },
        ),
        Column(
            f"{CONFIG}/compress/float_test_accuracy_pct",
            vals["float_test_accuracy_pct"],
            {
                **base,
                "unit": "%",
                "description": "test accuracy of the pruned (and fine-tuned) float network of the row's width block, "
                "before quantization (the base network itself at full width); same for every row of the block",
            },
        ),
        Column(
            f"{CONFIG}/compress/finetune_train_accuracy_pct",
            vals["finetune_train_accuracy_pct"],
            {
                **base,
                "unit": "%",
                "description": "training accuracy of the fine-tune of the row's width block "
                "(running value over its last epoch); NaN at full width (no pruning, no fine-tune) and where missing",
            },
        ),
        Column(
            f"{CONFIG}/compress/finetune_time_s",
            vals["finetune_time_s"],
            {
                **base,
                "unit": "s",
                "description": "CPU time (1 thread) of the row's width block up to the end of its fine-tune (load, "
                "prune, BN recalibration, fine-tune); shared by every row of the block",
            },
        ),
        Column(
            f"{CONFIG}/compress/block_time_s",
            vals["block_time_s"],
            {
                **base,
                "unit": "s",
                "description": f"CPU time (1 thread) of the whole campaign item of the row's width block (fine-tune + "
                f"evaluation of its {nb} bit-width choices); shared by every row of the block",
            },
        ),
    ]
    return cols, note, cpu


def part_costs(
    space: CompressionSpace, cost_cache: Path | None, version: str, progress: bool = True
) -> list[Column]:
    """``<config>/model/*`` (analytic) and ``<config>/<device>/*`` (simulated) for the MCU and the FPGA."""
    from tqdm.auto import tqdm

    from hwbench.compress.tasks import MODEL_METRICS, cost_columns, device_metrics
    from simulators.devices import get_device

    sp = space
    per: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    for dev in (MCU, FPGA):
        per[dev] = {}
        for role in tqdm(ROLES, desc=f"costs {sp.name} {dev}", disable=not progress):
            per[dev][role] = cost_columns(sp.name, role, dev, cost_cache)
    graph = (
        "compressed_graph: the analytic nb201 graph with pruned channel counts, per-stage weight bits, "
        "conv/linear inputs at their activation bits, other tensors float (docs/compression.md section 4)"
    )
    cols = []
    for m in MODEL_METRICS:
        v = _as_int_if_exact(np.concatenate([per[MCU][r][m] for r in ROLES]))
        cols.append(
            Column(
                f"{CONFIG}/model/{m}",
                v,
                {
                    "unit": UNITS[m],
                    "source": "analytic",
                    "tool": "hwbench.compress.cost (layer-graph IR)",
                    "tool_version": version,
                    "device": "none",
                    "protocol": {"batch": 1, "graph": graph, "macro": CONFIG},
                    "description": COST_DESCRIPTIONS[m],
                },
            )
        )
    for dev in (MCU, FPGA):
        spec = get_device(dev)
        model = (
            "simulators.mcu.estimate(layer_bits='graph')"
            if dev == MCU
            else "simulators.fpga.simulate_fpga(layer_bits='graph')"
        )
        for m in device_metrics(dev):
            v = _as_int_if_exact(np.concatenate([per[dev][r][m] for r in ROLES]))
            cols.append(
                Column(
                    f"{CONFIG}/{dev}/{m}",
                    v,
                    {
                        "unit": UNITS.get(m, ""),
                        "source": "simulated",
                        "tool": f"hwbench.simulators ({spec.family} model: {model})",
                        "tool_version": version,
                        "device": json.dumps(spec.to_dict()),
                        "protocol": {"batch": 1, "layer_bits": "graph", "graph": graph},
                        "description": f"{COST_DESCRIPTIONS.get(m, m)} on {dev} (simulated, bit-width-aware; model, assumptions "
                        "and validation in docs/compression.md section 4 and docs/targets.md)",
                    },
                )
            )
    return cols


#: measured columns: (result key, column metric, unit, description, iqr key)
_MEASURED: tuple[tuple[str, str, str, str, str | None], ...] = (
    (
        "int8_latency_ms",
        "int8_latency_ms",
        "ms",
        "median latency of the TVM-compiled int8 network",
        "int8_latency_iqr_ms",
    ),
    ("int8_latency_cv", "int8_latency_cv", "1", "coefficient of variation of the int8 timed repeats", None),
    (
        "int8_latency_stable",
        "int8_latency_stable",
        "bool (0/1)",
        "1 if the int8 CV met the protocol's bound",
        None,
    ),
    (
        "fp32_latency_ms",
        "fp32_latency_ms",
        "ms",
        (
            "median latency of the fp32 counterpart (the same pruned network "
            "unquantized, compiled by the same passes)"
        ),
        "fp32_latency_iqr_ms",
    ),
    ("fp32_latency_cv", "fp32_latency_cv", "1", "coefficient of variation of the fp32 timed repeats", None),
    (
        "fp32_latency_stable",
        "fp32_latency_stable",
        "bool (0/1)",
        "1 if the fp32 CV met the protocol's bound",
        None,
    ),
    (
        "int8_fp32_latency_ratio",
        "int8_fp32_latency_ratio",
        "1",
        "int8 latency / fp32 latency (untuned TVM)",
        None,
    ),
    (
        "int8_param_bytes",
        "int8_param_bytes",
        "bytes",
        (
            "bytes of the compiled int8 module's constants (int8 weights, "
            "float32 per-channel scales and biases)"
        ),
        None,
    ),
    ("fp32_param_bytes", "fp32_param_bytes", "bytes", "bytes of the compiled fp32 module's constants", None),
    (
        "int8_planned_activation_bytes",
        "int8_planned_activation_bytes",
        "bytes",
        (
            "storage TVM's static planner "
            "allocates for the int8 network's intermediate tensors (kernel workspaces excluded)"
        ),
        None,
    ),
    (
        "fp32_planned_activation_bytes",
        "fp32_planned_activation_bytes",
        "bytes",
        (
            "storage TVM's static planner "
            "allocates for the fp32 network's intermediate tensors (kernel workspaces excluded)"
        ),
        None,
    ),
    (
        "int8_check_same_argmax",
        "int8_check_same_argmax",
        "fraction",
        (
            "fraction of the check images on which the "
            "compiled int8 network and the torch fake-quant network predict the same class"
        ),
        None,
    ),
    (
        "int8_check_max_abs_err",
        "int8_check_max_abs_err",
        "logit",
        ("largest |TVM int8 - torch fake-quant| logit difference on the check images"),
        None,
    ),
    (
        "fp32_check_max_abs_err",
        "fp32_check_max_abs_err",
        "logit",
        ("largest |TVM fp32 - torch float| logit difference on the check images"),
        None,
    ),
)

UNSUPPORTED = (
    "NaN for configurations that are not all-int8 (key/all_int8 = 0): TVM 0.27's Relax CPU pipeline has "
    "no sub-byte (2/4-bit) conv kernels, and weight- or activation-only quantization (w8+a32, w32+a8) "
    "would be a float kernel on dequantized values, so they are not compiled; also NaN where the int8 "
    "TVM campaign has not measured the row yet"
)


def part_measured(space: CompressionSpace, store_dir: Path) -> tuple[list[Column], str, float]:
    """Measured int8 / fp32 TVM columns from the int8 TVM campaign shards; (columns, note, seconds)."""
    from hwbench.campaign import merge
    from hwbench.compress.tvm_campaign import int8_configs, tvm_campaign_name

    sp = space
    n, nr = sp.size, len(ROLES)
    name = tvm_campaign_name(sp.name)
    root = store_dir / name
    shard = first_shard(root)
    vals = {key: np.full(nr * n, np.nan) for key, *_ in _MEASURED}
    iqrs = {iq: np.full(nr * n, np.nan) for *_, iq in _MEASURED if iq}
    seconds = 0.0
    n_int8 = nr * len(int8_configs(sp))
    if shard:
        merged = merge(name, store_dir)
        done = 0
        for k in range(len(merged["shard"])):
            role = str(merged["base"][k])
            if role not in ROLES:
                continue
            row = ROLES.index(role) * n + sp.index(str(merged["config"][k]))
            for key, *_rest, iq in _MEASURED:
                if key in merged:
                    vals[key][row] = float(merged[key][k])
                if iq and iq in merged:
                    iqrs[iq][row] = float(merged[iq][k])
            done += 1
        for p in sorted(root.glob("shard-*.json")):
            seconds += float(sum(json.loads(p.read_text()).get("seconds_of_item", [])))
        note = f"{done} of {n_int8} all-int8 configurations measured ({root})"
        proto = dict(shard.get("protocol", {}))
        device = f"cpu-host: {hosts_summary(shard)}"
        tool_version = str(proto.get("apache-tvm", shard.get("tool_versions", {}).get("apache-tvm", "?")))
    else:
        note = (
            f"no int8 TVM campaign shard under {root}: measured columns are NaN; run "
            f"`hwbench compress tvm-campaign --space {sp.name}` on a quiet machine"
            if n_int8
            else f"space {sp.name!r} has no all-int8 configuration: measured columns are NaN"
        )
        proto = {"note": "int8 TVM campaign not run when this table was built: every value is NaN"}
        device = "cpu-host (not measured yet)"
        tool_version = "not run"
    base = {
        "source": "measured",
        "tool": "Apache TVM (Relax, tvm.compile, untuned) + hwbench.compress.tvm_int8",
        "tool_version": tool_version,
        "device": device,
        "protocol": proto,
    }
    cols = []
    for key, metric, unit, desc, iq in _MEASURED:
        cols.append(
            Column(
                f"{CONFIG}/cpu-host/{metric}",
                vals[key],
                {**base, "unit": unit, "description": f"{desc}; batch 1. {UNSUPPORTED}"},
                iqr=iqrs[iq] if iq else None,
            )
        )
    return cols, note, seconds


# ----------------------------------------------------------------------------- build
def build_compress_table(
    space: str = "mpq-prune-small",
    out_dir: str | os.PathLike[str] | None = None,
    *,
    store_dir: str | os.PathLike[str] | None = None,
    cost_cache: str | os.PathLike[str] | None = None,
    seed: int = 0,
    progress: bool = True,
    version: str = "1",
    manifest: bool = True,
) -> CompressTableReport:
    """Build ``<out_dir>/compress-<space>.h5`` and its ``[[table]]`` entry in ``<out_dir>/manifest.toml``.

    Defaults (relative to the repository, like ``hwbench build nb201``): ``out_dir`` = ``datasets/``,
    ``store_dir`` = ``datasets/shards`` (accuracy and int8 TVM campaigns), ``cost_cache`` =
    ``datasets/compress/costs`` (the compression tasks' ``.npz`` cache, keyed by the cost model's source). Missing
    campaign shards give NaN columns and a note in the report (also logged).
    """
    from hwbench._version import __version__
    from hwbench.recipes import DATASETS, REPO
    from hwbench.table import TableWriter, sha256_file, update_manifest_entry

    sp = get_space(space)
    out = Path(out_dir) if out_dir is not None else DATASETS
    store = Path(store_dir) if store_dir is not None else REPO / "datasets" / "shards"
    cache = (REPO / "datasets" / "compress" / "costs") if cost_cache is None else Path(cost_cache)
    notes: dict[str, str] = {}
    t0 = time.perf_counter()
    cols = part_keys(sp, __version__)
    notes["keys"] = f"{len(cols)} columns"
    t1 = time.perf_counter()
    tr, notes["trained"], acc_cpu = part_trained(sp, store, seed)
    cols += tr
    t2 = time.perf_counter()
    costs = part_costs(sp, cache, __version__, progress)
    cols += costs
    notes["costs"] = f"{len(costs)} analytic + simulated ({MCU}, {FPGA}) columns (cost cache {cache})"
    t3 = time.perf_counter()
    ms, notes["measured"], tvm_s = part_measured(sp, store)
    cols += ms
    t4 = time.perf_counter()
    seconds = {"keys": t1 - t0, "trained": t2 - t1, "costs": t3 - t2, "measured": t4 - t3}
    for part in ("trained", "measured"):
        if notes[part].startswith("no "):
            log.warning("compression table %s: %s", sp.name, notes[part])
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{table_name(sp.name)}.h5"
    n_rows = len(ROLES) * sp.size
    with TableWriter(path, space=table_space(sp.name)) as w:
        for c in cols:
            if len(c.values) != n_rows:
                raise ValueError(f"column {c.name} has {len(c.values)} rows, expected {n_rows}")
            w.add_column(c.name, c.values, iqr=c.iqr, **c.attrs)
    digest = sha256_file(path)
    if manifest:
        cpu_hours = (acc_cpu + tvm_s) / 3600 if (acc_cpu or tvm_s) else math.nan
        entry = update_manifest_entry(
            out / "manifest.toml",
            path,
            name=table_name(sp.name),
            version=version,
            description=f"compression benchmark, space {sp.name} ({sp.size:,} configurations x {len(ROLES)} nb201 "
            f"base networks, Fashion-MNIST): trained accuracy, analytic, simulated MCU / FPGA and "
            f"measured int8 TVM CPU columns; see docs/compression.md and the per-column attributes",
            citation="hwbench (this project); base cells from Dong & Yang, NAS-Bench-201, ICLR 2020",
            built_with={"hwbench": __version__, "python": platform.python_version(), "numpy": np.__version__},
            cpu_hours=cpu_hours,
        )
        digest = entry.sha256
    return CompressTableReport(
        path=path,
        sha256=digest,
        rows=n_rows,
        columns=len(cols),
        size_bytes=path.stat().st_size,
        seconds=seconds,
        parts=notes,
    )


__all__ = [
    "CompressTableReport",
    "build_compress_table",
    "part_costs",
    "part_keys",
    "part_measured",
    "part_trained",
    "table_name",
    "table_space",
]
