"""Speed of the simulators: the whole-space nb201 sweep per device (pytest-benchmark; asserts no time)."""

from __future__ import annotations

import pytest

from hwbench.builders import build_graph
from hwbench.simulate import sweep_nb201
from hwbench.spaces.nb201 import CONFIGS, SIZE
from simulators.api import simulate
from simulators.devices import list_devices


@pytest.mark.parametrize("device", list_devices())
def test_bench_sweep_all_configs(benchmark, device: str) -> None:  # type: ignore[no-untyped-def]
    """All four configs x 15,625 cells for one device (the issue's '<= 10 s per device')."""

    def run() -> int:
        n = 0
        for cfg in CONFIGS:
            n += len(sweep_nb201(cfg, device)["latency_ms"])
        return n

    assert benchmark.pedantic(run, rounds=1, iterations=1) == SIZE * len(CONFIGS)


@pytest.mark.parametrize("device", ["mcu-stm32f746", "gpu-jetson-tx2", "fpga-zc706", "asic-eyeriss"])
def test_bench_simulate_one_network(benchmark, device: str) -> None:  # type: ignore[no-untyped-def]
    g = build_graph("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|")
    r = benchmark(simulate, g, device)
    assert r.latency_ms > 0
