"""The seeded contacts' property history: a believable timeline that ends at today's values.

The generator (generator.py) produces each contact's values as of its `now`; this module derives,
lazily and only when a read asks for `propertiesWithHistory`, the versions that led there. It
draws from its own random streams, `random.Random(f"{seed}:{contact id}:{group}")`, one per group
of properties that depend on each other (web, email, forms, lifecycle, sales), so today's values
never change and the same contact always gets the same timeline, whatever else was asked.

A version is HubSpot's shape: `{"value", "timestamp", "sourceType", "sourceId"}` plus
`sourceLabel` / `updatedByUserId` where they fit; lists are newest first
(https://developers.hubspot.com/docs/api-reference/latest/crm/objects/contacts/guide ,
"propertiesWithHistory"). UI edits carry `sourceId: "userId:<id>"`
(https://developers.hubspot.com/changelog/crm-property-change-source-will-show-owner-id-instead-of-owner-email).
*unverified*: what `sourceId` HubSpot puts on FORM, ANALYTICS, EMAIL and CALCULATED versions
(the sandbox sends a form id for forms and null for the others), and whether a form's sourceLabel
is the form's name.

What holds, for every contact (tests/sandbox/test_history.py):
- the newest version of every property is its seeded value;
- every timestamp lies in [createdate, the generator's now]; counts rise one version at a time
  to today's value and never carry a timestamp after their "last" date property
  (visits and page views: hs_analytics_last_visit_timestamp; delivered: hs_email_last_send_date;
  opens: hs_email_last_open_date; clicks: hs_email_last_click_date; forms:
  recent_conversion_date; sales activities: notes_last_contacted);
- at every instant page views >= visits, delivered >= opens >= clicks, forms >= unique forms;
- first_* properties have one version; last_* and recent_* ones have one per count step;
- lifecycle stage has one version per stage entered, at its hs_lifecyclestage_<stage>_date, and
  the date properties one CALCULATED version each (docs/hubspot-facts.md, "Date-entered
  properties": HubSpot calculates them);
- fit properties (who the contact is) have one version at createdate: FORM when a form created
  the contact (it has conversions), else CRM_UI.

Engagement is front-loaded (each middle event at `start + span * u ** 1.8`), so a contact's
counts at a young age already reflect its propensity: of 40 visits over two years, about 7 came
in the first month. Where the seeded values contradict each other (a first open after the last
click, a single open whose first and last open dates differ), counts win: an open implied by a
click is counted at the click, and the date properties keep their values at their own times.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Mapping

from connector.sandbox.properties import LIFECYCLE_STAGE_ORDER, READ_ONLY_CONTACT_PROPERTIES
from connector.sandbox.values import iso_ms, to_ms

DAY_MS = 86_400_000
_SPREAD = 1.8  # front-loading of middle events (u ** _SPREAD); 1 would be uniform
_SITE = "https://www.example-saas.com"
_PAGES = ("/", "/pricing", "/features", "/product/lead-scoring", "/customers", "/integrations",
          "/blog/what-is-lead-scoring", "/blog/mql-vs-sql", "/blog/b2b-funnel-benchmarks",
          "/careers", "/about", "/demo", "/docs/getting-started")
_FORMS = (("Newsletter signup", 0.0), ("Ebook download", 0.2), ("Webinar registration", 0.3),
          ("Free trial", 0.7), ("Pricing request", 0.8), ("Contact sales", 0.9),
          ("Demo request", 1.0))
_FORM_NS = uuid.UUID("5b2f0c9e-3f55-4d3c-9a57-1c1f5e0b7a11")

# Fields a contact fills in on a form; the rest of who-they-are a salesperson adds in the UI.
FORM_FIELDS = frozenset({"email", "firstname", "lastname", "company", "jobtitle", "phone",
                         "country", "numemployees", "crm_in_use", "monthly_inbound_leads",
                         "uses_marketing_automation"})
_WEB = ("hs_analytics_num_visits", "hs_analytics_num_page_views",
        "hs_analytics_last_visit_timestamp", "hs_analytics_last_timestamp",
        "hs_analytics_last_url")
_EMAIL = ("hs_email_delivered", "hs_email_open", "hs_email_click", "hs_email_last_send_date",
          "hs_email_first_open_date", "hs_email_last_open_date", "hs_email_first_click_date",
          "hs_email_last_click_date", "hs_email_bounce", "hs_email_optout")
_FORMS_GROUP = ("num_conversion_events", "num_unique_conversion_events",
                "first_conversion_event_name", "first_conversion_date",
                "recent_conversion_event_name", "recent_conversion_date")
_SALES = ("hubspot_owner_id", "hs_lead_status", "num_associated_deals", "num_contacted_notes",
          "notes_last_contacted", "notes_last_updated", "hs_last_sales_activity_timestamp",
          "engagements_last_meeting_booked", "hs_latest_meeting_activity")
_ANALYTICS_ONCE = frozenset({"hs_analytics_source", "hs_analytics_first_timestamp",
                             "hs_analytics_first_url"})
GROUP_OF: dict[str, str] = {
    **{n: "web" for n in _WEB}, **{n: "email" for n in _EMAIL},
    **{n: "forms" for n in _FORMS_GROUP}, **{n: "sales" for n in _SALES},
    "lifecyclestage": "lifecycle",
}
_STAGE_DATE_PREFIXES = ("hs_lifecyclestage_", "hs_v2_date_entered_", "hs_v2_date_exited_")


def form_id(name: str) -> str:
    """A stable id for a form name (the sandbox's stand-in for a form's guid)."""
    return str(uuid.uuid5(_FORM_NS, name))


def _version(value: str, at_ms: int, source: str, source_id: str | None = None,
             **extra: object) -> dict:
    return {"value": value, "timestamp": iso_ms(at_ms), "sourceType": source,
            "sourceId": source_id, **extra}


def _spread(rng: random.Random, start: int, end: int, n: int) -> list[int]:
    """n sorted times from start to end: the first at start, the last at end (n >= 1), the
    middle ones front-loaded."""
    if n <= 0:
        return []
    if n == 1:
        return [end]
    span = max(0, end - start)
    middle = sorted(start + int(span * rng.random() ** _SPREAD) for _ in range(n - 2))
    return [start, *middle, end]


Versions = list[dict] | Callable[[], list[dict]]  # built, or built when first read


def _steps(times: list[int], values: list[str], source: str, source_id: str | None = None,
           **extra: object) -> Callable[[], list[dict]]:
    """Versions (newest first) for values set at times (oldest first); repeats collapse.

    Made when read: a group's times are cheap, formatting a hundred timestamps is not."""
    return lambda: _made_steps(times, values, source, source_id, **extra)


