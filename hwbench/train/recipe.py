"""The training recipe of the ``fashion-mnist`` config, as a frozen record.

The values of :data:`FASHION_MNIST_RECIPE` are the ones chosen in docs/training.md (the study that led
to them is documented there). Every trained result stores ``Recipe.to_dict()`` as its protocol.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from hwbench.errors import HwbenchError
from hwbench.spaces.nb201 import MacroConfig

#: input transforms from the 28x28 Fashion-MNIST images to the network's input resolution.
#: The NB201 skeleton needs a resolution divisible by 4 (two stride-2 reductions whose residual
#: branch is a 2x2 average pool), so 14 and 7 are not possible.
TRANSFORMS: dict[str, tuple[str, int]] = {
    "none": ("28x28 as is", 28),
    "crop24-pool2": ("center crop 24x24, then 2x2 average pooling", 12),
    "pad32-pool2": ("zero-pad (after normalization: background) to 32x32, then 2x2 average pooling", 16),
    "crop24": ("center crop 24x24", 24),
}
OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class Recipe:
    """Everything that determines a training run except the cell and the seed."""

    config: str = "fashion-mnist"
    transform: str = "crop24-pool2"  # key of TRANSFORMS; fixes the input resolution
    C: int = 8  # stem width of the NB201 skeleton (stages have C, 2C, 4C channels)
    N: int = 1  # cells per stage
    train_subset: int = 6_500  # first n images of the (already shuffled) 50,000-image train split
    epochs: int = 4
    batch_size: int = 128
    optimizer: str = "adam"  # "adam" = torch.optim.AdamW (decoupled weight decay)
    lr: float = 3e-3
    momentum: float = 0.9  # SGD only
    nesterov: bool = True  # SGD only
    weight_decay: float = 1e-2
    schedule: str = "cosine"  # per-step cosine from lr to 0 over all epochs
    warmup_steps: int = 0
    curve_eval_size: int = 1_000  # per-epoch curves use the first n images of valid and of test
    augmentation: str = "none"

    def __post_init__(self) -> None:
        if self.transform not in TRANSFORMS:
            from hwbench.errors import UnknownNameError

            raise UnknownNameError("input transform", self.transform, TRANSFORMS)
        if self.optimizer not in OPTIMIZERS:
            from hwbench.errors import UnknownNameError

            raise UnknownNameError("optimizer", self.optimizer, OPTIMIZERS)
        if self.schedule not in ("cosine", "constant"):
            raise HwbenchError(f"schedule {self.schedule!r}: expected 'cosine' or 'constant'")
        if not 0 < self.train_subset <= 50_000:
            raise HwbenchError(f"train_subset {self.train_subset}: expected 1..50000")
        if self.epochs < 1 or self.batch_size < 1:
            raise HwbenchError(f"epochs {self.epochs} and batch_size {self.batch_size} must be >= 1")
        if not 0 < self.curve_eval_size <= 10_000:
            raise HwbenchError(f"curve_eval_size {self.curve_eval_size}: expected 1..10000")

    @property
    def resolution(self) -> int:
        return TRANSFORMS[self.transform][1]

    def macro(self) -> MacroConfig:
        """The network skeleton this recipe trains (1 input channel, 10 classes)."""
        return MacroConfig(self.config, 1, self.resolution, 10, C=self.C, N=self.N, input_transform=self.transform)

    def replace(self, **changes: Any) -> Recipe:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["resolution"] = self.resolution
        d["transform_description"] = TRANSFORMS[self.transform][0]
        return d


#: The recipe of the shipped ``fashion-mnist`` accuracy columns (see docs/training.md).
FASHION_MNIST_RECIPE = Recipe()
