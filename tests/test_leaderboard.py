"""Leaderboard: schema, submission rules, re-scoring, storage, re-running, verify, site, CLI.

Runs on the shipped table's analytic columns plus a SYNTHETIC accuracy overlay written to a
temporary user folder (hwbench.leaderboard.testing); everything else is the real pipeline.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import sys
import textwrap
import threading
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest

from hwbench.leaderboard.schema import SCHEMA_ID, SubmissionError, json_schema, schema_json
from hwbench.leaderboard.testing import TEST_TASK, register_test_task, write_synthetic_overlay

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def lb_user(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("lbuser")
    write_synthetic_overlay(d)
    return d


@pytest.fixture(autouse=True)
def _lb_env(_user_dir: None, lb_user: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HWBENCH_USER_DIR", str(lb_user))


def _results(task: str, algorithm: str = "regularized-evolution", **params: object) -> dict:
    from hwbench.search.algorithms import create_algorithm
    from hwbench.search.runner import problem_for, results_dict, run_seeds
    from hwbench.table import load

    register_test_task()
    problem = problem_for(task, load("nb201"))
    trajs = run_seeds(problem, lambda: create_algorithm(algorithm, **params), range(problem.task.seeds))
    return results_dict(problem, algorithm, trajs, params or trajs[0].params)


def _doc(results: dict, **kw: object) -> dict:
    from hwbench.leaderboard.submit import submission_from_results

    return submission_from_results(results, authors=[{"name": "Ada"}], version="1.0",
                                   url="https://example.org/algo", license="MIT", **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def re_doc(lb_user: Path) -> dict:
    import os

    old = os.environ.get("HWBENCH_USER_DIR")
    os.environ["HWBENCH_USER_DIR"] = str(lb_user)
    try:
        return _doc(_results(TEST_TASK, population_size=10, sample_size=3))
    finally:
        if old is None:
            del os.environ["HWBENCH_USER_DIR"]
        else:
            os.environ["HWBENCH_USER_DIR"] = old


# -- schema -------------------------------------------------------------------------------------
def test_published_schema_is_current_and_valid() -> None:
    import jsonschema

    published = (REPO / "docs" / "submission.schema.json").read_text()
    assert published == schema_json(), "regenerate: hwbench leaderboard schema --out docs/submission.schema.json"
    jsonschema.Draft202012Validator.check_schema(json_schema())
    assert json_schema()["properties"]["schema"]["const"] == SCHEMA_ID == "hwbench.submission/1"


# -- accepting ----------------------------------------------------------------------------------
def test_submit_rescoring_ignores_forged_scores_and_never_overwrites(re_doc: dict, tmp_path: Path) -> None:
    from hwbench.leaderboard.submit import submission_id, submit
    from hwbench.search.runner import problem_for
    from hwbench.search.scoring import score_results
    from hwbench.table import load

    forged = copy.deepcopy(re_doc)
    forged["scores"] = {"summary": {"mean": -1000.0}, "runs": [{"regret": 0.0}]}
    assert submission_id(forged) == submission_id(re_doc)  # ignored fields do not change the id
    acc = submit(forged, tmp_path)
    assert acc.path == tmp_path.resolve() / "submissions" / TEST_TASK / f"{acc.id}.json"
    stored = json.loads(acc.path.read_text())
    assert "scores" not in stored["submission"] and stored["verified"] is False
    # independent re-computation with the search package's scorer
    problem = problem_for(TEST_TASK, load("nb201"))
    results = {"task": {"name": TEST_TASK}, "runs": re_doc["runs"], "table_sha256": re_doc["table_sha256"],
               "data_sha256": re_doc["data_sha256"]}
    _, summary = score_results(problem, results)
    assert stored["evaluation"]["summary"]["mean"] == pytest.approx(summary.mean, rel=1e-12)
    assert stored["evaluation"]["summary"]["mean"] >= 0.0  # a regret, not the forged -1000
    assert len(stored["evaluation"]["runs"]) == 3
    # the same content again: rejected, file untouched
    before = acc.path.read_bytes()
    with pytest.raises(SubmissionError, match="already stored"):
        submit(re_doc, tmp_path)
    assert acc.path.read_bytes() == before
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [
        f"submissions/{TEST_TASK}/{acc.id}.json"]


def _set(doc: dict, path: tuple, value: object) -> dict:
    d = copy.deepcopy(doc)
    cur = d
    for p in path[:-1]:
        cur = cur[p]
    if value is _DEL:
        del cur[path[-1]]
    else:
        cur[path[-1]] = value
    return d


_DEL = object()
BAD_ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|conv_7x7~2|"


def _mutations(doc: dict) -> list[tuple[str, dict, str, str]]:
    runs = doc["runs"]
    over = _set(doc, ("runs", 0, "archs"), runs[0]["archs"] + runs[0]["archs"][:1])
    over["runs"][0].pop("clock_s")
    return [
        ("unknown task", _set(doc, ("task",), "nb201-nope.v1"), "task", "registered task"),
        ("unversioned task", _set(doc, ("task",), "nb201-fmnist-train-params-constrained"), "task", "pattern"),
        ("traversal in task", _set(doc, ("task",), "../../etc/passwd.v1"), "task", "pattern"),
        ("short table hash", _set(doc, ("table_sha256",), "abc"), "table_sha256", "pattern"),
        ("wrong data hash", _set(doc, ("data_sha256",), "f" * 64), "data_sha256", "other column data"),
        ("missing seed", _set(doc, ("runs",), runs[:2]), "runs", "missing seed(s) 2"),
        ("duplicate seed", _set(doc, ("runs", 1, "seed"), 0), "runs[1].seed", "appears twice"),
        ("seed out of range", _set(doc, ("runs", 2, "seed"), 7), "runs[2].seed", "requires seeds 0..2"),
        ("negative seed", _set(doc, ("runs", 2, "seed"), -1), "runs[2].seed", ">= 0"),
        ("unknown cell", _set(doc, ("runs", 0, "archs", 5), BAD_ARCH), "runs[0].archs[5]", "cell of space nb201"),
        ("budget overrun", over, "runs[0].archs", "overruns the budget"),
        ("forged clock", _set(doc, ("runs", 1, "clock_s", 3), 99.0), "runs[1].clock_s[3]", "simulated clock"),
        ("clock length", _set(doc, ("runs", 1, "clock_s"), [1.0]), "runs[1].clock_s", "one entry per"),
        ("fidelity on a plain task", _set(doc, ("runs", 0, "epochs"), [3] * len(runs[0]["archs"])),
         "runs[0].epochs[0]", "multi-fidelity"),
        ("wrong type", _set(doc, ("algorithm", "name"), 42), "algorithm.name", "type string"),
        ("unknown field", _set(doc, ("evil",), 1), "evil", "unknown field"),
        ("no authors", _set(doc, ("authors",), []), "authors", "at least 1"),
        ("missing license", _set(doc, ("algorithm", "license"), _DEL), "algorithm.license", "required"),
        ("javascript url", _set(doc, ("algorithm", "url"), "javascript:alert(1)"), "algorithm.url", "pattern"),
        ("future schema", _set(doc, ("schema",), "hwbench.submission/2"), "schema", "hwbench.submission/1"),
        ("bad rerun", _set(doc, ("rerun",), {"shell": "rm -rf /"}), "rerun", "either"),
    ]


def test_every_rule_rejects_with_field_and_rule(re_doc: dict, tmp_path: Path) -> None:
    from hwbench.leaderboard.submit import submit

    for what, doc, field, rule in _mutations(re_doc):
        with pytest.raises(SubmissionError) as ei:
            submit(doc, tmp_path)
        e = ei.value
        assert e.field == field, (what, str(e))
        assert rule in e.rule, (what, str(e))
        assert str(e).startswith(f"submission rejected: field {field}: "), what
        assert "\n" not in str(e), what
    assert not (tmp_path / "submissions").exists()


def test_file_level_rules(tmp_path: Path, re_doc: dict) -> None:
    from hwbench.leaderboard.schema import MAX_FILE_BYTES
    from hwbench.leaderboard.submit import read_submission

    cases = {
        "nan.json": json.dumps(re_doc).replace('"seed": 0', '"seed": NaN').encode(),
        "trunc.json": json.dumps(re_doc).encode()[:100],
        "latin1.json": b'{"schema": "\xe9"}',
        "dupkey.json": b'{"schema": "a", "schema": "b"}',
        "big.json": b" " * (MAX_FILE_BYTES + 1),
        "deep.json": b"[" * 100000 + b"]" * 100000,
        "list.json": b"[1, 2]",
    }
    for name, raw in cases.items():
        (tmp_path / name).write_bytes(raw)
        with pytest.raises(SubmissionError) as ei:
            read_submission(tmp_path / name)
        assert ei.value.field in ("(file)", "(document)"), name
    with pytest.raises(SubmissionError, match="does not exist"):
        read_submission(tmp_path / "absent.json")


def test_task_not_runnable_is_rejected(re_doc: dict, tmp_path: Path) -> None:
    from hwbench.leaderboard.submit import submit

    doc = _set(re_doc, ("task",), "nb201-c10-nats-params-constrained.v1")  # NATS columns not imported here
    with pytest.raises(SubmissionError) as ei:
        submit(doc, tmp_path)
    assert ei.value.field == "task" and "runnable" in ei.value.rule


# -- re-running ---------------------------------------------------------------------------------
def test_rerun_builtin_in_own_process_marks_verified_or_rejects(re_doc: dict, tmp_path: Path) -> None:
    from hwbench.leaderboard.submit import submit

    assert re_doc["rerun"] == {"algorithm": "regularized-evolution",
                               "params": {"population_size": 10, "sample_size": 3}}
    acc = submit(re_doc, tmp_path, rerun=True)
    assert acc.entry["verified"] is True and "trajectories identical" in acc.entry["verification"]
    # a recipe that does not reproduce the trajectories (other parameters) is rejected
    other = _set(re_doc, ("rerun", "params", "population_size"), 12)
    with pytest.raises(SubmissionError) as ei:
        submit(other, tmp_path, rerun=True)
    assert ei.value.field == "rerun" and "differs at trial" in ei.value.rule
    nothing = _set(re_doc, ("rerun",), _DEL)
    with pytest.raises(SubmissionError, match="field rerun: is required for --rerun"):
        submit(nothing, tmp_path, rerun=True)
    assert len(list((tmp_path / "submissions").rglob("*.json"))) == 1


_PROG = textwrap.dedent("""
    import json, sys, random
    rng = None
    for line in sys.stdin:
        m = json.loads(line)
        if m["type"] == "start":
            rng = random.Random(m["seed"] if {det} else None)
            n = m["spec"]["num_cells"]
        elif m["type"] == "ask":
            print(json.dumps({{"index": rng.randrange(n)}}), flush=True)
        elif m["type"] == "stop":
            break
