"""Shared MetaSchedule tuning: one schedule per distinct operator workload, reused by every cell.

* :func:`fused_module` — a cell's Relax module after legalisation and fusion (BN folded, ``none``
  removed: :func:`hwbench.measure.compile.deployed_model`), i.e. the TIR functions that the
  compiled cell runs.
* :func:`extract_workloads` — the distinct tunable workloads of many cells, deduplicated with
  MetaSchedule's own ``anchor-block`` module equality: two fused functions whose anchor block (the
  convolution, pooling or reduction that dominates them) is identical count once, whatever
  elementwise epilogue (bias, the cell's adds, a ReLU) is fused around it. With BN folded before
  export, a convolution shape has one anchor block in every cell of the space.
* :func:`tune` — MetaSchedule over the given workloads with a stated trial budget, the database
  written as two JSON-lines files (``workloads.json``, ``records.json``: the versioned artifact).
* :func:`load_database` — that database for :func:`hwbench.measure.compile.compile_cell`, whose
  ``MetaScheduleApplyDatabase`` then replaces the default schedule of every fused function whose
  anchor block was tuned (the anchor trace is replayed on the fused function).

Workarounds for apache-tvm 0.27.0.post1 on this machine (docs/measurement.md):

* ``apache-tvm-ffi`` must be 0.1.14.post1 (0.1.15.post2 segfaults in ``tvm.ir.save_json``, which
  every database write uses);
* the default builder function imports ``tvm.s_tir.tensor_intrin`` (27-75 s here) inside every
  builder worker, and ``LocalBuilder`` restarts its workers for every batch with a 30 s timeout, so
  no candidate ever builds. :func:`build_without_intrinsics` is the same build without that import
  (the candidates are already scheduled when they reach the builder; float32 schedules use no
  tensor intrinsics), and the builder gets a longer timeout anyway.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwbench.errors import HwbenchError

MODULE_EQUALITY = "anchor-block"
WORKLOADS_FILE = "workloads.json"
RECORDS_FILE = "records.json"


class TuningError(HwbenchError):
    """Tuning could not run as asked."""


def fused_module(arch: str | Sequence[int], config: str = "cifar10", target: Mapping[str, Any] | None = None) -> Any:
    """The cell's Relax module after legalisation + fusion (its PrimFuncs are the tunable workloads)."""
    import tvm

    from hwbench.measure.compile import (
        _apply,
        deployed_model,
        example_input,
        host_target,
        reference_model,
        to_relax,
    )
    from hwbench.spaces.nb201 import SPACE, get_config

    cfg = get_config(config)
    arch_s = SPACE.arch_str(arch)
    tgt = tvm.target.Target(dict(target) if target is not None else host_target())
    model = deployed_model(arch_s, cfg.name, reference=reference_model(arch_s, cfg.name))
    mod = to_relax(model, example_input(cfg.name))
    return _apply(_pre_tuning_passes(tgt), mod, tgt, None)


def _pre_tuning_passes(tgt: Any) -> list[Any]:
    from tvm import relax

    from hwbench.measure.compile import relax_passes

    passes = relax_passes(tgt, stage="planned")
    # stop after legalisation/fusion + DCE (before the dataflow lowering)
    names = [p.info.name for p in passes]
    k = names.index("DeadCodeElimination") + 1
    del relax
    return passes[:k]


@dataclass
class Workload:
    """One distinct tunable workload: its task (the representative fused function) and where it occurs."""

    name: str
    task: Any  # s_tir.meta_schedule.ExtractedTask
    shapes: str  # argument shapes of the first fused function seen (for reports)
    cells: list[str] = field(default_factory=list)
    calls: int = 0  # total calls over the given cells (the sum of task weights)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shapes": self.shapes, "cells": len(self.cells), "calls": self.calls}


