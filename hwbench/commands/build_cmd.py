"""``hwbench build``: rebuild a shipped table from its recipe (code + committed campaign shards)."""

from __future__ import annotations

import argparse
from pathlib import Path

from hwbench.cli import CLIUsageError, Command, add_format_argument, emit


class BuildCommand(Command):
    name = "build"
    help = "rebuild a table file and its manifest entry from its recipe (datasets/nb201.h5)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("table", choices=("nb201",), help="which table to rebuild")
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
        report = build_nb201(out, parts=args.part, progress=not args.no_progress)
        emit(report.as_dict(), args.format)
        return 0
