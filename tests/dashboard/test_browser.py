"""The dashboard in a real headless chromium: every chart renders, no console error, the period
filter and the contact look-up work. Skipped, with the reason, where no browser is installed."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from tests.dashboard.browser import chromium, console_errors, missing, submit
from tests.dashboard.conftest import PASSWORD

pytestmark = pytest.mark.skipif(missing() is not None, reason=f"no headless browser: {missing()}")

CHARTS = {"funnel", "conversion-band", "conversion-grade", "mqls-by-path", "velocity", "cost", "calibration",
          "rejections"}


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_given_no_credential_then_the_browser_gets_401_and_sees_nothing(served):
    base, _ = served
    assert status_of(base + "/dashboard/") == 401
    with chromium() as driver:
        driver.get(base + "/dashboard/")
        assert "data-chart" not in driver.page_source
        assert "authentication required" in driver.page_source or driver.page_source.count("<") < 20


def test_given_the_credential_then_every_chart_renders_without_a_console_error(served):
    from selenium.webdriver.common.by import By

    base, _ = served
    with chromium(password=PASSWORD) as driver:
        driver.get(base + "/dashboard/?since=2025-01-01&by=month")
        figures = driver.find_elements(By.CSS_SELECTOR, "figure[data-chart]")
        assert {f.get_attribute("data-chart") for f in figures} == CHARTS
        for figure in figures:
            svg = figure.find_element(By.TAG_NAME, "svg")
            size = svg.size
            assert size["width"] > 200 and size["height"] > 40, figure.get_attribute("data-chart")
            drawn = svg.find_elements(By.CSS_SELECTOR, "rect, circle, path, text")
            assert drawn, figure.get_attribute("data-chart")
        for name in ("funnel", "conversion-band", "mqls-by-path", "velocity", "cost", "calibration"):
            marks = driver.find_elements(By.CSS_SELECTOR, f"#chart-{name} svg .bar, #chart-{name} svg .point")
            assert marks, f"{name} drew no bars or points"
        # Laptop width: nothing wider than the window.
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 1366
        assert console_errors(driver) == []


def test_given_the_period_filter_when_submitted_then_the_report_is_for_that_period(served):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from connector.commands.report import load_report
    from connector.report.periods import window

    base, ctx = served
    with chromium(password=PASSWORD) as driver:
        driver.get(base + "/dashboard/")
        assert Select(driver.find_element(By.ID, "by")).first_selected_option.text == "week"
        for field, value in (("since", "2025-03-01"), ("until", "2025-08-31")):
            driver.execute_script("arguments[0].value = arguments[1]", driver.find_element(By.ID, field), value)
        Select(driver.find_element(By.ID, "by")).select_by_value("month")
        submit(driver, "#period button")
        assert "since=2025-03-01" in driver.current_url and "by=month" in driver.current_url
        assert driver.find_element(By.ID, "window").text.startswith("2025-03-01 to 2025-08-31 by month")
        want = load_report(ctx.store, ctx.rules, window("2025-03-01", "2025-08-31", "month", 0), None)
        shown = {k.get_attribute("data-stage"): int(k.find_element(By.TAG_NAME, "b").text.replace(",", ""))
                 for k in driver.find_elements(By.CSS_SELECTOR, ".kpi[data-stage]")}
        assert shown == {s["stage"]: s["entered"] for s in want["funnel"]["total"]}
        months = driver.find_elements(By.CSS_SELECTOR, "#chart-mqls-by-path svg text")
        assert "2025-03" in {t.text for t in months}
        assert console_errors(driver) == []


def test_given_a_contact_id_when_looked_up_then_the_explanation_shows_its_score_and_decision(served, sandbox):
    from selenium.webdriver.common.by import By

    base, _ = served
    cid, record = next((cid, r) for cid, r in sandbox.portal.store("contacts").records.items()
                       if r.properties.get("lsc_qualification_path") == "hand_raise")
    with chromium(password=PASSWORD) as driver:
        driver.get(base + "/dashboard/")
        box = driver.find_element(By.ID, "q")
        box.send_keys(cid)
        submit(driver, "#lookup button")
        explain = driver.find_element(By.ID, "explain")
        assert f"Contact {cid}" in explain.text
        assert driver.find_element(By.ID, "score").text.startswith(record.properties["lsc_score"] + " ")
        assert driver.find_element(By.ID, "reasons").text.strip()
        assert driver.find_element(By.ID, "decision").text
        driver.get(base + "/dashboard/contact?q=no-such-person%40example.com")
        assert "No contact with email no-such-person@example.com" in driver.find_element(By.ID, "error").text
        assert [e for e in console_errors(driver) if "404" not in e["message"]] == []
