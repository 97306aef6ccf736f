"""Local search (hill climbing with random restarts), White et al., "Local search is state of the art
for NAS benchmarks", 2020."""

from __future__ import annotations

from hwbench.search.algorithms.base import Algorithm, Trial, fitness_key


class LocalSearch(Algorithm):
    """Start at a random cell; evaluate its one-edge neighbours in random order and move to the
    first that improves (``first_improvement``) or, after all neighbours, the best one; at a local
    optimum restart from a random cell. Single-objective tasks only."""

    name = "local-search"
    supports_multi_objective = False

    def __init__(self, first_improvement: bool = False) -> None:
        super().__init__(first_improvement=first_improvement)
        self.first_improvement = first_improvement

    def _setup(self) -> None:
        self._current: Trial | None = None
        self._queue: list[str] = []
        self._best_nb: Trial | None = None
        self._seen: set[int] = set()

    def _restart(self) -> None:
        self._current = None
        self._queue = []
        self._best_nb = None

    def ask(self) -> int | str:
        if self._current is None:
            for _ in range(1000):
                i = int(self.rng.integers(self.space.size))
                if i not in self._seen:
                    return i
            return int(self.rng.integers(self.space.size))
        return self._queue.pop()

    def tell(self, trial: Trial) -> None:
        self._seen.add(trial.index)
        if self._current is None:
            self.tell_move(trial)
            return
        if self._best_nb is None or fitness_key(trial) > fitness_key(self._best_nb):
            self._best_nb = trial
        improved = fitness_key(trial) > fitness_key(self._current)
        if (improved and self.first_improvement) or not self._queue:
            best = self._best_nb
            if fitness_key(best) > fitness_key(self._current):
                self._current = None
                self.tell_move(best)
            else:
                self._restart()

    def tell_move(self, trial: Trial) -> None:
        self._current = trial
        nbs = [n for n in self.space.neighbours(trial.arch) if self.space.index(n) not in self._seen]
        order = self.rng.permutation(len(nbs))
        self._queue = [nbs[i] for i in order]
        self._best_nb = None
        if not self._queue:
            self._restart()
