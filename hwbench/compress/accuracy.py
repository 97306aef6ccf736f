"""Accuracy of compression configurations (needs torch).

Protocol (stored with every result by :func:`protocol`):

1. **Pruning** (configurations with any width < 1): :func:`hwbench.compress.nets.prune_network`
   (tied per-stage L1 filter norms), batch-norm statistics re-estimated on the first
   :data:`BN_RECAL_SIZE` training images, then a fine-tune of :data:`FINETUNE` (AdamW, lr 1e-3 cosine,
   weight decay 1e-2, 2 epochs over the 50,000 training images, batch 128, seed = the item seed). Width 1.0 everywhere = the base network,
   no fine-tune.
2. **Post-training fake quantization** of the (pruned, fine-tuned) float network:
   :func:`hwbench.compress.nets.quantize_network`, calibrated on the first :data:`CALIB_SIZE` images of
   the training split (fixed, no randomness).
3. **Test accuracy** on the full official 10,000-image test set (12x12 crop24-pool2 input).

All 4,096 bit-width choices of one pruning choice are evaluated together by a depth-first walk over the
stages (stage 1's output on the test set is computed once per (w1, a1), stage 2's once per (w1, a1, w2,
a2)), which gives exactly the numbers of evaluating each configuration alone (a test holds them equal).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from hwbench.compress.space import CompressionConfig, CompressionSpace, get_space


@dataclass(frozen=True)
class FinetuneRecipe:
    epochs: int = 2
    train_subset: int = 50_000
    lr: float = 1e-3
    weight_decay: float = 1e-2
    batch_size: int = 128


FINETUNE = FinetuneRecipe()
CALIB_SIZE = 1024
BN_RECAL_SIZE = 4096


def protocol(space: CompressionSpace | str = "mpq-prune", finetune: FinetuneRecipe = FINETUNE) -> dict[str, Any]:
    from hwbench.compress.nets import CLIP_FRACTIONS

    sp = get_space(space)
    return {
        "what": "accuracy of compressed nb201 base networks on Fashion-MNIST (test set, 10,000 images)",
        "space": {"name": sp.name, "bits": list(sp.bits), "widths": list(sp.widths)},
        "pruning": "tied per-stage L1 filter norm (Li et al. 2017) + BN recalibration + fine-tune",
        "bn_recalibration": f"first {BN_RECAL_SIZE} training images",
        "finetune": asdict(finetune),
        "quantization": "PTQ fake quant: per-output-channel symmetric weights, per-tensor activations "
                        "(unsigned if non-negative) at every conv/linear input, MSE clip search",
        "clip_fractions": list(CLIP_FRACTIONS),
        "calibration": f"first {CALIB_SIZE} images of the training split",
        "threads": 1,
    }


def _data(data_path: str | None = None) -> dict[str, Any]:
    from hwbench.train.recipe import FASHION_MNIST_RECIPE
    from hwbench.train.trainer import prepared_data

    return prepared_data(data_path, FASHION_MNIST_RECIPE.transform)


def pruned_model(base_model: Any, widths: tuple[float, ...], seed: int = 0, finetune: FinetuneRecipe = FINETUNE,
                 data: dict[str, Any] | None = None) -> tuple[Any, dict[str, float]]:
    """The pruned and fine-tuned float network of one width choice (the base itself at full width)."""
    from hwbench.compress.nets import fit, prune_network, recalibrate_bn

    if all(w == 1.0 for w in widths):
        return base_model.eval(), {"finetune_train_acc": float("nan")}
    data = data or _data()
    net = prune_network(base_model, widths)
    x, y = data["train"]
    recalibrate_bn(net, x[:BN_RECAL_SIZE])
    n = finetune.train_subset
    tr = fit(net, x[:n], y[:n], epochs=finetune.epochs, lr=finetune.lr, weight_decay=finetune.weight_decay,
             batch_size=finetune.batch_size, seed=seed)
    return net.eval(), {"finetune_train_acc": tr["train_acc"]}


def evaluate_bits_block(float_model: Any, space: CompressionSpace | str = "mpq-prune",
                        data: dict[str, Any] | None = None, test_limit: int | None = None) -> np.ndarray:
    """Test accuracy of every bit-width choice of one (pruned) float network, in space index order
    within the width block: an array of ``len(bits) ** 6`` fractions."""
    import torch

    from hwbench.compress.nets import quantize_network, set_stage_bits, stage_forward

    sp = get_space(space)
    data = data or _data()
    xc = data["train"][0][:CALIB_SIZE]
    xt, yt = data["test"]
    if test_limit is not None:
        xt, yt = xt[:test_limit], yt[:test_limit]
    q = quantize_network(float_model, xc, sp.bits)
    nb = len(sp.bits)
    acc = np.full((nb,) * 6, np.nan)  # axes: w1 w2 w3 a1 a2 a3
    pairs = list(itertools.product(range(nb), range(nb)))
    with torch.inference_mode():
        for w1, a1 in pairs:
            set_stage_bits(q, 0, sp.bits[w1], sp.bits[a1])
            h1 = stage_forward(q, 0, xt)
            for w2, a2 in pairs:
                set_stage_bits(q, 1, sp.bits[w2], sp.bits[a2])
                h2 = stage_forward(q, 1, h1)
                for w3, a3 in pairs:
                    set_stage_bits(q, 2, sp.bits[w3], sp.bits[a3])
                    pred = stage_forward(q, 2, h2).argmax(1)
                    acc[w1, w2, w3, a1, a2, a3] = int((pred == yt).sum()) / len(yt)
    return acc.reshape(-1)


def evaluate_config(base_model: Any, config: str | int | CompressionConfig, space: CompressionSpace | str = "mpq-prune",
                    seed: int = 0, data: dict[str, Any] | None = None, test_limit: int | None = None,
                    finetune: FinetuneRecipe = FINETUNE) -> dict[str, Any]:
    """Accuracy of one configuration alone (prune + fine-tune, calibrate, quantize, test)."""
    import torch

    from hwbench.compress.nets import accuracy, quantize_network, set_bits

    sp = get_space(space)
    c = sp.parse(config)
    data = data or _data()
    t0, c0 = time.perf_counter(), time.process_time()
    net, info = pruned_model(base_model, c.widths, seed, finetune, data=data)
    xt, yt = data["test"]
    if test_limit is not None:
        xt, yt = xt[:test_limit], yt[:test_limit]
    float_acc = accuracy(net, xt, yt)
    q = quantize_network(net, data["train"][0][:CALIB_SIZE], sorted({*c.w_bits, *c.a_bits} - {32}) or [32])
    set_bits(q, c.w_bits, c.a_bits)
    with torch.inference_mode():
        test_acc = accuracy(q, xt, yt)
    return {"config": str(c), "index": sp.index(c), "test_acc": test_acc, "float_test_acc": float_acc,
            "params": int(sum(p.numel() for p in net.parameters())), "seed": seed, **info,
            "cpu_time_s": time.process_time() - c0, "wall_time_s": time.perf_counter() - t0}
