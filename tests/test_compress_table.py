"""The shipped compression table (hwbench.compress.table, ``hwbench build compress``) and the int8 TVM
campaign (hwbench.compress.tvm_campaign): built from a real tiny accuracy campaign (``test-tiny``, one
base, the campaign code with a tiny recipe), the real cost model and, for the measured columns, a real
one-item int8 TVM campaign; loaded back through the table store."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from hwbench.compress.bases import ROLES, pinned_bases
from hwbench.compress.space import SPACES
from hwbench.compress.table import build_compress_table, part_measured, table_name, table_space
from hwbench.compress.tvm_campaign import int8_configs, is_all_int8, tvm_campaign_name, tvm_items

SPACE = "test-tiny"
BASE = "mcu"  # the base with a campaign in the tiny store
N = SPACES[SPACE].size  # 512
SOURCES = {
    "key": "analytic",
    "compress": "trained",
    "model": "analytic",
    "mcu-stm32f746": "simulated",
    "fpga-zc706": "simulated",
    "cpu-host": "measured",
}


@pytest.fixture(scope="module")
def cost_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("costs")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import tiny_compress_store

    return tiny_compress_store(tmp_path_factory.mktemp("shards"), BASE, test_limit=200, train_subset=128)


@pytest.fixture(scope="module")
def built(store: Path, cost_cache: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("datasets")
    rep = build_compress_table(SPACE, out, store_dir=store, cost_cache=cost_cache, progress=False)
    return rep


@pytest.fixture()
def table(built, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    import hwbench.table

    monkeypatch.setenv("HWBENCH_DATASETS", str(built.path.parent))
    return hwbench.table.load(table_name(SPACE))  # by manifest name: sha256 and row count verified


# ----------------------------------------------------------------------------- items of the int8 campaign
def test_int8_items() -> None:
    assert int8_configs(SPACE) == []  # bits (4, 32): no w8/a8 configuration
    cfgs = int8_configs("mpq-prune-small")
    assert (
        len(cfgs) == 8 and cfgs[0] == "m50.50.50-w8.8.8-a8.8.8" and cfgs[-1] == "m100.100.100-w8.8.8-a8.8.8"
    )
    assert all(is_all_int8("mpq-prune-small", c) for c in cfgs)
    sp = SPACES["mpq-prune-small"]
    assert [sp.index(c) for c in cfgs] == sorted(sp.index(c) for c in cfgs)
    items = tvm_items("mpq-prune-small")
    assert len(items) == 32 and [it["base"] for it in items[::8]] == list(ROLES)
    assert len(int8_configs("mpq-prune")) == 64
    from hwbench.compress.space import InvalidCompressionConfigError

    with pytest.raises(InvalidCompressionConfigError, match="not an all-int8 configuration"):
        tvm_items("mpq-prune-small", ["small"], ["m50.50.50-w8.4.8-a8.8.8"])


def test_cli_refuses_a_space_without_int8(capsys: pytest.CaptureFixture[str]) -> None:
    from hwbench.cli import main

    assert main(["compress", "tvm-campaign", "--space", SPACE, "--no-progress"]) == 2
    assert "no all-int8 configuration" in capsys.readouterr().err
    assert main(["compress", "tvm-campaign", "--bases", "bogus"]) == 2
    assert "unknown base role" in capsys.readouterr().err


# ----------------------------------------------------------------------------- the table
def test_builds_without_shards_with_nan_and_says_so(
    tmp_path: Path, cost_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hwbench.cli import main
    from hwbench.table import load, read_manifest

    assert (
        main(
            [
                "build",
                "compress",
                "--space",
                SPACE,
                "--out",
                str(tmp_path / "out"),
                "--store-dir",
                str(tmp_path / "empty"),
                "--cost-cache",
                str(cost_cache),
                "--no-progress",
                "--format",
                "json",
            ]
        )
        == 0
    )
    rep = json.loads(capsys.readouterr().out)
    assert rep["rows"] == 4 * N and "no accuracy campaign shard" in rep["parts"]["trained"]
    assert "no all-int8 configuration" in rep["parts"]["measured"]
    t = load(tmp_path / "out" / f"{table_name(SPACE)}.h5")
    assert np.isnan(t.column("fashion-mnist/compress/test_accuracy_pct")).all()
    assert np.isnan(t.column("fashion-mnist/cpu-host/int8_latency_ms")).all()
    assert (t.column("fashion-mnist/model/params") > 0).all()
    assert (
        "campaign not run"
        in json.loads(t.column_attrs("fashion-mnist/compress/test_accuracy_pct")["protocol"])["note"]
    )
    (entry,) = read_manifest(tmp_path / "out" / "manifest.toml")
    assert entry.name == table_name(SPACE) and entry.rows == 4 * N and math.isnan(entry.cpu_hours)


def test_rows_keys_and_attributes(built, table) -> None:  # type: ignore[no-untyped-def]
    sp = SPACES[SPACE]
    assert table.n_rows == built.rows == 4 * N and table.space == table_space(SPACE)
    assert table.sha256 == built.sha256 and built.size_bytes == built.path.stat().st_size
    assert table.archs[0] == f"{ROLES[0]}:m50.50.50-w4.4.4-a4.4.4"
    assert table.archs[-1] == f"{ROLES[-1]}:m100.100.100-w32.32.32-a32.32.32"
    cfg = "m50.100.50-w4.32.4-a32.4.4"
    row = table.rows(f"mcu:{cfg}")
    assert row == ROLES.index("mcu") * N + sp.index(cfg)
    q = table.query(f"mcu:{cfg}", "key/*")
    assert q["key/base_role"] == 3 and q["key/base_nb201_index"] == pinned_bases()["mcu"].index
    assert q["key/config_index"] == sp.index(cfg) and q["key/all_int8"] == 0
    assert [q[f"key/m{s}_pct"] for s in (1, 2, 3)] == [50, 100, 50]
    assert [q[f"key/w{s}_bits"] for s in (1, 2, 3)] == [4, 32, 4]
    assert [q[f"key/a{s}_bits"] for s in (1, 2, 3)] == [32, 4, 4]
    # the key columns agree with the space's parser on every row
    df = table.to_pandas("key/*")
    for i in range(0, 4 * N, 37):
        role, c = table.archs[i].split(":")
        p = sp.parse(c)
        assert df.at[i, "key/base_role"] == ROLES.index(role) and df.at[i, "key/config_index"] == sp.index(c)
        assert [df.at[i, f"key/w{s}_bits"] for s in (1, 2, 3)] == list(p.w_bits)
    for name in table.metrics:
        a = table.column_attrs(name)
        group = name.split("/")[0] if name.startswith("key/") else name.split("/")[1]
        assert a["source"] == SOURCES[group], name
        assert a["unit"] and a["tool"] and a["tool_version"] and a["device"] and a["description"], name
        assert isinstance(json.loads(a["protocol"]), dict) and a["date"], name
    assert {
        "fashion-mnist/cpu-host/int8_latency_ms__iqr",
        "fashion-mnist/cpu-host/fp32_latency_ms__iqr",
    } <= set(table.metrics)


def test_accuracy_equals_the_shards(built, table, store: Path) -> None:  # type: ignore[no-untyped-def]
    from hwbench.campaign import merge
    from hwbench.compress.campaign import campaign_name
    from hwbench.compress.tasks import campaign_accuracy

    sp = SPACES[SPACE]
    acc = table.column("fashion-mnist/compress/test_accuracy_pct")
    k = ROLES.index(BASE)
    want, _ = campaign_accuracy(SPACE, BASE, store)
    assert np.array_equal(acc[k * N : (k + 1) * N], 100.0 * want) and np.isfinite(want).all()
    others = np.delete(np.arange(4 * N), np.arange(k * N, (k + 1) * N))
    assert np.isnan(acc[others]).all()  # the other bases have no campaign: NaN, never 0
    merged = merge(campaign_name(SPACE), store)
    flt = table.column("fashion-mnist/compress/float_test_accuracy_pct")
    ft = table.column("fashion-mnist/compress/finetune_train_accuracy_pct")
    tm = table.column("fashion-mnist/compress/block_time_s")
    for j in range(len(merged["shard"])):
        start = k * N + int(merged["index_start"][j])
        block = slice(start, start + sp.n_bit_choices)
        assert np.all(flt[block] == 100.0 * merged["float_test_acc"][j])
        assert np.all(tm[block] == merged["cpu_time_s"][j])
        if merged["widths"][j] == "m100.100.100":
            assert np.isnan(ft[block]).all()  # full width: no fine-tune
        else:
            assert np.all(ft[block] == 100.0 * merged["finetune_train_acc"][j])
    man = json.loads((store / campaign_name(SPACE) / "campaign.json").read_text())
    attrs = table.column_attrs("fashion-mnist/compress/test_accuracy_pct")
    assert json.loads(attrs["protocol"]) == man["protocol"] and man["protocol"]["test_limit"] == 200
    assert "first 200" in attrs["description"]
    assert "8 of 32 pruning blocks" in built.parts["trained"] and f"{BASE} 8/8" in built.parts["trained"]


def test_costs_equal_cost_block(table) -> None:  # type: ignore[no-untyped-def]
    from hwbench.compress.campaign import cost_block
    from hwbench.compress.tasks import DEVICE_METRICS, FPGA_METRICS, MODEL_METRICS

    rng = np.random.default_rng(0)
    for k, role in enumerate(ROLES):
        idx = np.sort(rng.choice(N, 3, replace=False))
        mcu = cost_block(role, SPACE, "mcu-stm32f746", indices=idx)
        fpga = cost_block(role, SPACE, "fpga-zc706", indices=idx)
        got = table.query(k * N + idx)
        for m in MODEL_METRICS:
            assert np.array_equal(got[f"fashion-mnist/model/{m}"], mcu[m]), (role, m)
        for m in DEVICE_METRICS:
            assert np.array_equal(got[f"fashion-mnist/mcu-stm32f746/{m}"], mcu[m]), (role, m)
        for m in FPGA_METRICS:
            assert np.array_equal(got[f"fashion-mnist/fpga-zc706/{m}"], fpga[m]), (role, m)
    assert table.column("fashion-mnist/model/params").dtype == np.int64  # exact counts stay integers


def test_measured_columns_nan_with_the_reason(table) -> None:  # type: ignore[no-untyped-def]
    for name in table.list_metrics("fashion-mnist/cpu-host/*"):
        assert np.isnan(table.column(name)).all(), name
        if table.column_info(name).dispersion_of is None:
            assert "not all-int8" in table.column_attrs(name)["description"], name


# ----------------------------------------------------------------------------- the int8 TVM campaign
@pytest.mark.slow
def test_int8_campaign_resumes_and_fills_the_measured_columns(tmp_path: Path) -> None:
    """One real item (the smallest network: ``small`` at half width): compile int8 + fp32, check, time
    (a tiny protocol: the numbers are not results on a busy machine); a second run does nothing."""
    pytest.importorskip("torch")
    try:
        import tvm  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"apache-tvm is not importable ({exc})")
    from conftest import COMPRESS_BASE_DIR

    from hwbench.campaign import merge
    from hwbench.compress.tvm_campaign import run_tvm_campaign
    from hwbench.measure.protocol import Protocol

    if not (COMPRESS_BASE_DIR / "small.safetensors").is_file():
        pytest.skip("base network small not trained")
    sp = SPACES["mpq-prune-small"]
    cfg = "m50.50.50-w8.8.8-a8.8.8"
    proto = Protocol(threads=1, warmup=1, repeats=3, min_repeat_ms=1.0, max_attempts=1)
    kw = {
        "space": sp.name,
        "bases": ["small"],
        "configs": [cfg],
        "base_dir": COMPRESS_BASE_DIR,
        "store_dir": tmp_path,
        "protocol": proto,
        "progress": False,
        "check_images": 32,
    }
    rep = run_tvm_campaign(**kw)
    assert (rep.items, rep.shards_written, rep.items_run) == (1, 1, 1) and rep.complete
    shard = tmp_path / tvm_campaign_name(sp.name) / "shard-00000.json"
    before = shard.read_bytes()
    again = run_tvm_campaign(**kw)
    assert (again.shards_skipped, again.shards_written, again.items_run) == (1, 0, 0)
    assert shard.read_bytes() == before
    m = merge(tvm_campaign_name(sp.name), tmp_path)
    assert list(m["config"]) == [cfg] and int(m["index"][0]) == sp.index(cfg)
    assert bool(m["int8_check_ok"][0]) and bool(m["fp32_check_ok"][0]) and int(m["check_images"][0]) == 32
    assert int(m["int8_threads"][0]) == 1 and m["fingerprint"][0]["threads"] == 1
    assert m["int8_fp32_latency_ratio"][0] == pytest.approx(m["int8_latency_ms"][0] / m["fp32_latency_ms"][0])
    assert int(m["int8_int8_kernels"][0]) == 8 and 0.25 < m["int8_fp32_param_bytes_ratio"][0] < 0.3
    proto_stored = json.loads((tmp_path / tvm_campaign_name(sp.name) / "campaign.json").read_text())[
        "protocol"
    ]
    assert proto_stored["measure"]["threads"] == 1 and proto_stored["target"]["kind"] == "llvm"
    assert json.loads(m["target"][0]) == proto_stored["target"]  # compiled for the recorded target
    # the measured part of the table: the shard's values on the item's row, NaN elsewhere
    cols, note, seconds = part_measured(sp, tmp_path)
    assert note.startswith("1 of 32 all-int8 configurations measured") and seconds > 0
    row = ROLES.index("small") * sp.size + sp.index(cfg)
    by = {c.name: c for c in cols}
    for key in (
        "int8_latency_ms",
        "fp32_latency_ms",
        "int8_fp32_latency_ratio",
        "int8_param_bytes",
        "fp32_planned_activation_bytes",
        "int8_check_same_argmax",
    ):
        c = by[f"fashion-mnist/cpu-host/{key}"]
        assert c.values[row] == float(m[key][0]) and np.isnan(np.delete(c.values, row)).all(), key
        assert c.attrs["source"] == "measured" and c.attrs["protocol"] == proto_stored
        assert c.attrs["tool_version"] == proto_stored["apache-tvm"] and c.attrs["device"].startswith(
            "cpu-host: "
        )
    assert by["fashion-mnist/cpu-host/int8_latency_ms"].iqr[row] == float(m["int8_latency_iqr_ms"][0])


# ----------------------------------------------------------------------------- the report of the table
def test_report_figures_come_from_the_table(table) -> None:  # type: ignore[no-untyped-def]
    """``hwbench compress report``: every figure re-derived here from the table's columns by brute force."""
    from hwbench.compress.report import ACC, MCU_LAT, SIZE, compress_report, report_markdown

    sp = SPACES[SPACE]
    rep = compress_report(table)
    assert rep["space"] == SPACE and rep["table_sha256"] == table.sha256
    role_i = ROLES.index(BASE)
    rows = np.flatnonzero(table.column("key/base_role") == role_i)
    acc = table.column(ACC)[rows]
    e = rep["bases"][BASE]
    assert e["rows"] == N and e["rows_with_accuracy"] == int(np.isfinite(acc).sum()) == N
    f_acc = acc[sp.index("m100.100.100-w32.32.32-a32.32.32")]
    assert e["float_accuracy_pct"] == pytest.approx(f_acc, abs=1e-3)
    u = {(x["w_bits"], x["a_bits"]): x for x in e["uniform"]}
    assert set(u) == {(w, a) for w in sp.bits for a in sp.bits}
    i44 = sp.index("m100.100.100-w4.4.4-a4.4.4")
    assert u[4, 4]["drop_points"] == pytest.approx(f_acc - acc[i44], abs=1e-3)
    lat = table.column(MCU_LAT)[rows]
    assert u[4, 4]["mcu_latency_vs_float"] == pytest.approx(lat[i44] / lat[sp.index("m100.100.100-w32.32.32-a32.32.32")],
                                                           abs=1e-4)
    assert u[32, 32]["drop_points"] == 0 and u[32, 32]["model_size_vs_float"] == 1
    assert len(e["pruning"]) == sp.n_width_choices and "stage_sensitivity" not in e  # no 8-bit in test-tiny
    # the fronts: brute-force non-domination over every (accuracy, cost) pair
    for key, col in (("mcu_latency", MCU_LAT), ("model_size", SIZE)):
        cost = table.column(col)[rows]
        dominated = np.array([np.any((acc >= acc[i]) & (cost <= cost[i]) & ((acc > acc[i]) | (cost < cost[i])))
                              for i in range(N)])
        front = e["pareto"][key]
        assert front["of"] == N and front["points"] == len(front["front"])
        got = {sp.index(p["config"]) for p in front["front"]}
        assert all(not dominated[i] for i in got)
        # every non-dominated (accuracy, cost) value pair is on the listed front (ties kept once)
        assert {(round(acc[i], 6), cost[i]) for i in np.flatnonzero(~dominated)} == {
            (round(acc[i], 6), cost[i]) for i in got}
    for other in ROLES:
        if other != BASE:
            assert rep["bases"][other]["rows_with_accuracy"] == 0 and "note" in rep["bases"][other]
    assert rep["int8_tvm"] == {"configs_measured": 0, "configs_all_int8": 0}
    md = report_markdown(rep)
    assert f"| {BASE} | w4/a4 |" in md and "0 of 0 all-int8 configurations measured" in md


def test_report_refuses_a_table_that_is_not_a_compression_table() -> None:
    import hwbench
    from hwbench.compress.report import CompressReportError, compress_report

    with pytest.raises(CompressReportError, match="not a compression table"):
        compress_report(hwbench.load("nb201"))