""")


def test_rerun_external_command(tmp_path: Path) -> None:
    from hwbench.leaderboard.submit import submit

    good, bad = tmp_path / "det.py", tmp_path / "nondet.py"
    good.write_text(_PROG.format(det="True"))
    bad.write_text(_PROG.format(det="False"))
    for prog, ok in ((good, True), (bad, False)):
        res = _results(TEST_TASK, f"exec:{sys.executable} {prog}")
        doc = _doc(res)
        assert doc["rerun"] == {"command": [sys.executable, str(prog)]}
        if ok:
            assert submit(doc, tmp_path / "lb", rerun=True).entry["verified"] is True
        else:
            with pytest.raises(SubmissionError, match="field rerun: must reproduce"):
                submit(doc, tmp_path / "lb", rerun=True)


# -- verify -------------------------------------------------------------------------------------
def test_verify_passes_clean_and_catches_tampering(re_doc: dict, tmp_path: Path) -> None:
    from hwbench.leaderboard.build import verify
    from hwbench.leaderboard.submit import submit

    acc = submit(re_doc, tmp_path)
    assert [r.ok for r in verify(tmp_path)] == [True]
    clean = acc.path.read_text()
    e = json.loads(clean)
    e["evaluation"]["summary"]["mean"] = 0.0
    acc.path.write_text(json.dumps(e))
    (r,) = verify(tmp_path)
    assert not r.ok and "summary.mean" in r.message
    e = json.loads(clean)
    e["submission"]["runs"][0]["archs"][0] = e["submission"]["runs"][0]["archs"][1]
    acc.path.write_text(json.dumps(e))
    (r,) = verify(tmp_path)
    assert not r.ok and "does not match the content" in r.message
    acc.path.write_text(clean)
    stray = tmp_path / "submissions" / "notes.txt"
    stray.write_text("x")
    assert [r.ok for r in verify(tmp_path)] == [False, True]
    stray.unlink()
    moved = tmp_path / "submissions" / "nb201-fmnist-train-macs-pareto.v1" / acc.path.name
    moved.parent.mkdir()
    acc.path.rename(moved)
    (r,) = verify(tmp_path)
    assert not r.ok and "must be stored as" in r.message


def test_entries_survive_a_table_rebuild_that_keeps_the_task_columns(re_doc: dict, tmp_path: Path) -> None:
    """The table file's hash is provenance: same task columns -> same score; the data hash is what binds."""
    from hwbench.leaderboard.build import verify
    from hwbench.leaderboard.submit import submit

    other_table = dict(re_doc, table_sha256="0" * 64)  # produced on another build of the table
    acc = submit(other_table, tmp_path)
    stored = json.loads(acc.path.read_text())
    assert stored["evaluation"]["scored_on_table_sha256"] != "0" * 64
    assert stored["evaluation"]["data_sha256"] == re_doc["data_sha256"]
    assert [r.ok for r in verify(tmp_path)] == [True]
    # a stored entry claiming it was scored on other column data does not verify
    stored["evaluation"]["data_sha256"] = "f" * 64
    acc.path.write_text(json.dumps(stored))
    (r,) = verify(tmp_path)
    assert not r.ok and "data_sha256" in r.message


