"""Compression tasks and baselines: the search-space adapter, the task registry, the accuracy table
built by the real compression campaign (``test-tiny``, one base, a tiny recipe), the baselines
through the real runner and scoring, the CLI, and the error when the accuracy table is missing."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from hwbench.compress.bases import ROLES
from hwbench.compress.space import SPACES
from hwbench.compress.tasks import (
    AccuracyTableMissingError,
    CompressionSearchSpace,
    availability,
    compression_source,
    compression_tasks,
    get_search_space,
)
from hwbench.errors import InvalidArchitectureError, UnknownNameError
from hwbench.search.algorithms import create_algorithm
from hwbench.search.runner import problem_for, run, run_seeds
from hwbench.search.scoring import score_trajectory
from hwbench.search.tasks import Budget, Task, Threshold, get_task, list_tasks
from hwbench.spaces import get_space

BASE = "mcu"
BASE_DIR = Path(__file__).resolve().parents[1] / "datasets" / "compress" / "bases"
CONSTRAINED = f"compress-tiny-{BASE}-mcu-stm32f746-constrained"
PARETO = f"compress-tiny-{BASE}-mcu-stm32f746-pareto"
SEEDS = range(5)


# ----------------------------------------------------------------------------- space adapter
def test_space_adapter_roundtrip_and_operators() -> None:
    sp = get_space("compress:test-tiny:best")
    assert isinstance(sp, CompressionSearchSpace) and sp.size == 512 == len(sp)
    rng = np.random.default_rng(0)
    for i in [0, 1, 63, 64, 300, 511]:
        s = sp.arch_str(i)
        assert sp.index(s) == i == sp.index(sp.parse(i)) and s == str(SPACES["test-tiny"].from_index(i))
    assert sp.arch_str(511) == "m100.100.100-w32.32.32-a32.32.32"
    a = sp.sample(rng)
    nbs = sp.neighbours(a)
    assert len(nbs) == sum(r - 1 for r in sp.radices) == 9 and len(set(nbs)) == 9
    for _ in range(20):
        m = sp.mutate(a, rng)
        assert sum(x != y for x, y in zip(sp.parse(a), sp.parse(m))) == 1
    assert sp.encode([a, m]).shape == (2, 9) and sp.encode(a, "onehot").sum() == 9
    # joint space: cell digit (categorical) + the nine config digits
    j = get_space("compress:mpq-prune:joint")
    assert j.size == 4 * 262_144 and j.ordinal[0] is False and len(j.radices) == 10
    s = "median:m100.50.75-w8.4.8-a8.8.32"
    assert j.arch_str(j.index(s)) == s and j.index(s) // 262_144 == ROLES.index("median")
    assert j.config(s)[1] == SPACES["mpq-prune"].parse("m100.50.75-w8.4.8-a8.8.32")
    assert j.encode(s).shape == (4 + 9,)
    # invalid proposals: the runner's error type, naming the bad part and the valid choices
    for bad, why in [("m100.100.100-w3.32.32-a32.32.32", "bit-width 3"), (512, "out of range"),
                     ((0, 0, 0), "9 integer digits"), (1.5, "unsupported type")]:
        with pytest.raises(InvalidArchitectureError, match=why):
            sp.index(bad)
    with pytest.raises(InvalidArchitectureError, match="cell part"):
        j.index("huge:m100.50.75-w8.4.8-a8.8.32")
    with pytest.raises(UnknownNameError):
        get_search_space("compress:no-such-space:best")


def test_tasks_registered() -> None:
    names = list_tasks("compress-*")
    for short in ("mpq", "mpqs", "tiny"):
        for base in (*ROLES, "joint"):
            for kind in ("constrained", "tight-constrained", "pareto"):
                assert f"compress-{short}-{base}-mcu-stm32f746-{kind}.v1" in names
    t = get_task("compress-mpq-best-mcu-stm32f746-constrained")
    assert t.space == "compress:mpq-prune:best" and t.budget.evaluations == 300
    assert Threshold("compress/mpq-prune/best/model_size_bytes", value=64 * 1024) in t.constraints
    assert Threshold("compress/mpq-prune/best/mcu-stm32f746/peak_sram_bytes", value=128 * 1024) in t.constraints
    tight = get_task("compress-tiny-mcu-mcu-stm32f746-tight-constrained")
    assert {c.value for c in tight.constraints} == {16 * 1024, 72 * 1024}
    p = get_task("compress-mpqs-joint-mcu-stm32f746-pareto")
    assert p.kind == "pareto" and p.costs == ("compress/mpq-prune-small/joint/mcu-stm32f746/latency_ms",)
    # one FPGA task per non-test compression space (the joint space), none for test-tiny
    fpga = [n for n in names if "fpga" in n]
    assert fpga == ["compress-mpq-joint-fpga-zc706-pareto.v1", "compress-mpqs-joint-fpga-zc706-pareto.v1"]
    f = get_task("compress-mpq-joint-fpga-zc706-pareto")
    assert f.kind == "pareto" and f.costs == ("compress/mpq-prune/joint/fpga-zc706/dsp_active_peak",)
    for task in compression_tasks():
        assert Task.from_dict(task.to_dict()) == task
        assert ("test" in task.tags) == task.space.startswith("compress:test-tiny:")


def test_baselines_need_a_compression_space() -> None:
    from hwbench.search._errors import TaskNotRunnableError
    from hwbench.search.algorithms.base import TaskSpec

    spec = TaskSpec("t.v1", "nb201", "constrained", "acc", ("c",))
    for name in ("greedy-bits", "haq-reinforce"):
        with pytest.raises(TaskNotRunnableError, match="compression search space"):
            create_algorithm(name).setup(spec, np.random.default_rng(0))


# ----------------------------------------------------------------------------- missing table
def test_missing_accuracy_table_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hwbench.cli import main

    with pytest.raises(AccuracyTableMissingError, match=r"hwbench compress campaign --space test-tiny.*never invented"):
        compression_source(get_task(CONSTRAINED), store_dir=tmp_path, cost_cache=None)
    assert availability(get_task(CONSTRAINED), tmp_path).startswith("no: no accuracy table for mcu")
    assert main(["run", "--task", CONSTRAINED, "--algorithm", "greedy-bits", "--compress-store", str(tmp_path),
                 "--seeds", "1"]) == 2
    assert "hwbench compress campaign --space test-tiny" in capsys.readouterr().err


# ----------------------------------------------------------------------------- real accuracy table
@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real ``test-tiny`` accuracy table of the ``mcu`` base: the compression campaign code (one
    worker process) on a tiny recipe (fine-tune 1 epoch on 512 images, first 500 test images); ~20 s."""
    from conftest import tiny_compress_store

    return tiny_compress_store(tmp_path_factory.mktemp("compress-store"), BASE, test_limit=500, train_subset=512)


