"""CLI commands over the table store: info, metrics, query, export, import-nats."""

from __future__ import annotations

import argparse
import fnmatch
import math
from pathlib import Path
from typing import Any

from hwbench.cli import CLIUsageError, Command, add_format_argument, emit


def _add_table_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--table", default="nb201", metavar="NAME|PATH",
        help="table name from the manifest (default: nb201) or a path to an .h5 table",
    )
    parser.add_argument("--no-overlay", action="store_true", help="ignore user-imported columns")


def _load(args: argparse.Namespace) -> Any:
    from hwbench.table import load

    return load(args.table, overlay=not args.no_overlay)


def _select(names: list[str], patterns: list[str] | None) -> list[str]:
    if not patterns:
        return list(names)
    from hwbench.errors import UnknownMetricError

    out: list[str] = []
    for p in patterns:
        hits = [n for n in names if fnmatch.fnmatchcase(n, p)] if any(c in p for c in "*?[") else (
            [p] if p in names else []
        )
        if not hits:
            raise UnknownMetricError(p, names)
        out.extend(h for h in hits if h not in out)
    return out


def _parse_arch_args(values: list[str]) -> list[str | int]:
    out: list[str | int] = []
    for v in values:
        v = v.strip()
        out.append(int(v) if v.isdigit() else v)
    return out


class InfoCommand(Command):
    name = "info"
    help = "describe a table: file, hash, rows, columns by source, overlay"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        _add_table_argument(parser)
        add_format_argument(parser)

    def run(self, args: argparse.Namespace) -> int:
        table = _load(args)
        info = table.info()
        emit(info, args.format)
        return 0


class MetricsCommand(Command):
    name = "metrics"
    help = "list the metric columns of a table with unit, source, tool and device"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("pattern", nargs="*", help="fnmatch patterns, e.g. 'cifar10/*' (default: all)")
        _add_table_argument(parser)
        add_format_argument(parser)

    def run(self, args: argparse.Namespace) -> int:
        table = _load(args)
        names = _select(table.metrics, args.pattern or None)
        df = table.metric_info()
        df = df[df["name"].isin(names)]
        cols = ["name", "unit", "source", "tool", "device", "description"]
        rows = [{c: r.get(c, "") for c in cols} for r in df.to_dict(orient="records")]
        emit(rows, args.format, cols if args.format == "table" else None)
        return 0


class QueryCommand(Command):
    name = "query"
    help = "look up metrics of one or more architectures (NB201 string, hwbench index, or nb201:INDEX)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("archs", nargs="+", metavar="ARCH|INDEX")
        parser.add_argument(
            "--metric", "-m", action="append", metavar="NAME|PATTERN",
            help="metric column or fnmatch pattern (repeatable; default: every column)",
        )
        _add_table_argument(parser)
        add_format_argument(parser)

    def run(self, args: argparse.Namespace) -> int:
        table = _load(args)
        names = _select(table.metrics, args.metric)
        archs = _parse_arch_args(args.archs)
        res = table.query(archs, names)
        strings = [table.arch_string(a) for a in archs]
        units = {n: table.column_attrs(n).get("unit", "") for n in names}
        sources = {n: table.column_attrs(n).get("source", "") for n in names}
        if args.format == "json":
            out = {
                s: {"index": int(table.rows([a])[0]), "metrics": {n: _num(res[n][i]) for n in names}}
                for i, (s, a) in enumerate(zip(strings, archs))
            }
            emit({"table": table.name, "units": units, "sources": sources, "results": out}, "json")
            return 0
        rows = []
        for i, s in enumerate(strings):
            for n in names:
                rows.append({"arch": s if len(strings) > 1 else "", "metric": n, "value": _num(res[n][i]),
                             "unit": units[n], "source": sources[n]})
        if len(strings) == 1:
            print(strings[0])
            for r in rows:
                r.pop("arch")
        emit(rows, "table")
        return 0


def _num(v: Any) -> Any:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    if math.isnan(f):
        return float("nan")
    return int(f) if f.is_integer() and abs(f) < 2**53 else f


class ExportCommand(Command):
    name = "export"
    help = "export a table (or selected metrics) to CSV, Parquet or JSON records"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--format", choices=("csv", "parquet", "json"), default="csv", help="file format")
        parser.add_argument("--out", "-o", required=True, type=Path, help="output file")
        parser.add_argument("--metric", "-m", action="append", metavar="NAME|PATTERN", help="columns (default: all)")
        _add_table_argument(parser)

    def run(self, args: argparse.Namespace) -> int:
        table = _load(args)
        names = _select(table.metrics, args.metric)
        df = table.to_pandas(names)
        out: Path = args.out
        if out.parent and not out.parent.exists():
            raise CLIUsageError(f"output folder {out.parent} does not exist")
        if args.format == "csv":
            df.to_csv(out)
        elif args.format == "json":
            df.reset_index().to_json(out, orient="records", indent=1)
        else:
            try:
                df.to_parquet(out)
            except ImportError as exc:
                raise CLIUsageError(f"parquet export needs pyarrow: pip install 'hwbench[export]' ({exc})") from None
        print(f"wrote {len(df)} rows x {len(names)} metrics to {out}")
        return 0


class ImportNatsCommand(Command):
    name = "import-nats"
    help = "import NATS-Bench accuracies (CSV export or official file) into your user overlay"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("path", type=Path, help="NATS-Bench CSV (nats_tss format) or official NATS-Bench file")
        add_format_argument(parser)

    def run(self, args: argparse.Namespace) -> int:
        from hwbench.importers.nats import import_nats

        report = import_nats(args.path)
        emit(report.as_dict(), args.format)
        return 0
