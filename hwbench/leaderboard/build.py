"""Read the stored entries, verify them against the table, and build the static site.

The site (``<root>/site/``) is plain HTML with inline SVG and inline CSS: no JavaScript, no CDN,
it works from ``file://`` and offline. Every string that comes from a submission is HTML-escaped,
and each page carries a Content-Security-Policy that forbids scripts as a second line of defence.
"""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from hwbench.errors import HwbenchError
from hwbench.leaderboard.schema import MAX_FILE_BYTES, SubmissionError, parse_bytes, validate_document
from hwbench.leaderboard.submit import ENTRY_FORMAT, entry_path, evaluate, submission_id
from hwbench.leaderboard.svg import PALETTE, Plot, Series, render


class LeaderboardError(HwbenchError):
    """A stored entry that is malformed or no longer reproduces."""


@dataclass(frozen=True)
class Entry:
    path: Path
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def task(self) -> str:
        return str(self.data["submission"]["task"])

    @property
    def submission(self) -> dict[str, Any]:
        return self.data["submission"]  # type: ignore[no-any-return]

    @property
    def evaluation(self) -> dict[str, Any]:
        return self.data["evaluation"]  # type: ignore[no-any-return]


def read_entry(path: Path, root: Path) -> Entry:
    """Parse one stored entry and check its form, its id and where it is stored."""
    rel = path.relative_to(root)
    raw = path.read_bytes()
    if len(raw) > 4 * MAX_FILE_BYTES:
        raise LeaderboardError(f"{rel}: entry is {len(raw)} bytes, too large")
    try:
        data = parse_bytes(raw)
    except SubmissionError as exc:
        raise LeaderboardError(f"{rel}: {exc.rule}") from None
    if not isinstance(data, dict) or data.get("format") != ENTRY_FORMAT:
        raise LeaderboardError(f"{rel}: not a leaderboard entry (format {ENTRY_FORMAT!r})")
    for k, t in (("id", str), ("accepted", str), ("verified", bool), ("submission", dict), ("evaluation", dict)):
        if not isinstance(data.get(k), t):
            raise LeaderboardError(f"{rel}: field {k} must be a {t.__name__}")
    try:
        validate_document(data["submission"])
    except SubmissionError as exc:
        raise LeaderboardError(f"{rel}: submission.{exc.field}: {exc.rule}") from None
    sid = submission_id(data["submission"])
    if sid != data["id"]:
        raise LeaderboardError(f"{rel}: id {data['id']!r} does not match the content (expected {sid}); "
                               "entries must not be edited")
    try:
        want = entry_path(root, data["submission"]["task"], sid)
    except SubmissionError as exc:
        raise LeaderboardError(f"{rel}: {exc.rule}") from None
    if want != path.resolve():
        raise LeaderboardError(f"{rel}: must be stored as {want.relative_to(root.resolve())}")
    return Entry(path, data)


def load_entries(root: str | os.PathLike[str] = "leaderboard") -> list[Entry]:
    """Every entry under ``<root>/submissions/*/*.json`` (sorted by task, then id)."""
    r = Path(root)
    base = r / "submissions"
    if not base.is_dir():
        return []
    return [read_entry(p, r) for p in sorted(base.glob("*/*.json"))]


def _close(a: Any, b: Any, path: str = "") -> str | None:
    """None if equal (floats to 1e-9 relative), else the first differing path."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return f"{path} keys {sorted(set(a) ^ set(b))}"
        for k in a:
            d = _close(a[k], b[k], f"{path}.{k}" if path else k)
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path} length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = _close(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return None if math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12) else f"{path}: {a} != {b}"
    return None if a == b else f"{path}: {a!r} != {b!r}"


@dataclass(frozen=True)
class VerifyResult:
    entry: str
    task: str
    ok: bool
    message: str


def verify(root: str | os.PathLike[str] = "leaderboard", source: Any | None = None, *,
           rerun: bool = False) -> list[VerifyResult]:
    """Re-check every stored entry: form, id, and a full re-validation and re-scoring from the
    table, compared with the stored evaluation. With ``rerun``, entries marked verified are also
    re-executed. Entries whose task the table cannot run are reported as failures (a maintainer's
    CI must have the data)."""
    r = Path(root)
    out: list[VerifyResult] = []
    base = r / "submissions"
    paths = sorted(base.glob("*/*.json")) if base.is_dir() else []
    if base.is_dir():  # anything else under submissions/ is not an entry and would go unchecked
        for p in sorted(base.rglob("*")):
            if (p.is_file() or p.is_symlink()) and p not in paths:
                out.append(VerifyResult(str(p.relative_to(r)), "?", False,
                                        "unexpected file: entries are submissions/<task>/<id>.json only"))
    problems: dict[str, Any] = {}
    for p in paths:
        rel = str(p.relative_to(r))
        try:
            e = read_entry(p, r)
            task = e.task
            if task not in problems:
                from hwbench.leaderboard.submit import load_problem, resolve_task

                problems[task] = load_problem(resolve_task(e.submission), source)
            ev = evaluate(e.submission, problem=problems[task])
            # the table file it was scored on is provenance (a rebuild with the same task columns keeps
            # the entry valid); everything else, the data hash included, must match
            diff = _close({k: v for k, v in ev.evaluation.items() if k != "scored_on_table_sha256"},
                          {k: v for k, v in e.evaluation.items() if k != "scored_on_table_sha256"})
            if diff:
                raise LeaderboardError(f"stored evaluation differs from the re-computed one at {diff}")
            msg = "re-scored: matches"
            if rerun and e.data["verified"]:
                from hwbench.leaderboard.rerun import rerun as do_rerun

                msg += "; " + do_rerun(ev)
            out.append(VerifyResult(rel, task, True, msg))
        except (HwbenchError, OSError) as exc:
            out.append(VerifyResult(rel, p.parent.name, False, str(exc)))
    return out


# -- the site ----------------------------------------------------------------------------------
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%;margin:1rem 0}th,td{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:.1rem .45rem;border-radius:.6rem;font-size:.8rem}
.verified{background:#d4f7d4;color:#185c18}.unverified{background:#eee;color:#555}
.muted{color:#666;font-size:.9rem}code{background:#f4f4f4;padding:0 .2rem}
.plots{display:flex;flex-wrap:wrap;gap:1rem}td.text{overflow-wrap:anywhere;max-width:16rem}td code{white-space:nowrap}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem}dt{font-weight:600}dd{margin:0}
"""
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'"


