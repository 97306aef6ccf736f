"""CLI: ``hwbench submit FILE [--rerun]`` and ``hwbench leaderboard prepare|build|serve|verify|schema|baselines``."""

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
        b.add_argument("--tasks", default="*", metavar="PATTERN",
                       help="fnmatch pattern(s) over task names, comma-separated (default: every task)")
        b.add_argument("--algorithms", default=None, metavar="A,B",
                       help="comma-separated algorithms for every task (default, per family: NB201 random, "
                       "regularized-evolution, local-search, reinforce; compression greedy-bits, haq-reinforce, "
                       "regularized-evolution, random); algorithms that cannot run a task skip it")
        b.add_argument("--include-overlay", action="store_true",
                       help="also tasks on user-overlay columns (local use only: do not commit such entries)")
        b.add_argument("--include-test", action="store_true",
                       help="also tasks tagged `test` (smoke tasks; do not commit such entries)")
        b.add_argument("--no-rerun", action="store_true", help="do not re-run (entries are not marked verified)")
        b.add_argument("--dry-run", action="store_true",
                       help="list what would run (and what is stored already or skipped); run and write nothing")
        b.add_argument("--check", action="store_true",
                       help="gap report: per runnable task x algorithm, present / missing / stale; "
                       "exit 1 if anything is missing or stale")
        b.add_argument("--no-progress", action="store_true", help="no progress bar")
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

            source = _source(args)
            if args.compress_store:  # compression entries scored on the campaign under that store
                from hwbench.leaderboard.baselines import source_with_compression
                from hwbench.search.tasks import is_task

                sub = Path(args.root) / "submissions"
                names = sorted(p.name for p in sub.iterdir() if p.is_dir()) if sub.is_dir() else []
                source = source_with_compression(source, [n for n in names if is_task(n)], args.compress_store)
            results = verify(args.root, source, rerun=args.rerun)
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
            return self._baselines(args)
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

    def _baselines(self, args: argparse.Namespace) -> int:
        import sys
        from collections import Counter

        from hwbench.leaderboard.baselines import (
            baseline_gaps,
            check_algorithms,
            has_gaps,
            make_baselines,
            select_tasks,
        )

        if args.check and args.dry_run:
            raise CLIUsageError("give --check or --dry-run, not both")
        table = _source(args)
        algos = check_algorithms(args.algorithms.split(",")) if args.algorithms else None
        tasks, skipped = select_tasks(args.tasks, include_test=args.include_test)
        common = {"include_overlay": args.include_overlay, "compress_store": args.compress_store}
        if args.check:
            res = baseline_gaps(args.root, table, tasks, algos, **common)
        else:
            res = make_baselines(args.root, table, tasks, algos, rerun=not args.no_rerun, dry_run=args.dry_run,
                                 progress=not args.no_progress and sys.stderr.isatty(), **common)
        rows = [r.to_row() for r in [*res, *skipped]]
        rows.sort(key=lambda r: r["task"])
        emit(rows or [{"task": "(none)", "algorithm": "*", "status": "skipped",
                       "detail": f"no task matches {args.tasks!r}"}], args.format)
        counts = Counter(r["status"] for r in rows)
        print("baselines: " + (", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "nothing to do")
              + (" (dry run: nothing run or written)" if args.dry_run else ""), file=sys.stderr)
        return 1 if args.check and has_gaps(res) else 0