def _describe(mod: Any) -> str:
    """The function's argument shapes, e.g. ``[1,16,32,32] [16,16,3,3] [1,16,1,1] -> [1,16,32,32]``."""
    from tvm import tirx

    for f in mod.functions.values():
        if isinstance(f, tirx.PrimFunc):
            shapes = []
            for p in f.params:
                shape = getattr(p, "shape", None)
                if shape is None:  # a handle Var: its buffer is in the buffer map (older TIR)
                    bmap = getattr(f, "buffer_map", {})
                    shape = bmap[p].shape if p in bmap else None
                if shape is not None:
                    shapes.append("[" + ",".join(str(int(x)) for x in shape) + "]")
            return " ".join(shapes[:-1]) + " -> " + shapes[-1] if shapes else "?"
    return "?"


REPRESENTATIVES = ("first", "simplest")


def _fused_ops(task_name: str) -> int:
    """How many ops a fused function holds, from its name (``fused_conv2d2_add2_add3_relu1`` -> 4)."""
    return len(task_name.split("_")) - (1 if task_name.startswith("fused_") else 0)


def extract_workloads(archs: Sequence[str | Sequence[int]], config: str = "cifar10",
                      target: Mapping[str, Any] | None = None, representative: str = "simplest") -> list[Workload]:
    """Distinct tunable workloads (``anchor-block`` equality) over ``archs``, in first-seen order.

    A workload is tuned on one of the fused functions that share its anchor block, its
    ``representative``: ``"simplest"`` (default) the one with the fewest fused ops, ``"first"`` the
    first one seen (the rule of the first cifar10 campaign). The tuned anchor trace is replayed on every
    other one either way; but the search's cost (feature extraction of every candidate, hence one
    evolutionary round) grows with the fused epilogue: on cifar10 the stage-2 3x3 conv tuned on its
    first-seen variant, a conv with 17 fused adds, took 1,439 s for 200 trials, the stage-1 one tuned
    on ``conv + add`` 114 s.
    """
    if representative not in REPRESENTATIVES:
        raise TuningError(f"representative {representative!r}: choose from {', '.join(REPRESENTATIVES)}")
    import tvm
    from tvm.s_tir import meta_schedule as ms

    from hwbench.measure.compile import host_target
    from hwbench.spaces.nb201 import SPACE

    tdict = dict(target) if target is not None else host_target()
    tgt = tvm.target.Target(tdict)
    db = ms.database.MemoryDatabase(module_equality=MODULE_EQUALITY)
    found: list[Workload] = []
    keys: list[Any] = []  # the committed workloads, aligned with ``found``
    for arch in archs:
        arch_s = SPACE.arch_str(arch)
        mod = fused_module(arch_s, config, tdict)
        for task in ms.relax_integration.extract_tasks(mod, tgt, module_equality=MODULE_EQUALITY):
            tmod = task.dispatched[0]
            if db.has_workload(tmod):
                wl = db.commit_workload(tmod)  # returns the stored equal one
                k = next(i for i, w in enumerate(keys) if w.same_as(wl))
                if representative == "simplest" and _fused_ops(task.task_name) < _fused_ops(found[k].task.task_name):
                    found[k] = Workload(name=f"w{k:03d}_{task.task_name}", task=task, shapes=_describe(tmod),
                                        cells=found[k].cells, calls=found[k].calls)
            else:
                keys.append(db.commit_workload(tmod))
                k = len(found)
                found.append(Workload(name=f"w{k:03d}_{task.task_name}", task=task, shapes=_describe(tmod)))
            if arch_s not in found[k].cells:
                found[k].cells.append(arch_s)
            found[k].calls += int(task.weight)
    return found


