"""The table store: writer validation, lazy reader, queries, manifest/integrity, overlays, locations."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from hwbench.errors import (
    InvalidArchitectureError,
    TableFormatError,
    TableIntegrityError,
    UnknownMetricError,
)
from hwbench.spaces import get_space
from hwbench.table import (
    FORMAT,
    SOURCES,
    Table,
    TableNotFoundError,
    TableWriter,
    _manifest,
    cache_dir,
    download_file,
    list_tables,
    load,
    overlay_path,
    read_manifest,
    resolve,
    sha256_file,
    update_manifest_entry,
    user_dir,
)

REPO = Path(__file__).resolve().parents[1]
N = 15625
BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
META: dict[str, Any] = {
    "unit": "ms",
    "source": "simulated",
    "tool": "hwbench-sim",
    "tool_version": "0.1",
    "device": "toy",
    "protocol": {"repeats": 3, "threads": 1},
    "description": "test column",
}


def _values(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).random(N) * 10
    v[::97] = np.nan  # missing values are NaN
    return v


def build_table(path: Path) -> dict[str, np.ndarray]:
    """A small realistic table; returns the arrays written."""
    cols = {
        "cifar10/cpu-host/latency_ms": _values(1),
        "cifar100/cpu-host/latency_ms": _values(2),
        "cifar10/model/params": np.arange(N, dtype=np.int64) * 3,
    }
    curve = np.random.default_rng(3).random((N, 4))
    with TableWriter(path) as w:
        w.add_column(
            "cifar10/cpu-host/latency_ms",
            cols["cifar10/cpu-host/latency_ms"],
            **META,
            std=np.full(N, 0.5),
            date="2026-11-24",
        )
        w.add_column(
            "cifar100/cpu-host/latency_ms", cols["cifar100/cpu-host/latency_ms"], **META, iqr=np.full(N, 0.25)
        )
        w.add_column(
            "cifar10/model/params",
            cols["cifar10/model/params"],
            unit="1",
            source="analytic",
            tool="hwbench",
            tool_version="0.1",
            device="none",
            protocol={},
            description="weights",
        )
        w.add_column(
            "fashion-mnist/train/test_accuracy_pct",
            curve * 100,
            unit="%",
            source="trained",
            tool="torch",
            tool_version="2.13",
            device="cpu",
            protocol={"epochs": 4, "seeds": [0]},
            description="accuracy per epoch",
        )
    cols["fashion-mnist/train/test_accuracy_pct"] = curve * 100
    return cols


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    path = tmp_path_factory.mktemp("tbl") / "nb201.h5"
    return path, build_table(path)


@pytest.fixture
def table(built: tuple[Path, dict[str, np.ndarray]]) -> Table:
    return load(built[0], overlay=False)


# ------------------------------------------------------------------------------------------ format


def test_file_layout_and_attributes(built: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, cols = built
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == FORMAT == "hwbench.table/1"
        assert f.attrs["space"] == "nb201" and f.attrs["n_rows"] == N and f.attrs["kind"] == "table"
        assert "hwbench_version" in f.attrs and "created" in f.attrs
        assert f["archs"].shape == (N,) and f["archs"][0].decode() == get_space("nb201").arch_str(0)
        ds = f["columns/cifar10/cpu-host/latency_ms"]
        assert ds.dtype == np.float64 and ds.compression == "gzip" and ds.shuffle
        assert (
            ds.attrs["source"] == "simulated"
            and ds.attrs["unit"] == "ms"
            and ds.attrs["date"] == "2026-11-24"
        )
        assert json.loads(ds.attrs["protocol"]) == {"repeats": 3, "threads": 1}
        std = f["columns/cifar10/cpu-host/latency_ms__std"]
        assert std.attrs["dispersion_of"] == "cifar10/cpu-host/latency_ms"
        assert (
            f["columns/cifar100/cpu-host/latency_ms__iqr"].attrs["dispersion_of"]
            == "cifar100/cpu-host/latency_ms"
        )
        assert f["columns/cifar10/model/params"].dtype == np.int64
        assert f["columns/fashion-mnist/train/test_accuracy_pct"].shape == (N, 4)
        np.testing.assert_array_equal(ds[()], cols["cifar10/cpu-host/latency_ms"])


def test_metadata_and_lazy_columns(table: Table, built: tuple[Path, dict[str, np.ndarray]]) -> None:
    assert table.space == "nb201" and len(table) == N
    assert table._cache == {}  # nothing read at load
    assert "cifar10/cpu-host/latency_ms__std" in table.metrics
    assert table.list_metrics("*/cpu-host/latency_ms") == [
        "cifar10/cpu-host/latency_ms",
        "cifar100/cpu-host/latency_ms",
    ]
    info = table.metric_info().set_index("name")
    assert info.loc["cifar10/model/params", "source"] == "analytic"
    assert info.loc["cifar10/cpu-host/latency_ms", "device"] == "toy"
    assert json.loads(info.loc["fashion-mnist/train/test_accuracy_pct", "protocol"])["epochs"] == 4
    assert info.loc["cifar10/cpu-host/latency_ms__std", "dispersion_of"] == "cifar10/cpu-host/latency_ms"
    col = table.column("cifar10/cpu-host/latency_ms")
    assert col is table.column("cifar10/cpu-host/latency_ms")  # cached
    assert not col.flags.writeable
    np.testing.assert_array_equal(col, built[1]["cifar10/cpu-host/latency_ms"])
    assert np.isnan(col[0]) and np.isnan(col[97])


def test_summary_and_attribute_helpers(table: Table, built: tuple[Path, dict[str, np.ndarray]]) -> None:
    summary = table.info()
    assert summary["rows"] == N and summary["space"] == "nb201" and summary["format"] == FORMAT
    assert summary["sha256"] == sha256_file(built[0]) and summary["columns"] == len(table.metrics) == 6
    assert summary["columns_by_source"] == "analytic=1, simulated=4, trained=1" and summary["overlay"] == ""
    assert table.name == "nb201"
    attrs = table.column_attrs("cifar10/cpu-host/latency_ms__std")
    assert attrs["dispersion_of"] == "cifar10/cpu-host/latency_ms" and attrs["unit"] == "ms"
    assert table.column_info("cifar10/model/params").dtype == "int64"
    assert table.arch_string(0) == get_space("nb201").arch_str(0)
    assert table.arch_string(BEST) == BEST
    with pytest.raises(UnknownMetricError):
        table.column_attrs("x/y/z")
    # no open file handle inside: a Table can be shipped to worker processes (e.g. Dask)
    clone = pickle.loads(pickle.dumps(table))
    assert clone.query(9, "cifar10/model/params") == {"cifar10/model/params": 27}


def test_query_single_and_many(table: Table, built: tuple[Path, dict[str, np.ndarray]]) -> None:
    cols = built[1]
    sp = get_space("nb201")
    i = sp.index(BEST)
    one = table.query(BEST, ["cifar10/cpu-host/latency_ms", "cifar10/model/params"])
    assert one == {
        "cifar10/cpu-host/latency_ms": cols["cifar10/cpu-host/latency_ms"][i],
        "cifar10/model/params": 3 * i,
    }
    assert isinstance(one["cifar10/model/params"], int) and isinstance(
        one["cifar10/cpu-host/latency_ms"], float
    )
    assert table.query(i, "cifar10/model/params") == {"cifar10/model/params": 3 * i}
    assert table.query(np.int32(i), "cifar10/model/params") == {"cifar10/model/params": 3 * i}
    curve = table.query(i, "fashion-mnist/train/test_accuracy_pct")["fashion-mnist/train/test_accuracy_pct"]
    np.testing.assert_allclose(curve, cols["fashion-mnist/train/test_accuracy_pct"][i])
    idx = np.array([5, 0, 15624, 5])
    many = table.query(idx, "cifar100/cpu-host/latency_ms")
    np.testing.assert_array_equal(
        many["cifar100/cpu-host/latency_ms"], cols["cifar100/cpu-host/latency_ms"][idx]
    )
    strs = [sp.arch_str(int(k)) for k in idx]
    np.testing.assert_array_equal(table.rows(strs), idx)
    np.testing.assert_array_equal(table.rows([strs[0], 0, strs[2]]), [5, 0, 15624])  # mixed
    np.testing.assert_array_equal(table.rows(list(idx)), idx)
    assert table.rows(" " + BEST) == i  # accepted by the space parser, canonical spelling looked up
    everything = table.query(3)
    assert set(everything) == set(table.metrics)
    pat = table.query([1, 2], "cifar1*/cpu-host/latency_ms")
    assert list(pat) == ["cifar10/cpu-host/latency_ms", "cifar100/cpu-host/latency_ms"]


def test_bad_architectures_and_metrics(table: Table) -> None:
    with pytest.raises(InvalidArchitectureError, match="unknown op 'conv_5x5'"):
        table.query(BEST.replace("nor_conv_1x1", "conv_5x5").replace("skip_connect", "conv_5x5"))
    with pytest.raises(InvalidArchitectureError, match="out of range"):
        table.query(N, "cifar10/model/params")
    with pytest.raises(InvalidArchitectureError, match="out of range"):
        table.query(np.array([1, N + 3]), "cifar10/model/params")
    with pytest.raises(InvalidArchitectureError, match="out of range"):
        table.query([-1], "cifar10/model/params")
    with pytest.raises(InvalidArchitectureError):
        table.query([True, False], "cifar10/model/params")
    with pytest.raises(InvalidArchitectureError, match="got None"):
        table.query(None, "cifar10/model/params")  # type: ignore[arg-type]
    with pytest.raises(InvalidArchitectureError, match="1-D"):
        table.query([[1, 2]], "cifar10/model/params")
    with pytest.raises(InvalidArchitectureError, match="unsupported type float"):
        table.query([1.5], "cifar10/model/params")
    with pytest.raises(InvalidArchitectureError, match="nb201_index"):
        table.query("nb201:12")  # no NATS import in this table
    with pytest.raises(UnknownMetricError) as exc:
        table.query(0, "cifar10/cpu-host/latency")
    msg = str(exc.value)
    assert "closest: cifar10/cpu-host/latency_ms" in msg and "valid metrics" in msg
    with pytest.raises(UnknownMetricError):
        table.column("nope")
    with pytest.raises(UnknownMetricError):
        table.query(0, "imagenet*/x")


def test_to_pandas_matches_query(table: Table) -> None:
    df = table.to_pandas()
    assert len(df) == N and df.index.name == "index" and df["arch"].iloc[7] == get_space("nb201").arch_str(7)
    assert "fashion-mnist/train/test_accuracy_pct" not in df.columns  # curves only when asked
    idx = np.array([3, 99, 1234])
    q = table.query(idx, "cifar10/cpu-host/latency_ms")["cifar10/cpu-host/latency_ms"]
    np.testing.assert_array_equal(df.loc[idx, "cifar10/cpu-host/latency_ms"].to_numpy(), q)
    curves = table.to_pandas(["fashion-mnist/train/test_accuracy_pct"])
    assert list(curves.columns) == ["arch"] + [
        f"fashion-mnist/train/test_accuracy_pct[{e}]" for e in range(4)
    ]


# ------------------------------------------------------------------------------------------ writer


def test_writer_rejects_bad_columns(tmp_path: Path) -> None:
    path = tmp_path / "t.h5"
    w = TableWriter(path)
    with pytest.raises(TableFormatError, match="has 100 rows, the table has 15625"):
        w.add_column("cifar10/cpu-host/latency_ms", np.ones(100), **META)
    with pytest.raises(TableFormatError, match="unknown source 'guessed'.*measured"):
        w.add_column("cifar10/cpu-host/latency_ms", np.ones(N), **{**META, "source": "guessed"})
    bad = np.ones(N)
    bad[10] = np.inf
    with pytest.raises(TableFormatError, match="infinite at row 10"):
        w.add_column("cifar10/cpu-host/latency_ms", bad, **META)
    with pytest.raises(TableFormatError, match="invalid column name"):
        w.add_column("cifar10//latency_ms", np.ones(N), **META)
    with pytest.raises(TableFormatError, match="reserved dispersion suffix"):
        w.add_column("cifar10/cpu/latency_ms__std", np.ones(N), **META)
    with pytest.raises(TableFormatError, match="protocol is not valid JSON"):
        w.add_column("cifar10/cpu/latency_ms", np.ones(N), **{**META, "protocol": "{repeats: 3"})
    with pytest.raises(TableFormatError, match="numeric"):
        w.add_column("cifar10/cpu/latency_ms", np.array(["a"] * N), **META)
    with pytest.raises(TableFormatError, match="std has shape"):
        w.add_column("cifar10/cpu/latency_ms", np.ones(N), **META, std=np.ones((N, 2)))
    w.add_column("cifar10/cpu/latency_ms", np.ones(N), **META)
    with pytest.raises(TableFormatError, match="already added"):
        w.add_column("cifar10/cpu/latency_ms", np.ones(N), **META)
    with pytest.raises(TableFormatError, match="prefix"):
        w.add_column("cifar10/cpu/latency_ms/x", np.ones(N), **META)
    w.close()
    t = load(path, overlay=False)
    assert t.metrics == ["cifar10/cpu/latency_ms"]
    with pytest.raises(TableFormatError, match="already closed"):
        w.add_column("a/b/c", np.ones(N), **META)


def test_writer_validates_archs_against_space(tmp_path: Path) -> None:
    strings = list(get_space("nb201").all_strings)
    swapped = strings.copy()
    swapped[1], swapped[2] = swapped[2], swapped[1]
    with pytest.raises(TableFormatError, match=r"archs\[1\]"):
        TableWriter(tmp_path / "a.h5", archs=swapped)
    broken = strings.copy()
    broken[7] = "|conv~0|+|x~0|"
    with pytest.raises(InvalidArchitectureError):
        TableWriter(tmp_path / "a.h5", archs=broken)
    with pytest.raises(TableFormatError, match="15625 rows"):
        TableWriter(tmp_path / "a.h5", archs=strings[:10])
    assert not list(tmp_path.iterdir())  # nothing left behind


def test_writer_is_atomic(tmp_path: Path) -> None:
    path = tmp_path / "nb201.h5"
    build_table(path)
    before = path.read_bytes()
    with pytest.raises(RuntimeError), TableWriter(path) as w:
        w.add_column("a/b/c", np.zeros(N), **META)
        raise RuntimeError("build failed half-way")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nb201.h5"]  # temp file removed


# ------------------------------------------------------------------------------- manifest/integrity


def _shipped(tmp_path: Path) -> Path:
    folder = tmp_path / "datasets"
    folder.mkdir()
    build_table(folder / "nb201.h5")
    update_manifest_entry(
        folder / "manifest.toml",
        folder / "nb201.h5",
        name="nb201",
        version="1",
        description="test table",
        citation="nobody",
        built_with={"hwbench": "0.1.0"},
        cpu_hours=0.01,
    )
    return folder


def test_manifest_roundtrip_and_load_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _shipped(tmp_path)
    (entry,) = read_manifest(folder / "manifest.toml")
    assert entry.name == "nb201" and entry.rows == N and entry.space == "nb201"
    assert entry.sha256 == sha256_file(folder / "nb201.h5") and entry.built_with == {"hwbench": "0.1.0"}
    assert entry.cpu_hours == 0.01 and entry.url == ""
    # replacing an entry keeps one entry per name
    update_manifest_entry(folder / "manifest.toml", folder / "nb201.h5", name="nb201", version="2")
    assert [e.version for e in read_manifest(folder / "manifest.toml")] == ["2"]
    monkeypatch.setenv("HWBENCH_DATASETS", str(folder))
    t = load("nb201", overlay=False)
    assert t.path == folder / "nb201.h5" and t.sha256 == entry.sha256
    assert list_tables()[0].name == "nb201"
    # an explicit path with a manifest beside it is verified too
    assert load(folder / "nb201.h5", overlay=False).sha256 == entry.sha256


def test_verification_is_cached_per_file_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _shipped(tmp_path)
    monkeypatch.setenv("HWBENCH_DATASETS", str(folder))
    load("nb201", overlay=False)
    before = _manifest._sha256_cached.cache_info()
    for _ in range(3):
        load("nb201", overlay=False)
    after = _manifest._sha256_cached.cache_info()
    assert after.misses == before.misses and after.hits >= before.hits + 3


def test_altered_byte_fails_verification(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _shipped(tmp_path)
    monkeypatch.setenv("HWBENCH_DATASETS", str(folder))
    path = folder / "nb201.h5"
    expected = sha256_file(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(TableIntegrityError) as exc:
        load("nb201")
    msg = str(exc.value)
    assert str(path) in msg and expected in msg and sha256_file(path) in msg


def test_truncated_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _shipped(tmp_path)
    monkeypatch.setenv("HWBENCH_DATASETS", str(folder))
    path = folder / "nb201.h5"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(TableIntegrityError, match="truncated, altered"):
        load("nb201")
    with pytest.raises(TableFormatError, match="not a readable HDF5 file"):
        load("nb201", verify=False)


def test_not_an_hdf5_file(tmp_path: Path) -> None:
    path = tmp_path / "fake.h5"
    path.write_text("CIFAR10TestAccuracy200Epochs,ArchitectureString\n")
    with pytest.raises(TableFormatError, match=f"{path}.*not a readable HDF5 file"):
        load(path)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(TableFormatError, match="not an hwbench table"):
        load(other)


def test_missing_column_attributes(tmp_path: Path) -> None:
    path = tmp_path / "nb201.h5"
    build_table(path)
    with h5py.File(path, "r+") as f:
        del f["columns/cifar10/cpu-host/latency_ms"].attrs["unit"]
    # the root index still lists the attribute: loading works, reading the column fails clearly
    t = load(path, overlay=False)
    with pytest.raises(TableFormatError, match="'cifar10/cpu-host/latency_ms' lacks attribute.*unit"):
        t.column("cifar10/cpu-host/latency_ms")
    # a file written by another tool (no index) fails at load
    with h5py.File(path, "r+") as f:
        del f.attrs["columns_index"]
    with pytest.raises(TableFormatError, match="'cifar10/cpu-host/latency_ms' lacks attribute.*unit"):
        load(path, overlay=False)


def test_index_fallback_sees_foreign_columns(tmp_path: Path) -> None:
    path = tmp_path / "nb201.h5"
    build_table(path)
    with h5py.File(path, "r+") as f:  # a column added by another tool, with full attributes
        ds = f["columns"].create_dataset("cifar10/extra/energy_mj", data=np.ones(N))
        for k, v in {**META, "protocol": "{}", "date": "2026-01-01", "unit": "mJ"}.items():
            ds.attrs[k] = v
    t = load(path, overlay=False)
    assert "cifar10/extra/energy_mj" in t.metrics and t.query(4, "cifar10/extra/energy_mj") == {
        "cifar10/extra/energy_mj": 1.0
    }


def test_manifest_row_count_mismatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _shipped(tmp_path)
    m = folder / "manifest.toml"
    m.write_text(m.read_text().replace("rows = 15625", "rows = 15000"))
    monkeypatch.setenv("HWBENCH_DATASETS", str(folder))
    with pytest.raises(TableIntegrityError, match="15000"):
        load("nb201")


def test_not_found_lists_places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HWBENCH_DATASETS", str(tmp_path / "nowhere"))
    with pytest.raises(TableNotFoundError) as exc:
        load("no-such-table")
    msg = str(exc.value)
    assert "$HWBENCH_DATASETS" in msg and "repository datasets/" in msg and "user cache" in msg
    with pytest.raises(TableNotFoundError, match="does not exist"):
        load(tmp_path / "missing.h5")


def test_download_with_file_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "remote"
    src.mkdir()
    build_table(src / "nb201.h5")
    digest = sha256_file(src / "nb201.h5")
    dest = download_file((src / "nb201.h5").as_uri(), tmp_path / "dl" / "x.h5", digest)
    assert sha256_file(dest) == digest
    with pytest.raises(TableIntegrityError, match="expected 00"):
        download_file((src / "nb201.h5").as_uri(), tmp_path / "dl" / "y.h5", "00" * 32)
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == ["x.h5"]  # no partial file
    with pytest.raises(TableNotFoundError, match="could not download"):
        download_file((tmp_path / "absent.h5").as_uri(), tmp_path / "dl" / "z.h5", None)
    # a manifest entry whose file is absent locally is fetched into the user cache
    listing = tmp_path / "listing"
    listing.mkdir()
    (listing / "manifest.toml").write_text(
        textwrap.dedent(f"""
        [[table]]
        name = "nb201"
        version = "1"
        file = "nb201.h5"
        sha256 = "{digest}"
        rows = {N}
        space = "nb201"
        url = "{(src / "nb201.h5").as_uri()}"
        """)
    )
    monkeypatch.setenv("HWBENCH_DATASETS", str(listing))
    monkeypatch.setenv("HWBENCH_CACHE", str(tmp_path / "cache"))
    t = load("nb201", overlay=False)
    assert t.path == tmp_path / "cache" / "nb201.h5" and t.sha256 == digest
    assert resolve("nb201").path == tmp_path / "cache" / "nb201.h5"


def test_locations_follow_env(tmp_path: Path) -> None:
    home = Path.home()
    assert user_dir({}) == home / ".local" / "share" / "hwbench"
    assert user_dir({"XDG_DATA_HOME": "/x"}) == Path("/x/hwbench")
    assert user_dir({"XDG_DATA_HOME": "/x", "HWBENCH_USER_DIR": "/u"}) == Path("/u")
    assert cache_dir({}) == home / ".cache" / "hwbench"
    assert cache_dir({"XDG_CACHE_HOME": "/c"}) == Path("/c/hwbench")
    assert cache_dir({"XDG_CACHE_HOME": "/c", "HWBENCH_CACHE": "/h"}) == Path("/h")
    assert overlay_path("nb201", tmp_path) == tmp_path / "overlays" / "nb201.h5"


# ----------------------------------------------------------------------------------------- overlay


def test_overlay_merged_by_architecture_string(
    built: tuple[Path, dict[str, np.ndarray]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HWBENCH_USER_DIR", str(tmp_path / "user"))
    sp = get_space("nb201")
    picked = [15624, 3, 777]  # a subset, not in index order
    ov = overlay_path("nb201")
    ov.parent.mkdir(parents=True)
    with TableWriter(ov, kind="overlay", archs=[sp.arch_str(i) for i in picked]) as w:
        w.add_column(
            "cifar10/other-bench/test_accuracy_pct",
            np.array([91.0, 12.5, 50.0]),
            unit="%",
            source="imported",
            tool="other",
            tool_version="1",
            device="gpu",
            protocol={},
            description="imported",
            std=np.array([0.1, 0.2, 0.3]),
        )
    t = load(built[0])
    assert t.overlay_path == ov
    got = t.query([3, 777, 15624, 0], "cifar10/other-bench/test_accuracy_pct")[
        "cifar10/other-bench/test_accuracy_pct"
    ]
    np.testing.assert_array_equal(got[:3], [12.5, 50.0, 91.0])
    assert np.isnan(got[3])
    assert t.query(3, "cifar10/other-bench/test_accuracy_pct__std") == {
        "cifar10/other-bench/test_accuracy_pct__std": 0.2
    }
    info = t.metric_info().set_index("name")
    assert info.loc["cifar10/other-bench/test_accuracy_pct", "source"] == "imported"
    assert info.loc["cifar10/other-bench/test_accuracy_pct", "origin"] == "overlay"
    assert "cifar10/other-bench/test_accuracy_pct" in t.to_pandas().columns
    assert "cifar10/other-bench/test_accuracy_pct" not in load(built[0], overlay=False).metrics
    with pytest.raises(TableFormatError, match="appears twice"):
        TableWriter(tmp_path / "o.h5", kind="overlay", archs=[sp.arch_str(1), sp.arch_str(1)])


def test_overlay_cannot_shadow_shipped_columns(
    built: tuple[Path, dict[str, np.ndarray]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HWBENCH_USER_DIR", str(tmp_path / "user"))
    with TableWriter(overlay_path("nb201"), kind="overlay") as w:
        w.add_column(
            "cifar10/model/params",
            np.zeros(N),
            unit="1",
            source="imported",
            tool="x",
            tool_version="1",
            device="none",
            protocol={},
            description="a conflicting column",
        )
    with pytest.warns(UserWarning, match="cifar10/model/params"):
        t = load(built[0])
    assert t.shadowed == ["cifar10/model/params"]
    assert t.query(5, "cifar10/model/params") == {"cifar10/model/params": 15}


def test_replaced_file_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "nb201.h5"
    build_table(path)
    t = load(path, overlay=False)
    t.column("cifar10/model/params")
    build_table(path)  # another build replaces the file atomically
    assert t.query(2, "cifar10/model/params") == {"cifar10/model/params": 6}  # cached data stays usable
    with pytest.raises(TableIntegrityError, match="replaced since it was loaded"):
        t.column("cifar100/cpu-host/latency_ms")
    assert np.isfinite(load(path, overlay=False).column("cifar100/cpu-host/latency_ms")[1])


# ------------------------------------------------------------------------------------ processes


_READER = """
import sys, numpy as np, hwbench
path, rounds = sys.argv[1], int(sys.argv[2])
total = 0.0
for _ in range(rounds):
    t = hwbench.load(path, overlay=False)
    q = t.query(np.arange(0, 15625, 7), ["cifar10/cpu-host/latency_ms", "cifar10/model/params"])
    total += float(np.nansum(q["cifar10/cpu-host/latency_ms"])) + float(q["cifar10/model/params"].sum())
