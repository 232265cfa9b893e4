"""Before a page of contacts is scored: read what they did, for the kinds the rules count, and put each
activity rule's count on the contact (connector/core/activity.py).

Read only what changed: a contact's activity of a kind is read again only when the rollups that move
with new activity of that kind (its markers) moved since it was last read; a contact whose markers are
all empty has none (no call). Reads go in batches (1,000 ids per associations call, 100 objects per
batch read); webinars for many contacts at once are read per event, not per contact. What was read is
kept in the store's engagement cache; a lost store only costs reading again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from connector.core.activity import (
    ENGAGEMENT_OBJECTS,
    FORMS,
    MARKETING_EVENTS,
    PAGE_VIEWS,
    Activity,
    Occurrence,
    from_rollups,
    signals,
)
from connector.core.portal_check import check_forms_against_portal, form_ids_of
from connector.core.rules import RuleSet
from connector.core.values import parse_instant
from connector.engagement import api
from connector.errors import ConfigError, HubSpotError, Problem, ScopeError
from connector.gateway import Gateway
from connector.store import Store

log = logging.getLogger(__name__)
# More contacts than this to read webinars for: read every event's participants instead (a handful
# of calls per event, against one call per contact).
BULK_WEBINARS = 50
# How long every event's participants, once read, answer for the contacts of the following pages
# (a sync's pages come seconds apart: one read of them per run, not one per page).
BULK_TTL_S = 900.0
TIMESTAMP = "hs_timestamp"  # when an engagement happened (https://developers.hubspot.com/docs/api/crm/calls)


class Enricher:
    """Reads and counts the activity a rule set's activity rules need."""

    def __init__(self, gateway: Gateway, store: Store | None, rules: RuleSet, *, keep: bool = True):
        self.gateway = gateway
        self.store = store
        self.rules = rules
        self.keep = keep
        self.activities = rules.activities
        self.kinds = sorted({a.kind for a in self.activities})
        self._checked = False
        self._fallback_page_views = False
        self._event_types: dict[str, str] | None = None
        self._bulk: tuple[float, dict[str, list[dict]]] | None = None  # (read at, contact id -> rows)
        self._form_ids: dict[str, str] = {}  # form name or id (lower case) -> id
        self._form_names: dict[str, str] = {}  # id -> name
        self._form_logs: dict[str, _FormLog] = {}  # id -> what was read of its submissions

    def enrich(self, contacts: Sequence[dict], now: float) -> None:
        """Add each activity rule's count to every contact's properties (in place)."""
        if not self.activities or not contacts:
            return
        self.check()
        assert self.store is not None, "enrich keeps what it read in the store"
        ids = [str(c["id"]) for c in contacts]
        props = {str(c["id"]): c.setdefault("properties", {}) for c in contacts}
        by_contact: dict[str, dict[str, list[Occurrence]]] = {cid: {} for cid in ids}
        fetched_kinds = [k for k in self.kinds if not (k == PAGE_VIEWS and self._fallback_page_views)]
        cached = self.store.cached_activity(ids, fetched_kinds)
        fresh: list[tuple[str, str, str, list]] = []
        for kind in fetched_kinds:
            wanted = [a for a in self.activities if a.kind == kind]
            stale: dict[str, str] = {}
            for cid in ids:
                marker = _marker(wanted, kind, props[cid], now)
                hit = cached.get((cid, kind))
                if hit is not None and hit[0] == marker:
                    by_contact[cid][kind] = [Occurrence(at, attrs) for at, attrs in hit[1]]
                elif not any(json.loads(marker)[1:]):
                    by_contact[cid][kind] = []  # no rollup says it ever happened: nothing to read
                else:
                    stale[cid] = marker
            if not stale:
                continue
            read = self._read(kind, wanted, list(stale), props, now)
            for cid, marker in stale.items():
                occurrences = read.get(cid, [])
                by_contact[cid][kind] = occurrences
                fresh.append((cid, kind, marker, [[o.at, dict(o.attrs)] for o in occurrences]))
        if fresh and self.keep:
            self.store.cache_activity(fresh, int(now * 1000))
        for cid in ids:
            counts = signals(self.activities, by_contact[cid], now)
            if self._fallback_page_views:
                counts.update({a.key: str(from_rollups(a, props[cid], now)) for a in self.activities
                               if a.kind == PAGE_VIEWS})
            props[cid].update(counts)

    # -- before the first read: what this portal can serve --------------------------------------
    def check(self) -> None:
        """Refuse, before any activity is read, a rule this portal cannot serve (ConfigError, one line each)."""
        if self._checked:
            return
        problems = self._form_problems()
        page_view_rules = [(i, r) for i, r in enumerate(self.rules.engagement)
                           if r.activity is not None and r.activity.kind == PAGE_VIEWS]
        if page_view_rules and not problems:
            refused = self._page_views_refused()
            if refused is not None:
                strict = [(i, r) for i, r in page_view_rules if not r.activity.fallback]  # type: ignore[union-attr]
                if strict:
                    i, r = strict[0]
                    problems.append(Problem(f"{self.rules.source}: rules.engagement[{i}] {r.name!r}.activity",
                                            f"page views need HubSpot's event analytics, which this portal's tier "
                                            f"does not include ({refused}); set fallback: rollups to score the "
                                            "last page seen instead; nothing was written"))
                else:
                    log.warning("page-view rules score the rollups (the last page seen): %s", refused)
                    self._fallback_page_views = True
        if problems:
            raise ConfigError(problems)
        self._checked = True

    def _form_problems(self) -> list[Problem]:
        """Each form_submissions rule naming a form the portal lacks (one GET /marketing/v3/forms run)."""
        if FORMS not in self.kinds:
            return []
        forms = api.forms(self.gateway)
        self._form_ids = form_ids_of(forms)
        self._form_names = {str(f.get("id")): str(f.get("name") or "") for f in forms}
        return check_forms_against_portal(self.rules, forms)

    def _page_views_refused(self) -> str | None:
        return page_views_refused(self.gateway)

    # -- reading ----------------------------------------------------------------------------------
    def _read(self, kind: str, wanted: list[Activity], ids: list[str], props: dict[str, dict],
              now: float) -> dict[str, list[Occurrence]]:
        if kind in ENGAGEMENT_OBJECTS:
            return self._objects(kind, wanted, ids)
        if kind == MARKETING_EVENTS:
            return self._webinars(wanted, ids, now)
        if kind == FORMS:
            return self._submissions(wanted, ids, props, now)
        return self._page_views(wanted, ids, now)

    def _objects(self, kind: str, wanted: list[Activity], ids: list[str]) -> dict[str, list[Occurrence]]:
        links = api.associated(self.gateway, kind, ids)
        names = sorted({TIMESTAMP, *(k for a in wanted for k, _ in a.where)})
        objects = api.read_objects(self.gateway, kind, sorted({o for os in links.values() for o in os}), names)
        out: dict[str, list[Occurrence]] = {}
        for cid, object_ids in links.items():
            for oid in object_ids:
                p = objects.get(oid)
                at = parse_instant(p.get(TIMESTAMP)) if p else None
                if p is not None and at is not None:
                    out.setdefault(cid, []).append(Occurrence(at, {n: p.get(n) or "" for n in names if n != TIMESTAMP}))
        return out

    def _webinars(self, wanted: list[Activity], ids: list[str], now: float) -> dict[str, list[Occurrence]]:
        types = self._types() if any(a.event_type for a in wanted) else {}
        rows: list[dict] = []
        if self._bulk is not None and now - self._bulk[0] > BULK_TTL_S:
            self._bulk = None
        if self._bulk is None and len(ids) > BULK_WEBINARS:
            index: dict[str, list[dict]] = {}
            for event in api.marketing_events(self.gateway):
                for r in api.event_participations(self.gateway, str(event.get("objectId"))):
                    cid = str(((r.get("associations") or {}).get("contact") or {}).get("contactId"))
                    index.setdefault(cid, []).append(r)
            self._bulk = (now, index)
        if self._bulk is not None:
            rows = [r for cid in ids for r in self._bulk[1].get(cid, [])]
        else:
            for cid in ids:
                rows += api.contact_participations(self.gateway, cid)
        out: dict[str, list[Occurrence]] = {}
        for r in rows:
            assoc = r.get("associations") or {}
            cid = str((assoc.get("contact") or {}).get("contactId"))
            p = r.get("properties") or {}
            at = parse_instant(p.get("occurredAt"))
            if at is None:
                continue
            event_id = str((assoc.get("marketingEvent") or {}).get("marketingEventId") or "")
            out.setdefault(cid, []).append(Occurrence(at, {
                "state": str(p.get("attendanceState") or ""), "event": event_id,
                "event_type": types.get(event_id, "")}))
        return out

    def _types(self) -> dict[str, str]:
        if self._event_types is None:
            self._event_types = {str(e.get("objectId")): str(e.get("eventType") or "")
                                 for e in api.marketing_events(self.gateway)}
        return self._event_types

    def _submissions(self, wanted: list[Activity], ids: list[str], props: dict[str, dict],
                     now: float) -> dict[str, list[Occurrence]]:
        """The contacts' submissions of the forms the rules name, joined on the email (a submission names no
        contact). Each form is read once per Enricher, newest first down to the widest window's start;
        afterwards only its newer pages, and only when a contact's recent_conversion_date is later than the
        last read (a submission HubSpot took since)."""
        now_ms = int(now * 1000)
        latest = max((parse_instant(props[c].get("recent_conversion_date")) or 0.0 for c in ids), default=0.0)
        by_email: dict[str, list[Occurrence]] = {}
        for fid in sorted({self._form_ids[a.form.strip().lower()] for a in wanted if a.form}):
            windows = [a.within_seconds for a in wanted if a.form and self._form_ids[a.form.strip().lower()] == fid]
            since = None if None in windows else now_ms - int(1000 * max(w for w in windows if w is not None))
            log = self._form_logs.get(fid)
            if log is None or (since is not None and log.since_ms is not None and since < log.since_ms):
                log = self._form_logs[fid] = _FormLog(since, now_ms)
                log.take(api.form_submissions(self.gateway, fid, since))
            elif latest * 1000 > log.read_ms:
                # Newest first: the pages stop at what the last read already holds.
                log.take(api.form_submissions(self.gateway, fid, max(log.newest_ms, since or 0)))
                log.read_ms = now_ms
            name = self._form_names.get(fid, "")
            for email, times in log.by_email.items():
                by_email.setdefault(email, []).extend(
                    Occurrence(t / 1000, {"form_id": fid, "form_name": name}) for t in times)
        out: dict[str, list[Occurrence]] = {}
        for cid in ids:
            email = str(props[cid].get("email") or "").strip().lower()
            if email and email in by_email:
                out[cid] = by_email[email]
        return out

    def _page_views(self, wanted: list[Activity], ids: list[str], now: float) -> dict[str, list[Occurrence]]:
        windows = [a.within_seconds for a in wanted]
        since = None if None in windows else _iso(now - max(w for w in windows if w is not None))
        out: dict[str, list[Occurrence]] = {}
        for cid in ids:
            for event in api.page_views(self.gateway, cid, since):
                at = parse_instant(event.get("occurredAt"))
                if at is not None:
                    url = str((event.get("properties") or {}).get("hs_url") or "")
                    out.setdefault(cid, []).append(Occurrence(at, {"url": url}))
        return out