def covering_cells(n_random: int = 15, seed: int = 0) -> list[str]:
    """Cells for workload extraction: every op on every edge, mixed sums, and a seeded random sample.

    The four uniform cells (all skip / 1x1 / 3x3 / pool) and five mixed ones give 22 workloads per
    config; the random cells add the fused variants that only some sums produce (standalone adds of
    skip/pool branches): 25 for cifar10 and for fashion-mnist, measured with apache-tvm 0.27.
    """
    import numpy as np

    from hwbench.spaces.nb201 import OPS, SPACE, to_str

    cells = [to_str((o,) * 6) for o in range(1, len(OPS))]
    cells += [to_str(a) for a in ((3, 2, 4, 1, 3, 2), (2, 4, 3, 3, 1, 4), (4, 3, 1, 2, 4, 3), (3, 0, 2, 0, 4, 1),
                                   (0, 3, 0, 4, 0, 2))]
    rng = np.random.default_rng(seed)
    cells += [SPACE.arch_str(int(i)) for i in rng.choice(SPACE.size, n_random, replace=False)]
    return list(dict.fromkeys(cells))


# ----------------------------------------------------------------------------- tuning
def build_without_intrinsics(mod: Any, target: Any, _params: Any = None) -> Any:
    """MetaSchedule's default CPU build without ``import tvm.s_tir.tensor_intrin`` (see the module docstring)."""
    from tvm.driver import build as tvm_build
    from tvm.s_tir.transform import RemoveWeightLayoutRewriteBlock

    mod = RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(mod)
    return tvm_build(mod, target=target)


@dataclass
class TuneReport:
    work_dir: Path
    workloads: int
    trials: int  # records in the database
    seconds: float
    budget: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"work_dir": str(self.work_dir), "workloads": self.workloads, "trials": self.trials,
                "seconds": self.seconds, "budget": self.budget}


def database(work_dir: str | os.PathLike[str]) -> Any:
    """The JSON database under ``work_dir`` (created when absent), with anchor-block equality."""
    from tvm.s_tir import meta_schedule as ms

    d = Path(work_dir)
    d.mkdir(parents=True, exist_ok=True)
    return ms.database.JSONDatabase(path_workload=str(d / WORKLOADS_FILE), path_tuning_record=str(d / RECORDS_FILE),
                                    allow_missing=True, module_equality=MODULE_EQUALITY)


def load_database(work_dir: str | os.PathLike[str]) -> Any:
    """The tuning database saved by :func:`tune` (raises if it is missing)."""
    d = Path(work_dir)
    if not (d / WORKLOADS_FILE).is_file() or not (d / RECORDS_FILE).is_file():
        raise TuningError(f"no tuning database in {d} (expected {WORKLOADS_FILE} and {RECORDS_FILE})")
    return database(d)


def tune(workloads: Sequence[Workload], work_dir: str | os.PathLike[str], *,
         target: Mapping[str, Any] | None = None, trials_per_workload: int = 64, trials_per_iter: int = 16,
         builder_timeout_s: float = 300.0, runner_timeout_s: float = 120.0, workers: int | None = None,
         seed: int = 0, cost_model: str = "xgb", write_meta: bool = True) -> TuneReport:
    """Tune ``workloads`` with MetaSchedule (budget: ``trials_per_workload`` each); database under ``work_dir``.

    Re-running with the same ``work_dir`` continues from the records already there.
    """
    import tvm
    from tvm.s_tir import meta_schedule as ms

    from hwbench.measure.compile import host_target

    if not workloads:
        raise TuningError("no workloads to tune")
    tdict = dict(target) if target is not None else host_target()
    tgt = tvm.target.Target(tdict)
    d = Path(work_dir)
    db = database(d)
    extracted = [w.task for w in workloads]
    ctxs, weights = ms.relax_integration.extracted_tasks_to_tune_contexts(
        extracted, work_dir=str(d / "logs"), num_threads=int(tdict.get("num-cores", 1)), seed=seed)
    n_workers = workers or max(1, (os.cpu_count() or 1))
    builder = ms.builder.LocalBuilder(max_workers=n_workers, timeout_sec=builder_timeout_s,
                                      f_build=build_without_intrinsics)
    runner = ms.runner.LocalRunner(
        timeout_sec=runner_timeout_s,
        evaluator_config=ms.runner.EvaluatorConfig(number=3, repeat=1, min_repeat_ms=20, enable_cpu_cache_flush=False))
    t0 = time.perf_counter()
    ms.tune_tasks(tasks=ctxs, task_weights=weights, work_dir=str(d / "logs"),
                  max_trials_global=trials_per_workload * len(ctxs), max_trials_per_task=trials_per_workload,
                  num_trials_per_iter=trials_per_iter, builder=builder, runner=runner, database=db,
                  cost_model=cost_model, module_equality=MODULE_EQUALITY)
    seconds = time.perf_counter() - t0
    records = len(db.get_all_tuning_records())
    budget = {"trials_per_workload": trials_per_workload, "trials_per_iter": trials_per_iter, "cost_model": cost_model,
              "builder_timeout_s": builder_timeout_s, "workers": n_workers, "seed": seed, "target": tdict,
              "module_equality": MODULE_EQUALITY}
    if write_meta:
        meta = {"workloads": [w.to_dict() for w in workloads], "budget": budget, "seconds": seconds,
                "records": records, "target": json.dumps(tdict, sort_keys=True)}
        (d / "tuning.json").write_text(json.dumps(meta, indent=1))
    del tgt
    return TuneReport(work_dir=d, workloads=len(ctxs), trials=records, seconds=seconds, budget=budget)


