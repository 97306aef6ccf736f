from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """../shared/reference beside the checkout; tests that need it skip where it is absent."""
    if not REFERENCE.is_dir():
        pytest.skip(f"external reference data not found at {REFERENCE} (../shared/reference beside the checkout)")
    return REFERENCE


@pytest.fixture(autouse=True)
def _user_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every test's user-side files (overlays, caches) out of the real home directory."""
    base = tmp_path_factory.getbasetemp()
    monkeypatch.setenv("HWBENCH_USER_DIR", str(base / "user"))
    monkeypatch.setenv("HWBENCH_CACHE", str(base / "cache"))
