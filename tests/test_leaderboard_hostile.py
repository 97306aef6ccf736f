"""Hostile input: a generated suite (hypothesis, derandomized) of malformed and hostile submissions.

Categories: broken JSON and bytes, wrong types anywhere in the document, unknown cells, budget
overruns, missing/duplicate/out-of-range seeds, forged scores and clocks, wrong table/data hashes,
path traversal in names, oversized fields and files, hostile text (HTML/JS, control and bidi
characters). Every case must end in exactly one of: a :class:`SubmissionError` with a one-line
message naming a field, or an accepted entry stored at ``<root>/submissions/<task>/<16 hex>.json``
whose evaluation is the re-computed one. Nothing may be written anywhere else, and the site built
from whatever was accepted must contain no script, no event-handler attribute and no foreign link.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwbench.leaderboard.schema import MAX_FILE_BYTES, SubmissionError
from hwbench.leaderboard.testing import TEST_TASK, register_test_task, write_synthetic_overlay

SETTINGS = settings(max_examples=110, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large, HealthCheck.large_base_example])
STATS: Counter[str] = Counter()
_ENTRY = re.compile(r"submissions/[a-z0-9][a-z0-9_\-]*\.v[0-9]+/[0-9a-f]{16}\.json")


class Ctx:
    def __init__(self, base: Path) -> None:
        from hwbench.leaderboard.submit import evaluate, submission_from_results
        from hwbench.search.algorithms import create_algorithm
        from hwbench.search.runner import problem_for, results_dict, run_seeds
        from hwbench.table import load

        self.work = base
        self.root = base / "lb"
        self.inputs = base / "inputs"
        self.inputs.mkdir()
        user = base / "user"
        write_synthetic_overlay(user)
        register_test_task()
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("HWBENCH_USER_DIR", str(user))
            self.problem = problem_for(TEST_TASK, load("nb201"))
        trajs = run_seeds(self.problem, lambda: create_algorithm("random"), range(3))
        self.doc = submission_from_results(results_dict(self.problem, "random", trajs), authors=[{"name": "Base"}],
                                           version="1", url="https://example.org", license="MIT")
        self.evaluation = evaluate(self.doc, problem=self.problem).evaluation
        from hwbench.spaces import get_space

        self.archs = list(get_space("nb201").all_strings[:50])
        self.n = 0

    def check(self, category: str, doc: Any = None, raw: bytes | None = None,
              must_reject: bool = False, same_score: bool = False) -> None:
        """Submit one case and check the outcome (rejected cleanly, or stored safely)."""
        from hwbench.leaderboard.submit import submit

        STATS[f"{category}:tried"] += 1
        STATS["total:tried"] += 1
        self.n += 1
        try:
            if raw is not None:
                p = self.inputs / f"case{self.n}.json"
                p.write_bytes(raw)
                acc = submit(p, self.root, problem=self.problem)
            else:
                acc = submit(doc, self.root, problem=self.problem)
        except SubmissionError as exc:
            msg = str(exc)
            assert msg.startswith("submission rejected: field ") and "\n" not in msg and len(msg) < 2000, msg
            STATS[f"{category}:rejected"] += 1
            STATS["total:rejected"] += 1
            return
        assert not must_reject, f"{category}: accepted a case that must be rejected"
        rel = acc.path.relative_to(self.root.resolve()).as_posix()
        assert _ENTRY.fullmatch(rel), rel
        stored = json.loads(acc.path.read_text(encoding="utf-8"))
        assert "scores" not in stored["submission"]
        if same_score:
            assert stored["evaluation"] == self.evaluation
        STATS[f"{category}:accepted"] += 1
        STATS["total:accepted (stored as text)"] += 1


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Ctx:
    return Ctx(tmp_path_factory.mktemp("hostile"))


def _d(ctx: Ctx) -> dict[str, Any]:
    return copy.deepcopy(ctx.doc)


json_scalar = st.none() | st.booleans() | st.integers(-2**63, 2**63) | st.floats(allow_nan=False) | st.text(max_size=30)
json_value = st.recursive(json_scalar, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                          max_leaves=10)
HOSTILE_TEXT = st.sampled_from([
    "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "javascript:alert(1)", "'; DROP TABLE x;--",
    "../../../../etc/passwd", "..\\..\\windows\\system32", "\u202etxt.exe", "\x00\x01\x1b[31m", "&lt;&amp;",
    "</style><script>x</script>", "<svg onload=alert(1)>", "{{7*7}}", "\ud7ff\ue000\U0001f600", "%00%2e%2e%2f",
]) | st.text(min_size=1, max_size=60)


# -- broken JSON and bytes ----------------------------------------------------------------------
@SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes(ctx: Ctx, raw: bytes) -> None:
    ctx.check("broken-json", raw=raw, must_reject=True)


@SETTINGS
@given(st.data())
def test_truncated_and_corrupted_json(ctx: Ctx, data: st.DataObject) -> None:
    text = json.dumps(ctx.doc).encode()
    cut = data.draw(st.integers(0, len(text) - 1))
    ctx.check("broken-json", raw=text[:cut], must_reject=True)
    pos = data.draw(st.integers(0, len(text) - 1))
    flipped = text[:pos] + bytes([text[pos] ^ data.draw(st.integers(1, 255))]) + text[pos + 1:]
    ctx.check("corrupted-byte", raw=flipped)


# -- wrong types anywhere -----------------------------------------------------------------------
def _paths(x: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(x, dict):
        for k, v in x.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(x, list):
        for i, v in enumerate(x[:3]):  # a few elements of long lists
            out += _paths(v, (*prefix, i))
    return out


@SETTINGS
@given(st.data())
def test_wrong_types_and_values(ctx: Ctx, data: st.DataObject) -> None:
    doc = _d(ctx)
    path = data.draw(st.sampled_from(_paths(doc)))
    value = data.draw(json_value)
    cur = doc
    for p in path[:-1]:
        cur = cur[p]
    if data.draw(st.booleans()) and isinstance(cur, dict):
        del cur[path[-1]]
    else:
        cur[path[-1]] = value
    ctx.check("wrong-type", doc)


# -- unknown cells ------------------------------------------------------------------------------
OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3", "conv_7x7", "", "NONE", "max_pool_3x3"]


@SETTINGS
@given(st.data())
def test_unknown_cells(ctx: Ctx, data: st.DataObject) -> None:
    doc = _d(ctx)
    run = data.draw(st.integers(0, 2))
    j = data.draw(st.integers(0, 39))
    kind = data.draw(st.integers(0, 2))
    if kind == 0:
        bad = data.draw(st.text(min_size=1, max_size=80))
    elif kind == 1:
        ops = [data.draw(st.sampled_from(OPS)) for _ in range(6)]
        if all(o in OPS[:5] for o in ops):
            ops[data.draw(st.integers(0, 5))] = "conv_7x7"
        bad = f"|{ops[0]}~0|+|{ops[1]}~0|{ops[2]}~1|+|{ops[3]}~0|{ops[4]}~1|{ops[5]}~2|"
    else:  # valid ops, wrong node inputs
        e = data.draw(st.integers(3, 9))
        bad = f"|none~{e}|+|none~0|none~1|+|none~0|none~1|none~2|"
    doc["runs"][run]["archs"][j] = bad
    ctx.check("unknown-cell", doc, must_reject=True)


# -- budget -------------------------------------------------------------------------------------
@SETTINGS
@given(st.integers(1, 60), st.integers(0, 2), st.booleans())
def test_budget_overruns(ctx: Ctx, extra: int, run: int, keep_clock: bool) -> None:
    doc = _d(ctx)
    r = doc["runs"][run]
    r["archs"] = r["archs"] + [ctx.archs[k % len(ctx.archs)] for k in range(extra)]
    if keep_clock:
        r["clock_s"] = [float(k + 1) for k in range(len(r["archs"]))]
    else:
        r.pop("clock_s", None)
    ctx.check("budget-overrun", doc, must_reject=True)


# -- seeds --------------------------------------------------------------------------------------
@SETTINGS
@given(st.lists(st.integers(-3, 12), min_size=0, max_size=6))
def test_seed_sets(ctx: Ctx, seeds: list[int]) -> None:
    doc = _d(ctx)
    by_seed = {r["seed"]: r for r in doc["runs"]}
    runs = []
    for s in seeds:
        r = copy.deepcopy(by_seed.get(s, doc["runs"][0]))
        r["seed"] = s
        runs.append(r)
    doc["runs"] = runs
    valid = sorted(seeds) == [0, 1, 2] and all(by_seed.get(s) for s in seeds)
    ctx.check("seeds", doc, must_reject=not valid)


# -- forged scores and clocks -------------------------------------------------------------------
@SETTINGS
@given(json_value, st.integers(0, 2), st.integers(0, 39), st.floats(allow_nan=False, allow_infinity=False))
def test_forged_scores_are_ignored_and_forged_clocks_rejected(ctx: Ctx, scores: Any, run: int, j: int,
                                                              clock: float) -> None:
    doc = _d(ctx)
    doc["scores"] = scores
    doc["algorithm"]["name"] = f"forged-{STATS['forged-score:tried']}"  # new content: a new entry
    ctx.check("forged-score", doc, same_score=True)
    doc = _d(ctx)
    if doc["runs"][run]["clock_s"][j] == clock or clock < 0:
        clock = doc["runs"][run]["clock_s"][j] + 0.5
    doc["runs"][run]["clock_s"][j] = clock
    ctx.check("forged-clock", doc, must_reject=True)


# -- hashes -------------------------------------------------------------------------------------
@SETTINGS
@given(st.sampled_from(["table_sha256", "data_sha256"]), st.text(alphabet="0123456789abcdefABCDEF", max_size=70))
def test_wrong_hashes(ctx: Ctx, field: str, value: str) -> None:
    doc = _d(ctx)
    import re

    if value == doc[field]:
        value = "0" * 64
    doc[field] = value
    # a well-formed table_sha256 of another table is provenance, not a reason to reject: the score
    # depends on the task's columns only (data_sha256); every other altered hash must be rejected
    provenance_only = field == "table_sha256" and re.fullmatch("[0-9a-f]{64}", value) is not None
    ctx.check("wrong-hash", doc, must_reject=not provenance_only)


# -- path traversal and hostile names -----------------------------------------------------------
TRAVERSAL = st.sampled_from([
    "../../etc/passwd", "../x.v1", "..", "/abs.v1", "a/../../b.v1", "nb201-x.v1/../../y", "x.v1\x00.json",
    "C:\\x.v1", "~/.bashrc.v1", "%2e%2e%2fx.v1", TEST_TASK + "/../../z", TEST_TASK.upper(), " " + TEST_TASK,
]) | st.text(max_size=40)


@SETTINGS
@given(TRAVERSAL, HOSTILE_TEXT)
def test_path_traversal_in_names(ctx: Ctx, task: str, name: str) -> None:
    doc = _d(ctx)
    doc["task"] = task
    ctx.check("path-traversal", doc, must_reject=True)
    doc = _d(ctx)
    doc["algorithm"]["name"] = name[:100]
    doc["authors"] = [{"name": name[:200], "affiliation": "../../" + name[:150]}]
    ctx.check("hostile-text", doc)


# -- oversized ----------------------------------------------------------------------------------
@settings(max_examples=20, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.sampled_from(["notes", "name", "author", "runs", "archs", "params"]), st.integers(1, 2))
def test_oversized_fields(ctx: Ctx, what: str, factor: int) -> None:
    doc = _d(ctx)
    if what == "notes":
        doc["notes"] = "x" * (2001 * factor)
    elif what == "name":
        doc["algorithm"]["name"] = "n" * (101 * factor)
    elif what == "author":
        doc["authors"] = [{"name": "a"}] * (51 * factor)
    elif what == "runs":
        doc["runs"] = doc["runs"] * (34 * factor)
    elif what == "archs":
        doc["runs"][0]["archs"] = doc["runs"][0]["archs"][:1] * (100_001 * factor)
        doc["runs"][0].pop("clock_s")
    else:
        doc["algorithm"]["params"] = {f"k{i}": i for i in range(101 * factor)}
    ctx.check("oversized", doc, must_reject=True)


def test_oversized_files(ctx: Ctx) -> None:
    blob = json.dumps({**ctx.doc, "notes": "x" * (MAX_FILE_BYTES + 10)}).encode()
    ctx.check("oversized-file", raw=blob, must_reject=True)
    ctx.check("oversized-file", raw=b"[" * 200_000 + b"]" * 200_000, must_reject=True)
    ctx.check("oversized-file", raw=b'{"a":' * 5000 + b"1" + b"}" * 5000, must_reject=True)


# -- the outcome --------------------------------------------------------------------------------
def test_nothing_outside_the_leaderboard_and_site_is_safe(ctx: Ctx) -> None:
    from html.parser import HTMLParser

    from hwbench.leaderboard.build import build_site, verify

    for p in ctx.work.rglob("*"):
        if p.is_file():
            rel = p.relative_to(ctx.work).as_posix()
            assert rel.startswith(("inputs/", "user/")) or (rel.startswith("lb/") and _ENTRY.fullmatch(rel[3:])), rel
    assert not list(Path.cwd().glob("*.v1")) and not (Path.cwd() / "submissions").exists()
    site = build_site(ctx.root)

    class Scan(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.bad: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag in ("script", "img", "iframe", "object", "embed", "base", "meta") and not (
                    tag == "meta" and all(k in ("charset", "http-equiv", "content", "name") for k, _ in attrs)):
                self.bad.append(tag)
            for k, v in attrs:
                if k.startswith("on") or (k == "href" and not (v or "").startswith(("https://", "http://", "tasks/",
                                                                                       "../", "index.html"))):
                    self.bad.append(f"{tag}[{k}={v!r}]")

    pages = list(site.rglob("*.html"))
    assert pages
    for page in pages:
        s = Scan()
        s.feed(page.read_text(encoding="utf-8"))
        assert not s.bad, (page, s.bad[:5])
    assert all(r.ok for r in verify(ctx.root, problem_source(ctx))), "stored entries must verify"
    tried, rejected = STATS["total:tried"], STATS["total:rejected"]
    report = ", ".join(f"{k}={v}" for k, v in sorted(STATS.items()))
    print(f"\nhostile cases: {tried} tried, {rejected} rejected, {tried - rejected} stored as text; {report}")
    assert tried >= 1000, report


def problem_source(ctx: Ctx) -> Any:
    """A table-like source equal to the one the cases were checked against."""
    from hwbench.search.problem import ColumnSource

    return ColumnSource({k: v for k, v in ctx.problem.objective.columns.items()},
                        sha256=ctx.problem.objective.table_sha256)

