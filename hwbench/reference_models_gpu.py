"""Reference networks for validating the GPU and ASIC models against published measurements.

* TF-slim ImageNet classifiers timed on Jetson TX2 by NVIDIA-AI-IOT/tf_trt_models (see
  :mod:`simulators.published`): ResNet-v1-50/101/152 (224x224, bottleneck units with the stride on the
  3x3 conv of the *last* unit of blocks 1-3, as ``slim.nets.resnet_v1``) and MobileNet-v1 at a depth
  multiplier and resolution (1001 classes, as the slim checkpoints).
* The convolutional layers that Eyeriss (Chen et al., JSSC 2017) reports per layer: AlexNet CONV1-5
  (227x227 input, the two-group CONV2/4/5 of the original network, ReLU and 3x3/s2 max pooling; LRN
  omitted, it is not a convolution) and VGG-16 CONV1-1 ... CONV5-3 (224x224), each at a batch size.

Built with :class:`hwbench.reference_models.GraphBuilder` (layer graph directly) or
:class:`~hwbench.reference_models.TorchBuilder` (``(torch module, example input)``; the validation exports
it with ``hwbench.builders.graph_from_module``). No torchvision needed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hwbench.reference_models import GraphBuilder, mobilenet_v1_vww
from simulators.ir import LayerGraph

_RESNET_V1_UNITS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


def resnet_v1(depth: int = 50, resolution: int = 224, classes: int = 1000, batch: int = 1,
              builder: type[GraphBuilder] | None = None) -> Any:
    """TF-slim ``resnet_v1_{50,101,152}``: 7x7/2 stem, 3x3/2 max pool, bottleneck blocks (base depth 64,
    128, 256, 512; output 4x), stride 2 on the last unit of blocks 1-3, global average pool, logits."""
    if depth not in _RESNET_V1_UNITS:
        raise ValueError(f"depth must be one of {sorted(_RESNET_V1_UNITS)}, got {depth}")
    b = (builder or GraphBuilder)(f"resnet_v1_{depth}-r{resolution}", (batch, 3, resolution, resolution))
    x = b.cbr("input", 64, 7, 2)
    x = b.pool(x, 3, 2, kind="maxpool2d", p=1)
    for i, (base, units) in enumerate(zip((64, 128, 256, 512), _RESNET_V1_UNITS[depth])):
        for u in range(units):
            stride = 2 if (u == units - 1 and i < 3) else 1
            c_out = 4 * base
            if b.shape(x)[1] == c_out:
                sc = x if stride == 1 else b.pool(x, 1, stride, kind="maxpool2d")
            else:
                sc = b.bn(b.conv(x, c_out, 1, stride))
            y = b.cbr(x, base, 1)
            y = b.cbr(y, base, 3, stride)
            y = b.bn(b.conv(y, c_out, 1))
            x = b.act(b.add(sc, y))
    return b.finish(b.linear(b.flatten(b.gap(x)), classes))


def mobilenet_v1(alpha: float = 1.0, resolution: int = 224, classes: int = 1001, batch: int = 1,
                 builder: type[GraphBuilder] | None = None) -> Any:
    """TF-slim ``mobilenet_v1`` at depth multiplier ``alpha`` (channels ``int(c * alpha)``, >= 8 here)."""
    return mobilenet_v1_vww(batch=batch, alpha=alpha, resolution=resolution, classes=classes, builder=builder)


#: AlexNet as run on Eyeriss (JSSC 2017 Table III shapes): (name, C_out, k, stride, pad, groups, pool after)
ALEXNET_CONVS = (("CONV1", 96, 11, 4, 0, 1, True), ("CONV2", 256, 5, 1, 2, 2, True),
                 ("CONV3", 384, 3, 1, 1, 1, False), ("CONV4", 384, 3, 1, 1, 2, False),
                 ("CONV5", 256, 3, 1, 1, 2, True))
#: VGG-16 convolutional layers: (name, C_out, max pool after)
VGG16_CONVS = (("CONV1-1", 64, False), ("CONV1-2", 64, True), ("CONV2-1", 128, False), ("CONV2-2", 128, True),
               ("CONV3-1", 256, False), ("CONV3-2", 256, False), ("CONV3-3", 256, True),
               ("CONV4-1", 512, False), ("CONV4-2", 512, False), ("CONV4-3", 512, True),
               ("CONV5-1", 512, False), ("CONV5-2", 512, False), ("CONV5-3", 512, True))


def alexnet_convs(batch: int = 4, builder: type[GraphBuilder] | None = None) -> Any:
    """AlexNet CONV1-5 with ReLU and 3x3/s2 max pooling (227x227x3 input); conv kernels in layer order."""
    b = (builder or GraphBuilder)("alexnet-conv", (batch, 3, 227, 227))
    x = "input"
    for _, c, k, s, p, g, pool in ALEXNET_CONVS:
        x = b.act(b.conv(x, c, k, s, p=p, groups=g, bias=True))
        if pool:
            x = b.pool(x, 3, 2, kind="maxpool2d")
    return b.finish(x)


def vgg16_convs(batch: int = 3, builder: type[GraphBuilder] | None = None) -> Any:
    """VGG-16 CONV1-1 ... CONV5-3 (3x3/s1/p1 + ReLU, 2x2/s2 max pooling), 224x224x3 input."""
    b = (builder or GraphBuilder)("vgg16-conv", (batch, 3, 224, 224))
    x = "input"
    for _, c, pool in VGG16_CONVS:
        x = b.act(b.conv(x, c, 3, 1, p=1, bias=True))
        if pool:
            x = b.pool(x, 2, 2, kind="maxpool2d")
    return b.finish(x)


#: name -> builder(batch=..., builder=...) of every network used by the GPU / ASIC validation
NETWORKS: dict[str, Callable[..., Any]] = {
    "resnet_v1_50": lambda batch=1, builder=None: resnet_v1(50, batch=batch, builder=builder),
    "resnet_v1_101": lambda batch=1, builder=None: resnet_v1(101, batch=batch, builder=builder),
    "resnet_v1_152": lambda batch=1, builder=None: resnet_v1(152, batch=batch, builder=builder),
    "mobilenet_v1_0p25_128": lambda batch=1, builder=None: mobilenet_v1(0.25, 128, batch=batch, builder=builder),
    "mobilenet_v1_0p5_160": lambda batch=1, builder=None: mobilenet_v1(0.5, 160, batch=batch, builder=builder),
    "mobilenet_v1_1p0_224": lambda batch=1, builder=None: mobilenet_v1(1.0, 224, batch=batch, builder=builder),
    "alexnet_conv": lambda batch=4, builder=None: alexnet_convs(batch=batch, builder=builder),
    "vgg16_conv": lambda batch=3, builder=None: vgg16_convs(batch=batch, builder=builder),
}


def network_graph(name: str, batch: int = 1, via: str = "torch") -> LayerGraph:
    """Layer graph of a validation network at ``batch``: through torch (``graph_from_module`` of the
    torch module, the default) or built directly (``via="ir"``)."""
    if name not in NETWORKS:
        from hwbench.errors import UnknownNameError

        raise UnknownNameError("validation network", name, NETWORKS)
    if via == "ir":
        return NETWORKS[name](batch=batch)  # type: ignore[no-any-return]
    if via == "torch":
        from hwbench.builders import graph_from_module
        from hwbench.reference_models import TorchBuilder

        module, x = NETWORKS[name](batch=batch, builder=TorchBuilder)
        return graph_from_module(module, x, name=name)  # type: ignore[no-any-return]
    raise ValueError(f"via must be 'ir' or 'torch', got {via!r}")
