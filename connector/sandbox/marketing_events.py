"""Marketing events (webinars) and their participations: seeded, recorded, and served with HubSpot's paths.

    GET /marketing/v3/marketing-events/                                        the portal's events
    GET /marketing/v3/marketing-events/participations/contacts/{contactIdentifier}/breakdown
    GET /marketing/v3/marketing-events/participations/{marketingEventId}/breakdown

Paths, the `state` / `limit` / `after` parameters and the breakdown shape (associations.marketingEvent
{marketingEventId, externalEventId, externalAccountId, name}, associations.contact {contactId, email},
properties {occurredAt, attendanceState, attendanceDurationSeconds, attendancePercentage}, createdAt, id)
from https://developers.hubspot.com/docs/guides/api/marketing/marketing-events ("Read participation data
for a specific contact"); Free on every hub, scope crm.objects.marketing_events.read (HubSpot's OpenAPI spec,
HubSpot/HubSpot-public-api-spec-collection, PublicApiSpecs/Marketing/Marketing Events/.../v3/marketingEvents.json).
*unverified*: the largest `limit` (the sandbox takes 100, like the CRM list endpoints), the event list's exact
fields (the sandbox answers objectId, eventName, eventType, startDateTime, endDateTime, externalEventId,
externalAccountId), and `paging.next.after` being an offset.

The generator's webinars explain part of the hidden propensity: a contact registers more often the more
likely it is to buy, and a registrant who will buy attends more often (NO_SHOW otherwise). They are drawn
from each contact's own stream, so no value the generator made before moves.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from weakref import WeakKeyDictionary

from connector.sandbox import errors
from connector.sandbox.values import iso_ms

READ_SCOPE = "crm.objects.marketing_events.read"
MAX_LIMIT = 100
EXTERNAL_ACCOUNT = "sandbox-webinars"
# The webinar integration's own contact properties (counts), as tools like Zoom's keep theirs: the
# names are the sandbox's, not HubSpot's. A rule may `watch` them to be rescored on new participation.
INTEGRATION_PROPERTIES = ("webinar_registrations", "webinar_attendances")
_DAY_MS = 86_400_000
_TITLES = ("Lead scoring 101", "From MQL to SQL", "HubSpot workflows that sell", "Pipeline reviews that work",
           "Benchmarks: B2B funnels", "Live demo: the connector", "Scoring with intent data", "Sales handoff SLAs")


@dataclass
class Participation:
    event_id: str
    contact_id: str
    email: str
    state: str
    occurred_ms: int
    duration_s: int = 0
    pid: str = ""


@dataclass
class Webinars:
    """The portal's marketing events and who took part, by contact and by event."""

    events: list[dict] = field(default_factory=list)
    by_contact: dict[str, list[Participation]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_id: int = 1

    def add(self, p: Participation) -> None:
        with self.lock:
            p.pid = p.pid or f"{p.event_id}-{p.contact_id}-{self.next_id}"
            self.next_id += 1
            kept = [q for q in self.by_contact.get(p.contact_id, []) if q.event_id != p.event_id]
            self.by_contact[p.contact_id] = [*kept, p]  # a participant has one current state per event

    def of_event(self, event_id: str) -> list[Participation]:
        with self.lock:
            return sorted((p for ps in self.by_contact.values() for p in ps if p.event_id == event_id),
                          key=lambda p: (int(p.contact_id), p.pid))


_BY_PORTAL: WeakKeyDictionary = WeakKeyDictionary()


def attach(portal: object, webinars: Webinars) -> None:
    _BY_PORTAL[portal] = webinars


def of(portal: object) -> Webinars:
    return _BY_PORTAL.setdefault(portal, Webinars())


def seed(seed_value: int, contacts: list[dict], truth: dict[str, dict], now_ms: int) -> Webinars:
    """Eight webinars over the last half year and each contact's part in them, from its own stream."""
    w = Webinars()
    for i, title in enumerate(_TITLES):
        start = now_ms - (175 - i * 23) * _DAY_MS
        w.events.append({"objectId": str(90_000_001 + i), "externalEventId": f"webinar-{i + 1}",
                         "externalAccountId": EXTERNAL_ACCOUNT, "eventName": title, "eventType": "WEBINAR",
                         "startDateTime": iso_ms(start), "endDateTime": iso_ms(start + 3_600_000)})
    for c in contacts:
        cid = c["id"]
        prop = float((truth.get(cid) or {}).get("propensity", 0.0))
        rng = random.Random(f"{seed_value}:{cid}:webinars")
        created = int(_ms(c["properties"].get("createdate")) or now_ms)
        for event in w.events:
            start = int(_ms(event["startDateTime"]) or 0)
            if start < created or rng.random() >= 0.01 + 0.12 * prop:
                continue
            registered = max(created, start - rng.randint(1, 14) * _DAY_MS)
            if start > now_ms:
                w.add(Participation(event["objectId"], cid, c["properties"].get("email") or "", "REGISTERED",
                                    registered))
            elif rng.random() < 0.1 + 0.8 * prop:
                w.add(Participation(event["objectId"], cid, c["properties"].get("email") or "", "ATTENDED", start,
                                    rng.randint(600, 3600)))
            else:
                w.add(Participation(event["objectId"], cid, c["properties"].get("email") or "", "NO_SHOW", start))
    return w


def _ms(text: str | None) -> int | None:
    from connector.sandbox.values import to_ms
    return to_ms(text) if text else None


def _page(items: list, ctx_arg) -> tuple[list, dict | None]:
    limit_text = ctx_arg("limit") or "10"
    try:
        limit = int(limit_text)
        offset = int(ctx_arg("after") or 0)
    except ValueError:
        raise errors.bad_request(f"Invalid limit {limit_text!r} or after: expected whole numbers.") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise errors.bad_request(f"limit must be between 1 and {MAX_LIMIT}, got {limit}.")
    chunk = items[offset:offset + limit]
    paging = {"next": {"after": str(offset + limit)}} if offset + limit < len(items) else None
    return chunk, paging


def _breakdown(w: Webinars, p: Participation) -> dict:
    event = next(e for e in w.events if e["objectId"] == p.event_id)
    props: dict = {"occurredAt": iso_ms(p.occurred_ms), "attendanceState": p.state}
    if p.state == "ATTENDED":
        props["attendanceDurationSeconds"] = p.duration_s
        props["attendancePercentage"] = str(round(100 * p.duration_s / 3600))
    return {"id": p.pid, "createdAt": iso_ms(p.occurred_ms), "properties": props, "associations": {
        "marketingEvent": {"marketingEventId": event["objectId"], "externalEventId": event["externalEventId"],
                           "externalAccountId": event["externalAccountId"], "name": event["eventName"]},
        "contact": {"contactId": p.contact_id, "email": p.email}}}


def _answer(w: Webinars, items: list[Participation], ctx) -> tuple[int, dict]:
    state = ctx.arg("state")
    if state:
        items = [p for p in items if p.state == state]
    chunk, paging = _page(items, ctx.arg)
    body: dict = {"total": len(items), "results": [_breakdown(w, p) for p in chunk]}
    if paging:
        body["paging"] = paging
    return 200, body


def list_events(ctx) -> tuple[int, dict]:
    w = of(ctx.portal)
    chunk, paging = _page(w.events, ctx.arg)
    return 200, {"results": chunk, **({"paging": paging} if paging else {})}


def contact_breakdown(ctx) -> tuple[int, dict]:
    ident = ctx.params["contactIdentifier"]
    cid = ctx.portal.email_index.get(ident.lower(), "") if "@" in ident else ident
    w = of(ctx.portal)
    with w.lock:
        items = sorted(w.by_contact.get(cid, []), key=lambda p: p.occurred_ms, reverse=True)
    return _answer(w, items, ctx)


def event_breakdown(ctx) -> tuple[int, dict]:
    w = of(ctx.portal)
    event_id = ctx.params["marketingEventId"]
    if not any(e["objectId"] == event_id for e in w.events):
        raise errors.not_found(f"Marketing event {event_id} does not exist.")
    return _answer(w, w.of_event(event_id), ctx)


def record(portal, contact_id: str, body: object) -> dict:
    """POST /_sandbox/contacts/{id}/marketing-event {"eventId"?, "state"}: the webinar integration
    records a registration or an attendance; it also counts them on the contact in its own properties
    (INTEGRATION_PROPERTIES, INTEGRATION source), which is what a webhook can tell the connector."""
    if not isinstance(body, dict) or body.get("state") not in ("REGISTERED", "ATTENDED", "NO_SHOW", "CANCELLED"):
        raise errors.bad_request('Expected {"state": "REGISTERED"|"ATTENDED"|"NO_SHOW"|"CANCELLED", "eventId"?}.')
    contact = portal.get("contacts", contact_id)
    if contact is None:
        raise errors.not_found(f"Contact {contact_id} does not exist.")
    w = of(portal)
    event_id = str(body.get("eventId") or w.events[-1]["objectId"])
    w.add(Participation(event_id, contact.id, contact.properties.get("email") or "", body["state"], portal.now_ms(),
                        int(body.get("durationSeconds") or (1800 if body["state"] == "ATTENDED" else 0))))
    with w.lock:
        mine = w.by_contact.get(contact.id, [])
        counts = {"webinar_registrations": str(len(mine)),
                  "webinar_attendances": str(sum(p.state == "ATTENDED" for p in mine))}
    portal.update_many("contacts", [(contact.id, counts)], source="INTEGRATION")
    return {"contactId": contact.id, "eventId": event_id, "state": body["state"], **counts}


INTEGRATION_DEFINITIONS = [
    {"name": name, "label": label, "type": "number", "fieldType": "number", "groupName": "contactinformation",
     "description": "Kept by the sandbox's webinar integration.", "options": [], "hidden": False,
     "calculated": False, "externalOptions": False, "hasUniqueValue": False, "formField": False,
     "modificationMetadata": {"archivable": True, "readOnlyDefinition": False, "readOnlyValue": False}}
    for name, label in (("webinar_registrations", "Webinar registrations"),
                        ("webinar_attendances", "Webinar attendances"))]
