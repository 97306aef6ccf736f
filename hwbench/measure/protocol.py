"""The latency measurement protocol (TVM, and the same protocol for PyTorch eager and ONNX Runtime).

One measurement (:func:`time_tvm`, :func:`time_callable`):

1. fix the thread count (TVM: ``runtime.config_threadpool``; torch: ``torch.set_num_threads``;
   ONNX Runtime: ``intra_op_num_threads``) — 1 thread by default, all cores as the second protocol;
2. warm up (``warmup`` calls, not timed);
3. ``repeats`` timed repeats; each repeat runs the network ``number`` times back to back, with
   ``number`` sized (grown geometrically from 1) so that ``number`` calls last at least
   ``min_repeat_ms``; TVM times with the VM's ``time_evaluator`` (which also keeps its own
   ``min_repeat_ms`` guard), the others with ``time.perf_counter`` in Python (a few microseconds
   of Python call overhead per call are included). A repeat's value is its mean time per call;
4. statistics over the repeats: median (the reported latency), IQR, std, mean, CV = std/mean;
5. if CV > ``max_cv`` (5%), measure again (up to ``max_attempts`` in all) and keep the attempt with
   the lowest CV; ``stable`` says whether the kept one meets the bound.

Every record carries the host :func:`fingerprint` (CPU model, flags, core counts, TVM version,
target JSON, threads).
"""

from __future__ import annotations

import hashlib
import math
import os
import platform
import socket
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from hwbench.errors import HwbenchError

FRAMEWORKS = ("tvm", "torch", "onnxruntime")


class MeasureError(HwbenchError):
    """A measurement could not be made as asked (bad protocol, unknown framework ...)."""


@dataclass(frozen=True)
class Protocol:
    """How latency is measured. ``threads=0`` means all logical cores."""

    threads: int = 1
    warmup: int = 3
    repeats: int = 15
    min_repeat_ms: float = 50.0
    max_cv: float = 0.05
    max_attempts: int = 3

    def __post_init__(self) -> None:
        if self.threads < 0:
            raise MeasureError(f"threads {self.threads}: expected >= 0 (0 = all cores)")
        if self.repeats < 3:
            raise MeasureError(f"repeats {self.repeats}: expected >= 3 (median and IQR need them)")
        if self.warmup < 0 or self.min_repeat_ms <= 0 or self.max_cv <= 0 or self.max_attempts < 1:
            raise MeasureError(f"invalid protocol {self}")

    @property
    def n_threads(self) -> int:
        return self.threads or (os.cpu_count() or 1)

    @property
    def name(self) -> str:
        return "1-thread" if self.threads == 1 else ("all-cores" if self.threads == 0 else f"{self.threads}-threads")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "n_threads": self.n_threads, "name": self.name}


#: the two protocols of the table: 1 thread (main) and all cores
ONE_THREAD = Protocol(threads=1)
ALL_CORES = Protocol(threads=0)


@dataclass
class Timing:
    """Latency statistics over the repeats of the kept attempt (milliseconds)."""

    median_ms: float
    iqr_ms: float
    std_ms: float
    mean_ms: float
    cv: float
    repeats: int
    number: int
    attempts: int
    stable: bool
    samples_ms: list[float] = field(default_factory=list)
    threads: int = 0  # the thread count the runtime reported while measuring (0 = not known)

    @classmethod
    def from_samples(cls, samples_ms: Sequence[float], number: int, attempts: int, max_cv: float) -> Timing:
        xs = sorted(float(v) for v in samples_ms)
        q = statistics.quantiles(xs, n=4, method="inclusive") if len(xs) >= 2 else [xs[0]] * 3
        mean = statistics.fmean(xs)
        std = statistics.stdev(xs) if len(xs) >= 2 else 0.0
        cv = std / mean if mean > 0 else math.nan
        return cls(median_ms=statistics.median(xs), iqr_ms=q[2] - q[0], std_ms=std, mean_ms=mean, cv=cv,
                   repeats=len(xs), number=int(number), attempts=attempts, stable=bool(cv <= max_cv),
                   samples_ms=list(samples_ms))

    def to_dict(self, prefix: str = "") -> dict[str, Any]:
        d = asdict(self)
        return {f"{prefix}{k}": v for k, v in d.items()}


def _best_of_attempts(measure_once: Callable[[], tuple[list[float], int]], protocol: Protocol) -> Timing:
    best: Timing | None = None
    for attempt in range(1, protocol.max_attempts + 1):
        samples, number = measure_once()
        t = Timing.from_samples(samples, number, attempt, protocol.max_cv)
        if best is None or t.cv < best.cv:
            best = t
        best.attempts = attempt
        if t.cv <= protocol.max_cv:
            break
    assert best is not None
    best.stable = bool(best.cv <= protocol.max_cv)
    return best