def read_history(gateway: Gateway, rules: RuleSet, props: dict[str, dict], now: float,
                 batch: int = api.ASSOCIATION_BATCH) -> dict[str, dict[str, list[Occurrence]]]:
    """Every occurrence of the kinds `rules`' activity rules count, for the contacts of `props` (id ->
    properties, the email for forms), through the reads the enricher makes: no markers and no cache, as
    calibration values the activity at past moments. Contacts go `batch` at a time (one associations
    call each); webinars for many contacts are read per event."""
    reader = Enricher(gateway, None, rules, keep=False)
    reader.check()
    ids = sorted(props)
    out: dict[str, dict[str, list[Occurrence]]] = {cid: {} for cid in ids}
    for kind in reader.kinds:
        if kind == PAGE_VIEWS and reader._fallback_page_views:
            continue
        wanted = [a for a in reader.activities if a.kind == kind]
        for i in range(0, len(ids), batch):
            for cid, rows in reader._read(kind, wanted, ids[i:i + batch], props, now).items():
                if cid in out:
                    out[cid][kind] = rows
    return out


def page_views_refused(gateway: Gateway) -> str | None:
    """None when the portal serves event analytics; else what HubSpot said (a 403 below Enterprise). One
    page of one event read: the tier is learned from the API's answer, as HubSpot names no tier elsewhere."""
    try:
        api.page_views(gateway, "1", None, limit=1)
    except ScopeError:
        raise
    except HubSpotError as exc:
        if getattr(exc, "status", None) == 403:
            return str(exc)
        raise
    return None


