"""The TVM compile path: host target, deployed network (BN folded, none removed), compile + check, memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import tvm  # the tvm extra is required (CI installs it)

from hwbench.measure.compile import (
    CompileError,
    compile_cell,
    cpu_info,
    cuda_target,
    deployed_model,
    example_input,
    host_target,
    reference_model,
    target_json,
)
from hwbench.spaces.nb201 import SPACE, is_connected, parse

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|"
# cells that exercise every pruning case: none edges, a node of only none edges feeding a conv
# (its folded bias becomes a constant), a pooled constant, a disconnected cell, all-skip, all-conv
CASES = [
    ARCH,
    "|none~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|",
    "|none~0|+|none~0|nor_conv_3x3~1|+|none~0|avg_pool_3x3~1|nor_conv_1x1~2|",
    "|none~0|+|skip_connect~0|nor_conv_3x3~1|+|avg_pool_3x3~0|avg_pool_3x3~1|nor_conv_1x1~2|",
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|",
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
]


def test_cpu_info_parses_a_cpuinfo_file(tmp_path: Path) -> None:
    f = tmp_path / "cpuinfo"
    f.write_text("processor\t: 0\nmodel name\t: Test CPU 9000\ncpu family\t: 25\nmodel\t\t: 17\n"
                 "flags\t\t: fpu sse sse2 avx2 avx512f avx512_vnni fma\n\nprocessor\t: 1\nflags\t\t: other\n")
    info = cpu_info(f)
    assert info["model_name"] == "Test CPU 9000"
    assert info["family"] == "25" and info["model"] == "17"
    assert info["flags"] == sorted(["fpu", "sse", "sse2", "avx2", "avx512f", "avx512_vnni", "fma"])


def test_host_target_is_a_dict_with_this_cpus_features() -> None:
    t = host_target()
    assert t["kind"] == "llvm" and isinstance(t["mattr"], list) and t["num-cores"] >= 1
    flags = set(cpu_info()["flags"])
    if "avx2" in flags:
        assert "+avx2" in t["mattr"]
    if "avx512f" in flags:
        assert "+avx512f" in t["mattr"]
    if "avx512_vnni" in flags:
        assert "+avx512vnni" in t["mattr"]
    assert t["mcpu"] == str(tvm.target.codegen.llvm_get_system_cpu())
    assert "native" not in json.dumps(t)
    generic = host_target(mcpu=None)
    assert "mcpu" not in generic and generic["mattr"] == t["mattr"]
    # the JSON record is stable and TVM accepts the dict
    assert json.loads(target_json(t)) == t
    tvm.target.Target(t)


def test_bad_mcpu_is_rejected_with_the_target_named() -> None:
    with pytest.raises(CompileError, match="not-a-cpu"):
        host_target(mcpu="not-a-cpu")


@pytest.mark.parametrize("config", ["cifar10", "fashion-mnist"])
def test_deployed_network_equals_the_nb201_network(config: str) -> None:
    """Folding BN and removing none edges (exactly) keeps the function of every case."""
    x = example_input(config)
    for arch in CASES:
        ref = reference_model(arch, config)
        dep = deployed_model(arch, config, reference=ref)
        with torch.no_grad():
            want, got = ref(x), dep(x)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-5, err_msg=arch)
        kinds = {type(m).__name__ for m in dep.modules()}
        assert "Zero" not in kinds and "ReLUConvBN" not in kinds
        # only the final BN (after a sum, nothing to fold into) is left
        assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in dep.modules()) == 1


def test_reference_model_has_randomised_bn_statistics() -> None:
    ref = reference_model(ARCH, "fashion-mnist")
    bn = ref.stem[1]
    assert not torch.allclose(bn.running_mean, torch.zeros_like(bn.running_mean))
    assert not torch.allclose(bn.running_var, torch.ones_like(bn.running_var))
    # seeded: the same weights every time
    again = reference_model(ARCH, "fashion-mnist")
    assert torch.equal(again.stem[0].weight, ref.stem[0].weight)


@pytest.fixture(scope="module")
def fm_cell():  # type: ignore[no-untyped-def]
    """ARCH compiled for fashion-mnist (shared: each compile takes seconds)."""
    return compile_cell(ARCH, "fashion-mnist")


def _param_bytes(model: torch.nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


def test_compile_cell_checks_against_eager_and_reports_memory() -> None:
    cc = compile_cell(ARCH, "cifar10")
    assert cc.check["ok"] and cc.check["max_abs_err"] <= cc.check["atol"]
    assert cc.check["rtol"] == 1e-4
    assert json.loads(cc.target_json) == host_target()
    # planned storage: a few reusable buffers, each at most the largest activation (1x16x32x32 fp32
    # = 65,536 B) -- far less than the sum of all activations
    assert 2 * 65536 <= cc.memory["planned_activation_bytes"] <= 8 * 65536
    assert cc.memory["output_bytes"] == 10 * 4
    # node 2 of ARCH feeds only a none edge: it is dead, and its conv's weights are not in the module
    dep = deployed_model(ARCH, "cifar10")
    assert cc.param_bytes < _param_bytes(dep)
    # the compiled module runs and gives the eager output on another input too
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(7))
    from hwbench.measure.compile import run_once

    with torch.no_grad():
        want = reference_model(ARCH, "cifar10")(x).numpy()
    np.testing.assert_allclose(run_once(cc.vm(), x.numpy()), want, rtol=1e-4, atol=1e-4)


def test_parameter_bytes_are_the_deployed_parameters() -> None:
    live = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|skip_connect~2|"
    cc = compile_cell(live, "fashion-mnist")
    dep = deployed_model(live, "fashion-mnist")
    # every parameter is used; constants = parameters + the last BN's statistics (folded or not)
    assert _param_bytes(dep) <= cc.param_bytes <= _param_bytes(dep) + 4 * 4 * 32


@pytest.mark.slow
def test_reference_network_compiles_too_and_is_larger(fm_cell) -> None:  # type: ignore[no-untyped-def]
    """deployed=False compiles NB201's module as it is (BN ops, x*0 kept): same output, more work."""
    dep = fm_cell
    ref = compile_cell(ARCH, "fashion-mnist", deployed=False)
    assert ref.check["ok"] and not ref.deployed
    assert ref.param_bytes > dep.param_bytes  # BN parameters and statistics kept


