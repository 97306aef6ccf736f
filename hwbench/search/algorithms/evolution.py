"""Regularized (aging) evolution, Real et al., AAAI 2019."""

from __future__ import annotations

from collections import deque

from hwbench.search.algorithms.base import Algorithm, Trial, best_of


class RegularizedEvolution(Algorithm):
    """Aging evolution: a random initial population of ``population_size`` cells, then repeatedly
    sample ``sample_size`` members uniformly, mutate the best one (one edge, one new op) and
    replace the *oldest* member with the child. On Pareto tasks "best" = the sampled member
    dominated by the fewest members of the population.
    """

    name = "regularized-evolution"

    def __init__(self, population_size: int = 20, sample_size: int = 5) -> None:
        if population_size < 1 or not 1 <= sample_size <= population_size:
            raise ValueError("need population_size >= 1 and 1 <= sample_size <= population_size")
        super().__init__(population_size=population_size, sample_size=sample_size)
        self.population_size = population_size
        self.sample_size = sample_size

    def _setup(self) -> None:
        self._population: deque[Trial] = deque()
        self._told = 0

    def ask(self) -> int | str:
        if self._told < self.population_size:
            return int(self.rng.integers(self.space.size))
        pop = list(self._population)
        pick = self.rng.choice(len(pop), size=self.sample_size, replace=False)
        # Pareto tasks: the sampled member dominated by the fewest members of the whole population
        # (ranking within the small sample alone selects almost at random)
        parent = best_of([pop[i] for i in sorted(pick)], self.spec.multi_objective, pop)  # type: ignore[union-attr]
        return self.space.mutate(parent.arch, self.rng)

    def tell(self, trial: Trial) -> None:
        self._told += 1
        self._population.append(trial)
        if len(self._population) > self.population_size:
            self._population.popleft()
