"""Compile an NB201 cell with TVM (Relax) for the host CPU (or CUDA, or any LLVM target).

Path: :func:`deployed_model` (the NB201 network of a cell in eval mode, batch 1, with batch norm
folded into the convolutions and NB201's ``none`` edges removed) -> ``torch.export`` ->
``tvm.relax.frontend.torch.from_exported_program`` -> :func:`relax_pipeline` -> ``relax.build``.

The measured network is the **deployed** one (see docs/measurement.md):

* every ``ReLU-Conv-BN`` (cells, reduction blocks) and the stem ``Conv-BN`` become one convolution
  with a bias (``torch.nn.utils.fusion.fuse_conv_bn_eval``, done in torch before export, so that
  the Relax graph holds plain ``conv2d + bias`` and one schedule per convolution shape serves
  every cell). The final ``BN-ReLU`` (after a sum, no convolution to fold into) stays a BN, which
  Relax turns into a fused per-channel affine + ReLU;
* a ``none`` edge contributes nothing and is dropped. Exactly: a node that receives only ``none``
  edges is zero; ``skip`` and ``avg_pool`` of zero are zero; a ReLU-Conv(bias) of zero is its
  bias (a per-channel constant, added to the node's other inputs by broadcasting); ``avg_pool``
  with ``count_include_pad=False`` of a per-channel constant is that constant. A cell whose
  output is zero or constant emits that tensor (``zeros_like`` / an expanded constant), so the
  following cells still run on a tensor of the right shape.

Every compiled network is checked against PyTorch eager of the *original* NB201 module (unfused,
with ``x*0`` for ``none``) before it is measured (:data:`RTOL`, :data:`ATOL_REL`), which checks
folding, pruning and TVM together. BN statistics and affine parameters are randomised (seeded)
so that the check exercises the folding; latency does not depend on the values.

Memory: the planned activation storage is the sum of the ``relax.memory.alloc_storage`` sizes
after ``relax.transform.StaticPlanBlockMemory()`` (tensors that escape the function, i.e. the
output, are allocated separately and reported as ``output_bytes``); parameter bytes are the
bytes of the compiled module's constants. Kernel workspaces (TIR-internal buffers) are not
counted.

A *disconnected* cell (the output node does not depend on the input: 341 of the 15,625 cells)
makes the deployed network a constant function. ``torch.export`` and ``FoldConstant`` remove
everything before the last constant cell; what is left is (at most) the head on a constant
tensor, so such cells measure near the VM call overhead with (almost) no planned storage. This
is what a deployment would run.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwbench.errors import HwbenchError, MissingDependencyError

#: numerical check of every compiled cell against PyTorch eager (float32):
#: ``|tvm - eager| <= ATOL_REL * max(1, max|eager|) + RTOL * |eager|`` elementwise.
RTOL = 1e-4
ATOL_REL = 1e-4
#: seed of the random weights / BN statistics and of the check input
WEIGHT_SEED = 0
INPUT_SEED = 1

# /proc/cpuinfo flag -> LLVM x86 feature name (the compute-relevant ones)
_X86_FLAGS = {
    "sse": "sse", "sse2": "sse2", "pni": "sse3", "ssse3": "ssse3", "sse4_1": "sse4.1",
    "sse4_2": "sse4.2", "sse4a": "sse4a", "avx": "avx", "avx2": "avx2", "fma": "fma", "fma4": "fma4",
    "f16c": "f16c", "bmi1": "bmi", "bmi2": "bmi2", "abm": "lzcnt", "popcnt": "popcnt",
    "movbe": "movbe", "adx": "adx", "aes": "aes", "pclmulqdq": "pclmul", "sha_ni": "sha",
    "vaes": "vaes", "vpclmulqdq": "vpclmulqdq", "gfni": "gfni", "avx512f": "avx512f",
    "avx512dq": "avx512dq", "avx512cd": "avx512cd", "avx512bw": "avx512bw", "avx512vl": "avx512vl",
    "avx512ifma": "avx512ifma", "avx512vbmi": "avx512vbmi", "avx512_vbmi2": "avx512vbmi2",
    "avx512_vnni": "avx512vnni", "avx512_bitalg": "avx512bitalg",
    "avx512_vpopcntdq": "avx512vpopcntdq", "avx512_bf16": "avx512bf16", "avx512_fp16": "avx512fp16",
    "avx_vnni": "avxvnni", "amx_tile": "amx-tile", "amx_int8": "amx-int8", "amx_bf16": "amx-bf16",
}
# /proc/cpuinfo "Features" (aarch64) -> LLVM AArch64 feature name
_ARM_FLAGS = {"asimd": "neon", "fp": "fp-armv8", "asimddp": "dotprod", "asimdhp": "fullfp16",
              "sve": "sve", "sve2": "sve2", "i8mm": "i8mm", "bf16": "bf16", "crc32": "crc", "atomics": "lse"}


class CompileError(HwbenchError):
    """A cell could not be compiled, or the compiled network disagrees with PyTorch eager."""


def ensure_thread_pool() -> None:
    """Let TVM's runtime thread pool grow to every logical core.

    Without ``TVM_NUM_THREADS`` the pool is created (on first use) with half the logical cores
    (TVM assumes hyper-threading) and cannot grow later, so the all-cores protocol would silently
    run on 1 thread on this 2-core machine. This sets ``TVM_NUM_THREADS`` to the logical core count
    when it is unset, before the pool exists; the protocol then picks the threads it wants with
    ``runtime.config_threadpool``. A user's own ``TVM_NUM_THREADS`` is left alone.
    """
    os.environ.setdefault("TVM_NUM_THREADS", str(os.cpu_count() or 1))


def _require_tvm() -> Any:
    try:
        import tvm
    except ImportError as exc:  # pragma: no cover - CI installs the tvm extra
        raise MissingDependencyError("apache-tvm", "tvm", "TVM compilation and measurement") from exc
    return tvm


# ----------------------------------------------------------------------------- targets
def cpu_info(path: str | os.PathLike[str] = "/proc/cpuinfo") -> dict[str, Any]:
    """CPU model name, family/model numbers and feature flags of the first core in ``path``."""
    info: dict[str, Any] = {"model_name": platform.processor() or platform.machine(), "flags": []}
    p = Path(path)
    if not p.is_file():
        return info
    for line in p.read_text().splitlines():
        if not line.strip():
            if info["flags"]:
                break  # first processor block is enough
            continue
        key, _, val = line.partition(":")
        key, val = key.strip(), val.strip()
        if key in ("model name", "Model", "Hardware") and "model_name_set" not in info:
            info["model_name"], info["model_name_set"] = val, True
        elif key in ("cpu family", "CPU architecture"):
            info["family"] = val
        elif key in ("model", "CPU part"):
            info["model"] = val
        elif key in ("flags", "Features"):
            info["flags"] = sorted(val.split())
    info.pop("model_name_set", None)
    return info


def host_target(mcpu: str | None = "host", *, num_cores: int | None = None,
                cpuinfo: str | os.PathLike[str] = "/proc/cpuinfo") -> dict[str, Any]:
    """The TVM target dict of this CPU: ``{"kind": "llvm", "mcpu": ..., "mattr": [...], "num-cores": n}``.

    ``mattr`` is this CPU's feature list read from ``/proc/cpuinfo`` (mapped to LLVM's names);
    ``mcpu="host"`` asks LLVM which CPU this is (``znver4`` on the Zen 4 EPYC here), ``None``
    leaves ``mcpu`` out (LLVM's generic tuning with the same features), any other string is used as
    given (checked by LLVM). ``num-cores`` (physical cores; MetaSchedule needs it) defaults to the
    host's. ``-mcpu=native`` and string targets are not used: they are not portable records.
    """
    tvm = _require_tvm()
    from tvm.target import codegen

    machine = platform.machine().lower()
    flags = set(cpu_info(cpuinfo)["flags"])
    table = _ARM_FLAGS if machine in ("aarch64", "arm64") else _X86_FLAGS
    mattr = sorted(f"+{llvm}" for flag, llvm in table.items() if flag in flags)
    target: dict[str, Any] = {"kind": "llvm"}
    if mcpu == "host":
        mcpu = str(codegen.llvm_get_system_cpu())
    if mcpu is not None:
        triple = str(codegen.llvm_get_system_triple())
        if not codegen.llvm_is_valid_cpu(mcpu, triple):
            raise CompileError(f"mcpu {mcpu!r} is not a CPU LLVM knows for {triple}; "
                               f"valid: {', '.join(map(str, codegen.llvm_get_cpu_archlist(tvm.target.Target('llvm'))))}")
        target["mcpu"] = mcpu
    if mattr:
        target["mattr"] = mattr
    target["num-cores"] = int(num_cores or _physical_cores())
    try:
        tvm.target.Target(target)
    except Exception as exc:
        raise CompileError(f"TVM rejects target {json.dumps(target)}: {exc}") from exc
    return target


def cuda_target(arch: str = "sm_87") -> dict[str, Any]:
    """A CUDA target dict (``sm_87`` = Jetson Orin); compiling for it needs no GPU."""
    return {"kind": "cuda", "arch": arch}


def _physical_cores() -> int:
    try:
        cores = set()
        phys = core = None
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, val = line.partition(":")
            key = key.strip()
            if key == "physical id":
                phys = val.strip()
            elif key == "core id":
                core = val.strip()
            elif not line.strip() and core is not None:
                cores.add((phys, core))
                phys = core = None
        if core is not None:
            cores.add((phys, core))
        if cores:
            return len(cores)
    except OSError:
        pass
    return os.cpu_count() or 1


def target_json(target: Mapping[str, Any] | Any) -> str:
    """A stable JSON text of a target (dict or ``tvm.target.Target``)."""
    if not isinstance(target, Mapping):
        target = dict(target.export())
    return json.dumps(dict(target), sort_keys=True, separators=(",", ":"))


# ----------------------------------------------------------------------------- the network
def _randomize_bn(model: Any, seed: int) -> None:
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(0.1 * torch.randn(n, generator=g))  # type: ignore[union-attr]
                m.running_var.copy_(0.5 + torch.rand(n, generator=g))  # type: ignore[union-attr]
                m.weight.copy_(0.5 + torch.rand(n, generator=g))
                m.bias.copy_(0.1 * torch.randn(n, generator=g))


def reference_model(arch: str | Sequence[int], config: str = "cifar10", seed: int = WEIGHT_SEED) -> Any:
    """The original NB201 network of ``arch`` (eval mode, seeded weights, randomised BN statistics)."""
    import torch

    from hwbench.models.nb201 import build_model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(arch, config)
    _randomize_bn(model, seed + 1)
    return model.eval()


def _fold(relu_conv_bn: Any) -> Any:
    """``ReLU-Conv-BN`` (eval) -> ``ReLU-Conv(bias)``."""
    import torch
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    relu, conv, bn = relu_conv_bn[0], relu_conv_bn[1], relu_conv_bn[2]
    return torch.nn.Sequential(relu, fuse_conv_bn_eval(conv, bn))


def _deployed_cell_class() -> Any:
    import torch
    from torch import nn

    from hwbench.spaces.nb201 import EDGES, OPS

    class DeployedCell(nn.Module):
        """An NB201 ``InferCell`` with folded convs and its ``none`` edges removed (exactly)."""

        def __init__(self, cell: nn.Module, ops: Sequence[int]) -> None:
            super().__init__()
            self.kinds = [OPS[o] for o in ops]
            layers = []
            for kind, layer in zip(self.kinds, cell.layers):  # type: ignore[arg-type]
                if kind in ("nor_conv_1x1", "nor_conv_3x3"):
                    layers.append(_fold(layer))
                elif kind == "avg_pool_3x3":
                    layers.append(layer)
                else:
                    layers.append(nn.Identity())
            self.layers = nn.ModuleList(layers)
            self.node_in: list[list[tuple[int, int]]] = [[], [], []]
            for k, (dst, src) in enumerate(EDGES):
                self.node_in[dst - 1].append((k, src))

        def _edge(self, k: int, v: Any) -> Any:
            # v: None (zero), ("const", [1,C,1,1] tensor) or a tensor
            kind = self.kinds[k]
            if kind == "none" or v is None:
                if kind in ("nor_conv_1x1", "nor_conv_3x3") and v is None:
                    conv = self.layers[k][1]  # type: ignore[index]
                    return ("const", conv.bias.view(1, -1, 1, 1))
                return None
            if isinstance(v, tuple):
                if kind == "skip_connect" or kind == "avg_pool_3x3":
                    return v  # a per-channel constant stays constant (pool without padding count)
                raise AssertionError("materialised before")
            return self.layers[k](v)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            nodes: list[Any] = [x]
            for inputs in self.node_in:
                tensors: list[torch.Tensor] = []
                const = None
                for k, src in inputs:
                    v = nodes[src]
                    if isinstance(v, tuple) and self.kinds[k] in ("nor_conv_1x1", "nor_conv_3x3"):
                        v = v[1].expand_as(x)  # a conv of a constant is not constant at the border
                    y = self._edge(k, v)
                    if y is None:
                        continue
                    if isinstance(y, tuple):
                        const = y[1] if const is None else const + y[1]
                    else:
                        tensors.append(y)
                if tensors:
                    feat = tensors[0]
                    for t in tensors[1:]:
                        feat = feat + t
                    nodes.append(feat if const is None else feat + const)
                else:
                    nodes.append(None if const is None else ("const", const))
            out = nodes[-1]
            if out is None:  # disconnected cell: a constant (folded at compile time like the rest)
                return torch.zeros(tuple(x.shape), dtype=x.dtype)
            if isinstance(out, tuple):
                return out[1].expand_as(x).contiguous()  # type: ignore[no-any-return]
            return out  # type: ignore[no-any-return]

    return DeployedCell


def deployed_model(arch: str | Sequence[int], config: str = "cifar10", *, fold_bn: bool = True,
                   prune_none: bool = True, seed: int = WEIGHT_SEED, reference: Any = None) -> Any:
    """The network that is compiled and measured: BN folded, ``none`` edges removed (module docstring).

    ``fold_bn=False, prune_none=False`` returns the reference network itself (TVM's default
    handling: BN ops and ``x*0`` kept). ``reference`` reuses an already built reference model
    (its parameters are copied, not shared).
    """
    import copy

    import torch
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    from hwbench.models.nb201 import InferCell, ReLUConvBN, ResNetBasicBlock

    model = copy.deepcopy(reference if reference is not None else reference_model(arch, config, seed)).eval()
    if not (fold_bn or prune_none):
        return model
    if fold_bn:
        model.stem = fuse_conv_bn_eval(model.stem[0], model.stem[1])
        for cell in model.cells:
            if isinstance(cell, ResNetBasicBlock):
                cell.conv_a = _fold(cell.conv_a)
                cell.conv_b = _fold(cell.conv_b)
            elif not prune_none:
                for k, layer in enumerate(cell.layers):
                    if isinstance(layer, ReLUConvBN):
                        cell.layers[k] = _fold(layer)
    if prune_none:
        if not fold_bn:
            raise CompileError("prune_none=True needs fold_bn=True (a pruned conv of zero is its folded bias)")
        cls = _deployed_cell_class()
        ops = model.arch
        model.cells = torch.nn.ModuleList(cls(c, ops) if isinstance(c, InferCell) else c for c in model.cells)
    return model.eval()


def example_input(config: str = "cifar10", seed: int = INPUT_SEED) -> Any:
    import torch

    from hwbench.spaces.nb201 import get_config

    g = torch.Generator().manual_seed(seed)
    return torch.randn(*get_config(config).input_shape, generator=g)


def to_relax(model: Any, example: Any) -> Any:
    """``torch.export`` + ``from_exported_program`` (weights embedded as constants; one output tensor)."""
    import warnings

    import torch

    _require_tvm()
    from tvm.relax.frontend.torch import from_exported_program

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ep = torch.export.export(model, (example,))
        return from_exported_program(ep, keep_params_as_input=False, unwrap_unit_return_tuple=True)


# ----------------------------------------------------------------------------- pipeline
def relax_passes(target: Any, *, database: Any = None, stage: str = "all") -> list[Any]:
    """The Relax passes (CPU or GPU default pipeline, plus the tuning database when given).

    ``stage="planned"`` stops right after ``StaticPlanBlockMemory`` (memory statistics);
    ``stage="rest"`` is what remains after that.
    """
    tvm = _require_tvm()
    import importlib

    from tvm import relax

    tgt = tvm.target.Target(target) if not isinstance(target, tvm.target.Target) else target
    kind = tgt.kind.name
    backend = {"llvm": "cpu_generic", "cuda": "cuda", "rocm": "rocm"}.get(kind, "gpu_generic")
    pipe = importlib.import_module(f"tvm.relax.backend.{backend}.pipeline")
    if database is not None and kind != "llvm":
        raise CompileError(f"a tuning database is only applied for llvm targets here, not {kind!r}")
    pre = [relax.transform.DecomposeOpsForInference(), relax.transform.CanonicalizeBindings()]
    pre += pipe.library_dispatch_passes(tgt)
    pre += pipe.legalize_passes(tgt)  # GPU: includes the dlight default schedules
    pre.append(relax.transform.DeadCodeElimination())  # what constant folding left unused
    if database is not None:
        with tgt:  # the pass captures the current target when it is constructed
            pre.append(relax.transform.MetaScheduleApplyDatabase(enable_warning=False))
    pre += pipe.dataflow_lower_passes(tgt)
    fin = pipe.finalize_passes(tgt)
    k = next(i for i, p in enumerate(fin) if p.info.name == "StaticPlanBlockMemory") + 1
    if stage == "planned":
        return list(pre + fin[:k])
    if stage == "rest":
        return list(fin[k:])
    return list(pre + fin)


def _apply(passes: list[Any], mod: Any, target: Any, database: Any) -> Any:
    import contextlib

    tvm = _require_tvm()
    tgt = tvm.target.Target(target) if isinstance(target, Mapping) else target
    with contextlib.ExitStack() as stack:
        stack.enter_context(tgt)
        if database is not None:
            stack.enter_context(database)
        return tvm.transform.Sequential(passes)(mod)


def memory_stats(planned_mod: Any) -> dict[str, int]:
    """Bytes of ``alloc_storage`` (planned) and ``alloc_tensor`` (unplanned, e.g. outputs) and constants."""
    tvm = _require_tvm()
    from tvm import relax

    planned: list[int] = []
    unplanned: list[int] = []
    consts: list[Any] = []  # keep the objects alive: id() of dead wrappers is reused

    def nbytes(shape: Sequence[int], dtype: str) -> int:
        n = 1
        for s in shape:
            n *= int(s)
        bits = int("".join(ch for ch in dtype if ch.isdigit()) or 32)
        return n * bits // 8

    def visit(e: Any) -> None:
        if isinstance(e, tvm.ir.expr.GenericConst) and hasattr(e.value, "shape"):
            if not any(c.same_as(e) for c in consts):
                consts.append(e)
        elif isinstance(e, relax.Call) and isinstance(e.op, tvm.ir.Op):
            name = e.op.name
            if name == "relax.memory.alloc_storage":
                planned.append(int(e.args[0].values[0]))
            elif name == "relax.builtin.alloc_tensor":
                shape = e.args[0]
                unplanned.append(nbytes([int(v) for v in shape.values], str(e.args[1].value)))

    for func in planned_mod.functions.values():
        if isinstance(func, relax.Function):
            relax.analysis.post_order_visit(func, visit)
    return {
        "planned_activation_bytes": sum(planned),
        "planned_storages": len(planned),
        "output_bytes": sum(unplanned),
        "constant_bytes": sum(nbytes(c.value.shape, str(c.value.dtype)) for c in consts),
    }


@dataclass
class CompiledCell:
    """A compiled network with its provenance; ``vm(device)`` gives a ``relax.VirtualMachine``."""

    arch: str
    config: str
    target: dict[str, Any]
    executable: Any
    memory: dict[str, int]
    param_bytes: int
    compile_s: float
    tuned: bool
    deployed: bool
    check: dict[str, Any] = field(default_factory=dict)
    seed: int = WEIGHT_SEED  # weight seed of the reference network (the numerical check rebuilds it)

    @property
    def target_json(self) -> str:
        return target_json(self.target)

    def vm(self, device: Any = None) -> Any:
        ensure_thread_pool()
        tvm = _require_tvm()
        from tvm import relax

        return relax.VirtualMachine(self.executable, device if device is not None else tvm.cpu())

    def export(self, path: str | os.PathLike[str], **kwargs: Any) -> Path:
        """Write the shared library (``.so``; cross-compilers via ``kwargs``) for an RPC upload."""
        self.executable.export_library(str(path), **kwargs)
        return Path(path)


def build_relax(mod: Any, target: Mapping[str, Any], database: Any = None) -> tuple[Any, dict[str, int]]:
    """Build a Relax module with the project's pipeline (:func:`relax_passes`, the tuning ``database``
    applied when given): ``(executable, memory statistics after static memory planning)``."""
    tvm = _require_tvm()
    from tvm import relax

    tgt = tvm.target.Target(dict(target))
    planned = _apply(relax_passes(tgt, database=database, stage="planned"), mod, tgt, database)
    mem = memory_stats(planned)
    final = _apply(relax_passes(tgt, stage="rest"), planned, tgt, None)
    with tgt:
        ex = relax.build(final, tgt, relax_pipeline=None)
    return ex, mem


def compile_cell(arch: str | int | Sequence[int], config: str = "cifar10", *, target: Mapping[str, Any] | None = None,
                 database: Any = None, deployed: bool = True, check: bool = True, seed: int = WEIGHT_SEED) -> CompiledCell:
    """Compile one cell (batch 1) and, for a CPU target, check it against PyTorch eager.

    Args:
        arch: architecture string or op tuple.
        config: input configuration (``cifar10``, ``fashion-mnist`` ...).
        target: a TVM target dict; default :func:`host_target`.
        database: a MetaSchedule database (see :mod:`hwbench.measure.tuning`); schedules of the
            workloads it holds replace the default ones.
        deployed: compile the deployed network (BN folded, ``none`` removed) rather than the reference.
        check: run the compiled network once on the host and compare with eager (:data:`RTOL`).
    Raises:
        CompileError: compilation failed or the result disagrees with PyTorch eager.
    """
    _require_tvm()
    from hwbench.spaces.nb201 import SPACE, get_config

    cfg = get_config(config)
    arch_s = SPACE.arch_str(arch)
    target = dict(target) if target is not None else host_target()
    ref = reference_model(arch_s, cfg.name, seed)
    model = deployed_model(arch_s, cfg.name, seed=seed, reference=ref) if deployed else ref
    x = example_input(cfg.name)
    t0 = time.perf_counter()
    try:
        ex, mem = build_relax(to_relax(model, x), target, database)
    except Exception as exc:
        raise CompileError(f"compiling {arch_s} ({cfg.name}) for {target_json(target)} failed: {exc}") from exc
    compile_s = time.perf_counter() - t0
    cc = CompiledCell(arch=arch_s, config=cfg.name, target=target, executable=ex, memory=mem,
                      param_bytes=mem["constant_bytes"], compile_s=compile_s, tuned=database is not None,
                      deployed=deployed, seed=seed)
    if check and target.get("kind") == "llvm":
        check_compiled(cc, ref)
    return cc


def check_compiled(cc: CompiledCell, ref: Any = None) -> dict[str, Any]:
    """Run ``cc`` once on the host and compare with PyTorch eager of the original NB201 module (the
    reference network is rebuilt from ``cc.seed`` unless given); sets and returns ``cc.check``.

    Raises:
        CompileError: an output outside ``ATOL_REL * max(1, max|eager|) + RTOL * |eager|``.
    """
    import numpy as np
    import torch

    ref = ref if ref is not None else reference_model(cc.arch, cc.config, cc.seed)
    x = example_input(cc.config)
    with torch.no_grad():
        want = ref(x).numpy()
    got = run_once(cc.vm(), x.numpy())
    err = np.abs(got - want)
    atol = ATOL_REL * max(1.0, float(np.abs(want).max()))
    ok = bool(np.all(err <= atol + RTOL * np.abs(want)))
    cc.check = {"max_abs_err": float(err.max()), "atol": atol, "rtol": RTOL, "ok": ok,
                "against": "pytorch eager, original NB201 module"}
    if not ok:
        raise CompileError(f"compiled {cc.arch} ({cc.config}) disagrees with PyTorch eager: "
                           f"max |err| {err.max():.3g} > atol {atol:.3g} + rtol {RTOL}")
    return cc.check


def run_once(vm: Any, x: Any, device: Any = None) -> Any:
    """Run ``main`` once on the numpy input ``x``; return the output as numpy."""
    ensure_thread_pool()
    tvm = _require_tvm()

    dev = device if device is not None else tvm.cpu()
    out = vm["main"](tvm.runtime.tensor(x, dev))
    if not hasattr(out, "numpy"):
        out = out[0]
    return out.numpy()


# ----------------------------------------------------------------------------- compiled-cell cache
#: sidecar format of a cached compiled cell (``<index>.so`` + ``<index>.json``)
CACHE_FORMAT = "hwbench-compiled-cell/1"


def cache_key(target: Mapping[str, Any], database_sha256: str | None) -> str:
    """Folder name of a compile cache: target and tuning database, hashed (``t<12 hex>-d<12 hex>|untuned``)."""
    import hashlib

    t = hashlib.sha256(target_json(target).encode()).hexdigest()[:12]
    return f"t{t}-" + (f"d{database_sha256[:12]}" if database_sha256 else "untuned")


def save_compiled(cc: CompiledCell, directory: str | os.PathLike[str], *, database_sha256: str | None = None,
                  check: bool = False) -> Path:
    """Write ``cc`` as ``<index>.so`` + ``<index>.json`` (provenance, memory, check) under ``directory``.

    Both files are written to temporary names and renamed, the sidecar last, so an interrupted
    write never leaves a sidecar that points at a partial library. With ``check`` the written
    library itself is loaded and checked (:func:`check_compiled`) before it is kept, and becomes
    ``cc.executable``: the artifact that will be measured is the one checked, and the check does not
    JIT-compile the module a second time (~1 s of a ~5 s cifar10 cell).
    """
    from hwbench.spaces.nb201 import SPACE

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    index = SPACE.index(cc.arch)
    so, meta = d / f"{index}.so", d / f"{index}.json"
    tmp_so = d / f".{index}.{os.getpid()}.so"
    cc.export(tmp_so)
    if check:
        try:
            cc.executable = _require_tvm().runtime.load_module(str(tmp_so))
            check_compiled(cc)
        except BaseException:
            tmp_so.unlink(missing_ok=True)
            raise
    os.replace(tmp_so, so)
    side = {"format": CACHE_FORMAT, "arch": cc.arch, "index": index, "config": cc.config, "target": cc.target,
            "memory": cc.memory, "param_bytes": cc.param_bytes, "compile_s": cc.compile_s, "tuned": cc.tuned,
            "deployed": cc.deployed, "check": cc.check, "seed": cc.seed, "database_sha256": database_sha256,
            "so_bytes": so.stat().st_size}
    tmp_meta = d / f".{index}.{os.getpid()}.json"
    tmp_meta.write_text(json.dumps(side, sort_keys=True))
    os.replace(tmp_meta, meta)
    return so


def load_compiled(directory: str | os.PathLike[str], index: int, *, target: Mapping[str, Any] | None = None,
                  database_sha256: str | None = None) -> CompiledCell | None:
    """The cached compiled cell ``index`` under ``directory``, or None when absent.

    Raises :class:`CompileError` when the cache holds the cell for another target or tuning
    database than the one asked for (a cache is keyed by both, see :func:`cache_key`).
    """
    d = Path(directory)
    so, meta = d / f"{index}.so", d / f"{index}.json"
    if not meta.is_file() or not so.is_file():
        return None
    side = json.loads(meta.read_text())
    if side.get("format") != CACHE_FORMAT:
        raise CompileError(f"{meta}: not a compiled-cell sidecar (format {side.get('format')!r})")
    if target is not None and target_json(side["target"]) != target_json(target):
        raise CompileError(f"{meta}: compiled for {target_json(side['target'])}, asked for {target_json(target)}")
    if side.get("database_sha256") != database_sha256:
        raise CompileError(f"{meta}: compiled against tuning database {side.get('database_sha256')}, "
                           f"asked for {database_sha256}")
    if so.stat().st_size != side.get("so_bytes"):
        raise CompileError(f"{so}: {so.stat().st_size} bytes, the sidecar says {side.get('so_bytes')}")
    tvm = _require_tvm()
    lib = tvm.runtime.load_module(str(so))
    return CompiledCell(arch=side["arch"], config=side["config"], target=side["target"], executable=lib,
                        memory=side["memory"], param_bytes=int(side["param_bytes"]), compile_s=float(side["compile_s"]),
                        tuned=bool(side["tuned"]), deployed=bool(side["deployed"]), check=side.get("check", {}),
                        seed=int(side.get("seed", WEIGHT_SEED)))
