"""The table store and query API.

>>> import hwbench
>>> t = hwbench.load("nb201")                                   # doctest: +SKIP
>>> t.query("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
...         "cifar10/model/params")                             # doctest: +SKIP

See docs/tables.md for the file format, where tables and overlays live, and the query rules.
"""

from __future__ import annotations

import os

from hwbench.errors import TableIntegrityError
from hwbench.table._locate import (
    TableNotFoundError,
    cache_dir,
    download_file,
    list_tables,
    overlay_path,
    repo_datasets_dir,
    resolve,
    search_dirs,
    user_dir,
)
from hwbench.table._manifest import (
    ManifestEntry,
    read_manifest,
    sha256_file,
    update_manifest_entry,
    verify_file,
    write_manifest,
)
from hwbench.table._store import FORMAT, SOURCES, ColumnInfo, Table, TableWriter


def load(
    name_or_path: str | os.PathLike[str] = "nb201", *, overlay: bool = True, verify: bool = True
) -> Table:
    """Open a table by manifest name or file path, lazily (column data is read on first use).

    Args:
        name_or_path: a table name listed in a manifest (see :func:`search_dirs` for the order),
            or a path to an ``.h5`` file.
        overlay: merge the user's overlay for the table's space (imported columns such as
            NATS-Bench accuracies), if one exists.
        verify: check the file's sha256 against its manifest entry (cached per file state in this
            process). A path with no manifest beside it cannot be verified and is opened as is.

    Raises:
        TableNotFoundError: nothing of that name/path (the message lists every place searched).
        TableIntegrityError: the file does not match its manifest (truncated, altered).
        TableFormatError: the file is not an hwbench table.
    """
    found = resolve(name_or_path)
    digest = None
    if verify and found.entry is not None:
        digest = verify_file(
            found.path, found.entry.sha256, source=f"its manifest entry {found.entry.name!r}"
        )
    table = Table(found.path, sha256=digest, name=found.entry.name if found.entry else None)
    if found.entry is not None and found.entry.rows != table.n_rows:
        raise TableIntegrityError(
            f"{found.path} has {table.n_rows} rows, its manifest entry {found.entry.name!r} says {found.entry.rows}"
        )
    if overlay:
        ov = overlay_path(table.space)
        if ov.is_file():
            table._merge_overlay(ov)
    return table


__all__ = [
    "FORMAT",
    "SOURCES",
    "ColumnInfo",
    "ManifestEntry",
    "Table",
    "TableNotFoundError",
    "TableWriter",
    "cache_dir",
    "download_file",
    "list_tables",
    "load",
    "overlay_path",
    "read_manifest",
    "repo_datasets_dir",
    "resolve",
    "search_dirs",
    "sha256_file",
    "update_manifest_entry",
    "user_dir",
    "verify_file",
    "write_manifest",
]
