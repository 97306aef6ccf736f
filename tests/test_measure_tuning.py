"""Shared tuning: workload extraction with anchor-block equality, a tiny real MetaSchedule run, tuned compile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tvm  # noqa: F401 - the tvm extra is required (CI installs it)

from hwbench.measure.compile import compile_cell
from hwbench.measure.tuning import (
    RECORDS_FILE,
    WORKLOADS_FILE,
    TuningError,
    covering_cells,
    extract_workloads,
    load_database,
    scheduled_functions,
    tune,
)

CONV3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
MIXED = "|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|nor_conv_1x1~0|none~1|nor_conv_3x3~2|"


@pytest.fixture(scope="module")
def conv3_workloads() -> list:  # type: ignore[type-arg]
    return extract_workloads([CONV3], "fashion-mnist")


def test_one_workload_per_conv_shape_whatever_the_epilogue(conv3_workloads: list) -> None:  # type: ignore[type-arg]
    # fashion-mnist has one cell per stage (N=1): the six 8->8 3x3 convs of stage 1 are fused with
    # different epilogues (bias, the node sums, the next ReLU) but share one anchor block
    w = [w for w in conv3_workloads if "[8,8,3,3]" in w.shapes]
    assert len(w) == 1
    assert w[0].calls == 6 and w[0].cells == [SPACE_STR(CONV3)]
    # the two other stages' 3x3 convs are distinct workloads
    assert sum("[16,16,3,3]" in w.shapes for w in conv3_workloads) == 1
    assert sum("[32,32,3,3]" in w.shapes for w in conv3_workloads) == 1


def SPACE_STR(arch: str) -> str:
    from hwbench.spaces.nb201 import SPACE

    return SPACE.arch_str(arch)


def test_workloads_are_shared_across_cells(conv3_workloads: list) -> None:  # type: ignore[type-arg]
    both = extract_workloads([CONV3, MIXED], "fashion-mnist")
    mixed = extract_workloads([MIXED], "fashion-mnist")
    assert max(len(conv3_workloads), len(mixed)) <= len(both) < len(conv3_workloads) + len(mixed)
    # stem, reduction blocks and head are in every cell
    shared = [w for w in both if len(w.cells) == 2]
    assert any("[8,1,3,3]" in w.shapes for w in shared)  # the stem conv
    assert any("[16,8,3,3]" in w.shapes for w in shared)  # the first reduction conv


def test_simplest_representative_drops_the_long_epilogues() -> None:
    """The all-skip cell fuses its node sums into the stem and reduction convolutions (a conv with 4-6 adds);
    tuned on that variant, one search round costs minutes. ``simplest`` tunes the same anchor blocks on
    their ``conv + bias`` variants instead; ``first`` keeps the first-seen ones (the old rule)."""
    from hwbench.measure.tuning import _fused_ops

    skip = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
    first = extract_workloads([skip, CONV3], "fashion-mnist", representative="first")
    simple = extract_workloads([skip, CONV3], "fashion-mnist")
    assert len(first) == len(simple) and [w.calls for w in first] == [w.calls for w in simple]
    ops_first = [_fused_ops(w.task.task_name) for w in first]
    ops_simple = [_fused_ops(w.task.task_name) for w in simple]
    assert all(b <= a for a, b in zip(ops_first, ops_simple))
    changed = [k for k, (a, b) in enumerate(zip(ops_first, ops_simple)) if b < a]
    assert len(changed) >= 2 and max(ops_first[k] for k in changed) >= 5 and all(ops_simple[k] <= 2 for k in changed)
    assert all(simple[k].name.endswith(simple[k].task.task_name) for k in changed)
    with pytest.raises(TuningError, match="representative"):
        extract_workloads([skip], "fashion-mnist", representative="best")


def test_covering_cells_hold_every_op() -> None:
    from hwbench.spaces.nb201 import parse

    ops = {o for c in covering_cells(n_random=0) for o in parse(c)}
    assert ops == {0, 1, 2, 3, 4}


def test_missing_database_is_named(tmp_path: Path) -> None:
    with pytest.raises(TuningError, match=str(tmp_path)):
        load_database(tmp_path)
    with pytest.raises(TuningError, match="no workloads"):
        tune([], tmp_path)


@pytest.mark.slow
def test_tiny_metaschedule_run_and_tuned_compile(conv3_workloads: list, tmp_path: Path) -> None:  # type: ignore[type-arg]
    """4 real trials on one workload; the database is JSON; the tuned schedule serves 4 fused functions."""
    sel = [w for w in conv3_workloads if "[8,8,3,3]" in w.shapes]
    rep = tune(sel, tmp_path / "db", trials_per_workload=4, trials_per_iter=4, workers=1)
    assert rep.workloads == 1 and rep.trials >= 1
    for name in (WORKLOADS_FILE, RECORDS_FILE):
        lines = (tmp_path / "db" / name).read_text().splitlines()
        assert lines and all(json.loads(line) for line in lines)  # JSON lines: a diff-able artifact
    meta = json.loads((tmp_path / "db" / "tuning.json").read_text())
    assert meta["budget"]["trials_per_workload"] == 4 and meta["budget"]["module_equality"] == "anchor-block"
    db = load_database(tmp_path / "db")
    sched = scheduled_functions(CONV3, "fashion-mnist", db)
    tuned = sorted(k for k, v in sched.items() if v)
    # one tuned anchor block schedules every fused function built around the 8->8 3x3 conv
    assert len(tuned) >= 4 and all(k.startswith("fused_conv2d") for k in tuned)
    assert not sched["fused_matmul_add7"] if "fused_matmul_add7" in sched else True
    cc = compile_cell(CONV3, "fashion-mnist", database=db)
    assert cc.tuned and cc.check["ok"]


@pytest.mark.slow
def test_tuning_campaign_records_each_workload_and_resumes(tmp_path: Path) -> None:
    """One real workload tuned (2 trials); a second call skips it and stops at the next unfinished one."""
    from hwbench.measure.tuning import CAMPAIGN_FILE, tune_campaign

    cells = ["|avg_pool_3x3~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|avg_pool_3x3~0|avg_pool_3x3~1|avg_pool_3x3~2|"]
    state = tune_campaign("fashion-mnist", tmp_path, cells=cells, trials=2, trials_other=2, limit=1, workers=1,
                          progress=False)
    assert len(state["workloads"]) == 1 and not state["complete"] and state["n_workloads"] > 1
    (key, first), = state["workloads"].items()
    assert first["budget"] == 2 and first["records_total"] >= 1 and first["seconds"] > 0
    assert first["trials_per_iter"] == 2  # min(trials_per_iter=16, budget)
    assert first["best_us"] is None or first["best_us"] > 0
    on_disk = json.loads((tmp_path / CAMPAIGN_FILE).read_text())
    assert on_disk["workloads"][key]["seconds"] == first["seconds"]
    again = tune_campaign("fashion-mnist", tmp_path, cells=cells, trials=2, trials_other=2, limit=0, workers=1,
                          progress=False)
    assert again["workloads"][key]["seconds"] == first["seconds"]  # not tuned again
    assert len(again["workloads"]) == 1
    assert on_disk["representative"] == "simplest"
    with pytest.raises(TuningError, match="another folder"):
        tune_campaign("cifar10", tmp_path, cells=cells, trials=2, limit=0, progress=False)
    # a state written before the representative was recorded resumes with the old rule
    del on_disk["representative"]
    (tmp_path / CAMPAIGN_FILE).write_text(json.dumps(on_disk))
    legacy = tune_campaign("fashion-mnist", tmp_path, cells=cells, trials=2, trials_other=2, limit=0, workers=1,
                           progress=False)
    assert legacy["representative"] == "first" and legacy["workloads"][key]["seconds"] == first["seconds"]
