"""Uniform random search (without replacement while unseen cells remain)."""

from __future__ import annotations

from hwbench.search.algorithms.base import Algorithm, Trial


class RandomSearch(Algorithm):
    """Propose uniformly random cells of the space, skipping already proposed ones.

    Args:
        with_replacement: allow repeated proposals (plain i.i.d. sampling).
    """

    name = "random"

    def __init__(self, with_replacement: bool = False) -> None:
        super().__init__(with_replacement=with_replacement)
        self.with_replacement = with_replacement

    def _setup(self) -> None:
        self._seen: set[int] = set()

    def ask(self) -> int:
        n = self.space.size
        while True:
            i = int(self.rng.integers(n))
            if self.with_replacement or i not in self._seen or len(self._seen) >= n:
                self._seen.add(i)
                return i

    def tell(self, trial: Trial) -> None:
        self._seen.add(trial.index)
