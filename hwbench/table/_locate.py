"""Where tables, the user cache and user overlays live, and how a table name is resolved.

Search order for a table *name* (see docs/tables.md):

1. ``$HWBENCH_DATASETS`` (a folder holding ``manifest.toml`` and the table files);
2. the repository's ``datasets/`` folder beside the package (editable installs);
3. the user cache: ``$HWBENCH_CACHE``, else ``$XDG_CACHE_HOME/hwbench``, else ``~/.cache/hwbench``.

The first manifest that lists the name wins. If its file is absent but the entry has a ``url``,
the file is downloaded into the user cache (atomically, hash-checked). User overlays (imported,
non-redistributable columns) live in ``$HWBENCH_USER_DIR``, else ``$XDG_DATA_HOME/hwbench``, else
``~/.local/share/hwbench``, as ``overlays/<space>.h5``. Nothing here runs at import time.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hwbench.errors import HwbenchError, TableIntegrityError
from hwbench.table._manifest import MANIFEST_NAME, ManifestEntry, read_manifest, sha256_file


class TableNotFoundError(HwbenchError, FileNotFoundError):
    """No table of the requested name or path exists in any searched place."""


def _env(name: str, environ: Mapping[str, str] | None) -> str | None:
    v = (os.environ if environ is None else environ).get(name)
    return v or None


def repo_datasets_dir() -> Path:
    """``datasets/`` next to the ``hwbench`` package (exists for source checkouts / editable installs)."""
    return Path(__file__).resolve().parents[2] / "datasets"


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The user cache for downloaded tables."""
    if v := _env("HWBENCH_CACHE", environ):
        return Path(v)
    if v := _env("XDG_CACHE_HOME", environ):
        return Path(v) / "hwbench"
    return Path.home() / ".cache" / "hwbench"


def user_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The user data folder (holds ``overlays/``)."""
    if v := _env("HWBENCH_USER_DIR", environ):
        return Path(v)
    if v := _env("XDG_DATA_HOME", environ):
        return Path(v) / "hwbench"
    return Path.home() / ".local" / "share" / "hwbench"


def overlay_path(space: str, overlay_dir: str | os.PathLike[str] | None = None) -> Path:
    """The overlay file of ``space``: ``<overlay_dir or user_dir()>/overlays/<space>.h5``."""
    base = Path(overlay_dir) if overlay_dir is not None else user_dir()
    return base / "overlays" / f"{space}.h5"


def search_dirs(environ: Mapping[str, str] | None = None) -> list[tuple[str, Path]]:
    """(label, folder) pairs searched for manifests, in order."""
    out: list[tuple[str, Path]] = []
    if v := _env("HWBENCH_DATASETS", environ):
        out.append(("$HWBENCH_DATASETS", Path(v)))
    out.append(("repository datasets/", repo_datasets_dir()))
    out.append(("user cache", cache_dir(environ)))
    return out


@dataclass(frozen=True)
class Resolved:
    """A table file to open and the manifest entry to verify it against (None: no manifest)."""

    path: Path
    entry: ManifestEntry | None


def _looks_like_path(x: str | os.PathLike[str]) -> bool:
    if isinstance(x, os.PathLike):
        return True
    return "/" in x or os.sep in x or x.endswith((".h5", ".hdf5"))


def _entry_for_file(path: Path) -> ManifestEntry | None:
    m = path.parent / MANIFEST_NAME
    if not m.is_file():
        return None
    for e in read_manifest(m):
        if e.file == path.name:
            return e
    return None


def list_tables(environ: Mapping[str, str] | None = None) -> list[ManifestEntry]:
    """Every manifest entry found in the searched folders (first occurrence of a name wins)."""
    seen: dict[str, ManifestEntry] = {}
    for _, d in search_dirs(environ):
        m = d / MANIFEST_NAME
        if m.is_file():
            for e in read_manifest(m):
                seen.setdefault(e.name, e)
    return list(seen.values())


def resolve(
    name_or_path: str | os.PathLike[str], environ: Mapping[str, str] | None = None, *, download: bool = True
) -> Resolved:
    """Find the file of a table name or path (downloading into the cache where a url allows)."""
    if _looks_like_path(name_or_path):
        p = Path(name_or_path).expanduser()
        if not p.is_file():
            raise TableNotFoundError(f"table file {p} does not exist")
        return Resolved(p, _entry_for_file(p))
    name = str(name_or_path)
    searched: list[str] = []
    known: list[str] = []
    for label, d in search_dirs(environ):
        m = d / MANIFEST_NAME
        if not m.is_file():
            searched.append(f"{label} {d} (no {MANIFEST_NAME})")
            continue
        entries = read_manifest(m)
        known += [e.name for e in entries]
        hit = next((e for e in entries if e.name == name), None)
        if hit is None:
            searched.append(f"{label} {m} (no table {name!r})")
            continue
        assert hit.path is not None
        if hit.path.is_file():
            return Resolved(hit.path, hit)
        if hit.url and download:
            # the first manifest that lists the table decides its version: fetch that one into the
            # cache rather than fall back to a different file (with a different hash) further down
            dest = cache_dir(environ) / hit.file
            if not dest.is_file():
                download_file(hit.url, dest, hit.sha256)
            return Resolved(dest, hit)
        searched.append(f"{label} {m} (lists {name!r} but {hit.path} is missing and it has no url)")
    hint = f"; tables listed: {', '.join(sorted(set(known)))}" if known else ""
    raise TableNotFoundError(
        f"no table {name!r} found{hint}. Searched: "
        + "; ".join(searched)
        + ". Set HWBENCH_DATASETS to a folder with manifest.toml, or pass a file path."
    )


def download_file(
    url: str, dest: str | os.PathLike[str], sha256: str | None, *, timeout: float = 60.0
) -> Path:
    """Download ``url`` to ``dest`` atomically (temp file in the same folder + :func:`os.replace`).

    The hash is checked before the file is moved into place, so ``dest`` is either absent or
    complete and correct. Any ``urllib`` scheme works (``https://``, ``file://``).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    try:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r, open(tmp, "wb") as fh:
                while block := r.read(1 << 20):
                    fh.write(block)
        except OSError as exc:  # URLError is an OSError
            raise TableNotFoundError(f"could not download {url} to {dest}: {exc}") from None
        if sha256 is not None:
            actual = sha256_file(tmp)
            if actual != sha256.lower():
                raise TableIntegrityError(
                    f"download of {url} has sha256 {actual}, expected {sha256}; not installed to {dest}"
                )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest
