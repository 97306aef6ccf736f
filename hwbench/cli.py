"""The ``hwbench`` command line: thin command classes over the library.

Every command is a class with ``add_arguments(parser)`` and ``run(args) -> int``, registered in
:data:`COMMANDS` as ``"module:Class"`` so that only the command in use is imported. User errors
print one line and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from hwbench.errors import HwbenchError


class CLIUsageError(HwbenchError):
    """A command-line usage error (bad argument combination, unreadable file ...)."""


class Command:
    """Base of every subcommand."""

    name: str = ""
    help: str = ""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:  # pragma: no cover - default
        pass

    def run(self, args: argparse.Namespace) -> int:  # pragma: no cover - abstract
        raise NotImplementedError


#: subcommand name -> "module:Class". Add one line per command; modules are imported lazily.
COMMANDS: dict[str, str] = {
    "info": "hwbench.commands.table_cmds:InfoCommand",
    "metrics": "hwbench.commands.table_cmds:MetricsCommand",
    "query": "hwbench.commands.table_cmds:QueryCommand",
    "export": "hwbench.commands.table_cmds:ExportCommand",
    "import-nats": "hwbench.commands.table_cmds:ImportNatsCommand",
    "simulate": "hwbench.commands.simulate_cmd:SimulateCommand",
    "build": "hwbench.commands.build_cmd:BuildCommand",
    "tasks": "hwbench.commands.search_cmds:TasksCommand",
    "run": "hwbench.commands.search_cmds:RunCommand",
    "score": "hwbench.commands.search_cmds:ScoreCommand",
    "plot": "hwbench.commands.search_cmds:PlotCommand",
    "campaign": "hwbench.commands.campaign_cmds:CampaignCommand",
    "measure": "hwbench.commands.measure_cmd:MeasureCommand",
    "proxies": "hwbench.commands.proxy_cmds:ProxiesCommand",
    "predict": "hwbench.commands.predict_cmds:PredictCommand",
    "submit": "hwbench.commands.leaderboard_cmds:SubmitCommand",
    "leaderboard": "hwbench.commands.leaderboard_cmds:LeaderboardCommand",
    "compress": "hwbench.commands.compress_cmds:CompressCommand",
}


def _jsonable(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "tolist") and not isinstance(x, str):  # numpy scalars and arrays
        return _jsonable(x.tolist())
    if isinstance(x, float) and math.isnan(x):
        return None  # JSON has no NaN; missing is null
    return x


def emit(data: Any, fmt: str, columns: Sequence[str] | None = None) -> None:
    """Print ``data`` (a list of row dicts, or a dict) as ``json`` or an aligned ``table``."""
    if fmt == "json":
        print(json.dumps(_jsonable(data), indent=2, allow_nan=False))
        return
    rows = data if isinstance(data, list) else [{"key": k, "value": v} for k, v in data.items()]
    if not rows:
        print("(no rows)")
        return
    cols = list(columns or rows[0].keys())

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "NaN" if math.isnan(v) else f"{v:.6g}"
        return str(v)

    table = [[cell(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(t[i]) for t in table)) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip())
    for t in table:
        print("  ".join(v.ljust(w) for v, w in zip(t, widths)).rstrip())


def add_format_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output format")


def _load_command(spec: str) -> Command:
    module, cls = spec.split(":")
    return getattr(importlib.import_module(module), cls)()  # type: ignore[no-any-return]


def build_parser(argv: Sequence[str]) -> tuple[argparse.ArgumentParser, dict[str, Command]]:
    parser = argparse.ArgumentParser(prog="hwbench", description="Hardware-aware NAS benchmark and simulator suite")
    from hwbench._version import __version__

    parser.add_argument("--version", action="version", version=f"hwbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # import only the command that is asked for, unless help over everything is requested
    wanted = next((a for a in argv if not a.startswith("-")), None)
    names = [wanted] if wanted in COMMANDS else list(COMMANDS)
    loaded: dict[str, Command] = {}
    for name in names:
        cmd = _load_command(COMMANDS[name])
        p = sub.add_parser(name, help=cmd.help, description=cmd.help)
        cmd.add_arguments(p)
        loaded[name] = cmd
    return parser, loaded


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, loaded = build_parser(argv)
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return loaded[args.command].run(args)
    except HwbenchError as exc:
        print(f"hwbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"hwbench {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