# ----------------------------------------------------------------------------- the tuning campaign
CAMPAIGN_FILE = "campaign.json"
CAMPAIGN_FORMAT = "hwbench-tuning-campaign/1"


def workload_key(w: Workload) -> str:
    """Stable identity of a workload across runs: its task name and argument shapes."""
    return f"{w.task.task_name} {w.shapes}"


def is_compute_workload(w: Workload) -> bool:
    """Convolutions and matrix products (the workloads worth a large trial budget)."""
    name = w.task.task_name
    return any(k in name for k in ("conv2d", "matmul", "dense"))


def best_run_us(db: Any, w: Workload) -> float:
    """Best measured mean run time (µs) of ``w`` in ``db``; NaN when it holds no valid record."""
    import math

    tmod = w.task.dispatched[0]
    if not db.has_workload(tmod):
        return math.nan
    top = db.get_top_k(db.commit_workload(tmod), 1)
    if not top or not top[0].run_secs:
        return math.nan
    secs = [float(x) for x in top[0].run_secs]
    return 1e6 * sum(secs) / len(secs)


def tune_campaign(config: str, work_dir: str | os.PathLike[str], *, target: Mapping[str, Any] | None = None,
                  trials: int = 200, trials_other: int = 32, cells: Sequence[str] | None = None,
                  trials_per_iter: int = 16, workers: int | None = None, seed: int = 0, limit: int | None = None,
                  progress: bool = True, representative: str = "simplest") -> dict[str, Any]:
    """Tune every workload of ``config`` once, one workload at a time; resumable.

    Workloads come from :func:`extract_workloads` over ``cells`` (default :func:`covering_cells`).
    Convolutions and matmuls get ``trials`` trials, the others (pools, element-wise) ``trials_other``,
    ``trials_per_iter`` candidates per evolutionary-search round (recorded per workload: the search
    round, not the build or the timing, dominates the tuning time here). ``representative`` is the
    fused function each workload is tuned on (:func:`extract_workloads`); it is recorded in
    ``campaign.json`` and a resumed campaign keeps the one it started with (a state written before
    the choice existed used ``"first"``).
    After each workload ``<work_dir>/campaign.json`` records its budget, tuning seconds, records
    and best run time, so an interrupted campaign resumes at the next unfinished workload (the
    records of a workload cut short stay in the database and seed its next search). ``limit``
    stops after that many workloads were tuned in this call. Returns the campaign state.
    """
    import math

    from tqdm.auto import tqdm

    from hwbench.measure.compile import host_target

    if trials < 1 or trials_other < 1:
        raise TuningError(f"trial budgets must be >= 1 (trials={trials}, trials_other={trials_other})")
    tdict = dict(target) if target is not None else host_target()
    d = Path(work_dir)
    d.mkdir(parents=True, exist_ok=True)
    spath = d / CAMPAIGN_FILE
    tjson = json.dumps(tdict, sort_keys=True)
    if spath.is_file():
        state = json.loads(spath.read_text())
        if state.get("format") != CAMPAIGN_FORMAT:
            raise TuningError(f"{spath}: not a tuning campaign (format {state.get('format')!r})")
        if state["config"] != config or state["target"] != tjson:
            raise TuningError(f"{spath} was started for config {state['config']!r} and target {state['target']}; "
                              f"asked for {config!r} and {tjson}: use another folder")
        representative = state.setdefault("representative", "first")
    else:
        state = {"format": CAMPAIGN_FORMAT, "config": config, "target": tjson, "module_equality": MODULE_EQUALITY,
                 "representative": representative, "cells": None, "workloads": {}}
    cells = list(cells) if cells is not None else covering_cells()
    t0 = time.perf_counter()
    workloads = extract_workloads(cells, config, tdict, representative=representative)
    state["cells"] = len(cells)
    state["extract_seconds"] = time.perf_counter() - t0

    def budget_of(w: Workload) -> int:
        return trials if is_compute_workload(w) else trials_other

    def finished(w: Workload) -> bool:
        prev = state["workloads"].get(workload_key(w))
        return prev is not None and prev["budget"] >= budget_of(w)

    # the bar counts finished workloads from the start, so its rate and ETA are those of this run
    pending = [w for w in workloads if not finished(w)]
    bar = tqdm(total=len(workloads), initial=len(workloads) - len(pending), desc=f"tune {config}",
               unit="workload", disable=not progress)
    for done, w in enumerate(pending):
        if limit is not None and done >= limit:
            break
        key = workload_key(w)
        budget = budget_of(w)
        per_iter = min(trials_per_iter, budget)
        bar.set_postfix_str(key[:60])
        rep = tune([w], d, target=tdict, trials_per_workload=budget, trials_per_iter=per_iter,
                   workers=workers, seed=seed, write_meta=False)
        best = best_run_us(database(d), w)
        state["workloads"][key] = {"name": w.name, "budget": budget, "seconds": rep.seconds,
                                   "trials_per_iter": per_iter,
                                   "records_total": rep.trials, "best_us": None if math.isnan(best) else best,
                                   "calls": w.calls, "cells": len(w.cells), "compute": is_compute_workload(w)}
        state["seconds"] = sum(v["seconds"] for v in state["workloads"].values())
        tmp = spath.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
        os.replace(tmp, spath)
        bar.update(1)
    bar.close()
    state["complete"] = all(workload_key(w) in state["workloads"] for w in workloads)
    state["n_workloads"] = len(workloads)
    tmp = spath.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
    os.replace(tmp, spath)
    return state


def scheduled_functions(arch: str | Sequence[int], config: str, database: Any,
                        target: Mapping[str, Any] | None = None) -> dict[str, bool]:
    """Which fused functions of the cell get a schedule from ``database`` (name -> scheduled)."""
    import tvm
    from tvm import relax, tirx

    from hwbench.measure.compile import _apply, host_target

    tdict = dict(target) if target is not None else host_target()
    tgt = tvm.target.Target(tdict)
    mod = fused_module(arch, config, tdict)
    with tgt:
        apply_db = relax.transform.MetaScheduleApplyDatabase(enable_warning=False)
    out = _apply([apply_db], mod, tgt, database)
    # a function that the database scheduled is no longer the default (unscheduled) TIR
    from tvm_ffi import structural_equal

    return {gv.name_hint: not structural_equal(f, out[gv.name_hint])
            for gv, f in mod.functions.items() if isinstance(f, tirx.PrimFunc)}
