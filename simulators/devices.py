"""Named device specs: one TOML data file per device in ``simulators/devices/``.

Each file has ``name``, ``family`` (mcu / fpga / gpu / asic), ``description`` and a ``[figures]`` table
whose entries are ``{value, unit, source}``: every datasheet figure carries where it comes from.

>>> from simulators.devices import get_device, list_devices
>>> list_devices("mcu-*")[:1]
['mcu-nucleo-l4r5zi']
>>> get_device("mcu-stm32f746").clock_hz
216000000.0
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

FAMILIES = ("mcu", "fpga", "gpu", "asic")


class UnknownDeviceError(KeyError, ValueError):
    """A device name that is not registered (the message lists the valid names)."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class DeviceSpec:
    """A named device: figures (numbers or strings) with their unit and source."""

    name: str
    family: str
    description: str
    figures: dict[str, Any] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def __getattr__(self, key: str) -> Any:
        figures = object.__getattribute__(self, "figures")
        if key in figures:
            return figures[key]
        raise AttributeError(f"device {self.name!r} has no figure {key!r}; figures: {sorted(figures)}")

    def get(self, key: str, default: Any = None) -> Any:
        return self.figures.get(key, default)

    def replace(self, **figures: Any) -> DeviceSpec:
        """A copy with some figures overridden (e.g. a different clock), marked as user-set."""
        unknown = set(figures) - set(self.figures)
        if unknown:
            raise UnknownDeviceError(f"device {self.name!r} has no figure(s) {sorted(unknown)}; figures: {sorted(self.figures)}")
        fig = {**self.figures, **figures}
        src = {**self.sources, **{k: "user override" for k in figures}}
        return DeviceSpec(self.name, self.family, self.description, fig, dict(self.units), src)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "family": self.family, "description": self.description,
                "figures": {k: {"value": v, "unit": self.units.get(k, ""), "source": self.sources.get(k, "")}
                            for k, v in self.figures.items()}}


def _device_dir() -> Path:
    return Path(str(resources.files("simulators") / "devices"))


def load_spec(path: str | Path) -> DeviceSpec:
    """Read one device TOML file; every figure must have a value and a source."""
    p = Path(path)
    with p.open("rb") as fh:
        d = tomllib.load(fh)
    for key in ("name", "family", "figures"):
        if key not in d:
            raise ValueError(f"device file {p}: missing top-level key {key!r}")
    if d["family"] not in FAMILIES:
        raise ValueError(f"device file {p}: family {d['family']!r} is not one of {FAMILIES}")
    figures: dict[str, Any] = {}
    units: dict[str, str] = {}
    sources: dict[str, str] = {}
    for k, v in d["figures"].items():
        if not isinstance(v, dict) or "value" not in v or not v.get("source"):
            raise ValueError(f"device file {p}: figure {k!r} needs a value and a non-empty source")
        val = v["value"]
        figures[k] = float(val) if isinstance(val, (int, float)) and not isinstance(val, bool) else val
        units[k] = str(v.get("unit", ""))
        sources[k] = str(v["source"])
    return DeviceSpec(str(d["name"]), str(d["family"]), str(d.get("description", "")), figures, units, sources)


def _files() -> dict[str, Path]:
    return {p.stem: p for p in sorted(_device_dir().glob("*.toml"))}


def list_devices(pattern: str = "*", family: str | None = None) -> list[str]:
    """Sorted names of the registered devices matching an fnmatch ``pattern`` (and ``family``)."""
    names = [n for n in _files() if fnmatch.fnmatchcase(n, pattern)]
    if family is not None:
        names = [n for n in names if n.split("-", 1)[0] == family]
    return names


def is_device(name: str) -> bool:
    return name in _files()


def get_device(name: str | DeviceSpec) -> DeviceSpec:
    """The spec of a named device; raises :class:`UnknownDeviceError` listing the valid names."""
    if isinstance(name, DeviceSpec):
        return name
    files = _files()
    if name not in files:
        import difflib

        close = difflib.get_close_matches(str(name), list(files), n=3, cutoff=0.4)
        hint = f" (closest: {', '.join(close)})" if close else ""
        raise UnknownDeviceError(f"unknown device {name!r}{hint}; valid devices: {', '.join(files)}")
    spec = load_spec(files[name])
    if spec.name != name:
        raise ValueError(f"device file {files[name]} declares name {spec.name!r}, expected {name!r}")
    return spec
