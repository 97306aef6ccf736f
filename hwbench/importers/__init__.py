"""Importers of external data that hwbench may not redistribute (written to the user overlay)."""

from __future__ import annotations

from hwbench.importers.nats import ImportReport, UniqueMismatch, import_nats

__all__ = ["ImportReport", "UniqueMismatch", "import_nats"]
