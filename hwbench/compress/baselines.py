"""Baseline compression algorithms for the ask/tell runner (compression search spaces only).

* :class:`GreedyBitAllocation` (``greedy-bits``): HAQ-style greedy resource allocation from the
  uncompressed network down: evaluate every one-step-more-compressed neighbour (one stage's width,
  weight or activation bit-width one option lower), move to the one with the best cost saving per
  accuracy point lost, until the constraints hold; then climb back (one step less compressed)
  while the constraints still hold and accuracy improves; then restart (the other base cells of the
  joint space, then random configurations). On Pareto tasks the descent runs to the most
  compressed configuration, tracing an accuracy-vs-cost path. Uses only evaluated configurations.
* :class:`CompressionReinforce` (``haq-reinforce``): REINFORCE with an independent softmax per
  digit (per-stage width / weight bits / activation bits, and the cell of the joint space), in the
  spirit of HAQ/AMC's per-layer agents (which use DDPG with a continuous action per layer; here the
  actions are discrete and the policy gradient is plain REINFORCE with a moving baseline).
  Infeasible configurations get a penalty reward below the worst feasible one seen.

Regularized evolution, random search and local search are generic: the built-in ones run on
compression spaces unchanged.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

from hwbench.search.algorithms.base import Algorithm, Trial, TrialState, fitness_key


def _require_digits(alg: Algorithm) -> None:
    from hwbench.search._errors import TaskNotRunnableError

    if not hasattr(alg.space, "radices") or not hasattr(alg.space, "ordinal"):
        raise TaskNotRunnableError(
            f"algorithm {alg.name!r} needs a compression search space (compress:<space>:<base>); "
            f"task {alg.spec.task if alg.spec else '?'} is on space {getattr(alg.space, 'name', '?')}"
        )


class GreedyBitAllocation(Algorithm):
    """HAQ-style greedy bit / width allocation (see the module docstring).

    Args:
        eps: accuracy loss floor (accuracy points) in saving / loss, so that a free saving wins.
    """

    name = "greedy-bits"
    supports_multi_objective = True

    def __init__(self, eps: float = 0.01) -> None:
        if not eps > 0:
            raise ValueError("eps must be > 0")
        super().__init__(eps=eps)
        self.eps = float(eps)

    def _setup(self) -> None:
        _require_digits(self)
        sp: Any = self.space
        self._radices: tuple[int, ...] = tuple(sp.radices)
        self._ordinal: tuple[bool, ...] = tuple(sp.ordinal)
        names = list(getattr(sp, "digit_names", ()))
        self._pairs = [(names.index(f"w{s}"), names.index(f"a{s}")) for s in (1, 2, 3)
                       if f"w{s}" in names and f"a{s}" in names]
        top = [r - 1 if o else 0 for r, o in zip(self._radices, self._ordinal)]
        self._starts: deque[tuple[int, ...]] = deque()
        cat = [k for k, o in enumerate(self._ordinal) if not o]
        for v in range(self._radices[cat[0]] if cat else 1):  # joint space: the top of every cell
            d = list(top)
            if cat:
                d[cat[0]] = v
            self._starts.append(tuple(d))
        self._told: dict[int, Trial] = {}
        self._pending: deque[tuple[int, ...]] = deque()
        self._mode = "start"
        self._current: tuple[int, ...] | None = None
        self._candidates: list[tuple[int, ...]] = []

    # -- helpers ----------------------------------------------------------------------------
    def _idx(self, d: tuple[int, ...]) -> int:
        return int(self.space.index(tuple(d)))

    def _trial(self, d: tuple[int, ...]) -> Trial | None:
        return self._told.get(self._idx(d))

    def _step(self, d: tuple[int, ...], delta: int) -> list[tuple[int, ...]]:
        """One step on one ordinal digit, and (as HAQ assigns a layer's weight and activation
        precision together) one step on a stage's weight and activation bits at once."""
        out = []
        for k, (r, o) in enumerate(zip(self._radices, self._ordinal)):
            if o and 0 <= d[k] + delta < r:
                e = list(d)
                e[k] += delta
                out.append(tuple(e))
        for kw, ka in self._pairs:
            if 0 <= d[kw] + delta < self._radices[kw] and 0 <= d[ka] + delta < self._radices[ka]:
                e = list(d)
                e[kw] += delta
                e[ka] += delta
                out.append(tuple(e))
        return out

    def _saving(self, c: Trial, n: Trial) -> float:
        spec = self.spec
        assert spec is not None
        metrics = [m for m, b in spec.constraints.items() if m in c.values and c.values[m] > b]
        if not metrics or spec.kind == "pareto":
            metrics = list(spec.costs)
        s = 0.0
        for m in metrics:
            vc, vn = c.values.get(m, math.nan), n.values.get(m, math.nan)
            if math.isfinite(vc) and math.isfinite(vn) and vc != 0:
                s += (vc - vn) / abs(vc)
        return s

    def _visit(self, d: tuple[int, ...], mode: str) -> None:
        """Make ``d`` the current point and queue its unevaluated neighbours for ``mode``."""
        self._mode = mode
        self._current = d
        self._candidates = self._step(d, -1 if mode == "descend" else +1)
        self._pending.extend(c for c in self._candidates if self._trial(c) is None)

    def _restart(self) -> None:
        if self._starts:
            d = self._starts.popleft()
        else:
            n = self.space.size
            i = int(self.rng.integers(n))
            for _ in range(1000):
                if i not in self._told:
                    break
                i = int(self.rng.integers(n))
            d = tuple(int(x) for x in self.space.parse(i))
        self._mode = "start"
        self._current = d
        self._candidates = []
        if self._trial(d) is None:
            self._pending.append(d)

    def _plan(self) -> None:
        """Called when nothing is pending: every proposal made so far has been told."""
        if self._mode == "start" and self._current is None:
            self._restart()
            return
        cur = self._trial(self._current) if self._current is not None else None
        if cur is None:  # should not happen (the start was told); restart
            self._restart()
            return
        pareto = self.spec is not None and self.spec.kind == "pareto"
        if self._mode == "start":
            if cur.state is TrialState.COMPLETE and not pareto:
                self._visit(self._current, "ascend")  # type: ignore[arg-type]
            else:
                self._visit(self._current, "descend")  # type: ignore[arg-type]
            if not self._candidates:
                self._restart()
            return
        told: list[tuple[tuple[int, ...], Trial]] = []
        for c in self._candidates:
            t = self._trial(c)
            if t is not None and t.state is not TrialState.FAILED:
                told.append((c, t))
        if self._mode == "descend":
            if cur.state is TrialState.COMPLETE and not pareto:
                self._visit(self._current, "ascend")  # type: ignore[arg-type]
                if not self._candidates:
                    self._restart()
                return
            if not told:
                self._restart()
                return
            acc_c = cur.values["accuracy"]
            best, best_key = None, None
            for c, t in told:
                loss = max(acc_c - t.values["accuracy"], 0.0) if math.isfinite(acc_c) else 0.0
                s = self._saving(cur, t)
                key = (1, s / (loss + self.eps)) if s > 0 else (0, -loss)  # saving first, else least loss
                if best_key is None or key > best_key:
                    best, best_key = c, key
            assert best is not None
            self._visit(best, "descend")
            if not self._candidates:
                self._restart()
            return
        # ascend: the best feasible less-compressed neighbour, if it beats the current point
        feas = [(c, t) for c, t in told if t.state is TrialState.COMPLETE]
        if feas:
            c, t = max(feas, key=lambda ct: fitness_key(ct[1]))
            if fitness_key(t) > fitness_key(cur):
                self._visit(c, "ascend")
                if not self._candidates:
                    self._restart()
                return
        self._restart()

    # -- ask / tell -------------------------------------------------------------------------
    def ask(self) -> tuple[int, ...]:
        for _ in range(10_000):
            while self._pending:
                d = self._pending.popleft()
                if self._trial(d) is None:
                    return d
            self._plan()
        return tuple(int(x) for x in self.space.parse(int(self.rng.integers(self.space.size))))

    def tell(self, trial: Trial) -> None:
        self._told[int(trial.index)] = trial


