"""NAS-Bench-201's network (``TinyNetwork`` with ``InferCell``) for any cell and macro config.

Module structure, op order and parameter layout follow NAS-Bench-201's reference code
(xautodl ``models/cell_infers/tiny_network.py``, ``cells.py`` and ``cell_operations.py``), so
that parameter counts and the forward computation match the published network.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from hwbench.spaces.nb201 import EDGES, OPS, MacroConfig, get_config, parse


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=True, track_running_stats=True),
        )


class Zero(nn.Module):
    """NAS-Bench-201's ``none`` op: multiplies by zero (shape preserved)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


class Pooling(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.op = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


def make_op(name: str, c: int) -> nn.Module:
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(c, c, 1, 1, 0)
    if name == "nor_conv_3x3":
        return ReLUConvBN(c, c, 3, 1, 1)
    if name == "avg_pool_3x3":
        return Pooling()
    raise ValueError(f"unknown op {name!r}")


class InferCell(nn.Module):
    def __init__(self, ops: Sequence[int], c: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(make_op(OPS[o], c) for o in ops)
        self.node_in: list[list[tuple[int, int]]] = [[], [], []]  # per node: (edge index, source node)
        for k, (dst, src) in enumerate(EDGES):
            self.node_in[dst - 1].append((k, src))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for inputs in self.node_in:
            feat = None
            for k, src in inputs:
                y = self.layers[k](nodes[src])
                feat = y if feat is None else feat + y
            nodes.append(feat)  # type: ignore[arg-type]
        return nodes[-1]


class ResNetBasicBlock(nn.Module):
    """NAS-Bench-201's reduction block: two ReLU-Conv-BN (stride 2 first) + avgpool/1x1 shortcut."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, kernel_size=1, stride=1, padding=0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.conv_a(x)
        b = self.conv_b(b)
        return self.downsample(x) + b


class NB201Network(nn.Module):
    def __init__(self, arch: str | Sequence[int], config: str | MacroConfig = "cifar10") -> None:
        super().__init__()
        cfg = get_config(config)
        ops = parse(arch) if isinstance(arch, str) else tuple(arch)
        self.arch = ops
        self.config = cfg
        C, N = cfg.C, cfg.N
        self.stem = nn.Sequential(
            nn.Conv2d(cfg.in_channels, C, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(C)
        )
        channels = [C] * N + [C * 2] + [C * 2] * N + [C * 4] + [C * 4] * N
        reductions = [False] * N + [True] + [False] * N + [True] + [False] * N
        cells: list[nn.Module] = []
        c_prev = C
        for c, red in zip(channels, reductions):
            cells.append(ResNetBasicBlock(c_prev, c) if red else InferCell(ops, c))
            c_prev = c
        self.cells = nn.ModuleList(cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, cfg.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feature = self.stem(x)
        for cell in self.cells:
            feature = cell(feature)
        out = self.lastact(feature)
        out = self.global_pooling(out)
        out = out.view(out.size(0), -1)
        return self.classifier(out)


def build_model(arch: str | Sequence[int], config: str | MacroConfig = "cifar10") -> NB201Network:
    """The NAS-Bench-201 network of ``arch`` for ``config`` (train mode; call ``.eval()`` to export)."""
    return NB201Network(arch, config)
