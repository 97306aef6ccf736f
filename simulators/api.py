"""One entry point over every device model: ``simulate(graph, device, **opts) -> SimResult``.

>>> from simulators.api import simulate
>>> r = simulate(graph, "mcu-stm32f746")          # doctest: +SKIP
>>> r.latency_ms, r.peak_memory_bytes, r.fits     # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulators.devices import DeviceSpec, get_device
from simulators.ir import LayerGraph

#: metric names per family: SimResult attribute -> table column name (units in names)
METRIC_NAMES: dict[str, dict[str, str]] = {
    "mcu": {"latency_ms": "latency_ms", "energy_mj": "energy_mj", "peak_memory_bytes": "peak_sram_bytes",
            "storage_bytes": "flash_bytes"},
    "gpu": {"latency_ms": "latency_ms", "energy_mj": "energy_mj", "peak_memory_bytes": "peak_dram_bytes",
            "storage_bytes": "weight_bytes"},
    "fpga": {"latency_ms": "latency_ms", "energy_mj": "energy_mj", "peak_memory_bytes": "peak_dram_bytes",
             "storage_bytes": "weight_bytes"},
    "asic": {"latency_ms": "latency_ms", "energy_mj": "energy_mj", "peak_memory_bytes": "peak_dram_bytes",
             "storage_bytes": "weight_bytes"},
}


@dataclass
class SimResult:
    """The cost of one network on one device, with a per-layer (per-kernel) breakdown."""

    device: str
    family: str
    latency_ms: float
    energy_mj: float
    peak_memory_bytes: float
    storage_bytes: float
    resources: dict[str, float] = field(default_factory=dict)
    layers: np.ndarray = field(default_factory=lambda: np.zeros(0))
    fits: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def metrics(self) -> dict[str, float]:
        """Table-ready metrics (column name -> value), including resources."""
        out = {col: float(getattr(self, attr)) for attr, col in METRIC_NAMES[self.family].items()}
        out.update({k: float(v) for k, v in self.resources.items()})
        if self.fits is not None:
            out["fits"] = float(self.fits)
        return out

    def layer_records(self) -> list[dict[str, Any]]:
        names = self.layers.dtype.names or ()
        return [{n: (row[n].item() if hasattr(row[n], "item") else row[n]) for n in names} for row in self.layers]


def simulate(graph: LayerGraph, device: str | DeviceSpec, **opts: Any) -> SimResult:
    """Cost ``graph`` on ``device`` (a registered name or a :class:`DeviceSpec`); dispatch on its family.

    Options: MCU -- ``coefficients`` or single coefficient overrides, ``layer_bits`` (``None``: the
    calibrated int8 model whatever widths the IR carries; ``"graph"``: per-kernel ``Op.weight_bits`` and
    per-tensor ``TensorSpec.dtype_bits`` from the IR; a mapping kernel name (after fusion) ->
    ``(w_bits, a_bits)``, unlisted kernels int8; widths 1..8, 16, 32; see :func:`simulators.mcu.estimate`);
    GPU -- ``batch``, ``precision``; FPGA -- ``bits``; ASIC -- ``batch``.

    A network whose output does not depend on its input (e.g. a disconnected NB201 cell) is costed as
    its head on a constant feature map, never as nothing (:mod:`simulators.fusion`).
    """
    spec = get_device(device)
    if spec.family == "mcu":
        from simulators import mcu

        e = mcu.estimate(graph, spec, **opts)
        return SimResult(spec.name, "mcu", e.latency_ms, e.energy_mj, e.peak_sram_bytes, e.flash_bytes,
                         {"arena_bytes": e.arena_bytes, "cycles": e.cycles}, e.layers, e.fits,
                         {**e.details, "fits_sram": e.fits_sram, "fits_flash": e.fits_flash})
    if spec.family == "gpu":
        from simulators import gpu

        return gpu.simulate_gpu(graph, spec, **opts)
    if spec.family == "fpga":
        from simulators import fpga

        return fpga.simulate_fpga(graph, spec, **opts)
    if spec.family == "asic":
        from simulators import asic

        return asic.simulate_asic(graph, spec, **opts)
    raise ValueError(f"device {spec.name!r}: unsupported family {spec.family!r}")
