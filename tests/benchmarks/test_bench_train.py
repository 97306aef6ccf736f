"""Speed of one training step of the fashion-mnist recipe and of the final evaluation (pytest-benchmark;
asserts correctness only, never time).

Run: ``pytest tests/benchmarks/test_bench_train.py -q --benchmark-enable``. With the default
``--benchmark-disable`` each benchmark body runs once as a plain test.
"""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")

from hwbench.models.nb201 import build_model
from hwbench.train import FASHION_MNIST_RECIPE as R

CELLS = {
    "all-conv3x3": "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "mixed": "|nor_conv_1x1~0|+|skip_connect~0|avg_pool_3x3~1|+|nor_conv_3x3~0|none~1|skip_connect~2|",
}


@pytest.fixture(autouse=True)
def _one_thread() -> Any:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("cell", list(CELLS))
def test_bench_train_step(benchmark: Any, cell: str) -> None:
    torch.manual_seed(0)
    model = build_model(CELLS[cell], R.macro()).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=R.lr, weight_decay=R.weight_decay)
    x = torch.randn(R.batch_size, 1, R.resolution, R.resolution).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (R.batch_size,))

    def step() -> float:
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss.detach())

    assert benchmark(step) > 0


def test_bench_eval_1000(benchmark: Any) -> None:
    model = build_model(CELLS["mixed"], R.macro()).to(memory_format=torch.channels_last).eval()
    x = torch.randn(1000, 1, R.resolution, R.resolution).contiguous(memory_format=torch.channels_last)

    def run() -> Any:
        with torch.inference_mode():
            return model(x)

    assert benchmark(run).shape == (1000, 10)
