"""``hwbench proxies``: list, compute and report zero-cost proxies.

    hwbench proxies list [--format json]
    hwbench proxies compute --config fashion-mnist [--proxies a,b] [--source S] [--batch-size 64]
                            [--seed 0] [--limit N | --indices 0,5,9] [--workers 2] [--dask ADDR]
                            [--store-dir datasets/shards] [--out proxies-fashion-mnist.h5]
    hwbench proxies report --table FILE|NAME --config cifar10 [--accuracy COLUMN | --nats-csv CSV]
    hwbench proxies check --reference ../shared/reference [--cells 30] [--batch-size 16]
"""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.cli import CLIUsageError, Command, add_format_argument, emit

_NATS_COLUMNS = {"cifar10": "CIFAR10TestAccuracy200Epochs", "cifar100": "CIFAR100TestAccuracy200Epochs",
                 "imagenet16-120": "ImageNetTestAccuracy200Epochs"}


def _sigterm_to_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _names(text: str | None) -> list[str] | None:
    from hwbench.proxies import get_proxy

    if not text:
        return None
    names = [t.strip() for t in text.split(",") if t.strip()]
    for n in names:
        get_proxy(n)  # raises with the valid names
    return names


def nats_accuracy(csv: str | Path, config: str) -> np.ndarray:
    """NATS-Bench test accuracy (%) of ``config`` in hwbench index order, from a nats_tss-format CSV."""
    import pandas as pd

    from hwbench.spaces.nb201 import SIZE, SPACE

    if config not in _NATS_COLUMNS:
        raise CLIUsageError(
            f"NATS-Bench has no accuracy for config {config!r}; it has {', '.join(_NATS_COLUMNS)} "
            "(choose one with --nats-dataset)"
        )
    try:
        df = pd.read_csv(csv, usecols=["ArchitectureString", _NATS_COLUMNS[config]])
    except (OSError, ValueError) as exc:
        raise CLIUsageError(f"cannot read NATS-Bench CSV {csv}: {exc}") from None
    out = np.full(SIZE, np.nan)
    out[[SPACE.index(a) for a in df["ArchitectureString"]]] = df[_NATS_COLUMNS[config]].to_numpy(float)
    return out


def rank_rows(proxies: dict[str, np.ndarray], truth: np.ndarray) -> list[dict[str, Any]]:
    from hwbench.proxies.reference import rank_agreement

    rows = []
    for name, values in proxies.items():
        n, rho, tau = rank_agreement(values, truth)
        rows.append({"proxy": name, "n": n, "spearman": rho, "kendall_tau": tau})
    return sorted(rows, key=lambda r: -abs(r["spearman"]) if np.isfinite(r["spearman"]) else 0.0)