# -- site ---------------------------------------------------------------------------------------
class _Scan(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.bad_attrs: list[tuple[str, str]] = []
        self.hrefs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for k, v in attrs:
            if k.startswith("on"):
                self.bad_attrs.append((k, v or ""))
            if k == "href":
                self.hrefs.append(v or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


EVIL = '<script>document.title="PWNED"</script><img src=x onerror=alert(1)>"\'&'


def test_site_escapes_user_strings_and_has_plots(tmp_path: Path) -> None:
    from hwbench.leaderboard.build import build_site
    from hwbench.leaderboard.submit import submission_from_results, submit

    register_test_task()
    doc = submission_from_results(_results(TEST_TASK, "random"), authors=[{"name": EVIL, "affiliation": EVIL}],
                                  version="<b>1</b>", url='https://x.org/"><script>alert(1)</script>', license=EVIL,
                                  name=EVIL, notes=EVIL)
    submit(doc, tmp_path)
    site = build_site(tmp_path)
    page = (site / "tasks" / f"{TEST_TASK}.html").read_text()
    for html in (page, (site / "index.html").read_text()):
        s = _Scan()
        s.feed(html)
        assert "script" not in s.tags and "img" not in s.tags and not s.bad_attrs
        assert all(h.startswith(("https://", "../", "tasks/", "index.html")) for h in s.hrefs), s.hrefs
        assert any(EVIL in t for t in s.text)  # shown as text
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert page.count("<svg") >= 1 and 'class="ranking"' in page and "<polyline" in page


def test_log_y_axis_keeps_small_regrets_apart_and_draws_zero_on_the_floor() -> None:
    """A regret curve falling from 100 to 0.1 and then 0: on the log axis 1 and 0.1 are a decade apart (as
    far apart as 10 and 1), on the linear axis they would be within 1 % of the plot height; 0 sits on the floor."""
    import re

    from hwbench.leaderboard.svg import Plot, Series, render

    ys = [100.0, 10.0, 1.0, 0.1, 0.0]
    svg = render(Plot("t", "x", "regret", [Series("a", [1, 2, 3, 4, 5], ys, "#000000", markers=True)], logy=True))
    cy = [float(v) for v in re.findall(r'<circle cx="[0-9.]+" cy="([0-9.]+)"', svg)]
    assert len(cy) == 5 and cy == sorted(cy)  # falling values go down the plot
    gaps = [b - a for a, b in itertools.pairwise(cy)]
    assert gaps[0] == pytest.approx(gaps[1], abs=0.2) == pytest.approx(gaps[2], abs=0.2)
    assert gaps[3] == pytest.approx(gaps[0] * math.log10(2), abs=0.3)  # 0 drawn at 0.05 = half the smallest positive
    assert "regret (log scale)" in svg and ">0.1<" in svg and ">100<" in svg
    lin = render(Plot("t", "x", "regret", [Series("a", [1, 2, 3, 4, 5], ys, "#000000", markers=True)]))
    cl = [float(v) for v in re.findall(r'<circle cx="[0-9.]+" cy="([0-9.]+)"', lin)]
    assert (cl[3] - cl[2]) < 0.01 * (cl[-1] - cl[0]) and "log scale" not in lin


def test_long_y_label_is_squeezed_to_the_axis_not_cut_off() -> None:
    """A label longer than the axis gets SVG ``textLength`` = the axis height (the browser fits it); a short one
    keeps its natural length."""
    import re

    from hwbench.leaderboard.svg import Plot, Series, render

    s = [Series("a", [1, 2, 3], [3.0, 2.0, 1.0], "#000000")]
    long = render(Plot("t", "x", "regret of the incumbent; 0 on the axis floor, and a few more words", s, logy=True))
    m = re.search(r'rotate\(-90\)"[^>]*textLength="([0-9.]+)" lengthAdjust="spacingAndGlyphs"', long)
    rect = re.search(r'<rect x="[0-9.]+" y="[0-9.]+" width="[0-9.]+" height="([0-9.]+)"', long)
    assert m and rect and float(m.group(1)) == pytest.approx(float(rect.group(1)))
    assert "textLength" not in render(Plot("t", "x", "regret", s))


def test_build_pareto_page_and_serve(tmp_path: Path) -> None:
    from hwbench.leaderboard.build import build_site
    from hwbench.leaderboard.serve import make_server
    from hwbench.leaderboard.submit import submit

    task = "nb201-fmnist-train-macs-pareto.v1"
    submit(_doc(_results(task, "random")), tmp_path)
    site = build_site(tmp_path)
    with make_server(site, port=0) as httpd:
        t = threading.Thread(target=httpd.serve_forever, daemon=True)
        t.start()
        try:
            host, port = httpd.server_address[:2]
            page = urllib.request.urlopen(f"http://{host}:{port}/tasks/{task}.html", timeout=10).read().decode()
            index = urllib.request.urlopen(f"http://{host}:{port}/", timeout=10).read().decode()
        finally:
            httpd.shutdown()
            t.join()
    assert f'href="tasks/{task}.html"' in index
    assert page.count("<svg") == 2 and "Pareto fronts" in page and "true front" in page
    # rebuilding replaces the site; a foreign folder is never deleted
    build_site(tmp_path)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("x")
    from hwbench.leaderboard.build import LeaderboardError

    with pytest.raises(LeaderboardError, match="not touching it"):
        build_site(tmp_path, foreign)
    assert (foreign / "keep.txt").exists()


# -- CLI ----------------------------------------------------------------------------------------
def test_cli_run_prepare_submit_build_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hwbench.cli import main

    task = "nb201-fmnist-train-params-constrained.v1"
    res, sub, root = tmp_path / "res.json", tmp_path / "sub.json", tmp_path / "lb"
    assert main(["run", "--task", task, "--algorithm", "random", "--out", str(res), "--no-progress"]) == 0
    assert main(["leaderboard", "prepare", str(res), "--author", "Ada", "--url", "https://e.org",
                 "--license", "MIT", "--out", str(sub)]) == 0
    capsys.readouterr()
    assert main(["submit", str(sub), "--root", str(root), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["seeds"] == 10 and out["verified"] is False and Path(out["stored"]).is_file()
    assert main(["submit", str(sub), "--root", str(root)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "field (document): an identical submission is already stored" in err
    assert main(["leaderboard", "build", "--root", str(root)]) == 0
    assert (root / "site" / "tasks" / f"{task}.html").is_file()
    assert main(["leaderboard", "verify", "--root", str(root)]) == 0
    e = next((root / "submissions").rglob("*.json"))
    e.write_text(e.read_text().replace('"verified": false', '"verified": true'))
    assert main(["leaderboard", "verify", "--root", str(root), "--rerun"]) == 0  # re-runs the claim: it holds
    bad = json.loads(sub.read_text())
    bad["runs"][3]["archs"][7] = "nonsense"
    sub.write_text(json.dumps(bad))
    capsys.readouterr()
    assert main(["submit", str(sub), "--root", str(root)]) == 2
    assert "field runs[3].archs[7]: must be a cell of space nb201" in capsys.readouterr().err


def test_committed_leaderboard_verifies() -> None:
    """The repository's leaderboard/ (what a maintainer's CI checks on a pull request)."""
    from hwbench.leaderboard.build import verify

    results = verify(REPO / "leaderboard")
    bad = [r for r in results if not r.ok]
    assert not bad, bad


def test_baselines_only_on_committable_columns(tmp_path: Path) -> None:
    from hwbench.leaderboard.baselines import eligibility, eligible_tasks, make_baselines
    from hwbench.search.tasks import get_task
    from hwbench.table import load

    register_test_task()
    table = load("nb201")
    # eligible: only tasks whose every column is in the shipped table (the project's own trained
    # Fashion-MNIST accuracy); the synthetic accuracy lives in the user overlay and never is
    elig = eligible_tasks(table)
    assert elig and all(t.startswith("nb201-fmnist-train-") for t in elig), elig
    assert TEST_TASK not in elig
    assert eligibility(get_task("nb201-fmnist-train-params-constrained.v1"), table) is None
    assert "user overlay" in (eligibility(get_task(TEST_TASK), table) or "")
    assert "missing columns" in (eligibility(get_task("nb201-c10-nats-params-constrained.v1"), table) or "")
    (r,) = make_baselines(tmp_path, table, [TEST_TASK], ["random"])
    assert r.status == "skipped" and "user overlay" in r.detail
    (r,) = make_baselines(tmp_path, table, [TEST_TASK], ["random"], include_overlay=True)
    assert r.status == "stored"
    entry = json.loads(Path(r.detail).read_text())
    assert entry["verified"] is True and entry["submission"]["authors"] == [{"name": "hwbench baselines"}]
    (r,) = make_baselines(tmp_path, table, [TEST_TASK], ["random"], include_overlay=True)
    assert r.status == "exists"  # idempotent: same content, same id, nothing overwritten


def test_results_file_is_pointed_to_prepare(tmp_path: Path) -> None:
    from hwbench.leaderboard.submit import submit

    register_test_task()
    with pytest.raises(SubmissionError) as ei:
        submit(_results(TEST_TASK, "random"), tmp_path)
    assert ei.value.field == "schema" and "hwbench leaderboard prepare" in ei.value.rule


@pytest.mark.reference
def test_imported_nats_is_submittable_but_never_a_baseline(reference_dir: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from hwbench.importers.nats import import_nats
    from hwbench.leaderboard.baselines import eligibility, make_baselines
    from hwbench.search.tasks import get_task
    from hwbench.table import load

    monkeypatch.setenv("HWBENCH_USER_DIR", str(tmp_path / "user"))
    import_nats(reference_dir / "nats_tss" / "nats_tss_test_acc_200ep.csv")
    task = "nb201-c10-nats-params-constrained.v1"
    from hwbench.leaderboard.submit import submit

    acc = submit(_doc(_results(task, "random")), tmp_path / "lb", dry_run=True)
    assert acc.entry["evaluation"]["summary"]["n"] == 10
    table = load("nb201")
    why = eligibility(get_task(task), table, include_overlay=True)
    assert why is not None and "imported" in why
    (r,) = make_baselines(tmp_path / "lb", table, [task], ["random"], include_overlay=True)
    assert r.status == "skipped" and not (tmp_path / "lb").exists()
