"""The table manifest (``datasets/manifest.toml``) and file integrity checks.

One ``[[table]]`` entry per shipped table::

    [[table]]
    name = "nb201"
    version = "1"
    file = "nb201.h5"
    sha256 = "..."
    rows = 15625
    space = "nb201"
    description = "..."
    citation = "..."
    url = ""
    cpu_hours = 12.5
    built_with = { hwbench = "0.1.0", tvm = "0.27.0" }

The manifest is read with :mod:`tomllib`; :func:`update_manifest_entry` rewrites it (a small
emitter for exactly this schema, so no TOML writer is needed).
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwbench.errors import TableFormatError, TableIntegrityError

MANIFEST_NAME = "manifest.toml"
_REQUIRED = ("name", "version", "file", "sha256", "rows", "space")
_ORDER = (
    "name",
    "version",
    "file",
    "sha256",
    "rows",
    "space",
    "description",
    "citation",
    "url",
    "cpu_hours",
    "built_with",
)


@dataclass(frozen=True)
class ManifestEntry:
    """One ``[[table]]`` entry of a manifest; ``folder`` is where the manifest lives."""

    name: str
    version: str
    file: str
    sha256: str
    rows: int
    space: str
    description: str = ""
    citation: str = ""
    url: str = ""
    built_with: Mapping[str, str] = field(default_factory=dict)
    cpu_hours: float = float("nan")
    folder: Path | None = None

    @property
    def path(self) -> Path | None:
        """Where the table file would be beside its manifest (may not exist)."""
        return None if self.folder is None else self.folder / self.file

    def to_toml_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in _ORDER}
        d["built_with"] = dict(self.built_with)
        return d


def read_manifest(path: str | os.PathLike[str]) -> list[ManifestEntry]:
    """Parse a manifest file; raise :class:`TableFormatError` naming the file on any schema error."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise TableFormatError(f"manifest {path} is not valid TOML: {exc}") from None
    tables = data.get("table", [])
    if not isinstance(tables, list):
        raise TableFormatError(f"manifest {path}: 'table' must be an array of tables ([[table]])")
    out = []
    seen: set[str] = set()
    for k, t in enumerate(tables):
        missing = [key for key in _REQUIRED if key not in t]
        if missing:
            raise TableFormatError(f"manifest {path}: [[table]] entry {k + 1} lacks {', '.join(missing)}")
        unknown = sorted(set(t) - set(_ORDER))
        if unknown:
            raise TableFormatError(
                f"manifest {path}: [[table]] {t['name']!r} has unknown keys {unknown}; valid: {list(_ORDER)}"
            )
        if t["name"] in seen:
            raise TableFormatError(f"manifest {path}: table name {t['name']!r} appears twice")
        seen.add(t["name"])
        cpu = t.get("cpu_hours", float("nan"))
        out.append(
            ManifestEntry(
                name=str(t["name"]),
                version=str(t["version"]),
                file=str(t["file"]),
                sha256=str(t["sha256"]).lower(),
                rows=int(t["rows"]),
                space=str(t["space"]),
                description=str(t.get("description", "")),
                citation=str(t.get("citation", "")),
                url=str(t.get("url", "")),
                built_with={str(a): str(b) for a, b in dict(t.get("built_with", {})).items()},
                cpu_hours=float(cpu),
                folder=path.parent,
            )
        )
    return out


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return repr(v)
    if isinstance(v, str):
        esc = v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
        return f'"{esc}"'
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to the manifest")


def _toml_key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else _toml_value(k)


def write_manifest(path: str | os.PathLike[str], entries: list[ManifestEntry]) -> None:
    """Write ``entries`` as a manifest, atomically (temp file + :func:`os.replace`)."""
    path = Path(path)
    lines = ["# hwbench table manifest: one [[table]] per shipped table (see docs/tables.md).", ""]
    for e in entries:
        lines.append("[[table]]")
        for k, v in e.to_toml_dict().items():
            lines.append(f"{k} = {_toml_value(v)}")
        lines.append("")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    os.replace(tmp, path)


def update_manifest_entry(
    manifest: str | os.PathLike[str],
    table_file: str | os.PathLike[str],
    *,
    name: str,
    version: str,
    description: str = "",
    citation: str = "",
    url: str = "",
    built_with: Mapping[str, str] | None = None,
    cpu_hours: float = float("nan"),
) -> ManifestEntry:
    """Add or replace the entry ``name`` of ``manifest`` from the table file (for build recipes).

    The sha256, row count and space are read from ``table_file``, which must sit in the manifest's
    folder (the entry stores its file name only). Creates the manifest if absent.
    """
    import h5py

    manifest, table_file = Path(manifest), Path(table_file)
    if table_file.resolve().parent != manifest.resolve().parent:
        raise TableFormatError(f"table {table_file} must be in the manifest's folder {manifest.parent}")
    with h5py.File(table_file, "r", locking=False) as f:
        rows = int(f.attrs["n_rows"])
        space = str(f.attrs["space"])
    entry = ManifestEntry(
        name=name,
        version=str(version),
        file=table_file.name,
        sha256=sha256_file(table_file),
        rows=rows,
        space=space,
        description=description,
        citation=citation,
        url=url,
        built_with=dict(built_with or {}),
        cpu_hours=float(cpu_hours),
        folder=manifest.parent,
    )
    entries = read_manifest(manifest) if manifest.exists() else []
    entries = [e for e in entries if e.name != name] + [entry]
    write_manifest(manifest, entries)
    return entry


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The sha256 of a file, cached per (resolved path, size, mtime_ns, inode) in this process."""
    p = Path(path).resolve()
    st = p.stat()
    return _sha256_cached(str(p), st.st_size, st.st_mtime_ns, st.st_ino)


@functools.lru_cache(maxsize=64)
def _sha256_cached(path: str, size: int, mtime_ns: int, ino: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_file(path: str | os.PathLike[str], expected_sha256: str, *, source: str = "the manifest") -> str:
    """Raise :class:`TableIntegrityError` unless the file's sha256 equals ``expected_sha256``."""
    actual = sha256_file(path)
    if actual != expected_sha256.lower():
        raise TableIntegrityError(
            f"table file {path} does not match {source}: sha256 is {actual}, expected {expected_sha256}. "
            "The file is truncated, altered or from another build; re-fetch or rebuild it "
            "(or pass verify=False to open it anyway)"
        )
    return actual
