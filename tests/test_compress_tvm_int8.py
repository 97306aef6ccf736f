"""TVM-compiled int8 networks of compression configurations (hwbench.compress.tvm_int8): real TVM, real torch,
the shipped ``small`` base network and real Fashion-MNIST images."""

from __future__ import annotations

import copy
import math
import re

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")
try:
    import tvm  # noqa: F401
except ImportError as exc:  # pragma: no cover - CI installs the tvm extra
    pytest.skip(f"apache-tvm is not importable ({exc}); install 'hwbench[tvm]'", allow_module_level=True)

from conftest import COMPRESS_BASE_DIR

from hwbench.compress.space import InvalidCompressionConfigError
from hwbench.compress.tvm_int8 import (
    INT8_MIN_ARGMAX,
    INT8_MIN_CLOSE,
    Int8CompileError,
    check_agreement,
    check_supported,
    compile_compressed,
    kernel_dtypes,
    relax_module,
)

SPACE = "mpq-prune-small"
PRUNED = "m50.50.50-w8.8.8-a8.8.8"
FULL = "m100.100.100-w8.8.8-a8.8.8"


@pytest.fixture(scope="module")
def data():
    from hwbench.data.fashion_mnist import DatasetNotFoundError

    for role in ("small", "mcu"):
        if not (COMPRESS_BASE_DIR / f"{role}.safetensors").is_file():
            pytest.skip(f"base network {role} not trained (missing {COMPRESS_BASE_DIR}/{role}.safetensors)")
    try:
        from hwbench.compress.accuracy import _data

        return _data()
    except DatasetNotFoundError as exc:
        pytest.skip(f"Fashion-MNIST not installed: {exc}")


@pytest.fixture(scope="module")
def compiled(data):
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield {cfg: compile_compressed("small", cfg, space=SPACE, base_dir=COMPRESS_BASE_DIR, data=data)
               for cfg in (PRUNED, FULL)}
    finally:
        torch.set_num_threads(n)


@pytest.mark.parametrize("cfg", [PRUNED, FULL])
def test_int8_agrees_with_fake_quant(compiled, cfg):
    r = compiled[cfg]
    c8, c32 = r.int8.check, r.fp32.check
    assert c8["ok"] and c8["images"] == 256
    assert c8["close_fraction"] >= INT8_MIN_CLOSE and c8["same_argmax_fraction"] >= INT8_MIN_ARGMAX
    assert c32["ok"] and c32["close_fraction"] == 1.0 and c32["max_abs_err"] < 1e-3
    # the compiled networks are the ones the check ran: the pruned net really is smaller
    assert r.torch_fp32.classifier.in_features == (16 if cfg == PRUNED else 32)


def test_kernels_are_int8_in_the_ir(compiled):
    import tvm as _tvm

    from hwbench.measure.compile import _apply, host_target, relax_passes

    r = compiled[PRUNED]
    # small: stem conv, 2 reduction blocks x 3 convs, classifier (its cells have no convs)
    assert len(r.int8.kernels) == r.int8.int8_kernels == 8
    assert all(k["data"] in ("int8", "uint8") and k["weight"] == "int8" and k["out"] == "int32"
               for k in r.int8.kernels)
    assert {k["op"] for k in r.int8.kernels} == {"relax.nn.conv2d", "relax.matmul"}
    assert r.fp32.int8_kernels == 0 and all(k["data"] == "float32" for k in r.fp32.kernels)
    # after legalization every conv PrimFunc reads 8-bit data and weights
    from hwbench.compress.tvm_int8 import int8_module

    tgt = _tvm.target.Target(host_target())
    planned = _apply(relax_passes(tgt, stage="planned"), int8_module(r.torch_int8), tgt, None)
    convs = [f.script() for gv, f in planned.functions.items()
             if isinstance(f, _tvm.tirx.PrimFunc) and gv.name_hint.startswith(("fused_conv2d", "fused_matmul"))]
    assert len(convs) == 8
    for text in convs:
        header = next(line for line in text.splitlines() if line.startswith("def main("))
        dtypes = re.findall(r'T\.Buffer\(\(.*?\), "(\w+)"\)', header)
        assert dtypes[0] in ("int8", "uint8") and dtypes[1] == "int8", header  # 8-bit data and weights
        assert re.search(r'(conv2d_nchw|matmul)\w*_intermediate = .*"int32"\)', text), "int32 accumulator"
    script = planned["main"].script()
    assert 'R.dtype("uint8")' in script and 'R.dtype("int8")' in script