class ProxiesCommand(Command):
    name = "proxies"
    help = "zero-cost proxies: list, compute over the space, rank report, implementation check"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="proxies_command", metavar="SUBCOMMAND")
        ls = sub.add_parser("list", help="the registered proxies and what they need")
        add_format_argument(ls)
        c = sub.add_parser("compute", help="run (or resume) the proxy campaign of a config")
        c.add_argument("--config", default="fashion-mnist", help="nb201 config (fashion-mnist, cifar10, ...)")
        c.add_argument("--proxies", help="comma-separated proxy names (default: all on real data, the data-free "
                       "ones on gaussian inputs)")
        c.add_argument("--source", help="batch source: fashion-mnist or gaussian (default: per config, see docs)")
        c.add_argument("--batch-size", type=int, default=64)
        c.add_argument("--seed", type=int, default=0, help="model-init, batch and proxy seed")
        c.add_argument("--limit", type=int, help="stop after about N more cells (whole shards)")
        c.add_argument("--indices", help="comma-separated hwbench indices instead of the whole space")
        c.add_argument("--workers", type=int, default=2, help="local worker processes (1 torch thread each)")
        c.add_argument("--dask", metavar="ADDRESS", help="run on this dask.distributed scheduler instead")
        c.add_argument("--store-dir", default="datasets/shards", help="folder of campaign shards")
        c.add_argument("--out", type=Path, help="also write the finished results as a table file (.h5)")
        c.add_argument("--no-progress", action="store_true")
        add_format_argument(c)
        r = sub.add_parser("report", help="rank correlation of every proxy column with an accuracy")
        r.add_argument("--table", default="nb201", help="table name or .h5 file holding <config>/proxy/* columns")
        r.add_argument("--config", default="cifar10")
        r.add_argument("--accuracy", help="accuracy column (default <config>/nats-bench/test_accuracy_pct)")
        r.add_argument("--nats-csv", type=Path, help="read NATS-Bench accuracy from this CSV instead of the table")
        r.add_argument("--nats-dataset", choices=tuple(_NATS_COLUMNS), help="NATS-Bench dataset (default: --config)")
        add_format_argument(r)
        k = sub.add_parser("check", help="rank agreement with NASLib's and NASWOT's published CIFAR-10 scores")
        k.add_argument("--reference", type=Path, default=Path("..") / "shared" / "reference")
        k.add_argument("--cells", type=int, default=30)
        k.add_argument("--cell-seed", type=int, default=0)
        k.add_argument("--source", default="gaussian")
        k.add_argument("--batch-size", type=int, default=16)
        k.add_argument("--proxies", help="comma-separated (default: all with a reference)")
        add_format_argument(k)
        self._parser = parser

    def run(self, args: argparse.Namespace) -> int:
        cmd = args.proxies_command
        if cmd is None:
            self._parser.print_help()
            return 2
        return int(getattr(self, f"_{cmd}")(args))

    def _list(self, args: argparse.Namespace) -> int:
        from hwbench.proxies import default_registry

        rows = [{"name": i.name, "needs_data": i.needs_data, "needs_labels": i.needs_labels,
                 "batchnorm": i.batchnorm, "unit": i.unit, "description": i.description} for i in default_registry()]
        emit(rows, args.format, ["name", "needs_data", "needs_labels", "batchnorm", "unit"]
             if args.format == "table" else None)
        return 0

    def _compute(self, args: argparse.Namespace) -> int:
        import torch

        from hwbench.proxies import campaign as pc
        from hwbench.spaces.nb201 import SIZE, get_config

        get_config(args.config)
        torch.set_num_threads(1)
        if args.workers < 1 or args.batch_size < 2:
            raise CLIUsageError("--workers must be >= 1 and --batch-size >= 2")
        indices = None
        if args.indices:
            try:
                indices = [int(t) for t in args.indices.split(",")]
            except ValueError:
                raise CLIUsageError(f"--indices {args.indices!r}: expected comma-separated integers") from None
            bad = [i for i in indices if not 0 <= i < SIZE]
            if bad:
                raise CLIUsageError(f"--indices {bad}: expected 0..{SIZE - 1}")
        names = _names(args.proxies)
        source = args.source or pc.DEFAULT_SOURCE.get(args.config, "gaussian")
        name = pc.campaign_name(args.config, source, args.seed) + ("-subset" if indices else "")
        previous = signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
        try:
            rep = pc.run_proxy_campaign(
                args.config, names, source=source, batch_size=args.batch_size, seed=args.seed,
                store_dir=args.store_dir, executor="dask" if args.dask else "local", address=args.dask,
                workers=args.workers, limit=args.limit, indices=indices, progress=not args.no_progress, name=name,
            )
        finally:
            signal.signal(signal.SIGTERM, previous)
        out: dict[str, Any] = {"campaign": rep.name, "path": str(rep.path), "shards_done":
                               rep.shards_skipped + rep.shards_written, "shards": rep.shards,
                               "items_run": rep.items_run, "seconds": round(rep.seconds, 1)}
        if args.out:
            from hwbench.campaign import merge
            from hwbench.table import TableWriter

            cols = pc.to_columns(merge(rep.name, args.store_dir), args.config)
            with TableWriter(args.out) as w:
                pc.add_columns(w, cols, pc.protocol(args.config, names or pc.default_proxies(source), source,
                                                      args.batch_size, args.seed))
            out["table"] = str(args.out)
            out["columns"] = len(cols)
        emit(out, args.format)
        return 0

    def _report(self, args: argparse.Namespace) -> int:
        import hwbench.table as tbl

        t = tbl.load(args.table)
        cols = [c for c in t.list_metrics(f"{args.config}/proxy/*") if not c.endswith("_seconds")]
        if not cols:
            raise CLIUsageError(f"table {args.table} has no {args.config}/proxy/* columns; run `hwbench proxies compute`")
        if args.nats_csv:
            truth = nats_accuracy(args.nats_csv, args.nats_dataset or args.config)
        else:
            truth = t.column(args.accuracy or f"{args.config}/nats-bench/test_accuracy_pct")
        rows = rank_rows({c.rsplit("/", 1)[1]: t.column(c) for c in cols}, truth)
        emit(rows, args.format)
        return 0

    def _check(self, args: argparse.Namespace) -> int:
        import torch

        from hwbench.proxies.reference import agreement, as_rows

        torch.set_num_threads(1)
        res = agreement(args.reference, _names(args.proxies), n_cells=args.cells, cell_seed=args.cell_seed,
                        source=args.source, batch_size=args.batch_size, progress=True)
        emit(as_rows(res), args.format)
        return 0
