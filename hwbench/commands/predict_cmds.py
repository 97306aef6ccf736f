"""``hwbench predict``: fit, evaluate and apply cost/accuracy predictors on any table column.

    hwbench predict fit   --table T --metric cifar10/cpu/latency_ms --predictor xgboost [--features onehot+ir]
                          [--train-size 1000] [--seed 0] --out models/latency-xgb
    hwbench predict eval  --table T --metric M [--predictors linear,layer_table,xgboost,mlp]
                          [--sizes 10,50,100,500,1000] [--test-size 1000] [--seeds 0,1,2]
    hwbench predict apply --model models/latency-xgb [--table T] [--archs A,B | --all] [--out predicted.h5]
    hwbench predict transfer --target gpu-jetson-tx2 [--shots 10,20] [--pretrain-on DEV,DEV | --other-families]
                          [--repeats 3] [--seed 0] [--model xgboost|mlp] [--config cifar10] [--quantity latency_ms]

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
        single = [p for p in list_predictors() if p != "few_shot_transfer"]  # transfer: `predict transfer`
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
        t = sub.add_parser("transfer", help="few-shot transfer to a held-out device: rank quality per shot count")
        t.add_argument("--table", default="nb201", help="table name or .h5 file (default: the shipped nb201)")
        t.add_argument("--target", required=True,
                       help="held-out device (e.g. gpu-jetson-tx2, column <config>/<device>/<quantity>) "
                            "or a column name / glob pattern matching exactly one column")
        t.add_argument("--config", default="cifar10", help="config of the columns when devices are named")
        t.add_argument("--quantity", default="latency_ms", help="quantity of the columns when devices are named")
        t.add_argument("--shots", default="10,20", help="comma-separated numbers of measured target cells")
        t.add_argument("--pretrain-on", help="comma-separated source devices or column patterns "
                                             "(default: every other device with the target's config and quantity)")
        t.add_argument("--other-families", action="store_true",
                       help="leave out sources of the target's family (device prefix before '-', e.g. mcu)")
        t.add_argument("--repeats", type=int, default=3, help="shot draws per shot count (seeds S..S+N-1)")
        t.add_argument("--seed", type=int, default=0, help="seed of the cell sample, the split and the first repeat")
        t.add_argument("--model", default="xgboost", choices=("xgboost", "mlp"), help="per-source model")
        t.add_argument("--n-estimators", type=int, default=400, help="boosting rounds of the xgboost sources")
        t.add_argument("--features", default=None, help="feature kind (default: the transfer's onehot+ir_pruned)")
        t.add_argument("--cells", type=int, default=3000,
                       help="cells sampled from the space (pretrain + test + shot pool); 0 = the whole space")
        t.add_argument("--pretrain-size", type=int, default=1000)
        t.add_argument("--test-size", type=int, default=1000, help="held-out cells the ranks are scored on")
        t.add_argument("--no-floor", action="store_true", help="skip the FLOPs-linear floor fitted on the same shots")
        add_format_argument(t)
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

    def _transfer(self, args: argparse.Namespace) -> int:
        import fnmatch

        import hwbench.table as tbl
        from hwbench.errors import UnknownNameError
        from hwbench.predictors import DEFAULT_FEATURES, FEATURE_KINDS, featurize
        from hwbench.predictors.transfer import leave_one_out
        from hwbench.spaces.nb201 import CONFIGS, SIZE

        shots, table = _ints(args.shots, "--shots"), tbl.load(args.table)
        if not shots or min(shots) < 2:
            raise CLIUsageError(f"--shots {args.shots!r}: expected integers >= 2")
        if args.repeats < 1:
            raise CLIUsageError(f"--repeats {args.repeats}: expected >= 1")
        kind = args.features or DEFAULT_FEATURES["few_shot_transfer"]
        if kind not in FEATURE_KINDS:
            raise UnknownNameError("feature kind", kind, FEATURE_KINDS)
        metrics = table.list_metrics()
        config, quantity = args.config, args.quantity
        if config not in CONFIGS:
            raise UnknownNameError("config", config, CONFIGS)

        def devices_of(cfg: str, qty: str) -> dict[str, str]:
            """device -> column for the ``<cfg>/<device>/<qty>`` columns of the table."""
            out = {}
            for m in metrics:
                parts = m.split("/")
                if len(parts) == 3 and parts[0] == cfg and parts[2] == qty:
                    out[parts[1]] = m
            return out

        def resolve(name: str, devs: dict[str, str], what: str) -> list[str]:
            if name in devs:
                return [devs[name]]
            if "/" in name:
                hits = [m for m in metrics if fnmatch.fnmatchcase(m, name)]
                if hits:
                    return hits
                valid = sorted(devs.values()) or metrics
                raise UnknownNameError(f"{what} column", name, valid)
            raise UnknownNameError(f"{what} device", name, devs or {m.split("/")[1] for m in metrics
                                                                    if m.count("/") == 2})

        target_cols = resolve(args.target, devices_of(config, quantity), "target")
        if len(target_cols) != 1:
            raise CLIUsageError(f"--target {args.target!r} matches {len(target_cols)} columns "
                                f"({', '.join(target_cols[:10])}); name exactly one")
        target = target_cols[0]
        parts = target.split("/")
        if len(parts) != 3 or parts[0] not in CONFIGS:
            raise CLIUsageError(f"target column {target!r} is not <config>/<device>/<quantity>")
        config, quantity = parts[0], parts[2]
        devs = devices_of(config, quantity)
        if args.pretrain_on:
            sources: list[str] = []
            for name in (n.strip() for n in args.pretrain_on.split(",")):
                if name:
                    sources += [c for c in resolve(name, devs, "source") if c not in sources]
        else:
            sources = sorted(devs.values())
        family = parts[1].split("-", 1)[0]
        sources = [c for c in sources if c != target and not (
            args.other_families and c.split("/")[1].split("-", 1)[0] == family)]
        if not sources:
            raise CLIUsageError(f"no source columns left to pretrain on for {target!r} "
                                f"(valid devices: {', '.join(sorted(devs))})")
        bad = [c for c in sources if c.split("/")[0] != config]
        if bad:
            raise CLIUsageError(f"sources {bad} are not of the target's config {config!r} (features differ)")

        rng = np.random.default_rng(args.seed)
        cells = np.arange(SIZE) if args.cells in (0, None) or args.cells >= SIZE else np.sort(
            rng.choice(SIZE, args.cells, replace=False))
        Y = {c: np.asarray(table.column(c), dtype=float)[cells] for c in [target, *sources]}
        valid = np.ones(len(cells), dtype=bool)
        for v in Y.values():
            valid &= np.isfinite(v) & (v > 0)
        n_valid = int(valid.sum())
        need = args.pretrain_size + args.test_size + max(shots)
        if args.pretrain_size < 10 or args.test_size < 2 or need > n_valid:
            raise CLIUsageError(
                f"--pretrain-size {args.pretrain_size} + --test-size {args.test_size} + max shots {max(shots)} "
                f"= {need}: expected pretrain >= 10, test >= 2 and at most {n_valid} usable cells "
                f"(finite, > 0 on the target and every source, of --cells {len(cells)})")
        # featurize only the usable cells (the others never enter leave_one_out's split)
        keep = np.flatnonzero(valid)
        idx = [int(i) for i in cells[keep]]
        X = featurize(idx, kind, config)
        F = None if args.no_floor else featurize(idx, "flops" + ("_pruned" if kind.endswith("_pruned") else ""),
                                                 config)[:, 0]
        Y = {c: v[keep] for c, v in Y.items()}
        from tqdm.auto import tqdm

        seeds = [args.seed + r for r in range(args.repeats)]
        with tqdm(total=len(shots) * len(seeds), desc=f"transfer {parts[1]}", unit="repeat",
                  disable=None) as bar:
            rows = leave_one_out(X, Y, shots=shots, pretrain_size=args.pretrain_size, test_size=args.test_size,
                                 seeds=seeds, flops=F, split_seed=args.seed, targets=[target],
                                 source_model=args.model, n_estimators=args.n_estimators,
                                 progress=bar.update)
        out = []
        for method in ("few_shot_transfer", "flops_linear"):
            for k in shots:
                rs = [r for r in rows if r["method"] == method and r["shots"] == k]
                if not rs:
                    continue
                agg: dict[str, Any] = {"target": target, "method": method, "shots": k, "repeats": len(rs)}
                for m in ("spearman", "kendall_tau"):
                    vals = np.array([r[m] for r in rs], dtype=float)
                    agg[m] = float(np.mean(vals))
                    agg[f"{m}_std"] = float(np.std(vals))
                for m in ("within_10pct", "mape_pct"):
                    agg[m] = float(np.mean([r[m] for r in rs]))
                agg["sources"] = len(sources)
                agg["test_cells"] = args.test_size
                out.append(agg)
        emit(out, args.format)
        return 0
