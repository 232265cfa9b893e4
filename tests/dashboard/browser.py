"""Headless chromium driven by selenium: Debian's chromium and chromium-driver, never a download.

Shared by the dashboard's browser tests and scripts/screenshots.py. `missing()` says why a browser
cannot run here (the tests skip with that reason)."""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

CHROMIUM = os.environ.get("CHROMIUM_BINARY", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")


def missing() -> str | None:
    """Why no headless browser test can run here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (os.path.exists(path) or shutil.which(path)):
            return f"{path} not found: apt-get install -y chromium chromium-driver (Debian's {package})"
    return None


@contextmanager
def chromium(width: int = 1366, height: int = 900, password: str | None = None) -> Iterator:
    """A headless chromium at a laptop's screen size; with `password`, every request carries it
    (HTTP basic auth, set through the DevTools protocol: no credentials in URLs)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never fetch a browser or driver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        if password is not None:
            token = base64.b64encode(f"marketing:{password}".encode()).decode()
            driver.execute_cdp_cmd("Network.enable", {})
            driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Basic {token}"}})
        yield driver
    finally:
        driver.quit()


def submit(driver, button_css: str, timeout_s: float = 30.0) -> None:
    """Click a form's button and wait until the next page has replaced this one (a click does not
    wait for the navigation it starts; on a loaded machine the old page may still be there)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, button_css).click()
    WebDriverWait(driver, timeout_s).until(expected_conditions.staleness_of(page))


def console_errors(driver) -> list[dict]:
    """The browser log's SEVERE entries (console errors, failed loads, CSP violations)."""
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
