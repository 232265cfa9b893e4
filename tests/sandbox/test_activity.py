"""Activity moves HubSpot's rollups as HubSpot does, and keeps them consistent."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.sandbox.activity import ACTIVITY_TYPES, apply_activity, validate_activity
from connector.sandbox.values import iso_ms, ms_of, to_ms

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _at(minutes: float) -> str:
    return iso_ms(ms_of(NOW + timedelta(minutes=minutes)))


def _run(items, props=None):
    props = dict(props or {})
    for item in items:
        assert validate_activity(item) is None
        props.update(apply_activity(props, item, NOW).changes)
    return props


def test_given_page_views_when_gap_over_30_min_then_new_session():
    props = _run([
        {"contactId": "1", "type": "page_view", "url": "https://s.test/a", "occurredAt": _at(0)},
        {"contactId": "1", "type": "page_view", "url": "https://s.test/b", "occurredAt": _at(20)},
        {"contactId": "1", "type": "page_view", "url": "https://s.test/c", "occurredAt": _at(80)},
    ])
    assert props["hs_analytics_num_page_views"] == "3"
    assert props["hs_analytics_num_visits"] == "2"
    assert props["hs_analytics_last_visit_timestamp"] == _at(80)
    assert props["hs_analytics_last_url"] == "https://s.test/c"
    assert props["hs_analytics_first_url"] == "https://s.test/a"


def test_given_late_page_view_then_last_url_unchanged():
    props = _run([{"contactId": "1", "type": "page_view", "url": "https://s.test/new", "occurredAt": _at(0)}])
    change = apply_activity(props, {"contactId": "1", "type": "page_view", "url": "https://s.test/old",
                                    "occurredAt": _at(-300)}, NOW).changes
    assert change["hs_analytics_num_page_views"] == "2"
    assert "hs_analytics_last_url" not in change
    assert change["hs_analytics_first_url"] == "https://s.test/old"


def test_given_forms_then_first_and_recent_conversion():
    props = _run([
        {"contactId": "1", "type": "form_submission", "formName": "Ebook download", "occurredAt": _at(0)},
        {"contactId": "1", "type": "form_submission", "formName": "Demo request", "occurredAt": _at(5)},
        {"contactId": "1", "type": "form_submission", "formName": "Demo request", "occurredAt": _at(9)},
    ])
    assert props["num_conversion_events"] == "3"
    assert props["num_unique_conversion_events"] == "2"
    assert props["first_conversion_event_name"] == "Ebook download"
    assert props["first_conversion_date"] == _at(0)
    assert props["recent_conversion_event_name"] == "Demo request"
    assert props["recent_conversion_date"] == _at(9)


def test_given_click_without_delivery_then_counts_stay_ordered():
    props = _run([{"contactId": "1", "type": "email_click", "occurredAt": _at(0)}])
    assert (props["hs_email_delivered"], props["hs_email_open"], props["hs_email_click"]) == ("1", "1", "1")
    assert props["hs_email_last_click_date"] == props["hs_email_last_open_date"] == _at(0)


def test_given_bounce_and_unsubscribe_then_flags():
    props = _run([{"contactId": "1", "type": "email_bounce"}, {"contactId": "1", "type": "email_unsubscribe"}])
    assert props["hs_email_bounce"] == "1" and props["hs_email_optout"] == "true"
    assert apply_activity(props, {"contactId": "1", "type": "email_unsubscribe"}, NOW).changes == {}


def test_given_meeting_booked_then_dates_and_new_meeting():
    effect = apply_activity({"hubspot_owner_id": "7"},
                            {"contactId": "1", "type": "meeting_booked", "occurredAt": _at(0),
                             "startTime": _at(60 * 24), "title": "Demo"}, NOW)
    assert effect.changes["engagements_last_meeting_booked"] == _at(0)
    assert effect.changes["hs_latest_meeting_activity"] == _at(60 * 24)
    (kind, meeting), = effect.new_engagements
    assert kind == "meetings"
    assert meeting["hs_meeting_start_time"] == _at(60 * 24) and meeting["hubspot_owner_id"] == "7"
    assert meeting["hs_meeting_title"] == "Demo" and meeting["hs_meeting_outcome"] == "SCHEDULED"


def test_given_bad_items_then_error_names_the_field():
    assert "contactId" in validate_activity({"type": "page_view", "url": "u"})
    assert "contactId" in validate_activity({"contactId": "abc", "type": "email_open"})
    assert "type" in validate_activity({"contactId": "1", "type": "page_visit"})
    assert "url" in validate_activity({"contactId": "1", "type": "page_view"})
    assert "formName" in validate_activity({"contactId": 1, "type": "form_submission", "formName": " "})
    assert "occurredAt" in validate_activity({"contactId": "1", "type": "email_open", "occurredAt": "soon"})
    assert validate_activity(["not", "a", "dict"]) is not None
    assert validate_activity({"contactId": 12, "type": "email_open", "occurredAt": 1764000000000}) is None


def test_given_epoch_ms_or_iso_then_same_time():
    assert to_ms(1764000000000) == to_ms("1764000000000") == to_ms(iso_ms(1764000000000))
    assert iso_ms(1764000000000) == "2025-11-24T16:00:00.000Z"
    assert ms_of(datetime(2025, 11, 24, 16, 0, 0, 123999, tzinfo=UTC)) == 1764000000123


def test_given_time_too_large_then_activity_invalid_not_a_crash():
    assert "occurredAt" in validate_activity({"contactId": 12, "type": "email_open",
                                              "occurredAt": "9" * 30})


_ITEM = st.builds(
    lambda kind, minutes: {"contactId": "1", "type": kind, "occurredAt": _at(minutes),
                           "url": "https://s.test/p", "formName": f"Form {minutes % 3}"},
    st.sampled_from(sorted(ACTIVITY_TYPES)), st.integers(-5000, 5000))


@settings(max_examples=60, deadline=None)
@given(st.lists(_ITEM, max_size=25))
def test_given_any_activity_sequence_then_rollups_stay_consistent(items):
    props = _run(items)
    n = lambda name: int(props.get(name) or 0)  # noqa: E731
    assert n("hs_analytics_num_page_views") >= n("hs_analytics_num_visits")
    assert n("hs_email_delivered") >= n("hs_email_open") >= n("hs_email_click")
    assert n("num_conversion_events") >= n("num_unique_conversion_events")
    assert n("num_unique_conversion_events") >= (1 if n("num_conversion_events") else 0)
    if props.get("first_conversion_date"):
        assert to_ms(props["first_conversion_date"]) <= to_ms(props["recent_conversion_date"])
    views = sum(i["type"] == "page_view" for i in items)
    assert n("hs_analytics_num_page_views") == views
