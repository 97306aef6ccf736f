"""Predictors: scikit-learn conventions, persistence without pickle, metrics, and learning on real
columns (analytic MACs through the lookup table, NATS-Bench CIFAR-10 accuracy from encodings)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from hwbench.errors import UnknownNameError
from hwbench.predictors import (
    NotFittedError,
    PredictorError,
    clone,
    create_predictor,
    featurize,
    list_predictors,
    load,
)
from hwbench.predictors import metrics as M

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
FAST = {"linear": {}, "layer_table": {}, "xgboost": {"n_estimators": 50}, "mlp": {"epochs": 60, "hidden": [16]}}


@pytest.fixture(autouse=True)
def _one_thread():
    torch = pytest.importorskip("torch")
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _cells(n: int, seed: int = 0) -> list[str]:
    from hwbench.spaces.nb201 import SPACE

    return SPACE.sample(np.random.default_rng(seed), n)


# ----------------------------------------------------------------------------- metrics
def test_metrics_against_definitions():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    a = rng.normal(size=50).round(1)  # ties
    b = a + rng.normal(size=50)
    assert M.spearman(a, b) == pytest.approx(scipy_stats.spearmanr(a, b).statistic, abs=1e-12)
    assert M.kendall_tau(a, b) == pytest.approx(scipy_stats.kendalltau(a, b).statistic, abs=1e-12)
    np.testing.assert_allclose(M.rankdata([3.0, 1.0, 3.0, 2.0]), [3.5, 1.0, 3.5, 2.0])
    t, p = np.array([100.0, 200.0, 50.0, 10.0]), np.array([104.0, 180.0, 50.0, 12.0])
    assert M.within(t, p, 0.05) == 0.5 and M.within(t, p, 0.10) == 0.75
    assert M.mape(t, p) == pytest.approx(100 * (0.04 + 0.1 + 0 + 0.2) / 4)
    assert M.rmse(t, p) == pytest.approx(math.sqrt((16 + 400 + 0 + 4) / 4))
    rep = M.regression_report(np.array([1.0, np.nan, 3.0, 4.0]), np.array([1.0, 2.0, np.nan, 4.5]))
    assert rep["n"] == 2
    assert math.isnan(M.spearman(np.ones(5), np.arange(5.0)))


# ----------------------------------------------------------------------------- conventions
def test_every_registered_predictor_is_tested():
    assert set(list_predictors()) == set(FAST) | {"few_shot_transfer"}


@pytest.mark.parametrize("name", sorted(FAST))
def test_sklearn_conventions_and_persistence(name, tmp_path):
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 3, size=(60, 5)).round()
    y = 2.0 + X @ np.array([1.0, 0.5, 0.0, 3.0, 1.5]) + rng.normal(0, 0.01, 60)
    p = create_predictor(name, **FAST[name])
    assert set(vars(p)) == set(p.get_params())  # __init__ stores parameters only
    with pytest.raises(NotFittedError):
        p.predict(X)
    with pytest.raises(PredictorError, match="no parameter"):
        p.set_params(bogus=1)
    with pytest.raises(PredictorError, match="NaN"):
        create_predictor(name, **FAST[name]).fit(X, np.where(np.arange(60) == 3, np.nan, y))
    with pytest.raises(PredictorError, match="random_state"):
        create_predictor(name, **FAST[name], random_state="x").fit(X, y)
    assert p.fit(X, y) is p
    pred = p.predict(X)
    assert pred.shape == (60,)
    with pytest.raises(PredictorError, match="features"):
        p.predict(X[:, :3])
    c = clone(p)
    assert c.get_params() == p.get_params() and not hasattr(c, "n_features_in_")
    # same random_state -> same model
    np.testing.assert_array_equal(create_predictor(name, **FAST[name]).fit(X, y).predict(X), pred)
    # persistence: JSON + npz (+ XGBoost JSON), no pickle
    folder = p.save(tmp_path / name, features={"kind": "test"})
    meta = json.loads((folder / "predictor.json").read_text())
    assert meta["class"] == name and meta["hwbench_version"] and meta["features"] == {"kind": "test"}
    with np.load(folder / "arrays.npz", allow_pickle=False) as z:
        assert sorted(z.files) == meta["arrays"]
    if name == "xgboost":
        json.loads((folder / "xgboost.json").read_text())
    q = load(folder)
    assert type(q) is type(p) and q.features_ == {"kind": "test"}
    np.testing.assert_allclose(q.predict(X), pred, rtol=1e-6 if name == "xgboost" else 1e-12)
    assert not any(f.suffix in (".pkl", ".pickle") for f in folder.iterdir())


def test_xgboost_n_jobs_is_validated_and_used_everywhere(tmp_path):
    pytest.importorskip("xgboost")
    rng = np.random.default_rng(2)
    X = rng.uniform(0, 3, size=(80, 4))
    y = X @ np.array([1.0, 2.0, 0.5, 0.0]) + rng.normal(0, 0.01, 80)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(PredictorError, match="n_jobs"):
            create_predictor("xgboost", n_estimators=5, n_jobs=bad).fit(X, y)
    p = create_predictor("xgboost", n_estimators=30, n_jobs=2).fit(X, y)
    assert json.loads(p.booster_.save_config())["learner"]["generic_param"]["nthread"] == "2"
    pred = p.predict(X)
    np.testing.assert_array_equal(create_predictor("xgboost", n_estimators=30, n_jobs=2).fit(X, y).predict(X), pred)
    # the thread count follows set_params and load (the trees are unchanged)
    p.set_params(n_jobs=1)
    np.testing.assert_array_equal(p.predict(X), pred)
    assert json.loads(p.booster_.save_config())["learner"]["generic_param"]["nthread"] == "1"
    q = load(p.save(tmp_path / "x"))
    assert json.loads(q.booster_.save_config())["learner"]["generic_param"]["nthread"] == "1"
    np.testing.assert_allclose(q.predict(X), pred, rtol=1e-6)


def test_unknown_predictor_and_feature_kind():
    with pytest.raises(UnknownNameError, match="xgboost"):
        create_predictor("xgbost")
    with pytest.raises(UnknownNameError, match="onehot"):
        featurize(_cells(2), "onehots")


def test_linear_recovers_a_linear_target():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 3))
    y = X @ np.array([2.0, -1.0, 0.5]) + 7.0
    p = create_predictor("linear").fit(X, y)
    np.testing.assert_allclose(p.coef_, [2.0, -1.0, 0.5], atol=1e-9)
    assert p.intercept_ == pytest.approx(7.0)


# ----------------------------------------------------------------------------- real columns
def test_layer_table_learns_per_op_costs_from_the_ir():
    """MACs are a sum of per-op MACs: the lookup table fitted on 60 cells must predict the others exactly."""
    from hwbench.analytic import analytic_metrics

    cells = _cells(120, seed=3)
    X = featurize(cells, "opcounts", "cifar10")
    y = np.array([analytic_metrics(c, "cifar10")["macs"] for c in cells])
    p = create_predictor("layer_table", alpha=0.0).fit(X[:60], y[:60])
    rep = M.regression_report(y[60:], p.predict(X[60:]))
    assert rep["within_5pct"] == 1.0 and rep["mape_pct"] < 0.5, rep
    assert (p.coef_ >= 0).all()
    # FLOPs floor on the same target: exact up to the linear fit
    F = featurize(cells, "flops", "cifar10")
    assert M.regression_report(y[60:], create_predictor("linear").fit(F[:60], y[:60]).predict(F[60:]))[
        "within_5pct"] == 1.0


def test_feature_shapes():
    from hwbench.predictors import feature_names

    cells = _cells(3)
    for kind in ("onehot", "ir", "onehot+ir", "opcounts", "flops"):
        X = featurize(cells, kind, "fashion-mnist")
        assert X.shape == (3, len(feature_names(kind, "fashion-mnist"))), kind
        assert np.isfinite(X).all()
    assert (featurize(cells, "onehot").sum(1) == 6).all()
    from hwbench.predictors.features import pruned

    assert pruned((3, 3, 3, 3, 3, 3)) == (3, 3, 3, 3, 3, 3)
    assert pruned((3, 0, 2, 0, 0, 0)) == (0,) * 6  # no path to the output: the all-none cell
    assert pruned((3, 0, 0, 2, 0, 4)) == (0, 0, 0, 2, 0, 0)  # node 2 is zero-fed: its out-edge is dead
    assert pruned((2, 0, 0, 1, 0, 0)) == (0, 0, 0, 1, 0, 0)  # node 1 never reaches the output
    np.testing.assert_array_equal(featurize(["|nor_conv_1x1~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"],
                                            "opcounts_pruned"),
                                  featurize(["|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"], "opcounts"))


@pytest.mark.reference
def test_accuracy_from_encodings_improves_with_training_size():
    """NATS-Bench CIFAR-10 test accuracy (200 epochs) predicted from the one-hot cell encoding."""
    nats = REFERENCE / "nats_tss" / "nats_tss_test_acc_200ep.csv"
    if not nats.is_file():
        pytest.skip(f"NATS-Bench reference accuracies not found at {nats}")
    import pandas as pd

    from hwbench.predictors.evaluate import learning_curve, summarize

    df = pd.read_csv(nats)
    pick = np.random.default_rng(0).choice(len(df), 1500, replace=False)
    X = featurize(list(df["ArchitectureString"].iloc[pick]), "onehot")
    y = df["CIFAR10TestAccuracy200Epochs"].to_numpy()[pick]
    preds = {"xgboost": create_predictor("xgboost", n_estimators=300), "mlp": create_predictor("mlp", epochs=300)}
    rows = summarize(learning_curve(X, y, preds, (20, 100, 1000), test_size=500, seeds=(0, 1)))
    rho = {(r["predictor"], r["train_size"]): r["spearman"] for r in rows}
    for name in preds:
        assert rho[(name, 20)] < rho[(name, 100)] < rho[(name, 1000)], rho
        assert rho[(name, 1000)] >= 0.85, rho


# ----------------------------------------------------------------------------- CLI
def _toy_table(path, n_measured=240):
    """A table with a measured column on some cells only (analytic MACs in millions, as a stand-in target)."""
    from hwbench.analytic import analytic_metrics
    from hwbench.spaces.nb201 import SIZE
    from hwbench.table import TableWriter

    rng = np.random.default_rng(7)
    rows = np.sort(rng.choice(SIZE, n_measured, replace=False))
    y = np.full(SIZE, np.nan)
    y[rows] = [analytic_metrics(int(i), "cifar10")["macs"] / 1e6 for i in rows]
    with TableWriter(path) as w:
        w.add_column("cifar10/toy/mmacs", y, unit="M", source="simulated", tool="test", tool_version="0",
                     device="none", protocol={}, description="toy target")
    return rows, y


def test_predict_cli_fit_eval_apply(tmp_path, capsys):
    from hwbench.cli import main

    table = tmp_path / "t.h5"
    rows, y = _toy_table(table)
    model = tmp_path / "lut"
    assert main(["predict", "fit", "--table", str(table), "--metric", "cifar10/toy/mmacs", "--predictor",
                 "layer_table", "--train-size", "100", "--out", str(model), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["train_cells"] == 100 and out["features"] == "opcounts"
    assert main(["predict", "eval", "--table", str(table), "--metric", "cifar10/toy/mmacs", "--predictors",
                 "linear,layer_table", "--sizes", "10,50", "--test-size", "100", "--format", "json"]) == 0
    res = json.loads(capsys.readouterr().out)
    lut50 = next(r for r in res if r["predictor"] == "layer_table" and r["train_size"] == 50)
    assert lut50["within_5pct"] == 1.0
    unmeasured = next(i for i in range(100) if np.isnan(y[i]))
    pick = [int(rows[0]), unmeasured]
    assert main(["predict", "apply", "--model", str(model), "--table", str(table), "--archs",
                 ",".join(map(str, pick)), "--out", str(tmp_path / "p.h5"), "--format", "json"]) == 0
    capsys.readouterr()
    import hwbench.table as tbl

    pred = tbl.load(tmp_path / "p.h5").column("cifar10/toy/mmacs_predicted")
    assert np.isnan(pred[rows[0]])  # measured: never overwritten
    from hwbench.analytic import analytic_metrics

    assert pred[unmeasured] == pytest.approx(analytic_metrics(unmeasured, "cifar10")["macs"] / 1e6, rel=0.01)
    assert main(["predict", "fit", "--table", str(table), "--metric", "cifar10/toy/mmacs", "--predictor",
                 "linear", "--train-size", "1", "--out", str(tmp_path / "x")]) == 2


def test_xgboost_on_simulated_mcu_latency_beats_the_floors():
    """A non-trivial real column that exists now: simulated STM32F746 latency of the CIFAR-10 network
    (``hwbench.simulate.sweep_nb201``; dead edges pruned, disconnected cells = all-none network)."""
    from hwbench.predictors.evaluate import learning_curve, summarize
    from hwbench.simulate import sweep_nb201

    y_all = sweep_nb201("cifar10", "mcu-stm32f746")["latency_ms"]
    pick = np.random.default_rng(0).choice(len(y_all), 800, replace=False)
    y = y_all[pick]
    cells = [int(i) for i in pick]
    X = {"xgboost": featurize(cells, "onehot+ir_pruned"), "layer_table": featurize(cells, "opcounts_pruned"),
         "linear": featurize(cells, "flops_pruned")}
    preds = {"xgboost": create_predictor("xgboost", n_estimators=400), "layer_table": create_predictor("layer_table"),
             "linear": create_predictor("linear")}
    res = {r["predictor"]: r for r in summarize(learning_curve(X, y, preds, (500,), test_size=300))}
    assert res["xgboost"]["within_10pct"] >= 0.97, res["xgboost"]
    assert res["xgboost"]["spearman"] >= 0.99
    assert res["xgboost"]["mape_pct"] < res["layer_table"]["mape_pct"] < res["linear"]["mape_pct"], res


def test_few_shot_transfer_to_a_held_out_simulated_device(tmp_path):
    """Held-out device, other families only as sources, 10 measured cells of the target."""
    from hwbench.predictors.transfer import FewShotTransfer, leave_one_out
    from hwbench.simulate import sweep_nb201

    devices = ("mcu-stm32f746", "gpu-jetson-tx2", "gpu-rtx2080ti", "fpga-zcu102", "asic-eyeriss")
    Y_all = {d: sweep_nb201("cifar10", d)["latency_ms"] for d in devices}
    pick = np.random.default_rng(1).choice(len(Y_all[devices[0]]), 1200, replace=False)
    X = featurize([int(i) for i in pick], "onehot+ir_pruned")
    Y = {d: v[pick] for d, v in Y_all.items()}
    F = featurize([int(i) for i in pick], "flops_pruned")[:, 0]
    rows = leave_one_out(X, Y, shots=(10,), pretrain_size=600, test_size=300, seeds=(0,), flops=F,
                         exclude_family=True, targets=["mcu-stm32f746", "fpga-zcu102"])
    got = {(r["target"], r["method"]): r for r in rows}
    # the MCU's latency is almost proportional to MACs: the FLOPs floor is strong there
    assert got[("mcu-stm32f746", "few_shot_transfer")]["spearman"] >= 0.95, got
    ours, floor = got[("fpga-zcu102", "few_shot_transfer")], got[("fpga-zcu102", "flops_linear")]
    assert ours["spearman"] >= 0.97 and ours["spearman"] > floor["spearman"], (ours, floor)
    assert ours["mape_pct"] < floor["mape_pct"], (ours, floor)
    # conventions: fit needs pretrain; persistence round trip
    with pytest.raises(NotFittedError, match="pretrain"):
        FewShotTransfer().fit(X[:10], Y[devices[0]][:10])
    m = FewShotTransfer(n_estimators=50).pretrain(X[:300], {d: Y[d][:300] for d in devices[1:]})
    ok = np.flatnonzero(Y[devices[0]] > 0)
    m.fit(X[ok[:10]], Y[devices[0]][ok[:10]])
    q = load(m.save(tmp_path / "fst"))
    np.testing.assert_allclose(q.predict(X[ok[10:40]]), m.predict(X[ok[10:40]]), rtol=1e-6)


# ----------------------------------------------------------------------------- CLI: few-shot transfer
TRANSFER_SMALL = ["--cells", "400", "--pretrain-size", "150", "--test-size", "150", "--n-estimators", "30",
                  "--repeats", "2", "--seed", "3", "--format", "json"]


def test_predict_transfer_cli_on_the_shipped_table(capsys):
    """`hwbench predict transfer` on the shipped nb201 table (simulated latency columns): one row per
    (method, shot count), Spearman/Kendall in [-1, 1], identical output for the same seed."""
    import hwbench.table as tbl
    from hwbench.cli import main

    try:
        tbl.load("nb201")
    except tbl.TableNotFoundError as exc:
        pytest.skip(f"shipped nb201 table not available: {exc}")
    argv = ["predict", "transfer", "--target", "fpga-zcu102", "--shots", "5,12", "--other-families",
            "--pretrain-on", "mcu-stm32f746,gpu-jetson-tx2,fpga-zc706", *TRANSFER_SMALL]
    assert main(argv) == 0
    first = capsys.readouterr().out
    res = json.loads(first)
    ours = {r["shots"]: r for r in res if r["method"] == "few_shot_transfer"}
    assert sorted(ours) == [5, 12]
    assert sorted(r["shots"] for r in res if r["method"] == "flops_linear") == [5, 12]
    for r in res:
        assert r["target"] == "cifar10/fpga-zcu102/latency_ms" and r["repeats"] == 2
        assert -1.0 <= r["spearman"] <= 1.0 and -1.0 <= r["kendall_tau"] <= 1.0
        assert r["spearman_std"] >= 0.0 and r["test_cells"] == 150
        assert r["sources"] == 2  # fpga-zc706 is the target's family: left out by --other-families
    # transfer from the other devices ranks the held-out device's latency well (measured ~0.98 here)
    assert ours[12]["spearman"] >= 0.9, ours
    # deterministic for a seed
    assert main(argv) == 0
    assert capsys.readouterr().out == first
    # a full column name resolves the same target
    assert main(["predict", "transfer", "--target", "cifar10/fpga-zcu102/latency_ms", "--shots", "5",
                 "--pretrain-on", "mcu-stm32f746", "--no-floor", *TRANSFER_SMALL]) == 0
    res = json.loads(capsys.readouterr().out)
    assert [(r["method"], r["shots"], r["sources"]) for r in res] == [("few_shot_transfer", 5, 1)]


def test_predict_transfer_cli_rejects_unknown_targets(capsys):
    import hwbench.table as tbl
    from hwbench.cli import main

    try:
        tbl.load("nb201")
    except tbl.TableNotFoundError as exc:
        pytest.skip(f"shipped nb201 table not available: {exc}")
    assert main(["predict", "transfer", "--target", "fpga-zcu10", *TRANSFER_SMALL]) == 2
    err = capsys.readouterr().err
    assert "fpga-zcu10" in err and "gpu-jetson-tx2" in err and "mcu-stm32f746" in err
    assert main(["predict", "transfer", "--target", "cifar10/nodev/latency_ms", *TRANSFER_SMALL]) == 2
    assert "cifar10/asic-eyeriss/latency_ms" in capsys.readouterr().err
    assert main(["predict", "transfer", "--target", "gpu-rtx2080ti", "--pretrain-on", "tpu-v9",
                 *TRANSFER_SMALL]) == 2
    assert "tpu-v9" in capsys.readouterr().err
    assert main(["predict", "transfer", "--target", "cifar10/*/latency_ms", *TRANSFER_SMALL]) == 2  # several
    assert "matches" in capsys.readouterr().err
    assert main(["predict", "transfer", "--target", "gpu-rtx2080ti", "--shots", "500", *TRANSFER_SMALL]) == 2
