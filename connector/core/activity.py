"""Activity rules: what a contact did (meetings, calls, emails, notes, form submissions, marketing
events, page views), counted within a window, rather than what HubSpot's rollups say.

Pure. The engagement layer (connector/engagement/) fetches a contact's occurrences; `signals`
turns them into one count per activity rule, put on the contact under the rule's synthetic key
(`activity:<rule name>`, a name HubSpot's property names cannot take), so the scoring core scores
an activity rule as it scores any other rule: a `gte at_least` condition, or a per-unit count
that decays and is remembered in History (and in lsc_state, so it survives a rebuilt store).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from connector.core.conditions import Condition, compile_condition
from connector.core.values import parse_instant

DAY = 86400.0
ENGAGEMENT_OBJECTS = ("meetings", "calls", "emails", "notes")
FORMS = "form_submissions"
MARKETING_EVENTS = "marketing_events"
PAGE_VIEWS = "page_views"
KINDS = (*ENGAGEMENT_OBJECTS, FORMS, MARKETING_EVENTS, PAGE_VIEWS)
# HubSpot's participation states (GET /marketing/v3/marketing-events/participations/contacts/
# {contactIdentifier}/breakdown, https://developers.hubspot.com/docs/guides/api/marketing/marketing-events).
STATES = ("REGISTERED", "CANCELLED", "ATTENDED", "NO_SHOW")
KEY_PREFIX = "activity:"

# The contact rollups HubSpot moves when new activity of a kind arrives: a contact whose markers
# did not move since its activity was last read is not read again. Their meanings are HubSpot's
# (https://knowledge.hubspot.com/properties/hubspots-default-contact-properties); that each one
# moves for every new object of its kind is *unverified* against a live portal. Marketing events
# move no contact property (recording attendance "adds a timeline event to the contacts":
# https://developers.hubspot.com/docs/api-reference/legacy/marketing/marketing-events/attendance/set-attendance-contactId):
# their rules name what the portal's webinar integration moves (`watch`), or are re-read with
# every change of the contact.
MARKERS: dict[str, tuple[str, ...]] = {
    "meetings": ("hs_latest_meeting_activity", "engagements_last_meeting_booked"),
    "calls": ("hs_last_sales_activity_timestamp",),
    "emails": ("hs_last_sales_activity_timestamp", "hs_sales_email_last_replied"),
    "notes": ("notes_last_updated",),
    FORMS: ("recent_conversion_date", "num_conversion_events"),
    PAGE_VIEWS: ("hs_analytics_num_page_views",),
    MARKETING_EVENTS: (),
}
# What the rollups can say of a page view where the tier has no event analytics (`fallback: rollups`).
LAST_URL, LAST_SEEN = "hs_analytics_last_url", "hs_analytics_last_timestamp"


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One thing a contact did: when (epoch seconds) and what describes it (an engagement's
    properties; a form's id and name; an event's state and name; a page view's url)."""

    at: float
    attrs: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Activity:
    """What an activity rule counts."""

    rule: str
    kind: str
    within_seconds: float | None
    at_least: int = 1
    where: tuple[tuple[str, frozenset[str]], ...] = ()  # engagement property -> values (lower case)
    form: str | None = None  # a form's name or id (guid), as the config names it
    states: frozenset[str] = frozenset()
    event_type: str | None = None  # e.g. WEBINAR; None: any marketing event
    url: Condition | None = None
    fallback: bool = False  # page views: score what the rollups say where the tier lacks events
    watch: tuple[str, ...] = ()  # contact properties whose change means new activity

    @property
    def key(self) -> str:
        return KEY_PREFIX + self.rule

    @property
    def markers(self) -> tuple[str, ...]:
        return (*MARKERS[self.kind], *self.watch)

    def describe(self) -> str:
        """How `connector explain` shows what the rule counts."""
        what = {FORMS: f"form {self.form!r} submitted", PAGE_VIEWS: "page views",
                MARKETING_EVENTS: f"marketing events {'/'.join(sorted(self.states))}"}.get(self.kind, self.kind)
        if self.where:
            what += " where " + ", ".join(f"{k} in {sorted(v)}" for k, v in self.where)
        if self.url is not None:
            what += f" with url {self.url.operator} {self.url.argument!r}"
        if self.within_seconds is not None:
            what += f" within {self.within_seconds / DAY:g} days"
        return what


def counted(activity: Activity, occurrences: Iterable[Occurrence], now: float,
            form_ids: Mapping[str, str] | None = None) -> int:
    """How many of `occurrences` (of the activity's kind) the rule counts as of `now`.
    `form_ids`: form name (lower case) -> id, to match a form named by name."""
    window = activity.within_seconds
    test = _test(activity, form_ids or {})
    return sum(1 for o in occurrences
               if (window is None or 0 <= now - o.at <= window or (o.at > now and o.at - now < 60))
               and test(o.attrs))


def from_rollups(activity: Activity, props: Mapping[str, str | None], now: float) -> int:
    """A page-view rule on a tier without event analytics: 1 when the last page seen matches and
    was seen within the window, else 0 (the rollups keep the last URL only)."""
    url = activity.url
    if url is None or not url.matches(props.get(LAST_URL)):
        return 0
    seen = parse_instant(props.get(LAST_SEEN))
    if seen is None:
        return 0
    return int(activity.within_seconds is None or now - seen <= activity.within_seconds)


