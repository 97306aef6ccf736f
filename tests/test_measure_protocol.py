"""The measurement protocol: statistics, re-measure on high CV, threads, fingerprint, one real cell."""

from __future__ import annotations

import math
import os
import statistics
import time

import numpy as np
import pytest
import tvm  # the tvm extra is required (CI installs it)

from hwbench.measure.protocol import (
    ALL_CORES,
    ONE_THREAD,
    MeasureError,
    Protocol,
    Timing,
    fingerprint,
    measure_cell,
    set_tvm_threads,
    time_callable,
)

FAST = Protocol(warmup=1, repeats=5, min_repeat_ms=5.0)
ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|"


def test_timing_statistics() -> None:
    xs = [1.0, 2.0, 3.0, 4.0, 100.0]
    t = Timing.from_samples(xs, number=7, attempts=1, max_cv=0.05)
    assert t.median_ms == 3.0
    assert t.iqr_ms == pytest.approx(4.0 - 2.0)
    assert t.mean_ms == pytest.approx(22.0)
    assert t.std_ms == pytest.approx(statistics.stdev(xs))
    assert t.cv == pytest.approx(t.std_ms / t.mean_ms)
    assert not t.stable and t.number == 7 and t.repeats == 5
    steady = Timing.from_samples([2.0, 2.01, 1.99, 2.0], number=1, attempts=1, max_cv=0.05)
    assert steady.stable and steady.cv < 0.01


def test_protocol_validation_and_names() -> None:
    assert ONE_THREAD.n_threads == 1 and ONE_THREAD.name == "1-thread"
    assert ALL_CORES.n_threads == os.cpu_count() and ALL_CORES.name == "all-cores"
    with pytest.raises(MeasureError, match="repeats"):
        Protocol(repeats=2)
    with pytest.raises(MeasureError, match="threads"):
        Protocol(threads=-1)


def test_repeat_length_is_sized_to_the_minimum_time() -> None:
    def work() -> None:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 2e-4:  # 0.2 ms of busy work
            pass

    t = time_callable(work, Protocol(warmup=1, repeats=3, min_repeat_ms=10.0, max_attempts=1))
    assert t.number >= 10  # >= 10 ms / 0.2 ms per call, minus timer slack
    assert t.median_ms >= 0.2
    assert t.repeats == 3 and len(t.samples_ms) == 3


def test_high_cv_triggers_re_measurement() -> None:
    """A callable whose duration alternates 0.8/0.2 ms per call (one call per repeat here) has CV >> 5%."""
    calls = {"n": 0}

    def jumpy() -> None:
        calls["n"] += 1
        dur = 8e-4 if calls["n"] % 2 else 2e-4  # the probe call (n=1) is long: number = 1
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < dur:
            pass

    p = Protocol(warmup=0, repeats=4, min_repeat_ms=0.5, max_attempts=3, max_cv=0.05)
    t = time_callable(jumpy, p)
    assert t.number == 1
    assert t.attempts == 3
    assert not t.stable and t.cv > 0.05


def test_tvm_thread_pool_is_fixed() -> None:
    assert set_tvm_threads(1) == 1
    assert set_tvm_threads(os.cpu_count() or 1) == (os.cpu_count() or 1)
    assert set_tvm_threads(1) == 1


def test_fingerprint_has_the_host_and_toolchain() -> None:
    from hwbench.measure.compile import host_target, target_json

    t = host_target()
    fp = fingerprint(t, ONE_THREAD)
    for key in ("cpu_model", "cpu_flags", "cpu_flags_sha256", "logical_cores", "physical_cores", "target",
                "threads", "versions", "hostname"):
        assert key in fp
    assert fp["versions"]["apache-tvm"] == tvm.__version__.split("+")[0] or fp["versions"]["apache-tvm"]
    assert fp["target"] == target_json(t)
    assert fp["threads"] == 1 and fp["logical_cores"] == os.cpu_count()


def test_measure_cell_tvm_torch_onnxruntime() -> None:
    """One real cell measured by the three runtimes with the same protocol (numbers are noisy here)."""
    rec = measure_cell(ARCH, "fashion-mnist", protocol=FAST, frameworks=("tvm", "torch", "onnxruntime"))
    for prefix in ("", "torch_", "onnxruntime_"):
        lat = rec[f"{prefix}latency_ms"]
        assert math.isfinite(lat) and 0 < lat < 1000
        assert rec[f"{prefix}latency_iqr_ms"] >= 0 and rec[f"{prefix}latency_std_ms"] >= 0
        assert rec[f"{prefix}latency_repeats"] == FAST.repeats
        assert 1 <= rec[f"{prefix}latency_attempts"] <= FAST.max_attempts
        assert rec[f"{prefix}latency_stable"] == (rec[f"{prefix}latency_cv"] <= FAST.max_cv)
        assert rec[f"{prefix}threads"] == 1
        # each repeat lasted >= min_repeat_ms
        assert rec[f"{prefix}latency_number"] * lat >= FAST.min_repeat_ms * 0.5
    assert rec["planned_activation_bytes"] > 0 and rec["param_bytes"] > 0
    assert rec["check_max_abs_err"] < 1e-4
    assert rec["connected"] and rec["index"] >= 0 and rec["protocol"] == "1-thread"
    assert rec["fingerprint"]["threads"] == 1


def test_onnx_export_matches_the_deployed_network() -> None:
    import torch

    from hwbench.measure.compile import deployed_model, example_input
    from hwbench.measure.protocol import ort_session

    model = deployed_model(ARCH, "fashion-mnist")
    x = example_input("fashion-mnist")
    sess = ort_session(model, x, threads=1)
    (got,) = sess.run(None, {"x": x.numpy()})
    with torch.no_grad():
        np.testing.assert_allclose(got, model(x).numpy(), rtol=1e-4, atol=1e-5)


def test_unknown_framework_is_named() -> None:
    from hwbench.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="tensorrt"):
        measure_cell(ARCH, "fashion-mnist", frameworks=("tensorrt",))
