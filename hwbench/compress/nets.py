"""Torch side of compression: stage split, L1 channel pruning, fake quantization, training loop.

Needs torch (imported inside the functions; this module is imported only by code that uses torch).

* **Stages** of :class:`hwbench.models.nb201.NB201Network` with ``N`` cells per stage: stage 0 = stem +
  ``cells[0:N]``; stage 1 = ``cells[N:2N+1]`` (reduction first); stage 2 = ``cells[2N+1:]`` + lastact +
  classifier.
* **Pruning** (:func:`prune_network`): the channels of a stage's feature stream are tied by the
  residual sums of the cells (every edge reads and writes the stream), so one channel set is kept per
  stage: the ``round(m * c)`` channels with the largest summed L1 norm of the filters that write the
  stream (stem or reduction ``conv_b`` and shortcut conv, every cell conv), each layer's norms divided
  by their mean so that layers weigh alike (Li et al., "Pruning Filters for Efficient ConvNets", ICLR
  2017, with the tying of ResNet shortcuts). The internal ``conv_a`` output of a reduction block is
  pruned to the same width as the stage it opens, by its own filters' L1 norms. Kept channels stay in
  their original order; the pruned network is a plain ``NB201Network`` with smaller tensors.
* **Fake quantization** (:func:`quantize_network`): every ``Conv2d`` / ``Linear`` is wrapped by a
  :class:`QuantLayer` holding per-output-channel symmetric weights for each bit-width and a per-tensor
  scale for its input activations for each bit-width (unsigned when the calibration input is
  non-negative, e.g. after ReLU, else symmetric signed). Clipping ranges are chosen by minimum squared
  error over the clip fractions :data:`CLIP_FRACTIONS` of the max-abs value (per channel for weights,
  per tensor for activations on the calibration batch). 32 bits = float (no quantization).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hwbench.compress.space import pruned_channels

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

CLIP_FRACTIONS: tuple[float, ...] = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2)


# ----------------------------------------------------------------------------- stages
def stage_slices(n: int) -> tuple[slice, slice, slice]:
    """Which entries of ``model.cells`` belong to each stage (``n`` = cells per stage)."""
    return slice(0, n), slice(n, 2 * n + 1), slice(2 * n + 1, 3 * n + 2)


def stage_modules(model: Any) -> list[list[tuple[str, Any]]]:
    """Per stage, the (qualified name, module) of its sub-modules (see the module docstring)."""
    n = model.config.N
    s = stage_slices(n)
    out: list[list[tuple[str, Any]]] = [[("stem", model.stem)], [], []]
    for st, sl in enumerate(s):
        idx = range(len(model.cells))[sl]
        out[st] += [(f"cells.{i}", model.cells[i]) for i in idx]
    out[2] += [("lastact", model.lastact), ("classifier", model.classifier)]
    return out


def stage_forward(model: Any, stage: int, x: torch.Tensor) -> torch.Tensor:
    """Run one stage (0, 1, 2); stage 2 returns the logits."""
    n = model.config.N
    sl = stage_slices(n)[stage]
    if stage == 0:
        x = model.stem(x)
    for cell in list(model.cells)[sl]:
        x = cell(x)
    if stage == 2:
        x = model.lastact(x)
        x = model.global_pooling(x).flatten(1)
        x = model.classifier(x)
    return x


def weighted_layers(model: Any) -> list[list[tuple[str, Any]]]:
    """Per stage, the (name, module) of its Conv2d / Linear / QuantLayer layers in module order."""
    from torch import nn

    out = []
    for mods in stage_modules(model):
        layers = []
        for prefix, m in mods:
            if isinstance(m, (nn.Conv2d, nn.Linear, QuantLayer)):
                layers.append((prefix, m))
                continue
            for name, sub in m.named_modules():
                if isinstance(sub, QuantLayer) or (isinstance(sub, (nn.Conv2d, nn.Linear))
                                                   and not _inside_quant(m, name)):
                    layers.append((f"{prefix}.{name}", sub))
        out.append(layers)
    return out


def _inside_quant(root: Any, name: str) -> bool:
    parts = name.split(".")
    for k in range(1, len(parts)):
        if isinstance(root.get_submodule(".".join(parts[:k])), QuantLayer):
            return True
    return False


# ----------------------------------------------------------------------------- pruning
def _keep_top(score: torch.Tensor, n: int) -> torch.Tensor:
    import torch

    order = torch.argsort(-score, stable=True)[:n]
    return torch.sort(order).values


def _filter_l1(w: torch.Tensor) -> torch.Tensor:
    s = w.detach().abs().flatten(1).sum(1)
    return s / s.mean().clamp_min(1e-12)


def _new_conv(conv: nn.Conv2d, out_idx: torch.Tensor | None, in_idx: torch.Tensor | None) -> nn.Conv2d:
    from torch import nn

    w = conv.weight.detach()
    if out_idx is not None:
        w = w[out_idx]
    if in_idx is not None:
        w = w[:, in_idx]
    new = nn.Conv2d(w.shape[1], w.shape[0], conv.kernel_size, stride=conv.stride,  # type: ignore[arg-type]
                    padding=conv.padding, bias=conv.bias is not None)  # type: ignore[arg-type]
    new.weight.data.copy_(w)
    if conv.bias is not None:
        b = conv.bias.detach()
        new.bias.data.copy_(b if out_idx is None else b[out_idx])  # type: ignore[union-attr]
    return new


def _new_bn(bn: nn.BatchNorm2d, idx: torch.Tensor) -> nn.BatchNorm2d:
    from torch import nn

    new = nn.BatchNorm2d(len(idx), eps=bn.eps, momentum=bn.momentum, affine=bn.affine,
                         track_running_stats=bn.track_running_stats)
    with_params = [("weight", bn.weight), ("bias", bn.bias)] if bn.affine else []
    for name, p in with_params:
        getattr(new, name).data.copy_(p.detach()[idx])
    assert new.running_mean is not None and bn.running_mean is not None
    assert new.running_var is not None and bn.running_var is not None
    assert new.num_batches_tracked is not None and bn.num_batches_tracked is not None
    new.running_mean.copy_(bn.running_mean[idx])
    new.running_var.copy_(bn.running_var[idx])
    new.num_batches_tracked.copy_(bn.num_batches_tracked)
    return new


def _rcb_convs(cell: Any) -> list[Any]:
    """ReLUConvBN edge ops of an InferCell."""
    from hwbench.models.nb201 import ReLUConvBN

    return [op for op in cell.layers if isinstance(op, ReLUConvBN)]


def channel_counts(model: Any) -> tuple[int, int, int]:
    """Stream widths of the three stages."""
    return (int(model.stem[0].out_channels), int(model.cells[model.config.N].conv_b[1].out_channels),
            int(model.cells[2 * model.config.N + 1].conv_b[1].out_channels))


def prune_network(model: Any, widths: Sequence[float]) -> Any:
    """A pruned copy of an NB201 network (see the module docstring); the input model is untouched."""
    import torch

    from hwbench.models.nb201 import InferCell, ResNetBasicBlock

    net = copy.deepcopy(model)
    n = net.config.N
    sl = stage_slices(n)
    cells = list(net.cells)
    streams: list[torch.Tensor] = []
    for st in range(3):
        # producers of the stage's stream
        ws: list[torch.Tensor] = []
        if st == 0:
            ws.append(net.stem[0].weight)
        else:
            red = cells[sl[st].start]
            ws += [red.conv_b[1].weight, red.downsample[1].weight]
        for cell in cells[sl[st]]:
            if isinstance(cell, InferCell):
                ws += [op[1].weight for op in _rcb_convs(cell)]
        score = sum(_filter_l1(w) for w in ws)
        c = ws[0].shape[0]
        streams.append(_keep_top(score, pruned_channels(c, float(widths[st]))))  # type: ignore[arg-type]
    with torch.no_grad():
        keep0 = streams[0]
        net.stem[0] = _new_conv(net.stem[0], keep0, None)
        net.stem[1] = _new_bn(net.stem[1], keep0)
        prev = keep0
        for st in range(3):
            cur = streams[st]
            for i in range(len(cells))[sl[st]]:
                blk: Any = net.cells[i]
                if isinstance(blk, ResNetBasicBlock):
                    ca: Any = blk.conv_a
                    cb: Any = blk.conv_b
                    ds: Any = blk.downsample
                    c_out = int(ca[1].out_channels)
                    inner = _keep_top(_filter_l1(ca[1].weight), pruned_channels(c_out, float(widths[st])))
                    ca[1] = _new_conv(ca[1], inner, prev)
                    ca[2] = _new_bn(ca[2], inner)
                    cb[1] = _new_conv(cb[1], cur, inner)
                    cb[2] = _new_bn(cb[2], cur)
                    ds[1] = _new_conv(ds[1], cur, prev)
                else:
                    for op in _rcb_convs(blk):
                        op[1] = _new_conv(op[1], cur, cur)
                        op[2] = _new_bn(op[2], cur)
            prev = cur
        net.lastact[0] = _new_bn(net.lastact[0], prev)
        lin = net.classifier
        new = torch.nn.Linear(len(prev), lin.out_features, bias=lin.bias is not None)
        new.weight.data.copy_(lin.weight.detach()[:, prev])
        if lin.bias is not None:
            new.bias.data.copy_(lin.bias.detach())
        net.classifier = new
    return net.train(model.training)


def recalibrate_bn(model: Any, x: torch.Tensor, batch: int = 1024) -> Any:
    """Re-estimate every batch norm's running statistics on ``x`` (cumulative average, no gradients);
    pruning changes the inputs of the layers after it, so their stored statistics no longer fit."""
    import torch
    from torch import nn

    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    was = model.training
    model.train()
    with torch.no_grad():
        for i in range(0, len(x), batch):
            model(x[i:i + batch])
    for m, mom in zip(bns, saved):
        m.momentum = mom
    return model.train(was)


# ----------------------------------------------------------------------------- quantization
def quantize_weight(w: torch.Tensor, bits: int) -> torch.Tensor:
    """Per-output-channel symmetric fake quantization with an MSE-chosen clip per channel."""
    import torch

    if bits >= 32:
        return w
    qmax = 2 ** (bits - 1) - 1
    flat = w.detach().flatten(1)
    amax = flat.abs().max(1).values.clamp_min(1e-12)
    best_err = torch.full_like(amax, math.inf)
    best = flat.clone()
    for f in CLIP_FRACTIONS:
        s = (amax * f / qmax).unsqueeze(1)
        q = torch.clamp(torch.round(flat / s), -qmax, qmax) * s
        err = ((q - flat) ** 2).sum(1)
        better = err < best_err
        best_err = torch.where(better, err, best_err)
        best[better] = q[better]
    return best.reshape(w.shape)


def act_qparams(x: torch.Tensor, bits: int) -> tuple[float, bool]:
    """(scale, signed) of per-tensor activation quantization calibrated on ``x`` (MSE clip search)."""
    import torch

    signed = bool(x.min() < 0)
    amax = float(x.abs().max()) or 1e-12
    qmin, qmax = (-(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    best, best_err = amax / qmax, math.inf
    for f in CLIP_FRACTIONS:
        s = amax * f / qmax
        err = float(((torch.clamp(torch.round(x / s), qmin, qmax) * s - x) ** 2).sum())
        if err < best_err:
            best, best_err = s, err
    return best, signed


def fake_quant_act(x: torch.Tensor, bits: int, scale: float, signed: bool) -> torch.Tensor:
    import torch

    qmin, qmax = (-(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    return torch.clamp(torch.round(x / scale), qmin, qmax) * scale


def _quant_layer_base() -> type:
    from torch import nn

    return nn.Module


class QuantLayer(_quant_layer_base()):  # type: ignore[misc]
    """A Conv2d or Linear with switchable fake-quantized weights and input activations.

    ``w_bits`` / ``a_bits`` select the precision (32 = float). Quantized weights for each bit-width
    of :attr:`bits` are computed once; activation scales come from :meth:`calibrate`.
    """

    def __init__(self, layer: Any, bits: Sequence[int]) -> None:
        super().__init__()
        self.layer = layer
        self.bits = tuple(int(b) for b in bits)
        self.w_bits = 32
        self.a_bits = 32
        self.qweights = {b: quantize_weight(layer.weight.detach(), b) for b in self.bits if b < 32}
        self.act: dict[int, tuple[float, bool]] = {}
        self._calib: list[Any] | None = None

    def calibrate(self, x: torch.Tensor) -> None:
        self.act = {b: act_qparams(x, b) for b in self.bits if b < 32}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        if self._calib is not None:
            self._calib.append(x.detach())
        if self.a_bits < 32:
            scale, signed = self.act[self.a_bits]
            x = fake_quant_act(x, self.a_bits, scale, signed)
        w = self.layer.weight if self.w_bits >= 32 else self.qweights[self.w_bits]
        lyr = self.layer
        if hasattr(lyr, "kernel_size"):
            return F.conv2d(x, w, lyr.bias, lyr.stride, lyr.padding, lyr.dilation, lyr.groups)
        return F.linear(x, w, lyr.bias)


def quantize_network(model: Any, calib_x: torch.Tensor, bits: Sequence[int]) -> Any:
    """A copy of ``model`` (eval mode) with every Conv2d / Linear wrapped in a calibrated QuantLayer.

    Activation scales are calibrated on ``calib_x`` through the float network (all layers at 32 bits).
    """
    import torch
    from torch import nn

    net = copy.deepcopy(model).eval()
    targets = [(name, m) for name, m in net.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    wrappers = []
    for name, m in targets:
        parent_name, _, attr = name.rpartition(".")
        parent = net.get_submodule(parent_name) if parent_name else net
        q = QuantLayer(m, bits)
        if isinstance(parent, nn.Sequential) and attr.isdigit():
            parent[int(attr)] = q
        else:
            setattr(parent, attr, q)
        wrappers.append(q)
    for q in wrappers:
        q._calib = []
    with torch.inference_mode():
        net(calib_x)
    for q in wrappers:
        q.calibrate(torch.cat(q._calib or []))
        q._calib = None
    return net


def set_stage_bits(qnet: Any, stage: int, w_bits: int, a_bits: int) -> None:
    """Set the precision of every QuantLayer of one stage."""
    for _, m in weighted_layers(qnet)[stage]:
        if isinstance(m, QuantLayer):
            m.w_bits, m.a_bits = int(w_bits), int(a_bits)


def set_bits(qnet: Any, w_bits: Sequence[int], a_bits: Sequence[int]) -> None:
    for s in range(3):
        set_stage_bits(qnet, s, w_bits[s], a_bits[s])


# ----------------------------------------------------------------------------- training
def fit(model: Any, x: torch.Tensor, y: torch.Tensor, *, epochs: int, lr: float, weight_decay: float,
        batch_size: int, seed: int) -> dict[str, float]:
    """AdamW with a per-step cosine schedule (the project recipe's optimizer, through the training loop
    :func:`hwbench.train.trainer.run_epochs`); returns the last epoch's running train accuracy and loss.
    Deterministic for a seed and thread count."""
    import torch

    from hwbench.train.trainer import run_epochs

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    total = math.ceil(len(x) / batch_size) * epochs
    acc, loss = run_epochs(model, opt, x, y, batch_size=batch_size, epochs=epochs, gen=gen,
                           lr_at=lambda step: 0.5 * lr * (1.0 + math.cos(math.pi * step / total)))
    model.eval()
    return {"train_acc": acc, "train_loss": loss}


def accuracy(model: Any, x: torch.Tensor, y: torch.Tensor, batch: int = 2500) -> float:
    import torch

    model.eval()
    correct = 0
    with torch.inference_mode():
        for i in range(0, len(x), batch):
            correct += int((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum())
    return correct / len(x)
