"""HDF5 table store: :class:`TableWriter` (atomic writer) and :class:`Table` (lazy reader).

File layout (format ``hwbench.table/1``, documented in docs/tables.md)::

    /                 attrs: format, kind (table|overlay), space, n_rows, hwbench_version, created, write_id,
                      columns_index (JSON copy of all column attributes, for fast opening)
    /archs            (n_rows,) fixed-length ASCII architecture strings; row i of every column
    /columns/<name>   (n_rows,) or (n_rows, k) float64 / int64; attrs: unit, source, tool, tool_version,
                      device, protocol (JSON object), date, description [, dispersion_of]

``<name>`` is usually ``config/target/metric``; dispersion of a column is the sibling
``<name>__std`` / ``<name>__iqr`` with attr ``dispersion_of = <name>``.

The reader never keeps the HDF5 file open between calls: each read opens it read-only without
file locking, reads and closes it. Writers never touch an existing file in place (they write a
temp file and ``os.replace`` it), so readers and writers never block each other; a reader that
notices the file was replaced since it was loaded (its ``write_id`` changed) raises
:class:`~hwbench.errors.TableIntegrityError` rather than mixing two builds.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import itertools
import json
import os
import re
import uuid
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from hwbench.errors import (
    InvalidArchitectureError,
    TableFormatError,
    TableIntegrityError,
    UnknownMetricError,
)

if TYPE_CHECKING:
    import h5py
    import pandas as pd

FORMAT = "hwbench.table/1"
SOURCES: tuple[str, ...] = ("measured", "simulated", "trained", "imported", "predicted", "analytic")
COLUMN_ATTRS: tuple[str, ...] = (
    "unit",
    "source",
    "tool",
    "tool_version",
    "device",
    "protocol",
    "date",
    "description",
)
DISPERSIONS: tuple[str, ...] = ("std", "iqr")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*(/[A-Za-z0-9][A-Za-z0-9_.\-]*)*$")
_CHUNK_BYTES = 1 << 20  # one chunk holds up to 1 MiB: a whole 1-D column of a 15,625-row table
_KEY_PREFIX = re.compile(r"^([A-Za-z0-9_\-]+):(\d+)$")

ArchLike = str | int | np.integer[Any]


def _h5() -> Any:
    import h5py

    return h5py


def _open_read(path: Path) -> h5py.File:
    h5py = _h5()
    try:
        return h5py.File(path, "r", locking=False)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise TableFormatError(
            f"{path} is not a readable HDF5 file (truncated, corrupt or not an hwbench table): {exc}"
        ) from None


# ------------------------------------------------------------------------------------------------
# writer
# ------------------------------------------------------------------------------------------------


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise TableFormatError(
            f"invalid column name {name!r}: use 'config/target/metric' segments of letters, digits, '_', '.', '-'"
        )
    if name.endswith(tuple(f"__{d}" for d in DISPERSIONS)):
        raise TableFormatError(
            f"column name {name!r} ends with a reserved dispersion suffix; pass std=/iqr= to add_column instead"
        )


def _as_values(name: str, values: Any, n_rows: int, *, what: str = "values") -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise TableFormatError(f"column {name!r}: {what} must be numeric, got dtype {arr.dtype}")
    if arr.ndim not in (1, 2):
        raise TableFormatError(
            f"column {name!r}: {what} must be 1-D (rows) or 2-D (rows x steps), got shape {arr.shape}"
        )
    if arr.shape[0] != n_rows:
        raise TableFormatError(
            f"column {name!r}: {what} has {arr.shape[0]} rows, the table has {n_rows} (one per architecture)"
        )
    if arr.dtype.kind in "iu":
        if arr.dtype.kind == "u" and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
            raise TableFormatError(f"column {name!r}: {what} overflow int64")
        return arr.astype(np.int64, copy=False)
    arr = arr.astype(np.float64, copy=False)
    if np.isinf(arr).any():
        bad = int(np.flatnonzero(np.isinf(arr).reshape(n_rows, -1).any(axis=1))[0])
        raise TableFormatError(
            f"column {name!r}: {what} is infinite at row {bad}; store missing values as NaN"
        )
    return arr


def _protocol_json(name: str, protocol: Mapping[str, Any] | str) -> str:
    if isinstance(protocol, str):
        try:
            obj = json.loads(protocol)
        except json.JSONDecodeError as exc:
            raise TableFormatError(f"column {name!r}: protocol is not valid JSON: {exc}") from None
    else:
        obj = dict(protocol)
    if not isinstance(obj, dict):
        raise TableFormatError(
            f"column {name!r}: protocol must be a JSON object (dict), got {type(obj).__name__}"
        )
    try:
        return json.dumps(obj, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TableFormatError(f"column {name!r}: protocol is not JSON-serialisable: {exc}") from None


def _chunks(shape: tuple[int, ...]) -> tuple[int, ...]:
    per_row = 8 * (shape[1] if len(shape) == 2 else 1)
    rows = max(1, min(shape[0], _CHUNK_BYTES // per_row))
    return (rows, *shape[1:])


class TableWriter:
    """Write an hwbench table (or a user overlay) atomically.

    Columns are written to a temporary file next to ``path``; :meth:`close` (or leaving the
    ``with`` block without an exception) moves it into place with :func:`os.replace`. An exception
    inside the ``with`` block discards the temporary file and leaves ``path`` untouched.

    Args:
        path: the table file to (re)create.
        space: search-space name; row ``i`` is the space's architecture of hwbench index ``i``.
        archs: for ``kind="table"`` leave ``None`` (every architecture in index order) or pass that
            exact list; for ``kind="overlay"`` any unique valid architectures (joined by string).
        kind: ``"table"`` (a shipped table) or ``"overlay"`` (user-imported columns).

    Example::

        with TableWriter(tmp / "nb201.h5") as w:
            w.add_column("cifar10/model/params", params, unit="1", source="analytic", tool="hwbench",
                         tool_version="0.1.0", device="none", protocol={}, description="weights")
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        space: str = "nb201",
        *,
        archs: Sequence[str] | None = None,
        kind: str = "table",
    ) -> None:
        from hwbench._version import __version__
        from hwbench.spaces import get_space

        if kind not in ("table", "overlay"):
            raise TableFormatError(f"unknown table kind {kind!r}; expected 'table' or 'overlay'")
        self.path = Path(path)
        self.space = space
        self.kind = kind
        sp = get_space(space)
        self.archs = self._validated_archs(sp, archs, kind)
        self.n_rows = len(self.archs)
        self._names: set[str] = set()
        self._index: dict[str, dict[str, Any]] = {}
        self._tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f: h5py.File | None = _h5().File(self._tmp, "w", track_order=True)
        try:
            a = self._f.attrs
            a["format"] = FORMAT
            a["kind"] = kind
            a["space"] = space
            a["n_rows"] = self.n_rows
            a["hwbench_version"] = __version__
            a["created"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
            a["write_id"] = uuid.uuid4().hex
            width = max(1, max((len(s) for s in self.archs), default=1))
            self._f.create_dataset(
                "archs",
                data=np.array(self.archs, dtype=f"S{width}"),
                compression="gzip",
                shuffle=True,
                chunks=(min(self.n_rows, 1 << 15) or 1,),
            )
            self._f.create_group("columns", track_order=True)
        except BaseException:
            self.abort()
            raise

    @staticmethod
    def _validated_archs(sp: Any, archs: Sequence[str] | None, kind: str) -> list[str]:
        if kind == "table":
            full = list(sp.all_strings)
            if archs is None:
                return full
            archs = list(archs)
            if archs == full:
                return full
            if len(archs) != len(full):
                raise TableFormatError(
                    f"a {sp.name} table has one row per architecture in index order ({len(full)} rows), "
                    f"got {len(archs)} architectures"
                )
            i = next(k for k, (a, b) in enumerate(zip(archs, full)) if a != b)
            sp.parse(archs[i])  # raises InvalidArchitectureError for malformed strings
            raise TableFormatError(
                f"archs[{i}] is {archs[i]!r} but hwbench index {i} of {sp.name} is {full[i]!r}"
            )
        if archs is None:
            return list(sp.all_strings)
        out = [sp.arch_str(a) for a in archs]  # canonical spelling; raises on malformed
        if len(set(out)) != len(out):
            seen: set[str] = set()
            dup = next(a for a in out if a in seen or seen.add(a))  # type: ignore[func-returns-value]
            raise TableFormatError(f"overlay architecture {dup!r} appears twice")
        return out

    # -- columns ----------------------------------------------------------------------------------
    def add_column(
        self,
        name: str,
        values: Any,
        *,
        unit: str,
        source: str,
        tool: str,
        tool_version: str,
        device: str,
        protocol: Mapping[str, Any] | str,
        description: str,
        date: str | None = None,
        std: Any = None,
        iqr: Any = None,
    ) -> None:
        """Add one metric column (and optionally its dispersion), validating everything first.

        ``values`` has one entry (1-D) or one row of steps (2-D, e.g. per-epoch curves) per
        architecture; integers are stored as int64 (exact counts), everything else as float64,
        missing values as NaN (never 0). ``source`` is one of :data:`SOURCES`.
        """
        f = self._require_open()
        _check_name(name)
        self._check_free(name)
        arr = _as_values(name, values, self.n_rows)
        if source not in SOURCES:
            raise TableFormatError(
                f"column {name!r}: unknown source {source!r}; valid sources: {', '.join(SOURCES)}"
            )
        texts = {
            "unit": unit,
            "tool": tool,
            "tool_version": tool_version,
            "device": device,
            "description": description,
        }
        for k, v in texts.items():
            if not isinstance(v, str):
                raise TableFormatError(f"column {name!r}: {k} must be a string, got {type(v).__name__}")
        if date is None:
            date = _dt.datetime.now(_dt.UTC).date().isoformat()
        attrs = {**texts, "source": source, "protocol": _protocol_json(name, protocol), "date": str(date)}
        disp: dict[str, np.ndarray] = {}
        for kind, d in (("std", std), ("iqr", iqr)):
            if d is None:
                continue
            darr = _as_values(name, d, self.n_rows, what=kind).astype(np.float64)
            if darr.shape != arr.shape:
                raise TableFormatError(
                    f"column {name!r}: {kind} has shape {darr.shape}, values have {arr.shape}"
                )
            if (darr < 0).any():
                raise TableFormatError(f"column {name!r}: {kind} must be >= 0 (or NaN)")
            self._check_free(f"{name}__{kind}")
            disp[kind] = darr
        self._write(f, name, arr, attrs)
        for kind, darr in disp.items():
            self._write(
                f,
                f"{name}__{kind}",
                darr,
                {**attrs, "dispersion_of": name, "description": f"{kind} of {name}"},
            )

    def _check_free(self, name: str) -> None:
        if name in self._names:
            raise TableFormatError(f"column {name!r} was already added to {self.path}")
        for other in self._names:
            if other.startswith(name + "/") or name.startswith(other + "/"):
                raise TableFormatError(
                    f"column {name!r} clashes with column {other!r} (one is a prefix group)"
                )

    def _write(self, f: h5py.File, name: str, arr: np.ndarray, attrs: Mapping[str, str]) -> None:
        ds = f["columns"].create_dataset(
            name, data=arr, chunks=_chunks(arr.shape), compression="gzip", compression_opts=4, shuffle=True
        )
        for k, v in attrs.items():
            ds.attrs[k] = v
        self._names.add(name)
        self._index[name] = {**attrs, "shape": list(arr.shape), "dtype": str(arr.dtype)}

    def copy_columns_from(self, path: str | os.PathLike[str], *, exclude: Iterable[str] = ()) -> list[str]:
        """Copy every column of another table/overlay file (joined by architecture string).

        Rows of ``path`` whose architecture this writer does not have are dropped; rows this
        writer has but ``path`` lacks become NaN. Returns the copied column names.
        """
        self._require_open()
        exclude = set(exclude)
        src = Table(path)
        copied = []
        for info in src._info.values():
            base = info.dispersion_of or info.name
            if base in exclude or info.dispersion_of is not None:
                continue
            vals = _align(src.column(info.name), src.archs, self.archs)
            attrs = {k: getattr(info, k) for k in COLUMN_ATTRS}
            extra = {}
            for d in DISPERSIONS:
                dn = f"{info.name}__{d}"
                if dn in src._info:
                    extra[d] = _align(src.column(dn), src.archs, self.archs)
            self.add_column(info.name, vals, **attrs, std=extra.get("std"), iqr=extra.get("iqr"))
            copied.append(info.name)
        return copied

    # -- lifecycle --------------------------------------------------------------------------------
    def _require_open(self) -> h5py.File:
        if self._f is None:
            raise TableFormatError(f"TableWriter for {self.path} is already closed")
        return self._f

    def close(self) -> Path:
        """Finish the file and move it into place atomically; returns the final path."""
        f = self._require_open()
        # a copy of every column's attributes in one root attribute, so that opening a table reads
        # one attribute instead of ~9 per column (the per-dataset attributes stay authoritative)
        f.attrs["columns_index"] = json.dumps(self._index, sort_keys=True)
        f.close()
        self._f = None
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Discard everything written; ``path`` is left as it was."""
        if self._f is not None:
            self._f.close()
            self._f = None
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if et is None:
            self.close()
        else:
            self.abort()


def _align(values: np.ndarray, src_archs: np.ndarray, dst_archs: Sequence[str]) -> np.ndarray:
    """Reorder rows of ``values`` (indexed by ``src_archs``) onto ``dst_archs``; absent rows NaN."""
    dst = np.asarray(dst_archs)
    if len(src_archs) == len(dst) and np.array_equal(src_archs, dst):
        return values
    pos = {a: i for i, a in enumerate(src_archs.tolist())}
    take = np.fromiter((pos.get(a, -1) for a in dst.tolist()), dtype=np.int64, count=len(dst))
    ok = take >= 0
    if ok.all():
        return values[take]
    out = np.full((len(dst), *values.shape[1:]), np.nan)
    out[ok] = values[take[ok]]
    return out


# ------------------------------------------------------------------------------------------------
# reader
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnInfo:
    """Metadata of one column (read at load time, without its data)."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    unit: str
    source: str
    tool: str
    tool_version: str
    device: str
    protocol: str
    date: str
    description: str
    dispersion_of: str | None
    origin: str  # "table" or "overlay"


@dataclass
class _File:
    path: Path
    write_id: str
    attrs: dict[str, Any]
    n_rows: int


def _read_meta(path: Path, origin: str) -> tuple[_File, dict[str, ColumnInfo]]:
    with _open_read(path) as f:
        attrs = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in f.attrs.items()}
        fmt = attrs.get("format")
        if fmt != FORMAT:
            raise TableFormatError(
                f"{path} is not an hwbench table: root attribute format is {fmt!r}, expected {FORMAT!r}"
                + (
                    " (written by a newer hwbench?)"
                    if isinstance(fmt, str) and fmt.startswith("hwbench.table/")
                    else ""
                )
            )
        for k in ("space", "n_rows", "write_id", "kind"):
            if k not in attrs:
                raise TableFormatError(f"{path}: root attribute {k!r} is missing")
        if "archs" not in f or "columns" not in f:
            raise TableFormatError(f"{path}: the /archs dataset or the /columns group is missing")
        n = int(attrs["n_rows"])
        if f["archs"].shape != (n,):
            raise TableFormatError(f"{path}: /archs has shape {f['archs'].shape}, expected ({n},)")
        infos: dict[str, ColumnInfo] = {}
        h5py = _h5()
        fast = _from_index(path, f, attrs, n, origin)
        if fast is not None:
            return _File(path, str(attrs["write_id"]), attrs, n), fast

        def visit(name: str, obj: Any) -> None:
            if not isinstance(obj, h5py.Dataset):
                return
            a = obj.attrs
            missing = [k for k in COLUMN_ATTRS if k not in a]
            if missing:
                raise TableFormatError(f"{path}: column {name!r} lacks attribute(s) {', '.join(missing)}")
            if obj.ndim not in (1, 2) or obj.shape[0] != n:
                raise TableFormatError(f"{path}: column {name!r} has shape {obj.shape}; expected {n} rows")
            src = str(a["source"])
            if src not in SOURCES:
                raise TableFormatError(
                    f"{path}: column {name!r} has unknown source {src!r}; valid: {', '.join(SOURCES)}"
                )
            disp = a.get("dispersion_of")
            infos[name] = ColumnInfo(
                name=name,
                shape=tuple(obj.shape),
                dtype=str(obj.dtype),
                **{k: str(a[k]) for k in COLUMN_ATTRS},
                dispersion_of=None if disp is None else str(disp),
                origin=origin,
            )

        f["columns"].visititems(visit)
    return _File(path, str(attrs["write_id"]), attrs, n), infos


