"""The campaign engine: shards, resume, corruption detection, local vs real Dask LocalCluster."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hwbench.campaign import (
    CampaignError,
    CampaignShardError,
    merge,
    probe,
    run_campaign,
    shard_path,
    status,
)


def _items(n: int, marker_dir: Path | None) -> list[dict]:
    return [{"x": i, "marker_dir": str(marker_dir) if marker_dir else None} for i in range(n)]


def _calls(marker_dir: Path) -> list[int]:
    return sorted(int(p.name.split("-")[1]) for p in marker_dir.glob("call-*"))


def test_run_writes_shards_and_merges(tmp_path: Path) -> None:
    rep = run_campaign("sq", _items(10, None), probe, shard_size=4, store_dir=tmp_path, workers=2, progress=False,
                       protocol={"what": "square"})
    assert rep.complete and rep.shards == 3 and rep.shards_written == 3 and rep.items_run == 10
    files = sorted(p.name for p in (tmp_path / "sq").glob("shard-*.json"))
    assert files == ["shard-00000.json", "shard-00001.json", "shard-00002.json"]
    d = json.loads(shard_path("sq", tmp_path, 2).read_text())
    assert [it["x"] for it in d["items"]] == [8, 9]  # shard k = items[k*size:(k+1)*size]
    assert d["protocol"] == {"what": "square"} and "python" in d["tool_versions"] and d["hosts"]
    m = merge("sq", tmp_path)
    np.testing.assert_array_equal(m["square"], np.arange(10) ** 2)
    assert m["vec"].shape == (10, 2) and m["sqrt"].dtype == np.float64
    np.testing.assert_array_equal(m["shard"], [0, 0, 0, 0, 1, 1, 1, 1, 2, 2])
    assert status("sq", tmp_path)["items_done"] == 10


def test_resume_runs_only_missing_items(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    items = _items(12, marks)
    (marks / "FAIL-9").touch()  # the first run dies on item 9 (shard 2 of size 4)
    with pytest.raises(CampaignError, match="failed"):
        run_campaign("r", items, probe, shard_size=4, store_dir=tmp_path / "store", workers=1, progress=False)
    done = sorted(p.name for p in (tmp_path / "store" / "r").glob("shard-*.json"))
    assert done == ["shard-00000.json", "shard-00001.json"]  # only complete shards were written
    before = {p: p.read_bytes() for p in (tmp_path / "store" / "r").glob("shard-*.json")}
    for p in marks.glob("call-*"):
        p.unlink()
    (marks / "FAIL-9").unlink()
    rep = run_campaign("r", items, probe, shard_size=4, store_dir=tmp_path / "store", workers=2, progress=False)
    assert rep.shards_skipped == 2 and rep.shards_written == 1 and rep.complete
    assert _calls(marks) == [8, 9, 10, 11]  # fn ran exactly for the missing shard's items
    for p, blob in before.items():
        assert p.read_bytes() == blob  # finished shards untouched
    # a third run does nothing at all
    rep = run_campaign("r", items, probe, shard_size=4, store_dir=tmp_path / "store", workers=2, progress=False)
    assert rep.items_run == 0 and len(_calls(marks)) == 4
    np.testing.assert_array_equal(merge("r", tmp_path / "store")["square"], np.arange(12) ** 2)


def test_max_shards_partial_then_resume(tmp_path: Path) -> None:
    rep = run_campaign("p", _items(9, None), probe, shard_size=3, store_dir=tmp_path, progress=False, max_shards=1)
    assert rep.shards_written == 1 and not rep.complete
    assert status("p", tmp_path)["shards_done"] == 1
    rep = run_campaign("p", _items(9, None), probe, shard_size=3, store_dir=tmp_path, progress=False)
    assert rep.shards_skipped == 1 and rep.shards_written == 2 and rep.items_run == 6


def test_corrupted_shard_is_detected(tmp_path: Path) -> None:
    items = _items(6, None)
    run_campaign("c", items, probe, shard_size=3, store_dir=tmp_path, workers=1, progress=False)
    p = shard_path("c", tmp_path, 1)
    d = json.loads(p.read_text())
    d["results"][0]["square"] = 12345  # an altered value
    p.write_text(json.dumps(d))
    with pytest.raises(CampaignShardError, match="sha256"):
        run_campaign("c", items, probe, shard_size=3, store_dir=tmp_path, workers=1, progress=False)
    with pytest.raises(CampaignShardError, match="shard-00001"):
        merge("c", tmp_path)
    p.write_text(p.read_text()[:50])  # a truncated file
    with pytest.raises(CampaignShardError, match="unreadable"):
        run_campaign("c", items, probe, shard_size=3, store_dir=tmp_path, workers=1, progress=False)
    rep = run_campaign("c", items, probe, shard_size=3, store_dir=tmp_path, workers=1, progress=False,
                       redo_invalid=True)
    assert rep.shards_redone == [1] and rep.items_run == 3
    np.testing.assert_array_equal(merge("c", tmp_path)["square"], np.arange(6) ** 2)


def test_changed_items_or_shard_size_refused(tmp_path: Path) -> None:
    run_campaign("m", _items(4, None), probe, shard_size=2, store_dir=tmp_path, workers=1, progress=False)
    with pytest.raises(CampaignError, match="shard_size"):
        run_campaign("m", _items(4, None), probe, shard_size=3, store_dir=tmp_path, workers=1, progress=False)
    with pytest.raises(CampaignError, match="items_sha256"):
        run_campaign("m", _items(5, None), probe, shard_size=2, store_dir=tmp_path, workers=1, progress=False)


def test_dask_local_cluster_matches_local_executor(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    items = _items(10, None)
    run_campaign("loc", items, probe, shard_size=3, store_dir=tmp_path, workers=2, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        rep = run_campaign("dsk", items, probe, shard_size=3, store_dir=tmp_path, executor="dask",
                           client=client, progress=False)
    assert rep.complete and rep.shards_written == 4
    a, b = merge("loc", tmp_path), merge("dsk", tmp_path)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_overview_lists_shard_and_tuning_campaigns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json as _json

    from hwbench.campaign import overview, run_campaign
    from hwbench.cli import main

    run_campaign("sq", _items(5, None), probe, shard_size=2, store_dir=tmp_path / "s", workers=1, progress=False,
                 max_shards=2)
    tdir = tmp_path / "t" / "cifar10-tabc"
    tdir.mkdir(parents=True)
    (tdir / "campaign.json").write_text(_json.dumps({"workloads": {"a": {}, "b": {}}, "n_workloads": 25,
                                                     "seconds": 7200.0}))
    rows = overview(tmp_path / "s", tmp_path / "t")
    assert rows[0] == {"campaign": "sq", "kind": "shards", "done": 2, "total": 3, "unit": "shards",
                       "note": "4/5 items"}
    assert rows[1]["done"] == 2 and rows[1]["total"] == 25 and rows[1]["note"] == "2.00 h of tuning"
    assert main(["campaign", "overview", "--store-dir", str(tmp_path / "s"), "--tuning-dir", str(tmp_path / "t"),
                 "--format", "json"]) == 0
    assert [r["campaign"] for r in _json.loads(capsys.readouterr().out)] == ["sq", "tune cifar10-tabc"]