def _made_steps(times: list[int], values: list[str], source: str, source_id: str | None,
                **extra: object) -> list[dict]:
    out: list[dict] = []
    last = None
    for at, value in zip(times, values, strict=True):
        if value == last:
            continue
        out.append(_version(value, at, source, source_id, **extra))
        last = value
    out.reverse()
    return out


class Timeline:
    """One seeded contact's history, built group by group on first use."""

    def __init__(self, props: Mapping[str, str | None], cid: str, seed: int, now_ms: int, *,
                 propensity: float = 0.3, owner_users: Mapping[str, int] | None = None,
                 default_user: int = 1, first_touch_ms: Callable[[], int | None] | None = None,
                 flat_at_ms: int | None = None) -> None:
        self.p = props
        self.cid = cid
        self.seed = seed
        self.now = now_ms
        self.prop = propensity
        self.flat_at = flat_at_ms
        self.created = self._ms("createdate") or now_ms
        self.first_touch = first_touch_ms
        owner = props.get("hubspot_owner_id")
        self.user = (owner_users or {}).get(owner or "", default_user)
        conversions = int(props.get("num_conversion_events") or 0)
        self.form_created = conversions > 0
        self.first_form = props.get("first_conversion_event_name") or ""
        self._groups: dict[str, dict[str, Versions]] = {}

    # ---- helpers ------------------------------------------------------------------------------
    def _ms(self, name: str) -> int | None:
        return to_ms(self.p.get(name))

    def _rng(self, group: str) -> random.Random:
        return random.Random(f"{self.seed}:{self.cid}:{group}")

    def _clamp(self, at: int) -> int:
        return min(self.now, max(self.created, at))

    def _ui(self, value: str, at: int) -> dict:
        return _version(value, self._clamp(at), "CRM_UI", f"userId:{self.user}",
                        updatedByUserId=self.user)

    def _created_by(self, name: str, value: str) -> dict:
        """The version a property got when the contact was created."""
        if self.form_created and (name in FORM_FIELDS or name == "createdate"):
            return _version(value, self.created, "FORM", form_id(self.first_form),
                            sourceLabel=self.first_form)
        return self._ui(value, self.created)

    # ---- the entry point ----------------------------------------------------------------------
    def versions(self, name: str) -> list[dict]:
        """The seeded versions of `name`, newest first ([] when it has no seeded value)."""
        value = self.p.get(name)
        if value is None or value == "":
            return []
        if self.flat_at is not None:
            # Imported from another CRM: one version each, at the import, as an import.
            return [_version(value, self.flat_at, "IMPORT", "sandbox-import-1")]
        group = GROUP_OF.get(name)
        if group is not None:
            built = self._groups.get(group)
            if built is None:
                built = self._groups[group] = getattr(self, f"_build_{group}")()
            found = built.get(name)
            if callable(found):
                found = built[name] = found()
            if found:
                return [dict(v) for v in found]
        if name.startswith(_STAGE_DATE_PREFIXES) or name in ("hs_object_id", "lastmodifieddate"):
            at = to_ms(value) if name != "hs_object_id" else self.created
            return [_version(value, self._clamp(at or self.created), "CALCULATED")]
        if name in _ANALYTICS_ONCE:
            return [_version(value, self.created, "ANALYTICS")]
        if name in READ_ONLY_CONTACT_PROPERTIES and name != "createdate":
            return [_version(value, self.created, "CALCULATED")]
        return [self._created_by(name, value)]

    # ---- web analytics ------------------------------------------------------------------------
    def _build_web(self) -> dict[str, Versions]:
        p, rng = self.p, self._rng("web")
        visits = int(p.get("hs_analytics_num_visits") or 0)
        if not visits:
            return {}
        views = max(visits, int(p.get("hs_analytics_num_page_views") or visits))
        last_visit = self._clamp(self._ms("hs_analytics_last_visit_timestamp") or self.created)
        last_seen = self._clamp(self._ms("hs_analytics_last_timestamp") or last_visit)
        times = _spread(rng, self.created, last_visit, visits)
        if visits == 1:
            times = [last_visit]
        extra = views - visits
        cum = sorted(rng.randint(0, extra) for _ in range(visits - 1)) + [extra]
        seen = []
        for i, at in enumerate(times):
            nxt = times[i + 1] if i + 1 < len(times) else last_seen
            browse = rng.randint(0, 1_200_000) if cum[i] > (cum[i - 1] if i else 0) else 0
            seen.append(min(at + browse, nxt))
        seen[-1] = last_seen
        pages = [_SITE + rng.choice(_PAGES) for _ in times]
        counts_v = [str(i + 1) for i in range(visits)]
        counts_w = [str(i + 1 + cum[i]) for i in range(visits)]
        out: dict[str, Versions] = {
            "hs_analytics_num_visits": _steps(times, counts_v, "ANALYTICS"),
            "hs_analytics_num_page_views": _steps(times, counts_w, "ANALYTICS"),
            "hs_analytics_last_visit_timestamp": _steps(
                times, [iso_ms(t) for t in times[:-1]]
                + [p.get("hs_analytics_last_visit_timestamp") or iso_ms(times[-1])], "ANALYTICS"),
            "hs_analytics_last_timestamp": _steps(
                seen, [iso_ms(t) for t in seen[:-1]]
                + [p.get("hs_analytics_last_timestamp") or iso_ms(seen[-1])], "ANALYTICS"),
        }
        url = p.get("hs_analytics_last_url")
        if url:
            out["hs_analytics_last_url"] = _steps(seen, pages[:-1] + [url], "ANALYTICS")
        return _fix_counts(out, ("hs_analytics_num_visits", "hs_analytics_num_page_views"), p)

    # ---- marketing email ----------------------------------------------------------------------
    def _build_email(self) -> dict[str, Versions]:
        p, rng = self.p, self._rng("email")
        out: dict[str, Versions] = {}
        delivered = int(p.get("hs_email_delivered") or 0)
        opens = int(p.get("hs_email_open") or 0)
        clicks = int(p.get("hs_email_click") or 0)
        last_send = self._clamp(self._ms("hs_email_last_send_date") or self.created)
        first_open = self._clamp(self._ms("hs_email_first_open_date") or last_send)
        last_open = self._clamp(self._ms("hs_email_last_open_date") or last_send)
        first_click = self._clamp(self._ms("hs_email_first_click_date") or last_open)
        last_click = self._clamp(self._ms("hs_email_last_click_date") or last_open)
        c = _spread(rng, min(first_click, last_click), last_click, clicks)
        o = _spread(rng, min(first_open, last_open), last_open, opens)
        if opens == 1:
            o = [first_open]
        # An open implied by a click is counted by the click, a delivery by its open at the
        # latest: so clicks <= opens <= delivered at every instant (the k-th click comes after
        # the k-th open, the j-th open after the j-th delivery).
        for k in range(min(clicks, opens)):
            o[k] = min(o[k], c[k])
        o.sort()
        d = sorted(self.created + int((last_send - self.created) * rng.random())
                   for _ in range(max(0, delivered - 1))) + [last_send][:delivered]
        for j in range(min(opens, delivered)):
            d[j] = min(d[j], o[j])
        d.sort()
        if delivered:
            out["hs_email_delivered"] = _steps(d, [str(i + 1) for i in range(delivered)], "EMAIL")
            out["hs_email_last_send_date"] = _steps(
                d, [iso_ms(t) for t in d[:-1]] + [p["hs_email_last_send_date"] or ""], "EMAIL")
        if opens:
            out["hs_email_open"] = _steps(o, [str(i + 1) for i in range(opens)], "EMAIL")
            out["hs_email_first_open_date"] = [
                _version(p["hs_email_first_open_date"] or "", first_open, "EMAIL")]
            times = sorted({*o, last_open})
            out["hs_email_last_open_date"] = _steps(
                times, [iso_ms(t) for t in times[:-1]] + [p["hs_email_last_open_date"] or ""],
                "EMAIL")
        if clicks:
            out["hs_email_click"] = _steps(c, [str(i + 1) for i in range(clicks)], "EMAIL")
            out["hs_email_first_click_date"] = [
                _version(p["hs_email_first_click_date"] or "", first_click, "EMAIL")]
            times = sorted({*c, last_click})
            out["hs_email_last_click_date"] = _steps(
                times, [iso_ms(t) for t in times[:-1]] + [p["hs_email_last_click_date"] or ""],
                "EMAIL")
        bounces = int(p.get("hs_email_bounce") or 0)
        if bounces:
            b = sorted(self.created + int((last_send - self.created) * rng.random())
                       for _ in range(bounces))
            out["hs_email_bounce"] = _steps(b, [str(i + 1) for i in range(bounces)], "EMAIL")
        optout = p.get("hs_email_optout")
        if optout == "true":
            unsubscribed = self._clamp(last_send + rng.randint(3_600_000, 3 * DAY_MS))
            out["hs_email_optout"] = _steps([self.created, unsubscribed], ["false", "true"],
                                            "EMAIL")
        elif optout:
            out["hs_email_optout"] = [_version(optout, self.created, "EMAIL")]
        return _fix_counts(out, ("hs_email_delivered", "hs_email_open", "hs_email_click",
                                 "hs_email_bounce"), p)

    # ---- forms --------------------------------------------------------------------------------
    def _build_forms(self) -> dict[str, Versions]:
        p, rng = self.p, self._rng("forms")
        n = int(p.get("num_conversion_events") or 0)
        if not n:
            return {}
        unique = min(n, max(1, int(p.get("num_unique_conversion_events") or 1)))
        first_at = self._clamp(self._ms("first_conversion_date") or self.created)
        recent_at = self._clamp(self._ms("recent_conversion_date") or first_at)
        times = [first_at] if n == 1 else _spread(rng, first_at, max(first_at, recent_at), n)
        first_name = p.get("first_conversion_event_name") or ""
        recent_name = p.get("recent_conversion_event_name") or first_name

        def form() -> str:
            target = min(1.0, max(0.0, self.prop + rng.gauss(0, 0.25)))
            return min(_FORMS, key=lambda f: abs(f[1] - target))[0]

        names = [first_name, *(form() for _ in range(n - 2)), recent_name][:n]
        if n == 1:
            names = [recent_name]
        bumps = set(rng.sample(range(1, n), unique - 1)) if unique > 1 else set()
        uniq, count = [], 1
        for i in range(n):
            count += i in bumps
            uniq.append(str(count))
        # Each submission's version names its form (sourceLabel) as HubSpot's form source does.
        out: dict[str, Versions] = {
            "num_conversion_events": _form_steps(times, [str(i + 1) for i in range(n)], names),
            "num_unique_conversion_events": _form_steps(times, uniq, names),
            "recent_conversion_event_name": _form_steps(times, names, names, collapse=False),
            "recent_conversion_date": _form_steps(
                times, [iso_ms(t) for t in times[:-1]] + [p.get("recent_conversion_date") or ""],
                names, collapse=False),
            "first_conversion_event_name": [_version(first_name, times[0], "FORM",
                                                     form_id(first_name), sourceLabel=first_name)],
            "first_conversion_date": [_version(p.get("first_conversion_date") or "", times[0],
                                               "FORM", form_id(first_name),
                                               sourceLabel=first_name)],
        }
        return _fix_counts(out, ("num_conversion_events", "num_unique_conversion_events"), p)

    # ---- lifecycle ----------------------------------------------------------------------------
    def _build_lifecycle(self) -> dict[str, Versions]:
        p = self.p
        stage = p.get("lifecyclestage") or ""
        entered = sorted(
            (to_ms(p.get(f"hs_lifecyclestage_{s}_date")) or 0, LIFECYCLE_STAGE_ORDER.index(s), s)
             for s in LIFECYCLE_STAGE_ORDER if p.get(f"hs_lifecyclestage_{s}_date"))
        versions: list[dict] = []
        for i, (at, _, name) in enumerate(entered):
            if i == 0 and self.form_created:  # the form that created the contact set it
                versions.append(_version(name, self._clamp(at), "FORM", form_id(self.first_form),
                                         sourceLabel=self.first_form))
            else:
                versions.append(self._ui(name, at))
        if not versions or versions[-1]["value"] != stage:
            versions.append(self._ui(stage, self.created if not versions else
                                     to_ms(versions[-1]["timestamp"]) or self.created))
        versions.reverse()
        return {"lifecyclestage": versions}

    # ---- owner, lead status, deals, sales activity --------------------------------------------
    def _build_sales(self) -> dict[str, Versions]:
        p, rng = self.p, self._rng("sales")
        out: dict[str, Versions] = {}
        mql = self._ms("hs_lifecyclestage_marketingqualifiedlead_date")
        sql = self._ms("hs_lifecyclestage_salesqualifiedlead_date")
        opp = self._ms("hs_lifecyclestage_opportunity_date")
        # Sales takes the contact a little after it became an MQL (before it became an SQL);
        # a lead owned without qualifying was picked up at some point after it arrived.
        if mql is not None:
            owned_at = mql + rng.randint(3_600_000, 2 * DAY_MS)
            if sql is not None:
                owned_at = min(owned_at, sql)
        else:
            owned_at = self.created + int((self.now - self.created) * rng.random() ** 2)
        touch = self.first_touch() if self.first_touch is not None else None
        if touch is not None:
            owned_at = min(owned_at, touch - rng.randint(60_000, DAY_MS))
        owned_at = self._clamp(owned_at)
        owner = p.get("hubspot_owner_id")
        if owner:
            out["hubspot_owner_id"] = [self._ui(owner, owned_at)]
        status = p.get("hs_lead_status")
        if status:
            if not owner:
                out["hs_lead_status"] = [self._created_by("hs_lead_status", status)]
            else:
                final_at = (opp if status == "OPEN_DEAL" and opp is not None else
                            sql if status in ("CONNECTED", "IN_PROGRESS") and sql is not None
                            else owned_at + rng.randint(0, 2 * DAY_MS))
                final_at = self._clamp(max(final_at, owned_at))
                steps = [self._ui(status, final_at)]
                if status not in ("NEW", "OPEN") and final_at > owned_at:
                    steps.append(self._ui("OPEN", owned_at))
                out["hs_lead_status"] = steps
        deals = int(p.get("num_associated_deals") or 0)
        if deals:
            first_deal = self._clamp(opp if opp is not None else owned_at)
            times = [first_deal] + sorted(self._clamp(first_deal + int(
                (self.now - first_deal) * rng.random())) for _ in range(deals - 1))
            out["num_associated_deals"] = _steps(times, [str(i + 1) for i in range(deals)],
                                                 "CALCULATED")
        activities = int(p.get("num_contacted_notes") or 0)
        last_contacted = self._ms("notes_last_contacted")
        if activities and last_contacted is not None:
            end = self._clamp(last_contacted)
            times = _spread(rng, min(owned_at, end), end, activities)
            stamps = [iso_ms(t) for t in times[:-1]]
            out["num_contacted_notes"] = _steps(times, [str(i + 1) for i in range(activities)],
                                                "CALCULATED")
            for name in ("notes_last_contacted", "notes_last_updated"):
                if p.get(name):
                    out[name] = _steps(times, [*stamps, p[name] or ""], "CALCULATED")
            last_sales = p.get("hs_last_sales_activity_timestamp")
            if last_sales:
                at = self._clamp(to_ms(last_sales) or end)
                if at > end:
                    out["hs_last_sales_activity_timestamp"] = _steps(
                        [*times, at], [*stamps, iso_ms(end), last_sales], "CALCULATED")
                else:
                    out["hs_last_sales_activity_timestamp"] = _steps(
                        times, [*stamps, last_sales], "CALCULATED")
        booked = self._ms("engagements_last_meeting_booked")
        if booked is not None:
            at = self._clamp(booked)
            out["engagements_last_meeting_booked"] = [
                _version(p["engagements_last_meeting_booked"] or "", at, "MEETINGS")]
            if p.get("hs_latest_meeting_activity"):
                # Set when the meeting was booked; its value is the meeting's start.
                out["hs_latest_meeting_activity"] = [
                    _version(p["hs_latest_meeting_activity"] or "", at, "MEETINGS")]
        return _fix_counts(out, ("num_associated_deals", "num_contacted_notes"), p)


def _form_steps(times: list[int], values: list[str], names: list[str], *,
                collapse: bool = True) -> Callable[[], list[dict]]:
    return lambda: _made_form_steps(times, values, names, collapse)


def _made_form_steps(times: list[int], values: list[str], names: list[str],
                     collapse: bool) -> list[dict]:
    out: list[dict] = []
    last = None
    for at, value, name in zip(times, values, names, strict=True):
        if collapse and value == last:
            continue
        out.append(_version(value, at, "FORM", form_id(name), sourceLabel=name))
        last = value
    out.reverse()
    return out


def _fix_counts(out: dict[str, Versions], names: tuple[str, ...],
                p: Mapping[str, str | None]) -> dict[str, Versions]:
    """Counts read back exactly as seeded ("3", never "3.0"): the newest value is today's."""
    def fixed(made: Versions, value: str) -> Callable[[], list[dict]]:
        def make() -> list[dict]:
            versions = made() if callable(made) else made
            if versions:
                versions[0]["value"] = value
            return versions
        return make

    for name in names:
        value = p.get(name)
        if name in out and value:
            out[name] = fixed(out[name], value)
    return out