def _size_number(run_n: Callable[[int], float], min_repeat_ms: float) -> int:
    """Smallest ``number`` (grown geometrically) whose ``run_n(number)`` seconds reach ``min_repeat_ms``.

    Sizing from several calls rather than one keeps a single slow first call (a load spike) from
    leaving every repeat far shorter than the minimum.
    """
    target = min_repeat_ms / 1e3
    number = 1
    for _ in range(40):
        elapsed = run_n(number)
        if elapsed >= target:
            return number
        grow = math.ceil(number * target / max(elapsed, 1e-9) * 1.2)
        number = min(max(2 * number, grow), 10 * number)
    return number


# ----------------------------------------------------------------------------- threads
def set_tvm_threads(n: int, session: Any = None) -> int:
    """Fix the TVM runtime thread pool to ``n`` threads (locally, or on an RPC ``session``)."""
    import tvm

    from hwbench.measure.compile import ensure_thread_pool

    if session is None:
        ensure_thread_pool()
    f = session.get_function("runtime.config_threadpool") if session is not None else \
        tvm.get_global_func("runtime.config_threadpool")
    f(1, int(n))  # mode 1 = "big" cores, i.e. all cores on a homogeneous CPU
    num = session.get_function("runtime.NumThreads") if session is not None else tvm.get_global_func("runtime.NumThreads")
    got = int(num())
    if session is None and n and got != n:
        raise MeasureError(f"TVM's thread pool runs {got} threads, not {n}: it was created before hwbench set "
                           f"TVM_NUM_THREADS; set TVM_NUM_THREADS={os.cpu_count()} before starting Python")
    return got


# ----------------------------------------------------------------------------- TVM
def time_tvm(vm: Any, x: Any, device: Any, protocol: Protocol = ONE_THREAD, *, session: Any = None,
             func: str = "main") -> Timing:
    """Latency of ``vm[func](x)`` by the VM's ``time_evaluator`` (works on local and RPC VMs)."""
    import tvm

    # on a remote device, "all cores" (threads=0) is the device's default pool size
    threads = set_tvm_threads(protocol.threads if session is not None else protocol.n_threads, session)
    arg = x if isinstance(x, tvm.runtime.Tensor) else tvm.runtime.tensor(x, device)
    for _ in range(protocol.warmup):
        vm[func](arg)
    device.sync()

    number = _size_number(lambda n: n * vm.time_evaluator(func, device, number=n, repeat=1)(arg).mean,
                          protocol.min_repeat_ms)

    def once() -> tuple[list[float], int]:
        # min_repeat_ms stays on as TVM's own guard (it raises ``number`` if a repeat is too short)
        f = vm.time_evaluator(func, device, number=number, repeat=protocol.repeats,
                              min_repeat_ms=math.ceil(protocol.min_repeat_ms))
        return [r * 1e3 for r in f(arg).results], number

    t = _best_of_attempts(once, protocol)
    t.threads = threads
    return t


# ----------------------------------------------------------------------------- python callables
def time_callable(fn: Callable[[], Any], protocol: Protocol = ONE_THREAD) -> Timing:
    """The same protocol for any Python callable (PyTorch eager, ONNX Runtime)."""
    for _ in range(protocol.warmup):
        fn()

    def run_n(n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        return time.perf_counter() - t0

    number = _size_number(run_n, protocol.min_repeat_ms)

    def once() -> tuple[list[float], int]:
        out = []
        for _ in range(protocol.repeats):
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            out.append((time.perf_counter() - t0) / number * 1e3)
        return out, number

    return _best_of_attempts(once, protocol)


def time_torch(model: Any, x: Any, protocol: Protocol = ONE_THREAD) -> Timing:
    """PyTorch eager latency of ``model(x)`` (no grad) with ``protocol.n_threads`` torch threads."""
    import torch

    prev = torch.get_num_threads()
    torch.set_num_threads(protocol.n_threads)
    try:
        with torch.inference_mode():
            t = time_callable(lambda: model(x), protocol)
        t.threads = torch.get_num_threads()
        return t
    finally:
        torch.set_num_threads(prev)


def onnx_bytes(model: Any, x: Any) -> bytes:
    """The ONNX model (opset 17, TorchScript exporter) of ``model`` at input ``x``."""
    import io
    import warnings

    import torch

    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), buf, dynamo=False,  # type: ignore[arg-type]
                          opset_version=17, input_names=["x"],
                          output_names=["y"])
    return buf.getvalue()


def ort_session(model: Any, x: Any, threads: int) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = int(threads)
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(onnx_bytes(model, x), so, providers=["CPUExecutionProvider"])


def time_onnxruntime(model: Any, x: Any, protocol: Protocol = ONE_THREAD) -> Timing:
    """ONNX Runtime (CPU execution provider, all graph optimisations) latency of the same network."""
    sess = ort_session(model, x, protocol.n_threads)
    feed = {"x": x.detach().numpy()}
    t = time_callable(lambda: sess.run(None, feed), protocol)
    t.threads = protocol.n_threads
    return t


