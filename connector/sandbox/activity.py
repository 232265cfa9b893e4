"""Activity (page views, forms, marketing email, meetings) and how it moves HubSpot's rollups.

HubSpot does not let the API write these rollups; its tracking code, forms, email tool and meetings
tool do. The sandbox takes the same activity through `POST /_sandbox/activity` and updates the
properties here. Meanings of the properties:
https://knowledge.hubspot.com/properties/hubspots-default-contact-properties
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from connector.sandbox.values import iso_ms, ms_of, to_ms

# type -> fields it requires besides contactId and type.
ACTIVITY_TYPES: dict[str, tuple[str, ...]] = {
    "page_view": ("url",),
    "form_submission": ("formName",),
    "email_delivered": (),
    "email_open": (),
    "email_click": (),
    "email_bounce": (),
    "email_unsubscribe": (),
    "meeting_booked": (),
}

# "Sessions expire after 30 minutes of visitor inactivity", so a page view after a longer gap
# starts a new one: https://knowledge.hubspot.com/articles/kcs_article/reports/what-is-the-difference-between-sessions-visitors-visits-and-page-views
SESSION_TIMEOUT = timedelta(minutes=30)
MEETING_LENGTH = timedelta(minutes=30)
_MS = timedelta(milliseconds=1)


@dataclass
class ActivityEffect:
    """What one activity does: the properties that change, and engagements it creates.

    `changes` never includes lastmodifieddate: the portal bumps that on every write.
    `new_engagements` holds (object type, properties), e.g. ("meetings", {...}).
    """

    changes: dict[str, str | None] = field(default_factory=dict)
    new_engagements: list[tuple[str, dict]] = field(default_factory=list)


def _ms(value: object) -> int:
    """A stored or given time as epoch ms (values.to_ms); ValueError when it is not one."""
    ms = to_ms(value)
    if ms is None:
        raise ValueError(f"not a time: {value!r}")
    iso_ms(ms)  # out of range for a timestamp: raises OverflowError/OSError/ValueError
    return ms


def validate_activity(item: object) -> str | None:
    """The first problem with one activity item, naming the field; None when it is valid."""
    if not isinstance(item, dict):
        return "each activity must be a JSON object"
    contact_id = item.get("contactId")
    if contact_id is None:
        return "contactId is required"
    if isinstance(contact_id, bool) or not str(contact_id).isdigit():
        return f"contactId must be a numeric id, got {contact_id!r}"
    kind = item.get("type")
    if kind not in ACTIVITY_TYPES:
        return f"type must be one of {', '.join(ACTIVITY_TYPES)}, got {kind!r}"
    for name in ACTIVITY_TYPES[kind]:
        value = item.get(name)
        if not isinstance(value, str) or not value.strip():
            return f"{name} is required for {kind} and must be a non-empty string"
    for name in ("occurredAt", "startTime"):
        if item.get(name) is not None:
            try:
                _ms(item[name])
            except (ValueError, OverflowError, OSError):
                return f"{name} must be epoch milliseconds or an ISO 8601 timestamp"
    if "title" in item and not isinstance(item["title"], str):
        return "title must be a string"
    return None


def _count(properties: dict, name: str) -> int:
    value = properties.get(name)
    try:
        return int(float(value)) if value not in (None, "") else 0
    except ValueError:
        return 0


def _later(properties: dict, name: str, moment: int) -> bool:
    """True when `moment` (ms) is after the property's current value (or it is empty)."""
    current = properties.get(name)
    return not current or _ms(current) < moment


def _first_is_later(properties: dict, at: int) -> bool:
    first = properties.get("hs_analytics_first_timestamp")
    return bool(first) and _ms(first) > at


