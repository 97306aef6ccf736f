"""The built-in zero-cost proxies (torch), following NASLib's definitions.

Every scorer has the signature ``fn(net, inputs, targets, *, loss_fn, generator) -> float`` and is
called by :func:`hwbench.proxies.score` on a private deep copy of the user's model in train mode
(batch-norm on batch statistics, as NASLib runs them); a scorer may modify that copy freely.
Per-layer sums run over ``nn.Conv2d`` and ``nn.Linear`` weights in module order, as NASLib's
``get_layer_metric_array``. Where NASLib maps NaN/inf to ``-1e8`` we return NaN (the value is
undefined, e.g. for cells whose output does not depend on the input).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _layers(net: nn.Module) -> list[Any]:
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _loss_backward(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, loss_fn: Loss) -> None:
    net.zero_grad()
    loss = loss_fn(net(inputs), targets)
    loss.backward()  # type: ignore[no-untyped-call]


# ----------------------------------------------------------------------------- weight/gradient sums
def loss_gradient_group(
    net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, *, loss_fn: Loss, **_: Any
) -> dict[str, float]:
    """grad_norm, snip, plain and fisher from one forward/backward pass of the loss.

    Each equals the proxy computed alone (they read the same gradients; fisher's hooks only read).
    """
    layers = _layers(net)
    per_channel: dict[int, torch.Tensor] = {}
    handles = []

    def forward_hook(idx: int) -> Callable[..., None]:
        def hook(module: nn.Module, inp: Any, out: torch.Tensor) -> None:
            act = out.detach()

            def grad_hook(grad: torch.Tensor) -> None:
                g = grad.detach()
                g_nk = (act * g).sum(dim=tuple(range(2, act.dim()))) if act.dim() > 2 else act * g
                del_k = g_nk.pow(2).mean(0).mul(0.5)
                per_channel[idx] = per_channel[idx] + del_k if idx in per_channel else del_k

            if out.requires_grad:
                out.register_hook(grad_hook)  # type: ignore[no-untyped-call]

        return hook

    for i, m in enumerate(layers):
        handles.append(m.register_forward_hook(forward_hook(i)))
    try:
        _loss_backward(net, inputs, targets, loss_fn)
    finally:
        for h in handles:
            h.remove()
    gn = sn = pl = fi = 0.0
    with torch.no_grad():
        for i, m in enumerate(layers):
            g = m.weight.grad
            if g is not None:
                gn += float(g.norm())
                wg = g * m.weight
                sn += float(wg.abs().sum())  # NASLib: |dL/dmask| with mask = 1, i.e. |w * dL/dw|
                pl += float(wg.sum())
            if i in per_channel:
                # NASLib broadcasts each channel's value to all weights of that channel before summing
                fi += float(per_channel[i].abs().sum()) * math.prod(m.weight.shape[1:])
    return {"grad_norm": gn, "snip": sn, "plain": pl, "fisher": fi}


def grad_norm(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, *, loss_fn: Loss, **_: Any) -> float:
    return loss_gradient_group(net, inputs, targets, loss_fn=loss_fn)["grad_norm"]


def snip(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, *, loss_fn: Loss, **_: Any) -> float:
    return loss_gradient_group(net, inputs, targets, loss_fn=loss_fn)["snip"]


def plain(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, *, loss_fn: Loss, **_: Any) -> float:
    return loss_gradient_group(net, inputs, targets, loss_fn=loss_fn)["plain"]


def fisher(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, *, loss_fn: Loss, **_: Any) -> float:
    return loss_gradient_group(net, inputs, targets, loss_fn=loss_fn)["fisher"]


def l2_norm(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, **_: Any) -> float:
    with torch.no_grad():
        return math.fsum(float(m.weight.norm()) for m in _layers(net))


def grasp(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, *, loss_fn: Loss, **_: Any) -> float:
    layers = _layers(net)
    weights = [m.weight for m in layers]
    net.zero_grad()
    loss = loss_fn(net(inputs), targets)
    grad_w = torch.autograd.grad(loss, weights, allow_unused=True)
    loss = loss_fn(net(inputs), targets)
    grad_f = torch.autograd.grad(loss, weights, create_graph=True, allow_unused=True)
    z: torch.Tensor | float = 0.0
    for gw, gf in zip(grad_w, grad_f):
        if gw is not None and gf is not None:
            z = z + (gw.detach() * gf).sum()
    if not isinstance(z, torch.Tensor) or not z.requires_grad:
        return 0.0
    z.backward()  # type: ignore[no-untyped-call]
    # -theta * (H g), summed (NASLib's sign convention)
    return math.fsum(float((-m.weight.detach() * m.weight.grad).sum()) for m in layers if m.weight.grad is not None)


def synflow(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, **_: Any) -> float:
    """Run on a copy whose batch norms are identities (the caller's ``batchnorm=False``)."""
    net = net.double()
    with torch.no_grad():
        for p in net.state_dict().values():
            if p.is_floating_point():
                p.abs_()
    net.zero_grad()
    x = torch.ones((1, *inputs.shape[1:]), dtype=torch.float64)
    torch.sum(net(x)).backward()  # type: ignore[no-untyped-call]
    with torch.no_grad():
        return math.fsum(
            float((m.weight * m.weight.grad).abs().sum()) for m in _layers(net) if m.weight.grad is not None
        )


# ----------------------------------------------------------------------------- Jacobian / activation
def _input_jacobian(net: nn.Module, inputs: torch.Tensor) -> tuple[np.ndarray, int]:
    net.zero_grad()
    x = inputs.clone().requires_grad_(True)
    y = net(x)
    y.backward(torch.ones_like(y))
    assert x.grad is not None
    return x.grad.detach().reshape(x.shape[0], -1).double().numpy(), int(y.shape[-1])


def _jacob_cov_score(jac: np.ndarray) -> float:
    with np.errstate(all="ignore"):
        corrs = np.corrcoef(jac)
    if not np.isfinite(corrs).all():
        return math.nan  # a constant Jacobian row (output independent of the input)
    v = np.linalg.eigvalsh(corrs)
    k = 1e-5
    with np.errstate(all="ignore"):
        return float(-np.sum(np.log(v + k) + 1.0 / (v + k)))


def _epe_nas_score(jac: np.ndarray, labels: np.ndarray, n_classes: int) -> float:
    k = 1e-5
    per_class: dict[int, float] = {}
    with np.errstate(all="ignore"):
        for c in np.unique(labels):
            rows = jac[labels == c]
            corrs = np.corrcoef(rows) if len(rows) > 1 else np.ones((1, 1))
            s = float(np.sum(np.log(np.abs(corrs) + k)))
            if n_classes > 100:
                s /= len(np.atleast_2d(corrs))
            per_class[int(c)] = s
    vals = np.array(list(per_class.values()))
    if n_classes <= 100:
        score = float(np.sum(np.abs(vals)))
    else:
        score = float(np.abs(vals[:, None] - vals[None, :]).sum() / len(vals))
    return score if math.isfinite(score) else math.nan


def input_jacobian_group(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, **_: Any) -> dict[str, float]:
    """jacob_cov and epe_nas from one input-Jacobian computation."""
    jac, n_classes = _input_jacobian(net, inputs)
    return {"jacob_cov": _jacob_cov_score(jac), "epe_nas": _epe_nas_score(jac, targets.numpy(), n_classes)}


def jacob_cov(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, **_: Any) -> float:
    jac, _n_out = _input_jacobian(net, inputs)
    return _jacob_cov_score(jac)


def epe_nas(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, **_: Any) -> float:
    jac, n_classes = _input_jacobian(net, inputs)
    return _epe_nas_score(jac, targets.numpy(), n_classes)


def nwot(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, **_: Any) -> float:
    n = inputs.shape[0]
    K = torch.zeros((n, n), dtype=torch.float64)
    handles = []

    def hook(module: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal K
        x = (inp[0].detach().reshape(n, -1) > 0).double()
        K = K + x @ x.t() + (1.0 - x) @ (1.0 - x).t()

    for m in net.modules():
        if isinstance(m, nn.ReLU):
            handles.append(m.register_forward_hook(hook))
    try:
        with torch.no_grad():
            net(inputs.clone())
    finally:
        for h in handles:
            h.remove()
    _, logdet = np.linalg.slogdet(K.numpy())
    return float(logdet)


def _gaussian_init(net: nn.Module, generator: torch.Generator | None) -> None:
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.normal_(0.0, 1.0, generator=generator)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
                m.weight.fill_(1.0)
                m.bias.zero_()


def zen(
    net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, *, generator: torch.Generator | None = None, **_: Any
) -> float:
    """Features are taken at the input of the last ``nn.AdaptiveAvgPool2d`` (the network output if none)."""
    _gaussian_init(net, generator)
    pools = [m for m in net.modules() if isinstance(m, nn.AdaptiveAvgPool2d)]
    feats: list[torch.Tensor] = []
    handle = pools[-1].register_forward_hook(lambda m, i, o: feats.append(i[0])) if pools else None
    try:
        with torch.no_grad():
            x = torch.randn(inputs.shape, generator=generator)
            x2 = torch.randn(inputs.shape, generator=generator)
            out = net(x)
            out_mix = net(x + 1e-2 * x2)
    finally:
        if handle is not None:
            handle.remove()
    if feats:
        out, out_mix = feats[0], feats[1]
    diff = torch.abs(out - out_mix)
    score = diff.reshape(diff.shape[0], -1).sum(1).mean()
    log_bn = 0.0
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d) and m.running_var is not None:
            log_bn += float(torch.log(torch.sqrt(torch.mean(m.running_var))))
    with np.errstate(all="ignore"):
        val = float(np.log(float(score))) + log_bn
    return val if math.isfinite(val) else math.nan


# ----------------------------------------------------------------------------- size
def params(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, **_: Any) -> float:
    return float(sum(p.numel() for p in net.parameters()))


def flops(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, **_: Any) -> float:
    macs = 0
    handles: list[Any] = []

    def hook(m: nn.Module, inp: Any, out: torch.Tensor) -> None:
        nonlocal macs
        if isinstance(m, nn.Conv2d):
            per_out = (m.in_channels // m.groups) * math.prod(m.kernel_size)
        else:
            per_out = m.in_features  # type: ignore[assignment]
        macs += out.numel() * per_out

    for m in _layers(net):
        handles.append(m.register_forward_hook(hook))
    try:
        with torch.no_grad():
            net.eval()
            net(torch.zeros((1, *inputs.shape[1:]), dtype=inputs.dtype))
    finally:
        for h in handles:
            h.remove()
    return float(2 * macs)


def cross_entropy(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(outputs, targets)
