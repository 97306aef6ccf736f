"""`hwbench leaderboard baselines`: every runnable task of both families (NB201, compression), the
per-family algorithms, skips with reasons, resumable generation, --dry-run, the --check gap report.

NB201: the shipped table's analytic columns + the SYNTHETIC accuracy overlay and the small test task
of hwbench.leaderboard.testing (as tests/test_leaderboard.py). Compression: a real ``test-tiny``
accuracy table of the ``mcu`` base built by the real compression campaign (as
tests/test_compress_tasks.py). Entries go to temporary leaderboard folders only.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwbench.leaderboard.testing import TEST_TASK, register_test_task, write_synthetic_overlay

BASE = "mcu"
BASE_DIR = Path(__file__).resolve().parents[1] / "datasets" / "compress" / "bases"
TINY = f"compress-tiny-{BASE}-mcu-stm32f746"
CONSTRAINED, TIGHT, PARETO = (f"{TINY}-{k}.v1" for k in ("constrained", "tight-constrained", "pareto"))
TINY_TASKS = (CONSTRAINED, PARETO, TIGHT)
PATTERN = f"{TINY}-*,test-lb-*"


@pytest.fixture(scope="module")
def lb_user(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("lbuser")
    write_synthetic_overlay(d)
    return d


@pytest.fixture(autouse=True)
def _lb_env(_user_dir: None, lb_user: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HWBENCH_USER_DIR", str(lb_user))
    register_test_task()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real ``test-tiny`` accuracy table of the ``mcu`` base (compression campaign, one worker,
    fine-tune 1 epoch on 256 images, 300 test images); ~15 s."""
    from conftest import tiny_compress_store

    return tiny_compress_store(tmp_path_factory.mktemp("compress-store"), BASE, test_limit=300, train_subset=256)


def _rows(capsys: pytest.CaptureFixture[str]) -> list[dict[str, str]]:
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def _by(rows: list[dict[str, str]]) -> dict[tuple[str, str], dict[str, str]]:
    return {(r["task"], r["algorithm"]): r for r in rows}


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) if root.exists() else []


# -- selection and skips (no compression data) -------------------------------------------------
def test_dry_run_covers_both_families_and_lists_every_skip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from hwbench.cli import main
    from hwbench.search.tasks import list_tasks

    root = tmp_path / "lb"
    monkeypatch.chdir(tmp_path)  # no compression campaign under ./datasets/shards
    assert main(["leaderboard", "baselines", "--root", str(root), "--dry-run", "--format", "json"]) == 0
    rows = _rows(capsys)
    assert _files(root) == [] and not (tmp_path / "datasets").exists()  # nothing run, nothing written
    assert {r["task"] for r in rows} == set(list_tasks())  # every registered task has a row
    by = _by(rows)
    # test-tagged tasks are left out, with the reason
    assert by[(CONSTRAINED, "*")]["detail"].startswith("tagged test")
    assert by[(TEST_TASK, "*")]["status"] == "skipped"
    # compression tasks without campaign data: skipped with the command that builds it
    r = by[("compress-mpq-best-mcu-stm32f746-constrained.v1", "*")]
    assert r["status"] == "skipped" and "hwbench compress campaign --space mpq-prune" in r["detail"]
    # NATS tasks need imported columns
    assert by[("nb201-c10-nats-params-constrained.v1", "*")]["detail"].startswith("missing columns")
    # NB201 tasks on the shipped table: the NB201 algorithms, single-objective ones skip Pareto tasks
    t = "nb201-fmnist-train-params-constrained.v1"
    assert [a for (tk, a), r in by.items() if tk == t and r["status"] == "would-run"] == [
        "random", "regularized-evolution", "local-search", "reinforce"]
    assert by[("nb201-fmnist-train-macs-pareto.v1", "reinforce")]["detail"].startswith("single-objective")
    # compression-only algorithms are skipped on NB201 tasks when asked for explicitly
    assert main(["leaderboard", "baselines", "--root", str(root), "--dry-run", "--format", "json",
                 "--tasks", t, "--algorithms", "greedy-bits,random"]) == 0
    by = _by(_rows(capsys))
    assert by[(t, "greedy-bits")]["status"] == "skipped" and "compression search space" in by[(t, "greedy-bits")]["detail"]
    assert by[(t, "random")]["status"] == "would-run"
    assert main(["leaderboard", "baselines", "--root", str(root), "--dry-run", "--algorithms", "nope"]) == 2
    assert "nope" in capsys.readouterr().err


