"""Train one NB201 cell on Fashion-MNIST with a :class:`~hwbench.train.recipe.Recipe`.

Single-threaded by design (the campaign runs one process per core): call
``torch.set_num_threads(1)`` in the worker; :func:`train_cell` does it unless ``threads`` is None.
With a fixed seed and the same thread count two runs give bit-identical results.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from hwbench.train.recipe import FASHION_MNIST_RECIPE, Recipe

if TYPE_CHECKING:  # pragma: no cover
    import torch


@dataclass(frozen=True)
class TrainResult:
    """One training run. Accuracies are fractions in [0, 1]; losses are mean cross-entropy (nats)."""

    index: int  # hwbench index of the trained cell
    arch: str
    seed: int
    degenerate: bool  # output not connected to the input (the network is a constant predictor)
    params: int
    train_acc: float  # running accuracy over the last epoch (train mode), as in NAS-Bench-201
    train_loss: float
    valid_acc: float  # full 10,000-image validation split, after the last epoch
    valid_loss: float
    test_acc: float  # full official 10,000-image test set, after the last epoch
    test_loss: float
    valid_acc_curve: list[float] = field(default_factory=list)  # per epoch, first curve_eval_size images
    test_acc_curve: list[float] = field(default_factory=list)
    train_loss_curve: list[float] = field(default_factory=list)
    epoch_time_s: list[float] = field(default_factory=list)  # wall time of each epoch's training steps
    epoch_cpu_time_s: list[float] = field(default_factory=list)  # CPU time of the same (robust to a loaded host)
    eval_time_s: float = math.nan  # wall time of all evaluation (curves + final)
    total_time_s: float = math.nan  # wall time of the whole run including model build
    cpu_time_s: float = math.nan  # CPU time of this process over the whole run (the budget measure)
    threads: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def apply_input_transform(x: torch.Tensor, transform: str) -> torch.Tensor:
    """Normalized (n, 1, 28, 28) images -> the network input of a recipe transform (see TRANSFORMS)."""
    import torch.nn.functional as F

    from hwbench.data.fashion_mnist import MEAN, STD

    if transform == "none":
        return x
    if transform == "crop24":
        return x[:, :, 2:26, 2:26].contiguous()
    if transform == "crop24-pool2":
        return F.avg_pool2d(x[:, :, 2:26, 2:26], 2).contiguous()
    if transform == "pad32-pool2":
        return F.avg_pool2d(F.pad(x, (2, 2, 2, 2), value=(0.0 - MEAN) / STD), 2).contiguous()
    from hwbench.errors import UnknownNameError
    from hwbench.train.recipe import TRANSFORMS

    raise UnknownNameError("input transform", transform, TRANSFORMS)


@lru_cache(maxsize=2)
def prepared_data(path: str | None, transform: str) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Float tensors of the three splits after ``transform`` (cached per process: each worker loads once)."""
    from hwbench.data.fashion_mnist import load_fashion_mnist, to_tensors

    ds = load_fashion_mnist(path)
    out = {}
    for split in ("train", "valid", "test"):
        x, y = to_tensors(*ds.split(split), resolution=28)
        out[split] = (apply_input_transform(x, transform), y)
    return out


def _evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 1000) -> tuple[float, float]:
    import torch
    import torch.nn.functional as F

    model.eval()
    correct, loss = 0, 0.0
    with torch.inference_mode():
        for i in range(0, len(x), batch):
            out = model(x[i : i + batch].contiguous(memory_format=torch.channels_last))
            t = y[i : i + batch]
            loss += float(F.cross_entropy(out, t, reduction="sum"))
            correct += int((out.argmax(1) == t).sum())
    model.train()
    return correct / len(x), loss / len(x)


def run_epochs(
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    batch_size: int,
    epochs: int,
    lr_at: Callable[[int], float],
    gen: torch.Generator,
    channels_last: bool = False,
    after_epoch: Callable[[float, float, float, float], None] | None = None,
) -> tuple[float, float]:
    """The project's mini-batch training loop (cross-entropy; the learning rate set per step by ``lr_at``;
    batches in ``torch.randperm(len(x), generator=gen)`` order, a fresh permutation per epoch).

    ``after_epoch(train_acc, train_loss, seconds, cpu_seconds)`` runs after every epoch (running
    accuracy / loss of the epoch, wall and CPU time of its training steps). Returns the last epoch's
    running train accuracy and loss (NaN when ``epochs`` is 0). Used by :func:`train_cell` and by the
    compression fine-tune (``hwbench.compress.nets.fit``)."""
    import torch
    import torch.nn.functional as F

    n = len(x)
    steps = math.ceil(n / batch_size)
    step = 0
    acc = loss_mean = math.nan
    for _epoch in range(epochs):
        t0, c0 = time.perf_counter(), time.process_time()
        perm = torch.randperm(n, generator=gen)
        correct, loss_sum = 0, 0.0
        for b in range(steps):
            idx = perm[b * batch_size : (b + 1) * batch_size]
            xb, yb = x[idx], y[idx]
            if channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            step += 1
            loss_sum += float(loss.detach()) * len(yb)
            correct += int((out.detach().argmax(1) == yb).sum())
        acc, loss_mean = correct / n, loss_sum / n
        if after_epoch is not None:
            after_epoch(acc, loss_mean, time.perf_counter() - t0, time.process_time() - c0)
    return acc, loss_mean


