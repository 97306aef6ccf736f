"""Training NB201 cells on Fashion-MNIST (needs torch; imported lazily by the functions)."""

from hwbench.train.recipe import FASHION_MNIST_RECIPE, TRANSFORMS, Recipe
from hwbench.train.trainer import TrainResult, apply_input_transform, prepared_data, spearman, train_cell

__all__ = ["FASHION_MNIST_RECIPE", "TRANSFORMS", "Recipe", "TrainResult", "apply_input_transform", "prepared_data", "spearman", "train_cell"]
