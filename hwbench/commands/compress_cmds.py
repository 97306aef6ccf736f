"""``hwbench compress``: the compression benchmark (mixed-precision quantization + channel pruning).

    hwbench compress spaces                                    # compression spaces and their sizes
    hwbench compress bases [--select]                          # base networks (pinned, or re-derived)
    hwbench compress train-base ROLE [--epochs E]              # train + save a base net (safetensors)
    hwbench compress cost BASE CONFIG [--device D]             # simulated cost of one configuration
    hwbench compress eval BASE CONFIG [--seed S]               # accuracy of one configuration
    hwbench compress campaign [--space S] [--bases R ...] [--limit N] [--workers W]
    hwbench compress status [--space S]
    hwbench compress report [--space S] [--format markdown|json]   # figures of the shipped compression table
    hwbench compress tvm-int8 BASE CONFIG [--measure]         # TVM-compiled int8 network + fp32 counterpart
    hwbench compress tvm-campaign [--space S] [--bases R ...] [--limit N] [--threads N]  # int8 TVM latency campaign
"""

from __future__ import annotations

import argparse
import signal
from typing import Any

from hwbench.cli import CLIUsageError, Command, add_format_argument, emit


def _sigterm_to_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


class CompressCommand(Command):
    name = "compress"
    help = "compression benchmark: spaces, base networks, cost / accuracy of a configuration, campaign"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="compress_command", metavar="SUBCOMMAND")
        p = sub.add_parser("spaces", help="list the compression spaces and their sizes")
        add_format_argument(p)
        p = sub.add_parser("bases", help="list the base networks (pinned); --select re-derives them")
        p.add_argument("--select", action="store_true", help="apply the selection rule to the training shards")
        p.add_argument("--store-dir", default="datasets/shards")
        p.add_argument("--base-dir", default="datasets/compress/bases")
        add_format_argument(p)
        p = sub.add_parser("train-base", help="train a base network with the base recipe and save it")
        p.add_argument("role", help="best, median, small or mcu")
        p.add_argument("--epochs", type=int, help="override the base recipe's epochs")
        p.add_argument("--train-subset", type=int, help="override the base recipe's training images")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--base-dir", default="datasets/compress/bases")
        add_format_argument(p)
        for cmd, hlp in (("cost", "simulated cost of one configuration"),
                         ("eval", "test accuracy of one configuration (prune, fine-tune, quantize)")):
            p = sub.add_parser(cmd, help=hlp)
            p.add_argument("base", help="base role (best, median, small, mcu) or, for cost, an nb201 string")
            p.add_argument("config", help="configuration string (e.g. m100.50.75-w8.4.8-a8.8.32) or index")
            p.add_argument("--space", default="mpq-prune")
            if cmd == "cost":
                p.add_argument("--device", default="mcu-stm32f746")
            else:
                p.add_argument("--seed", type=int, default=0)
                p.add_argument("--base-dir", default="datasets/compress/bases")
                p.add_argument("--test-limit", type=int, help="only the first N test images (quick look)")
            add_format_argument(p)
        p = sub.add_parser("campaign", help="run or resume the accuracy campaign (one item per base x pruning)")
        p.add_argument("--space", default="mpq-prune")
        p.add_argument("--bases", nargs="+", default=None, help="base roles (default: all four)")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--workers", type=int, default=2)
        p.add_argument("--dask", metavar="ADDRESS")
        p.add_argument("--limit", type=int, help="stop after N more items")
        p.add_argument("--base-dir", default="datasets/compress/bases")
        p.add_argument("--store-dir", default="datasets/shards")
        p.add_argument("--no-progress", action="store_true")
        p = sub.add_parser("tvm-int8", help="compile (and check) the int8 network of a w8/a8 configuration with TVM")
        p.add_argument("base", help="base role (best, median, small, mcu)")
        p.add_argument("config", help="configuration with every stage w8/a8 or w32/a32, e.g. m50.100.100-w8.8.8-a8.8.8")
        p.add_argument("--space", default="mpq-prune")
        p.add_argument("--base-dir", default="datasets/compress/bases")
        p.add_argument("--finetune", action="store_true", help="fine-tune the pruned network like the protocol")
        p.add_argument("--measure", action="store_true", help="also measure int8 and fp32 latency (quiet machine!)")
        p.add_argument("--threads", type=int, default=1, help="measurement threads (0 = all cores)")
        add_format_argument(p)
        p = sub.add_parser("tvm-campaign", help="run or resume the int8 TVM latency campaign (every all-int8 "
                           "configuration x base: int8 and fp32 compiled, checked and timed; quiet machine!)")
        p.add_argument("--space", default="mpq-prune-small")
        p.add_argument("--bases", nargs="+", default=None, help="base roles (default: all four)")
        p.add_argument("--limit", type=int, help="stop after N more items")
        p.add_argument("--threads", type=int, default=1, help="measurement threads (0 = all cores)")
        p.add_argument("--workers", type=int, default=1, help="parallel items (keep 1: latency is measured)")
        p.add_argument("--configs", nargs="+", default=None, help="only these all-int8 configurations")
        p.add_argument("--finetune", action="store_true", help="fine-tune the pruned networks like the protocol")
        p.add_argument("--base-dir", default="datasets/compress/bases")
        p.add_argument("--store-dir", default="datasets/shards")
        p.add_argument("--no-progress", action="store_true")
        p = sub.add_parser("report", help="figures of the shipped compression table: accuracy drop vs bit-width "
                           "and pruning, stage sensitivity, Pareto fronts, int8/fp32 TVM latency")
        p.add_argument("--space", default="mpq-prune-small")
        p.add_argument("--front", type=int, default=12, help="at most this many points listed per front (json)")
        p.add_argument("--format", choices=("markdown", "json"), default="markdown")
        p = sub.add_parser("status", help="items done of the accuracy campaign")
        p.add_argument("--space", default="mpq-prune")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--store-dir", default="datasets/shards")
        add_format_argument(p)
        self._parser = parser

    def run(self, args: argparse.Namespace) -> int:
        c = args.compress_command
        if c is None:
            self._parser.print_help()
            return 2
        return int(getattr(self, "_" + c.replace("-", "_"))(args))

    def _spaces(self, args: argparse.Namespace) -> int:
        from hwbench.compress.space import SPACES

        emit([{"space": s.name, "bits": ",".join(map(str, s.bits)), "widths": ",".join(map(str, s.widths)),
               "width_choices": s.n_width_choices, "bit_choices": s.n_bit_choices, "size_per_base": s.size}
              for s in SPACES.values()], args.format)
        return 0

    def _bases(self, args: argparse.Namespace) -> int:
        from hwbench.compress.bases import base_path, pinned_bases, select_bases

        if args.select:
            from hwbench.campaign import merge
            from hwbench.train.campaign import campaign_name

            bases = select_bases(merge(campaign_name(), args.store_dir))
        else:
            bases = pinned_bases()
        rows = []
        for role, b in bases.items():
            p = base_path(role, args.base_dir)
            row: dict[str, Any] = {"role": role, "index": b.index, "arch": b.arch, "saved": p.is_file()}
            if p.is_file():
                from safetensors import safe_open

                with safe_open(str(p), framework="pt") as f:
                    meta = f.metadata() or {}
                row["test_acc"] = float(meta.get("test_acc", "nan"))
            rows.append(row)
        emit(rows, args.format)
        return 0

    def _train_base(self, args: argparse.Namespace) -> int:
        from hwbench.compress.bases import BASE_RECIPE, ROLES, pinned_bases, train_base

        if args.role not in ROLES:
            raise CLIUsageError(f"base role {args.role!r}: expected one of {', '.join(ROLES)}")
        recipe = BASE_RECIPE
        if args.epochs:
            recipe = recipe.replace(epochs=args.epochs)
        if args.train_subset:
            recipe = recipe.replace(train_subset=args.train_subset)
        r = train_base(pinned_bases()[args.role], recipe, args.seed, args.base_dir)
        emit({k: v for k, v in r["meta"].items() if k != "recipe"}, args.format)
        return 0

    def _cost(self, args: argparse.Namespace) -> int:
        from hwbench.compress.cost import compress_cost

        cfg: Any = int(args.config) if args.config.isdigit() else args.config
        emit(compress_cost(args.base, cfg, args.device, args.space), args.format)
        return 0

    def _eval(self, args: argparse.Namespace) -> int:
        import torch

        from hwbench.compress.accuracy import evaluate_config
        from hwbench.compress.bases import load_base

        torch.set_num_threads(1)
        model, _meta = load_base(args.base, args.base_dir)
        cfg: Any = int(args.config) if args.config.isdigit() else args.config
        r = evaluate_config(model, cfg, args.space, args.seed, test_limit=args.test_limit)
        r["base"] = args.base
        emit(r, args.format)
        return 0

    def _campaign(self, args: argparse.Namespace) -> int:
        from hwbench.compress.campaign import run_compress_campaign

        bases = _bases(args.bases)
        signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
        rep = run_compress_campaign(space=args.space, bases=bases, seed=args.seed, base_dir=args.base_dir,
                                    store_dir=args.store_dir, executor="dask" if args.dask else "local",
                                    workers=args.workers, address=args.dask, limit=args.limit,
                                    progress=not args.no_progress)
        _print_report(rep)
        return 0

    def _tvm_int8(self, args: argparse.Namespace) -> int:
        import torch

        from hwbench.compress.tvm_int8 import compile_compressed
        from hwbench.measure.protocol import Protocol

        torch.set_num_threads(1)
        cfg: Any = int(args.config) if args.config.isdigit() else args.config
        r = compile_compressed(args.base, cfg, space=args.space, base_dir=args.base_dir, finetune=args.finetune)
        rec = r.measure(Protocol(threads=args.threads)) if args.measure else r.summary()
        if args.format == "table":
            rec.pop("fingerprint", None)  # nested; kept in --format json
        emit(rec, args.format)
        return 0

    def _tvm_campaign(self, args: argparse.Namespace) -> int:
        from hwbench.compress.tvm_campaign import run_tvm_campaign

        bases = _bases(args.bases)
        signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
        rep = run_tvm_campaign(space=args.space, bases=bases, base_dir=args.base_dir, store_dir=args.store_dir,
                               threads=args.threads, workers=args.workers, limit=args.limit,
                               progress=not args.no_progress, finetune=args.finetune, configs=args.configs)
        _print_report(rep)
        return 0

    def _report(self, args: argparse.Namespace) -> int:
        import json

        import hwbench
        from hwbench.compress.report import compress_report, report_markdown
        from hwbench.compress.table import table_name

        rep = compress_report(hwbench.load(table_name(args.space)), front_limit=args.front)
        print(report_markdown(rep) if args.format == "markdown" else json.dumps(rep, indent=1))
        return 0

    def _status(self, args: argparse.Namespace) -> int:
        from hwbench.campaign import status
        from hwbench.compress.campaign import campaign_name

        emit(status(campaign_name(args.space, args.seed), args.store_dir), args.format)
        return 0


def _bases(names: list[str] | None) -> tuple[str, ...]:
    """The base roles a campaign runs on (all by default); an unknown role is a usage error."""
    from hwbench.compress.bases import ROLES

    bases = tuple(names or ROLES)
    bad = [b for b in bases if b not in ROLES]
    if bad:
        raise CLIUsageError(f"unknown base role(s) {', '.join(bad)}; expected {', '.join(ROLES)}")
    return bases


def _print_report(rep: Any) -> None:
    print(f"{rep.name}: {rep.shards_skipped + rep.shards_written}/{rep.shards} items done "
          f"({rep.items_run} run now, {rep.seconds:.0f} s)")
