"""Successive halving (Jamieson & Talwalkar 2016) over the training-epoch fidelity."""

from __future__ import annotations

import math

from hwbench.search.algorithms.base import Algorithm, Query, Trial, fitness_key


class SuccessiveHalving(Algorithm):
    """Repeated brackets: train ``n`` random cells for ``min_epochs``, keep the best ``1/eta``,
    train those ``eta`` times longer, ... until one cell remains, which is fully trained (the only
    evaluation that can become the incumbent). Needs a multi-fidelity task; single-objective."""

    name = "successive-halving"
    supports_multi_objective = False

    def __init__(self, n: int = 27, eta: int = 3, min_epochs: int = 1) -> None:
        if n < 1 or eta < 2 or min_epochs < 1:
            raise ValueError("need n >= 1, eta >= 2, min_epochs >= 1")
        super().__init__(n=n, eta=eta, min_epochs=min_epochs)
        self.n, self.eta, self.min_epochs = n, eta, min_epochs

    def _setup(self) -> None:
        from hwbench.search._errors import TaskNotRunnableError

        assert self.spec is not None
        if self.spec.max_epochs is None:
            raise TaskNotRunnableError(
                f"{self.name} needs a multi-fidelity task (with learning curves); {self.spec.task} has none"
            )
        self.E = self.spec.max_epochs
        self._queue: list[Query | int | str] = []
        self._rung: list[Trial] = []
        self._expect = 0
        self._epochs = 0
        self._new_bracket()

    def _new_bracket(self) -> None:
        self._epochs = min(self.min_epochs, self.E)
        cells: list[int | str] = [int(self.rng.integers(self.space.size)) for _ in range(self.n)]
        self._start_rung(cells)

    def _start_rung(self, cells: list[int | str]) -> None:
        self._rung = []
        self._expect = len(cells)
        full = len(cells) == 1 or self._epochs >= self.E
        self._queue = [c if full else Query(c, self._epochs) for c in cells]

    def ask(self) -> Query | int | str:
        return self._queue.pop(0)

    def tell(self, trial: Trial) -> None:
        self._rung.append(trial)
        if len(self._rung) < self._expect:
            return
        if self._expect == 1 or trial.epochs is None:  # the full evaluation ends the bracket
            self._new_bracket()
            return
        keep = max(1, math.floor(len(self._rung) / self.eta))
        best = sorted(self._rung, key=fitness_key, reverse=True)[:keep]
        self._epochs = min(self._epochs * self.eta, self.E)
        self._start_rung([t.arch for t in best])
