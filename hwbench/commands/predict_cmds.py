"""``hwbench predict``: fit, evaluate and apply cost/accuracy predictors on any table column.

    hwbench predict fit   --table T --metric cifar10/cpu/latency_ms --predictor xgboost [--features onehot+ir]
                          [--train-size 1000] [--seed 0] --out models/latency-xgb
    hwbench predict eval  --table T --metric M [--predictors linear,layer_table,xgboost,mlp]
                          [--sizes 10,50,100,500,1000] [--test-size 1000] [--seeds 0,1,2]
    hwbench predict apply --model models/latency-xgb [--table T] [--archs A,B | --all] [--out predicted.h5]

The target can also come from a NATS-Bench CSV (``--nats-csv FILE``, metric = config name).
``apply`` never overwrites measured values: with ``--out`` it writes ``<metric>_predicted``
(source ``predicted``) holding predictions only where the table's ``<metric>`` is missing.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.cli import CLIUsageError, Command, add_format_argument, emit


def _ints(text: str, what: str) -> list[int]:
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise CLIUsageError(f"{what} {text!r}: expected comma-separated integers") from None


def _target(args: argparse.Namespace) -> tuple[np.ndarray, str, str]:
    """(values in hwbench index order, metric name, config) of the requested target."""
    from hwbench.spaces.nb201 import CONFIGS

    if getattr(args, "nats_csv", None):
        from hwbench.commands.proxy_cmds import nats_accuracy

        config = args.metric
        return nats_accuracy(args.nats_csv, config), f"{config}/nats-bench/test_accuracy_pct", config
    import hwbench.table as tbl

    t = tbl.load(args.table)
    y = np.asarray(t.column(args.metric), dtype=float)
    if y.ndim != 1:
        raise CLIUsageError(f"metric {args.metric!r} is not a 1-D column")
    config = args.metric.split("/", 1)[0]
    if config not in CONFIGS:
        raise CLIUsageError(f"metric {args.metric!r} does not start with a config ({', '.join(CONFIGS)})")
    return y, args.metric, config


def _add_target_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--table", default="nb201", help="table name or .h5 file")
    p.add_argument("--metric", required=True, help="target column, e.g. cifar10/cpu/latency_ms")
    p.add_argument("--nats-csv", type=Path, help="target = NATS-Bench accuracy from this CSV (metric = config)")


class PredictCommand(Command):
    name = "predict"
    help = "fit / evaluate / apply cost and accuracy predictors on table columns"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        from hwbench.predictors import FEATURE_KINDS, list_predictors

        sub = parser.add_subparsers(dest="predict_command", metavar="SUBCOMMAND")
        f = sub.add_parser("fit", help="fit one predictor on measured cells and save it (JSON + npz)")
        _add_target_args(f)
        single = [p for p in list_predictors() if p != "few_shot_transfer"]  # transfer: Python API (pretrain)
        f.add_argument("--predictor", default="xgboost", choices=single)
        f.add_argument("--features", choices=FEATURE_KINDS, help="default: the predictor's own")
        f.add_argument("--train-size", type=int, help="fit on this many random measured cells (default: all)")
        f.add_argument("--seed", type=int, default=0)
        f.add_argument("--log-target", action="store_true", help="fit log(y) (xgboost, mlp)")
        f.add_argument("--out", type=Path, required=True, help="folder to save the predictor in")
        add_format_argument(f)
        e = sub.add_parser("eval", help="learning curve: metrics versus training-set size on a held-out set")
        _add_target_args(e)
        e.add_argument("--predictors", default="linear,layer_table,xgboost,mlp")
        e.add_argument("--sizes", default="10,50,100,500,1000")
        e.add_argument("--test-size", type=int, default=1000)
        e.add_argument("--seeds", default="0")
        e.add_argument("--log-target", action="store_true")
        e.add_argument("--pruned", action="store_true",
                       help="use the *_pruned variant of every predictor's features (dead edges removed)")
        add_format_argument(e)
        a = sub.add_parser("apply", help="predict cells with a saved predictor")
        a.add_argument("--model", type=Path, required=True, help="folder written by `predict fit`")
        a.add_argument("--table", default=None, help="table whose measured values are kept (default: none)")
        a.add_argument("--archs", help="comma-separated hwbench indices or ';'-separated arch strings")
        a.add_argument("--all", action="store_true", help="every cell of the space")
        a.add_argument("--out", type=Path, help="write <metric>_predicted into this new table file")
        add_format_argument(a)
        self._parser = parser

    def run(self, args: argparse.Namespace) -> int:
        if args.predict_command is None:
            self._parser.print_help()
            return 2
        import torch

        torch.set_num_threads(1)
        return int(getattr(self, f"_{args.predict_command}")(args))

    def _fit(self, args: argparse.Namespace) -> int:
        from hwbench.predictors import DEFAULT_FEATURES, create_predictor, featurize
        from hwbench.spaces.nb201 import SPACE

        y, metric, config = _target(args)
        rows = np.flatnonzero(np.isfinite(y))
        if len(rows) < 2:
            raise CLIUsageError(f"metric {metric!r} has {len(rows)} measured cells; need at least 2")
        if args.train_size is not None:
            if not 2 <= args.train_size <= len(rows):
                raise CLIUsageError(f"--train-size {args.train_size}: expected 2..{len(rows)} (measured cells)")
            rows = np.sort(np.random.default_rng(args.seed).permutation(rows)[: args.train_size])
        kind = args.features or DEFAULT_FEATURES[args.predictor]
        params: dict[str, Any] = {"random_state": args.seed}
        if args.log_target:
            if args.predictor not in ("xgboost", "mlp"):
                raise CLIUsageError("--log-target applies to xgboost and mlp")
            params["log_target"] = True
        pred = create_predictor(args.predictor, **params)
        X = featurize([int(i) for i in rows], kind, config)
        pred.fit(X, y[rows])
        pred.save(args.out, features={"kind": kind, "config": config, "metric": metric, "space": SPACE.name,
                                      "train_cells": len(rows), "seed": args.seed})
        emit({"saved": str(args.out), "predictor": args.predictor, "features": kind, "metric": metric,
              "train_cells": len(rows)}, args.format)
        return 0

    def _eval(self, args: argparse.Namespace) -> int:
        from hwbench.predictors import DEFAULT_FEATURES, create_predictor, featurize, list_predictors
        from hwbench.predictors.evaluate import learning_curve, split, summarize

        y, metric, config = _target(args)
        names = [n.strip() for n in args.predictors.split(",") if n.strip()]
        valid = [p for p in list_predictors() if p != "few_shot_transfer"]
        bad = [n for n in names if n not in valid]
        if bad:
            raise CLIUsageError(f"unknown predictors {bad}; valid: {', '.join(valid)}")
        sizes, seeds = _ints(args.sizes, "--sizes"), _ints(args.seeds, "--seeds")
        n_meas = int(np.isfinite(y).sum())
        if args.test_size >= n_meas:
            raise CLIUsageError(f"--test-size {args.test_size} >= {n_meas} measured cells")
        # featurize only the rows any split can use
        pool, test = split(y, args.test_size)
        used = set(test.tolist())
        for s in seeds:
            used.update(np.random.default_rng(s).permutation(pool)[: max(sizes)].tolist())
        rows = np.array(sorted(used))
        ysub = np.full(len(y), np.nan)
        ysub[rows] = y[rows]
        X: dict[str, np.ndarray] = {}
        cache: dict[str, np.ndarray] = {}
        preds = {}
        for n in names:
            kind = DEFAULT_FEATURES[n] + ("_pruned" if args.pruned else "")
            if kind not in cache:
                full = np.zeros((len(y), 1))
                f = featurize([int(i) for i in rows], kind, config)
                full = np.zeros((len(y), f.shape[1]))
                full[rows] = f
                cache[kind] = full
            X[n] = cache[kind]
            params: dict[str, Any] = {}
            if args.log_target and n in ("xgboost", "mlp"):
                params["log_target"] = True
            preds[n] = create_predictor(n, **params)
        res = summarize(learning_curve(X, ysub, preds, sizes, test_size=args.test_size, seeds=seeds))
        for r in res:
            r["metric"] = metric
        emit(res, args.format)
        return 0

    def _apply(self, args: argparse.Namespace) -> int:
        from hwbench.predictors import featurize, load
        from hwbench.spaces.nb201 import SIZE, SPACE

        pred = load(args.model)
        feat = getattr(pred, "features_", {})
        if not feat.get("kind") or not feat.get("config"):
            raise CLIUsageError(f"{args.model} does not record its features; refit it with `hwbench predict fit`")
        if args.all:
            idx = list(range(SIZE))
        elif args.archs:
            parts = args.archs.split(";") if "|" in args.archs else args.archs.split(",")
            idx = [SPACE.index(int(p) if p.strip().isdigit() else p.strip()) for p in parts if p.strip()]
        else:
            raise CLIUsageError("give --archs or --all")
        measured = np.full(SIZE, np.nan)
        metric = str(feat.get("metric", "target"))
        if args.table:
            import hwbench.table as tbl

            t = tbl.load(args.table)
            if metric in t:
                measured = np.asarray(t.column(metric), dtype=float)
        from tqdm.auto import tqdm

        values = np.full(SIZE, np.nan)
        chunks = [idx[i : i + 500] for i in range(0, len(idx), 500)]
        for ch in tqdm(chunks, desc="predict", disable=len(chunks) < 3):
            values[ch] = pred.predict(featurize(ch, feat["kind"], feat["config"]))
        if args.out:
            from hwbench._version import __version__
            from hwbench.table import TableWriter

            fill = np.where(np.isnan(measured), values, np.nan)  # never overwrite measured cells
            with TableWriter(args.out) as w:
                w.add_column(f"{metric}_predicted", fill, unit="same as " + metric, source="predicted",
                             tool=f"hwbench.predictors/{pred.kind}", tool_version=__version__, device="none",
                             protocol={"model": str(args.model), **feat, "params": pred.get_params()},
                             description=f"predicted {metric} where it is not measured")
        rows = [{"index": i, "arch": SPACE.arch_str(i), "measured": measured[i], "predicted": values[i]}
                for i in idx[:1000]]
        if args.out:
            emit({"table": str(args.out), "column": f"{metric}_predicted", "cells": len(idx),
                  "measured_kept": int(np.isfinite(measured[idx]).sum())}, args.format)
        else:
            emit(rows, args.format)
        return 0
