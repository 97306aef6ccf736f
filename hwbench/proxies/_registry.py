"""The proxy registry: named, stateless scorers, looked up lazily.

Built-in proxies are declared as data (:data:`BUILTIN`: name, ``"module:function"`` and what they
need); nothing is imported until a proxy is used. Third-party proxies come through the
``hwbench.proxies`` entry-point group (each entry point names a :class:`ProxyInfo` object) or are
added to a :class:`ProxyRegistry` instance with :meth:`ProxyRegistry.register`.
"""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from hwbench.errors import HwbenchError, UnknownNameError

ENTRY_POINT_GROUP = "hwbench.proxies"


class DuplicateProxyError(HwbenchError):
    """A proxy name that is already registered."""


@dataclass(frozen=True)
class ProxyInfo:
    """What a proxy is and what it needs.

    Attributes:
        name: registry name (``[a-z0-9_]+``, optionally ``.vN`` for versions).
        target: ``"module:function"`` of the scorer, called as
            ``fn(model, inputs, targets, *, loss_fn, generator) -> float`` on a private copy of the model.
        needs_data: whether the *values* of the input batch matter (otherwise only its shape is used).
        needs_labels: whether the targets of the batch are used.
        batchnorm: whether batch-norm layers are active (``False``: replaced by identity, as NASLib's
            ``bn=False``).
        description: one line.
        reference: the implementation whose definition is followed.
    """

    name: str
    target: str
    needs_data: bool
    needs_labels: bool
    batchnorm: bool = True
    description: str = ""
    reference: str = ""
    unit: str = "1"
    #: ``"module:function"`` computing this proxy together with others from one pass, returning
    #: ``{name: score}``; :func:`hwbench.proxies.score_many` uses it when several members are asked.
    group: str = ""

    def load(self) -> Callable[..., float]:
        return _load(self.target)  # type: ignore[no-any-return]

    def load_group(self) -> Callable[..., dict[str, float]]:
        return _load(self.group)  # type: ignore[no-any-return]


def _load(target: str) -> Any:
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)


_M = "hwbench.proxies._measures"
_GRAD = f"{_M}:loss_gradient_group"
_JAC = f"{_M}:input_jacobian_group"
_NASLIB = "NASLib naslib/predictors/utils/pruners/measures/{}.py (NAS-Bench-Suite-Zero)"

