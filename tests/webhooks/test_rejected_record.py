"""Malformed events beside valid ones are recorded (where and why, never a value) for doctor."""

from __future__ import annotations

from connector.commands.doctor import run_doctor
from connector.settings import Settings
from tests.support.webapp import NOW_S
from tests.webhooks.test_receiver import app, client, delivery, event, overrides, post, store  # noqa: F401


def test_given_a_malformed_event_beside_a_valid_one_then_its_field_and_reason_are_kept_and_doctor_shows_them(
        app, client, store):  # noqa: F811
    body = delivery(event(1), {**event(2), "objectId": "x" * 40})
    assert post(client, body).status_code == 200
    count, latest = store.rejected_since(0)
    assert count == 1 and latest["field"] == "event[1].objectId"
    assert "x" * 40 not in latest["reason"]
    settings = Settings(hubspot_client_secret="s", database_url=str(store.url))
    check = {c.name: c for c in run_doctor(settings, clock=lambda: NOW_S + 3600)}["webhook rejections"]
    assert not check.ok and "1 malformed webhook event(s)" in check.detail and "event[1].objectId" in check.detail


def test_given_only_valid_events_then_nothing_is_recorded(app, client, store):  # noqa: F811
    assert post(client, delivery(event(1), event(2))).status_code == 200
    assert store.rejected_since(0) == (0, None)


def test_given_rejections_older_than_a_week_then_doctor_passes(app, client, store):  # noqa: F811
    assert post(client, delivery(event(1), {**event(2), "objectId": "abc"})).status_code == 200
    settings = Settings(hubspot_client_secret="s", database_url=str(store.url))
    week_later = NOW_S + 8 * 86400
    assert {c.name: c for c in run_doctor(settings, clock=lambda: week_later)}["webhook rejections"].ok
