"""Fashion-MNIST from the four idx ``.gz`` files, with fixed, documented splits.

The files come from Debian's ``dataset-fashion-mnist`` package (``apt-get install
dataset-fashion-mnist``, installed under ``/usr/share/datasets/fashion-mnist/``); they are the
original Zalando files, byte for byte (the sha256 sums in :data:`FILES` are checked on every load).

Location, first found wins: the ``path`` argument, the ``HWBENCH_FASHION_MNIST`` environment
variable, the Debian path.

Splits (fixed; documented in docs/training.md):

* ``train``: 50,000 images of the official 60,000-image training file,
* ``valid``: the other 10,000 of that file, chosen by a fixed permutation
  ``numpy.random.default_rng(SPLIT_SEED).permutation(60000)`` (first 50,000 -> train, in
  permutation order; last 10,000 -> valid, in permutation order),
* ``test``: the official 10,000-image test file, in file order.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hwbench.errors import HwbenchError

if TYPE_CHECKING:  # pragma: no cover
    import torch

DEBIAN_PACKAGE = "dataset-fashion-mnist"
DEBIAN_PATH = Path("/usr/share/datasets/fashion-mnist")
ENV_VAR = "HWBENCH_FASHION_MNIST"
#: file name -> sha256 of the gzip file (the original Zalando files, as shipped by Debian).
FILES: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
}
SPLIT_SEED = 20260
SPLIT_SIZES: dict[str, int] = {"train": 50_000, "valid": 10_000, "test": 10_000}
#: per-pixel mean and std of the 60,000 official training images scaled to [0, 1].
MEAN = 0.2860405969887955
STD = 0.35302424451492237
CLASSES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
_HOW_TO_GET = (
    f"install Debian's {DEBIAN_PACKAGE!r} package (`sudo apt-get install {DEBIAN_PACKAGE}`, files land in "
    f"{DEBIAN_PATH}), or download the four files {', '.join(FILES)} from "
    "https://github.com/zalandoresearch/fashion-mnist (data/fashion) into a folder and pass it as `path` "
    f"or set {ENV_VAR}"
)


class DatasetNotFoundError(HwbenchError, FileNotFoundError):
    """The dataset files are not where hwbench looked."""


class DatasetIntegrityError(HwbenchError):
    """A dataset file exists but is not the expected file (checksum or format mismatch)."""


@dataclass(frozen=True)
class FashionMNIST:
    """The three splits as uint8 images ``(n, 28, 28)`` and int64 labels ``(n,)``."""

    path: Path
    train_images: np.ndarray
    train_labels: np.ndarray
    valid_images: np.ndarray
    valid_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in SPLIT_SIZES:
            from hwbench.errors import UnknownNameError

            raise UnknownNameError("split", name, SPLIT_SIZES)
        return getattr(self, f"{name}_images"), getattr(self, f"{name}_labels")


def resolve_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding the four files: ``path``, else ``$HWBENCH_FASHION_MNIST``, else Debian's."""
    tried: list[str] = []
    candidates: list[tuple[str, Path]] = []
    if path is not None:
        candidates.append(("argument", Path(path)))
    elif os.environ.get(ENV_VAR):
        candidates.append((ENV_VAR, Path(os.environ[ENV_VAR])))
    else:
        candidates.append(("Debian package path", DEBIAN_PATH))
    for origin, p in candidates:
        missing = [f for f in FILES if not (p / f).is_file()]
        if not missing:
            return p
        tried.append(f"{p} ({origin}; missing {', '.join(missing)})")
    raise DatasetNotFoundError(f"Fashion-MNIST not found in {'; '.join(tried)}. To get it, {_HOW_TO_GET}")


def _sha256(file: Path) -> str:
    h = hashlib.sha256()
    with open(file, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_idx(file: Path, ndim: int) -> np.ndarray:
    with gzip.open(file, "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[:4], "big")
    if magic != 0x800 + ndim:
        raise DatasetIntegrityError(f"{file}: not an idx{ndim} ubyte file (magic {magic:#x})")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise DatasetIntegrityError(f"{file}: expected {dims} bytes of data, found {data.size}")
    return data.reshape(dims).copy()


def split_permutation() -> np.ndarray:
    """The fixed permutation of the 60,000 official training images (first 50,000 = train)."""
    return np.random.default_rng(SPLIT_SEED).permutation(60_000)


def load_fashion_mnist(path: str | os.PathLike[str] | None = None, *, verify: bool = True) -> FashionMNIST:
    """Load Fashion-MNIST, verify the files' sha256 (unless ``verify=False``) and split it.

    Raises :class:`DatasetNotFoundError` (saying how to install the data) when the files are absent
    and :class:`DatasetIntegrityError` when a file does not match its recorded checksum.
    """
    root = resolve_path(path)
    if verify:
        for name, expected in FILES.items():
            got = _sha256(root / name)
            if got != expected:
                raise DatasetIntegrityError(
                    f"{root / name}: sha256 {got} does not match the recorded {expected} of the original "
                    f"Fashion-MNIST file; the file is altered or truncated. To get a good copy, {_HOW_TO_GET}"
                )
    x_all = _read_idx(root / "train-images-idx3-ubyte.gz", 3)
    y_all = _read_idx(root / "train-labels-idx1-ubyte.gz", 1).astype(np.int64)
    x_test = _read_idx(root / "t10k-images-idx3-ubyte.gz", 3)
    y_test = _read_idx(root / "t10k-labels-idx1-ubyte.gz", 1).astype(np.int64)
    if x_all.shape != (60_000, 28, 28) or y_all.shape != (60_000,) or x_test.shape != (10_000, 28, 28):
        raise DatasetIntegrityError(f"{root}: unexpected array shapes {x_all.shape}, {y_all.shape}, {x_test.shape}")
    perm = split_permutation()
    tr, va = perm[: SPLIT_SIZES["train"]], perm[SPLIT_SIZES["train"] :]
    return FashionMNIST(
        path=root,
        train_images=x_all[tr],
        train_labels=y_all[tr],
        valid_images=x_all[va],
        valid_labels=y_all[va],
        test_images=x_test,
        test_labels=y_test,
    )


def to_tensors(
    images: np.ndarray, labels: np.ndarray, *, resolution: int = 28
) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 ``(n, 28, 28)`` images -> normalized float32 ``(n, 1, r, r)`` tensor, and int64 labels.

    ``resolution`` must divide 28; below 28 the images are average-pooled by ``28 // resolution``
    (e.g. 14 = 2x2 average pooling) after scaling to [0, 1] and before normalization.
    """
    import torch

    if resolution <= 0 or 28 % resolution:
        raise HwbenchError(f"resolution {resolution} must divide 28 (valid: 28, 14, 7, 4, 2, 1)")
    x = torch.from_numpy(np.ascontiguousarray(images)).to(torch.float32).div_(255.0).unsqueeze(1)
    if resolution != 28:
        x = torch.nn.functional.avg_pool2d(x, 28 // resolution)
    x = (x - MEAN) / STD
    return x.contiguous(), torch.from_numpy(np.ascontiguousarray(labels)).to(torch.int64)


def describe() -> dict[str, Any]:
    """Protocol record of the splits (stored with every trained result)."""
    return {
        "dataset": "fashion-mnist",
        "files_sha256": dict(FILES),
        "split_seed": SPLIT_SEED,
        "split_sizes": dict(SPLIT_SIZES),
        "normalization": {"mean": MEAN, "std": STD},
    }
