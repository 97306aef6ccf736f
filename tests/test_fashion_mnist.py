"""Fashion-MNIST loader: real Debian files, splits, checksums, errors."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from hwbench.data import fashion_mnist as fm
from hwbench.errors import HwbenchError

pytestmark = pytest.mark.skipif(
    not all((fm.DEBIAN_PATH / f).is_file() for f in fm.FILES),
    reason=f"Fashion-MNIST not installed ({fm.DEBIAN_PATH}; apt-get install dataset-fashion-mnist)",
)


@pytest.fixture(scope="module")
def ds() -> fm.FashionMNIST:
    return fm.load_fashion_mnist(fm.DEBIAN_PATH)


def test_shapes_and_split_sizes(ds: fm.FashionMNIST) -> None:
    for split, n in fm.SPLIT_SIZES.items():
        x, y = ds.split(split)
        assert x.shape == (n, 28, 28) and x.dtype == np.uint8
        assert y.shape == (n,) and set(np.unique(y)) == set(range(10))
    assert np.bincount(ds.test_labels).tolist() == [1000] * 10  # official balanced test set
    # train and valid partition the official 60,000 (the permutation is a permutation)
    perm = fm.split_permutation()
    assert sorted(perm.tolist()) == list(range(60_000))
    with pytest.raises(HwbenchError, match="split"):
        ds.split("training")


def test_split_is_deterministic(ds: fm.FashionMNIST) -> None:
    again = fm.load_fashion_mnist(fm.DEBIAN_PATH, verify=False)
    for split in fm.SPLIT_SIZES:
        for a, b in zip(ds.split(split), again.split(split)):
            np.testing.assert_array_equal(a, b)
    # valid images really come from the official train file, not from test
    assert not np.array_equal(ds.valid_images[:100], ds.test_images[:100])


def test_tensors_are_normalized(ds: fm.FashionMNIST) -> None:
    torch = pytest.importorskip("torch")
    x, y = fm.to_tensors(ds.train_images[:5000], ds.train_labels[:5000])
    assert x.shape == (5000, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert abs(float(x.mean())) < 0.05 and abs(float(x.std()) - 1.0) < 0.05
    x14, _ = fm.to_tensors(ds.train_images[:10], ds.train_labels[:10], resolution=14)
    assert x14.shape == (10, 1, 14, 14)
    with pytest.raises(HwbenchError, match="divide 28"):
        fm.to_tensors(ds.train_images[:10], ds.train_labels[:10], resolution=12)


def test_altered_copy_fails_checksum(tmp_path: Path) -> None:
    for f in fm.FILES:
        shutil.copy(fm.DEBIAN_PATH / f, tmp_path / f)
    assert fm.load_fashion_mnist(tmp_path).test_images.shape == (10_000, 28, 28)
    labels = tmp_path / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(labels.read_bytes()))
    raw[100] = (raw[100] + 1) % 10  # one changed label, still a valid idx file
    labels.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(fm.DatasetIntegrityError, match="t10k-labels-idx1-ubyte.gz.*sha256"):
        fm.load_fashion_mnist(tmp_path)


def test_missing_data_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(fm.DatasetNotFoundError, match="dataset-fashion-mnist") as err:
        fm.load_fashion_mnist(tmp_path)
    assert "apt-get install" in str(err.value) and str(tmp_path) in str(err.value)
    assert isinstance(err.value, HwbenchError)
    # the environment variable is used when no argument is given
    monkeypatch.setenv(fm.ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(fm.DatasetNotFoundError, match=fm.ENV_VAR):
        fm.resolve_path()
    monkeypatch.setenv(fm.ENV_VAR, str(fm.DEBIAN_PATH))
    assert fm.resolve_path() == fm.DEBIAN_PATH