@pytest.fixture(scope="module")
def source(store: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return compression_source(get_task(CONSTRAINED), store_dir=store, cost_cache=tmp_path_factory.mktemp("costs"))


def test_columns_come_from_the_campaign_and_cost_model(store: Path, source, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from hwbench.campaign import merge
    from hwbench.compress.cost import compress_cost

    pre = f"compress/test-tiny/{BASE}"
    acc = source.column(f"{pre}/test_accuracy_pct")
    assert acc.shape == (512,) and np.isfinite(acc).all()
    merged = merge("compress-test-tiny-fashion-mnist", store)
    for k in range(8):
        start = int(merged["index_start"][k])
        assert np.array_equal(acc[start:start + 64], 100.0 * np.asarray(merged["test_acc"][k]))
    # the uncompressed network's accuracy is the float accuracy the campaign measured on the base
    last = int(np.flatnonzero(merged["index_start"] == 7 * 64)[0])
    assert acc[511] == 100.0 * merged["float_test_acc"][last]
    # accuracies are fractions of 500 test images, in percent
    assert np.allclose(acc * 5, np.round(acc * 5))
    for i in (0, 77, 511):
        c = compress_cost(BASE, i, "mcu-stm32f746", "test-tiny")
        assert source.column(f"{pre}/model_size_bytes")[i] == c["model_size_bytes"]
        assert source.column(f"{pre}/mcu-stm32f746/latency_ms")[i] == c["latency_ms"]
        assert source.column(f"{pre}/mcu-stm32f746/peak_sram_bytes")[i] == c["peak_sram_bytes"]
    # an incomplete campaign is refused (allowed as NaN rows only on request)
    part = tmp_path / "part"
    shutil.copytree(store, part)
    for p in sorted((part / "compress-test-tiny-fashion-mnist").glob("shard-*.json"))[5:]:
        p.unlink()
    with pytest.raises(AccuracyTableMissingError, match="incomplete: 5 of 8"):
        compression_source(get_task(CONSTRAINED), store_dir=part, cost_cache=None)
    partial = compression_source(get_task(CONSTRAINED), store_dir=part, cost_cache=None, allow_partial=True)
    assert np.isnan(partial.column(f"{pre}/test_accuracy_pct")).sum() == 3 * 64
    # another base than the campaign was started for: the error says so
    with pytest.raises(AccuracyTableMissingError, match="started for bases mcu only"):
        compression_source("compress:test-tiny:best", store_dir=store, cost_cache=None)


ALGORITHMS = ("random", "regularized-evolution", "local-search", "greedy-bits", "haq-reinforce")


def _scores(problem, name: str) -> tuple[list, list[float]]:  # type: ignore[no-untyped-def]
    trajs = run_seeds(problem, lambda: create_algorithm(name), SEEDS)
    return trajs, [score_trajectory(problem, t.indices, t.clock_s, t.seed).regret for t in trajs]


def test_fpga_columns_for_a_task_that_reads_them(store: Path, tmp_path: Path) -> None:
    """A task whose cost is an FPGA column gets the bit-width-aware FPGA columns (the shipped FPGA
    tasks are on non-test spaces; the same code path on the smoke table)."""
    from hwbench.compress.cost import compress_cost
    from hwbench.compress.tasks import column

    pre = f"compress/test-tiny/{BASE}"
    task = Task("compress-tiny-fpga-probe.v1", "pareto", "fashion-mnist", f"{pre}/test_accuracy_pct",
                (column("test-tiny", BASE, "dsp_active_peak", "fpga-zc706"),), Budget(evaluations=40),
                space=f"compress:test-tiny:{BASE}")
    src = compression_source(task, store_dir=store, cost_cache=tmp_path)
    for m in ("latency_ms", "dsp_used", "dsp_active_peak", "weight_bytes"):
        assert src.column(f"{pre}/fpga-zc706/{m}").shape == (512,)
    assert src.column(f"{pre}/mcu-stm32f746/latency_ms").shape == (512,)
    for i in (0, 200, 511):
        c = compress_cost(BASE, i, "fpga-zc706", "test-tiny")
        assert src.column(f"{pre}/fpga-zc706/latency_ms")[i] == c["latency_ms"]
        assert src.column(f"{pre}/fpga-zc706/dsp_active_peak")[i] == c["dsp_active_peak"]
    assert len(list(tmp_path.glob("test-tiny-mcu-fpga-zc706-*.npz"))) == 1  # cached per device
    t = run(problem_for(task, src), create_algorithm("greedy-bits"), 0)
    assert len(t.indices) == 40


def test_baselines_on_the_constrained_task(source) -> None:  # type: ignore[no-untyped-def]
    problem = problem_for(CONSTRAINED, source)
    assert 0 < problem.feasible.sum() < 512  # the 64 KiB weight bound binds
    w = problem.objective["compress/test-tiny/mcu/model_size_bytes"]
    sram = problem.objective["compress/test-tiny/mcu/mcu-stm32f746/peak_sram_bytes"]
    mean, feasible = {}, {}
    for name in ALGORITHMS:
        trajs, regrets = _scores(problem, name)
        mean[name] = float(np.mean(regrets))
        feasible[name] = float(np.mean([sum(x.feasible for x in t.trials) for t in trajs]))
        for t in trajs:
            assert len(t.indices) == 40  # the budget, exactly
            inc = score_trajectory(problem, t.indices, t.clock_s, t.seed).incumbent
            assert inc is not None and w[inc] <= 64 * 1024 and sram[inc] <= 128 * 1024  # constraint honoured
        # determinism per seed
        again = run(problem, create_algorithm(name), 3)
        assert again.indices == trajs[3].indices
        assert all(0.0 <= r <= problem.oracle_value - problem.floor_value for r in regrets)
    # greedy allocation beats uniform random search on average (5 seeds, 40 of 512 configurations);
    # the policy gradient learns to propose feasible configurations more often than random does
    assert mean["greedy-bits"] <= mean["random"], mean
    assert feasible["haq-reinforce"] > feasible["random"], feasible


def test_greedy_on_the_tight_budget(source) -> None:  # type: ignore[no-untyped-def]
    """Weights <= 16 KiB and peak SRAM <= 64 KiB: few configurations fit; greedy starts uncompressed,
    descends (smaller weights) to a feasible one in every seed and beats random search on average."""
    pre = f"compress/test-tiny/{BASE}"
    task = get_task(f"compress-tiny-{BASE}-mcu-stm32f746-tight-constrained")
    problem = problem_for(task, source)
    assert 0 < problem.feasible.mean() < 0.3
    sp = get_space(task.space)
    greedy = []
    for seed in SEEDS:
        t = run(problem, create_algorithm("greedy-bits"), seed)
        assert t.trials[0].arch == "m100.100.100-w32.32.32-a32.32.32"  # starts uncompressed
        first = next(k for k, x in enumerate(t.trials) if x.feasible)
        sizes = [x.values[f"{pre}/model_size_bytes"] for x in t.trials[: first + 1]]
        assert sizes[first] < sizes[0]
        assert all(sp.index(x.arch) == x.index for x in t.trials)
        greedy.append(score_trajectory(problem, t.indices, t.clock_s, seed).regret)
    _, rnd = _scores(problem, "random")
    assert np.mean(greedy) <= np.mean(rnd), (greedy, rnd)


def test_baselines_on_the_pareto_task(source) -> None:  # type: ignore[no-untyped-def]
    problem = problem_for(PARETO, source)
    mean = {}
    for name in ("random", "regularized-evolution", "greedy-bits"):
        trajs, regrets = _scores(problem, name)
        assert all(len(t.indices) == 40 for t in trajs) and all(0.0 <= r <= 1.0 for r in regrets)
        mean[name] = float(np.mean(regrets))
    assert mean["greedy-bits"] <= mean["random"], mean
    with pytest.raises(Exception, match="single-objective"):
        run(problem, create_algorithm("haq-reinforce"), 0)


def test_cli_lists_runs_and_rescores(store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    from hwbench.cli import main

    monkeypatch.chdir(tmp_path)  # the default cost cache (datasets/compress/costs) lands here
    assert main(["tasks", "list", "--pattern", "compress-tiny-*", "--compress-store", str(store),
                 "--format", "json"]) == 0
    rows = {r["task"]: r["runnable"] for r in json.loads(capsys.readouterr().out)}
    assert rows[CONSTRAINED + ".v1"] == "yes" and rows[PARETO + ".v1"] == "yes"
    assert rows["compress-tiny-best-mcu-stm32f746-constrained.v1"].startswith("no")
    assert rows["compress-tiny-joint-mcu-stm32f746-pareto.v1"].startswith("no")
    assert main(["tasks", "show", CONSTRAINED, "--compress-store", str(store), "--format", "json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["runnable"] == "yes" and info["oracle_arch"].startswith("m") and info["feasible_cells"] > 0
    out = tmp_path / "r.json"
    assert main(["run", "--task", CONSTRAINED, "--algorithm", "greedy-bits", "--no-progress",
                 "--compress-store", str(store), "--out", str(out), "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["algorithm"] == "greedy-bits" and row["seeds"] == 10 and math.isfinite(row["mean"])
    data = json.loads(out.read_text())
    assert data["runs"][0]["archs"][0] == "m100.100.100-w32.32.32-a32.32.32"
    assert data["scores"]["runs"][0]["incumbent"].startswith("m")
    assert list((tmp_path / "datasets" / "compress" / "costs").glob("test-tiny-mcu-*.npz"))
    assert main(["score", str(out), "--compress-store", str(store), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["mean"] == row["mean"]
    # a leaderboard entry: prepared from the results, re-scored from the compression data on submit
    sub = tmp_path / "sub.json"
    assert main(["leaderboard", "prepare", str(out), "--out", str(sub), "--author", "T", "--license", "MIT",
                 "--algorithm-version", "1"]) == 0
    capsys.readouterr()
    assert main(["submit", str(sub), "--root", str(tmp_path / "board"), "--compress-store", str(store),
                 "--format", "json"]) == 0
    entry = json.loads(capsys.readouterr().out)
    assert entry["task"] == CONSTRAINED + ".v1" and entry["mean"] == pytest.approx(row["mean"])
    assert entry["seeds"] == 10


@pytest.mark.slow
def test_joint_task_over_the_four_bases(tmp_path: Path) -> None:
    """The joint NAS + compression task needs every base's table: the real campaign for all four
    (~80 s), then the baselines choose among cells and their compressions."""
    pytest.importorskip("torch")
    if not all((BASE_DIR / f"{r}.safetensors").is_file() for r in ROLES):
        pytest.skip("not every base network is trained")
    from hwbench.compress.accuracy import FinetuneRecipe
    from hwbench.compress.campaign import run_compress_campaign

    run_compress_campaign(space="test-tiny", bases=ROLES, base_dir=BASE_DIR, store_dir=tmp_path / "s", workers=1,
                          progress=False, test_limit=300, finetune=FinetuneRecipe(epochs=1, train_subset=256))
    task = get_task("compress-tiny-joint-mcu-stm32f746-constrained")
    assert availability(task, tmp_path / "s") == "yes"  # shards found by position (bases in manifest order)
    assert availability(get_task(CONSTRAINED), tmp_path / "s") == "yes"
    src = compression_source(task, store_dir=tmp_path / "s", cost_cache=tmp_path / "c")
    problem = problem_for(task, src)
    assert problem.num_rows == 4 * 512
    one = compression_source(f"compress:test-tiny:{ROLES[1]}", store_dir=tmp_path / "s", cost_cache=tmp_path / "c")
    pre = "compress/test-tiny"
    assert np.array_equal(src.column(f"{pre}/joint/test_accuracy_pct")[512:1024],
                          one.column(f"{pre}/{ROLES[1]}/test_accuracy_pct"))
    sp = get_space(task.space)
    for name in ("greedy-bits", "regularized-evolution", "haq-reinforce"):
        t = run(problem, create_algorithm(name), 0)
        assert len(t.indices) == 40 and all(x.arch.split(":")[0] in ROLES for x in t.trials)
        assert [sp.index(x.arch) for x in t.trials] == list(t.indices)
    g = run(problem, create_algorithm("greedy-bits"), 0)
    assert {x.arch.split(":")[0] for x in g.trials[:1]} == {ROLES[0]}  # starts from the first cell's top