@pytest.mark.parametrize("cfg", [PRUNED, FULL])
def test_param_bytes_about_a_quarter(compiled, cfg):
    from torch import nn

    r = compiled[cfg]
    layers = [m for m in r.torch_fp32.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    n_w = sum(m.weight.numel() for m in layers)
    n_c = sum(m.weight.shape[0] for m in layers)
    b8, b32 = r.int8.param_bytes, r.fp32.param_bytes
    assert b32 >= 4 * n_w  # float weights (+ biases)
    # int8 weights + per output channel a float32 scale and bias + one float32 activation scale per layer
    # + the final BN-ReLU's per-channel affine (float in both networks)
    overhead = 8 * n_c + 4 * len(layers) + 8 * r.torch_fp32.classifier.in_features
    assert n_w <= b8 <= n_w + overhead
    assert b32 / 4 <= b8 <= b32 / 4 + overhead
    assert 0.25 <= b8 / b32 < 0.3
    assert r.int8.memory["planned_activation_bytes"] > 0 and r.fp32.memory["planned_activation_bytes"] > 0


@pytest.mark.parametrize("bad, why", [
    ("m50.50.50-w8.4.8-a8.8.8", "stage 2 has w4/a8"),
    ("m100.100.100-w8.8.8-a8.8.32", "stage 3 has w8/a32"),
    ("m50.100.100-w32.32.32-a32.32.32", "no int8 stage"),
])
def test_unsupported_config_raises(bad, why):
    with pytest.raises(Int8CompileError, match=why) as ei:
        compile_compressed("small", bad, space=SPACE, base_dir=COMPRESS_BASE_DIR)
    assert bad in str(ei.value)
    with pytest.raises(InvalidCompressionConfigError, match="w16"):
        check_supported("m100.100.100-w16.8.8-a8.8.8", SPACE)


def test_check_detects_a_wrong_network(compiled, data):
    r = compiled[PRUNED]
    wrong = copy.deepcopy(r.torch_int8)
    with torch.no_grad():
        wrong.classifier.layer.bias[0] += 5.0  # class 0 wins far more often
    with pytest.raises(Int8CompileError, match="disagrees with the torch fake-quant network"):
        check_agreement(r.int8, wrong, data["test"][0][:256], "sabotaged")
    assert r.int8.check["ok"] is False


def test_mixed_precision_cell_convs(data):
    """mcu has 1x1 and 3x3 convs in its cells; stage 2 stays float."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        r = compile_compressed("mcu", "m50.100.75-w8.32.8-a8.32.8", space="mpq-prune", base_dir=COMPRESS_BASE_DIR,
                               data=data)
    finally:
        torch.set_num_threads(n)
    assert r.int8.check["ok"] and r.fp32.check["ok"]
    assert (r.int8.int8_kernels, len(r.int8.kernels)) == (9, 14)
    assert [k["int8"] for k in r.int8.kernels][3:8] == [False] * 5  # stage 2: reduction (3) + cell (2)
    # a network with a 4-bit layer is refused by the graph builder too
    from hwbench.compress.nets import set_bits

    q = copy.deepcopy(r.torch_int8)
    set_bits(q, (8, 32, 4), (8, 32, 8))
    with pytest.raises(Int8CompileError, match="w4/a8"):
        relax_module(q)
    assert kernel_dtypes(relax_module(r.torch_fp32))[0]["int8"] is False


def test_measure_hook_runs(compiled):
    """Code path only (tiny protocol); the latency numbers are not results."""
    from hwbench.measure.protocol import Protocol

    rec = compiled[PRUNED].measure(Protocol(threads=1, warmup=1, repeats=3, min_repeat_ms=1.0, max_attempts=1))
    assert rec["int8_latency_ms"] > 0 and rec["fp32_latency_ms"] > 0
    assert math.isclose(rec["int8_fp32_latency_ratio"], rec["int8_latency_ms"] / rec["fp32_latency_ms"])
    assert rec["int8_threads"] == rec["fp32_threads"] == 1 and rec["fingerprint"]["threads"] == 1
    assert rec["int8_param_bytes"] == compiled[PRUNED].int8.param_bytes


def test_cli(data, capsys):
    import json

    from hwbench.cli import main

    assert main(["compress", "tvm-int8", "small", "m50.50.50-w8.4.8-a8.8.8", "--space", SPACE]) == 2
    assert "stage 2 has w4/a8" in capsys.readouterr().err
    assert main(["compress", "tvm-int8", "small", "m50.100.100-w8.8.8-a8.8.8", "--space", SPACE,
                 "--base-dir", str(COMPRESS_BASE_DIR), "--format", "json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["config"] == "m50.100.100-w8.8.8-a8.8.8" and rec["int8_check_ok"] and rec["fp32_check_ok"]
    assert rec["int8_int8_kernels"] == rec["int8_weighted_kernels"] == 8 and "int8_latency_ms" not in rec