def apply_activity(properties: dict[str, str | None], activity: dict, now: datetime) -> ActivityEffect:
    """The effect of one valid activity on a contact's properties (which are not modified)."""
    at = _ms(activity["occurredAt"]) if activity.get("occurredAt") is not None else ms_of(now)
    stamp = iso_ms(at)
    new: dict[str, str | None] = {}
    effect = ActivityEffect()
    kind = activity["type"]

    def bump(name: str) -> None:
        new[name] = str(_count({**properties, **new}, name) + 1)

    def set_last(name: str) -> None:  # "last ..." values only move forward in time
        if _later(properties, name, at):
            new[name] = stamp

    def set_first(name: str) -> None:
        current = properties.get(name)
        if not current or _ms(current) > at:
            new[name] = stamp

    if kind == "page_view":
        # Number of Pageviews counts every view; Number of Sessions counts visits; Time of Last
        # Session is the start of the latest session; Last Page Seen the latest URL.
        bump("hs_analytics_num_page_views")
        last_seen = properties.get("hs_analytics_last_timestamp") or properties.get(
            "hs_analytics_last_visit_timestamp")
        if not last_seen or at - _ms(last_seen) > SESSION_TIMEOUT // _MS:
            bump("hs_analytics_num_visits")
            set_last("hs_analytics_last_visit_timestamp")
        if _later(properties, "hs_analytics_last_timestamp", at):
            new["hs_analytics_last_timestamp"] = stamp
            new["hs_analytics_last_url"] = activity["url"]
        if not properties.get("hs_analytics_first_url") or _first_is_later(properties, at):
            new["hs_analytics_first_url"] = activity["url"]
        set_first("hs_analytics_first_timestamp")
    elif kind == "form_submission":
        # Number of Form Submissions / Unique Forms, First and Recent Conversion (name and date).
        name = activity["formName"]
        bump("num_conversion_events")
        # The sandbox keeps no per-form history, so "unique" counts a form as new unless it is the
        # first or the most recent one seen: an approximation that never exceeds the total.
        if name not in (properties.get("first_conversion_event_name"),
                        properties.get("recent_conversion_event_name")):
            bump("num_unique_conversion_events")
        if _later(properties, "recent_conversion_date", at):
            new["recent_conversion_event_name"] = name
            new["recent_conversion_date"] = stamp
        if not properties.get("first_conversion_date") or _ms(
                properties["first_conversion_date"]) > at:
            new["first_conversion_event_name"] = name
            new["first_conversion_date"] = stamp
    elif kind in ("email_delivered", "email_open", "email_click"):
        # Each item is one marketing email: an open implies its delivery and a click its open,
        # so opens <= delivered and clicks <= opens hold as in HubSpot's per-email counts.
        bump("hs_email_delivered")
        set_last("hs_email_last_send_date")
        if kind in ("email_open", "email_click"):
            bump("hs_email_open")
            set_first("hs_email_first_open_date")
            set_last("hs_email_last_open_date")
        if kind == "email_click":
            bump("hs_email_click")
            set_first("hs_email_first_click_date")
            set_last("hs_email_last_click_date")
    elif kind == "email_bounce":
        bump("hs_email_bounce")
    elif kind == "email_unsubscribe":
        if properties.get("hs_email_optout") != "true":
            new["hs_email_optout"] = "true"
    elif kind == "meeting_booked":
        start = (_ms(activity["startTime"]) if activity.get("startTime")
                 else at + timedelta(days=2) // _MS)
        # "Date of last meeting booked in meetings tool" is the booking time; "Latest meeting
        # activity" the latest meeting date; booking counts as the contact's last engagement.
        set_last("engagements_last_meeting_booked")
        if _later(properties, "hs_latest_meeting_activity", start):
            new["hs_latest_meeting_activity"] = iso_ms(start)
        set_last("hs_last_sales_activity_timestamp")
        meeting = {
            "hs_timestamp": iso_ms(start),
            "hs_meeting_title": activity.get("title") or "Intro call",
            "hs_meeting_start_time": iso_ms(start),
            "hs_meeting_end_time": iso_ms(start + MEETING_LENGTH // _MS),
            "hs_meeting_outcome": "SCHEDULED",
        }
        if properties.get("hubspot_owner_id"):
            meeting["hubspot_owner_id"] = properties["hubspot_owner_id"]
        effect.new_engagements.append(("meetings", meeting))

    effect.changes = {k: v for k, v in new.items() if properties.get(k) != v}
    return effect
