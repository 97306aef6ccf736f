"""Zero-cost proxies: registry, definitions on hand-checkable networks, statelessness, campaign
plumbing, and the implementation check against NASLib's / NASWOT's published scores."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn

from hwbench.errors import UnknownNameError
from hwbench.proxies import (
    DuplicateProxyError,
    ProxyInfo,
    ProxyRegistry,
    default_registry,
    get_proxy,
    list_proxies,
    score,
    score_many,
)

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
ALL = ["epe_nas", "fisher", "flops", "grad_norm", "grasp", "jacob_cov", "l2_norm", "nwot", "params", "plain",
       "snip", "synflow", "zen"]
CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|skip_connect~2|"


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _nb201(arch: str | int, config: str = "fashion-mnist", seed: int = 0) -> nn.Module:
    from hwbench.models.nb201 import build_model

    torch.manual_seed(seed)
    return build_model(arch, config)


def _batch(config: str = "fashion-mnist", n: int = 8, seed: int = 0):
    from hwbench.proxies.batches import make_batch

    return make_batch("gaussian", config, n, seed)


# ----------------------------------------------------------------------------- registry
def test_registry_lists_every_required_proxy_and_filters():
    assert list_proxies() == ALL
    assert list_proxies("grad*") == ["grad_norm"]
    assert get_proxy("nwot").needs_data and not get_proxy("nwot").needs_labels
    assert get_proxy("snip").needs_labels
    assert not get_proxy("synflow").batchnorm
    for name in ("synflow", "zen", "params", "flops", "l2_norm"):
        assert not get_proxy(name).needs_data


def test_unknown_and_duplicate_names_are_rejected():
    with pytest.raises(UnknownNameError, match="synflow"):
        get_proxy("synflw")
    reg = default_registry()
    with pytest.raises(DuplicateProxyError, match="snip"):
        reg.add(get_proxy("snip"))

    @reg.register("my_sum", needs_data=False, needs_labels=False)
    def my_sum(net, inputs, targets, **_):
        return float(sum(p.sum() for p in net.parameters()))

    assert reg.get("my_sum").target.endswith(":test_unknown_and_duplicate_names_are_rejected.<locals>.my_sum")
    with pytest.raises(DuplicateProxyError):
        reg.register("my_sum", needs_data=False, needs_labels=False)(my_sum)
    assert "my_sum" not in list_proxies()  # registries share no state


def test_private_registry_scorer_runs_through_score():
    reg = ProxyRegistry()
    reg.register("count_linear", needs_data=False, needs_labels=False)(_count_linear)
    assert isinstance(reg.get("count_linear"), ProxyInfo)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.Linear(3, 2))
    assert score("count_linear", model, (torch.zeros(2, 4), torch.zeros(2, dtype=torch.long)), registry=reg) == 2.0


def _count_linear(net, inputs, targets, **_):
    return float(sum(isinstance(m, nn.Linear) for m in net.modules()))


# ----------------------------------------------------------------------------- definitions
def test_synflow_of_a_bias_free_linear_chain_is_depth_times_output():
    # R(|W|) is homogeneous of degree L in the weights => sum w dR/dw = L * R (Euler).
    torch.manual_seed(1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 5, bias=False), nn.Linear(5, 4, bias=False),
                          nn.Linear(4, 3, bias=False))
    x = torch.randn(2, 6)
    w = [m.weight.detach().abs().double() for m in model if isinstance(m, nn.Linear)]
    r = float((w[2] @ w[1] @ w[0] @ torch.ones(6, dtype=torch.float64)).sum())
    assert score("synflow", model, (x, torch.zeros(2, dtype=torch.long))) == pytest.approx(3 * r, rel=1e-10)


def test_gradient_proxies_match_hand_computation():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    x, y = torch.randn(7, 6), torch.randint(0, 3, (7,))
    ref = __import__("copy").deepcopy(model)
    loss = nn.functional.cross_entropy(ref(x), y)
    loss.backward()
    lin = [m for m in ref if isinstance(m, nn.Linear)]
    for m in lin:
        m.weight.requires_grad_(False)
    assert score("grad_norm", model, (x, y)) == pytest.approx(sum(float(m.weight.grad.norm()) for m in lin), rel=1e-6)
    assert score("snip", model, (x, y)) == pytest.approx(
        sum(float((m.weight.grad * m.weight).abs().sum()) for m in lin), rel=1e-6)
    assert score("plain", model, (x, y)) == pytest.approx(
        sum(float((m.weight.grad * m.weight).sum()) for m in lin), rel=1e-5)
    assert score("l2_norm", model, (x, y)) == pytest.approx(sum(float(m.weight.norm()) for m in lin), rel=1e-6)
    # fisher: per output unit 0.5 * mean_n (a * dL/da)^2, broadcast to the unit's fan-in
    acts = {}
    ref2 = __import__("copy").deepcopy(model)
    def keep(k):
        def hook(m, i, o):
            o.retain_grad()
            acts[k] = o

        return hook

    hooks = [m.register_forward_hook(keep(k)) for k, m in enumerate(m for m in ref2 if isinstance(m, nn.Linear))]
    nn.functional.cross_entropy(ref2(x), y).backward()
    for h in hooks:
        h.remove()
    want = 0.0
    for k, m in enumerate(m for m in ref2 if isinstance(m, nn.Linear)):
        a = acts[k]
        want += float((0.5 * (a * a.grad).pow(2).mean(0)).sum().detach()) * m.weight.shape[1]
    assert score("fisher", model, (x, y)) == pytest.approx(want, rel=1e-5)


def test_nwot_is_logdet_of_the_relu_code_kernel():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Flatten(), nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 2))
    x = torch.randn(6, 5)
    code = (model[1](x) > 0).double()
    k = code @ code.t() + (1 - code) @ (1 - code).t()
    want = float(torch.linalg.slogdet(k)[1])
    assert score("nwot", model, (x, torch.zeros(6, dtype=torch.long))) == pytest.approx(want, rel=1e-9)


def test_jacob_cov_formula_and_nan_for_input_independent_output():
    torch.manual_seed(4)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 3))
    x = torch.randn(5, 12)
    xr = x.clone().requires_grad_(True)
    model(xr).sum().backward()
    v = np.linalg.eigvalsh(np.corrcoef(xr.grad.double().numpy()))
    want = -np.sum(np.log(v + 1e-5) + 1 / (v + 1e-5))
    assert score("jacob_cov", model, (x, torch.zeros(5, dtype=torch.long))) == pytest.approx(want, rel=1e-6)
    dead = _nb201("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    b = _batch()
    assert math.isnan(score("jacob_cov", dead, b))
    assert score("synflow", dead, b) == 0.0


def test_params_and_flops_equal_the_analytic_metrics():
    from hwbench.analytic import analytic_metrics

    for config in ("fashion-mnist", "cifar10"):
        m = analytic_metrics(CELL, config)
        model = _nb201(CELL, config)
        b = _batch(config, 2)
        assert score("params", model, b) == m["params"]
        assert score("flops", model, b) == m["flops"]


def test_scores_leave_the_model_unchanged_and_repeat_exactly():
    model = _nb201(CELL)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.eval()
    b = _batch(n=8)
    first = score_many(ALL, model, b, seed=5)
    again = score_many(ALL, model, b, seed=5)
    assert not model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k
    for name in ALL:
        assert first[name][0] == again[name][0] or (math.isnan(first[name][0]) and math.isnan(again[name][0])), name
        assert first[name][1] >= 0.0
    assert score("zen", model, b, seed=5) == first["zen"][0]
    assert score("zen", model, b, seed=6) != first["zen"][0]


def test_grouped_scores_equal_single_scores():
    model = _nb201(CELL)
    b = _batch(n=8)
    grouped = score_many(["snip", "grad_norm", "plain", "fisher", "jacob_cov", "epe_nas"], model, b)
    for name, (value, _) in grouped.items():
        assert score(name, model, b) == pytest.approx(value, rel=1e-9, abs=1e-12), name


# ----------------------------------------------------------------------------- batches and campaign
def test_batches_are_deterministic_and_shaped_for_the_config():
    from hwbench.proxies.batches import make_batch

    x, y = make_batch("gaussian", "cifar10", 4, 7)
    assert x.shape == (4, 3, 32, 32) and y.shape == (4,) and int(y.max()) < 10
    assert torch.equal(x, make_batch("gaussian", "cifar10", 4, 7)[0])
    with pytest.raises(UnknownNameError, match="gaussian"):
        make_batch("cifar10-real", "cifar10", 4)
    try:
        xf, yf = make_batch("fashion-mnist", "cifar10", 4, 0)
    except Exception as exc:  # noqa: BLE001 - data absent on this machine
        pytest.skip(f"Fashion-MNIST not available: {exc}")
    assert xf.shape == (4, 3, 32, 32) and yf.dtype == torch.int64
    from hwbench.spaces.nb201 import get_config

    xo, yo = make_batch("fashion-mnist", "fashion-mnist", 4, 0)
    assert xo.shape == (4, *get_config("fashion-mnist").input_shape[1:]) and torch.equal(yo, yf)


def test_campaign_to_table_columns(tmp_path):
    import hwbench.table as tbl
    from hwbench.campaign import merge
    from hwbench.proxies import campaign as pc
    from hwbench.table import TableWriter

    assert pc.default_proxies("gaussian") == ["flops", "l2_norm", "params", "synflow", "zen"]
    assert pc.proxy_items("cifar10", indices=[4])[0]["proxies"] == pc.default_proxies("gaussian")
    assert pc.proxy_items("fashion-mnist", indices=[4])[0]["proxies"] == ALL
    names = ["synflow", "params", "nwot"]
    rep = pc.run_proxy_campaign("fashion-mnist", names, source="gaussian", batch_size=4, indices=[0, 7, 3124],
                                store_dir=tmp_path, workers=1, shard_size=2, progress=False, name="t")
    assert rep.complete and rep.items_run == 3
    cols = pc.to_columns(merge("t", tmp_path), "fashion-mnist")
    assert set(cols) == {f"fashion-mnist/proxy/{n}{s}" for n in names for s in ("", "_seconds")}
    direct = pc.score_cell(3124, "fashion-mnist", names, source="gaussian", batch_size=4)
    assert cols["fashion-mnist/proxy/params"][3124] == direct["params"]
    assert cols["fashion-mnist/proxy/nwot"][3124] == pytest.approx(direct["nwot"], rel=1e-12)
    assert np.isnan(cols["fashion-mnist/proxy/params"][1])
    proto = pc.protocol("fashion-mnist", names, "gaussian", 4, 0)
    with TableWriter(tmp_path / "nb201.h5") as w:
        pc.add_columns(w, cols, proto)
    t = tbl.load(tmp_path / "nb201.h5")
    assert t.column("fashion-mnist/proxy/params")[7] == cols["fashion-mnist/proxy/params"][7]
    assert t.column_attrs("fashion-mnist/proxy/synflow_seconds")["unit"] == "s"
    # resuming does no work
    rep2 = pc.run_proxy_campaign("fashion-mnist", names, source="gaussian", batch_size=4, indices=[0, 7, 3124],
                                 store_dir=tmp_path, workers=1, shard_size=2, progress=False, name="t")
    assert rep2.items_run == 0 and rep2.shards_skipped == 2


# ----------------------------------------------------------------------------- implementation check
#: Minimum Spearman rank correlation with NASLib's published CIFAR-10 scores on 30 cells sampled
#: from its subset (seed 0). hwbench runs on Gaussian inputs with random labels, batch 16 (NASLib
#: fed one real CIFAR-10 batch, which is not available here). Tiers, fixed by what each proxy
#: depends on (measured values in docs/proxies.md):
#:  * architecture only (params, flops): >= 0.97;
#:  * architecture + initialization (synflow, l2_norm): >= 0.85;
#:  * loss gradients / activation codes on data with labels (snip, grad_norm, fisher, nwot): >= 0.8;
#:    grasp (a Hessian-gradient product whose sign is unstable): >= 0.5;
#:  * input-Jacobian *correlations between samples* (jacob_cov, epe_nas): these measure how similarly
#:    the network treats different natural images; on i.i.d. noise the samples are unrelated and
#:    epe_nas's per-class grouping sees random labels, so agreement is expected to be lower:
#:    jacob_cov >= 0.6 (NASLib and NASWOT), epe_nas >= 0.45. With natural images (Fashion-MNIST
#:    resized to 3x32x32, next test) jacob_cov must rise to >= 0.8, which checks that explanation.
#:  * plain has no threshold: a signed sum of w * dL/dw close to zero whose sign follows the data and
#:    labels; its formula is checked by hand above.
THRESHOLDS = {
    "params": 0.97, "flops": 0.97, "synflow": 0.85, "l2_norm": 0.85, "snip": 0.8, "grad_norm": 0.8,
    "fisher": 0.8, "nwot": 0.8, "grasp": 0.5, "jacob_cov": 0.6, "epe_nas": 0.45,
}
NASWOT_THRESHOLD = 0.6


def _need_reference():
    if not (REFERENCE / "naslib-zc-nb201-subset").is_dir() or not (REFERENCE / "naswot-nb201-scores").is_dir():
        pytest.skip(f"reference scores (naslib-zc-nb201-subset, naswot-nb201-scores) not found under {REFERENCE}")


@pytest.mark.reference
@pytest.mark.slow
def test_agreement_with_naslib_and_naswot():
    _need_reference()
    from hwbench.proxies.reference import agreement

    res = agreement(REFERENCE, [*THRESHOLDS, "plain"], n_cells=30, cell_seed=0, source="gaussian", batch_size=16)
    got = {(r.proxy, r.reference): r for r in res}
    failures = []
    for name, thr in THRESHOLDS.items():
        r = got[(name, "naslib")]
        assert r.n >= 25, (name, r.n)
        if not r.spearman >= thr:
            failures.append(f"{name}: rho {r.spearman:.3f} < {thr}")
    r = got[("jacob_cov", "naswot")]
    if not r.spearman >= NASWOT_THRESHOLD:
        failures.append(f"jacob_cov vs NASWOT: rho {r.spearman:.3f} < {NASWOT_THRESHOLD}")
    assert np.isfinite(got[("plain", "naslib")].spearman)
    assert not failures, failures


@pytest.mark.reference
@pytest.mark.slow
def test_jacobian_proxies_agree_better_on_natural_images():
    _need_reference()
    from hwbench.proxies.batches import make_batch
    from hwbench.proxies.reference import agreement

    try:
        make_batch("fashion-mnist", "cifar10", 2)
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"Fashion-MNIST not available: {exc}")
    res = agreement(REFERENCE, ["jacob_cov", "nwot"], n_cells=30, cell_seed=0, source="fashion-mnist", batch_size=16)
    got = {(r.proxy, r.reference): r.spearman for r in res}
    assert got[("jacob_cov", "naslib")] >= 0.8, got
    assert got[("jacob_cov", "naswot")] >= 0.8, got
    assert got[("nwot", "naslib")] >= 0.9, got


def test_proxies_cli(tmp_path, capsys):
    import json

    from hwbench.cli import main

    assert main(["proxies", "list", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in listed] == ALL
    out = tmp_path / "px.h5"
    assert main(["proxies", "compute", "--config", "cifar10", "--indices", "5,15624", "--proxies",
                 "params,synflow", "--batch-size", "4", "--workers", "1", "--store-dir", str(tmp_path / "s"),
                 "--out", str(out), "--no-progress", "--format", "json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["items_run"] == 2 and res["columns"] == 4
    nats = REFERENCE / "nats_tss" / "nats_tss_test_acc_200ep.csv"
    if nats.is_file():
        assert main(["proxies", "report", "--table", str(out), "--config", "cifar10", "--nats-csv", str(nats),
                     "--format", "json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert {r["proxy"] for r in rows} == {"params", "synflow"} and all(r["n"] == 2 for r in rows)
    assert main(["proxies", "compute", "--proxies", "synflw", "--indices", "1"]) == 2


def test_proxy_table_columns_from_a_real_campaign(tmp_path: Path) -> None:
    """Shards of a (tiny) real proxy campaign become ``<config>/proxy/*`` columns; absent shards are NaN."""
    from hwbench.proxies.campaign import run_proxy_campaign, table_columns
    from hwbench.spaces.nb201 import SIZE

    with pytest.raises(FileNotFoundError):
        table_columns(tmp_path)
    run_proxy_campaign("fashion-mnist", ["params", "synflow"], indices=[5, 11785], store_dir=tmp_path, workers=1,
                       progress=False)
    cols = {c.name: c for c in table_columns(tmp_path)}
    col = cols["fashion-mnist/proxy/synflow"]
    assert len(col.values) == SIZE and np.isfinite(col.values[[5, 11785]]).all()
    assert np.isnan(col.values).sum() == SIZE - 2
    assert col.attrs["source"] == "analytic" and cols["fashion-mnist/proxy/synflow_seconds"].attrs["unit"] == "s"
