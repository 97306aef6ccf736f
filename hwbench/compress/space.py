"""The compression space of a base network: per-stage bit-widths and channel width multipliers.

An NB201 network has three stages (the reductions split them); in this space a configuration
chooses, for each stage ``s = 1, 2, 3``:

* ``m_s``: the channel width multiplier of the stage (structured pruning), from ``widths``;
* ``w_s``: the weight bit-width of every conv / linear layer of the stage, from ``bits``;
* ``a_s``: the bit-width of the activations those layers read (their input tensors), from ``bits``.

Stage 1 = the stem and the first ``N`` cells; stage 2 = the first reduction block and the next ``N``
cells; stage 3 = the second reduction block, the last ``N`` cells and the classifier. A bit-width of
32 means float32 (not quantized).

**Canonical string**: ``m<m1>.<m2>.<m3>-w<w1>.<w2>.<w3>-a<a1>.<a2>.<a3>`` with the multipliers in
percent, e.g. ``m100.50.75-w8.4.8-a8.8.32``. The unchanged base network is ``m100.100.100-w32.32.32-a32.32.32``.

**Index order**: the nine choices in string order (m1, m2, m3, w1, w2, w3, a1, a2, a3) are the
digits of a mixed-radix number, first most significant, each digit the position of the choice in
its option tuple (``widths`` ascending, ``bits`` ascending). So all configurations sharing one
pruning (width) choice are a contiguous block of ``len(bits) ** 6`` indices; the campaign evaluates
one such block per item.

Default space (the one the brief asks for): ``bits = (2, 4, 8, 32)``, ``widths = (0.25, 0.5, 0.75, 1.0)``,
4**9 = 262,144 configurations per base network (64 width choices x 4,096 bit-width choices).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from hwbench.errors import HwbenchError

NUM_STAGES = 3
BITS: tuple[int, ...] = (2, 4, 8, 32)
WIDTHS: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)
_RE = re.compile(r"^m(\d+)\.(\d+)\.(\d+)-w(\d+)\.(\d+)\.(\d+)-a(\d+)\.(\d+)\.(\d+)$")


def pruned_channels(c: int, m: float) -> int:
    """Channels kept of ``c`` at width multiplier ``m``: ``round(c * m)`` (half up), at least 1."""
    return max(1, math.floor(c * m + 0.5))


def stage_channel_map(C: int, widths: Sequence[float]) -> dict[int, int]:
    """Original -> pruned channel count of the three stage widths C, 2C, 4C of an NB201 network."""
    return {C * 2**s: pruned_channels(C * 2**s, float(widths[s])) for s in range(NUM_STAGES)}


class InvalidCompressionConfigError(HwbenchError, ValueError):
    """A compression configuration string, tuple or index that is not in the space."""


@dataclass(frozen=True)
class CompressionConfig:
    """One point of the space: per-stage width multipliers and weight / activation bit-widths."""

    widths: tuple[float, float, float]
    w_bits: tuple[int, int, int]
    a_bits: tuple[int, int, int]

    def __str__(self) -> str:
        m = ".".join(str(round(x * 100)) for x in self.widths)
        return f"m{m}-w{'.'.join(map(str, self.w_bits))}-a{'.'.join(map(str, self.a_bits))}"

    @property
    def pruned(self) -> bool:
        return any(x != 1.0 for x in self.widths)

    @property
    def quantized(self) -> bool:
        return any(b != 32 for b in (*self.w_bits, *self.a_bits))

    def width_key(self) -> str:
        """The pruning part alone, e.g. ``m100.50.75`` (configs sharing it share one fine-tuned net)."""
        return str(self).split("-")[0]


@dataclass(frozen=True)
class CompressionSpace:
    """Per-stage mixed precision x per-stage channel pruning (see the module docstring)."""

    name: str = "mpq-prune"
    bits: tuple[int, ...] = BITS
    widths: tuple[float, ...] = WIDTHS
    stages: int = field(default=NUM_STAGES)

    def __post_init__(self) -> None:
        if tuple(sorted(self.bits)) != tuple(self.bits) or len(set(self.bits)) != len(self.bits):
            raise HwbenchError(f"bits {self.bits}: expected strictly ascending bit-widths")
        if any(b not in (1, 2, 3, 4, 5, 6, 7, 8, 16, 32) for b in self.bits):
            raise HwbenchError(f"bits {self.bits}: each must be 1..8, 16 or 32")
        if tuple(sorted(self.widths)) != tuple(self.widths) or not all(0 < w <= 1 for w in self.widths):
            raise HwbenchError(f"widths {self.widths}: expected ascending multipliers in (0, 1]")
        if self.stages != NUM_STAGES:
            raise HwbenchError(f"stages {self.stages}: nb201 networks have {NUM_STAGES}")

    # -- sizes --------------------------------------------------------------------------------
    @property
    def radices(self) -> tuple[int, ...]:
        nw, nb = len(self.widths), len(self.bits)
        return (nw,) * self.stages + (nb,) * (2 * self.stages)

    @property
    def size(self) -> int:
        return int(np.prod(self.radices))

    def __len__(self) -> int:
        return self.size

    @property
    def n_width_choices(self) -> int:
        return int(len(self.widths) ** self.stages)

    @property
    def n_bit_choices(self) -> int:
        return int(len(self.bits) ** (2 * self.stages))

    # -- identity -----------------------------------------------------------------------------
    def _fail(self, what: object, why: str) -> InvalidCompressionConfigError:
        ms = ", ".join(str(round(w * 100)) for w in self.widths)
        return InvalidCompressionConfigError(
            f"invalid compression config {what!r} for space {self.name!r}: {why}. Expected "
            f"'m<m1>.<m2>.<m3>-w<w1>.<w2>.<w3>-a<a1>.<a2>.<a3>' with widths in percent from {{{ms}}} and "
            f"bit-widths from {{{', '.join(map(str, self.bits))}}} (e.g. 'm100.50.75-w8.4.8-a8.8.32'), "
            f"or an index in 0..{self.size - 1}"
        )

    def parse(self, config: str | int | CompressionConfig) -> CompressionConfig:
        """Accept a canonical string, an index or a :class:`CompressionConfig`; validate it."""
        if isinstance(config, CompressionConfig):
            return self._check(config, config)
        if isinstance(config, (int, np.integer)) and not isinstance(config, bool):
            return self.from_index(int(config))
        if not isinstance(config, str):
            raise self._fail(config, f"unsupported type {type(config).__name__}")
        m = _RE.match(config.strip())
        if m is None:
            raise self._fail(config, "not of the form m..-w..-a.. with three dot-separated numbers each")
        v = [int(g) for g in m.groups()]
        widths = tuple(x / 100 for x in v[:3])
        return self._check(CompressionConfig(widths, tuple(v[3:6]), tuple(v[6:9])), config)  # type: ignore[arg-type]

    def _check(self, c: CompressionConfig, what: object) -> CompressionConfig:
        for s, w in enumerate(c.widths, 1):
            if w not in self.widths:
                raise self._fail(what, f"stage {s} width {round(w * 100)}% is not one of the space's")
        for kind, bs in (("weight", c.w_bits), ("activation", c.a_bits)):
            for s, b in enumerate(bs, 1):
                if b not in self.bits:
                    raise self._fail(what, f"stage {s} {kind} bit-width {b} is not one of the space's")
        if not (len(c.widths) == len(c.w_bits) == len(c.a_bits) == self.stages):
            raise self._fail(what, f"expected {self.stages} stages")
        return c

    def digits(self, config: str | int | CompressionConfig) -> tuple[int, ...]:
        c = self.parse(config)
        return (tuple(self.widths.index(w) for w in c.widths) + tuple(self.bits.index(b) for b in c.w_bits)
                + tuple(self.bits.index(b) for b in c.a_bits))

    def index(self, config: str | int | CompressionConfig) -> int:
        idx = 0
        for d, r in zip(self.digits(config), self.radices):
            idx = idx * r + d
        return idx

    def from_index(self, index: int) -> CompressionConfig:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise self._fail(index, "expected an integer index")
        i = int(index)
        if not 0 <= i < self.size:
            raise self._fail(index, f"index out of range 0..{self.size - 1}")
        ds = []
        for r in reversed(self.radices):
            ds.append(i % r)
            i //= r
        d = ds[::-1]
        return CompressionConfig(
            tuple(self.widths[k] for k in d[0:3]),  # type: ignore[arg-type]
            tuple(self.bits[k] for k in d[3:6]),  # type: ignore[arg-type]
            tuple(self.bits[k] for k in d[6:9]),  # type: ignore[arg-type]
        )

    def canonical(self, config: str | int | CompressionConfig) -> str:
        return str(self.parse(config))

    def enumerate(self) -> Iterator[str]:
        """All configurations as canonical strings, in index order."""
        for i in range(self.size):
            yield str(self.from_index(i))

    def width_choices(self) -> list[tuple[float, float, float]]:
        """The pruning choices in index order (one campaign item each)."""
        return [self.from_index(k * self.n_bit_choices).widths for k in range(self.n_width_choices)]

    def bit_choices(self) -> list[tuple[tuple[int, int, int], tuple[int, int, int]]]:
        """(w_bits, a_bits) pairs in index order within a width block."""
        out = []
        for k in range(self.n_bit_choices):
            c = self.from_index(k)
            out.append((c.w_bits, c.a_bits))
        return out

    def sample(self, rng: np.random.Generator, n: int | None = None) -> str | list[str]:
        if n is None:
            return str(self.from_index(int(rng.integers(self.size))))
        return [str(self.from_index(int(i))) for i in rng.integers(0, self.size, n)]

    def mutate(self, config: str | int | CompressionConfig, rng: np.random.Generator) -> str:
        """Change one uniformly chosen of the nine choices to a different value."""
        d = list(self.digits(config))
        k = int(rng.integers(len(d)))
        r = self.radices[k]
        o = int(rng.integers(r - 1))
        d[k] = o if o < d[k] else o + 1
        idx = 0
        for v, rr in zip(d, self.radices):
            idx = idx * rr + v
        return str(self.from_index(idx))

    def encode(self, configs: Sequence[str | int] | str | int) -> np.ndarray:
        """Numeric features: (n, 9) float32 = widths, log2 weight bits, log2 activation bits."""
        single = isinstance(configs, (str, int, np.integer))
        items: list[str | int] = (
            [configs] if isinstance(configs, (str, int, np.integer)) else list(configs))
        rows = []
        for it in items:
            c = self.parse(it)
            rows.append([*c.widths, *np.log2(c.w_bits), *np.log2(c.a_bits)])
        out = np.asarray(rows, dtype=np.float32)
        return out[0] if single else out


#: Named compression spaces. ``mpq-prune`` is the brief's; ``mpq-prune-small`` is a reduced space
#: (bit-widths {4, 8, 32}, widths {0.5, 1.0}: 8 x 729 = 5,832 configurations per base network) whose
#: exhaustive campaign fits a few CPU-hours (see docs/compression.md).
SPACES: dict[str, CompressionSpace] = {
    "mpq-prune": CompressionSpace(),
    "mpq-prune-small": CompressionSpace("mpq-prune-small", bits=(4, 8, 32), widths=(0.5, 1.0)),
    # tiny space for tests and smoke runs: 2 x 2 x 2 widths x 64 bit choices = 512 configurations
    "test-tiny": CompressionSpace("test-tiny", bits=(4, 32), widths=(0.5, 1.0)),
}


def get_space(name: str | CompressionSpace) -> CompressionSpace:
    if isinstance(name, CompressionSpace):
        return name
    try:
        return SPACES[name]
    except KeyError:
        from hwbench.errors import UnknownNameError

        raise UnknownNameError("compression space", name, SPACES) from None
