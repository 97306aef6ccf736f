"""`hwbench plot`: anytime curves and Pareto fronts as PNG and as self-contained interactive HTML."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from hwbench.cli import main
from hwbench.search.testing import ACC, PARAMS, VAL, synthetic_columns

CONSTRAINED = "nb201-c10-nats-params-constrained.v1"
PARETO = "nb201-c10-nats-macs-pareto.v1"
PAYLOAD = '<img src=x onerror="window.__pwned=1">'


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """A real nb201 table (synthetic values) and four results files written by `hwbench run`."""
    from hwbench.table import TableWriter

    cols = synthetic_columns(0)
    d = tmp_path_factory.mktemp("plot")
    table = d / "nb201-plot.h5"
    common = {"tool": "hwbench-test", "tool_version": "0", "device": "none", "protocol": {}, "description": "test"}
    with TableWriter(table) as w:
        w.add_column("cifar10/nats-bench/test_accuracy_pct", cols[ACC], unit="%", source="imported", **common)
        w.add_column("cifar10/nats-bench/valid_accuracy_pct", cols[VAL], unit="%", source="imported", **common)
        w.add_column("cifar10/model/params", cols[PARAMS], unit="1", source="analytic", **common)
        w.add_column("cifar10/model/macs", cols[PARAMS] * 50.0, unit="1", source="analytic", **common)
    files = []
    for task in (CONSTRAINED, PARETO):
        for algo in ("random", "regularized-evolution"):
            out = d / f"{task}-{algo}.json"
            assert main(["run", "--task", task, "--algorithm", algo, "--seeds", "3", "--table", str(table),
                         "--out", str(out), "--no-progress", "--format", "json"]) == 0
            files.append(out)
    return table, files


def test_png_figures_decode(results: tuple[Path, list[Path]], tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib.image

    table, files = results
    capsys.readouterr()
    assert main(["plot", *map(str, files), "--out", str(tmp_path / "png"), "--table", str(table)]) == 0
    listed = capsys.readouterr().out
    pngs = sorted(p.name for p in (tmp_path / "png").iterdir())
    assert pngs == sorted([f"{CONSTRAINED}-anytime.png", f"{PARETO}-anytime.png", f"{PARETO}-pareto.png"])
    for name in pngs:
        assert name in listed
        img = matplotlib.image.imread(tmp_path / "png" / name)
        assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 500
        assert float(np.std(img[..., :3])) > 0.05  # not a blank canvas


def test_figures_are_recomputed_from_the_table(results: tuple[Path, list[Path]], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HWBENCH_USER_DIR", str(tmp_path / "user"))  # no overlays from other tests
    from hwbench.search.plot import figures_for_task
    from hwbench.search.problem import Problem, TabularObjective
    from hwbench.search.runner import load_results
    from hwbench.search.scoring import score_results
    from hwbench.search.tasks import get_task
    from hwbench.table import load

    table, files = results
    task = get_task(PARETO)
    prob = Problem(task, TabularObjective.from_table(load(str(table)), task))
    data = [(str(f), load_results(f)) for f in files if PARETO in f.name]
    # the stored (informational) scores are ignored: tampering with them changes nothing
    data[0][1]["scores"]["summary"]["anytime"]["mean"] = [0.0] * 100
    anytime, front = figures_for_task(prob, data)
    assert [c.label for c in anytime.curves] == ["random", "regularized-evolution"]
    _, summary = score_results(prob, data[0][1])
    assert np.allclose(anytime.curves[0].y, summary.curve_mean) and anytime.logy
    assert front.curves[0].label == "true front (table)" and len(front.curves) == 3
    true_rows = prob.true_front
    assert len(front.curves[0].x) == len(true_rows)
    # every plotted front point is a (cost, scored accuracy) pair of the table, sorted by cost
    for c in front.curves[1:]:
        assert list(c.x) == sorted(c.x) and all(y <= max(front.curves[0].y) for y in c.y)


def test_html_is_self_contained_with_every_series(results: tuple[Path, list[Path]], tmp_path: Path) -> None:
    table, files = results
    out = tmp_path / "html"
    assert main(["plot", *map(str, files), "--out", str(out), "--format", "html", "--table", str(table)]) == 0
    pages = sorted(p.name for p in out.iterdir())
    assert pages == sorted([f"{CONSTRAINED}.html", f"{PARETO}.html"])
    page = (out / f"{PARETO}.html").read_text()
    assert page.count("<svg") == 2 and page.count("<figure data-series=") == 2
    for label in ("random", "regularized-evolution", "true front (table)"):
        assert f"<title>{label}" in page or f">{label}<" in page, label
    # no external resources: the only URL is the SVG namespace
    urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"'<>]*", page))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls
    assert not re.search(r"<(script|img|link|iframe)[^>]+(src|href)=", page)
    # hover data: one text per plotted point, parsable JSON in the attribute
    import html as _html

    attrs = re.findall(r'<figure data-series="([^"]*)"', page)
    meta = json.loads(_html.unescape(attrs[1]))
    assert len(meta) == 3 and all(m["step"] for m in meta) and all(m["hover"] for m in meta)
    assert "|" in meta[0]["hover"][0]  # an architecture string in the front's tooltips


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
                    reason="needs Debian's chromium and chromium-driver")
def test_html_tooltip_in_headless_chromium_and_labels_are_escaped(results: tuple[Path, list[Path]],
                                                                   tmp_path: Path) -> None:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    table, files = results
    hostile = tmp_path / "hostile.json"
    data = json.loads(files[2].read_text())
    data["algorithm"]["name"] = PAYLOAD  # a results file is user input
    hostile.write_text(json.dumps(data))
    out = tmp_path / "html"
    assert main(["plot", str(hostile), str(files[3]), "--out", str(out), "--format", "html",
                 "--table", str(table)]) == 0
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--no-first-run", "--window-size=1200,1400", f"--user-data-dir={tmp_path / 'profile'}"):
        opts.add_argument(flag)
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        drv.get((out / f"{PARETO}.html").as_uri())
        front_fig = drv.find_elements(By.CSS_SELECTOR, "figure")[1]
        dot = front_fig.find_elements(By.CSS_SELECTOR, "circle")[0]
        ActionChains(drv).move_to_element(dot).perform()
        tip = drv.find_element(By.ID, "tip")
        assert tip.is_displayed()
        assert "accuracy" in tip.text and "|" in tip.text
        # hover over every point of the hostile series: its label is shown as text, never run
        for c in front_fig.find_elements(By.CSS_SELECTOR, "circle")[:40]:
            ActionChains(drv).move_to_element(c).perform()
        assert drv.execute_script("return window.__pwned") is None
        assert PAYLOAD in drv.find_element(By.TAG_NAME, "body").text
    finally:
        drv.quit()
