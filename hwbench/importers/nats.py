"""Import NATS-Bench (topology search space, = NAS-Bench-201 cells) accuracies into the user overlay.

NATS-Bench data may not be redistributed with hwbench, so users import their own copy. Two
inputs are accepted:

* a CSV export with the columns ``CIFAR10TestAccuracy200Epochs``, ``CIFAR100TestAccuracy200Epochs``,
  ``ImageNetTestAccuracy200Epochs``, ``ArchitectureString`` and optionally ``UniqueString``; data row
  ``i`` is NAS-Bench-201 index ``i`` (the layout of ``nats_bench.csv`` exports);
* an official NATS-Bench topology file/folder (e.g. ``NATS-tss-v1_0-3ffb9-simple``), read with the
  ``nats_bench`` package (``pip install nats_bench``).

Rows are joined on the architecture string and written, in hwbench index order, to the overlay
``<user dir>/overlays/nb201.h5`` (never into the shipped table) as
``{cifar10,cifar100,imagenet16-120}/nats-bench/test_accuracy_pct`` plus ``nb201_index`` (the
NAS-Bench-201 index of each cell), which makes ``table.query("nb201:123")`` work.
"""

from __future__ import annotations

import csv
import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.errors import HwbenchError, InvalidArchitectureError, MissingDependencyError, TableFormatError

#: (CSV column, NATS-Bench API dataset name, hwbench config)
DATASETS: tuple[tuple[str, str, str], ...] = (
    ("CIFAR10TestAccuracy200Epochs", "cifar10", "cifar10"),
    ("CIFAR100TestAccuracy200Epochs", "cifar100", "cifar100"),
    ("ImageNetTestAccuracy200Epochs", "ImageNet16-120", "imagenet16-120"),
)
ARCH_COLUMN = "ArchitectureString"
UNIQUE_COLUMN = "UniqueString"
METRIC = "nats-bench/test_accuracy_pct"
INDEX_COLUMN = "nb201_index"
PROTOCOL = {"epochs": 200, "hp": "200", "seeds": "mean over trial seeds"}
CITATION = (
    "Dong, Liu, Musial, Gabrys. NATS-Bench: Benchmarking NAS Algorithms for Architecture Topology "
    "and Size. IEEE TPAMI 2021"
)


@dataclass(frozen=True)
class UniqueMismatch:
    """A row whose ``UniqueString`` differs from the space's canonical form of its architecture."""

    line: int
    arch: str
    found: str
    expected: str