def _read_dataset(path: Path, f: h5py.File, name: str) -> np.ndarray:
    ds = f["columns"][name]
    missing = [k for k in COLUMN_ATTRS if k not in ds.attrs]
    if missing:
        raise TableFormatError(f"{path}: column {name!r} lacks attribute(s) {', '.join(missing)}")
    return np.asarray(ds[()])


def _from_index(
    path: Path, f: h5py.File, attrs: dict[str, Any], n: int, origin: str
) -> dict[str, ColumnInfo] | None:
    """Column metadata from the root ``columns_index`` attribute, or None to read every dataset."""
    raw = attrs.pop("columns_index", None)
    if raw is None:
        return None
    try:
        index = json.loads(raw)
    except (TypeError, json.JSONDecodeError):
        return None
    links: list[str] = []
    f["columns"].visit(links.append)  # link names only (cheap); groups are prefixes of columns
    groups = {name.rsplit("/", k)[0] for name in index for k in range(1, name.count("/") + 1)}
    if set(links) != set(index) | groups:
        return None  # columns added or removed by another tool: fall back to the datasets
    infos = {}
    for name, a in index.items():
        missing = [k for k in (*COLUMN_ATTRS, "shape", "dtype") if k not in a]
        if missing:
            raise TableFormatError(f"{path}: column {name!r} lacks attribute(s) {', '.join(missing)}")
        if a["source"] not in SOURCES:
            raise TableFormatError(
                f"{path}: column {name!r} has unknown source {a['source']!r}; valid: {', '.join(SOURCES)}"
            )
        shape = tuple(int(x) for x in a["shape"])
        if len(shape) not in (1, 2) or shape[0] != n:
            raise TableFormatError(f"{path}: column {name!r} has shape {shape}; expected {n} rows")
        infos[name] = ColumnInfo(
            name=name,
            shape=shape,
            dtype=str(a["dtype"]),
            **{k: str(a[k]) for k in COLUMN_ATTRS},
            dispersion_of=a.get("dispersion_of"),
            origin=origin,
        )
    return infos


