"""Access: off without DASHBOARD_PASSWORD (404 everywhere, as any unknown URL), 401 without the
password, 200 with it; read-only; the webhook endpoint unaffected."""

from __future__ import annotations

import base64
import logging

import pytest

from tests.dashboard.conftest import PASSWORD, dashboard_settings

URLS = ["/dashboard", "/dashboard/", "/dashboard/contact?q=1", "/dashboard/nothing-here"]


def auth(password: str, user: str = "anyone") -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def app_with(ctx, tmp_path, apps):
    def make(password):
        return apps(dashboard_settings(ctx, tmp_path, password)).test_client()
    return make


def test_given_no_password_configured_then_every_dashboard_url_is_404_like_any_unknown_url(app_with):
    client = app_with(None)
    unknown = client.get("/no-such-page")
    for url in URLS:
        for method in (client.get, client.post, client.delete):
            r = method(url, headers=auth("whatever-password"))
            assert (r.status_code, r.data) == (404, unknown.data), (url, method)
            assert "WWW-Authenticate" not in r.headers


def test_given_a_password_then_401_without_it_or_with_a_wrong_one_and_nothing_leaks(app_with):
    client = app_with(PASSWORD)
    for url in URLS:
        for headers in ({}, auth("wrong-password-123"), {"Authorization": "Bearer " + PASSWORD},
                        {"Authorization": "Basic !!!"}, auth(PASSWORD[:-1])):
            r = client.get(url, headers=headers)
            assert r.status_code == 401, (url, headers)
            assert r.headers["WWW-Authenticate"].startswith("Basic ")
            assert r.data == b"authentication required\n"
            assert r.headers["Cache-Control"] == "no-store"


def test_given_the_password_then_200_with_any_user_and_no_script_allowed(app_with, caplog):
    client = app_with(PASSWORD)
    with caplog.at_level(logging.DEBUG):
        r = client.get("/dashboard/", headers=auth(PASSWORD, "marketing"))
    assert r.status_code == 200 and b'data-chart="funnel"' in r.data
    assert b"<script" not in r.data
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    assert PASSWORD not in caplog.text


def test_given_the_password_then_the_dashboard_is_read_only(app_with):
    client = app_with(PASSWORD)
    for method in (client.post, client.put, client.delete):
        assert method("/dashboard/", headers=auth(PASSWORD)).status_code == 405


def test_given_the_dashboard_on_or_off_then_the_webhook_endpoint_answers_the_same(app_with):
    answers = []
    for password in (None, PASSWORD):
        client = app_with(password)
        r = client.post("/webhooks/hubspot", data=b"[]", headers={"Content-Type": "application/json"})
        answers.append((r.status_code, r.data))
        assert client.get("/healthz").status_code == 200
    assert answers[0] == answers[1] and answers[0][0] == 401  # unsigned: refused as before


def test_given_a_short_password_then_the_setting_is_refused_naming_it():
    from connector.errors import ConfigError
    from connector.settings import Settings

    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"DASHBOARD_PASSWORD": "short"})
    assert "DASHBOARD_PASSWORD" in str(caught.value)
    assert Settings(dashboard_password=PASSWORD).redacted()["DASHBOARD_PASSWORD"] == f"set ({len(PASSWORD)} chars)"


def test_given_the_store_changes_between_pages_then_the_next_page_counts_the_change(ctx, tmp_path, apps):
    """The web process keeps the facts between pages; a new, changed or deleted contact shows at once."""
    from connector.report.facts import ContactFacts

    def fact(cid: str, at: int, mql: int | None) -> ContactFacts:
        return ContactFacts(cid, at, (at, mql, None, None, None), "OFFLINE", "A1", 70, "score", None, at)

    now = int(__import__("time").time() * 1000)
    ctx.store.record_facts([fact("1", now - 1000, None), fact("2", now - 1000, None)])
    client = apps(dashboard_settings(ctx, tmp_path)).test_client()

    def mqls() -> int:
        page = client.get("/dashboard/", headers=auth(PASSWORD)).data.decode()
        return int(page.split('data-stage="marketingqualifiedlead"><b>')[1].split("<")[0])

    assert mqls() == 0
    ctx.store.record_facts([fact("1", now, now)])  # contact 1 became an MQL
    assert mqls() == 1
    ctx.store.record_facts([fact("3", now + 1, now + 1)])
    assert mqls() == 2
    ctx.store.forget_contacts(["1"])
    assert mqls() == 1


def test_given_the_dashboard_on_then_the_web_process_reads_the_facts_ahead_of_the_first_page(tmp_path):
    import time as _time

    from connector.dashboard.views import _FACTS_KEY
    from connector.report.facts import ContactFacts
    from connector.store import Store
    from connector.web import create_app

    url = f"sqlite:///{tmp_path / 'facts.db'}"
    store = Store(url)
    store.upgrade()
    store.record_facts([ContactFacts(str(i), 1_000, (1_000, None, None, None, None), "DIRECT_TRAFFIC", "A1", 70,
                                     "score", None, 2_000 + i) for i in range(1, 51)])
    from connector.serve import create_server
    from connector.webhooks.receiver import SETTINGS_KEY, STORE_KEY

    off = create_app({"database_url": url, "hubspot_client_secret": "s", "hubspot_access_token": "t"})
    on = create_app({"database_url": url, "hubspot_client_secret": "s", "hubspot_access_token": "t",
                     "dashboard_password": "correct horse battery"})
    servers = [create_server(app, app.extensions[SETTINGS_KEY], host="127.0.0.1", port=0) for app in (off, on)]
    try:
        deadline = _time.monotonic() + 30
        while _FACTS_KEY not in on.extensions and _time.monotonic() < deadline:  # a wait, not a speed check
            _time.sleep(0.05)
        assert len(on.extensions[_FACTS_KEY][2]) == 50  # read as the server was made, without any request
        assert _FACTS_KEY not in off.extensions  # off: nothing read, nothing served
    finally:
        for server in servers:
            server.close()
        for app in (off, on):
            app.extensions[STORE_KEY].dispose()
