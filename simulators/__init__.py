"""Analytic device models over the layer-graph IR (numpy only)."""

from simulators.api import SimResult, simulate
from simulators.devices import DeviceSpec, get_device, list_devices
from simulators.ir import OP_KINDS, LayerGraph, Op, TensorSpec

__all__ = ["OP_KINDS", "DeviceSpec", "LayerGraph", "Op", "SimResult", "TensorSpec", "get_device", "list_devices",
           "simulate"]