# ----------------------------------------------------------------------------- fingerprint
def fingerprint(target: Mapping[str, Any] | None, protocol: Protocol = ONE_THREAD) -> dict[str, Any]:
    """Host fingerprint stored with every measurement."""
    from importlib.metadata import PackageNotFoundError, version

    from hwbench.measure.compile import _physical_cores, cpu_info, target_json

    info = cpu_info()
    flags = " ".join(info.get("flags", []))
    versions: dict[str, str | None] = {}
    for pkg in ("apache-tvm", "apache-tvm-ffi", "torch", "onnxruntime", "onnx", "numpy", "hwbench"):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = None
    return {
        "hostname": socket.gethostname(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "cpu_model": info.get("model_name"),
        "cpu_family": info.get("family"),
        "cpu_model_number": info.get("model"),
        "cpu_flags": flags,
        "cpu_flags_sha256": hashlib.sha256(flags.encode()).hexdigest()[:16],
        "logical_cores": os.cpu_count(),
        "physical_cores": _physical_cores(),
        "versions": versions,
        "target": target_json(target) if target is not None else None,
        "threads": protocol.n_threads,
        "protocol": protocol.to_dict(),
    }


# ----------------------------------------------------------------------------- one cell
def measure_cell(arch: str | int | Sequence[int], config: str = "cifar10", *, protocol: Protocol = ONE_THREAD,
                 target: Mapping[str, Any] | None = None, database: Any = None,
                 frameworks: Sequence[str] = ("tvm",), compiled: Any = None) -> dict[str, Any]:
    """Compile (and check) one cell, then measure it with ``protocol``; returns a flat record.

    Keys: ``arch``, ``index``, ``config``, ``latency_ms`` (TVM median) with ``latency_iqr_ms``,
    ``latency_std_ms``, ``latency_cv``, ``latency_repeats``, ``latency_attempts``,
    ``latency_stable``; ``planned_activation_bytes``, ``param_bytes``, ``output_bytes``; for each
    other framework ``torch_latency_ms`` / ``onnxruntime_latency_ms`` (+ ``_iqr_ms``, ``_cv``);
    ``check_max_abs_err``, ``compile_s``, ``tuned``, ``fingerprint``.
    """
    import torch

    from hwbench.measure.compile import (
        compile_cell,
        deployed_model,
        example_input,
        host_target,
        reference_model,
    )
    from hwbench.spaces.nb201 import SPACE, get_config, is_connected

    bad = [f for f in frameworks if f not in FRAMEWORKS]
    if bad:
        from hwbench.errors import UnknownNameError

        raise UnknownNameError("framework", bad[0], FRAMEWORKS)
    cfg = get_config(config)
    arch_s = SPACE.arch_str(arch)
    target = dict(target) if target is not None else host_target()
    rec: dict[str, Any] = {"arch": arch_s, "index": SPACE.index(arch_s), "config": cfg.name,
                           "connected": is_connected(SPACE.parse(arch_s)), "protocol": protocol.name}
    x = example_input(cfg.name)
    if "tvm" in frameworks:
        import tvm

        cc = compiled or compile_cell(arch_s, cfg.name, target=target, database=database)
        dev = tvm.cpu()
        t = time_tvm(cc.vm(dev), x.numpy(), dev, protocol)
        rec.update(_timing_cols("", t))
        rec.update({"planned_activation_bytes": cc.memory["planned_activation_bytes"],
                    "output_bytes": cc.memory["output_bytes"], "param_bytes": cc.param_bytes,
                    "check_max_abs_err": cc.check.get("max_abs_err", math.nan), "compile_s": cc.compile_s,
                    "tuned": cc.tuned})
    others = [f for f in frameworks if f != "tvm"]
    if others:
        model = deployed_model(arch_s, cfg.name, reference=reference_model(arch_s, cfg.name))
        with torch.no_grad():
            if "torch" in others:
                rec.update(_timing_cols("torch_", time_torch(model, x, protocol)))
            if "onnxruntime" in others:
                rec.update(_timing_cols("onnxruntime_", time_onnxruntime(model, x, protocol)))
    rec["fingerprint"] = fingerprint(target, protocol)
    return rec


def _timing_cols(prefix: str, t: Timing) -> dict[str, Any]:
    return {
        f"{prefix}latency_ms": t.median_ms,
        f"{prefix}latency_iqr_ms": t.iqr_ms,
        f"{prefix}latency_std_ms": t.std_ms,
        f"{prefix}latency_cv": t.cv,
        f"{prefix}latency_repeats": t.repeats,
        f"{prefix}latency_number": t.number,
        f"{prefix}latency_attempts": t.attempts,
        f"{prefix}latency_stable": t.stable,
        f"{prefix}threads": t.threads,
    }


__all__ = [
    "ALL_CORES",
    "FRAMEWORKS",
    "ONE_THREAD",
    "MeasureError",
    "Protocol",
    "Timing",
    "fingerprint",
    "measure_cell",
    "set_tvm_threads",
    "time_callable",
    "time_onnxruntime",
    "time_torch",
    "time_tvm",
]
