"""Speed of the table store (pytest-benchmark; asserts correctness only, never time).

Run: ``pytest tests/benchmarks/test_bench_table.py -q --benchmark-enable``. With the default
``--benchmark-disable`` each benchmark body runs once as a plain test.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hwbench.table import Table, TableWriter, _manifest, load, update_manifest_entry

N = 15625
CONFIGS = ("cifar10", "cifar100", "imagenet16-120")
TARGETS = ("cpu-host", "gpu-a100", "fpga-zcu102", "mcu-stm32f746", "edge-pixel3")
METRIC = "cifar10/cpu-host/latency_ms"


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A realistic table: 15,625 rows x 30 float columns (+ 6 std columns), with a manifest."""
    folder = tmp_path_factory.mktemp("datasets")
    rng = np.random.default_rng(0)
    with TableWriter(folder / "nb201.h5") as w:
        for c in CONFIGS:
            for t in TARGETS:
                for m, unit in (("latency_ms", "ms"), ("energy_mj", "mJ")):
                    base = rng.lognormal(0.0, 0.5, N).round(4)  # measured-like values, 4 decimals
                    w.add_column(
                        f"{c}/{t}/{m}",
                        base,
                        unit=unit,
                        source="simulated",
                        tool="hwbench-sim",
                        tool_version="0.1",
                        device=t,
                        protocol={"repeats": 5, "threads": 1},
                        description=f"{m} on {t}",
                        std=base * 0.02 if t == "cpu-host" else None,
                    )
    update_manifest_entry(folder / "manifest.toml", folder / "nb201.h5", name="nb201", version="1")
    return folder


@pytest.fixture
def env(datasets: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HWBENCH_DATASETS", str(datasets))
    monkeypatch.setenv("HWBENCH_USER_DIR", str(tmp_path / "user"))  # no overlay
    return datasets


def test_bench_load_verified(benchmark: Any, env: Path) -> None:
    """``load("nb201")`` by name, sha256 verification cached in the process (the common case)."""
    load("nb201")
    t = benchmark(load, "nb201")
    assert len(t.metrics) == 36 and t.n_rows == N


def test_bench_load_first_time(benchmark: Any, env: Path) -> None:
    """First load in a fresh process: hashes the whole file."""

    def cold() -> Table:
        _manifest._sha256_cached.cache_clear()
        return load("nb201")

    t = benchmark(cold)
    assert t.sha256 == _manifest.read_manifest(env / "manifest.toml")[0].sha256


def test_bench_load_and_read_all(benchmark: Any, env: Path) -> None:
    """Load and decompress every column (36 x 15,625 float64)."""

    def full() -> Any:
        t = load("nb201")
        return t.query(np.arange(N), None)

    out = benchmark(full)
    assert len(out) == 36


def _lookup_inputs(env: Path) -> tuple[Table, np.ndarray]:
    t = load("nb201")
    t.column(METRIC)  # warm: measure lookups, not the first decompression
    return t, np.random.default_rng(1).integers(0, N, 10**6)


def test_bench_query_1e6_indices(benchmark: Any, env: Path) -> None:
    t, idx = _lookup_inputs(env)
    out = benchmark(t.query, idx, METRIC)
    np.testing.assert_array_equal(out[METRIC], t.column(METRIC)[idx])


def test_bench_pandas_loc_1e6_indices(benchmark: Any, env: Path) -> None:
    t, idx = _lookup_inputs(env)
    df = t.to_pandas([METRIC])
    out = benchmark(lambda: df.loc[idx, METRIC].to_numpy())
    np.testing.assert_array_equal(out, t.column(METRIC)[idx])


def test_bench_query_1e5_strings(benchmark: Any, env: Path) -> None:
    t, idx = _lookup_inputs(env)
    strs = t.archs[idx[:100_000]].tolist()
    out = benchmark(t.query, strs, METRIC)
    np.testing.assert_array_equal(out[METRIC], t.column(METRIC)[idx[:100_000]])


def test_bench_query_single(benchmark: Any, env: Path) -> None:
    t, _ = _lookup_inputs(env)
    arch = t.archs[1234]
    assert benchmark(t.query, arch, METRIC) == {METRIC: t.column(METRIC)[1234]}


def test_lookup_ratio_vs_pandas(benchmark: Any, env: Path) -> None:
    """Best-of-5 time of Table.query vs pandas ``.loc`` for 10^6 indices (stored in extra_info)."""
    t, idx = _lookup_inputs(env)
    df = t.to_pandas([METRIC])

    def best(fn: Any) -> float:
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    q = best(lambda: t.query(idx, METRIC))
    p = best(lambda: df.loc[idx, METRIC].to_numpy())
    benchmark.extra_info.update(query_s=q, pandas_loc_s=p, pandas_over_query=p / q)
    print(f"\n10^6 lookups: Table.query {q * 1e3:.1f} ms, pandas .loc {p * 1e3:.1f} ms, ratio {p / q:.1f}x")
    benchmark(lambda: None)
    assert q > 0 and p > 0