class _FormLog:
    """One form's submissions as read so far: email (lower case) -> when (epoch ms), each submission once."""

    def __init__(self, since_ms: int | None, read_ms: int) -> None:
        self.since_ms = since_ms
        self.read_ms = read_ms
        self.newest_ms = since_ms or 0
        self.seen: set[str] = set()
        self.by_email: dict[str, list[int]] = {}

    def take(self, rows: Iterable[dict]) -> None:
        for row in rows:
            key = str(row.get("conversionId") or "")
            at = int(row.get("submittedAt") or 0)
            if key in self.seen:
                continue
            self.seen.add(key)
            self.newest_ms = max(self.newest_ms, at)
            for value in row.get("values") or ():
                if value.get("name") == "email" and value.get("value"):
                    self.by_email.setdefault(str(value["value"]).strip().lower(), []).append(at)


def _marker(wanted: list[Activity], kind: str, props: dict, now: float) -> str:
    """The values that move when new activity of `kind` arrives, as JSON: [kind, values...]. Marketing
    events without `watch` have none (no contact property moves with a participation): their read
    answers for the UTC day it was made, so the nightly full pass sees yesterday's webinars; a rule
    that must see new participations at once watches what its webinar integration moves."""
    names = sorted({m for a in wanted for m in a.markers})
    if names:
        return json.dumps([kind, *(props.get(n) or "" for n in names)])
    return json.dumps([kind, "unwatched", datetime.fromtimestamp(now, UTC).date().isoformat()])


def _iso(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Enrich = Callable[[Sequence[dict], float], None]
