"""Remote measurement through a real TVM RPC tracker + RPC server on loopback, and the ``hwbench measure`` CLI."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator

import pytest
import tvm  # the tvm extra is required (CI installs it)

from hwbench.cli import main
from hwbench.measure.protocol import Protocol
from hwbench.measure.remote import RemoteError, parse_hostport
from hwbench.measure.run import measure_cells

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|"
KEY = "hwbench-test-device"
FAST = Protocol(warmup=1, repeats=5, min_repeat_ms=5.0)


@pytest.fixture(scope="module")
def tracker() -> Iterator[str]:
    """A real RPC tracker and one RPC server (key ``KEY``) on 127.0.0.1, as on a lab network."""
    from tvm import rpc
    from tvm.rpc.tracker import Tracker

    trk = Tracker(host="127.0.0.1", port=19190, port_end=19290, silent=True)
    srv = rpc.Server(host="127.0.0.1", port=19300, port_end=19400, tracker_addr=("127.0.0.1", trk.port),
                     key=KEY, silent=True)
    try:
        client = rpc.connect_tracker("127.0.0.1", trk.port)
        for _ in range(100):  # wait until the server has registered its key
            if KEY in json.dumps(client.summary()):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"RPC server never registered with the tracker: {client.summary()}")
        yield f"127.0.0.1:{trk.port}"
    finally:
        srv.terminate()
        trk.terminate()


def test_parse_hostport() -> None:
    assert parse_hostport("127.0.0.1:9190") == ("127.0.0.1", 9190)
    assert parse_hostport("board.local:1") == ("board.local", 1)
    for bad in ("9190", "host:", ":9190", "host:port", "host:70000"):
        with pytest.raises(RemoteError, match="HOST:PORT"):
            parse_hostport(bad)


def test_measure_on_an_rpc_device_end_to_end(tracker: str) -> None:
    (rec,) = measure_cells([ARCH], "fashion-mnist", protocol=FAST, rpc=tracker, key=KEY)
    assert rec["device"] == f"rpc:{KEY}@{tracker}"
    assert math.isfinite(rec["latency_ms"]) and rec["latency_ms"] > 0
    assert rec["latency_repeats"] == FAST.repeats and rec["threads"] >= 1
    assert rec["check_max_abs_err"] < 1e-4  # checked on the device against eager on the host
    assert rec["planned_activation_bytes"] > 0
    assert rec["fingerprint"]["target"]


@pytest.mark.slow
def test_cli_measure_over_rpc(tracker: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["measure", "--config", "fashion-mnist", "--cells", ARCH, "--rpc", tracker, "--key", KEY,
               "--repeats", "3", "--min-repeat-ms", "5", "--format", "json"])
    assert rc == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["device"].startswith("rpc:") and row["latency_ms"] > 0


def test_unknown_key_or_dead_tracker_fail_with_a_clear_error(tracker: str) -> None:
    from hwbench.measure.remote import request_session

    with pytest.raises(RemoteError, match="127.0.0.1:1"):
        request_session("127.0.0.1:1", KEY)
    del tracker


def test_cli_measure_local_json(capsys: pytest.CaptureFixture[str]) -> None:
    from hwbench.spaces.nb201 import SPACE

    idx = SPACE.index(ARCH)
    rc = main(["measure", "--config", "fashion-mnist", "--cells", str(idx), "--frameworks", "tvm,onnxruntime",
               "--repeats", "3", "--min-repeat-ms", "5", "--format", "json"])
    assert rc == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["index"] == idx and row["arch"] == SPACE.arch_str(ARCH)
    assert row["latency_ms"] > 0 and row["onnxruntime_latency_ms"] > 0
    assert row["fingerprint"]["threads"] == 1 and row["database_sha256"] is None


def test_cli_cuda_target_is_compile_only_here(capsys: pytest.CaptureFixture[str]) -> None:
    if tvm.cuda(0).exist:
        pytest.skip("a CUDA GPU is present: this test covers the compile-only path")
    rc = main(["measure", "--config", "fashion-mnist", "--cells", ARCH, "--target", "cuda", "--format", "json"])
    assert rc == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["measured"] is False and row["latency_ms"] is None  # NaN -> null
    assert json.loads(row["fingerprint"]["target"]) == {"kind": "cuda", "arch": "sm_87"}
    assert row["planned_activation_bytes"] > 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--frameworks", "tvm,tensorrt"], "--frameworks"),
        (["--rpc", "127.0.0.1:9190"], "--key"),
        (["--threads", "-1"], "threads"),
        (["--target", "{\"no\": 1}"], "--target"),
        (["--config", "mnist"], "config"),
    ],
)
def test_cli_usage_errors(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["measure", "--cells", ARCH, *args])
    assert rc == 2
    assert message in capsys.readouterr().err