def test_disconnected_cell_compiles_to_almost_nothing(fm_cell) -> None:  # type: ignore[no-untyped-def]
    arch = "|none~0|+|none~0|nor_conv_3x3~1|+|none~0|avg_pool_3x3~1|nor_conv_1x1~2|"
    assert not is_connected(parse(arch))
    cc = compile_cell(arch, "fashion-mnist")
    assert cc.check["ok"]
    connected = fm_cell
    assert cc.memory["planned_activation_bytes"] < connected.memory["planned_activation_bytes"] / 4


def test_cuda_target_compiles_without_a_gpu() -> None:
    cc = compile_cell(ARCH, "fashion-mnist", target=cuda_target("sm_87"), check=False)
    assert cc.target == {"kind": "cuda", "arch": "sm_87"}
    assert "cuda" in cc.target_json
    assert cc.memory["planned_activation_bytes"] > 0


def test_unknown_config_and_arch_raise_hwbench_errors() -> None:
    from hwbench.errors import InvalidArchitectureError, UnknownNameError

    with pytest.raises(UnknownNameError, match="config"):
        compile_cell(ARCH, "mnist")
    with pytest.raises(InvalidArchitectureError):
        compile_cell("|conv~0|", "cifar10")


def test_import_hwbench_and_measure_without_tvm() -> None:
    """``import hwbench`` / ``hwbench.measure`` and the CLI parser work when tvm cannot be imported."""
    code = ("import sys; sys.modules['tvm'] = None; sys.modules['onnxruntime'] = None\n"
            "import hwbench, hwbench.measure, hwbench.measure.protocol, hwbench.measure.tuning, hwbench.measure.run\n"
            "from hwbench.cli import build_parser\n"
            "build_parser(['measure'])\n"
            "assert 'torch' not in sys.modules, 'torch imported at import time'\n"
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_every_edge_case_of_the_space_is_covered_by_cases() -> None:
    # guard the CASES list: it holds connected and disconnected cells and every op
    ops = {o for a in CASES for o in parse(a)}
    assert ops == {0, 1, 2, 3, 4}
    assert any(not is_connected(parse(a)) for a in CASES)
    assert len({SPACE.canonical(a) for a in CASES}) == len(CASES)
