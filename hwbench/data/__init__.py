"""Datasets used to train the networks of the benchmark (no work or file access at import time)."""

from hwbench.data.fashion_mnist import (
    DEBIAN_PATH,
    ENV_VAR,
    FILES,
    SPLIT_SEED,
    SPLIT_SIZES,
    FashionMNIST,
    load_fashion_mnist,
    resolve_path,
    to_tensors,
)

__all__ = [
    "DEBIAN_PATH",
    "ENV_VAR",
    "FILES",
    "SPLIT_SEED",
    "SPLIT_SIZES",
    "FashionMNIST",
    "load_fashion_mnist",
    "resolve_path",
    "to_tensors",
]
