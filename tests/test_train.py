"""Training one NB201 cell on the real Fashion-MNIST: learns, is deterministic, runs as a campaign."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hwbench.data import fashion_mnist as fm
from hwbench.errors import HwbenchError
from hwbench.spaces.nb201 import CONFIGS, SPACE
from hwbench.train import FASHION_MNIST_RECIPE, Recipe, train_cell

pytestmark = pytest.mark.skipif(
    not all((fm.DEBIAN_PATH / f).is_file() for f in fm.FILES),
    reason=f"Fashion-MNIST not installed ({fm.DEBIAN_PATH}; apt-get install dataset-fashion-mnist)",
)

TINY = Recipe(train_subset=2_000, epochs=1, batch_size=64, curve_eval_size=500)
CELL = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|"
_TIMES = {"epoch_time_s", "epoch_cpu_time_s", "eval_time_s", "total_time_s", "cpu_time_s"}


def test_shipped_recipe_matches_config() -> None:
    assert FASHION_MNIST_RECIPE.macro() == CONFIGS["fashion-mnist"]
    with pytest.raises(HwbenchError, match="input transform"):
        Recipe(transform="resize14")


def test_one_short_epoch_learns_and_is_deterministic() -> None:
    a = train_cell(CELL, TINY, seed=3)
    assert a.test_acc > 0.5 and a.valid_acc > 0.5  # chance is 0.1
    assert len(a.valid_acc_curve) == len(a.test_acc_curve) == len(a.epoch_time_s) == 1
    assert not a.degenerate and a.index == SPACE.index(CELL) and a.seed == 3 and a.threads == 1
    b = train_cell(CELL, TINY, seed=3)
    da, db = a.to_dict(), b.to_dict()
    for k in _TIMES:
        da.pop(k), db.pop(k)
    assert da == db  # bit-identical with the same seed and thread count
    c = train_cell(CELL, TINY, seed=4)
    assert c.test_loss != a.test_loss  # the seed matters


def test_degenerate_cell_stays_at_chance() -> None:
    cell = "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|none~2|"
    r = train_cell(cell, TINY, seed=0)
    assert r.degenerate
    assert r.test_acc == pytest.approx(0.1, abs=0.02)


@pytest.mark.slow
def test_training_campaign_on_two_cells(tmp_path: Path) -> None:
    from hwbench.campaign import merge, run_campaign
    from hwbench.train.campaign import broadcast, summarize, train_item

    big = "|avg_pool_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|nor_conv_3x3~2|"  # node 1 unused
    reps = [int(SPACE.canonical_ids[SPACE.index(big)]), 0]
    items = [{"index": i, "seed": 0, "role": "main"} for i in reps]
    rep = run_campaign("t", items, partial(train_item, recipe=TINY), shard_size=1, store_dir=tmp_path,
                       workers=2, progress=False)
    assert rep.complete
    m = merge("t", tmp_path)
    assert m["valid_acc_curve"].shape == (2, 1) and m["degenerate"].tolist() == [False, True]
    full = broadcast(m)
    same = SPACE.canonical_ids == reps[0]
    assert same.sum() > 1 and np.all(full["test_acc"][same] == m["test_acc"][0])
    assert np.isnan(full["test_acc"]).sum() == SPACE.size - same.sum() - (SPACE.canonical_ids == 0).sum()
    summary = summarize(m, n_items_total=4)
    assert summary["main_cells_done"] == 2 and summary["degenerate_cells_done"] == 1
    assert summary["best_cell"]["index"] == reps[0] and summary["two_seed_cells"] == 0
    assert summary["projected_cpu_hours_all_items"] > 0


def test_reproduce_a_committed_shard_item(capsys: pytest.CaptureFixture[str]) -> None:
    """Re-train the first item of a committed campaign shard with the recipe its protocol records."""
    import json as _json
    from pathlib import Path as _Path

    from hwbench.cli import main

    store = _Path(__file__).resolve().parents[1] / "datasets" / "shards"
    if not (store / "nb201-fashion-mnist-train" / "shard-00000.json").is_file():
        pytest.skip("no committed training shard in this checkout")
    assert main(["campaign", "reproduce", "--shard", "0", "--items", "1", "--store-dir", str(store),
                 "--format", "json"]) == 0
    rep = _json.loads(capsys.readouterr().out)
    (row,) = rep["rows"]
    # same recipe, seed and thread count: within the campaign's seed noise (0.75 points), and on the
    # same kind of CPU bit-identical
    assert rep["max_abs_diff_test_acc_pts"] < 0.75
    assert row["new_test_acc"] == pytest.approx(row["stored_test_acc"], abs=0.0075)
    assert main(["campaign", "reproduce", "--shard", "99999", "--store-dir", str(store)]) != 0
