"""Compression benchmark: space encoding, fake quantization, pruning, costs, determinism, campaign, CLI."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from hwbench.compress.bases import PINNED_BASES, BaseNetworkError, load_base, save_base
from hwbench.compress.cost import compress_cost, compressed_graph, mcu_cost
from hwbench.compress.space import SPACES, CompressionSpace, InvalidCompressionConfigError, get_space
from hwbench.errors import UnknownNameError

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

BEST = PINNED_BASES["best"]
SMALL = PINNED_BASES["small"]


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _net(arch: str = BEST, seed: int = 0):
    from hwbench.models.nb201 import build_model

    torch.manual_seed(seed)
    m = build_model(arch, "fashion-mnist")
    # give batch norm non-trivial statistics so that pruning and quantization see realistic tensors
    m.train()
    with torch.no_grad():
        m(torch.randn(256, 1, 12, 12))
    return m.eval()


# ----------------------------------------------------------------------------- space
def test_space_size_and_roundtrip():
    sp = get_space("mpq-prune")
    assert sp.size == 4**9 == 262_144 and sp.n_width_choices == 64 and sp.n_bit_choices == 4096
    assert get_space("mpq-prune-small").size == 8 * 729
    rng = np.random.default_rng(0)
    for i in [0, 1, sp.size - 1, *rng.integers(0, sp.size, 200).tolist()]:
        s = str(sp.from_index(i))
        assert sp.index(s) == i and sp.canonical(s) == s and sp.parse(i) == sp.parse(s)
    assert str(sp.from_index(0)) == "m25.25.25-w2.2.2-a2.2.2"
    assert str(sp.from_index(sp.size - 1)) == "m100.100.100-w32.32.32-a32.32.32"
    # width choices are contiguous blocks of 4,096 indices (last digit = stage-3 activation bits)
    assert str(sp.from_index(1)) == "m25.25.25-w2.2.2-a2.2.4"
    assert str(sp.from_index(4096)) == "m25.25.50-w2.2.2-a2.2.2"
    assert sp.width_choices()[-1] == (1.0, 1.0, 1.0)
    tiny = get_space("test-tiny")
    allc = list(tiny.enumerate())
    assert len(allc) == tiny.size == 512 and len(set(allc)) == 512
    assert [tiny.index(c) for c in allc] == list(range(512))
    assert sp.encode("m100.50.25-w8.4.2-a32.8.2").tolist() == [1.0, 0.5, 0.25, 3, 2, 1, 5, 3, 1]
    m = sp.mutate("m100.50.25-w8.4.2-a32.8.2", rng)
    assert sum(a != b for a, b in zip(sp.digits(m), sp.digits("m100.50.25-w8.4.2-a32.8.2"))) == 1


@pytest.mark.parametrize("bad, why", [
    ("m100.50.75-w8.4.8-a8.8.16", "activation bit-width 16"),
    ("m100.60.75-w8.4.8-a8.8.8", "width 60%"),
    ("m100.50-w8.4.8-a8.8.8", "not of the form"),
    ("w8.4.8-a8.8.8-m100.50.75", "not of the form"),
    (262_144, "out of range"),
    (-1, "out of range"),
    (1.5, "unsupported type"),
])
def test_space_parse_errors(bad, why):
    with pytest.raises(InvalidCompressionConfigError) as e:
        get_space("mpq-prune").parse(bad)
    msg = str(e.value)
    assert why in msg and "bit-widths from {2, 4, 8, 32}" in msg and repr(bad) in msg


def test_space_registry_and_validation():
    with pytest.raises(UnknownNameError, match="mpq-prune"):
        get_space("mpq-prunee")
    with pytest.raises(Exception, match="ascending"):
        CompressionSpace("x", bits=(8, 4))
    assert set(SPACES) >= {"mpq-prune", "mpq-prune-small", "test-tiny"}


# ----------------------------------------------------------------------------- quantization
def test_weight_quantization_levels():
    from hwbench.compress.nets import quantize_weight

    w = torch.randn(6, 4, 3, 3)
    assert torch.equal(quantize_weight(w, 32), w)
    for b in (2, 4, 8):
        q = quantize_weight(w, b)
        for c in range(6):
            levels = torch.unique(q[c]).numel()
            assert levels <= 2**b - 1  # symmetric: -qmax..qmax
            if b == 2:  # ternary: {-s, 0, s} per channel
                assert torch.unique(q[c].abs()[q[c] != 0]).numel() == 1
    e = [float(((quantize_weight(w, b) - w) ** 2).mean()) for b in (2, 4, 8)]
    assert e[0] > e[1] > e[2] > 0


def test_fake_quant_8bit_close_2bit_worse():
    from hwbench.compress.nets import quantize_network, set_bits

    net = _net()
    x = torch.randn(512, 1, 12, 12)
    with torch.inference_mode():
        ref = net(x)
    q = quantize_network(net, torch.randn(256, 1, 12, 12), (2, 4, 8, 32))
    errs = {}
    for b in (32, 8, 4, 2):
        set_bits(q, (b,) * 3, (b,) * 3)
        with torch.inference_mode():
            out = q(x)
        errs[b] = float((out - ref).norm() / ref.norm())
    assert errs[32] < 1e-6
    assert errs[8] < 0.05
    assert errs[2] > 4 * errs[8] and errs[2] > errs[4] > errs[8]
    # weights-only and activations-only quantization each perturb the output
    set_bits(q, (2, 2, 2), (32, 32, 32))
    with torch.inference_mode():
        assert float((q(x) - ref).norm()) > 0
    # the original network is untouched
    with torch.inference_mode():
        assert torch.equal(net(x), ref)


# ----------------------------------------------------------------------------- pruning
def test_prune_full_width_is_identity_and_l1_selection():
    from hwbench.compress.nets import prune_network

    net = _net()
    x = torch.randn(16, 1, 12, 12)
    same = prune_network(net, (1.0, 1.0, 1.0))
    with torch.inference_mode():
        assert torch.allclose(same(x), net(x), atol=1e-6)
    # make stem filter 3 and 5 dominant: at width 0.25 (2 of 8) stage 1 keeps exactly them
    with torch.no_grad():
        net.stem[0].weight[[3, 5]] *= 100.0
    p = prune_network(net, (0.25, 1.0, 1.0))
    assert torch.equal(p.stem[0].weight, net.stem[0].weight[[3, 5]])


@pytest.mark.parametrize("arch", [BEST, SMALL])
def test_prune_shapes_params_and_graph(arch):
    from hwbench.builders.torch_export import graph_from_module
    from hwbench.compress.nets import channel_counts, prune_network

    net = _net(arch)
    widths = (0.5, 0.75, 0.25)
    p = prune_network(net, widths).eval()
    assert channel_counts(p) == (4, 12, 8)
    with torch.inference_mode():
        assert p(torch.randn(3, 1, 12, 12)).shape == (3, 10)
    n_params = sum(t.numel() for t in p.parameters())
    assert n_params < sum(t.numel() for t in net.parameters())
    g = compressed_graph(arch, "m50.75.25-w8.8.8-a8.8.8")
    assert g.params == n_params
    g.validate()
    assert g.signature() == graph_from_module(p, torch.zeros(1, 1, 12, 12)).signature()
    full = compressed_graph(arch, "m100.100.100-w32.32.32-a32.32.32")
    assert full.params == sum(t.numel() for t in net.parameters())
    assert g.macs < full.macs


# ----------------------------------------------------------------------------- costs
def test_int8_cost_equals_simulator():
    """W8A8: every conv / linear kernel is an int8 kernel, so cycles and flash are the int8 model's
    exactly; the tensors the accuracy evaluation keeps float (conv outputs, sums, pools) stay float
    in the arena, so peak SRAM is above the all-int8 deployment's. All fp32 = the float graph."""
    from hwbench.builders.nb201_analytic import build_graph
    from simulators import mcu
    from simulators.devices import get_device

    for arch in (BEST, SMALL):
        g = build_graph(arch, "fashion-mnist")
        e = mcu.estimate(g, get_device("mcu-stm32f746"))
        c = mcu_cost(compressed_graph(arch, "m100.100.100-w8.8.8-a8.8.8"))
        assert math.isclose(c["latency_ms"], e.latency_ms, rel_tol=1e-12)
        assert c["flash_bytes"] == e.flash_bytes
        assert c["peak_sram_bytes"] > e.peak_sram_bytes
        f = mcu.estimate(g, get_device("mcu-stm32f746"), layer_bits="graph")  # the analytic graph is fp32
        c32 = mcu_cost(compressed_graph(arch, "m100.100.100-w32.32.32-a32.32.32"))
        assert c32["latency_ms"] == f.latency_ms and c32["peak_sram_bytes"] == f.peak_sram_bytes
        assert c32["flash_bytes"] == f.flash_bytes


