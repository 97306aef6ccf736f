"""``hwbench measure``: compile, check and measure given cells now (spot checks).

    hwbench measure --config cifar10 --cells ARCH_OR_INDEX ... [--threads N] [--database DIR]
                    [--rpc HOST:PORT --key KEY] [--target host|generic|cuda|JSON] [--frameworks tvm,torch,onnxruntime]
                    [--format table|json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from hwbench.cli import CLIUsageError, Command, add_format_argument, emit

_TABLE = ("index", "config", "protocol", "latency_ms", "latency_iqr_ms", "latency_cv", "latency_stable",
          "planned_activation_bytes", "param_bytes", "torch_latency_ms", "onnxruntime_latency_ms")


def parse_target(text: str, cuda_arch: str = "sm_87") -> dict[str, Any]:
    """``host`` / ``generic`` (host features, no ``mcpu``) / ``cuda`` / a JSON target dict."""
    from hwbench.measure.compile import cuda_target, host_target

    if text == "host":
        return host_target()
    if text == "generic":
        return host_target(mcpu=None)
    if text == "cuda":
        return cuda_target(cuda_arch)
    try:
        t = json.loads(text)
    except ValueError:
        t = None
    if not isinstance(t, dict) or "kind" not in t:
        raise CLIUsageError(f"--target {text!r}: expected host, generic, cuda or a JSON target dict with a 'kind'")
    return t


class MeasureCommand(Command):
    name = "measure"
    help = "compile (TVM), check and measure cells now: latency, dispersion, planned memory"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--config", default="cifar10", help="input configuration (cifar10, fashion-mnist ...)")
        cells = parser.add_mutually_exclusive_group(required=True)
        cells.add_argument("--cells", nargs="+", metavar="ARCH", help="architecture strings or indices")
        cells.add_argument("--sample", type=int, metavar="N",
                           help="N connected non-isomorphic cells drawn at random (--seed), e.g. for the ratio report")
        parser.add_argument("--seed", type=int, default=0, help="seed of --sample")
        parser.add_argument("--threads", type=int, default=1, help="runtime threads (0 = all cores); default 1")
        parser.add_argument("--repeats", type=int, default=15, help="timed repeats")
        parser.add_argument("--min-repeat-ms", type=float, default=50.0, help="minimum duration of one repeat")
        parser.add_argument("--frameworks", default="tvm",
                            help="comma list of tvm, torch, onnxruntime (same protocol each)")
        parser.add_argument("--database", metavar="DIR", help="MetaSchedule tuning database (workloads.json, records.json)")
        parser.add_argument("--target", default="host", help="host (default), generic, cuda or a JSON target dict")
        parser.add_argument("--cuda-arch", default="sm_87", help="CUDA arch for --target cuda")
        parser.add_argument("--rpc", metavar="HOST:PORT", help="measure on a device of the TVM RPC tracker at HOST:PORT")
        parser.add_argument("--key", help="device key registered with the tracker (with --rpc)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar (shown for 2+ cells)")
        add_format_argument(parser)

    def run(self, args: argparse.Namespace) -> int:
        from hwbench.measure.protocol import FRAMEWORKS, MeasureError, Protocol
        from hwbench.measure.run import measure_cells

        frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
        bad = [f for f in frameworks if f not in FRAMEWORKS]
        if bad or not frameworks:
            raise CLIUsageError(f"--frameworks {args.frameworks!r}: choose from {', '.join(FRAMEWORKS)}")
        if (args.rpc is None) != (args.key is None):
            raise CLIUsageError("--rpc HOST:PORT and --key KEY go together")
        try:
            protocol = Protocol(threads=args.threads, repeats=args.repeats, min_repeat_ms=args.min_repeat_ms)
        except MeasureError as exc:
            raise CLIUsageError(str(exc)) from None
        target = parse_target(args.target, args.cuda_arch)
        if args.rpc and frameworks != ["tvm"]:
            raise CLIUsageError("--rpc measures TVM only (--frameworks tvm)")
        if args.sample is not None:
            if args.sample < 1:
                raise CLIUsageError(f"--sample {args.sample}: expected >= 1")
            args.cells = sample_cells(args.sample, args.seed)
        rows = measure_cells(args.cells, args.config, protocol=protocol, target=target, database=args.database,
                             frameworks=frameworks, rpc=args.rpc, key=args.key,
                             progress=len(args.cells) > 1 and not args.no_progress)
        if args.format == "json":
            emit(rows, "json")
        else:
            emit(rows, "table", columns=[c for c in _TABLE if any(c in r for r in rows)])
        return 0


def sample_cells(n: int, seed: int = 0) -> list[int]:
    """``n`` connected representatives (non-isomorphic cells) drawn without replacement, in draw order."""
    import numpy as np

    from hwbench.spaces.nb201 import SPACE, is_connected

    reps = [int(i) for i in SPACE.representatives if is_connected(SPACE.parse(SPACE.arch_str(int(i))))]
    if n > len(reps):
        raise CLIUsageError(f"--sample {n}: only {len(reps)} connected non-isomorphic cells")
    return [reps[int(k)] for k in np.random.default_rng(seed).choice(len(reps), n, replace=False)]


# ----------------------------------------------------------------------------- hwbench campaign measure
def add_campaign_measure_parser(sub: Any) -> None:
    """The ``tune``, ``compile``, ``measure`` and ``measure-report`` subcommands of ``hwbench campaign``."""
    c = sub.add_parser("compile", help="phase 1: compile + check every non-isomorphic nb201 cell with TVM, in "
                                       "parallel, keeping memory columns in shards and libraries in a local cache")
    m = sub.add_parser("measure", help="phase 2: measure every non-isomorphic nb201 cell (cached libraries when "
                                       "the compile phase ran; resumes where it stopped)")
    t = sub.add_parser("tune", help="phase 0: tune every distinct TVM workload of a config once with MetaSchedule "
                                    "(resumes at the next unfinished workload)")
    t.add_argument("--config", default="cifar10", help="input configuration (cifar10, fashion-mnist ...)")
    t.add_argument("--database", metavar="DIR",
                   help="database folder (default datasets/tuning/<config>-<target hash>)")
    t.add_argument("--target", default="host", help="host (default), generic or a JSON llvm target dict")
    t.add_argument("--trials", type=int, default=200, help="trials per convolution / matmul workload")
    t.add_argument("--trials-other", type=int, default=32, help="trials per other workload (pools, element-wise)")
    t.add_argument("--trials-per-iter", type=int, default=64,
                   help="candidates measured per search round (default 64: on this host one evolutionary "
                        "search round costs ~3.5 min, building and timing 16 candidates ~11 s)")
    t.add_argument("--workers", type=int, default=2, help="MetaSchedule builder processes")
    t.add_argument("--limit", type=int, help="stop after N workloads tuned in this call")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    r = sub.add_parser("measure-report", help="figures of the TVM compile/measure campaigns: coverage, spread, CV, "
                                              "rank correlation with MACs/FLOPs, planned vs analytic memory")
    r.add_argument("--config", default="cifar10", help="input configuration (cifar10, fashion-mnist ...)")
    r.add_argument("--protocol", default="1-thread", choices=("1-thread", "all-cores"), help="measure protocol")
    r.add_argument("--untuned", action="store_true", help="report the untuned campaigns instead")
    r.add_argument("--ratios", metavar="JSON", help="output of `hwbench measure --frameworks tvm,torch,onnxruntime "
                                                   "--format json`: TVM / ORT / eager ratios")
    r.add_argument("--untuned-json", metavar="JSON",
                   help="output of `hwbench measure --format json` without --database on the cells of --ratios: "
                        "speed-up of tuning")
    r.add_argument("--versus", metavar="JSON",
                   help="output of `hwbench measure --format json` measuring the cells of --ratios another way "
                        "(e.g. --target generic, --threads 0): its TVM latency over theirs")
    r.add_argument("--repeat", metavar="JSON", help="output of `hwbench measure --format json` re-measuring cells "
                                                   "of the campaign in a fresh process: repeatability")
    r.add_argument("--store-dir", default="datasets/shards", help="folder of campaign shards")
    add_format_argument(r)
    for p in (c, m):
        p.add_argument("--config", default="cifar10", help="input configuration (cifar10, fashion-mnist ...)")
        p.add_argument("--database", metavar="DIR", help="MetaSchedule tuning database to compile against")
        p.add_argument("--target", default="host", help="host (default), generic or a JSON llvm target dict")
        p.add_argument("--cache", metavar="DIR",
                       help="compiled-library cache (default $HWBENCH_COMPILE_CACHE or ~/.cache/hwbench/compiled)")
        p.add_argument("--dask", metavar="ADDRESS", help="run on this dask.distributed scheduler instead")
        p.add_argument("--limit", type=int, help="stop after about N more cells (rounded up to whole shards)")
        p.add_argument("--store-dir", default="datasets/shards", help="folder of campaign shards")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
    c.add_argument("--workers", type=int, default=2, help="local worker processes (default 2)")
    m.add_argument("--workers", type=int, default=1,
                   help="local worker processes (default 1: parallel measurements disturb each other)")
    m.add_argument("--threads", type=int, default=1, help="runtime threads per measurement (0 = all cores)")
    m.add_argument("--frameworks", default="tvm", help="comma list of tvm, torch, onnxruntime")


def default_database_dir(config: str, target: dict[str, Any]) -> Path:
    from hwbench.measure.compile import cache_key

    return Path("datasets") / "tuning" / f"{config}-{cache_key(target, None).split('-')[0]}"


def run_campaign_tune(args: argparse.Namespace) -> int:
    from hwbench.measure.tuning import tune_campaign
    from hwbench.spaces.nb201 import get_config

    get_config(args.config)
    for flag in ("trials", "trials_other", "trials_per_iter", "workers"):
        if getattr(args, flag) < 1:
            raise CLIUsageError(f"--{flag.replace('_', '-')} {getattr(args, flag)}: expected >= 1")
    target = parse_target(args.target)
    if target.get("kind") != "llvm":
        raise CLIUsageError(f"--target {args.target!r}: tuning measures on this CPU (llvm targets only)")
    work_dir = Path(args.database) if args.database else default_database_dir(args.config, target)
    state = tune_campaign(args.config, work_dir, target=target, trials=args.trials, trials_other=args.trials_other,
                          trials_per_iter=args.trials_per_iter, workers=args.workers, limit=args.limit,
                          progress=not args.no_progress)
    n = len(state["workloads"])
    print(f"tuning {args.config}: {n}/{state['n_workloads']} workloads tuned, "
          f"{state.get('seconds', 0.0) / 3600:.2f} h of tuning, database {work_dir}")
    return 0


def _read_records(path: str, flag: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise CLIUsageError(f"{flag} {path}: cannot read JSON records ({exc})") from None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise CLIUsageError(f"{flag} {path}: expected a JSON list of records (hwbench measure --format json)")
    return data


def run_measure_report(args: argparse.Namespace) -> int:
    from hwbench.errors import HwbenchError
    from hwbench.measure.campaign import (
        campaign_latencies,
        campaign_report,
        framework_ratios,
        paired_latency,
        repeatability,
        tuning_speedup,
    )
    from hwbench.spaces.nb201 import get_config

    get_config(args.config)
    rep = campaign_report(args.config, args.store_dir, args.protocol, tuned=not args.untuned)
    ratios = _read_records(args.ratios, "--ratios") if args.ratios else None
    if ratios is not None:
        rep["ratios"] = framework_ratios(ratios)
    if args.untuned_json:
        if ratios is None:
            raise CLIUsageError("--untuned-json compares with the tuned cells of --ratios: give both")
        try:
            rep["tuning_speedup"] = tuning_speedup(ratios, _read_records(args.untuned_json, "--untuned-json"))
        except HwbenchError as exc:
            raise CLIUsageError(str(exc)) from None
    if args.versus:
        if ratios is None:
            raise CLIUsageError("--versus compares with the cells of --ratios: give both")
        rep["versus"] = paired_latency(ratios, _read_records(args.versus, "--versus"))
    if args.repeat:
        again = {int(r["index"]): float(r["latency_ms"]) for r in _read_records(args.repeat, "--repeat")
                 if r.get("config") == args.config}
        rep["repeatability"] = repeatability(
            campaign_latencies(args.config, args.store_dir, args.protocol, tuned=not args.untuned), again)
    if args.format == "json":
        emit(rep, "json")
    else:
        flat: dict[str, Any] = {}

        def walk(prefix: str, v: Any) -> None:
            if isinstance(v, dict):
                for k, x in v.items():
                    walk(f"{prefix}.{k}" if prefix else str(k), x)
            else:
                flat[prefix] = v

        walk("", rep)
        emit(flat, "table")
    return 0


def run_campaign_measure(args: argparse.Namespace) -> int:
    import signal

    if args.campaign_command == "tune":
        return run_campaign_tune(args)
    if args.campaign_command == "measure-report":
        return run_measure_report(args)

    from hwbench.measure.protocol import FRAMEWORKS, MeasureError, Protocol
    from hwbench.measure.run import compile_campaign, measure_campaign

    compile_phase = args.campaign_command == "compile"
    frameworks = [f.strip() for f in getattr(args, "frameworks", "tvm").split(",") if f.strip()]
    if not frameworks or any(f not in FRAMEWORKS for f in frameworks):
        raise CLIUsageError(f"--frameworks {args.frameworks!r}: choose from {', '.join(FRAMEWORKS)}")
    if args.workers < 1:
        raise CLIUsageError(f"--workers {args.workers}: expected >= 1")
    if args.limit is not None and args.limit < 1:
        raise CLIUsageError(f"--limit {args.limit}: expected >= 1")
    try:
        protocol = Protocol(threads=getattr(args, "threads", 1))
    except MeasureError as exc:
        raise CLIUsageError(str(exc)) from None
    target = parse_target(args.target)
    if target.get("kind") != "llvm":
        raise CLIUsageError(f"--target {args.target!r}: the campaign measures on this CPU (llvm targets only)")

    def to_interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, to_interrupt)
    try:
        common = {"store_dir": args.store_dir, "target": target, "database": args.database, "cache": args.cache,
                  "executor": "dask" if args.dask else "local", "address": args.dask, "workers": args.workers,
                  "limit": args.limit, "progress": not args.no_progress}
        if args.database is not None:
            from hwbench.measure.tuning import load_database  # a clear error for a missing database

            load_database(args.database)
        if compile_phase:
            rep = compile_campaign(args.config, **common)
        else:
            rep = measure_campaign(args.config, protocol=protocol, frameworks=frameworks, **common)
    finally:
        signal.signal(signal.SIGTERM, previous)
    verb = "compiled" if compile_phase else "measured"
    print(f"campaign {rep.name}: {rep.shards_skipped + rep.shards_written}/{rep.shards} shards done "
          f"({rep.shards_written} written now, {rep.items_run} cells {verb} in {rep.seconds:.0f} s) under {rep.path}")
    return 0
