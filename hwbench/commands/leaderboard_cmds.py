"""CLI: ``hwbench submit FILE [--rerun]`` and ``hwbench leaderboard prepare|build|serve|verify|schema``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hwbench.cli import CLIUsageError, Command, add_format_argument, emit
from hwbench.commands.search_cmds import _add_data_arguments, _source


def _root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default="leaderboard", metavar="DIR",
                        help="leaderboard folder holding submissions/ and site/ (default: ./leaderboard)")


class SubmitCommand(Command):
    name = "submit"
    help = "validate a leaderboard submission, re-score it from the table and store it"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("file", help="submission JSON (schema hwbench.submission/1; see docs/leaderboard.md)")
        parser.add_argument("--rerun", action="store_true",
                            help="re-execute the algorithm (its `rerun` recipe) in its own process for every "
                            "seed; the entry is marked verified only if all trajectories match. Runs the "
                            "submitter's code: use a container for untrusted submissions")
        parser.add_argument("--dry-run", action="store_true", help="check and score, but store nothing")
        _root(parser)
        _add_data_arguments(parser)
        add_format_argument(parser)

    def run(self, args: argparse.Namespace) -> int:
        from hwbench.leaderboard.submit import load_problem, read_submission, resolve_task, submit

        doc = read_submission(args.file)
        # the data is resolved the same way `hwbench run` resolves it (table, or CSVs laid over it)
        problem = load_problem(resolve_task(doc), _source(args, task=resolve_task(doc)))
        acc = submit(doc, args.root, problem=problem, rerun=args.rerun, dry_run=args.dry_run)
        ev = acc.entry["evaluation"]
        s = ev["summary"]
        emit({"id": acc.id, "task": doc["task"], "algorithm": doc["algorithm"]["name"],
              "metric": ev["metric"], "mean": s["mean"],
              "ci95": s["ci95_bootstrap"], "seeds": s["n"], "verified": acc.entry["verified"],
              "verification": acc.entry["verification"],
              "stored": "(dry run: not stored)" if args.dry_run else str(acc.path)}, args.format)
        return 0


class LeaderboardCommand(Command):
    name = "leaderboard"
    help = "build, serve or verify the leaderboard; prepare a submission from a results file"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("action", choices=("build", "serve", "verify", "prepare", "schema", "baselines"))
        parser.add_argument("results", nargs="?", help="prepare: results JSON of `hwbench run --out`")
        _root(parser)
        parser.add_argument("--out", help="build: site folder (default ROOT/site); prepare/schema: output file")
        parser.add_argument("--host", default="127.0.0.1", help="serve: address (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8000, help="serve: port (default 8000)")
        parser.add_argument("--rerun", action="store_true", help="verify: also re-execute entries marked verified")
        g = parser.add_argument_group("prepare")
        g.add_argument("--author", action="append", metavar="NAME", help="author (repeatable)")
        g.add_argument("--affiliation", help="affiliation of the authors")
        g.add_argument("--algorithm-name", help="display name (default: the results' algorithm)")
        g.add_argument("--algorithm-version", default="unversioned", help="algorithm version")
        g.add_argument("--url", help="algorithm URL (https://...)")
        g.add_argument("--license", help="algorithm license (SPDX id)")
        g.add_argument("--notes", help="free text shown with the entry")
        b = parser.add_argument_group("baselines")
        b.add_argument("--tasks", default="*", metavar="PATTERN", help="fnmatch pattern over task names")
        b.add_argument("--algorithms", default=None, metavar="A,B",
                       help="comma-separated algorithms (default: random, regularized-evolution, local-search, reinforce)")
        b.add_argument("--include-overlay", action="store_true",
                       help="also tasks on user-overlay columns (local use only: do not commit such entries)")
        b.add_argument("--no-rerun", action="store_true", help="do not re-run (entries are not marked verified)")
        _add_data_arguments(parser)
        add_format_argument(parser)

    def run(self, args: argparse.Namespace) -> int:
        if args.action == "build":
            from hwbench.leaderboard.build import build_site, load_entries

            site = build_site(args.root, args.out)
            n = len(load_entries(args.root))
            emit({"site": str(site), "entries": n, "index": str(site / "index.html")}, args.format)
            return 0
        if args.action == "serve":
            from hwbench.leaderboard.serve import serve

            site = Path(args.out) if args.out else Path(args.root) / "site"
            try:
                serve(site, args.host, args.port)
            except KeyboardInterrupt:
                pass
            return 0
        if args.action == "verify":
            from hwbench.leaderboard.build import verify

            results = verify(args.root, _source(args), rerun=args.rerun)
            emit([{"entry": r.entry, "ok": r.ok, "message": r.message} for r in results] or
                 [{"entry": "(none)", "ok": True, "message": f"no entries under {args.root}/submissions"}],
                 args.format)
            return 0 if all(r.ok for r in results) else 1
        if args.action == "schema":
            from hwbench.leaderboard.schema import schema_json

            if args.out:
                Path(args.out).write_text(schema_json())
            else:
                print(schema_json(), end="")
            return 0
        if args.action == "baselines":
            from hwbench.leaderboard.baselines import DEFAULT_ALGORITHMS, eligible_tasks, make_baselines
            from hwbench.search.tasks import default_registry

            table = _source(args)
            algos = tuple(a.strip() for a in args.algorithms.split(",")) if args.algorithms else DEFAULT_ALGORITHMS
            tasks = eligible_tasks(table, args.tasks, args.include_overlay)
            if not tasks:
                from hwbench.leaderboard.baselines import eligibility

                rows = [{"task": t.name, "status": "skipped", "detail": eligibility(t, table, args.include_overlay)}
                        for t in default_registry().list(args.tasks) if "test" not in t.tags]
                emit(rows or [{"task": "(none)", "status": "skipped", "detail": "no task matches"}], args.format)
                return 0
            res = make_baselines(args.root, table, tasks, algos, rerun=not args.no_rerun,
                                 include_overlay=args.include_overlay)
            emit([{"task": r.task, "algorithm": r.algorithm, "status": r.status, "detail": r.detail} for r in res],
                 args.format)
            return 0
        # prepare
        from hwbench.leaderboard.submit import submission_from_results
        from hwbench.search.runner import load_results

        if not args.results:
            raise CLIUsageError("`hwbench leaderboard prepare` needs the results file of `hwbench run --out`")
        missing = [f"--{n}" for n, v in (("author", args.author), ("license", args.license)) if not v]
        if missing:
            raise CLIUsageError(f"`prepare` needs {', '.join(missing)}")
        authors = [{"name": a, **({"affiliation": args.affiliation} if args.affiliation else {})}
                   for a in args.author]
        doc = submission_from_results(load_results(args.results), authors=authors, version=args.algorithm_version,
                                      url=args.url, license=args.license, name=args.algorithm_name,
                                      notes=args.notes)
        text = json.dumps(doc, indent=1) + "\n"
        if args.out:
            Path(args.out).write_text(text)
        else:
            print(text, end="")
        return 0