def signals(activities: Sequence[Activity], by_kind: Mapping[str, Sequence[Occurrence]], now: float,
            form_ids: Mapping[str, str] | None = None) -> dict[str, str]:
    """The synthetic properties of one contact: each activity rule's key -> its count."""
    return {a.key: str(counted(a, by_kind.get(a.kind, ()), now, form_ids)) for a in activities}


def _test(activity: Activity, form_ids: Mapping[str, str]) -> Callable[[Mapping[str, str]], bool]:
    kind = activity.kind
    if kind in ENGAGEMENT_OBJECTS:
        where = activity.where
        return lambda attrs: all((attrs.get(k) or "").strip().lower() in v for k, v in where)
    if kind == FORMS:
        wanted = (activity.form or "").strip()
        ids = {wanted.lower(), form_ids.get(wanted.lower(), "").lower()} - {""}
        return lambda attrs: (attrs.get("form_id") or "").lower() in ids \
            or (attrs.get("form_name") or "").strip().lower() == wanted.lower()
    if kind == MARKETING_EVENTS:
        states, event_type = activity.states, activity.event_type
        return lambda attrs: attrs.get("state") in states and \
            (event_type is None or (attrs.get("event_type") or "").upper() == event_type)
    url = activity.url
    return lambda attrs: url is None or url.matches(attrs.get("url"))


def parse_activity(rule: str, spec: object, where: str, bad: Callable[[str, str], None]) -> Activity | None:
    """An activity rule's `activity:` mapping -> Activity; each problem goes to `bad(where, message)`."""
    if not isinstance(spec, dict):
        bad(where, "must be a mapping with a kind (" + ", ".join(KINDS) + ")")
        return None
    kind = spec.get("kind")
    if kind not in KINDS:
        bad(f"{where}.kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
        return None
    allowed = {"kind", "within_days", "at_least"} | {
        FORMS: {"form"}, MARKETING_EVENTS: {"state", "event_type", "watch"},
        PAGE_VIEWS: {"url_contains", "url_regex", "fallback"}}.get(kind, {"where"})
    before = _Count()
    count_bad = before.wrap(bad)
    for key in spec:
        if key not in allowed:
            count_bad(f"{where}.{key}", f"unknown key {key!r} for kind {kind} (allowed: {', '.join(sorted(allowed))})")
    within = spec.get("within_days")
    if within is not None and (isinstance(within, bool) or not isinstance(within, (int, float)) or within <= 0):
        count_bad(f"{where}.within_days", f"must be a number greater than 0, got {within!r}")
        within = None
    at_least = spec.get("at_least", 1)
    if isinstance(at_least, bool) or not isinstance(at_least, int) or at_least < 1:
        count_bad(f"{where}.at_least", f"must be a whole number >= 1, got {at_least!r}")
        at_least = 1
    fields: dict = {}
    if kind in ENGAGEMENT_OBJECTS:
        fields["where"] = _where(spec.get("where"), f"{where}.where", count_bad)
    elif kind == FORMS:
        form = spec.get("form")
        if not isinstance(form, (str, int)) or not str(form).strip():
            count_bad(f"{where}.form", f"is required: the form's name or id, got {form!r}")
        else:
            fields["form"] = str(form).strip()
    elif kind == MARKETING_EVENTS:
        states = spec.get("state", "ATTENDED")
        states = states if isinstance(states, list) else [states]
        wrong = [s for s in states if s not in STATES]
        if wrong or not states:
            count_bad(f"{where}.state", f"must be one or a list of {', '.join(STATES)}, got {spec.get('state')!r}")
        fields["states"] = frozenset(s for s in states if s in STATES)
        if spec.get("event_type") is not None:
            fields["event_type"] = str(spec["event_type"]).upper()
        watch = spec.get("watch") or []
        if not isinstance(watch, list) or not all(isinstance(w, str) and w.strip() for w in watch):
            count_bad(f"{where}.watch", f"must be a list of contact property names, got {watch!r}")
        else:
            fields["watch"] = tuple(w.strip() for w in watch)
    else:
        ops = [k for k in ("url_contains", "url_regex") if k in spec]
        if len(ops) != 1:
            count_bad(where, "a page_views rule needs exactly one of url_contains, url_regex")
        else:
            try:
                fields["url"] = compile_condition("contains" if ops[0] == "url_contains" else "regex", spec[ops[0]])
            except ValueError as e:
                count_bad(f"{where}.{ops[0]}", str(e))
        fallback = spec.get("fallback")
        if fallback not in (None, "rollups", "refuse"):
            count_bad(f"{where}.fallback", f"must be rollups or refuse, got {fallback!r}")
        fields["fallback"] = fallback == "rollups"
    if before.n:
        return None
    return Activity(rule, kind, float(within) * DAY if within is not None else None, at_least, **fields)


def _where(value: object, where: str, bad: Callable[[str, str], None]) -> tuple[tuple[str, frozenset[str]], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        bad(where, "must map engagement properties to a value or a list of values")
        return ()
    out = []
    for name, accepted in value.items():
        items = accepted if isinstance(accepted, list) else [accepted]
        if not isinstance(name, str) or not items or not all(isinstance(i, (str, int, float, bool)) for i in items):
            bad(f"{where}.{name}", f"must be a value or a list of values, got {accepted!r}")
            continue
        out.append((name, frozenset(str(i).strip().lower() for i in items)))
    return tuple(out)


class _Count:
    """Counts the problems reported through `wrap(bad)`."""

    def __init__(self) -> None:
        self.n = 0

    def wrap(self, bad: Callable[[str, str], None]) -> Callable[[str, str], None]:
        def counted_bad(where: str, message: str) -> None:
            self.n += 1
            bad(where, message)
        return counted_bad
