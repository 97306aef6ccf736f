"""pymoo algorithms as hwbench algorithms (NSGA-II by default), through pymoo's ask/tell interface.

The cell is 6 integer variables in 0..4 (the op id per edge); pymoo minimises, so the objectives
are ``-accuracy`` (and the cost on Pareto tasks, or ``-score`` on scalar ones) with the constraint
violation as one inequality constraint (feasible <= 0). The runner evaluates cells one at a time;
the adapter buffers each generation pymoo asks for and tells it back when complete. pymoo is an
optional dependency (``pip install 'hwbench[pymoo]'``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hwbench.errors import MissingDependencyError
from hwbench.search.algorithms.base import Algorithm, Trial, TrialState

_BAD = 1e12  # objective value of cells the table has no value for


class PymooNSGA2(Algorithm):
    """NSGA-II (Deb et al. 2002) from pymoo with integer random sampling, SBX crossover and
    polynomial mutation rounded to integers (pymoo's documented recipe for integer variables)."""

    name = "pymoo-nsga2"

    def __init__(self, pop_size: int = 20, eta_crossover: float = 3.0, eta_mutation: float = 3.0) -> None:
        super().__init__(pop_size=pop_size, eta_crossover=eta_crossover, eta_mutation=eta_mutation)
        self.pop_size = pop_size
        self.eta_c = eta_crossover
        self.eta_m = eta_mutation

    def _make_algorithm(self) -> Any:
        from pymoo.algorithms.moo.nsga2 import NSGA2
        from pymoo.operators.crossover.sbx import SBX
        from pymoo.operators.mutation.pm import PM
        from pymoo.operators.repair.rounding import RoundingRepair
        from pymoo.operators.sampling.rnd import IntegerRandomSampling

        return NSGA2(
            pop_size=self.pop_size,
            sampling=IntegerRandomSampling(),
            crossover=SBX(prob=1.0, eta=self.eta_c, vtype=float, repair=RoundingRepair()),
            mutation=PM(eta=self.eta_m, vtype=float, repair=RoundingRepair()),
            eliminate_duplicates=True,
        )

    def _setup(self) -> None:
        try:
            from pymoo.core.problem import Problem
        except ImportError:
            raise MissingDependencyError("pymoo", "pymoo", f"the {self.name} algorithm") from None
        spec = self.spec
        assert spec is not None
        n_obj = 2 if spec.multi_objective else 1
        self._problem = Problem(n_var=len(self.space.edges), n_obj=n_obj, n_ieq_constr=1,
                                xl=0, xu=len(self.space.ops) - 1, vtype=int)
        self._alg = self._make_algorithm()
        budget = spec.max_evaluations if spec.max_evaluations is not None else 10**9
        self._alg.setup(self._problem, termination=("n_eval", budget),
                        seed=int(self.rng.integers(0, 2**31 - 1)), verbose=False)
        self._pop: Any = None
        self._X: np.ndarray = np.zeros((0, 0), dtype=np.int64)
        self._F: list[list[float]] = []
        self._G: list[list[float]] = []

    def ask(self) -> tuple[int, ...]:
        if self._pop is None or len(self._F) == len(self._X):
            self._pop = self._alg.ask()
            self._X = np.asarray(self._pop.get("X")).round().astype(np.int64)
            self._F, self._G = [], []
        return tuple(int(v) for v in self._X[len(self._F)])

    def tell(self, trial: Trial) -> None:
        spec = self.spec
        assert spec is not None
        if trial.state is TrialState.FAILED:
            f = [_BAD] * (2 if spec.multi_objective else 1)
            g = [1.0]
        elif spec.multi_objective:
            f = [-trial.objectives[0], trial.objectives[1]]
            g = [float(trial.violation)]
        else:
            s = trial.score if trial.score is not None else trial.values.get("accuracy", _BAD)
            f = [-float(s)]
            g = [float(trial.violation)]
        self._F.append(f)
        self._G.append(g)
        if len(self._F) == len(self._X):
            from pymoo.core.evaluator import Evaluator
            from pymoo.problems.static import StaticProblem

            static = StaticProblem(self._problem, F=np.array(self._F), G=np.array(self._G))
            Evaluator().eval(static, self._pop)
            self._alg.tell(infills=self._pop)
