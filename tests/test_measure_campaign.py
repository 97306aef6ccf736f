"""The measurement campaign on the shared campaign engine: local worker process and a real Dask LocalCluster."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tvm  # noqa: F401 - the tvm extra is required (CI installs it)

from hwbench.cli import main
from hwbench.measure.protocol import Protocol
from hwbench.measure.run import campaign_items, measure_campaign

FAST = Protocol(warmup=1, repeats=3, min_repeat_ms=5.0, max_attempts=1)
CELLS = [11785, 0]  # a connected cell and the all-none (disconnected) cell


def test_campaign_items_are_the_representatives_by_default() -> None:
    from hwbench.spaces.nb201 import SPACE

    items = campaign_items("cifar10", protocol=FAST)
    assert [it["index"] for it in items] == [int(i) for i in SPACE.representatives]
    assert items[0]["protocol"]["repeats"] == 3 and items[0]["target"]["kind"] == "llvm"
    json.dumps(items[0])  # JSON-serialisable (the engine stores items)


def test_measure_campaign_local_and_resume(tmp_path: Path) -> None:
    from hwbench.campaign import merge

    rep = measure_campaign("fashion-mnist", store_dir=tmp_path, protocol=FAST, cells=CELLS, shard_size=1,
                           workers=1, progress=False, name="m")
    assert rep.complete and rep.shards_written == 2 and rep.items_run == 2
    merged = merge("m", tmp_path)
    lat = np.asarray(merged["latency_ms"], dtype=float)
    assert np.all(np.isfinite(lat)) and np.all(lat > 0)
    assert list(merged["index"]) == CELLS
    assert list(merged["connected"]) == [True, False]
    # resuming does nothing more
    again = measure_campaign("fashion-mnist", store_dir=tmp_path, protocol=FAST, cells=CELLS, shard_size=1,
                             workers=1, progress=False, name="m")
    assert again.shards_written == 0 and again.shards_skipped == 2


@pytest.mark.slow
def test_measure_campaign_on_a_dask_local_cluster(tmp_path: Path) -> None:
    from dask.distributed import Client, LocalCluster

    from hwbench.campaign import merge

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        rep = measure_campaign("fashion-mnist", store_dir=tmp_path, protocol=FAST, cells=CELLS[:1], shard_size=1,
                               executor="dask", client=client, progress=False, name="d")
    assert rep.complete
    assert np.isfinite(np.asarray(merge("d", tmp_path)["latency_ms"], dtype=float)).all()


def test_cli_campaign_measure_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["campaign", "measure", "--frameworks", "nope"]) == 2
    assert "--frameworks" in capsys.readouterr().err
    assert main(["campaign", "measure", "--target", "cuda"]) == 2
    assert "llvm" in capsys.readouterr().err
