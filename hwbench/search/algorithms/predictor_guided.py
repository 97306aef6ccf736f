"""Predictor-guided regularized evolution: aging evolution whose child is the most promising of K
mutants of the tournament winner, as judged by predictors fitted on the cells told so far (in the
spirit of BANANAS' mutation-based acquisition, White et al. 2021, and NPENAS, Wei et al. 2022)."""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

from hwbench.search.algorithms.base import Algorithm, Trial, best_of


class PredictorGuidedEvolution(Algorithm):
    """Regularized evolution (population ``population_size``, tournament ``sample_size``, aging)
    where each child is chosen among ``num_candidates`` distinct, not yet evaluated one-edge
    mutants of the tournament winner by an ``hwbench.predictors`` model (``predictor``, default
    XGBoost) fitted on the told trials' features (``features``, default the 30-d one-hot cell).

    Ranking of the candidates: predicted feasible before predicted infeasible (one cost model per
    constraint whose metric is told, fitted on log values), then by predicted score (the searched
    accuracy on constrained tasks, fitted on every told cell with a value; the task's told score on
    scalarized tasks, fitted on feasible cells). The models are refitted every ``refit_every``
    trials. Single-objective tasks only. All randomness comes from the runner's generator; the
    predictors are seeded from it, so runs are deterministic.

    Args:
        population_size, sample_size: as :class:`RegularizedEvolution`.
        num_candidates: mutants scored per child (1 = plain regularized evolution without repeats).
        predictor: an ``hwbench.predictors`` name (``xgboost``, ``mlp``, ``linear`` ...).
        predictor_params: keyword parameters of the predictor (default for XGBoost: 100 trees of depth 4).
        features: an ``hwbench.predictors.featurize`` kind (``onehot`` is cheap; ``onehot+ir`` builds
            each cell's layer graph).
        refit_every, refit_growth: refit the models once ``max(refit_every, (refit_growth - 1) x
            trials at the last fit)`` new trials are told (every 10 up to 50, then every 25 %).
    """

    name = "predictor-guided-evolution"
    supports_multi_objective = False

    def __init__(self, population_size: int = 20, sample_size: int = 5, num_candidates: int = 10,
                 predictor: str = "xgboost", predictor_params: dict[str, Any] | None = None,
                 features: str = "onehot", refit_every: int = 10, refit_growth: float = 1.25) -> None:
        if population_size < 2 or not 1 <= sample_size <= population_size:
            raise ValueError("need population_size >= 2 and 1 <= sample_size <= population_size")
        if num_candidates < 1 or refit_every < 1 or refit_growth < 1.0:
            raise ValueError("need num_candidates >= 1, refit_every >= 1 and refit_growth >= 1")
        from hwbench.predictors import PREDICTORS
        from hwbench.predictors.features import KINDS

        if predictor not in PREDICTORS:
            from hwbench.errors import UnknownNameError

            raise UnknownNameError("predictor", predictor, PREDICTORS)
        if features not in KINDS:
            from hwbench.errors import UnknownNameError

            raise UnknownNameError("feature kind", features, KINDS)
        needs = {"xgboost": ("xgboost", "predict"), "mlp": ("torch", "torch")}.get(predictor)
        if needs is not None:
            import importlib.util

            if importlib.util.find_spec(needs[0]) is None:
                from hwbench.errors import MissingDependencyError

                raise MissingDependencyError(needs[0], needs[1], f"{self.name} with predictor={predictor!r}")
        params = dict(predictor_params) if predictor_params is not None else (
            {"n_estimators": 100, "max_depth": 4, "learning_rate": 0.1} if predictor == "xgboost" else {})
        super().__init__(population_size=population_size, sample_size=sample_size, num_candidates=num_candidates,
                         predictor=predictor, predictor_params=params, features=features, refit_every=refit_every,
                         refit_growth=refit_growth)
        self.population_size = population_size
        self.sample_size = sample_size
        self.num_candidates = num_candidates
        self.predictor = predictor
        self.predictor_params = params
        self.features = features
        self.refit_every = refit_every
        self.refit_growth = refit_growth

    def _setup(self) -> None:
        self._population: deque[Trial] = deque()
        self._history: list[Trial] = []
        self._seen: set[int] = set()
        self._models: dict[str, Any] = {}
        self._fitted_at = -1
        self._feat_cache: dict[int, np.ndarray] = {}
        self._all_keys: tuple[np.ndarray, np.ndarray] | None = None

    # -- features and models --------------------------------------------------------------------
    def _featurize(self, indices: list[int]) -> np.ndarray:
        missing = [i for i in indices if i not in self._feat_cache]
        if missing:
            from hwbench.predictors import featurize

            config = self._config()
            for i, row in zip(missing, featurize(missing, self.features, config)):
                self._feat_cache[i] = row
        return np.stack([self._feat_cache[i] for i in indices])

    def _config(self) -> str:
        """The dataset config of the searched column (``config/...``), for IR features."""
        head = self.spec.accuracy.split("/", 1)[0]  # type: ignore[union-attr]
        from hwbench.spaces.nb201 import CONFIGS

        return head if head in CONFIGS else "cifar10"

    def _fit(self) -> None:
        from hwbench.predictors import create_predictor

        spec = self.spec
        assert spec is not None
        models: dict[str, Any] = {}
        seed = int(self.rng.integers(0, 2**31 - 1))
        params = dict(self.predictor_params)
        if "random_state" in create_predictor(self.predictor).get_params():
            params["random_state"] = seed

        def fit(trials: list[Trial], y: list[float]) -> Any:
            if len(y) < 2 or len(set(y)) < 2:
                return None
            X = self._featurize([t.index for t in trials])
            return create_predictor(self.predictor, **params).fit(X, np.asarray(y))

        if spec.kind == "scalarized":
            told = [t for t in self._history if t.score is not None and math.isfinite(t.score)]
            models["score"] = fit(told, [float(t.score) for t in told])  # type: ignore[arg-type]
        else:
            told = [t for t in self._history if math.isfinite(t.values.get("accuracy", math.nan))]
            models["score"] = fit(told, [t.values["accuracy"] for t in told])
        for metric in spec.constraints:
            told = [t for t in self._history if math.isfinite(t.values.get(metric, math.nan))
                    and t.values[metric] > 0]
            models[metric] = fit(told, [math.log(t.values[metric]) for t in told])
        self._models = models
        self._fitted_at = len(self._history)
        self._all_keys = None
        if self.features == "onehot":
            # cheap features: predict every cell once per fit (one call instead of one per child)
            self._all_keys = self._predict(self._onehot_all())

    def _onehot_all(self) -> np.ndarray:
        if not hasattr(self, "_X_all"):
            from hwbench.predictors import featurize

            self._X_all = featurize(list(range(self.space.size)), "onehot")
        return self._X_all

    def _predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(predicted score, predicted summed relative violation) per row of ``X``."""
        n = len(X)
        score = self._models["score"].predict(X) if self._models.get("score") is not None else np.zeros(n)
        viol = np.zeros(n)
        for metric, bound in self.spec.constraints.items():  # type: ignore[union-attr]
            m = self._models.get(metric)
            if m is None or not bound > 0:
                continue
            viol += np.maximum(np.exp(m.predict(X)) - bound, 0.0) / bound
        return score, viol

    def _predicted_keys(self, indices: list[int]) -> list[tuple[float, float]]:
        """(feasible?, score or -violation) per candidate, as :func:`fitness_key` orders trials."""
        if self._all_keys is not None:
            idx = np.asarray(indices, dtype=np.int64)
            score, viol = self._all_keys[0][idx], self._all_keys[1][idx]
        else:
            score, viol = self._predict(self._featurize(indices))
        return [(1.0, float(s)) if v <= 0 else (0.0, -float(v)) for s, v in zip(score, viol)]

    def _threads(self) -> Any:
        """XGBoost on one thread: its default (all cores) spends ~40 ms starting threads per
        DMatrix on a loaded machine, far more than the fit on a few hundred rows."""
        import contextlib

        if self.predictor != "xgboost":
            return contextlib.nullcontext()
        try:
            import xgboost
        except ImportError:
            return contextlib.nullcontext()  # the predictor raises the actionable error
        return xgboost.config_context(nthread=1)

    # -- ask / tell -----------------------------------------------------------------------------
    def _random_unseen(self) -> int:
        for _ in range(1000):
            i = int(self.rng.integers(self.space.size))
            if i not in self._seen:
                return i
        return int(self.rng.integers(self.space.size))

    def ask(self) -> int:
        if len(self._history) < self.population_size:
            return self._random_unseen()
        pop = list(self._population)
        pick = self.rng.choice(len(pop), size=self.sample_size, replace=False)
        parent = best_of([pop[i] for i in sorted(pick)], False)
        cands: list[int] = []
        for _ in range(20 * self.num_candidates):
            i = int(self.space.index(self.space.mutate(parent.arch, self.rng)))
            if i not in self._seen and i not in cands:
                cands.append(i)
                if len(cands) == self.num_candidates:
                    break
        if not cands:  # every neighbour told already
            return self._random_unseen()
        if len(cands) == 1:
            return cands[0]
        with self._threads():
            due = max(self.refit_every, int(self._fitted_at * (self.refit_growth - 1.0)))
            if self._fitted_at < 0 or len(self._history) - self._fitted_at >= due:
                self._fit()
            keys = self._predicted_keys(cands)
        return cands[max(range(len(cands)), key=lambda k: keys[k])]  # earliest on ties

    def tell(self, trial: Trial) -> None:
        self._seen.add(trial.index)
        self._history.append(trial)
        self._population.append(trial)
        if len(self._population) > self.population_size:
            self._population.popleft()