def train_cell(
    arch: str | int,
    recipe: Recipe = FASHION_MNIST_RECIPE,
    seed: int = 0,
    *,
    data_path: str | os.PathLike[str] | None = None,
    threads: int | None = 1,
) -> TrainResult:
    """Train cell ``arch`` (string or hwbench index) with ``recipe`` and ``seed``; evaluate it.

    The seed fixes the weight initialization and the order of the mini-batches; the data subset and
    the evaluation images are fixed by the recipe. Degenerate cells are trained like any other (they
    stay at chance accuracy) and flagged ``degenerate=True``.
    """
    import torch

    from hwbench.models.nb201 import build_model
    from hwbench.spaces.nb201 import SPACE, is_connected

    t_start, c_start = time.perf_counter(), time.process_time()
    if threads is not None:
        torch.set_num_threads(threads)
    ops = SPACE.parse(arch)
    data = prepared_data(None if data_path is None else str(data_path), recipe.transform)
    x_train, y_train = data["train"]
    x_train, y_train = x_train[: recipe.train_subset], y_train[: recipe.train_subset]
    x_valid, y_valid = data["valid"]
    x_test, y_test = data["test"]
    k = recipe.curve_eval_size

    torch.manual_seed(seed)
    model = build_model(ops, recipe.macro())
    # channels_last is 1.2-1.5x faster than NCHW for these small convolutions on one CPU thread
    model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    model.train()
    params = sum(p.numel() for p in model.parameters())
    if recipe.optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(
            model.parameters(), lr=recipe.lr, momentum=recipe.momentum, nesterov=recipe.nesterov,
            weight_decay=recipe.weight_decay,
        )
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    n = len(x_train)
    steps_per_epoch = math.ceil(n / recipe.batch_size)
    total_steps = steps_per_epoch * recipe.epochs
    gen = torch.Generator().manual_seed(seed)

    def lr_at(step: int) -> float:
        if step < recipe.warmup_steps:
            return recipe.lr * (step + 1) / recipe.warmup_steps
        if recipe.schedule == "constant":
            return recipe.lr
        t = (step - recipe.warmup_steps) / max(1, total_steps - recipe.warmup_steps)
        return 0.5 * recipe.lr * (1.0 + math.cos(math.pi * t))

    valid_curve, test_curve, loss_curve, epoch_times, epoch_cpu = [], [], [], [], []
    eval_time = 0.0

    def after_epoch(train_acc: float, train_loss: float, seconds: float, cpu_seconds: float) -> None:
        nonlocal eval_time
        epoch_times.append(seconds)
        epoch_cpu.append(cpu_seconds)
        loss_curve.append(train_loss)
        t1 = time.perf_counter()
        valid_curve.append(_evaluate(model, x_valid[:k], y_valid[:k])[0])
        test_curve.append(_evaluate(model, x_test[:k], y_test[:k])[0])
        eval_time += time.perf_counter() - t1

    train_acc, train_loss = run_epochs(model, opt, x_train, y_train, batch_size=recipe.batch_size,
                                       epochs=recipe.epochs, lr_at=lr_at, gen=gen, channels_last=True,
                                       after_epoch=after_epoch)
    t1 = time.perf_counter()
    valid_acc, valid_loss = _evaluate(model, x_valid, y_valid)
    test_acc, test_loss = _evaluate(model, x_test, y_test)
    eval_time += time.perf_counter() - t1
    return TrainResult(
        index=SPACE.index(ops),
        arch=SPACE.arch_str(ops),
        seed=int(seed),
        degenerate=not is_connected(ops),
        params=int(params),
        train_acc=train_acc,
        train_loss=train_loss,
        valid_acc=valid_acc,
        valid_loss=valid_loss,
        test_acc=test_acc,
        test_loss=test_loss,
        valid_acc_curve=valid_curve,
        test_acc_curve=test_curve,
        train_loss_curve=loss_curve,
        epoch_time_s=epoch_times,
        epoch_cpu_time_s=epoch_cpu,
        eval_time_s=eval_time,
        total_time_s=time.perf_counter() - t_start,
        cpu_time_s=time.process_time() - c_start,
        threads=int(torch.get_num_threads()),
    )


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties) of two equal-length vectors."""
    import pandas as pd

    ra = pd.Series(np.asarray(a, dtype=float)).rank().to_numpy()
    rb = pd.Series(np.asarray(b, dtype=float)).rank().to_numpy()
    return float(np.corrcoef(ra, rb)[0, 1])