def test_cost_monotone_in_bits_and_width():
    sp = get_space("mpq-prune")
    rng = np.random.default_rng(1)
    # the greedy arena planner is a heuristic, so arena (and peak SRAM) sizes may dip when a tensor
    # grows (fragmentation changes); the live-bytes lower bound is monotone, and the extremes are ordered
    mem = ("model_size_bytes", "flash_bytes", "arena_lower_bound_bytes")
    for _ in range(6):
        c = sp.from_index(int(rng.integers(sp.size)))
        base = compress_cost("best", c)
        for s in range(3):
            for field in ("w_bits", "a_bits", "widths"):
                vals = list(getattr(c, field))
                opts = sp.widths if field == "widths" else sp.bits
                costs = []
                for v in opts:
                    vals[s] = v
                    cfg = sp.parse(c)
                    cfg = type(cfg)(**{**cfg.__dict__, field: tuple(vals)})
                    costs.append(compress_cost("best", cfg))
                # SRAM is not monotone in the weight bits by design: an fp32 kernel drops the int8
                # kernels' requantization data and im2col scratch, and a float kernel with quantized
                # weights needs a dequantized filter row (see cost.py); storage is monotone
                for m in mem if field != "w_bits" else mem[:2]:
                    seq = [k[m] for k in costs]
                    if field == "a_bits" and m == "arena_lower_bound_bytes":
                        # only conv / linear inputs carry the activation bits (what the accuracy side
                        # quantizes); at 32 bits the kernel turns float and drops CMSIS-NN scratch, so
                        # the live-bytes bound is monotone over the integer widths only
                        seq = [k[m] for v, k in zip(opts, costs) if v <= 8]
                    assert all(a <= b for a, b in itertools.pairwise(seq)), (field, s, m, seq)
                if field == "widths":  # (int8 kernels carry per-channel requantization data, float ones don't)
                    assert costs[0]["peak_sram_bytes"] <= costs[-1]["peak_sram_bytes"]
                if field == "widths":
                    seq = [k["latency_ms"] for k in costs]
                    assert all(a <= b for a, b in itertools.pairwise(seq))
                else:  # int8 kernels are the fastest; float is slowest; sub-byte unpacking costs
                    lat = dict(zip(opts, (k["latency_ms"] for k in costs)))
                    assert lat[8] <= lat[4] <= lat[2] < lat[32] or lat[8] == lat[32]
        assert base["params"] > 0
    lo = compress_cost("best", "m100.100.100-w2.2.2-a2.2.2")
    hi = compress_cost("best", "m100.100.100-w32.32.32-a32.32.32")
    assert hi["model_size_bytes"] > 14 * lo["model_size_bytes"]
    fpga8 = compress_cost("best", "m100.100.100-w8.8.8-a8.8.8", "fpga-zcu102")
    fpga32 = compress_cost("best", "m100.100.100-w8.8.32-a8.8.8", "fpga-zcu102")
    assert fpga8["weight_bytes"] < fpga32["weight_bytes"]