print(repr(total / rounds))
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_concurrent_reader_in_second_process(built: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, cols = built
    rounds = 40
    proc = subprocess.Popen(
        [sys.executable, "-c", _READER, str(path), str(rounds)],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(rounds):  # this process reads the same file at the same time
            t = load(path, overlay=False)
            q = t.query(np.arange(0, N, 7), ["cifar10/cpu-host/latency_ms", "cifar10/model/params"])
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    sel = np.arange(0, N, 7)
    expected = float(np.nansum(cols["cifar10/cpu-host/latency_ms"][sel])) + float(
        cols["cifar10/model/params"][sel].sum()
    )
    assert float(out.strip()) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_array_equal(q["cifar10/model/params"], cols["cifar10/model/params"][sel])


def test_writer_not_blocked_by_reader_process(tmp_path: Path) -> None:
    path = tmp_path / "nb201.h5"
    build_table(path)
    code = (
        "import sys, time, hwbench\n"
        "t = hwbench.load(sys.argv[1], overlay=False)\n"
        "t.column('cifar10/model/params')\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        "try:\n"
        "    t.column('cifar100/cpu-host/latency_ms')\n"
        "except hwbench.HwbenchError as e:\n"
        "    print('stale', type(e).__name__)\n"
        "print(hwbench.load(sys.argv[1], overlay=False).metrics)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(path)],
        env=_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        with TableWriter(path) as w:  # replaces the file while the other process has it loaded
            w.add_column("a/b/c", np.ones(N), **META)
        out, err = proc.communicate("go\n", timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert out.splitlines() == ["stale TableIntegrityError", "['a/b/c']"]


def test_import_hwbench_stays_light(built: tuple[Path, dict[str, np.ndarray]]) -> None:
    code = (
        "import sys, hwbench\n"
        "assert 'torch' not in sys.modules and 'tvm' not in sys.modules\n"
        "assert 'h5py' not in sys.modules and 'pandas' not in sys.modules\n"
        f"t = hwbench.load({str(built[0])!r}, overlay=False)\n"
        "t.query(1); t.metric_info()\n"
        "heavy = [m for m in ('torch', 'tvm', 'xgboost', 'dask') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=120, check=False
    )
    assert r.returncode == 0, r.stderr


def test_sources_are_the_documented_ones() -> None:
    assert SOURCES == ("measured", "simulated", "trained", "imported", "predicted", "analytic")
