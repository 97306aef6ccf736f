"""Compression search tasks: the compression spaces as search spaces of the runner, their tasks, and
the columns those tasks read (accuracy from the compression campaign, costs from :func:`cost_block`).

**Search spaces** (:class:`CompressionSearchSpace`, looked up by :func:`hwbench.spaces.get_space`):

* ``compress:<space>:<base>`` (e.g. ``compress:mpq-prune:best``): the configurations of one base
  network; row index = the compression space's index, proposal = the canonical config string
  (``m100.50.75-w8.4.8-a8.8.32``), its index, or its nine digits;
* ``compress:<space>:joint``: joint NAS + compression over the four *measured* base cells
  (:data:`hwbench.compress.bases.ROLES`): proposal ``<role>:<config>`` (``best:m100.50.75-w8.4.8-a8.8.32``),
  row index = ``role_position * space.size + config_index``, digits = (cell, the nine config digits).

Digits are ordered like the compression space (widths, weight bits, activation bits ascending), so
"one step down" on a digit is one step more compression; the joint space's cell digit is categorical.

**Columns** (:func:`compression_source`), names ``compress/<space>/<base>/...``:

* ``test_accuracy_pct``: 100 x the campaign's test accuracy (``hwbench compress campaign``, merged
  shards of ``compress-<space>-fashion-mnist``). Never invented: a missing campaign or a missing block
  raises :class:`AccuracyTableMissingError` naming the command that builds it. The campaign measures
  test accuracy only, so the tasks search and score on the same column (as the NB201 tasks do on a
  table without a validation column).
* ``model_size_bytes`` (weights packed at their bit-widths + 4-byte biases; the "weight bytes"),
  ``params``, ``macs`` and ``mcu-stm32f746/{latency_ms, peak_sram_bytes, flash_bytes, energy_mj,
  arena_bytes}``: analytic (:func:`hwbench.compress.campaign.cost_block`), cached as ``.npz`` files
  (no pickle) under ``datasets/compress/costs/`` keyed by a hash of the cost model's source;
  ``fpga-zc706/{latency_ms, energy_mj, weight_bytes, dsp_used, dsp_active_peak, bram36_used,
  dram_traffic_bytes}`` (per-layer bit-widths, :mod:`simulators.fpga`) are added for tasks that read
  them (computed and cached per device on first use).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwbench.compress.bases import ROLES
from hwbench.compress.space import SPACES, CompressionConfig, CompressionSpace, InvalidCompressionConfigError
from hwbench.errors import InvalidArchitectureError
from hwbench.search._errors import TaskNotRunnableError

PREFIX = "compress"
JOINT = "joint"
DEVICE = "mcu-stm32f746"
KIB = 1024
#: short names used in task names
SHORT: dict[str, str] = {"mpq-prune": "mpq", "mpq-prune-small": "mpqs", "test-tiny": "tiny"}
#: budgets (evaluations); 300 as for the NB201 tasks, smaller for the 512-row smoke space
BUDGETS: dict[str, int] = {"mpq-prune": 300, "mpq-prune-small": 300, "test-tiny": 40}
#: cost metrics kept as columns: the model metrics and the device metrics (prefixed by the device)
MODEL_METRICS: tuple[str, ...] = ("params", "macs", "model_size_bytes")
DEVICE_METRICS: tuple[str, ...] = ("latency_ms", "energy_mj", "peak_sram_bytes", "arena_bytes", "flash_bytes")
#: the FPGA target of the compression tasks and its metrics (bit-width-aware ``simulators.fpga``)
FPGA_DEVICE = "fpga-zc706"
FPGA_METRICS: tuple[str, ...] = ("latency_ms", "energy_mj", "weight_bytes", "dsp_used", "dsp_active_peak",
                                 "bram36_used", "dram_traffic_bytes")
DEFAULT_STORE = Path("datasets") / "shards"
DEFAULT_COST_CACHE = Path("datasets") / "compress" / "costs"


class InvalidCompressionProposalError(InvalidArchitectureError):
    """A proposal that is not a configuration of a compression search space."""


class AccuracyTableMissingError(TaskNotRunnableError):
    """The compression campaign results a task needs are absent or incomplete."""


# ----------------------------------------------------------------------------- space names
def space_name(space: str, base: str) -> str:
    """``compress:<space>:<base>`` (``base`` a role of :data:`ROLES` or ``joint``)."""
    return f"{PREFIX}:{space}:{base}"


def is_compression_space(name: str) -> bool:
    return isinstance(name, str) and name.startswith(PREFIX + ":")


def parse_space_name(name: str) -> tuple[str, str]:
    """``compress:<space>:<base>`` -> (space, base); raises :class:`hwbench.errors.UnknownNameError`."""
    from hwbench.errors import UnknownNameError

    parts = name.split(":")
    valid = [space_name(s, b) for s in SPACES for b in (*ROLES, JOINT)]
    if len(parts) != 3 or parts[0] != PREFIX or parts[1] not in SPACES or parts[2] not in (*ROLES, JOINT):
        raise UnknownNameError("compression search space", name, valid)
    return parts[1], parts[2]


# ----------------------------------------------------------------------------- the search space
@dataclass(frozen=True)
class CompressionSearchSpace:
    """A compression space (one base, or the four bases jointly) with the search operators the
    runner and the algorithms use: ``size``, ``parse`` (digits), ``index``, ``arch_str``, ``sample``,
    ``mutate``, ``neighbours``, ``encode``, plus ``radices`` / ``ordinal`` for digit-wise algorithms."""

    name: str
    space: CompressionSpace
    bases: tuple[str, ...]
    joint: bool = False
    radices: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        r = self.space.radices
        object.__setattr__(self, "radices", ((len(self.bases),) + r) if self.joint else r)

    @property
    def size(self) -> int:
        return int(np.prod(self.radices))

    def __len__(self) -> int:
        return self.size

    @property
    def ordinal(self) -> tuple[bool, ...]:
        """Per digit: True if a larger digit means less compression (widths, bits); the cell digit
        of the joint space is categorical (False)."""
        return ((False,) if self.joint else ()) + (True,) * len(self.space.radices)

    @property
    def digit_names(self) -> tuple[str, ...]:
        names = tuple(f"{k}{s}" for k in ("m", "w", "a") for s in (1, 2, 3))
        return (("cell",) if self.joint else ()) + names

    # -- identity ---------------------------------------------------------------------------
    def _fail(self, what: object, why: str) -> InvalidCompressionProposalError:
        form = "'<role>:<config>' with role in " + ", ".join(self.bases) + ", " if self.joint else ""
        return InvalidCompressionProposalError(
            f"proposal {what!r} is not a configuration of {self.name}: {why}. Expected {form}a config "
            f"string like 'm100.50.75-w8.4.8-a8.8.32' (widths {[round(w * 100) for w in self.space.widths]} %, "
            f"bits {list(self.space.bits)}), an index in 0..{self.size - 1} or {len(self.radices)} digits "
            f"with radices {self.radices}"
        )

    def parse(self, arch: Any) -> tuple[int, ...]:
        """Accept a string, an index or a sequence of digits; return the digits."""
        if isinstance(arch, (int, np.integer)) and not isinstance(arch, bool):
            i = int(arch)
            if not 0 <= i < self.size:
                raise self._fail(arch, "index out of range")
            ds = []
            for r in reversed(self.radices):
                ds.append(i % r)
                i //= r
            return tuple(ds[::-1])
        if isinstance(arch, str):
            text = arch.strip()
            prefix: tuple[int, ...] = ()
            if self.joint:
                role, sep, text = text.partition(":")
                if not sep or role not in self.bases:
                    raise self._fail(arch, f"the cell part must be one of {', '.join(self.bases)}")
                prefix = (self.bases.index(role),)
            try:
                return prefix + self.space.digits(text)
            except InvalidCompressionConfigError as exc:
                raise self._fail(arch, str(exc).split(":", 1)[-1].split(". Expected")[0].strip()) from None
        if isinstance(arch, (tuple, list, np.ndarray)):
            if not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in arch) \
                    or len(arch) != len(self.radices):
                raise self._fail(arch, f"expected {len(self.radices)} integer digits")
            digits = tuple(int(x) for x in arch)
            for k, (d, r) in enumerate(zip(digits, self.radices)):
                if not 0 <= d < r:
                    raise self._fail(arch, f"digit {k} ({self.digit_names[k]}) = {d} not in 0..{r - 1}")
            return digits
        raise self._fail(arch, f"unsupported type {type(arch).__name__}")

    def _index_of_digits(self, d: Sequence[int]) -> int:
        idx = 0
        for v, r in zip(d, self.radices):
            idx = idx * r + int(v)
        return idx

    def index(self, arch: Any) -> int:
        return self._index_of_digits(self.parse(arch))

    def config(self, arch: Any) -> tuple[str, CompressionConfig]:
        """(base role, compression config) of a proposal."""
        d = self.parse(arch)
        i = self._index_of_digits(d)
        if self.joint:
            return self.bases[d[0]], self.space.from_index(i % self.space.size)
        return self.bases[0], self.space.from_index(i)

    def arch_str(self, arch: Any) -> str:
        role, c = self.config(arch)
        return f"{role}:{c}" if self.joint else str(c)

    def enumerate(self) -> Iterator[str]:
        for i in range(self.size):
            yield self.arch_str(i)

    @property
    def all_strings(self) -> list[str]:
        """Every proposal string in index order: the rows of a table of this space (``TableWriter``)."""
        return list(self.enumerate())

    # -- search operators -------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, n: int | None = None) -> str | list[str]:
        if n is None:
            return self.arch_str(int(rng.integers(self.size)))
        return [self.arch_str(int(i)) for i in rng.integers(0, self.size, n)]

    def neighbours(self, arch: Any) -> list[str]:
        """All configurations differing in exactly one digit, in digit then value order."""
        d = self.parse(arch)
        out = []
        for k, r in enumerate(self.radices):
            for v in range(r):
                if v != d[k]:
                    e = list(d)
                    e[k] = v
                    out.append(self.arch_str(e))
        return out

    def mutate(self, arch: Any, rng: np.random.Generator) -> str:
        """Change one uniformly chosen digit to a different, uniformly chosen value."""
        d = list(self.parse(arch))
        k = int(rng.integers(len(d)))
        o = int(rng.integers(self.radices[k] - 1))
        d[k] = o if o < d[k] else o + 1
        return self.arch_str(d)

    def encode(self, archs: Sequence[Any] | Any, kind: str = "features") -> np.ndarray:
        """``features``: (n, 9) widths, log2 weight bits, log2 activation bits (+ a one-hot of the
        cell for the joint space); ``onehot``: one block per digit; ``digits``: (n, D) ints."""
        single = isinstance(archs, (str, int, np.integer))
        items = [archs] if single else list(archs)
        ds = np.array([self.parse(a) for a in items], dtype=np.int64).reshape(-1, len(self.radices))
        if kind == "digits":
            out = ds
        elif kind == "onehot":
            offs = np.concatenate([[0], np.cumsum(self.radices)[:-1]])
            out = np.zeros((len(ds), int(sum(self.radices))), dtype=np.float32)
            out[np.repeat(np.arange(len(ds)), ds.shape[1]), (ds + offs).ravel()] = 1.0
        elif kind == "features":
            cfg = ds[:, 1:] if self.joint else ds
            sp = self.space
            feats = np.concatenate([np.asarray(sp.widths)[cfg[:, 0:3]], np.log2(np.asarray(sp.bits))[cfg[:, 3:6]],
                                    np.log2(np.asarray(sp.bits))[cfg[:, 6:9]]], axis=1)
            if self.joint:
                feats = np.concatenate([np.eye(len(self.bases))[ds[:, 0]], feats], axis=1)
            out = feats.astype(np.float32)
        else:
            raise InvalidCompressionProposalError(f"unknown encoding {kind!r}; expected features, onehot or digits")
        return out[0] if single else out


def get_search_space(name: str) -> CompressionSearchSpace:
    """The search space ``compress:<space>:<base>`` (or ``...:joint``)."""
    space, base = parse_space_name(name)
    joint = base == JOINT
    return CompressionSearchSpace(name, SPACES[space], tuple(ROLES) if joint else (base,), joint)


# ----------------------------------------------------------------------------- columns
def column(space: str, base: str, metric: str, device: str | None = None) -> str:
    """Column name ``compress/<space>/<base>/[<device>/]<metric>``."""
    return "/".join([PREFIX, space, base, *([device] if device else []), metric])


def campaign_command(space: str, bases: Sequence[str] = (), store_dir: str | os.PathLike[str] = DEFAULT_STORE) -> str:
    """The command that builds (or resumes) the accuracy campaign of ``space`` for ``bases``."""
    cmd = f"hwbench compress campaign --space {space}"
    if bases and tuple(bases) != tuple(ROLES):
        cmd += " --bases " + " ".join(bases)
    if Path(store_dir) != DEFAULT_STORE:
        cmd += f" --store-dir {store_dir}"
    return cmd


def _manifest_bases(root: Path) -> tuple[list[str] | None, dict[str, Any]]:
    import json

    man = root / "campaign.json"
    if not man.is_file():
        return None, {}
    proto = json.loads(man.read_text()).get("protocol", {})
    bases = proto.get("bases_sha256")
    return (list(bases) if isinstance(bases, dict) else None), proto


def campaign_accuracy(space: str, base: str, store_dir: str | os.PathLike[str] = DEFAULT_STORE,
                      allow_partial: bool = False) -> tuple[np.ndarray, dict[str, Any]]:
    """Test accuracy (fraction) of every configuration of ``base`` in ``space`` from the merged
    campaign shards (index order), and provenance. Missing blocks are NaN with ``allow_partial``,
    else :class:`AccuracyTableMissingError` names the command that builds them."""
    from hwbench.campaign import campaign_dir, merge
    from hwbench.compress.campaign import campaign_name

    sp = SPACES[space]
    name = campaign_name(space)
    root = campaign_dir(name, store_dir)
    started, proto = _manifest_bases(root)
    if started is not None and base not in started:
        raise AccuracyTableMissingError(
            f"no accuracy table for compression space {space!r}, base {base!r}: the campaign {name!r} "
            f"under {store_dir} was started for bases {', '.join(started)} only. Build {base!r} in another "
            f"store (`{campaign_command(space, [base], '<DIR>')}`) or restart the campaign for all bases; "
            "accuracies are never invented"
        )
    if not root.is_dir() or not any(root.glob("shard-*.json")):
        raise AccuracyTableMissingError(
            f"no accuracy table for compression space {space!r}, base {base!r}: the campaign "
            f"{name!r} has no results under {store_dir} (missing {root}/shard-*.json). Build it with "
            f"`{campaign_command(space, started or (), store_dir)}`; accuracies are never invented"
        )
    merged = merge(name, store_dir)
    acc = np.full(sp.size, np.nan)
    blocks_done = 0
    nb = sp.n_bit_choices
    for k in range(len(merged["shard"])):
        if str(merged["base"][k]) != base:
            continue
        item = merged["item"][k]
        if isinstance(item, dict) and item.get("space", space) != space:
            continue
        start = int(merged["index_start"][k])
        vals = np.asarray(merged["test_acc"][k], dtype=np.float64).reshape(-1)
        if vals.shape[0] != nb or start % nb or not 0 <= start < sp.size:
            raise AccuracyTableMissingError(f"campaign {name!r}: malformed result for {base} block at {start}")
        acc[start:start + nb] = vals
        blocks_done += 1
    if blocks_done < sp.n_width_choices and not allow_partial:
        raise AccuracyTableMissingError(
            f"the accuracy table of compression space {space!r}, base {base!r} is incomplete: "
            f"{blocks_done} of {sp.n_width_choices} pruning blocks under {root}. Finish it with "
            f"`{campaign_command(space, started or (), store_dir)}` (resumable); accuracies are never invented"
        )
    return acc, {"campaign": name, "store": str(store_dir), "blocks": blocks_done, "protocol": proto}


def _cost_model_key() -> str:
    """Hash of the source of the modules the analytic costs come from (invalidates the cache)."""
    import importlib

    h = hashlib.sha256()
    for mod in ("hwbench.compress.cost", "hwbench.compress.space", "simulators.mcu", "simulators.fpga", "simulators.fusion",
                "simulators.devices", "simulators.ir", "hwbench.analytic"):
        try:
            f = importlib.import_module(mod).__file__
        except ImportError:
            continue
        if f:
            h.update(mod.encode() + Path(f).read_bytes())
    dev_dir = Path(importlib.import_module("simulators.devices").__file__ or ".").parent / "devices"
    for dev in sorted(dev_dir.glob("fpga-*.toml")):  # the FPGA model's DSP-packing figures live there
        h.update(dev.name.encode() + dev.read_bytes())
    return h.hexdigest()[:16]


def device_metrics(device: str) -> tuple[str, ...]:
    """The cost metrics kept as columns for ``device`` (MCU or FPGA)."""
    return FPGA_METRICS if device.startswith("fpga-") else DEVICE_METRICS


def cost_columns(space: str, base: str, device: str = DEVICE,
                 cache_dir: str | os.PathLike[str] | None = DEFAULT_COST_CACHE) -> dict[str, np.ndarray]:
    """Analytic cost metrics of every configuration of ``base`` (index order), from
    :func:`hwbench.compress.campaign.cost_block`; cached as ``.npz`` in ``cache_dir`` (None = no cache).
    ~4-6 ms per configuration: seconds for ``test-tiny``, ~30 s for ``mpq-prune-small``, ~20 min per
    base for ``mpq-prune`` on the first call."""
    from hwbench.compress.campaign import cost_block

    keep = (*MODEL_METRICS, *device_metrics(device))
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"{space}-{base}-{device}-{_cost_model_key()}.npz"
        if path.is_file():
            with np.load(path, allow_pickle=False) as z:
                return {k: np.asarray(z[k]) for k in keep}
    block = cost_block(base, space, device)
    out = {k: np.asarray(block[k], dtype=np.float64) for k in keep}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **out)  # type: ignore[arg-type]
        os.replace(tmp, path)
    return out


def base_columns(space: str, base: str, store_dir: str | os.PathLike[str] = DEFAULT_STORE,
                 cost_cache: str | os.PathLike[str] | None = DEFAULT_COST_CACHE, device: str = DEVICE,
                 allow_partial: bool = False, extra_devices: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """The columns of one base (accuracy in percent, model and device costs), named by :func:`column`;
    ``extra_devices`` (e.g. ``fpga-zc706``) add their device columns."""
    acc, _ = campaign_accuracy(space, base, store_dir, allow_partial)
    costs = cost_columns(space, base, device, cost_cache)
    cols = {column(space, base, "test_accuracy_pct"): 100.0 * acc}
    for m in MODEL_METRICS:
        cols[column(space, base, m)] = costs[m]
    for dev in (device, *[d for d in extra_devices if d != device]):
        dc = costs if dev == device else cost_columns(space, base, dev, cost_cache)
        for m in device_metrics(dev):
            cols[column(space, base, m, dev)] = dc[m]
    return cols


def _task_devices(task_or_space: Any) -> tuple[str, ...]:
    """Devices other than :data:`DEVICE` whose columns a task reads (from its cost / constraint names)."""
    names = [*getattr(task_or_space, "costs", ()), *(c.metric for c in getattr(task_or_space, "constraints", ()))]
    found = []
    for n in names:
        parts = str(n).split("/")
        if len(parts) == 5 and parts[3] != DEVICE and parts[3] not in found:
            found.append(parts[3])
    return tuple(found)


def compression_source(task_or_space: Any, store_dir: str | os.PathLike[str] = DEFAULT_STORE,
                       cost_cache: str | os.PathLike[str] | None = DEFAULT_COST_CACHE,
                       allow_partial: bool = False) -> Any:
    """A table-like :class:`hwbench.search.problem.ColumnSource` with the columns of a compression
    task (or search space name): per base, or concatenated over :data:`ROLES` for the joint space.
    Raises :class:`AccuracyTableMissingError` if the campaign results are absent or incomplete."""
    from hwbench.search.problem import ColumnSource

    name = getattr(task_or_space, "space", task_or_space)
    space, base = parse_space_name(name)
    extra = _task_devices(task_or_space)
    if base != JOINT:
        return ColumnSource(base_columns(space, base, store_dir, cost_cache, allow_partial=allow_partial,
                                         extra_devices=extra))
    missing = []
    per: dict[str, dict[str, np.ndarray]] = {}
    for role in ROLES:
        try:
            per[role] = base_columns(space, role, store_dir, cost_cache, allow_partial=allow_partial,
                                     extra_devices=extra)
        except AccuracyTableMissingError:
            missing.append(role)
    if missing:
        raise AccuracyTableMissingError(
            f"the joint task over the measured base cells needs the accuracy table of every base; "
            f"missing or incomplete for {', '.join(missing)} (space {space!r}, store {store_dir}). "
            f"Build it with `{campaign_command(space, (), store_dir)}`; accuracies are never invented"
        )
    cols: dict[str, np.ndarray] = {}
    for key in per[ROLES[0]]:
        suffix = key.split("/", 3)[3]
        cols[f"{PREFIX}/{space}/{JOINT}/{suffix}"] = np.concatenate([per[r][key.replace(
            f"/{ROLES[0]}/", f"/{r}/", 1)] for r in ROLES])
    return ColumnSource(cols)


def availability(task: Any, store_dir: str | os.PathLike[str] = DEFAULT_STORE) -> str:
    """``yes``, or ``no: ...`` with the command that builds the missing accuracy table. Cheap: looks
    at the campaign manifest and which shard files exist (one item per shard, bases in manifest
    order); :func:`campaign_accuracy` validates the shards when a task is run."""
    from hwbench.campaign import shard_path
    from hwbench.compress.campaign import campaign_name

    space, base = parse_space_name(task.space)
    roles = ROLES if base == JOINT else (base,)
    name = campaign_name(space)
    started, _ = _manifest_bases(Path(store_dir) / name)
    nw = SPACES[space].n_width_choices
    missing = [r for r in roles if started is None or r not in started
               or not all(shard_path(name, store_dir, started.index(r) * nw + k).is_file() for k in range(nw))]
    if not missing:
        return "yes"
    return f"no: no accuracy table for {', '.join(missing)} (`{campaign_command(space, (), store_dir)}`)"


# ----------------------------------------------------------------------------- tasks
def compression_tasks() -> list[Any]:
    """The compression suite, per compression space: for each base and for the joint space, (a) the
    best accuracy with weights <= 64 KiB and peak SRAM <= 128 KiB on an STM32F746, (a') the same with
    the binding budget weights <= 16 KiB and peak SRAM <= 64 KiB, (b) the accuracy vs STM32F746
    latency Pareto front among configurations within 256 KiB of SRAM; plus, per non-test space, (c) the
    joint accuracy vs ``fpga-zc706`` DSP-slices front (bit-width-aware FPGA model). ``test-tiny``
    tasks are tagged ``test`` (smoke runs; no leaderboard baselines)."""
    from hwbench.search.tasks import Budget, Task, Threshold

    out = []
    for space in SPACES:
        short = SHORT[space]
        for base in (*ROLES, JOINT):
            acc = column(space, base, "test_accuracy_pct")
            wbytes = column(space, base, "model_size_bytes")
            sram = column(space, base, "peak_sram_bytes", DEVICE)
            lat = column(space, base, "latency_ms", DEVICE)
            what = ("jointly over the four measured base cells (NAS) and their compression" if base == JOINT
                    else f"compressing the '{base}' base network")
            tags = ("compression", "simulated", "mcu") + (("joint",) if base == JOINT else ()) \
                + (("test",) if space == "test-tiny" else ())
            common: dict[str, Any] = {"config": "fashion-mnist", "accuracy": acc, "space": space_name(space, base),
                                      "budget": Budget(evaluations=BUDGETS[space]), "tags": tags}
            out += [
                Task(
                    f"compress-{short}-{base}-mcu-stm32f746-constrained.v1", "constrained", costs=(wbytes, sram),
                    constraints=(Threshold(wbytes, value=64 * KIB), Threshold(sram, value=128 * KIB)),
                    description=f"best test accuracy {what} ({space}) with weights <= 64 KiB and peak SRAM "
                    "<= 128 KiB on an STM32F746 (weight bytes, not flash: the runtime alone is ~254 KB flash)",
                    **common,
                ),
                Task(
                    f"compress-{short}-{base}-mcu-stm32f746-tight-constrained.v1", "constrained",
                    costs=(wbytes, sram),
                    constraints=(Threshold(wbytes, value=16 * KIB), Threshold(sram, value=72 * KIB)),
                    description=f"best test accuracy {what} ({space}) with weights <= 16 KiB and peak SRAM "
                    "<= 72 KiB on an STM32F746 (both bounds bind, unlike 64 KiB / 128 KiB on these small nets)",
                    **common,
                ),
                Task(
                    f"compress-{short}-{base}-mcu-stm32f746-pareto.v1", "pareto", costs=(lat,),
                    constraints=(Threshold(sram, value=256 * KIB),),
                    description=f"accuracy vs STM32F746 latency front {what} ({space}), peak SRAM <= 256 KiB",
                    **common,
                ),
            ]
            if base == JOINT and space != "test-tiny":
                # one FPGA task per (non-test) compression space: accuracy vs the DSP slices a ZC706
                # engine needs at the configuration's per-layer bit-widths (on these 12x12 networks the
                # FPGA latency is setup-bound and hardly moves with the bit-widths; the DSPs do)
                out.append(Task(
                    f"compress-{short}-{base}-{FPGA_DEVICE}-pareto.v1", "pareto",
                    costs=(column(space, base, "dsp_active_peak", FPGA_DEVICE),),
                    description=f"accuracy vs {FPGA_DEVICE} DSP slices front {what} ({space}): the DSPs the "
                    "busiest layer keeps busy with per-layer bit-widths (two int8 / four int4 MACs per DSP, "
                    "fp32 five DSPs per MAC)",
                    **{**common, "tags": ("compression", "simulated", "fpga", "joint")},
                ))
    return out

