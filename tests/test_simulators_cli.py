"""`hwbench simulate` end to end: nb201 cells, a user's torch factory, a saved .pt2 program."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwbench.cli import main

FACTORY = '''
import torch
from torch import nn

def make():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
    return net, torch.randn(1, 3, 16, 16)

def bad():
    return 3
'''


def _json(capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_simulate_nb201_cell_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--device", "mcu-stm32f746", "--arch", "|nor_conv_3x3~0|+|none~0|none~1|"
                 "+|skip_connect~0|none~1|nor_conv_3x3~2|"]) == 0
    out = capsys.readouterr().out
    assert "latency_ms" in out and "peak_sram_bytes" in out and "conv2d" in out
    assert main(["simulate", "--device", "gpu-jetson-tx2", "--arch", "100", "--config", "imagenet16-120",
                 "--batch", "4", "--format", "json"]) == 0
    d = _json(capsys)
    assert d["totals"]["device"] == "gpu-jetson-tx2" and d["totals"]["latency_ms"] > 0
    assert len(d["layers"]) == d["totals"]["layers"] > 0


def test_simulate_user_factory_and_pt2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    (tmp_path / "usermodels.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["simulate", "--device", "mcu-nucleo-l4r5zi", "--model", "usermodels:make", "--format", "json"]) == 0
    a = _json(capsys)
    kinds = [x["kind"] for x in a["layers"]]
    assert kinds == ["conv2d", "dwconv2d", "global_avgpool", "linear"]
    assert a["layers"][0]["fused"] == "batchnorm+relu"
    # the same model saved as a torch.export program
    import importlib

    net, x = importlib.import_module("usermodels").make()
    ep = torch.export.export(net.eval(), (x,))
    path = tmp_path / "m.pt2"
    torch.export.save(ep, str(path))
    assert main(["simulate", "--device", "mcu-nucleo-l4r5zi", "--model", str(path), "--format", "json"]) == 0
    b = _json(capsys)
    assert b["totals"]["latency_ms"] == pytest.approx(a["totals"]["latency_ms"])
    assert b["totals"]["flash_bytes"] == pytest.approx(a["totals"]["flash_bytes"])


def test_simulate_usage_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--device", "nope", "--arch", "1"]) == 2
    assert "valid devices" in capsys.readouterr().err
    assert main(["simulate", "--device", "mcu-stm32f746"]) == 2
    assert main(["simulate", "--device", "mcu-stm32f746", "--model", "no_such_mod_xyz:make"]) == 2
    assert main(["simulate", "--device", "mcu-stm32f746", "--model", str(tmp_path / "missing.pt2")]) == 2
    assert main(["simulate", "--device", "mcu-stm32f746", "--arch", "1", "--batch", "8"]) == 2
    (tmp_path / "usermodels2.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["simulate", "--device", "mcu-stm32f746", "--model", "usermodels2:bad"]) == 2
    assert "(module, example_input)" in capsys.readouterr().err
    assert main(["simulate", "--arch", "1"]) == 2
    assert main(["simulate", "--list-devices"]) == 0
    assert "asic-eyeriss" in capsys.readouterr().out
