"""The table commands of the CLI, end to end on the shipped table (real subprocesses where exit codes matter)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hwbench.cli import main

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hwbench.cli", *args], capture_output=True, text=True, timeout=120)


def test_query_json_prints_analytic_metrics_for_every_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", BEST, "--format", "json", "--no-overlay"]) == 0
    out = json.loads(capsys.readouterr().out)
    metrics = out["results"][BEST]["metrics"]
    assert out["results"][BEST]["index"] == 11668
    for config in ("cifar10", "cifar100", "imagenet16-120", "fashion-mnist"):
        assert metrics[f"{config}/model/params"] > 0
        assert metrics[f"{config}/model/flops"] == 2 * metrics[f"{config}/model/macs"]
    assert metrics["cifar10/model/params"] == 1288506  # NAS-Bench-201's published 1.2885 M
    assert out["units"]["cifar10/model/peak_activation_bytes"] == "bytes"


def test_query_many_by_index_and_pattern(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "0", "11668", "--metric", "cifar10/model/*", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["results"]) == 2
    assert all(set(r["metrics"]) == {f"cifar10/model/{m}" for m in ("params", "macs", "flops",
               "peak_activation_bytes", "weight_bytes_fp32", "weight_bytes_int8")} for r in out["results"].values())
    assert main(["query", BEST, "-m", "cifar10/model/macs"]) == 0
    text = capsys.readouterr().out
    assert "cifar10/model/macs" in text and "184730240" in text


def test_user_errors_are_one_line_and_exit_2() -> None:
    for args, needle in [
        (["query", "junk"], "invalid nb201 architecture"),
        (["query", BEST, "-m", "cifar10/model/parms"], "closest: cifar10/model/params"),
        (["query", "99999"], "index out of range"),
        (["info", "--table", "/nonexistent/t.h5"], "t.h5"),
    ]:
        r = run_cli(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert needle in r.stderr and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1


def test_help_everywhere() -> None:
    r = run_cli("--help")
    assert r.returncode == 0 and "query" in r.stdout and "import-nats" in r.stdout
    for cmd in ("info", "metrics", "query", "export", "import-nats", "build"):
        r = run_cli(cmd, "--help")
        assert r.returncode == 0 and "usage: hwbench " + cmd in r.stdout, cmd


def test_info_metrics_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--format", "json", "--no-overlay"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["rows"] == 15625 and len(info["sha256"]) == 64
    assert main(["metrics", "fashion-mnist/*", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} >= {"fashion-mnist/model/macs"} and all(r["unit"] for r in rows)
    out = tmp_path / "t.csv"
    assert main(["export", "--format", "csv", "-o", str(out), "-m", "cifar10/model/params"]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 15626 and "cifar10/model/params" in lines[0]
    pq = tmp_path / "t.parquet"
    assert main(["export", "--format", "parquet", "-o", str(pq), "-m", "cifar10/*"]) == 0
    import pandas as pd

    df = pd.read_parquet(pq)
    assert len(df) == 15625 and df["cifar10/model/params"].iloc[11668] == 1288506


@pytest.mark.reference
def test_import_nats_then_query_shows_accuracy(reference_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_path = reference_dir / "nats_tss" / "nats_tss_test_acc_200ep.csv"
    assert main(["import-nats", str(csv_path), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows_read"] == 15625 and report["unique_mismatches"] == 0
    assert main(["query", BEST, "--format", "json"]) == 0
    metrics = json.loads(capsys.readouterr().out)["results"][BEST]["metrics"]
    assert metrics["cifar10/nats-bench/test_accuracy_pct"] == pytest.approx(94.3633, abs=1e-3)
    assert metrics["cifar10/model/params"] == 1288506
    # NAS-Bench-201 indices resolve after the import
    assert main(["query", "nb201:9930", "-m", "nb201_index", "--format", "json"]) == 0
    res = json.loads(capsys.readouterr().out)["results"]
    assert list(res) == [BEST]