def _page(title: str, body: str, up: str = "") -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{_CSP}\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>\n"
        f"<nav><a href=\"{up}index.html\">hwbench leaderboard</a></nav>\n{body}\n"
        "<footer class=\"muted\"><p>Scores are re-computed from the benchmark table by "
        "<code>hwbench leaderboard build</code>; lower is better. Generated offline, no scripts.</p></footer>"
        "</body></html>\n"
    )


def _num(v: Any, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return f"{float(v):.{digits}g}"


def _algo_cell(sub: dict[str, Any], notes: bool = False) -> str:
    a = sub["algorithm"]
    name = escape(str(a["name"]))
    url = str(a.get("url", ""))
    link = f'<a href="{escape(url, quote=True)}" rel="nofollow noopener">{name}</a>' if url.startswith(
        ("https://", "http://")) else name
    text = sub.get("notes") if notes else None
    extra = (f'<details class="muted notes"><summary>notes</summary>{escape(str(text))}</details>'
             if text else "")
    return f'<span class="algo">{link}</span> <span class="muted">{escape(str(a["version"]))}</span>{extra}'


def _ranked(entries: list[Entry]) -> list[Entry]:
    def key(e: Entry) -> tuple[float, float, str]:
        s = e.evaluation["summary"]
        m = s.get("mean")
        hi = (s.get("ci95_bootstrap") or [None, None])[1]
        return (float("inf") if m is None else float(m), float("inf") if hi is None else float(hi), e.id)

    return sorted(entries, key=key)


def _task_info(task_name: str) -> Any:
    from hwbench.search.tasks import default_registry

    try:
        return default_registry().get(task_name)
    except HwbenchError:
        return None


def _task_page(task_name: str, entries: list[Entry]) -> str:
    ranked = _ranked(entries)
    ev0 = ranked[0].evaluation
    metric = ev0.get("metric", "regret")
    t = _task_info(task_name)
    rows = []
    for k, e in enumerate(ranked, 1):
        s = e.evaluation["summary"]
        lo, hi = (s.get("ci95_bootstrap") or [None, None])[:2]
        sub = e.submission
        authors = ", ".join(escape(str(a["name"])) for a in sub["authors"])
        badge = ('<span class="badge verified" title="re-executed; trajectories identical">verified</span>'
                 if e.data["verified"] else '<span class="badge unverified" title="re-scored, not re-run">'
                 're-scored</span>')
        evals = [r.get("evaluations", 0) for r in e.evaluation.get("runs", [])]
        rows.append(
            f'<tr class="entry" id="e-{escape(e.id)}"><td class="num">{k}</td><td class="text">{_algo_cell(sub, notes=True)}</td>'
            f"<td class=\"text\">{authors}</td><td class=\"num mean\">{_num(s.get('mean'))}</td>"
            f"<td class=\"num\">[{_num(lo)}, {_num(hi)}]</td><td class=\"num\">{int(s.get('n', 0))}</td>"
            f"<td class=\"num\">{_num(sum(evals) / max(len(evals), 1))}</td><td>{badge}</td>"
            f"<td>{escape(str(e.data['accepted']))}</td><td>{escape(str(sub['algorithm']['license']))}</td>"
            f"<td><code>{escape(e.id)}</code></td></tr>"
        )
    head = ("<tr><th>#</th><th>algorithm</th><th>authors</th><th>mean " + escape(metric) + "</th>"
            "<th>95% CI (bootstrap)</th><th>seeds</th><th>evaluations</th><th>status</th><th>submitted</th>"
            "<th>license</th><th>id</th></tr>")
    desc = ""
    if t is not None:
        d = t.describe()
        desc = "<dl>" + "".join(f"<dt>{escape(str(k))}</dt><dd>{escape(str(v))}</dd>" for k, v in d.items()
                                if k != "name") + "</dl>"
    # anytime plot
    series = []
    for k, e in enumerate(ranked[: len(PALETTE)]):
        a = e.evaluation["summary"].get("anytime") or {}
        series.append(Series(f"{e.submission['algorithm']['name']} ({e.id[:6]})", a.get("x", []), a.get("mean", []),
                             PALETTE[k], a.get("ci_low"), a.get("ci_high")))
    ys = [float(v) for se in series for v in (*se.y, *(se.low or ()), *(se.high or ()))
          if v is not None and math.isfinite(float(v))]
    pos = [v for v in ys if v > 0]
    # the first evaluations' regret is often 100x the rest: a log axis keeps the later differences visible
    logy = bool(pos) and max(pos) / min(pos) > 100
    plots = [render(Plot(f"anytime {metric} (mean, 95% CI)", ev0.get("clock_unit", "evaluations"),
                         f"{metric} of the incumbent" + ("; 0 on the axis floor" if logy and min(ys) <= 0 else ""),
                         series, logy=logy))]
    if ev0.get("kind") == "pareto":
        fs = [Series("true front", *_xy(ev0.get("true_front", [])), "#000000", step=True, dashed=True)]
        for k, e in enumerate(ranked[: len(PALETTE)]):
            runs = e.evaluation.get("runs", [])
            if not runs:
                continue
            med = sorted(runs, key=lambda r: (r.get("regret") or 0.0, r.get("seed", 0)))[len(runs) // 2]
            fs.append(Series(f"{e.submission['algorithm']['name']} seed {med.get('seed')}",
                             *_xy(med.get("front", [])), PALETTE[k], step=True, markers=True))
        xs = [p[0] for p in ev0.get("true_front", []) if p and p[0]]
        logx = bool(xs) and min(xs) > 0 and max(xs) / min(xs) > 100
        plots.append(render(Plot("Pareto fronts (median seed per entry)", str(ev0.get("cost", "cost")),
                                 str(ev0.get("accuracy", "accuracy")), fs, logx=logx)))
    body = (f"<h1>{escape(task_name)}</h1>{desc}"
            f"<h2>Ranking</h2><table class=\"ranking\"><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
            f"<p class=\"muted\">Ranked by mean {escape(metric)} over seeds (lower is better); CI: 95% percentile "
            "bootstrap of the mean. <b>verified</b>: the algorithm was re-executed and reproduced every trajectory; "
            "<b>re-scored</b>: trajectories validated and scored from the table, not re-executed.</p>"
            f"<h2>Plots</h2><div class=\"plots\">{''.join(plots)}</div>")
    return _page(f"{task_name} - hwbench leaderboard", body, up="../")


def _xy(points: list[list[float]]) -> tuple[list[float], list[float]]:
    return [float(p[0]) for p in points], [float(p[1]) for p in points]


def build_site(root: str | os.PathLike[str] = "leaderboard", out: str | os.PathLike[str] | None = None) -> Path:
    """Write ``index.html`` and ``tasks/<task>.html`` for every task with entries; returns the site
    folder. The folder is rebuilt from scratch (only files this function writes are in it)."""
    r = Path(root)
    site = Path(out) if out is not None else r / "site"
    entries = load_entries(r)
    by_task: dict[str, list[Entry]] = {}
    for e in entries:
        by_task.setdefault(e.task, []).append(e)
    if site.exists():
        if not (site / ".hwbench-site").is_file() and any(site.iterdir()):
            raise LeaderboardError(f"{site} exists and was not made by `hwbench leaderboard build`; not touching it")
        shutil.rmtree(site)
    (site / "tasks").mkdir(parents=True)
    (site / ".hwbench-site").write_text("built by hwbench leaderboard build\n")
    for task, es in by_task.items():
        (site / "tasks" / f"{task}.html").write_text(_task_page(task, es), encoding="utf-8")
    rows = []
    for task in sorted(by_task):
        best = _ranked(by_task[task])[0]
        s = best.evaluation["summary"]
        rows.append(f'<tr><td><a href="tasks/{escape(task)}.html">{escape(task)}</a></td>'
                    f"<td>{escape(str(best.evaluation.get('kind', '')))}</td><td class=\"num\">{len(by_task[task])}</td>"
                    f"<td>{_algo_cell(best.submission)}</td><td class=\"num\">{_num(s.get('mean'))}</td></tr>")
    table = ("<table class=\"tasks\"><thead><tr><th>task</th><th>kind</th><th>entries</th><th>best</th>"
             f"<th>best mean score</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
             if rows else "<p>No entries yet.</p>")
    body = ("<h1>hwbench leaderboard</h1><p>Every entry's trajectories were validated against the task and "
            "re-scored from the benchmark table; scores in submitted files are ignored.</p>" + table)
    (site / "index.html").write_text(_page("hwbench leaderboard", body), encoding="utf-8")
    return site


def write_schema(path: str | os.PathLike[str]) -> None:
    from hwbench.leaderboard.schema import schema_json

    Path(path).write_text(schema_json())
