"""``hwbench campaign``: run and inspect sharded, resumable campaigns.

    hwbench campaign train --config fashion-mnist --workers 2 [--dask ADDRESS] [--limit N] [--seed S]
    hwbench campaign status [--config fashion-mnist] [--seed S]
"""

from __future__ import annotations

import argparse
import signal
from typing import Any

from hwbench.cli import CLIUsageError, Command, add_format_argument, emit

_TRAINABLE = ("fashion-mnist",)


def _sigterm_to_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


class CampaignCommand(Command):
    name = "campaign"
    help = "run or inspect a resumable, sharded campaign (training on Fashion-MNIST ...)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="campaign_command", metavar="SUBCOMMAND")
        t = sub.add_parser("train", help="train every non-isomorphic nb201 cell (resumes where it stopped)")
        t.add_argument("--config", default="fashion-mnist", help="dataset config (only fashion-mnist is trainable)")
        t.add_argument("--workers", type=int, default=2, help="local worker processes (1 torch thread each)")
        t.add_argument("--dask", metavar="ADDRESS", help="run on this dask.distributed scheduler instead")
        t.add_argument("--limit", type=int, help="stop after about N more items (rounded up to whole shards)")
        t.add_argument("--seed", type=int, default=0, help="main seed (the 200-cell subset also gets seed+1)")
        t.add_argument("--store-dir", default="datasets/shards", help="folder of campaign shards")
        t.add_argument("--no-progress", action="store_true", help="no progress bar")
        s = sub.add_parser("status", help="how many shards/items of the training campaign are done")
        s.add_argument("--config", default="fashion-mnist")
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--store-dir", default="datasets/shards")
        s.add_argument("--summary", action="store_true",
                       help="also report cost, accuracy spread, best cell and two-seed Spearman so far")
        s.add_argument("--nats", metavar="CSV",
                       help="with --summary: Spearman vs NATS-Bench accuracies (../shared/reference/nats_tss CSV)")
        add_format_argument(s)
        ov = sub.add_parser("overview", help="every campaign under the store (training, compile, measure, proxies, "
                                             "compression) and every tuning campaign: how far each is")
        ov.add_argument("--store-dir", default="datasets/shards")
        ov.add_argument("--tuning-dir", default="datasets/tuning")
        add_format_argument(ov)
        rp = sub.add_parser("reproduce", help="re-train the items of a committed training shard from scratch and "
                                              "compare with the stored accuracies")
        rp.add_argument("--config", default="fashion-mnist")
        rp.add_argument("--shard", type=int, required=True, help="shard number (shard-NNNNN.json)")
        rp.add_argument("--items", type=int, help="only the first N items of the shard (each costs ~5 CPU-s)")
        rp.add_argument("--store-dir", default="datasets/shards")
        add_format_argument(rp)
        from hwbench.commands.measure_cmd import add_campaign_measure_parser

        add_campaign_measure_parser(sub)
        self._parser = parser

    def run(self, args: argparse.Namespace) -> int:
        from hwbench.train.campaign import campaign_name

        if args.campaign_command is None:
            self._parser.print_help()
            return 2
        if args.campaign_command in ("measure", "compile", "tune", "measure-report"):
            from hwbench.commands.measure_cmd import run_campaign_measure

            return run_campaign_measure(args)
        if args.campaign_command == "overview":
            from hwbench.campaign import overview

            emit(overview(args.store_dir, args.tuning_dir), args.format)
            return 0
        if args.config not in _TRAINABLE:
            raise CLIUsageError(f"config {args.config!r} cannot be trained here; trainable: {', '.join(_TRAINABLE)}")
        if args.campaign_command == "reproduce":
            from hwbench.train.reproduce import reproduce_shard

            if args.items is not None and args.items < 1:
                raise CLIUsageError(f"--items {args.items}: expected >= 1")
            rep = reproduce_shard(args.shard, args.store_dir, config=args.config, n_items=args.items)
            if args.format == "json":
                emit(rep, "json")
            else:
                emit([{k: v for k, v in r.items() if not k.startswith(("stored_", "new_")) or "test_acc" in k}
                      for r in rep["rows"]], "table")
                print(f"{rep['identical']}/{rep['items']} items identical; max |delta test acc| "
                      f"{rep['max_abs_diff_test_acc_pts']:.3f} points ({rep['file']})")
            return 0
        if args.campaign_command == "status":
            from hwbench.campaign import status

            name = campaign_name(args.config, args.seed)
            st = status(name, args.store_dir)
            if args.summary:
                from hwbench.campaign import merge
                from hwbench.train.campaign import summarize

                merged = merge(name, args.store_dir)
                summary = summarize(merged, st["items_total"])
                if args.nats:
                    from hwbench.train.campaign import nats_correlation

                    summary.update(nats_correlation(merged, args.nats))
                summary.pop("items_done")  # the same count as status's
                best = summary.pop("best_cell", None)
                st.update(summary)
                if best:
                    st.update({f"best_{k}": v for k, v in best.items()})
            emit(st, args.format)
            return 0
        if args.workers < 1:
            raise CLIUsageError(f"--workers {args.workers}: expected >= 1")
        if args.limit is not None and args.limit < 1:
            raise CLIUsageError(f"--limit {args.limit}: expected >= 1")
        from hwbench.train.campaign import run_training_campaign

        previous = signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
        try:
            rep = run_training_campaign(
                seed=args.seed,
                store_dir=args.store_dir,
                executor="dask" if args.dask else "local",
                address=args.dask,
                workers=args.workers,
                limit=args.limit,
                progress=not args.no_progress,
            )
        finally:
            signal.signal(signal.SIGTERM, previous)
        print(
            f"campaign {rep.name}: {rep.shards_skipped + rep.shards_written}/{rep.shards} shards done "
            f"({rep.shards_written} written now, {rep.items_run} items run in {rep.seconds:.0f} s) under {rep.path}"
        )
        return 0
