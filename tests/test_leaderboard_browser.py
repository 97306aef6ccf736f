"""The built site in a real browser: headless Chromium (Debian's `chromium` + `chromium-driver`)
driven by selenium loads it from a local http.server on 127.0.0.1.

Checks that the ranking table renders, the plots exist and have drawn content, and that a
submission whose algorithm name and author carry HTML/JavaScript shows it as text and runs nothing.
Set HWBENCH_SCREENSHOT=path to also save a screenshot (docs/leaderboard-screenshot.png is made so).
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from hwbench.leaderboard.testing import TEST_TASK, register_test_task, write_synthetic_overlay

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
PAYLOAD = '<script>window.__pwned=1;document.title="PWNED"</script><img src=x onerror="window.__pwned=2">'

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="headless browser test needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
)


@pytest.fixture()
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _user_dir: None) -> Path:
    from hwbench.leaderboard.build import build_site
    from hwbench.leaderboard.submit import submission_from_results, submit
    from hwbench.search.algorithms import create_algorithm
    from hwbench.search.runner import problem_for, results_dict, run_seeds
    from hwbench.table import load

    user = tmp_path / "user"
    write_synthetic_overlay(user)
    monkeypatch.setenv("HWBENCH_USER_DIR", str(user))
    register_test_task()
    root = tmp_path / "lb"
    for task in (TEST_TASK, "nb201-fmnist-train-macs-pareto.v1"):
        problem = problem_for(task, load("nb201"))
        for algo, name, author in (("random", "random search", "Ada Lovelace"),
                                   ("regularized-evolution", PAYLOAD, PAYLOAD)):
            trajs = run_seeds(problem, lambda a=algo: create_algorithm(a), range(problem.task.seeds))
            doc = submission_from_results(results_dict(problem, algo, trajs), authors=[{"name": author}],
                                          version="1.0", url="https://example.org/algo", license="MIT", name=name)
            submit(doc, root)
    return build_site(root)


@pytest.fixture()
def server(site: Path):  # type: ignore[no-untyped-def]
    from hwbench.leaderboard.serve import make_server

    httpd = make_server(site, "127.0.0.1", 0)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        t.join()


@pytest.fixture()
def browser(tmp_path: Path):  # type: ignore[no-untyped-def]
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
                 "--no-first-run", "--disable-component-update", "--disable-sync", "--window-size=1280,1700",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        opts.add_argument(flag)
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()


def test_site_in_headless_chromium(server: str, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    browser.get(server + "/index.html")
    links = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "table.tasks a[href*='tasks/']")]
    assert any(TEST_TASK in h for h in links) and any("macs-pareto" in h for h in links)

    browser.get(f"{server}/tasks/{TEST_TASK}.html")
    assert browser.title.startswith(TEST_TASK)  # the payload did not rewrite the title
    rows = browser.find_elements(By.CSS_SELECTOR, "table.ranking tbody tr.entry")
    assert len(rows) == 2
    names = [r.find_element(By.CSS_SELECTOR, ".algo").text for r in rows]
    assert PAYLOAD in names and "random search" in names  # the payload is shown as literal text
    assert browser.execute_script("return window.__pwned === undefined")  # and nothing of it ran
    assert browser.find_elements(By.CSS_SELECTOR, "table.ranking script, table.ranking img") == []
    means = [float(r.find_element(By.CSS_SELECTOR, "td.mean").text) for r in rows]
    assert means == sorted(means)  # ranked, lower regret first
    plot = browser.find_element(By.CSS_SELECTOR, "svg.plot")
    assert plot.size["width"] > 300 and plot.size["height"] > 200
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.plot polyline")) >= 2
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.plot polygon.band")) >= 2

    browser.get(f"{server}/tasks/nb201-fmnist-train-macs-pareto.v1.html")
    svgs = browser.find_elements(By.CSS_SELECTOR, "svg.plot")
    assert len(svgs) == 2  # anytime curves and Pareto fronts
    assert "Pareto fronts" in svgs[1].find_element(By.TAG_NAME, "title").get_attribute("textContent")
    assert len(svgs[1].find_elements(By.TAG_NAME, "circle")) > 3
    assert browser.execute_script("return window.__pwned === undefined")
    shot = os.environ.get("HWBENCH_SCREENSHOT")
    if shot:
        browser.set_window_size(1280, 2150)
        browser.get(f"{server}/tasks/nb201-fmnist-train-macs-pareto.v1.html")
        browser.save_screenshot(shot)