# ----------------------------------------------------------------------------- accuracy
@pytest.fixture(scope="module")
def small_data():
    """Real Fashion-MNIST tensors (skips without the dataset), cut small for speed."""
    from hwbench.data.fashion_mnist import DatasetNotFoundError

    try:
        from hwbench.compress.accuracy import _data

        d = _data()
    except DatasetNotFoundError as exc:
        pytest.skip(f"Fashion-MNIST not installed: {exc}")
    return {"train": (d["train"][0][:2048], d["train"][1][:2048]), "valid": d["valid"],
            "test": (d["test"][0][:300], d["test"][1][:300])}


@pytest.fixture(scope="module")
def trained_small(small_data):
    """The 'small' base cell briefly trained on 2,048 real images (well above chance)."""
    from hwbench.compress.nets import fit

    torch.set_num_threads(1)
    net = _net(SMALL)
    fit(net, *small_data["train"], epochs=2, lr=3e-3, weight_decay=1e-2, batch_size=128, seed=0)
    return net.eval()


def test_evaluate_config_deterministic_and_block_consistent(small_data, trained_small):
    from hwbench.compress.accuracy import FinetuneRecipe, evaluate_bits_block, evaluate_config, pruned_model

    net = trained_small
    ft = FinetuneRecipe(epochs=2, train_subset=2048)
    sp = get_space("test-tiny")
    cfg = "m100.100.50-w4.32.4-a4.4.32"
    r1 = evaluate_config(net, cfg, sp, seed=3, data=small_data, finetune=ft)
    r2 = evaluate_config(net, cfg, sp, seed=3, data=small_data, finetune=ft)
    assert r1["test_acc"] == r2["test_acc"] and r1["float_test_acc"] == r2["float_test_acc"]
    assert 0.0 <= r1["test_acc"] <= 1.0 and r1["params"] < sum(t.numel() for t in net.parameters())
    # the block walk gives exactly the per-config numbers
    c = sp.parse(cfg)
    fnet, _ = pruned_model(net, c.widths, 3, ft, data=small_data)
    block = evaluate_bits_block(fnet, sp, small_data)
    assert block.shape == (sp.n_bit_choices,)
    assert block[sp.index(c) % sp.n_bit_choices] == r1["test_acc"]
    assert block[-1] == r1["float_test_acc"]  # w32/a32 everywhere = the float network
    assert r1["float_test_acc"] > 0.4  # a real (briefly trained, pruned, fine-tuned) classifier
    # 4-bit everywhere stays above chance; the block holds real fractions of 300 images
    assert block[0] > 0.2 and np.allclose(block * 300, np.round(block * 300))


