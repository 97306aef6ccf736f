"""The measurement campaign on the shared campaign engine: local worker process and a real Dask LocalCluster."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tvm  # the tvm extra is required (CI installs it)

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


def test_compile_phase_then_measure_phase_from_the_cache(tmp_path: Path) -> None:
    """Phase 1 compiles in parallel and caches libraries; phase 2 measures them without compiling again."""
    from hwbench.campaign import merge
    from hwbench.measure.run import compile_campaign

    cache = tmp_path / "cache"
    rep = compile_campaign("fashion-mnist", store_dir=tmp_path, cache=cache, cells=CELLS, shard_size=1, workers=2,
                           progress=False, name="c")
    assert rep.complete and rep.items_run == 2
    compiled = merge("c", tmp_path)
    assert list(compiled["index"]) == CELLS
    assert np.all(np.asarray(compiled["param_bytes"], dtype=float) > 0)
    libs = sorted(p.name for p in cache.rglob("*.so"))
    assert libs == sorted(f"{i}.so" for i in CELLS)
    rep = measure_campaign("fashion-mnist", store_dir=tmp_path, protocol=FAST, cache=cache, cells=CELLS,
                           shard_size=1, workers=1, progress=False, name="m")
    measured = merge("m", tmp_path)
    assert list(measured["from_cache"]) == [True, True]
    assert np.all(np.asarray(measured["latency_ms"], dtype=float) > 0)
    # the memory columns travel with the library: identical to what the compile phase recorded
    for col in ("planned_activation_bytes", "param_bytes", "output_bytes", "check_max_abs_err"):
        assert list(measured[col]) == list(compiled[col]), col


def test_cached_library_for_another_target_is_refused(tmp_path: Path) -> None:
    from hwbench.measure.compile import CompileError, compile_cell, host_target, load_compiled, save_compiled

    cc = compile_cell(CELLS[0], "fashion-mnist")
    save_compiled(cc, tmp_path)
    back = load_compiled(tmp_path, CELLS[0], target=host_target())
    assert back is not None and back.memory == cc.memory and back.check == cc.check
    assert load_compiled(tmp_path, 1, target=host_target()) is None  # not cached
    with pytest.raises(CompileError, match="compiled for"):
        load_compiled(tmp_path, CELLS[0], target=host_target(mcpu=None))
    with pytest.raises(CompileError, match="tuning database"):
        load_compiled(tmp_path, CELLS[0], target=host_target(), database_sha256="ab" * 32)
    # a truncated library is caught by its recorded size
    so = tmp_path / f"{CELLS[0]}.so"
    data = so.read_bytes()[:1000]
    so.unlink()  # a new file: truncating the loaded (mmap'ed) library in place would SIGBUS this process
    so.write_bytes(data)
    with pytest.raises(CompileError, match="bytes"):
        load_compiled(tmp_path, CELLS[0], target=host_target())


def test_save_with_check_checks_the_written_library_and_keeps_nothing_on_failure(tmp_path: Path) -> None:
    """The compile phase checks the .so it writes (not the JIT-compiled module): the check result is that of
    the loaded library, and a library that disagrees with eager (here: compared with a reference network of
    another weight seed) raises and leaves neither library nor sidecar behind."""
    from hwbench.measure.compile import CompileError, compile_cell, host_target, load_compiled, save_compiled

    cc = compile_cell(CELLS[0], "fashion-mnist", check=False)
    assert cc.check == {}
    save_compiled(cc, tmp_path / "ok", check=True)
    assert cc.check["ok"] and cc.check["max_abs_err"] < 1e-4
    assert isinstance(cc.executable, tvm.runtime.Module)  # the loaded library, not the relax executable
    back = load_compiled(tmp_path / "ok", CELLS[0], target=host_target())
    assert back is not None and back.check == cc.check and back.seed == cc.seed
    bad = compile_cell(CELLS[1], "fashion-mnist", check=False)
    bad.seed += 1
    with pytest.raises(CompileError, match="disagrees with PyTorch eager"):
        save_compiled(bad, tmp_path / "bad", check=True)
    assert list((tmp_path / "bad").iterdir()) == []


def test_cli_campaign_tune_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["campaign", "tune", "--trials", "0"]) == 2
    assert "--trials" in capsys.readouterr().err
    assert main(["campaign", "tune", "--trials-per-iter", "0"]) == 2
    assert "--trials-per-iter 0" in capsys.readouterr().err
    assert main(["campaign", "tune", "--target", "cuda"]) == 2
    assert "llvm" in capsys.readouterr().err


def test_table_columns_and_report_from_real_campaigns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Compile + measure two cells (untuned), turn the shards into table columns and a report."""
    from hwbench.measure.campaign import framework_ratios, repeatability, table_columns
    from hwbench.measure.run import compile_campaign
    from hwbench.spaces.nb201 import SPACE

    cells = [int(SPACE.canonical_ids[c]) for c in CELLS]  # the campaign measures representatives
    cache = tmp_path / "cache"
    compile_campaign("fashion-mnist", store_dir=tmp_path, cache=cache, cells=cells, shard_size=1, workers=1,
                     progress=False)
    measure_campaign("fashion-mnist", store_dir=tmp_path, protocol=FAST, cache=cache, cells=cells, shard_size=1,
                     progress=False)
    with pytest.raises(FileNotFoundError):
        table_columns(tmp_path)  # untuned campaigns never enter the table by default
    cols = {c.name: c for c in table_columns(tmp_path, tuned=False)}
    lat = cols["fashion-mnist/cpu-host/latency_ms"]
    assert lat.attrs["source"] == "measured" and lat.attrs["unit"] == "ms" and len(lat.values) == SPACE.size
    same_class = np.flatnonzero(SPACE.canonical_ids == SPACE.canonical_ids[cells[0]])
    assert len(same_class) > 1 and np.all(lat.values[same_class] == lat.values[cells[0]])  # broadcast
    assert np.isfinite(lat.values).sum() == sum(int((SPACE.canonical_ids == SPACE.canonical_ids[c]).sum())
                                                for c in cells)
    assert np.isnan(lat.values[SPACE.index("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|"
                                           "nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")])  # not measured: NaN
    planned = cols["fashion-mnist/cpu-host/planned_activation_bytes"]
    assert planned.values[cells[0]] > 0
    # report through the CLI, with a ratio file and a repeat file in `hwbench measure --format json` shape
    recs = [{"index": cells[0], "config": "fashion-mnist", "latency_ms": 2.0, "torch_latency_ms": 4.0,
             "onnxruntime_latency_ms": 1.0}]
    (tmp_path / "r.json").write_text(json.dumps(recs))
    assert main(["campaign", "measure-report", "--config", "fashion-mnist", "--untuned", "--store-dir",
                 str(tmp_path), "--ratios", str(tmp_path / "r.json"), "--repeat", str(tmp_path / "r.json"),
                 "--format", "json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["measure"]["cells"] == 2 and rep["measure"]["connected"] == 1
    assert rep["compile"]["cells"] == 2 and rep["compile"]["planned_over_analytic_peak"]["median"] > 0
    assert rep["ratios"]["tvm_over_torch"]["median"] == 0.5 and rep["ratios"]["tvm_over_onnxruntime"]["median"] == 2
    assert rep["repeatability"]["cells"] == 1
    assert repeatability({1: 2.0, 2: 4.0}, {1: 2.2, 2: 4.0})["median_abs_rel_diff"] == pytest.approx(0.05)
    assert framework_ratios(recs)["tvm_faster_than_torch_fraction"] == 1.0
    assert main(["campaign", "measure-report", "--ratios", str(tmp_path / "missing.json")]) == 2


def test_tuning_speedup_matches_cells_and_refuses_mixed_records(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Speed-up = untuned / tuned per cell, matched by (config, index); cells measured once are left out; a record
    in the wrong file (tuned flag) is an error, also through the CLI."""
    from hwbench.errors import HwbenchError
    from hwbench.measure.campaign import tuning_speedup

    tuned = [{"index": 1, "config": "cifar10", "tuned": True, "latency_ms": 1.0, "onnxruntime_latency_ms": 0.5},
             {"index": 2, "config": "cifar10", "tuned": True, "latency_ms": 2.0, "onnxruntime_latency_ms": 2.0},
             {"index": 3, "config": "cifar10", "tuned": True, "latency_ms": 3.0, "onnxruntime_latency_ms": 3.0}]
    untuned = [{"index": 1, "config": "cifar10", "tuned": False, "latency_ms": 40.0},
               {"index": 2, "config": "cifar10", "tuned": False, "latency_ms": 20.0},
               {"index": 4, "config": "cifar10", "tuned": False, "latency_ms": 99.0}]
    r = tuning_speedup(tuned, untuned)
    assert r["cells"] == 2 and r["speedup"]["min"] == 10.0 and r["speedup"]["max"] == 40.0
    assert r["speedup"]["median"] == pytest.approx(25.0) and r["untuned_over_onnxruntime"]["max"] == 80.0
    with pytest.raises(HwbenchError, match="untuned records include"):
        tuning_speedup(tuned, tuned)
    (tmp_path / "t.json").write_text(json.dumps(tuned))
    (tmp_path / "u.json").write_text(json.dumps(untuned))
    assert main(["campaign", "measure-report", "--store-dir", str(tmp_path), "--ratios", str(tmp_path / "t.json"),
                 "--untuned-json", str(tmp_path / "u.json"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["tuning_speedup"]["speedup"]["max"] == 40.0
    assert main(["campaign", "measure-report", "--store-dir", str(tmp_path), "--untuned-json",
                 str(tmp_path / "u.json")]) == 2  # needs --ratios
    assert main(["campaign", "measure-report", "--store-dir", str(tmp_path), "--ratios", str(tmp_path / "t.json"),
                 "--untuned-json", str(tmp_path / "t.json")]) == 2
    # --versus: the same cells another way (here: another target), its TVM latency over the ratio run's
    generic = [dict(r, latency_ms=r["latency_ms"] * f, fingerprint={"target": {"kind": "llvm"}, "threads": 1})
               for r, f in zip(tuned, (1.5, 0.5, 2.0))]
    capsys.readouterr()
    assert main(["campaign", "measure-report", "--store-dir", str(tmp_path), "--ratios", str(tmp_path / "t.json"),
                 "--versus", _write(tmp_path / "g.json", generic), "--format", "json"]) == 0
    v = json.loads(capsys.readouterr().out)["versus"]
    assert v["cells"] == 3 and v["other_over_base"]["median"] == 1.5 and v["other_faster_fraction"] == pytest.approx(1 / 3)
    assert v["other"]["targets"] == ['{"kind": "llvm"}'] and v["other"]["tuned"] == [True]
    assert main(["campaign", "measure-report", "--store-dir", str(tmp_path), "--versus", str(tmp_path / "g.json")]) == 2


def _write(path: Path, records: list) -> str:  # type: ignore[type-arg]
    path.write_text(json.dumps(records))
    return str(path)


def test_sample_cells_are_connected_representatives() -> None:
    from hwbench.commands.measure_cmd import sample_cells
    from hwbench.spaces.nb201 import SPACE, is_connected

    cells = sample_cells(50, 0)
    assert len(set(cells)) == 50 and cells == sample_cells(50, 0) and cells != sample_cells(50, 1)
    reps = {int(i) for i in SPACE.representatives}
    assert all(c in reps and is_connected(SPACE.parse(SPACE.arch_str(c))) for c in cells)
