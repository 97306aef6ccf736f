"""Exceptions a user can cause. Each names the bad input and what was expected."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class HwbenchError(Exception):
    """Base class of every error hwbench raises on bad user input or bad data."""


class InvalidArchitectureError(HwbenchError, ValueError):
    """An architecture string or index that is not in the search space."""


class UnknownNameError(HwbenchError, KeyError):
    """A name (space, config, metric, target, task ...) that is not registered."""

    def __init__(self, kind: str, name: str, valid: Iterable[str]) -> None:
        valid = sorted(valid)
        close = difflib.get_close_matches(name, valid, n=5, cutoff=0.4)
        hint = f"; closest: {', '.join(close)}" if close else ""
        listing = ", ".join(valid[:20]) + (" ..." if len(valid) > 20 else "")
        msg = f"unknown {kind} {name!r}{hint}; valid {kind}s: {listing}"
        super().__init__(msg)
        self.kind, self.name, self.valid, self.close = kind, name, valid, close

    def __str__(self) -> str:  # KeyError would repr() the message otherwise
        return str(self.args[0])


class UnknownMetricError(UnknownNameError):
    """A metric column that the table does not have."""

    def __init__(self, name: str, valid: Iterable[str]) -> None:
        super().__init__("metric", name, valid)


class TableIntegrityError(HwbenchError):
    """A table file that is truncated, altered or does not match its manifest."""


class TableFormatError(HwbenchError):
    """A file that is not an hwbench table or is malformed."""


class MissingDependencyError(HwbenchError, ImportError):
    """An optional dependency needed by the requested feature is not installed."""

    def __init__(self, package: str, extra: str, feature: str) -> None:
        super().__init__(
            f"{feature} needs the optional dependency {package!r}; install it with "
            f"`pip install 'hwbench[{extra}]'`"
        )