@dataclass
class ImportReport:
    """What :func:`import_nats` read and wrote."""

    source: Path
    format: str  # "csv" or "nats-bench"
    overlay: Path
    rows_read: int
    columns: list[str]
    missing: dict[str, int]  # NaN count per written accuracy column (rows of the space not covered)
    unique_mismatches: int = 0
    mismatch_examples: list[UniqueMismatch] = field(default_factory=list)
    kept_columns: list[str] = field(default_factory=list)  # other overlay columns preserved

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly summary (for the CLI)."""
        return {
            "source": str(self.source),
            "format": self.format,
            "overlay": str(self.overlay),
            "rows_read": self.rows_read,
            "columns": ", ".join(self.columns),
            "missing": ", ".join(f"{k}={v}" for k, v in self.missing.items()),
            "unique_mismatches": self.unique_mismatches,
            "mismatch_examples": "; ".join(
                f"line {m.line}: {m.found!r} != {m.expected!r}" for m in self.mismatch_examples
            ),
            "kept_columns": ", ".join(self.kept_columns),
        }

    def summary(self) -> str:
        lines = [
            f"imported {self.rows_read} rows from {self.source} ({self.format}) into {self.overlay}",
            "columns: " + ", ".join(self.columns),
        ]
        if any(self.missing.values()):
            lines.append("missing (NaN): " + ", ".join(f"{k}={v}" for k, v in self.missing.items() if v))
        if self.unique_mismatches:
            lines.append(
                f"UniqueString mismatches: {self.unique_mismatches} (first: {self.mismatch_examples[0]})"
            )
        if self.kept_columns:
            lines.append("kept overlay columns: " + ", ".join(self.kept_columns))
        return "\n".join(lines)


@dataclass(frozen=True)
class _Row:
    line: int  # 1-based line in the file (or NAS-Bench-201 index + 1 for the API)
    nb201_index: int
    arch: str
    accs: tuple[float, float, float]
    unique: str | None


def _bad(path: Path, line: int | None, rule: str) -> TableFormatError:
    where = f"{path}:{line}" if line is not None else str(path)
    return TableFormatError(f"{where}: {rule}")


def _read_csv(path: Path) -> Iterator[_Row]:
    try:
        fh = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115 - closed by the `with` below
    except OSError as exc:
        raise HwbenchError(f"cannot read NATS-Bench CSV {path}: {exc}") from None
    with fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            raise _bad(path, 1, "empty file; expected a header line") from None
        except csv.Error as exc:
            raise _bad(path, 1, f"not a CSV file ({exc})") from None
        header = [h.strip() for h in header]
        need = [c for c, _, _ in DATASETS] + [ARCH_COLUMN]
        missing = [c for c in need if c not in header]
        if missing:
            raise _bad(
                path,
                1,
                f"header lacks column(s) {', '.join(missing)}; found {header}; required {need} "
                f"(+ optional {UNIQUE_COLUMN})",
            )
        pos = {c: header.index(c) for c in need}
        upos = header.index(UNIQUE_COLUMN) if UNIQUE_COLUMN in header else None
        k = -1
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise _bad(path, reader.line_num, f"malformed CSV ({exc})") from None
            line = reader.line_num
            if not fields or all(not f.strip() for f in fields):
                continue  # blank line
            k += 1
            if len(fields) != len(header):
                raise _bad(path, line, f"expected {len(header)} fields as in the header, found {len(fields)}")
            accs = []
            for c, _, _ in DATASETS:
                raw = fields[pos[c]].strip()
                if raw == "" or raw.lower() == "nan":
                    accs.append(math.nan)
                    continue
                try:
                    v = float(raw)
                except ValueError:
                    raise _bad(path, line, f"{c} {raw!r} is not a number") from None
                if not 0.0 <= v <= 100.0:
                    raise _bad(path, line, f"{c} {v} is not an accuracy in percent (0..100)")
                accs.append(v)
            yield _Row(
                line,
                k,
                fields[pos[ARCH_COLUMN]],
                (accs[0], accs[1], accs[2]),
                None if upos is None else fields[upos].strip(),
            )
        if k < 0:
            raise _bad(path, None, "no data rows after the header")


def _read_api(path: Path) -> Iterator[_Row]:  # pragma: no cover - needs nats_bench and the official file
    """Read an official NATS-Bench topology benchmark through the ``nats_bench`` package."""
    try:
        import nats_bench
    except ImportError:
        raise MissingDependencyError("nats_bench", "nats", f"importing the NATS-Bench file {path}") from None
    from tqdm import tqdm

    api = nats_bench.create(str(path), "tss", fast_mode=True, verbose=False)
    for i in tqdm(range(len(api)), desc="NATS-Bench", unit="arch"):
        accs = tuple(
            float(api.get_more_info(i, ds, hp="200", is_random=False)["test-accuracy"])
            for _, ds, _ in DATASETS
        )
        yield _Row(i + 1, i, api.arch(i), accs, None)  # type: ignore[arg-type]


def _detect(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in ("csv", "nats-bench"):
            raise HwbenchError(f"unknown NATS import format {fmt!r}; valid formats: csv, nats-bench")
        return fmt
    if not path.exists():
        raise HwbenchError(f"NATS-Bench source {path} does not exist")
    if path.suffix.lower() == ".csv":
        return "csv"
    if path.is_dir() or path.name.startswith("NATS-tss") or path.name.endswith((".pickle.pbz2", ".pickle")):
        return "nats-bench"
    raise HwbenchError(
        f"cannot tell the format of {path}: expected a .csv export or an official NATS-Bench topology "
        "file/folder (NATS-tss-v1_0-*); pass format='csv' or format='nats-bench'"
    )


def import_nats(
    path: str | os.PathLike[str],
    *,
    space: str = "nb201",
    overlay_dir: str | os.PathLike[str] | None = None,
    format: str | None = None,
) -> ImportReport:
    """Validate a NATS-Bench source and write its accuracies to the user overlay of ``space``.

    Every row is checked (field count, numbers in 0..100, architecture parses, no duplicate
    architecture); the first violation raises :class:`~hwbench.errors.TableFormatError` naming the
    file, the line and the rule. ``UniqueString`` values that differ from the space's canonical
    form are counted in the report (and warned about), not fatal. Columns of the overlay that this
    import does not write are kept.

    Args:
        path: a CSV export or an official NATS-Bench topology file/folder.
        space: the hwbench space (only ``nb201``: NATS-Bench's topology space).
        overlay_dir: the user folder (default: ``$HWBENCH_USER_DIR`` etc., see docs/tables.md).
        format: ``"csv"`` or ``"nats-bench"``; guessed from ``path`` when omitted.
    """
    from hwbench.spaces import get_space
    from hwbench.table import TableWriter, overlay_path

    if space != "nb201":
        raise HwbenchError(f"NATS-Bench's topology space is nb201; cannot import it into space {space!r}")
    path = Path(path)
    fmt = _detect(path, format)
    sp = get_space(space)
    n = len(sp)
    acc = np.full((len(DATASETS), n), np.nan)
    nb_index = np.full(n, -1, dtype=np.int64)
    first_line: dict[int, int] = {}
    mismatches: list[UniqueMismatch] = []
    n_mismatch = 0
    rows_read = 0
    rows = _read_csv(path) if fmt == "csv" else _read_api(path)
    for r in rows:
        try:
            ops = sp.parse(r.arch)
        except InvalidArchitectureError as exc:
            raise _bad(path, r.line, f"{ARCH_COLUMN}: {exc}") from None
        hw = sp.index(ops)
        if hw in first_line:
            raise _bad(path, r.line, f"architecture {r.arch!r} already appeared on line {first_line[hw]}")
        first_line[hw] = r.line
        if r.unique is not None:
            expected = sp.canonical(ops)
            if r.unique != expected:
                n_mismatch += 1
                if len(mismatches) < 10:
                    mismatches.append(UniqueMismatch(r.line, r.arch, r.unique, expected))
        acc[:, hw] = r.accs
        nb_index[hw] = r.nb201_index
        rows_read += 1
    if n_mismatch:
        warnings.warn(
            f"{path}: {n_mismatch} rows have a {UNIQUE_COLUMN} that differs from hwbench's canonical "
            f"form (first: line {mismatches[0].line}); see the import report",
            stacklevel=2,
        )

    out = overlay_path(space, overlay_dir)
    tool_version = _tool_version(fmt)
    from hwbench.table import sha256_file

    source_hash = sha256_file(path) if path.is_file() else ""
    protocol = {**PROTOCOL, "source_file": path.name, "source_sha256": source_hash}
    names = [f"{cfg}/{METRIC}" for _, _, cfg in DATASETS]
    kept: list[str] = []
    with TableWriter(out, space, kind="overlay") as w:
        if out.is_file():
            kept = w.copy_columns_from(out, exclude=[*names, INDEX_COLUMN])
        for (col, _, cfg), name, values in zip(DATASETS, names, acc):
            w.add_column(
                name,
                values,
                unit="%",
                source="imported",
                tool="NATS-Bench",
                tool_version=tool_version,
                device="NATS-Bench training GPUs (see the NATS-Bench paper)",
                protocol=protocol,
                description=f"{cfg} test accuracy after 200 epochs, mean over NATS-Bench's trial seeds "
                f"(imported from {col}); {CITATION}",
            )
        idx_values = nb_index if (nb_index >= 0).all() else np.where(nb_index >= 0, nb_index, np.nan)
        w.add_column(
            INDEX_COLUMN,
            idx_values,
            unit="index",
            source="imported",
            tool="NATS-Bench",
            tool_version=tool_version,
            device="none",
            protocol=protocol,
            description="NAS-Bench-201 / NATS-Bench index of each cell (row order of the imported "
            "data); query with 'nb201:<index>'",
        )
    missing = {name: int(np.isnan(v).sum()) for name, v in zip(names, acc)}
    return ImportReport(
        source=path,
        format=fmt,
        overlay=out,
        rows_read=rows_read,
        columns=[*names, INDEX_COLUMN],
        missing=missing,
        unique_mismatches=n_mismatch,
        mismatch_examples=mismatches,
        kept_columns=kept,
    )


def _tool_version(fmt: str) -> str:
    if fmt == "csv":
        return "CSV export of the NATS-Bench API (nats_bench get_more_info, hp=200)"
    from importlib.metadata import PackageNotFoundError, version

    try:  # pragma: no cover - needs nats_bench
        return f"nats_bench {version('nats_bench')}"
    except PackageNotFoundError:  # pragma: no cover - e.g. a source checkout on sys.path
        return "nats_bench (version unknown)"
