"""A real headless Chromium for the tests (Debian's ``chromium`` and ``chromium-driver``, driven by
Selenium): installed with apt when absent and the test runs as root on Debian; else the test is skipped
and says why — unless ``REQUIRE_BROWSER=1`` (what .ci/run sets), when it fails. Each browser gets a
private profile folder and is closed after the test."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

PACKAGES = ["chromium", "chromium-driver"]


def _not_run(reason: str):
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser test required (REQUIRE_BROWSER=1) but it cannot run: {reason}")
    pytest.skip(f"BROWSER TEST NOT RUN: {reason}")


def _binaries() -> tuple[str | None, str | None]:
    return shutil.which("chromium"), shutil.which("chromedriver")


def ensure_chromium() -> tuple[str, str]:
    """The paths of ``chromium`` and ``chromedriver``, installing Debian's packages if need be."""
    browser, driver = _binaries()
    if browser and driver:
        return browser, driver
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        _not_run("no chromium/chromedriver, and no root with apt-get to install them")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES]
    if subprocess.run(install, capture_output=True, env=env).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, env=env)
        done = subprocess.run(install, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            _not_run(f"apt-get install {' '.join(PACKAGES)} failed: {done.stderr[-500:]}")
    browser, driver = _binaries()
    if not (browser and driver):
        _not_run("chromium or chromedriver still missing after apt-get install")
    return browser, driver


@pytest.fixture
def chromium(tmp_path):
    """A headless Chromium under Selenium, with its console log kept (``driver.get_log("browser")``)."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _not_run("selenium is not installed (the project's dev extra has it: make install)")
    browser, driver_path = ensure_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1000", f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
