"""The service's web page: served without build step or CDN, and driven in a real (headless) Chromium against
`finabsa serve` on a free loopback port."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from finabsa.inference.pipeline import Pipeline
from finabsa.inference.service import ServiceLimits, create_app

HEADLINE = "Tesco shares surge after strong results"


@pytest.fixture(scope="module")
def pipeline(pipeline_runs):
    return Pipeline(pipeline_runs, batch_size=4)


def test_the_page_is_served_without_a_key_and_loads_nothing_from_elsewhere(pipeline):
    with TestClient(create_app(pipeline, api_key="s3cret", limits=ServiceLimits(max_texts=7))) as client:
        page = client.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert client.get("/v1/models").status_code == 401  # the data behind it still needs the key
    html = page.text
    assert 'Number("7")' in html and '"true" === "true"' in html  # limit and key prompt filled in by the server
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "the page must work offline (no CDN)"
    assert 'role="alert"' in html and "tabindex" in html


def _browser():
    """A headless Chromium driven by selenium, or a skip that says what is missing."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (pip install selenium); the browser test did not run")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("no Chromium and chromedriver on this machine (Debian: apt-get install chromium "
                    "chromium-driver); the browser test did not run")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,900"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(driver), options=options)


def _serve(pipeline_runs: dict[str, Path], folder: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    """`finabsa serve` on a free loopback port, with the tiny pipeline; returns the process and its address."""
    import httpx

    pipeline_file = folder / "pipeline.yaml"
    pipeline_file.write_text(yaml.safe_dump({task: str(run) for task, run in pipeline_runs.items()}))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen([sys.executable, "-m", "finabsa", "serve", str(pipeline_file), "--port", str(port),
                                *extra], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"finabsa serve exited: {process.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    pytest.fail("finabsa serve did not answer within 90 s")


def _analyse(browser, text: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    box = browser.find_element(By.ID, "texts")
    box.clear()
    box.send_keys(text)
    browser.find_element(By.ID, "analyze").click()
    WebDriverWait(browser, 60).until(ready.presence_of_element_located((By.CSS_SELECTOR, "#results .result")))


def test_a_person_types_a_headline_and_sees_its_target_and_sentiment(pipeline_runs, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    browser = _browser()
    process, base = _serve(pipeline_runs, tmp_path)
    try:
        browser.get(base + "/")
        _analyse(browser, HEADLINE)
        card = browser.find_element(By.CSS_SELECTOR, "#results .result")
        marks = card.find_elements(By.TAG_NAME, "mark")
        assert marks and marks[0].text and marks[0].text in HEADLINE
        label = marks[0].get_attribute("class")
        assert label in ("positive", "neutral", "negative")
        badge = card.find_element(By.CSS_SELECTOR, ".badge")
        assert badge.text.startswith(label)  # the sentiment is named in text beside the colour
        assert label in (marks[0].get_attribute("title") or "")
        assert card.find_element(By.CSS_SELECTOR, ".tag").text  # the aspect path as a tag
        assert "sentiment" in browser.find_element(By.ID, "models").text
        browser.save_screenshot(str(tmp_path / "page.png"))
        assert (tmp_path / "page.png").stat().st_size > 10_000

        # Keyboard only: focus the text box, type, tab to the button, press Enter.
        box = browser.find_element(By.ID, "texts")
        box.clear()
        box.send_keys("Glencore fined by regulator")
        assert not browser.find_element(By.ID, "key").is_displayed()  # no key asked for: none is configured
        box.send_keys(Keys.TAB, Keys.TAB)  # the file chooser, then the button
        assert browser.switch_to.active_element.get_attribute("id") == "analyze"
        browser.switch_to.active_element.send_keys(Keys.ENTER)
        WebDriverWait(browser, 60).until(
            lambda b: b.find_element(By.CSS_SELECTOR, "#results .result").text.startswith("Glencore"))

        # A narrow window: nothing runs off the side.
        browser.set_window_size(380, 900)
        width = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert width <= 1
        browser.save_screenshot(str(tmp_path / "page-narrow.png"))

        box = browser.find_element(By.ID, "texts")
        box.clear()
        box.send_keys("x" * 2100)  # over the service's 2000-character limit: the API's own message, readable
        browser.find_element(By.ID, "analyze").click()
        WebDriverWait(browser, 30).until(lambda b: b.find_element(By.ID, "error").text)
        assert "2000" in browser.find_element(By.ID, "error").text
    finally:
        browser.quit()
        process.terminate()
        process.wait(timeout=20)


def test_with_an_api_key_the_page_asks_for_it_and_sends_it(pipeline_runs, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser = _browser()
    process, base = _serve(pipeline_runs, tmp_path, "--api-key", "s3cret")
    try:
        browser.get(base + "/")
        key = browser.find_element(By.ID, "key")
        assert key.is_displayed()
        browser.find_element(By.ID, "texts").send_keys(HEADLINE)
        browser.find_element(By.ID, "analyze").click()
        # The refusal comes back from the server: wait for it rather than for a fixed time (a loaded machine is slow).
        WebDriverWait(browser, 60).until(lambda b: "API key" in b.find_element(By.ID, "error").text)
        key.send_keys("s3cret")
        _analyse(browser, HEADLINE)
        assert browser.find_elements(By.CSS_SELECTOR, "#results mark")
    finally:
        browser.quit()
        process.terminate()
        process.wait(timeout=20)


def test_a_person_asks_for_the_words_behind_each_sentiment(pipeline_runs, tmp_path):
    from selenium.webdriver.common.by import By

    browser = _browser()
    process, base = _serve(pipeline_runs, tmp_path)
    try:
        browser.get(base + "/")
        browser.find_element(By.ID, "explain").click()
        _analyse(browser, HEADLINE)
        card = browser.find_element(By.CSS_SELECTOR, "#results .result")
        reasons = card.find_elements(By.CSS_SELECTOR, ".reasons .reason")
        assert reasons and all(r.text and r.text.lower() in HEADLINE.lower() for r in reasons)
        assert "because of" in card.find_element(By.CSS_SELECTOR, ".reasons").text
    finally:
        browser.quit()
        process.terminate()
        process.wait(timeout=30)
