"""The NATS-Bench importer: real reference CSV, synthetic CSVs, malformed files, overlay handling."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from hwbench.errors import HwbenchError, MissingDependencyError, TableFormatError
from hwbench.importers import ImportReport, import_nats
from hwbench.spaces import get_space
from hwbench.table import TableWriter, load, overlay_path

N = 15625
HEADER = [
    "CIFAR10TestAccuracy200Epochs",
    "CIFAR100TestAccuracy200Epochs",
    "ImageNetTestAccuracy200Epochs",
    "ArchitectureString",
    "UniqueString",
]
NAMES = [
    "cifar10/nats-bench/test_accuracy_pct",
    "cifar100/nats-bench/test_accuracy_pct",
    "imagenet16-120/nats-bench/test_accuracy_pct",
]
SP = get_space("nb201")


@pytest.fixture
def user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "user"
    monkeypatch.setenv("HWBENCH_USER_DIR", str(d))
    return d


@pytest.fixture(scope="module")
def table_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tbl") / "nb201.h5"
    with TableWriter(path) as w:
        w.add_column(
            "cifar10/model/params",
            np.arange(N),
            unit="1",
            source="analytic",
            tool="hwbench",
            tool_version="0.1",
            device="none",
            protocol={},
            description="test",
        )
    return path


def _write_csv(path: Path, rows: list[list[object]], header: list[str] = HEADER) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _rows(indices: list[int]) -> list[list[object]]:
    """Synthetic rows: accuracy = f(hwbench index) so that joins can be checked exactly."""
    return [[50 + i / 1000, 20 + i / 1000, 10 + i / 1000, SP.arch_str(i), SP.canonical(i)] for i in indices]


@pytest.mark.reference
def test_import_reference_csv(reference_dir: Path, user: Path, table_path: Path) -> None:
    src = reference_dir / "nats_tss" / "nats_tss_test_acc_200ep.csv"
    if not src.is_file():
        pytest.skip(f"{src} is absent")
    rep = import_nats(src)
    assert isinstance(rep, ImportReport) and rep.format == "csv" and rep.rows_read == N
    assert rep.overlay == overlay_path("nb201") and rep.overlay.is_file()
    assert rep.unique_mismatches == 0 and rep.missing == {n: 0 for n in NAMES}
    t = load(table_path)
    acc = t.column("cifar10/nats-bench/test_accuracy_pct")
    assert np.nanmax(acc) == pytest.approx(94.37333, abs=1e-4)  # the published optimum of the space
    nb = t.column("nb201_index")
    assert nb.dtype == np.int64 and sorted(nb.tolist()) == list(range(N))
    with open(src, newline="") as fh:
        ref = list(csv.DictReader(fh))
    for k in (0, 1, 123, 15624):  # NAS-Bench-201 index k = CSV row k, joined by architecture string
        q = t.query(f"nb201:{k}", [*NAMES, "nb201_index"])
        assert q["nb201_index"] == k
        assert q["cifar100/nats-bench/test_accuracy_pct"] == float(ref[k]["CIFAR100TestAccuracy200Epochs"])
        assert t.rows(f"nb201:{k}") == SP.index(ref[k]["ArchitectureString"])
        assert q == t.query(ref[k]["ArchitectureString"], [*NAMES, "nb201_index"])
    rows = t.rows([f"nb201:{k}" for k in range(0, N, 1000)])
    np.testing.assert_array_equal(nb[rows], np.arange(0, N, 1000))
    info = t.metric_info().set_index("name")
    assert set(info.loc[NAMES, "source"]) == {"imported"} and set(info.loc[NAMES, "unit"]) == {"%"}
    assert set(info.loc[NAMES, "tool"]) == {"NATS-Bench"}
    assert '"epochs": 200' in info.loc[NAMES[0], "protocol"]
    assert "cifar10/nats-bench/test_accuracy_pct" not in load(table_path, overlay=False).metrics


def test_partial_csv_joins_by_string_and_leaves_nan(tmp_path: Path, user: Path, table_path: Path) -> None:
    order = [9000, 5, 123, 15624]  # file order = "NAS-Bench-201 index" 0..3
    rep = import_nats(_write_csv(tmp_path / "part.csv", _rows(order)))
    assert rep.rows_read == 4 and rep.missing == {n: N - 4 for n in NAMES}
    t = load(table_path)
    q = t.query(order, ["cifar10/nats-bench/test_accuracy_pct", "nb201_index"])
    np.testing.assert_allclose(q["cifar10/nats-bench/test_accuracy_pct"], [50 + i / 1000 for i in order])
    np.testing.assert_array_equal(q["nb201_index"], [0, 1, 2, 3])
    assert np.isnan(
        t.query(0, "cifar10/nats-bench/test_accuracy_pct")["cifar10/nats-bench/test_accuracy_pct"]
    )
    assert t.rows("nb201:2") == 123
    with pytest.raises(HwbenchError, match="no row has nb201_index 7"):
        t.query("nb201:7")


def test_missing_accuracy_and_no_unique_column(tmp_path: Path, user: Path, table_path: Path) -> None:
    rows = [[r[0], "", "nan", r[3]] for r in _rows([1, 2])]
    rep = import_nats(_write_csv(tmp_path / "a.csv", rows, HEADER[:4]))
    assert rep.unique_mismatches == 0
    q = load(table_path).query(1, NAMES)
    assert q[NAMES[0]] == 50.001 and np.isnan(q[NAMES[1]]) and np.isnan(q[NAMES[2]])


def test_unique_string_mismatch_is_reported(tmp_path: Path, user: Path) -> None:
    rows = _rows([10, 20, 30])
    rows[1][4] = "(0)@nor_conv_3x3"
    with pytest.warns(UserWarning, match="1 rows have a UniqueString"):
        rep = import_nats(_write_csv(tmp_path / "u.csv", rows))
    assert rep.unique_mismatches == 1
    (m,) = rep.mismatch_examples
    assert m.line == 3 and m.arch == SP.arch_str(20) and m.found == "(0)@nor_conv_3x3"
    assert m.expected == SP.canonical(20)
    assert "UniqueString mismatches: 1" in rep.summary()
    d = rep.as_dict()
    assert d["unique_mismatches"] == 1 and "line 3" in d["mismatch_examples"] and d["format"] == "csv"


@pytest.mark.parametrize(
    ("mutate", "rule"),
    [
        (lambda rows: rows.__setitem__(1, rows[1][:4]), r":3: expected 5 fields"),
        (
            lambda rows: rows[2].__setitem__(0, "abc"),
            r":4: CIFAR10TestAccuracy200Epochs 'abc' is not a number",
        ),
        (
            lambda rows: rows[0].__setitem__(2, "140"),
            r":2: ImageNetTestAccuracy200Epochs 140.0 is not an accuracy",
        ),
        (
            lambda rows: rows[1].__setitem__(3, "|nor_conv_3x3~0|+|bogus~0|skip_connect~1|"),
            r":3: ArchitectureString: invalid nb201 architecture",
        ),
        (lambda rows: rows[2].__setitem__(3, rows[0][3]), r":4: architecture .* already appeared on line 2"),
    ],
)
def test_malformed_rows_name_file_line_and_rule(
    tmp_path: Path, user: Path, mutate: object, rule: str
) -> None:
    rows = _rows([1, 2, 3])
    mutate(rows)  # type: ignore[operator]
    path = _write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(TableFormatError, match=str(path) + rule):
        import_nats(path)
    assert not overlay_path("nb201").exists()  # nothing written on failure


def test_malformed_files(tmp_path: Path, user: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(TableFormatError, match="empty.csv:1: empty file"):
        import_nats(empty)
    no_rows = _write_csv(tmp_path / "header.csv", [])
    with pytest.raises(TableFormatError, match="no data rows"):
        import_nats(no_rows)
    wrong = _write_csv(tmp_path / "wrong.csv", [[1, 2]], ["acc", "arch"])
    with pytest.raises(
        TableFormatError, match=r"wrong.csv:1: header lacks column\(s\) CIFAR10TestAccuracy200Epochs"
    ):
        import_nats(wrong)
    with pytest.raises(HwbenchError, match="does not exist"):
        import_nats(tmp_path / "absent.csv")
    odd = tmp_path / "data.json"
    odd.write_text("{}")
    with pytest.raises(HwbenchError, match="cannot tell the format"):
        import_nats(odd)
    with pytest.raises(HwbenchError, match="cannot import it into space"):
        import_nats(no_rows, space="other")


def test_reimport_keeps_other_overlay_columns(tmp_path: Path, user: Path, table_path: Path) -> None:
    ov = overlay_path("nb201")
    with TableWriter(ov, kind="overlay") as w:
        w.add_column(
            "cifar10/my-lab/energy_mj",
            np.full(N, 2.5),
            unit="mJ",
            source="imported",
            tool="lab",
            tool_version="1",
            device="board",
            protocol={},
            description="user's own data",
        )
        w.add_column(
            NAMES[0],
            np.zeros(N),
            unit="%",
            source="imported",
            tool="old",
            tool_version="0",
            device="x",
            protocol={},
            description="stale import",
        )
    rep = import_nats(_write_csv(tmp_path / "n.csv", _rows([7, 8])))
    assert rep.kept_columns == ["cifar10/my-lab/energy_mj"]
    t = load(table_path)
    assert t.query(7, ["cifar10/my-lab/energy_mj", NAMES[0]]) == {
        "cifar10/my-lab/energy_mj": 2.5,
        NAMES[0]: 50.007,
    }
    assert np.isnan(t.query(9, NAMES[0])[NAMES[0]])  # the stale column was replaced, not merged


def test_explicit_overlay_dir(tmp_path: Path, user: Path) -> None:
    rep = import_nats(_write_csv(tmp_path / "n.csv", _rows([1])), overlay_dir=tmp_path / "elsewhere")
    assert rep.overlay == tmp_path / "elsewhere" / "overlays" / "nb201.h5" and rep.overlay.is_file()
    assert not overlay_path("nb201").exists()


@pytest.mark.skipif(importlib.util.find_spec("nats_bench") is not None, reason="nats_bench is installed")
def test_official_file_needs_nats_bench(tmp_path: Path, user: Path) -> None:
    official = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    official.mkdir()
    with pytest.raises(MissingDependencyError, match="nats_bench.*pip install 'hwbench\\[nats\\]'"):
        import_nats(official)
    with pytest.raises(MissingDependencyError):
        import_nats(_write_csv(tmp_path / "n.csv", _rows([1])), format="nats-bench")  # forced format