def test_safetensors_roundtrip(tmp_path):
    from hwbench.train.recipe import FASHION_MNIST_RECIPE

    net = _net(SMALL)
    meta = {"format": "hwbench-compress-base/1", "role": "small", "arch": SMALL, "index": "0",
            "config": "fashion-mnist", "seed": "0", "recipe": json.dumps(FASHION_MNIST_RECIPE.to_dict())}
    p = save_base(net, meta, tmp_path / "small.safetensors")
    assert p.read_bytes()[:8]  # a file was written, not a pickle
    m2, meta2 = load_base("small", tmp_path)
    x = torch.randn(4, 1, 12, 12)
    with torch.inference_mode():
        assert torch.equal(m2(x), net(x))
    assert meta2["arch"] == SMALL
    with pytest.raises(BaseNetworkError, match="saved bases: small"):
        load_base("best", tmp_path)


def test_campaign_two_items(tmp_path, small_data, trained_small):
    from hwbench.campaign import merge
    from hwbench.compress.accuracy import FinetuneRecipe
    from hwbench.compress.campaign import compress_items, evaluate_item, run_compress_campaign
    from hwbench.train.recipe import FASHION_MNIST_RECIPE

    net = trained_small
    meta = {"format": "hwbench-compress-base/1", "role": "small", "arch": SMALL, "index": "0",
            "config": "fashion-mnist", "seed": "0", "recipe": json.dumps(FASHION_MNIST_RECIPE.to_dict())}
    save_base(net, meta, tmp_path / "bases" / "small.safetensors")
    items = compress_items("test-tiny", ["small"])
    assert len(items) == 8 and items[-1]["widths"] == "m100.100.100"
    # in-process: the last block (no pruning) against the network evaluated directly
    r = evaluate_item(items[-1], str(tmp_path / "bases"), test_limit=300)
    assert r["index_start"] == 7 * 64 and len(r["test_acc"]) == 64
    assert r["test_acc"][-1] == r["float_test_acc"]
    # through the campaign engine (one worker process), resumable
    rep = run_compress_campaign(space="test-tiny", bases=["small"], base_dir=tmp_path / "bases",
                                store_dir=tmp_path / "shards", workers=1, limit=1, progress=False, test_limit=300,
                                finetune=FinetuneRecipe(epochs=1, train_subset=512))
    assert rep.shards_written == 1
    merged = merge("compress-test-tiny-fashion-mnist", tmp_path / "shards")
    assert len(merged["base"]) == 1 and np.asarray(merged["test_acc"]).shape[-1] == 64
    assert merged["widths"][0] == "m50.50.50" and merged["params"][0] < r["params"]
    # resuming does not redo the finished item
    rep2 = run_compress_campaign(space="test-tiny", bases=["small"], base_dir=tmp_path / "bases",
                                 store_dir=tmp_path / "shards", workers=1, limit=0, progress=False, test_limit=300,
                                 finetune=FinetuneRecipe(epochs=1, train_subset=512))
    assert rep2.shards_skipped == 1 and rep2.items_run == 0


# ----------------------------------------------------------------------------- CLI
def test_cli(capsys):
    from hwbench.cli import main

    assert main(["compress", "spaces", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["space"]: r["size_per_base"] for r in rows}["mpq-prune"] == 262_144
    assert main(["compress", "cost", "best", "m100.50.75-w8.4.8-a8.8.32", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == pytest.approx(compress_cost("best", "m100.50.75-w8.4.8-a8.8.32"))
    assert main(["compress", "cost", "best", "m100.50.75-w8.4.8-a8.8.3"]) == 2
    assert "bit-widths from {2, 4, 8, 32}" in capsys.readouterr().err