#: The built-in proxies (definitions follow NASLib's zero-cost measures; see docs/proxies.md).
BUILTIN: tuple[ProxyInfo, ...] = (
    ProxyInfo("synflow", f"{_M}:synflow", False, False, False,
              "sum |w * dR/dw| over conv/linear weights, R = sum of the output of the |w|-network "
              "(no batch norm, float64) on an all-ones input", _NASLIB.format("synflow")),
    ProxyInfo("snip", f"{_M}:snip", True, True, True,
              "sum |w * dL/dw| over conv/linear weights (cross-entropy loss on the batch)", _NASLIB.format("snip"),
              group=_GRAD),
    ProxyInfo("grasp", f"{_M}:grasp", True, True, True,
              "sum of -w * (H g) over conv/linear weights (Hessian-gradient product of the loss)",
              _NASLIB.format("grasp")),
    ProxyInfo("fisher", f"{_M}:fisher", True, True, True,
              "sum over conv/linear output channels of 0.5 * mean_n (sum_hw a * dL/da)^2, broadcast to the "
              "channel's weights", _NASLIB.format("fisher"), group=_GRAD),
    ProxyInfo("grad_norm", f"{_M}:grad_norm", True, True, True,
              "sum over conv/linear layers of ||dL/dw||_2", _NASLIB.format("grad_norm"), group=_GRAD),
    ProxyInfo("jacob_cov", f"{_M}:jacob_cov", True, False, True,
              "-sum(log(v + k) + 1/(v + k)), v = eigenvalues of the correlation matrix of per-sample input "
              "Jacobians, k = 1e-5 (NASWOT v1 = NASLib 'jacov')", _NASLIB.format("jacov"), group=_JAC),
    ProxyInfo("nwot", f"{_M}:nwot", True, False, True,
              "log|det K|, K = sum over ReLUs of the binary-code agreement kernel of the batch (NASWOT v2)",
              _NASLIB.format("nwot")),
    ProxyInfo("zen", f"{_M}:zen", False, False, True,
              "log E|f(x) - f(x + 0.01 e)|_1 of the pre-pooling features + sum log sqrt(mean BN running var), "
              "Gaussian weights, Gaussian inputs", _NASLIB.format("zen") + " / Zen-NAS"),
    ProxyInfo("epe_nas", f"{_M}:epe_nas", True, True, True,
              "sum over classes of |sum log(|corr| + k)| of the per-class input-Jacobian correlation matrix",
              _NASLIB.format("epe_nas"), group=_JAC),
    ProxyInfo("l2_norm", f"{_M}:l2_norm", False, False, True,
              "sum over conv/linear layers of ||w||_2 at initialization", _NASLIB.format("l2_norm")),
    ProxyInfo("plain", f"{_M}:plain", True, True, True,
              "sum of w * dL/dw over conv/linear weights", _NASLIB.format("plain"), group=_GRAD),
    ProxyInfo("params", f"{_M}:params", False, False, True,
              "learnable parameters (count)", "sum(p.numel() for p in model.parameters())", "count"),
    ProxyInfo("flops", f"{_M}:flops", False, False, True,
              "2 x multiply-accumulates of conv/linear layers at batch 1 (as hwbench.analytic 'flops')",
              "forward hooks on nn.Conv2d / nn.Linear", "count"),
)


@dataclass
class ProxyRegistry:
    """A name -> :class:`ProxyInfo` map that rejects duplicates; supports fnmatch listing."""

    _entries: dict[str, ProxyInfo] = field(default_factory=dict)

    def add(self, info: ProxyInfo) -> ProxyInfo:
        if info.name in self._entries:
            raise DuplicateProxyError(f"proxy {info.name!r} is already registered ({self._entries[info.name].target})")
        self._entries[info.name] = info
        return info

    def register(
        self, name: str, *, needs_data: bool, needs_labels: bool, batchnorm: bool = True, description: str = "",
        reference: str = "", unit: str = "1",
    ) -> Callable[[Callable[..., float]], Callable[..., float]]:
        """Decorator: register a module-level scorer function under ``name``."""

        def deco(fn: Callable[..., float]) -> Callable[..., float]:
            target = f"{fn.__module__}:{fn.__qualname__}"
            self.add(ProxyInfo(name, target, needs_data, needs_labels, batchnorm, description, reference, unit))
            return fn

        return deco

    def list(self, pattern: str | None = None) -> list[str]:
        names = sorted(self._entries)
        return [n for n in names if fnmatch.fnmatchcase(n, pattern)] if pattern else names

    def is_registered(self, name: str) -> bool:
        return name in self._entries

    def get(self, name: str) -> ProxyInfo:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError("proxy", name, self._entries) from None

    def __iter__(self) -> Iterator[ProxyInfo]:
        return iter(self._entries[n] for n in self.list())

    def __len__(self) -> int:
        return len(self._entries)


def _entry_point_infos() -> list[ProxyInfo]:
    from importlib.metadata import entry_points

    out = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        obj: Any = ep.load()
        if not isinstance(obj, ProxyInfo):
            raise HwbenchError(f"entry point {ep.name!r} of group {ENTRY_POINT_GROUP} is not a ProxyInfo: {obj!r}")
        out.append(obj)
    return out


def default_registry() -> ProxyRegistry:
    """A new registry holding the built-in proxies plus installed plug-ins (no shared state)."""
    reg = ProxyRegistry()
    for info in BUILTIN:
        reg.add(info)
    for info in _entry_point_infos():
        reg.add(info)
    return reg
