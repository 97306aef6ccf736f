"""The fixed input batches the proxies are computed on.

``make_batch(source, config, batch_size, seed)`` returns ``(inputs, targets)`` shaped for the
config's input (``(N, C, R, R)``) and number of classes:

``gaussian``
    standard-normal inputs and uniform random labels (``torch.Generator`` seeded with ``seed``);
    what data-free proxies see anyway (they use the shape only), and the fallback for
    data-needing proxies where the config's dataset is not available here.
``fashion-mnist``
    real Fashion-MNIST training images (the ``train`` split of :mod:`hwbench.data.fashion_mnist`),
    ``batch_size`` of them drawn without replacement by ``numpy.random.default_rng(seed)``,
    normalized with the dataset mean/std, then passed through the config's ``input_transform``
    (the training recipe's pipeline; ``fashion-mnist``: center crop 24, 2x2 average pool -> 12x12).
    For a config of another shape (``cifar10``: 3x32x32) the 28x28 images are bilinearly resized to
    R x R and repeated over the C channels, and labels are kept (0..9; a config with more classes
    simply never sees the others).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hwbench.errors import UnknownNameError
from hwbench.spaces.nb201 import MacroConfig, get_config

if TYPE_CHECKING:  # pragma: no cover
    import torch

SOURCES: tuple[str, ...] = ("gaussian", "fashion-mnist")


def make_batch(
    source: str, config: str | MacroConfig, batch_size: int = 64, seed: int = 0, *, data: Any = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """A deterministic ``(inputs, targets)`` batch for ``config`` (see the module docstring).

    ``data`` may pass an already loaded :class:`hwbench.data.fashion_mnist.FashionMNIST`.
    """
    import torch

    cfg = get_config(config)
    _, c, r, _ = cfg.input_shape
    if source == "gaussian":
        g = torch.Generator().manual_seed(int(seed))
        x = torch.randn((batch_size, c, r, r), generator=g)
        y = torch.randint(0, cfg.num_classes, (batch_size,), generator=g)
        return x, y
    if source == "fashion-mnist":
        import numpy as np

        from hwbench.data import fashion_mnist as fm

        ds = data if data is not None else fm.load_fashion_mnist()
        images, labels = ds.split("train")
        pick = np.random.default_rng(int(seed)).choice(len(images), size=batch_size, replace=False)
        x, y = fm.to_tensors(images[pick], labels[pick])
        transform = getattr(cfg, "input_transform", "")
        if transform:  # the config's own input pipeline (e.g. fashion-mnist: crop 24, pool 2 -> 12x12)
            from hwbench.train.trainer import apply_input_transform

            x = apply_input_transform(x, transform)
        if x.shape[-1] != r:
            x = torch.nn.functional.interpolate(x, size=(r, r), mode="bilinear", align_corners=False)
        if c != 1:
            x = x.repeat(1, c, 1, 1)
        return x.contiguous(), y
    raise UnknownNameError("batch source", source, SOURCES)


def describe_batch(source: str, config: str | MacroConfig, batch_size: int, seed: int) -> dict[str, Any]:
    """Protocol record of a batch (stored with proxy results)."""
    cfg = get_config(config)
    out: dict[str, Any] = {"batch_source": source, "batch_size": batch_size, "batch_seed": seed,
                           "input_shape": [batch_size, *cfg.input_shape[1:]]}
    if source == "fashion-mnist":
        transform = getattr(cfg, "input_transform", "")
        out["note"] = "Fashion-MNIST train split" + (
            f", input transform {transform}" if transform else
            "" if cfg.input_shape[1:] == (1, 28, 28) else f", resized to {cfg.resolution}x{cfg.resolution} bilinear, "
            f"repeated over {cfg.in_channels} channels"
        )
    return out
