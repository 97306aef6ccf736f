"""``hwbench build``: rebuild a shipped table from its recipe (code + committed campaign shards)."""

from __future__ import annotations

import argparse
from pathlib import Path

from hwbench.cli import CLIUsageError, Command, add_format_argument, emit


class BuildCommand(Command):
    name = "build"
    help = "rebuild a table file and its manifest entry from its recipe (datasets/nb201.h5)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("table", choices=("nb201", "compress"), help="which table to rebuild (compress: "
                            "datasets/compress-<space>.h5, see docs/compression.md)")
        parser.add_argument("--space", default="mpq-prune-small", help="compress only: the compression space")
        parser.add_argument("--store-dir", type=Path, default=None, help="compress only: campaign shards "
                            "(default: the repo's datasets/shards)")
        parser.add_argument("--cost-cache", type=Path, default=None, help="compress only: cost cache folder "
                            "(default: the repo's datasets/compress/costs)")
        parser.add_argument("--out", type=Path, default=None, help="output folder (default: the repo's datasets/)")
        parser.add_argument("--part", action="append", help="only these parts (keys, analytic, simulated, "
                            "trained, measured, proxies); default: every available part")
        parser.add_argument("--no-progress", action="store_true")
        add_format_argument(parser)

    def run(self, args: argparse.Namespace) -> int:
        from hwbench.recipes import DATASETS, build_nb201

        out = args.out or DATASETS
        if args.out is not None and args.out.exists() and not args.out.is_dir():
            raise CLIUsageError(f"--out {args.out} is not a folder")
        if args.table == "compress":
            from hwbench.compress.table import build_compress_table

            if args.part:
                raise CLIUsageError("--part applies to nb201 only; the compress table always has every part")
            rep = build_compress_table(args.space, out, store_dir=args.store_dir, cost_cache=args.cost_cache,
                                       progress=not args.no_progress)
            emit(rep.as_dict(), args.format)
            return 0
        report = build_nb201(out, parts=args.part, progress=not args.no_progress)
        emit(report.as_dict(), args.format)
        return 0
