"""Zero-cost proxies: named, stateless scorers of an untrained network.

>>> from hwbench.proxies import list_proxies, score          # doctest: +SKIP
>>> list_proxies("grad*")                                    # doctest: +SKIP
['grad_norm']
>>> score("synflow", model, (inputs, targets))               # doctest: +SKIP

``score(name, model, batch)`` runs the proxy on a deep copy of ``model`` (so the model is never
changed), in train mode, with torch's default generator untouched when ``seed`` is given. See
docs/proxies.md for each definition, which proxies need real data or labels, and the agreement
with NASLib's and NASWOT's published scores.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from hwbench.proxies._registry import (
    BUILTIN,
    ENTRY_POINT_GROUP,
    DuplicateProxyError,
    ProxyInfo,
    ProxyRegistry,
    default_registry,
)

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "BUILTIN",
    "ENTRY_POINT_GROUP",
    "DuplicateProxyError",
    "ProxyInfo",
    "ProxyRegistry",
    "default_registry",
    "get_proxy",
    "is_proxy",
    "list_proxies",
    "score",
    "score_many",
]


def list_proxies(pattern: str | None = None) -> list[str]:
    """Names of the registered proxies, optionally filtered by an fnmatch ``pattern``."""
    return default_registry().list(pattern)


def is_proxy(name: str) -> bool:
    return default_registry().is_registered(name)


def get_proxy(name: str) -> ProxyInfo:
    """The :class:`ProxyInfo` of ``name``; raises :class:`~hwbench.errors.UnknownNameError`."""
    return default_registry().get(name)


def _prepared_copy(model: torch.nn.Module, batchnorm: bool) -> torch.nn.Module:
    import copy

    from torch import nn

    net = copy.deepcopy(model)
    if not batchnorm:
        for parent in list(net.modules()):
            for cname, child in list(parent.named_children()):
                if isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
                    setattr(parent, cname, nn.Identity())
    for p in net.parameters():
        p.requires_grad_(True)
        p.grad = None
    return net.train()


def score(
    name: str | ProxyInfo,
    model: torch.nn.Module,
    batch: tuple[torch.Tensor, torch.Tensor],
    *,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    seed: int | None = 0,
    registry: ProxyRegistry | None = None,
) -> float:
    """Score ``model`` with proxy ``name`` on ``batch = (inputs, targets)``.

    Args:
        name: a registered proxy name (see :func:`list_proxies`) or a :class:`ProxyInfo`.
        model: any ``torch.nn.Module`` taking ``inputs`` and returning logits; it is deep-copied and
            left unchanged.
        batch: float inputs ``(N, C, H, W)`` and int64 class targets ``(N,)``. Data-free proxies use
            only the shape (see :attr:`ProxyInfo.needs_data`).
        loss_fn: loss for gradient proxies (default: cross-entropy, as NASLib).
        seed: seed of a private generator for proxies that draw random numbers (``zen``); with
            ``None`` a fresh nondeterministic seed is used.

    Returns:
        the score (NaN where the proxy is undefined for this network, e.g. an input-independent output).
    """
    import torch

    from hwbench.proxies._measures import cross_entropy

    info = name if isinstance(name, ProxyInfo) else (registry or default_registry()).get(name)
    fn = info.load()
    inputs, targets = batch
    gen = torch.Generator()
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(int(seed))
    net = _prepared_copy(model, info.batchnorm)
    with torch.enable_grad():
        return float(fn(net, inputs, targets, loss_fn=loss_fn or cross_entropy, generator=gen))


def score_many(
    names: Sequence[str],
    model: torch.nn.Module,
    batch: tuple[torch.Tensor, torch.Tensor],
    *,
    seed: int | None = 0,
    registry: ProxyRegistry | None = None,
    **kwargs: Any,
) -> dict[str, tuple[float, float]]:
    """``{name: (score, seconds)}`` for several proxies on one model and batch.

    Proxies of one :attr:`ProxyInfo.group` (the loss-gradient family grad_norm/snip/plain/fisher,
    the input-Jacobian family jacob_cov/epe_nas) share one pass; each reports that pass's time.
    """
    import torch

    from hwbench.proxies._measures import cross_entropy

    reg = registry or default_registry()
    infos = [reg.get(n) for n in names]
    out: dict[str, tuple[float, float]] = {}
    groups: dict[str, list[ProxyInfo]] = {}
    for info in infos:
        if info.group:
            groups.setdefault(info.group, []).append(info)
    for info in infos:
        if info.name in out:
            continue
        members = groups.get(info.group, []) if info.group else []
        t0 = time.perf_counter()
        if len(members) > 1 and len({m.batchnorm for m in members}) == 1:
            gen = torch.Generator().manual_seed(0 if seed is None else int(seed))
            net = _prepared_copy(model, info.batchnorm)
            inputs, targets = batch
            with torch.enable_grad():
                res = info.load_group()(net, inputs, targets, loss_fn=kwargs.get("loss_fn") or cross_entropy,
                                        generator=gen)
            dt = time.perf_counter() - t0
            for m in members:  # each member's time is the shared pass's (what it costs alone)
                out[m.name] = (float(res[m.name]), dt)
            continue
        s = score(info, model, batch, seed=seed, registry=reg, **kwargs)
        out[info.name] = (s, time.perf_counter() - t0)
    return {n: out[n] for n in names}
