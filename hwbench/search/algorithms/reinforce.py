"""REINFORCE with a factorised categorical policy over the edges (as in NAS-Bench-201's baseline)."""

from __future__ import annotations

import numpy as np

from hwbench.search.algorithms.base import Algorithm, Trial, TrialState


class Reinforce(Algorithm):
    """Policy = independent softmax over the ops of each edge, logits ``theta`` (edges x ops).
    Reward = the task's score (feasible), ``infeasible_reward`` otherwise, normalised by a moving
    baseline: ``theta += lr * (r - b) * grad log p(arch)``. Single-objective tasks only."""

    name = "reinforce"
    supports_multi_objective = False

    def __init__(self, learning_rate: float = 0.01, baseline_decay: float = 0.9,
                 infeasible_reward: float | None = None) -> None:
        super().__init__(learning_rate=learning_rate, baseline_decay=baseline_decay,
                         infeasible_reward=infeasible_reward)
        self.learning_rate = learning_rate
        self.baseline_decay = baseline_decay
        self.infeasible_reward = infeasible_reward

    def _setup(self) -> None:
        n_edges, n_ops = len(self.space.edges), len(self.space.ops)
        self.theta = np.zeros((n_edges, n_ops))
        self._baseline: float | None = None
        self._min_seen: float | None = None

    def _probs(self) -> np.ndarray:
        z = self.theta - self.theta.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]

    def ask(self) -> tuple[int, ...]:
        p = self._probs()
        u = self.rng.random(size=(p.shape[0], 1))
        # inverse-CDF sampling per edge: the first op whose cumulative probability exceeds u
        picks = (np.cumsum(p, axis=1) <= u).sum(axis=1)
        return tuple(int(min(k, p.shape[1] - 1)) for k in picks)

    def tell(self, trial: Trial) -> None:
        if trial.state is TrialState.COMPLETE and trial.score is not None:
            r = float(trial.score)
            self._min_seen = r if self._min_seen is None else min(self._min_seen, r)
        elif self.infeasible_reward is not None:
            r = self.infeasible_reward
        elif self._min_seen is not None:
            r = self._min_seen - 1.0 - float(min(trial.violation, 10.0))
        else:
            return  # nothing to compare with yet
        if self._baseline is None:
            self._baseline = r
        adv = r - self._baseline
        self._baseline = self.baseline_decay * self._baseline + (1 - self.baseline_decay) * r
        ops = np.array(self.space.parse(trial.arch))
        grad = -self._probs()
        grad[np.arange(len(ops)), ops] += 1.0
        self.theta += self.learning_rate * adv * grad