class Table:
    """A lazily loaded hwbench table (plus an optional user overlay), usually from :func:`load`.

    Opening reads only the root attributes and each column's name, shape and attributes; a
    column's data is read on first use and cached in this object.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        overlay: str | os.PathLike[str] | None = None,
        *,
        sha256: str | None = None,
        name: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.name = name or self.path.stem  # the manifest name when loaded by name
        self._main, self._info = _read_meta(self.path, "table")
        if self._main.attrs["kind"] != "table" and overlay is not None:
            raise TableFormatError(
                f"{self.path} is an overlay file, not a table; overlays are merged into tables"
            )
        self._sha256 = sha256
        self._cache: dict[str, np.ndarray] = {}
        self._archs: np.ndarray | None = None
        self._arch_rows: dict[str, int] | None = None
        self._key_rows: dict[str, np.ndarray] = {}
        self._overlay: _File | None = None
        self._overlay_take: np.ndarray | None = None
        self.shadowed: list[str] = []
        if overlay is not None and Path(overlay).is_file():
            self._merge_overlay(Path(overlay))

    def _merge_overlay(self, path: Path) -> None:
        ov, infos = _read_meta(path, "overlay")
        if ov.attrs["space"] != self.space:
            raise TableFormatError(
                f"overlay {path} is for space {ov.attrs['space']!r}, the table is {self.space!r}"
            )
        self._overlay = ov
        for name, info in infos.items():
            if name in self._info:
                self.shadowed.append(name)
                continue
            self._info[name] = info
        if self.shadowed:
            warnings.warn(
                f"overlay {path} has columns that the shipped table also has; the table's are used: "
                + ", ".join(self.shadowed),
                stacklevel=3,
            )

    # -- identity ---------------------------------------------------------------------------------
    @property
    def space(self) -> str:
        return str(self._main.attrs["space"])

    @property
    def n_rows(self) -> int:
        return self._main.n_rows

    def __len__(self) -> int:
        return self.n_rows

    @property
    def attrs(self) -> dict[str, Any]:
        """Root attributes of the table file (format, space, n_rows, hwbench_version, created ...)."""
        return dict(self._main.attrs)

    @property
    def overlay_path(self) -> Path | None:
        return None if self._overlay is None else self._overlay.path

    @property
    def sha256(self) -> str:
        """sha256 of the table file (the shipped data; overlays are not included)."""
        if self._sha256 is None:
            from hwbench.table._manifest import sha256_file

            self._sha256 = sha256_file(self.path)
        return self._sha256

    def __repr__(self) -> str:
        ov = f", overlay={str(self.overlay_path)!r}" if self._overlay else ""
        return f"Table({str(self.path)!r}, space={self.space!r}, rows={self.n_rows}, columns={len(self._info)}{ov})"

    # -- metadata ---------------------------------------------------------------------------------
    @property
    def metrics(self) -> list[str]:
        """All column names (values and their ``__std``/``__iqr`` dispersions), sorted."""
        return sorted(self._info)

    def list_metrics(self, pattern: str | None = None) -> list[str]:
        """Column names matching an :mod:`fnmatch` pattern (e.g. ``"cifar10/*/latency_ms"``)."""
        names = self.metrics
        return names if pattern is None else [n for n in names if fnmatch.fnmatchcase(n, pattern)]

    def column_info(self, name: str) -> ColumnInfo:
        """Metadata of one column."""
        self._check_metric(name)
        return self._info[name]

    def column_attrs(self, name: str) -> dict[str, str]:
        """A column's stored attributes (unit, source, tool, tool_version, device, protocol, ...)."""
        info = self.column_info(name)
        out = {k: getattr(info, k) for k in COLUMN_ATTRS}
        if info.dispersion_of is not None:
            out["dispersion_of"] = info.dispersion_of
        return out

    def info(self) -> dict[str, Any]:
        """A summary of the table: file, hash, rows, format, columns by source and origin."""
        by_source: dict[str, int] = {}
        for c in self._info.values():
            by_source[c.source] = by_source.get(c.source, 0) + 1
        a = self._main.attrs
        return {
            "name": self.name,
            "path": str(self.path),
            "sha256": self.sha256,
            "space": self.space,
            "rows": self.n_rows,
            "format": a.get("format"),
            "hwbench_version": a.get("hwbench_version"),
            "created": a.get("created"),
            "columns": len(self._info),
            "columns_by_source": ", ".join(f"{k}={v}" for k, v in sorted(by_source.items())),
            "overlay": "" if self._overlay is None else str(self._overlay.path),
            "overlay_columns": sum(c.origin == "overlay" for c in self._info.values()),
        }

    def metric_info(self) -> pd.DataFrame:
        """One row per column: name, unit, source, tool, tool_version, device, protocol, date, ..."""
        import pandas as pd

        cols = [
            "name",
            "unit",
            "source",
            "tool",
            "tool_version",
            "device",
            "protocol",
            "date",
            "description",
            "dispersion_of",
            "dtype",
            "shape",
            "origin",
        ]
        rows = [{c: getattr(self._info[n], c) for c in cols} for n in self.metrics]
        return pd.DataFrame(rows, columns=cols)

    def _check_metric(self, name: str) -> None:
        if name not in self._info:
            raise UnknownMetricError(name, self._info)

    def _expand(self, metrics: str | Sequence[str] | None, *, drop_2d: bool = False) -> list[str]:
        if metrics is None:
            return [n for n in self.metrics if not (drop_2d and len(self._info[n].shape) == 2)]
        items = [metrics] if isinstance(metrics, str) else list(metrics)
        out: list[str] = []
        for m in items:
            if any(c in m for c in "*?["):
                hit = self.list_metrics(m)
                if not hit:
                    raise UnknownMetricError(m, self._info)
                out += hit
            else:
                self._check_metric(m)
                out.append(m)
        return list(dict.fromkeys(out))

    # -- data -------------------------------------------------------------------------------------
    @property
    def archs(self) -> np.ndarray:
        """Architecture strings, row order (``archs[i]`` is hwbench index ``i``)."""
        if self._archs is None:
            with self._open(self._main) as f:
                self._archs = f["archs"][()].astype(str)
        return self._archs

    def _open(self, fi: _File) -> h5py.File:
        f = _open_read(fi.path)
        wid = f.attrs.get("write_id")
        if wid != fi.write_id:
            f.close()
            raise TableIntegrityError(
                f"{fi.path} was replaced since it was loaded (write_id {fi.write_id} -> {wid}); "
                "call hwbench.load() again"
            )
        return f

    def column(self, name: str) -> np.ndarray:
        """The full column (read on first use, then cached). Treat the array as read-only."""
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        self._check_metric(name)
        self._read([name])
        return self._cache[name]

    def _read(self, names: Sequence[str]) -> None:
        todo = [n for n in names if n not in self._cache]
        for origin, fi in (("table", self._main), ("overlay", self._overlay)):
            mine = [n for n in todo if self._info[n].origin == origin]
            if not mine or fi is None:
                continue
            with self._open(fi) as f:
                data = {n: _read_dataset(fi.path, f, n) for n in mine}
                if origin == "overlay" and self._overlay_take is None:
                    self._overlay_take = self._join(f["archs"][()].astype(str))
            for n, arr in data.items():
                if origin == "overlay":
                    arr = self._place_overlay(arr)
                arr.flags.writeable = False
                self._cache[n] = arr

    def _join(self, ov_archs: np.ndarray) -> np.ndarray:
        """For each overlay row, its table row (-1 where the table lacks that architecture)."""
        if len(ov_archs) == self.n_rows and np.array_equal(ov_archs, self.archs):
            return np.arange(self.n_rows)
        rows = self._rows_of_strings()
        return np.fromiter((rows.get(a, -1) for a in ov_archs.tolist()), dtype=np.int64, count=len(ov_archs))

    def _place_overlay(self, arr: np.ndarray) -> np.ndarray:
        take = self._overlay_take
        assert take is not None
        if len(take) == self.n_rows and np.array_equal(take, np.arange(self.n_rows)):
            return arr
        out = np.full((self.n_rows, *arr.shape[1:]), np.nan)
        ok = take >= 0
        out[take[ok]] = arr[ok]
        return out

    # -- architecture lookup ------------------------------------------------------------------
    def _rows_of_strings(self) -> dict[str, int]:
        if self._arch_rows is None:
            self._arch_rows = {a: i for i, a in enumerate(self.archs.tolist())}
        return self._arch_rows

    def _key_index(self, key: str) -> np.ndarray:
        """Inverse of the ``<key>_index`` column: external index -> table row (-1 if none)."""
        inv = self._key_rows.get(key)
        if inv is None:
            col = f"{key}_index"
            if col not in self._info:
                raise InvalidArchitectureError(
                    f"architectures of the form '{key}:<index>' need the column {col!r}, which this table lacks"
                    + (" (run `hwbench import-nats` to import NATS-Bench)" if key == "nb201" else "")
                )
            vals = self.column(col)
            ok = ~np.isnan(vals) if vals.dtype.kind == "f" else np.ones(len(vals), bool)
            ext = vals[ok].astype(np.int64)
            inv = np.full(int(ext.max()) + 1 if len(ext) else 0, -1, dtype=np.int64)
            inv[ext] = np.flatnonzero(ok)
            self._key_rows[key] = inv
        return inv

    def _row_of_one(self, a: Any) -> int:
        if isinstance(a, (int, np.integer)) and self._main.attrs["kind"] == "table" and 0 <= a < self.n_rows:
            return int(a)
        if isinstance(a, str):
            r = self._rows_of_strings().get(a)
            if r is not None:
                return r
            m = _KEY_PREFIX.match(a.strip())
            if m:
                inv = self._key_index(m.group(1))
                k = int(m.group(2))
                if k >= len(inv) or inv[k] < 0:
                    raise InvalidArchitectureError(
                        f"{a!r}: no row has {m.group(1)}_index {k} (valid 0..{len(inv) - 1})"
                    )
                return int(inv[k])
        from hwbench.spaces import get_space

        sp = get_space(self.space)
        s = sp.arch_str(a)  # raises InvalidArchitectureError for malformed input / bad index
        r = self._rows_of_strings().get(s)
        if r is None:
            raise InvalidArchitectureError(
                f"architecture {a!r} is valid in {self.space} but not in this table"
            )
        return r

    def rows(self, archs: ArchLike | Sequence[ArchLike] | np.ndarray) -> int | np.ndarray:
        """Row indices of architectures given as strings, hwbench indices or ``'<key>:<index>'``.

        One architecture gives an ``int``, many give an int64 array. Integer arrays are handled
        vectorized (an hwbench index *is* the row).
        """
        if isinstance(archs, (str, int, np.integer)) and not isinstance(archs, (bool, np.bool_)):
            return self._row_of_one(archs)
        if isinstance(archs, np.ndarray):
            arr = archs
        else:
            try:
                seq = archs if isinstance(archs, (list, tuple)) else list(archs)  # type: ignore[arg-type]
            except TypeError:
                raise InvalidArchitectureError(
                    f"expected an architecture (string or index) or a sequence of them, got {archs!r}"
                ) from None
            if seq and isinstance(seq[0], str):
                return self._rows_of_items(list(seq))  # strings go straight to the dict
            arr = np.asarray(seq)  # numbers: vectorized
            if arr.dtype.kind not in "iub":
                arr = np.asarray(seq, dtype=object)  # mixed or odd types: one by one
        if arr.ndim != 1:
            raise InvalidArchitectureError(
                f"expected one or a 1-D sequence of architectures, got shape {arr.shape}"
            )
        if arr.dtype.kind == "b":
            raise InvalidArchitectureError("boolean arrays are not architectures; use np.flatnonzero(mask)")
        if arr.dtype.kind in "iu" and self._main.attrs["kind"] != "table":
            arr = arr.astype(object)  # overlay files: rows are not hwbench indices; go through strings
        if arr.dtype.kind in "iu":
            idx = arr.astype(np.int64, copy=False)
            if idx.size and (idx.min() < 0 or idx.max() >= self.n_rows):
                bad = idx[(idx < 0) | (idx >= self.n_rows)][0]
                self._row_of_one(int(bad))  # raises with the space's message
            return idx
        return self._rows_of_items(arr.tolist())

    def _rows_of_items(self, items: list[Any]) -> np.ndarray:
        lookup = self._rows_of_strings()
        try:  # C-level loop: dict.get(arch, -1) over all items
            out = np.fromiter(map(lookup.get, items, itertools.repeat(-1)), dtype=np.int64, count=len(items))
        except TypeError:  # an unhashable item; resolved (and reported) one by one below
            out = np.full(len(items), -1, dtype=np.int64)
        for k in np.flatnonzero(out < 0):
            out[k] = self._row_of_one(items[k])
        return out

    def query(
        self, archs: ArchLike | Sequence[ArchLike] | np.ndarray, metrics: str | Sequence[str] | None = None
    ) -> dict[str, Any]:
        """Values of ``metrics`` (default: all; fnmatch patterns allowed) for one or many architectures.

        One architecture gives ``{metric: float}`` (``int`` for integer columns, a 1-D array for
        curve columns); many give ``{metric: array}`` in the order asked.
        """
        names = self._expand(metrics)
        rows = self.rows(archs)
        self._read(names)
        if isinstance(rows, int):
            out: dict[str, Any] = {}
            for n in names:
                v = self._cache[n][rows]
                out[n] = v.item() if np.ndim(v) == 0 else v
            return out
        return {n: self._cache[n][rows] for n in names}

    def to_pandas(self, metrics: str | Sequence[str] | None = None) -> pd.DataFrame:
        """A DataFrame indexed by hwbench index with an ``arch`` column and one column per metric.

        By default curve (2-D) columns are left out; asked for by name they expand into
        ``name[0] .. name[k-1]``.
        """
        import pandas as pd

        names = self._expand(metrics, drop_2d=True)
        self._read(names)
        data: dict[str, Any] = {"arch": self.archs}
        for n in names:
            v = self._cache[n]
            if v.ndim == 1:
                data[n] = v
            else:
                for e in range(v.shape[1]):
                    data[f"{n}[{e}]"] = v[:, e]
        return pd.DataFrame(data, index=pd.RangeIndex(self.n_rows, name="index"))

    def arch_string(self, arch: ArchLike) -> str:
        """The stored architecture string of one architecture (string, index or ``'nb201:<i>'``)."""
        return str(self.archs[self._row_of_one(arch)])

    def __contains__(self, name: object) -> bool:
        return name in self._info