# -- both families end to end ------------------------------------------------------------------
def test_baselines_compression_and_nb201_resumable_verified_and_gaps(
        store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from hwbench.cli import main
    from hwbench.leaderboard.baselines import BASELINE_AUTHOR, baseline_gaps, source_with_compression
    from hwbench.leaderboard.build import verify
    from hwbench.table import load

    monkeypatch.chdir(tmp_path)  # the default cost cache (datasets/compress/costs) lands here
    root = tmp_path / "lb"
    data = ["--compress-store", str(store), "--include-test", "--include-overlay", "--no-progress",
            "--root", str(root), "--format", "json"]

    # --dry-run: the plan, nothing written
    assert main(["leaderboard", "baselines", "--tasks", PATTERN, "--dry-run", *data]) == 0
    plan = _by(_rows(capsys))
    assert _files(root) == []
    expect_c = ["greedy-bits", "haq-reinforce", "regularized-evolution", "random"]
    for t in (CONSTRAINED, TIGHT):
        assert [a for (tk, a), r in plan.items() if tk == t and r["status"] == "would-run"] == expect_c
    assert plan[(PARETO, "haq-reinforce")]["status"] == "skipped"  # single-objective
    assert [a for (tk, a), r in plan.items() if tk == TEST_TASK and r["status"] == "would-run"] == [
        "random", "regularized-evolution", "local-search", "reinforce"]
    n_runs = sum(r["status"] == "would-run" for r in plan.values())
    assert n_runs == 4 + 4 + 3 + 4

    # gap report on the empty leaderboard: everything missing, exit 1
    assert main(["leaderboard", "baselines", "--tasks", PATTERN, "--check", *data]) == 1
    gaps = _rows(capsys)
    assert sum(r["status"] == "missing" for r in gaps) == n_runs and _files(root) == []

    # the two compression-specific baselines re-run in their own process (bridge) -> verified
    assert main(["leaderboard", "baselines", "--tasks", CONSTRAINED, "--algorithms", "greedy-bits,haq-reinforce",
                 *data]) == 0
    first = _rows(capsys)
    assert [r["status"] for r in first] == ["stored", "stored"]
    for r in first:
        e = json.loads(Path(r["detail"]).read_text())
        assert e["verified"] is True and e["submission"]["authors"] == [{"name": BASELINE_AUTHOR}]
        assert e["submission"]["rerun"] == {"algorithm": r["algorithm"], "params": e["submission"]["algorithm"]["params"]}
        assert e["evaluation"]["summary"]["n"] == 10 and e["evaluation"]["kind"] == "constrained"

    # the rest, without re-runs (time); the stored pairs are not run again
    assert main(["leaderboard", "baselines", "--tasks", PATTERN, "--no-rerun", *data]) == 0
    res = _by(_rows(capsys))
    assert res[(CONSTRAINED, "greedy-bits")]["status"] == res[(CONSTRAINED, "haq-reinforce")]["status"] == "exists"
    assert sum(r["status"] == "stored" for r in res.values()) == n_runs - 2
    stored = [p for p in _files(root) if p.endswith(".json")]
    assert len(stored) == n_runs
    assert {p.split("/")[1] for p in stored} == {CONSTRAINED, TIGHT, PARETO, TEST_TASK}
    pareto = [json.loads((root / p).read_text()) for p in stored if f"/{PARETO}/" in p]
    assert {e["submission"]["algorithm"]["name"] for e in pareto} == {"greedy-bits", "regularized-evolution", "random"}
    assert all(e["evaluation"]["metric"] == "1 - HV/HV_true" and e["evaluation"]["true_front"] for e in pareto)

    # verify: every entry re-scores (API with the campaign's columns laid over the table; and the CLI)
    table = load("nb201")
    src = source_with_compression(table, TINY_TASKS, store, tmp_path / "datasets" / "compress" / "costs")
    results = verify(root, src)
    assert len(results) == n_runs and all(r.ok for r in results), [r for r in results if not r.ok]
    assert main(["leaderboard", "verify", "--root", str(root), "--compress-store", str(store),
                 "--format", "json"]) == 0
    assert all(r["ok"] for r in _rows(capsys))

    # a second run is resumable: nothing is run, nothing changes
    before = {p: (root / p).read_bytes() for p in stored}
    assert main(["leaderboard", "baselines", "--tasks", PATTERN, *data]) == 0
    again = _rows(capsys)
    assert {r["status"] for r in again} == {"exists", "skipped"}
    assert sum(r["status"] == "exists" for r in again) == n_runs
    assert {p: (root / p).read_bytes() for p in _files(root)} == before

    # the gap report: complete -> exit 0; a removed entry is missing, one made on other data is stale
    assert main(["leaderboard", "baselines", "--tasks", PATTERN, "--check", *data]) == 0
    assert {r["status"] for r in _rows(capsys)} == {"present", "skipped"}
    gone = next(p for p in stored if f"/{TIGHT}/" in p)
    gone_algo = json.loads((root / gone).read_text())["submission"]["algorithm"]["name"]
    (root / gone).unlink()
    old = next(p for p in stored if f"/{TEST_TASK}/" in p)
    e = json.loads((root / old).read_text())
    e["submission"]["data_sha256"] = "f" * 64
    (root / old).write_text(json.dumps(e))
    assert main(["leaderboard", "baselines", "--tasks", PATTERN, "--check", *data]) == 1
    chk = _by(_rows(capsys))
    assert [k for k, r in chk.items() if r["status"] == "missing"] == [(TIGHT, gone_algo)]
    # the costs are cached now, so compression entries are matched on the data hash too
    assert all("not checked" not in r["detail"] for r in chk.values() if r["status"] == "present")
    (stale,) = [r for r in chk.values() if r["status"] == "stale"]
    assert stale["task"] == TEST_TASK and old in stale["detail"] and "remove" in stale["detail"]
    # the same through the API
    api = baseline_gaps(root, table, TINY_TASKS, compress_store=store,
                        cost_cache=tmp_path / "datasets" / "compress" / "costs")
    assert [(r.task, r.algorithm) for r in api if r.status == "missing"] == [(TIGHT, gone_algo)]
    # --dry-run names the gap and still writes nothing
    assert main(["leaderboard", "baselines", "--tasks", TIGHT, "--dry-run", *data]) == 0
    (plan_row,) = [r for r in _rows(capsys) if r["status"] == "would-run"]
    assert plan_row["algorithm"] == gone_algo and not (root / gone).exists()


def test_compression_task_without_campaign_is_skipped_not_run(tmp_path: Path) -> None:
    from hwbench.leaderboard.baselines import eligibility, make_baselines
    from hwbench.search.tasks import get_task
    from hwbench.table import load

    table = load("nb201")
    why = eligibility(get_task(CONSTRAINED), table, compress_store=tmp_path / "empty")
    assert why is not None and "hwbench compress campaign --space test-tiny" in why
    (r,) = make_baselines(tmp_path / "lb", table, [CONSTRAINED], compress_store=tmp_path / "empty", cost_cache=None)
    assert r.status == "skipped" and r.algorithm == "*" and not (tmp_path / "lb").exists()