class CompressionReinforce(Algorithm):
    """REINFORCE over per-digit categorical choices (see the module docstring).

    Args:
        learning_rate: step on the logits per unit of normalised advantage.
        baseline_decay: decay of the moving reward baseline (and of its scale).
        dedupe: resample (up to 100 times) a configuration already evaluated.
    """

    name = "haq-reinforce"
    supports_multi_objective = False

    def __init__(self, learning_rate: float = 0.2, baseline_decay: float = 0.9, dedupe: bool = True) -> None:
        super().__init__(learning_rate=learning_rate, baseline_decay=baseline_decay, dedupe=dedupe)
        self.learning_rate = float(learning_rate)
        self.baseline_decay = float(baseline_decay)
        self.dedupe = bool(dedupe)

    def _setup(self) -> None:
        _require_digits(self)
        sp: Any = self.space
        self._radices = tuple(sp.radices)
        self.theta = np.zeros((len(self._radices), max(self._radices)))
        self._mask = np.array([[j < r for j in range(self.theta.shape[1])] for r in self._radices])
        self._baseline: float | None = None
        self._scale: float | None = None
        self._min_seen: float | None = None
        self._feasible_seen = 0
        self._seen: set[int] = set()

    def _probs(self) -> np.ndarray:
        z = np.where(self._mask, self.theta, -np.inf)
        z = z - z.max(axis=1, keepdims=True)
        e = np.where(self._mask, np.exp(z), 0.0)
        return e / e.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]

    def _sample(self) -> tuple[int, ...]:
        p = self._probs()
        u = self.rng.random(size=(p.shape[0], 1))
        picks = (np.cumsum(p, axis=1) <= u).sum(axis=1)
        return tuple(int(min(k, r - 1)) for k, r in zip(picks, self._radices))

    def ask(self) -> tuple[int, ...]:
        d = self._sample()
        if self.dedupe:
            for _ in range(100):
                if int(self.space.index(d)) not in self._seen:
                    break
                d = self._sample()
        return d

    def tell(self, trial: Trial) -> None:
        self._seen.add(int(trial.index))
        if trial.state is TrialState.COMPLETE and trial.score is not None:
            r = float(trial.score)
            self._min_seen = r if self._min_seen is None else min(self._min_seen, r)
        elif trial.state is TrialState.INFEASIBLE:
            v = float(min(trial.violation, 10.0))
            # before any feasible configuration: learn to reduce the violation; after: rank below it
            r = -v if self._min_seen is None else self._min_seen - 1.0 - v
        else:
            return  # failed (no value in the table)
        if trial.state is TrialState.COMPLETE and self._min_seen == r and self._feasible_seen == 0:
            self._baseline = None  # first feasible one: the reward scale changes
        if trial.state is TrialState.COMPLETE:
            self._feasible_seen += 1
        if self._baseline is None:
            self._baseline, self._scale = r, 1.0
            return
        adv = r - self._baseline
        b = self.baseline_decay
        self._scale = b * self._scale + (1 - b) * abs(adv)  # type: ignore[operator]
        self._baseline = b * self._baseline + (1 - b) * r
        d = np.array(self.space.parse(trial.arch))
        grad = -self._probs()
        grad[np.arange(len(d)), d] += 1.0
        self.theta += self.learning_rate * (adv / max(self._scale, 1e-9)) * np.where(self._mask, grad, 0.0)
