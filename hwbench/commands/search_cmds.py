"""CLI commands for search: ``tasks list|show``, ``run``, ``score`` and ``plot``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from hwbench.cli import CLIUsageError, Command, add_format_argument, emit


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--table", default="nb201", metavar="NAME|PATH",
                        help="table name from the manifest (default: nb201) or a path to an .h5 table")
    parser.add_argument("--no-table", action="store_true",
                        help="use only the columns of --nats-csv/--naswot-csv (no table)")
    parser.add_argument("--nats-csv", metavar="PATH",
                        help="NATS-Bench accuracy CSV (ArchitectureString + *TestAccuracy200Epochs), laid over the table")
    parser.add_argument("--naswot-csv", metavar="PATH",
                        help="NASWOT CIFAR-10 CSV (cellstr, valid_top1, params), laid over the table")
    parser.add_argument("--compress-store", metavar="DIR", default=None,
                        help="compression campaign shards read by compress-* tasks (default: datasets/shards)")


def _source(args: argparse.Namespace, required: bool = True, task: Any = None) -> Any:
    """The columns to run on: the table, optionally with reference-CSV columns laid over it
    (compression tasks: the compression campaign's accuracy + analytic costs, docs/compression.md)."""
    from hwbench.search.problem import ColumnSource

    if task is not None and str(task.space).startswith("compress:"):
        from hwbench.compress.tasks import DEFAULT_STORE, compression_source

        return compression_source(task, getattr(args, "compress_store", None) or DEFAULT_STORE)

    base = None
    if not args.no_table:
        from hwbench.table import load

        try:
            base = load(args.table)
        except Exception as exc:
            from hwbench.errors import HwbenchError

            if not isinstance(exc, HwbenchError) or (required and not (args.nats_csv or args.naswot_csv)):
                raise
            base = None
    extra: dict[str, Any] = {}
    from pathlib import Path

    for flag, path in (("--nats-csv", args.nats_csv), ("--naswot-csv", args.naswot_csv)):
        if path and not Path(path).is_file():
            raise CLIUsageError(f"{flag} {path!r}: no such file")
    if args.nats_csv:
        from hwbench.search.reference import nats_columns

        extra.update(nats_columns(args.nats_csv, args.naswot_csv))
    elif args.naswot_csv:
        raise CLIUsageError("--naswot-csv needs --nats-csv")
    if base is None and not extra:
        if required:
            raise CLIUsageError("no data: give a table (--table) or --nats-csv")
        return None
    return ColumnSource(extra, base=base) if extra else base


def _parse_params(items: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for it in items or []:
        if "=" not in it:
            raise CLIUsageError(f"--param {it!r}: expected KEY=VALUE")
        k, v = it.split("=", 1)
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


class TasksCommand(Command):
    name = "tasks"
    help = "list or describe the search tasks (and which are runnable on the table)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("action", choices=("list", "show"), nargs="?", default="list")
        parser.add_argument("name", nargs="?", help="task name for `show` (`name.vN`, or `name` = latest)")
        parser.add_argument("--pattern", default="*", help="fnmatch filter for `list` (e.g. '*c10*')")
        parser.add_argument("--runnable", action="store_true", help="list only tasks runnable on the data")
        _add_data_arguments(parser)
        add_format_argument(parser)

    def run(self, args: argparse.Namespace) -> int:
        from hwbench.errors import HwbenchError
        from hwbench.search.tasks import default_registry, get_task

        try:
            source = _source(args, required=False)
        except HwbenchError:  # no table: the runnable column says "unknown"
            source = None
        metrics = list(source.metrics) if source is not None else None
        if args.action == "show":
            if not args.name:
                raise CLIUsageError("`hwbench tasks show` needs a task name (see `hwbench tasks list`)")
            task = get_task(args.name)
            info = task.describe()
            if task.space.startswith("compress:"):
                try:
                    source = _source(args, task=task)
                except HwbenchError as exc:
                    source, info["runnable"] = None, f"no: {exc}"
                metrics = list(source.metrics) if source is not None else None
            if metrics is not None:
                missing = task.missing_columns(metrics)
                info["runnable"] = "yes" if not missing else "no: missing " + ", ".join(missing)
                if not missing:
                    from hwbench.search.problem import Problem, TabularObjective

                    prob = Problem(task, TabularObjective.from_table(source, task))
                    info["searched_column"] = prob.objective.search_column
                    for m, v in prob.thresholds.items():
                        info[f"threshold {m}"] = v
                    if prob.target is not None:
                        info["target T"] = prob.target
                    info["feasible_cells"] = int(prob.feasible.sum())
                    if task.kind == "pareto":
                        info["true_front_size"] = len(prob.true_front)
                    else:
                        info["oracle"] = prob.oracle_value
                        info["oracle_arch"] = _arch(prob.oracle_index, task.space)
                    if prob.max_seconds is not None:
                        info["budget_seconds"] = prob.max_seconds
            elif "runnable" not in info:
                info["runnable"] = "unknown (no table loaded)"
            emit(info, args.format)
            return 0
        rows = []
        for t in default_registry().list(args.pattern):
            row: dict[str, Any] = {"task": t.name, "kind": t.kind, "config": t.config,
                                   "costs": ",".join(c.split("/", 1)[1] for c in t.costs),
                                   "budget": t.budget.describe()}
            if t.space.startswith("compress:"):  # accuracy from the compression campaign shards
                from hwbench.compress.tasks import DEFAULT_STORE, availability

                row["runnable"] = availability(t, args.compress_store or DEFAULT_STORE)
                if args.runnable and row["runnable"] != "yes":
                    continue
            elif metrics is not None:
                missing = t.missing_columns(metrics)
                row["runnable"] = "yes" if not missing else f"no ({len(missing)} missing)"
                if args.runnable and missing:
                    continue
            else:
                row["runnable"] = "unknown"
            rows.append(row)
        emit(rows, args.format)
        return 0


def _arch(i: int, space: str = "nb201") -> str:
    from hwbench.spaces import get_space

    return get_space(space).arch_str(int(i))


def _summary_row(data: dict[str, Any], summary: Any, scores: list[Any]) -> dict[str, Any]:
    kind = data["task"]["kind"]
    return {
        "task": data["task"]["name"],
        "algorithm": data["algorithm"]["name"],
        "seeds": summary.n,
        "metric": "1 - HV/HV_true" if kind == "pareto" else "regret",
        "mean": summary.mean,
        "ci95_low": summary.ci_low,
        "ci95_high": summary.ci_high,
        "std": summary.std,
        "oracle": scores[0].oracle if scores else float("nan"),
        "mean_evaluations": sum(s.evaluations for s in scores) / max(len(scores), 1),
    }


class RunCommand(Command):
    name = "run"
    help = "run a search algorithm on a task for N seeds and write a results file"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--task", required=True, help="task name (see `hwbench tasks list`)")
        parser.add_argument("--algorithm", required=True,
                            help="built-in or installed algorithm name, or 'exec:COMMAND' for an external process")
        parser.add_argument("--seeds", type=int, default=None, help="number of seeds (default: the task's)")
        parser.add_argument("--first-seed", type=int, default=0, help="seeds are FIRST..FIRST+N-1")
        parser.add_argument("--param", action="append", metavar="KEY=VALUE",
                            help="algorithm parameter (JSON value), repeatable")
        parser.add_argument("--out", help="write the results (trajectories + scores) as JSON here")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        _add_data_arguments(parser)
        add_format_argument(parser)

    def run(self, args: argparse.Namespace) -> int:
        import sys

        from hwbench.search.algorithms import create_algorithm, is_algorithm, list_algorithms
        from hwbench.search.runner import problem_for, results_dict, run_seeds, save_results
        from hwbench.search.scoring import aggregate, score_trajectory
        from hwbench.search.tasks import get_task

        task = get_task(args.task)
        if not is_algorithm(args.algorithm):
            from hwbench.errors import UnknownNameError

            raise UnknownNameError("algorithm", args.algorithm, [*list_algorithms(), "exec:COMMAND"])
        params = _parse_params(args.param)
        problem = problem_for(task, _source(args, task=task))
        n = args.seeds if args.seeds is not None else task.seeds
        if n < 1:
            raise CLIUsageError("--seeds must be >= 1")
        create_algorithm(args.algorithm, **params)  # fail fast on bad parameters
        seeds = range(args.first_seed, args.first_seed + n)
        trajs = run_seeds(problem, lambda: create_algorithm(args.algorithm, **params), seeds,
                          progress=not args.no_progress and sys.stderr.isatty())
        scores = [score_trajectory(problem, t.indices, t.clock_s, t.seed, epochs=t.epochs) for t in trajs]
        summary = aggregate(scores)
        data = results_dict(problem, args.algorithm, trajs, params or trajs[0].params)
        data["scores"] = {"summary": summary.to_dict(),
                          "runs": [{"seed": s.seed, "regret": s.regret, "value": s.value, "oracle": s.oracle,
                                    "incumbent": None if s.incumbent is None else _arch(s.incumbent, task.space)}
                                   for s in scores]}
        if args.out:
            save_results(args.out, data)
        emit(_summary_row(data, summary, scores), args.format)
        return 0


class ScoreCommand(Command):
    name = "score"
    help = "re-score a results file from the table (replaying and validating every trajectory)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("results", help="results JSON written by `hwbench run --out`")
        parser.add_argument("--per-seed", action="store_true", help="one row per seed")
        _add_data_arguments(parser)
        add_format_argument(parser)

    def run(self, args: argparse.Namespace) -> int:
        from hwbench.search.runner import load_results, problem_for
        from hwbench.search.scoring import score_results

        data = load_results(args.results)
        task = _results_task(args.results, data)
        problem = problem_for(task, _source(args, task=task))
        scores, summary = score_results(problem, data)
        if args.per_seed:
            emit([{"seed": s.seed, "regret": s.regret, "value": s.value, "oracle": s.oracle,
                   "evaluations": s.evaluations, "clock_s": s.clock_s} for s in scores], args.format)
        else:
            emit(_summary_row(data, summary, scores), args.format)
        return 0


def _results_task(path: str, data: dict[str, Any]) -> Any:
    """The task a results file was run on; it must equal the registered task of that name."""
    from hwbench.search._errors import ResultsFormatError
    from hwbench.search.tasks import Task, get_task, is_task

    try:
        task = Task.from_dict(data["task"])
    except (TypeError, ValueError, KeyError) as exc:
        raise ResultsFormatError(f"{path}: malformed task definition: {exc}") from None
    if is_task(task.name) and get_task(task.name) != task:
        raise ResultsFormatError(f"{path}: task {task.name} differs from the registered definition of that name")
    return task


class PlotCommand(Command):
    name = "plot"
    help = "plot anytime curves (and Pareto fronts) of results files, re-scored from the table, as PNG or HTML"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("results", nargs="+", help="results JSON files written by `hwbench run --out`")
        parser.add_argument("--out", required=True, metavar="DIR", help="directory for the figures (created)")
        parser.add_argument("--format", choices=("png", "html"), default="png",
                            help="png (matplotlib, extra `plot`) or one self-contained interactive html per task")
        _add_data_arguments(parser)

    def run(self, args: argparse.Namespace) -> int:
        from pathlib import Path

        from hwbench.search.plot import figures_for_task, write_html, write_png
        from hwbench.search.runner import load_results, problem_for

        by_task: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        tasks: dict[str, Any] = {}
        for path in args.results:
            data = load_results(path)
            task = _results_task(path, data)
            if task.name in tasks and tasks[task.name] != task:
                raise CLIUsageError(f"{path}: task {task.name} is defined differently in another results file")
            tasks[task.name] = task
            by_task.setdefault(task.name, []).append((path, data))
        source = _source(args) if any(not t.space.startswith("compress:") for t in tasks.values()) else None
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        written: list[dict[str, Any]] = []
        for name, results in by_task.items():
            src = _source(args, task=tasks[name]) if tasks[name].space.startswith("compress:") else source
            figs = figures_for_task(problem_for(tasks[name], src), results)
            if args.format == "png":
                for f in figs:
                    written.append({"task": name, "figure": f.name.rsplit("-", 1)[1],
                                    "file": str(write_png(f, out / f"{f.name}.png"))})
            else:
                p = write_html(figs, out / f"{name}.html", title=name)
                written.append({"task": name, "figure": ",".join(f.name.rsplit("-", 1)[1] for f in figs),
                                "file": str(p)})
        emit(written, "table")
        return 0
