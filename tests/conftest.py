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


#: trained compression base networks shipped with the repository
COMPRESS_BASE_DIR = Path(__file__).resolve().parents[1] / "datasets" / "compress" / "bases"


def tiny_compress_store(root: Path, base: str, *, test_limit: int, train_subset: int) -> Path:
    """A real ``test-tiny`` compression accuracy table of ``base`` under ``root``: the compression
    campaign code (one worker) with a 1-epoch fine-tune on ``train_subset`` images, evaluated on the
    first ``test_limit`` test images. Skips when the base or Fashion-MNIST is missing."""
    pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    from hwbench.data.fashion_mnist import DatasetNotFoundError

    if not (COMPRESS_BASE_DIR / f"{base}.safetensors").is_file():
        pytest.skip(f"base network {base} not trained (missing {COMPRESS_BASE_DIR}/{base}.safetensors)")
    try:
        from hwbench.compress.accuracy import _data

        _data()
    except DatasetNotFoundError as exc:
        pytest.skip(f"Fashion-MNIST not installed: {exc}")
    from hwbench.compress.accuracy import FinetuneRecipe
    from hwbench.compress.campaign import run_compress_campaign

    rep = run_compress_campaign(space="test-tiny", bases=[base], base_dir=COMPRESS_BASE_DIR, store_dir=root,
                                workers=1, progress=False, test_limit=test_limit,
                                finetune=FinetuneRecipe(epochs=1, train_subset=train_subset))
    assert rep.shards_written == 8
    return root
