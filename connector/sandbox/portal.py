"""The sandbox portal's state and HubSpot's semantics for it: records, validation, writes, events.

Writes take the portal lock for as short as they can and build a new properties dict that they
swap in (copy on write); reads mostly do not take the lock: they render whatever properties dict a
record holds at that moment, which is always a complete one. (`page` and `search` take it briefly
to slice the id order.) Change events go to `publish` after the lock is released.
"""

from __future__ import annotations

import bisect
import copy
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connector.sandbox import errors, search, timeline
from connector.sandbox.properties import (
    DEFAULT_PROPERTIES_ON_READ,
    DEFAULT_PROPERTY_GROUPS,
    ENGAGEMENT_PROPERTIES,
    ENGAGEMENT_TYPES,
    LIFECYCLE_STAGE_ORDER,
    READ_ONLY_CONTACT_PROPERTIES,
    contact_properties,
    with_owner_options,
)
from connector.sandbox.values import iso_ms, normalize, to_ms

CONTACTS = "contacts"
ALWAYS_RETURNED = ("hs_object_id", "createdate", "lastmodifieddate")
ENGAGEMENT_ALWAYS = ("hs_object_id", "hs_createdate", "hs_lastmodifieddate")
MAX_BATCH = 100  # batch read/create/update/upsert inputs (docs/hubspot-facts.md, "Limits": "100 inputs")
MAX_ASSOCIATION_IDS = 1000  # associations v4 batch read (docs/hubspot-facts.md, "Limits")
# Association type ids, contact -> engagement (HUBSPOT_DEFINED), from the table on
# https://developers.hubspot.com/docs/api-reference/crm-associations-v4/guide ("Association type
# id values"): contact to call 193, email 197, meeting 199, note 201, task 203.
CONTACT_TO = {"calls": 193, "emails": 197, "meetings": 199, "notes": 201, "tasks": 203}
# The other direction, engagement -> contact, from the same table: call to contact 194, email 198,
# meeting 200, note 202, task 204. A create's `associations[].types[]` names this one (the
# association goes from the record being created); docs/hubspot-facts.md, "History, outcomes and
# handoff" ("association type 204 = task -> contact").
TO_CONTACT = {"calls": 194, "emails": 198, "meetings": 200, "notes": 202, "tasks": 204}
HUBSPOT_DEFINED = "HUBSPOT_DEFINED"
# Where calculated rollups come from in property history and webhooks (changeSource CALCULATED is
# one of the values listed on https://developers.hubspot.com/docs/api/webhooks "changeSource").
CALCULATED = "CALCULATED"
# Changes made by a private app's API calls arrive as changeSource INTEGRATION with the app id as
# sourceId (payloads captured from live portals in public code, e.g. contact.propertyChange
# {"changeSource": "INTEGRATION", "sourceId": "<appId>"}; the values are listed on
# https://developers.hubspot.com/docs/api/webhooks "changeSource").
INTEGRATION = "INTEGRATION"
# POST /_sandbox/advance: a future customer is an opportunity this long before it converts.
OPPORTUNITY_LEAD_MS = 14 * 86_400_000
_BEFORE_OPPORTUNITY = ("", "subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead")
# Where activity-driven rollup changes come from, as HubSpot's property history names them.
ACTIVITY_SOURCE = {"page_view": "ANALYTICS", "form_submission": "FORM",
                   "meeting_booked": "MEETINGS"}
# POST /_sandbox/contacts/{id}/log-activity: type -> engagement object, and what each one logs.
LOG_ACTIVITY_TYPES = {"call": "calls", "email": "emails", "meeting": "meetings", "note": "notes"}
_LOGGED: dict[str, dict[str, str]] = {
    "calls": {"hs_call_title": "Call", "hs_call_direction": "OUTBOUND",
              "hs_call_status": "COMPLETED", "hs_call_duration": "300000",
              "hs_call_body": "Logged call."},
    "emails": {"hs_email_subject": "Following up", "hs_email_direction": "EMAIL",
               "hs_email_status": "SENT", "hs_email_text": "Logged email."},
    "meetings": {"hs_meeting_title": "Meeting", "hs_meeting_outcome": "COMPLETED"},
    "notes": {"hs_note_body": "Logged note."},
}
_MEETING_MS = 30 * 60_000


@dataclass
class Record:
    id: str
    properties: dict[str, str | None]
    created_at: str
    updated_at: str
    archived: bool = False
    archived_at: str | None = None
    history: dict[str, list[dict]] | None = None  # newest first; only properties changed here
    # The generator's values (never changed: writes swap in a new dict), from which the seeded
    # history beneath `history` is derived when a read asks for it; None for records made here.
    seeded: dict[str, str | None] | None = None


@dataclass
class ObjectTable:
    """The records of one object type, with their property definitions."""
    object_type: str
    definitions: dict[str, dict]
    records: dict[str, Record] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)  # active ids, ascending
    next_id: int = 1

    def add(self, record: Record) -> None:
        self.records[record.id] = record
        if not record.archived:
            bisect.insort(self.order, int(record.id))
        self.next_id = max(self.next_id, int(record.id) + 1)

    def deactivate(self, rid: str) -> None:
        i = bisect.bisect_left(self.order, int(rid))
        if i < len(self.order) and self.order[i] == int(rid):
            del self.order[i]


class Portal:
    """In-memory HubSpot portal: contacts, engagements, associations, properties, owners."""

    def __init__(self, seeded: Any, *, clock: Callable[[], float] = time.time,
                 publish: Callable[[list[dict]], None] | None = None) -> None:
        self.lock = threading.Lock()
        self.clock = clock
        self.publish = publish
        self.portal_id: int = seeded.portal_id
        self.app_id: int = seeded.app_id
        self.owners: list[dict] = list(seeded.owners)
        self.truth: dict[str, dict] = dict(getattr(seeded, "truth", {}) or {})
        # What the seeded history is derived from (timeline.py).
        self.seed: int = getattr(seeded, "seed", 0)
        self.seed_now_ms: int = getattr(seeded, "now_ms", 0) or self.now_ms()
        self.import_ms: int | None = getattr(seeded, "import_ms", None)
        self.owner_users: dict[str, int] = {str(o["id"]): int(o.get("userId") or 1)
                                            for o in self.owners}
        self.groups: dict[str, list[dict]] = {
            CONTACTS: copy.deepcopy(DEFAULT_PROPERTY_GROUPS)
            + copy.deepcopy(list(getattr(seeded, "custom_groups", None) or ()))}
        definitions = contact_properties(self.owners) + copy.deepcopy(
            list(getattr(seeded, "custom_properties", None) or ()))
        self.stores: dict[str, ObjectTable] = {
            CONTACTS: ObjectTable(CONTACTS, {d["name"]: d for d in definitions})}
        for kind, defs in ENGAGEMENT_PROPERTIES.items():
            self.stores[kind] = ObjectTable(kind, {d["name"]: d for d in with_owner_options(defs, self.owners)})
            self.groups[kind] = [{"name": f"{kind[:-1]}information", "label": "Information",
                                  "displayOrder": 0, "archived": False}]
        self.merged_into: dict[str, str] = {}
        self.email_index: dict[str, str] = {}
        contacts = self.stores[CONTACTS]
        for obj in seeded.contacts:
            contacts.add(_record(obj))
            email = obj["properties"].get("email")
            if email:
                self.email_index[email.lower()] = obj["id"]
        for kind, objs in (getattr(seeded, "engagements", None) or {}).items():
            for obj in objs:
                self.stores[kind].add(_record(obj))
        # associations[kind][contact_id] -> engagement ids
        self.associations: dict[str, dict[str, list[str]]] = {k: {} for k in ENGAGEMENT_TYPES}
        for kind, links in (getattr(seeded, "associations", None) or {}).items():
            self.associations[kind] = {cid: list(ids) for cid, ids in links.items()}
        # The same links the other way: linked[kind][engagement id] -> contact ids.
        self.linked: dict[str, dict[str, list[str]]] = {k: {} for k in ENGAGEMENT_TYPES}
        for kind, links in self.associations.items():
            for cid, ids in links.items():
                for eid in ids:
                    self.linked[kind].setdefault(eid, []).append(cid)

    # ---- time ---------------------------------------------------------------------------------
    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), tz=UTC)

    # ---- reads --------------------------------------------------------------------------------
    def store(self, object_type: str) -> ObjectTable:
        try:
            return self.stores[object_type]
        except KeyError:
            raise errors.bad_request(f"Unknown object type {object_type!r}.") from None

    def count(self, object_type: str = CONTACTS) -> int:
        return len(self.stores[object_type].order)

    def read_names(self, object_type: str, requested: Iterable[str] | None) -> list[str]:
        """The property names a read returns: the asked-for known ones plus the always-present."""
        defs = self.stores[object_type].definitions
        always = ALWAYS_RETURNED if object_type == CONTACTS else ENGAGEMENT_ALWAYS
        if not requested:
            base = DEFAULT_PROPERTIES_ON_READ if object_type == CONTACTS else ()
            return list(dict.fromkeys([*base, *always]))
        # Unknown names in `properties` are ignored on reads, not an error.
        return list(dict.fromkeys([*(n for n in requested if n in defs), *always]))

    def render(self, record: Record, names: list[str], history: list[str] | None = None) -> dict:
        props = record.properties
        out: dict[str, Any] = {"id": record.id, "properties": {n: props.get(n) for n in names},
                               "createdAt": record.created_at, "updatedAt": record.updated_at,
                               "archived": record.archived}
        if record.archived_at:
            out["archivedAt"] = record.archived_at
        if history:
            defs = self._defs_for(record)
            base = self._seeded_history(record, defs is self.stores[CONTACTS].definitions)
            out["propertiesWithHistory"] = {
                n: [*(record.history or {}).get(n, ()), *base(n)] for n in history if n in defs}
        return out

    def history(self, record: Record, name: str) -> list[dict]:
        """A property's versions, newest first: writes made here on top of the seeded ones."""
        contact = self.stores[CONTACTS].records.get(record.id) is record
        return [*(record.history or {}).get(name, ()), *self._seeded_history(record, contact)(name)]

    def _seeded_history(self, record: Record, contact: bool) -> Callable[[str], list[dict]]:
        """name -> the versions from before the sandbox started (none for records made here).

        Contacts: the generator's timeline (timeline.py), built lazily from the seeded values.
        Engagements: one IMPORT version of each seeded value, at the record's creation."""
        seeded = record.seeded
        if seeded is None:
            return lambda name: []
        if not contact:
            def imported(name: str) -> list[dict]:
                value = seeded.get(name)
                return [] if value in (None, "") else [{
                    "value": value, "timestamp": seeded.get("hs_createdate") or record.created_at,
                    "sourceType": "IMPORT", "sourceId": None}]
            return imported
        truth = self.truth.get(record.id) or {}
        return timeline.Timeline(
            seeded, record.id, self.seed, self.seed_now_ms,
            propensity=float(truth.get("propensity", 0.3)), owner_users=self.owner_users,
            default_user=next(iter(self.owner_users.values()), 1),
            first_touch_ms=lambda: self._first_touch(record.id), flat_at_ms=self.import_ms,
        ).versions

    def _first_touch(self, cid: str) -> int | None:
        """When sales first logged an engagement with a seeded contact (None: never)."""
        times = [to_ms(r.seeded.get("hs_createdate")) for kind in ENGAGEMENT_TYPES
                 for eid in self.associations.get(kind, {}).get(cid, ())
                 if (r := self.stores[kind].records.get(eid)) is not None and r.seeded]
        found = [t for t in times if t is not None]
        return min(found) if found else None

    def _defs_for(self, record: Record) -> dict[str, dict]:
        for s in self.stores.values():
            if s.records.get(record.id) is record:
                return s.definitions
        return {}

    def page(self, object_type: str, after: str | None, limit: int,
             archived: bool) -> tuple[list[Record], str | None]:
        store = self.store(object_type)
        floor = _after(after)
        with self.lock:
            if archived:
                ids = sorted(int(r.id) for r in store.records.values()
                             if r.archived and r.id not in self.merged_into
                             and not r.properties.get("_privacy_deleted"))
            else:
                ids = store.order
            start = bisect.bisect_left(ids, floor) if floor is not None else 0
            chunk = ids[start:start + limit + 1]
            records = [store.records[str(i)] for i in chunk[:limit]]
        next_after = str(chunk[limit]) if len(chunk) > limit else None
        return records, next_after

    def get(self, object_type: str, rid: str, archived: bool = False,
            id_property: str | None = None) -> Record | None:
        store = self.store(object_type)
        if id_property == "email" and object_type == CONTACTS:
            rid = self.email_index.get(rid.lower(), "")
        elif id_property not in (None, "hs_object_id"):
            raise errors.bad_request(f"Unsupported idProperty {id_property!r}.")
        rid = self.resolve_merged(rid)  # a merged-away id reads as the record it ended up in
        record = store.records.get(rid)
        if record is None or record.archived != archived \
                or record.properties.get("_privacy_deleted"):
            return None
        return record

    def resolve_merged(self, rid: str) -> str:
        """Follow merges to the surviving id: A merged into B, then B into C, reads as C.

        A read by a merged-away id answers the surviving record (the record's
        `hs_merged_object_ids` lists the ids it absorbed; docs/sandbox.md "Merge"). That a chain
        resolves to its end rather than 404ing is *unverified* (reviewer's report, consistent with
        HubSpot answering every merged-away id with the record that now holds it).
        """
        seen = 0
        while rid in self.merged_into and seen <= len(self.merged_into):
            rid = self.merged_into[rid]
            seen += 1  # a cycle cannot happen (merge refuses archived ids); guard anyway
        return rid

    # ---- owners and associations ----------------------------------------------------------------
    def active_owner_ids(self) -> set[str]:
        return {str(o["id"]) for o in self.owners if not o.get("archived")}

    def deactivate_owner(self, owner_id: str) -> dict | None:
        """Deactivate an owner's user: the owner becomes archived (POST
        /_sandbox/owners/{ownerId}/deactivate). None when there is no such owner.

        HubSpot lists deactivated users' owners only with `archived=true` on GET /crm/v3/owners
        (the `archived` query parameter of https://developers.hubspot.com/docs/api/crm/owners ;
        practitioners' guides to reassigning deactivated owners, e.g.
        https://www.skills.sh/tomgranot/hubspot-admin-skills/reassign-deactivated-owners : "The
        Owners API requires the archived=true parameter to retrieve deactivated users"). Records
        keep their hubspot_owner_id: HubSpot does not reassign them. Copy on write: the list
        holds a new dict for the owner. *unverified*: whether HubSpot also blanks `userId` of a
        deactivated owner (`userIdIncludingInactive` suggests it may); the sandbox keeps both.
        """
        with self.lock:
            for i, owner in enumerate(self.owners):
                if str(owner["id"]) == owner_id:
                    if not owner.get("archived"):
                        self.owners[i] = {**owner, "archived": True,
                                          "updatedAt": iso_ms(self.now_ms())}
                    return self.owners[i]
        return None

    def associated(self, object_type: str, rid: str, to_type: str) -> list[tuple[str, str]]:
        """(id, v3 association type name) of the records of `to_type` a record is linked to.

        Contacts link to engagements and engagements to contacts; nothing else is modelled. The
        names (`task_to_contact`, `contact_to_task`) follow the v3 `associations` read shape,
        {"results": [{"id", "type"}]} (https://developers.hubspot.com/docs/api/crm/tasks
        "Retrieve tasks", `associations` parameter); the exact `type` strings are *unverified*.
        """
        if object_type == CONTACTS and to_type in ENGAGEMENT_TYPES:
            return [(eid, f"contact_to_{to_type[:-1]}")
                    for eid in self.associations[to_type].get(rid, ())]
        if object_type in ENGAGEMENT_TYPES and to_type == CONTACTS:
            return [(cid, f"{object_type[:-1]}_to_contact")
                    for cid in self.linked[object_type].get(rid, ())]
        return []

    def created_tasks(self) -> list[dict]:
        """Tasks created through the API (not the seeded ones), oldest first, for
        GET /_sandbox/tasks: id, contact ids, creation time in ms and the task's properties."""
        store = self.stores["tasks"]
        with self.lock:
            records = [r for r in store.records.values() if r.seeded is None]
            links = {r.id: list(self.linked["tasks"].get(r.id, ())) for r in records}
        out = []
        for r in sorted(records, key=lambda r: int(r.id)):
            out.append({"id": r.id, "contactIds": links[r.id],
                        "createdAtMs": to_ms(r.created_at), "archived": r.archived,
                        "properties": {k: v for k, v in r.properties.items()
                                       if v not in (None, "") and not k.startswith("_")}})
        return out

    def search(self, object_type: str, body: Any, raw_length: int) -> tuple[int, list[Record],
                                                                             int | None, Any]:
        store = self.store(object_type)
        type_of = lambda name: (store.definitions.get(name) or {}).get("type")  # noqa: E731
        request = search.parse(body, raw_length, type_of)
        # Filters on the pseudo-property `associations.contact` see each engagement's contact ids.
        by_contact = "associations.contact" in request.associations \
            and object_type in ENGAGEMENT_TYPES
        with self.lock:
            ids_in_order = store.order
            if request.id_floor is not None:
                ids_in_order = ids_in_order[bisect.bisect_right(ids_in_order, request.id_floor):]
            if request.id_ceiling is not None:
                ids_in_order = ids_in_order[:bisect.bisect_left(ids_in_order, request.id_ceiling)]
            if request.id_only and request.sort_property == "hs_object_id":
                # Paging by id with nothing else to check: the page is a slice of the id order.
                end = request.offset + request.limit
                if request.descending:  # the same slice, counted from the top
                    top = len(ids_in_order)
                    ids = [str(i) for i in reversed(ids_in_order[max(0, top - end):max(0, top - request.offset)])]
                else:
                    ids = [str(i) for i in ids_in_order[request.offset:end]]
                total, next_after = len(ids_in_order), (end if end < len(ids_in_order) else None)
                return total, [store.records[i] for i in ids], next_after, request
            snapshot = [(str(i), store.records[str(i)].properties) for i in ids_in_order]
            if by_contact:
                linked = self.linked[object_type]
                snapshot = [(rid, {**props, "associations.contact": ";".join(linked.get(rid, ()))})
                            for rid, props in snapshot]
        total, ids, next_after = search.run(request, snapshot, type_of)
        return total, [store.records[i] for i in ids], next_after, request

    # ---- validation ---------------------------------------------------------------------------
    def _validate(self, store: ObjectTable, values: Any, *, allow_read_only: bool = False,
                  check_owner: bool = True) -> dict[str, str | None]:
        """Normalized values, or ApiError 400 naming every bad property (HubSpot lists them all)."""
        if not isinstance(values, dict):
            raise errors.bad_request("Invalid input JSON: `properties` must be an object.")
        out: dict[str, str | None] = {}
        bad: list[dict] = []
        read_only = (READ_ONLY_CONTACT_PROPERTIES if store.object_type == CONTACTS else
                     {n for n, d in store.definitions.items()
                      if d.get("modificationMetadata", {}).get("readOnlyValue")})
        active_owners = self.active_owner_ids() if check_owner else None
        for name, value in values.items():
            definition = store.definitions.get(name)
            if definition is None:
                bad.append({"isValid": False, "message": f'Property "{name}" does not exist',
                            "error": "PROPERTY_DOESNT_EXIST", "name": name})
                continue
            if name in read_only and not allow_read_only:
                # Calculated properties are not writable through the API
                # (https://knowledge.hubspot.com/properties/hubspots-default-contact-properties
                # marks them calculated). The code READ_ONLY_VALUE is *unverified*: clients
                # should key on status 400 and category, not on the code.
                bad.append({"isValid": False,
                            "message": f"{name} is a read only property; its value cannot be set.",
                            "error": "READ_ONLY_VALUE", "name": name})
                continue
            if name == "hubspot_owner_id" and active_owners is not None \
                    and value not in (None, "") and str(value) not in active_owners:
                # An owner must be one of the portal's active owners (a deactivated user cannot
                # be assigned records: https://developers.hubspot.com/docs/api/crm/owners , id
                # "should be used ... when assigning an owner to a record or activity"). The
                # code INVALID_OWNER_ID and the message are *unverified*; the property is named.
                bad.append({"isValid": False,
                            "message": f"{value} is not a valid owner id: no active owner has "
                                       "that id.",
                            "error": "INVALID_OWNER_ID", "name": name})
                continue
            stored, problem = normalize(definition, value)
            if problem:
                bad.append(problem)
            else:
                out[name] = stored
        if bad:
            raise errors.invalid_properties(bad)
        return out

    # ---- writes -------------------------------------------------------------------------------
    def create(self, object_type: str, values: Any, associations: Any = None, *,
               source: str = INTEGRATION, source_id: str | None = None,
               check_owner: bool = True) -> Record:
        return self.create_many(object_type, [(values, associations)], source=source,
                                source_id=source_id, check_owner=check_owner)[0]

    def create_many(self, object_type: str, inputs: list[tuple[Any, Any]], *,
                    source: str = INTEGRATION, source_id: str | None = None,
                    check_owner: bool = True) -> list[Record]:
        """Create records all or nothing: any invalid input fails the whole request.

        `check_owner=False`: an owner that is no longer active is kept (the sandbox's own
        activity copies a contact's owner onto the meeting it books)."""
        store = self.store(object_type)
        source_id = source_id if source_id is not None else str(self.app_id)
        prepared = [(self._validate(store, values, check_owner=check_owner),
                     self._parse_associations(object_type, assoc)) for values, assoc in inputs]
        if object_type != CONTACTS:
            for props, _ in prepared:
                # hs_timestamp is required on every engagement create ("Required": the task's
                # due date, a call's or note's time): https://developers.hubspot.com/docs/api/crm/tasks
                # and the calls, emails, meetings and notes guides beside it.
                if not props.get("hs_timestamp"):
                    raise errors.invalid_properties([{
                        "isValid": False, "message": "hs_timestamp is required",
                        "error": "REQUIRED_PROPERTY", "name": "hs_timestamp"}])
        events: list[dict] = []
        with self.lock:
            if object_type != CONTACTS:
                self._check_contacts([cid for _, links in prepared for cid in links])
                prepared = [(props, [self.resolve_merged(c) for c in links])
                            for props, links in prepared]
            created = self._create_locked(store, prepared, source, source_id, events)
        self._publish(events)
        return created

    def _check_contacts(self, contact_ids: list[str]) -> None:
        """400 unless every contact an association names exists (lock held).

        HubSpot's answer for an association to a record that does not exist, as quoted from a live
        portal in https://github.com/HubSpot/hubspot-api-nodejs/issues/646 (a v4 association PUT):
        {"status":"error","message":"One or more associations are invalid","context":
        {"INVALID_OBJECT_IDS":["CONTACT=38374264688 is not valid"],"objectId":["38374264688"],
        "objectType":["CONTACT"]},"category":"VALIDATION_ERROR"}. *unverified*: that a create
        with `associations` answers the same body (it is refused as a whole: nothing is created).
        """
        missing = list(dict.fromkeys(c for c in contact_ids if self.get(CONTACTS, c) is None))
        if missing:
            raise errors.bad_request("One or more associations are invalid", context={
                "INVALID_OBJECT_IDS": [f"CONTACT={c} is not valid" for c in missing],
                "objectId": missing, "objectType": ["CONTACT"]})

    def _create_locked(self, store: ObjectTable, prepared: list[tuple[dict, list[str]]], source: str,
                       source_id: str | None, events: list[dict]) -> list[Record]:
        """Create validated records (lock held); append their change events to `events`."""
        object_type = store.object_type
        created: list[Record] = []
        emails = [p.get("email", "").lower() for p, _ in prepared if p.get("email")]
        for email in emails:
            if email in self.email_index or emails.count(email) > 1:
                existing = self.email_index.get(email, "")
                # HubSpot's answer to a duplicate email on create: 409 CONFLICT,
                # "Contact already exists. Existing ID: <id>".
                raise errors.conflict(f"Contact already exists. Existing ID: {existing}")
        now_ms = self.now_ms()
        stamp = iso_ms(now_ms)
        for props, links in prepared:
            rid = str(self._next_id(store))
            props = {k: v for k, v in props.items() if v != ""}
            if object_type == CONTACTS:
                props.update(hs_object_id=rid, createdate=stamp, lastmodifieddate=stamp)
                if props.get("lifecyclestage"):
                    props.update(_stage_dates(props["lifecyclestage"], stamp))
            else:
                props.update(hs_object_id=rid, hs_createdate=stamp, hs_lastmodifieddate=stamp)
            # Every value set at creation is its property's first version.
            record = Record(rid, props, stamp, stamp, history={
                k: [{"value": v, "timestamp": stamp, "sourceType": source, "sourceId": source_id}]
                for k, v in props.items() if v not in (None, "")})
            store.add(record)
            created.append(record)
            if object_type == CONTACTS:
                if props.get("email"):
                    self.email_index[props["email"].lower()] = rid
                events.append(_event("creation", rid, now_ms, source, source_id))
                events += [_event("propertyChange", rid, now_ms, source, source_id,
                                  propertyName=k, propertyValue=v) for k, v in props.items()]
            else:
                for contact_id in dict.fromkeys(links):
                    self.associations[object_type].setdefault(contact_id, []).append(rid)
                    self.linked[object_type].setdefault(rid, []).append(contact_id)
        return created

    def _next_id(self, store: ObjectTable) -> int:
        if store.object_type == CONTACTS:
            return store.next_id
        # Engagement ids share one id space across types, as the generator's do.
        return max(self.stores[k].next_id for k in ENGAGEMENT_TYPES)

    def _parse_associations(self, object_type: str, associations: Any) -> list[str]:
        """Contact ids an engagement create links to (`associations[].to.id`).

        Each association needs `to.id` and `types`, each type HUBSPOT_DEFINED with the
        engagement -> contact type id (TO_CONTACT: 204 for a task), as in the create body of
        https://developers.hubspot.com/docs/api/crm/tasks ("Associations"). Anything else is a
        400 naming the type id; the message is the sandbox's own (*unverified*). Contacts'
        own associations (to companies, deals) are not modelled: accepted and ignored.
        """
        if associations is not None and not isinstance(associations, list):
            raise errors.bad_request("Invalid input JSON: `associations` must be a list.")
        out = []
        for a in associations or ():
            try:
                to_id, types = str(a["to"]["id"]), a["types"]
            except (KeyError, TypeError):
                raise errors.bad_request("Each association needs to.id and types.") from None
            if object_type == CONTACTS:
                continue
            if not isinstance(types, list) or not types:
                raise errors.bad_request("Each association needs to.id and types.")
            expected = TO_CONTACT[object_type]
            for t in types:
                category = t.get("associationCategory") if isinstance(t, dict) else None
                type_id = t.get("associationTypeId") if isinstance(t, dict) else None
                if category != HUBSPOT_DEFINED or str(type_id) != str(expected):
                    raise errors.bad_request(
                        f"Invalid association type {category} {type_id} from "
                        f"{object_type[:-1].upper()} to CONTACT: use {HUBSPOT_DEFINED} "
                        f"{expected}.", context={"associationTypeId": [str(type_id)]})
            out.append(to_id)
        return out

    def update_many(self, object_type: str, inputs: list[tuple[str, Any]], *,
                    id_property: str | None = None, source: str = INTEGRATION,
                    source_id: str | None = None, enforce_lifecycle: bool = True,
                    allow_read_only: bool = False) -> tuple[list[Record], list[str]]:
        """Apply updates; (updated records, ids not found). Any invalid value fails them all."""
        store = self.store(object_type)
        source_id = source_id if source_id is not None else str(self.app_id)
        _refuse_duplicate_ids([rid for rid, _ in inputs])
        prepared = [(rid, self._validate(store, values, allow_read_only=allow_read_only))
                    for rid, values in inputs]
        events: list[dict] = []
        updated: list[Record] = []
        missing: list[str] = []
        with self.lock:
            now_ms = self.now_ms()
            for rid, values in prepared:
                record = self.get(object_type, rid, id_property=id_property)
                if record is None:
                    missing.append(rid)
                    continue
                events += self._apply(store, record, values, now_ms, source, source_id,
                                      enforce_lifecycle=enforce_lifecycle)
                updated.append(record)
        self._publish(events)
        return updated, missing

    def _apply(self, store: ObjectTable, record: Record, values: dict[str, str | None], now_ms: int,
               source: str, source_id: str | None, *, enforce_lifecycle: bool,
               backdated: bool = False) -> list[dict]:
        """Swap in the record's new properties (lock held); return the change events.

        `backdated`: `now_ms` is a simulated time (POST /_sandbox/advance), not the clock's, and
        may be earlier than the record's last write: lastmodifieddate never moves back."""
        props = dict(record.properties)
        stamp = iso_ms(now_ms)
        if store.object_type == CONTACTS and enforce_lifecycle and "lifecyclestage" in values:
            if _is_backwards(props.get("lifecyclestage"), values["lifecyclestage"]):
                # Lifecycle stage only moves forward through the API: an earlier stage is not
                # applied (the request still succeeds, other properties are written); clear it
                # with "" first, in a separate request. See docs/sandbox.md "Lifecycle stage".
                values = {k: v for k, v in values.items() if k != "lifecyclestage"}
        changed = {k: v for k, v in values.items() if (props.get(k) or "") != (v or "")}
        calculated: set[str] = set()
        if store.object_type == CONTACTS and changed.get("lifecyclestage"):
            dates = {k: v for k, v in _stage_dates(changed["lifecyclestage"], stamp).items()
                     if not props.get(k)}
            changed.update(dates)
            calculated.update(dates)  # HubSpot sets these itself: CALCULATED in their history
        if "email" in changed and store.object_type == CONTACTS:
            old = props.get("email")
            if old:
                self.email_index.pop(old.lower(), None)
            if changed["email"]:
                self.email_index[changed["email"].lower()] = record.id
        # Versions made here sit on top of the seeded ones (Portal.history joins them).
        history = record.history if record.history is not None else {}
        for name, value in changed.items():
            _prepend(history.setdefault(name, []), {
                "value": value or "", "timestamp": stamp,
                "sourceType": "CALCULATED" if name in calculated else source,
                "sourceId": None if name in calculated else source_id}, backdated)
        props.update(changed)
        # Every write bumps lastmodifieddate (search can filter on it).
        modified = "lastmodifieddate" if store.object_type == CONTACTS else "hs_lastmodifieddate"
        bumped = max(stamp, props.get(modified) or "") if backdated else stamp
        if bumped != props.get(modified):
            props[modified] = bumped
            _prepend(history.setdefault(modified, []), {
                "value": bumped, "timestamp": bumped, "sourceType": "CALCULATED",
                "sourceId": None}, backdated)
        record.properties = props
        record.updated_at = max(bumped, record.updated_at) if backdated else bumped
        record.history = history
        if store.object_type != CONTACTS:
            return []
        return [_event("propertyChange", record.id, now_ms, source, source_id,
                       propertyName=k, propertyValue=v or "") for k, v in changed.items()]

    def upsert_many(self, inputs: list[tuple[str, Any]], id_property: str
                    ) -> list[tuple[Record, bool]]:
        """Contacts by email: update when found, else create. Validation first, then every input
        is resolved and applied under one hold of the lock: all or nothing, and no other write
        can create the same email between the lookup and the create."""
        if id_property != "email":
            raise errors.bad_request("Upsert supports idProperty \"email\" in the sandbox.")
        store = self.stores[CONTACTS]
        # Emails are matched case-insensitively (the email index is lower case), so two inputs
        # differing only in case name the same record: a duplicate, as on HubSpot.
        _refuse_duplicate_ids([email for email, _ in inputs], key=str.lower)
        prepared = [(email, self._validate(store, values)) for email, values in inputs]
        source_id = str(self.app_id)
        events: list[dict] = []
        out: list[tuple[Record, bool]] = []
        with self.lock:
            found = [self.get(CONTACTS, email, id_property="email") for email, _ in prepared]
            new = [({**values, "email": email}, []) for (email, values), record
                   in zip(prepared, found, strict=True) if record is None]
            created = iter(self._create_locked(store, new, INTEGRATION, source_id, events)
                           if new else ())
            now_ms = self.now_ms()
            for (_, values), record in zip(prepared, found, strict=True):
                if record is None:
                    out.append((next(created), True))
                    continue
                events += self._apply(store, record, values, now_ms, INTEGRATION, source_id,
                                      enforce_lifecycle=True)
                out.append((record, False))
        self._publish(events)
        return out

    def archive(self, object_type: str, rid: str, *, source: str = INTEGRATION,
                source_id: str | None = None, privacy: bool = False) -> bool:
        store = self.store(object_type)
        source_id = source_id if source_id is not None else str(self.app_id)
        with self.lock:
            record = store.records.get(rid)
            if record is None or record.archived:
                return False
            now_ms = self.now_ms()
            record.archived, record.archived_at = True, iso_ms(now_ms)
            store.deactivate(rid)
            if record.properties.get("email"):
                self.email_index.pop(record.properties["email"].lower(), None)
            if privacy:  # GDPR delete: gone for good, not listed as archived either
                record.properties = {**record.properties, "_privacy_deleted": "true"}
        events = []
        if object_type == CONTACTS:
            # A privacy deletion also fires contact.deletion (docs/hubspot-facts.md, "Webhooks").
            if privacy:
                events.append(_event("privacyDeletion", rid, now_ms, source, source_id))
            events.append(_event("deletion", rid, now_ms, source, source_id))
        self._publish(events)
        return True

    def merge(self, primary_id: str, other_id: str) -> Record:
        """Merge `other` into `primary`: primary keeps its values, fills blanks from other."""
        store = self.stores[CONTACTS]
        source_id = str(self.app_id)
        with self.lock:
            primary = store.records.get(primary_id)
            other = store.records.get(other_id)
            if primary is None or other is None or primary.archived or other.archived:
                raise errors.not_found(f"Contact {primary_id if primary is None else other_id} "
                                       "does not exist.")
            if primary_id == other_id:
                raise errors.bad_request("Cannot merge a contact into itself.")
            now_ms = self.now_ms()
            fill = {k: v for k, v in other.properties.items()
                    if v not in (None, "") and not primary.properties.get(k)
                    and k not in ALWAYS_RETURNED and k in store.definitions}
            merged = ";".join(filter(None, [primary.properties.get("hs_merged_object_ids"),
                                            other_id]))
            fill["hs_merged_object_ids"] = merged
            self._apply(store, primary, fill, now_ms, INTEGRATION, source_id,
                        enforce_lifecycle=False)
            other.archived, other.archived_at = True, iso_ms(now_ms)
            store.deactivate(other_id)
            if other.properties.get("email"):
                self.email_index[other.properties["email"].lower()] = primary_id
            self.merged_into[other_id] = primary_id
            for kind, links in self.associations.items():
                moved = links.pop(other_id, [])
                if moved:
                    links.setdefault(primary_id, []).extend(moved)
                for eid in moved:
                    cids = self.linked[kind].get(eid, [])
                    self.linked[kind][eid] = list(dict.fromkeys(
                        primary_id if c == other_id else c for c in cids))
        self._publish([_event("merge", primary_id, now_ms, INTEGRATION, source_id,
                              primaryObjectId=int(primary_id), mergedObjectIds=[int(other_id)],
                              newObjectId=int(primary_id))])
        return primary

    def apply_activity(self, items: list[dict]) -> dict[str, int]:
        """Apply `POST /_sandbox/activity` items with the activity module; validate all first."""
        from connector.sandbox import activity  # the other helper's module: rollup rules

        if not isinstance(items, list):
            raise errors.bad_request("Expected a JSON array of activities.")
        problems = [f"[{i}] {msg}" for i, item in enumerate(items)
                    if (msg := activity.validate_activity(item))]
        if problems:
            raise errors.bad_request("Invalid activity: " + "; ".join(problems[:20]))
        store = self.stores[CONTACTS]
        applied = engagements = 0
        unknown: list[str] = []
        for item in items:
            cid = str(item["contactId"])
            events: list[dict] = []
            with self.lock:
                record = self.get(CONTACTS, cid)
                if record is None:
                    unknown.append(cid)
                    continue
                effect = activity.apply_activity(dict(record.properties), item, self.now())
                now_ms = self.now_ms()
                source = ACTIVITY_SOURCE.get(item["type"], "EMAIL")
                if effect.changes:
                    events = self._apply(store, record, dict(effect.changes), now_ms, source,
                                         None, enforce_lifecycle=False)
            for kind, props in effect.new_engagements:
                self.create(kind, props, [contact_link(kind, record.id)], source=source,
                            check_owner=False)
                engagements += 1
            self._publish(events)
            applied += 1
        return {"applied": applied, "engagements": engagements, "unknownContacts": len(unknown)}

    def log_activity(self, contact_id: str, body: Any) -> dict:
        """A salesperson logs a call, email, meeting or note on a contact
        (POST /_sandbox/contacts/{id}/log-activity): the engagement, its association, and the
        contact's sales-activity rollups, with history versions and propertyChange events.

        The engagement is made as in the UI (CRM_UI, `userId:<the owner's user>`), with the
        properties of its HubSpot object (https://developers.hubspot.com/docs/api/crm/calls ,
        .../email , .../meetings , .../notes) and `hs_timestamp` = `at`. The rollups are
        HubSpot's to calculate (CALCULATED, no sourceId). The sandbox's reading of them, from
        their descriptions on https://knowledge.hubspot.com/properties/hubspots-default-contact-properties
        ("Last Contacted": the last call, sales email or meeting logged; "Last Activity Date":
        the last note, call, email, meeting or task logged; "Number of Sales Activities";
        "Last Engagement Date"), *unverified* against a live portal:
        - notes_last_updated: every type, the later of its value and `at`;
        - notes_last_contacted and hs_last_sales_activity_timestamp: calls, emails and meetings
          (a note touches nobody), the later of their value and `at`;
        - num_contacted_notes: +1 for a call, email or meeting, whatever `at` is;
        - hs_sales_email_last_replied: an email logged with `"replied": true` (the contact's
          reply to it), the later of its value and `at`;
        - hs_latest_meeting_activity: a meeting ("the most recent meeting logged for, scheduled
          with, or booked by this contact"), the later of its value and `at`.
        """
        if not isinstance(body, dict):
            raise errors.bad_request('Expected {"type": "call"|"email"|"meeting"|"note", '
                                     '"ownerId": "...", "at": "<ISO>"?}.')
        kind = LOG_ACTIVITY_TYPES.get(str(body.get("type")))
        if kind is None:
            raise errors.bad_request(f"Unknown activity type {body.get('type')!r}: expected one "
                                     f"of {', '.join(LOG_ACTIVITY_TYPES)}.")
        owner_id = str(body.get("ownerId") or "")
        if owner_id not in self.active_owner_ids():
            raise errors.bad_request(f"Owner {owner_id or '(none)'} is not an active owner.",
                                     context={"ownerId": [owner_id]})
        at = to_ms(body["at"]) if body.get("at") not in (None, "") else self.now_ms()
        if at is None:
            raise errors.bad_request(f"Invalid at {body.get('at')!r}: expected ISO 8601 or ms.")
        contact = self.get(CONTACTS, contact_id)
        if contact is None:
            raise errors.not_found(f"Contact {contact_id} does not exist.")
        stamp = iso_ms(at)
        props: dict[str, str] = {"hs_timestamp": stamp, "hubspot_owner_id": owner_id,
                                 **_LOGGED[kind]}
        if kind == "meetings":
            props.update(hs_meeting_start_time=stamp,
                         hs_meeting_end_time=iso_ms(at + _MEETING_MS))
        user = f"userId:{self.owner_users.get(owner_id, 1)}"
        engagement = self.create(kind, props, [contact_link(kind, contact.id)], source="CRM_UI",
                                 source_id=user)
        store = self.stores[CONTACTS]
        with self.lock:
            record = self.get(CONTACTS, contact.id)
            if record is None:  # archived meanwhile: the engagement stays, nothing to roll up
                return {"objectType": kind, "engagement": engagement, "contact": None}
            current = record.properties
            changes: dict[str, str | None] = {}
            touched = ["notes_last_updated"]
            if kind != "notes":
                touched += ["notes_last_contacted", "hs_last_sales_activity_timestamp"]
                count = current.get("num_contacted_notes") or "0"
                changes["num_contacted_notes"] = str(int(float(count)) + 1)
            if kind == "meetings":
                # "Latest meeting activity": the most recent meeting logged for, scheduled with or
                # booked by the contact (HubSpot's default contact properties page, cited above).
                touched.append("hs_latest_meeting_activity")
            if kind == "emails" and body.get("replied"):
                # The contact answered the sales email: HubSpot's "Recent Sales Email Replied
                # Date" (hs_sales_email_last_replied), CALCULATED like the rollups above.
                touched.append("hs_sales_email_last_replied")
            for name in touched:
                before = to_ms(current.get(name))
                if before is None or at > before:
                    changes[name] = stamp
            events = self._apply(store, record, changes, self.now_ms(), CALCULATED, None,
                                 enforce_lifecycle=False)
        self._publish(events)
        return {"objectType": kind, "engagement": engagement, "contact": record}

    # ---- simulated time -----------------------------------------------------------------------
    def advance(self, until_ms: int) -> dict[str, int]:
        """Close the generator's future customers whose time has come (POST /_sandbox/advance).

        Each contact whose truth has `became_customer` and `converts_at` moves, as its
        salesperson would in the UI (CRM_UI, `userId:<owner's user>`), to `opportunity` at
        converts_at - 14 days (not before the generator's now) once that is <= `until`, if its
        stage is still before opportunity, and to `customer` at converts_at once that is <=
        `until`, unless it is a customer or evangelist already. The writes are dated at those
        times, not the clock's: history versions, date-entered properties (the normal stage
        logic) and webhook occurredAt. Nothing moves twice: a second call changes nothing.
        """
        steps: list[tuple[int, int, str, str]] = []
        for cid, truth in self.truth.items():
            at = to_ms(truth.get("converts_at")) if truth.get("became_customer") else None
            if at is None:
                continue
            opportunity_at = max(at - OPPORTUNITY_LEAD_MS, self.seed_now_ms)
            if opportunity_at <= until_ms:
                steps.append((opportunity_at, 0, cid, "opportunity"))
            if at <= until_ms:
                steps.append((at, 1, cid, "customer"))
        steps.sort(key=lambda s: (s[0], int(s[2]), s[1]))
        store = self.stores[CONTACTS]
        counts = {"opportunity": 0, "customer": 0}
        events: list[dict] = []
        with self.lock:
            for at, _, cid, stage in steps:
                record = store.records.get(cid)
                if record is None or record.archived or record.properties.get("_privacy_deleted"):
                    continue
                current = record.properties.get("lifecyclestage") or ""
                if stage == "opportunity" and current not in _BEFORE_OPPORTUNITY:
                    continue
                if stage == "customer" and current in ("customer", "evangelist"):
                    continue
                user = self.owner_users.get(record.properties.get("hubspot_owner_id") or "",
                                            next(iter(self.owner_users.values()), 1))
                events += self._apply(store, record, {"lifecyclestage": stage}, at, "CRM_UI",
                                      f"userId:{user}", enforce_lifecycle=False, backdated=True)
                counts[stage] += 1
        self._publish(events)
        return counts

    # ---- properties ---------------------------------------------------------------------------
    def property_groups(self, object_type: str) -> list[dict]:
        self.store(object_type)
        return self.groups[object_type]

    def create_group(self, object_type: str, body: Any) -> dict:
        groups = self.property_groups(object_type)
        if not isinstance(body, dict) or not body.get("name") or not body.get("label"):
            raise errors.bad_request("A property group needs `name` and `label`.")
        with self.lock:
            if any(g["name"] == body["name"] for g in groups):
                raise errors.conflict(f"A property group named {body['name']} already exists.")
            group = {"name": body["name"], "label": body["label"],
                     "displayOrder": int(body.get("displayOrder", -1)), "archived": False}
            groups.append(group)
        return group

    def create_property(self, object_type: str, body: Any) -> dict:
        store = self.store(object_type)
        if not isinstance(body, dict):
            raise errors.bad_request("Invalid input JSON.")
        required = ("name", "label", "type", "fieldType", "groupName")
        missing = [k for k in required if not body.get(k)]
        if missing:
            raise errors.bad_request(f"Missing required fields: {', '.join(missing)}.")
        if body["type"] not in ("string", "number", "date", "datetime", "enumeration", "bool",
                                "phone_number"):
            raise errors.bad_request(f"Unknown property type {body['type']!r}.")
        if not any(g["name"] == body["groupName"] for g in self.groups[object_type]):
            raise errors.bad_request(f"Property group {body['groupName']} does not exist.")
        stamp = iso_ms(self.now_ms())
        definition = {
            "name": body["name"], "label": body["label"], "type": body["type"],
            "fieldType": body["fieldType"], "groupName": body["groupName"],
            "description": body.get("description", ""),
            "options": _options(body.get("options") or []),
            "displayOrder": body.get("displayOrder", -1), "calculated": False,
            "externalOptions": False, "hasUniqueValue": bool(body.get("hasUniqueValue")),
            "hidden": bool(body.get("hidden")), "hubspotDefined": False,
            "formField": bool(body.get("formField")),
            "modificationMetadata": {"archivable": True, "readOnlyDefinition": False,
                                     "readOnlyValue": False},
            "createdAt": stamp, "updatedAt": stamp, "archived": False}
        with self.lock:
            if body["name"] in store.definitions:
                raise errors.conflict(f"A property named '{body['name']}' already exists.")
            store.definitions = {**store.definitions, body["name"]: definition}
        return definition

    def update_property(self, object_type: str, name: str, body: Any) -> dict:
        store = self.store(object_type)
        if not isinstance(body, dict):
            raise errors.bad_request("Invalid input JSON.")
        with self.lock:
            current = store.definitions.get(name)
            if current is None:
                raise errors.not_found(f"Property {name} does not exist.")
            if current["modificationMetadata"].get("readOnlyDefinition") and set(body) - {
                    "options"}:
                raise errors.bad_request(f"Property {name} is read-only: only its options can "
                                         "be changed.")
            updated = dict(current)
            for key in ("label", "description", "groupName", "fieldType", "type",
                        "displayOrder", "hidden", "formField"):
                if key in body:
                    updated[key] = body[key]
            if "options" in body:
                # PATCH with `options` REPLACES the whole list (docs/hubspot-facts.md, "CRM semantics";
                # https://developers.hubspot.com/docs/api/crm/properties "Update a property").
                updated["options"] = _options(body["options"])
            updated["updatedAt"] = iso_ms(self.now_ms())
            store.definitions = {**store.definitions, name: updated}
        return updated

    # ---- events -------------------------------------------------------------------------------
    def _publish(self, events: list[dict]) -> None:
        if events and self.publish is not None:
            self.publish(events)


def contact_link(kind: str, contact_id: str) -> dict:
    """One `associations[]` entry of an engagement create: to the contact, HubSpot's type."""
    return {"to": {"id": contact_id}, "types": [{"associationCategory": HUBSPOT_DEFINED,
                                                "associationTypeId": TO_CONTACT[kind]}]}


def _refuse_duplicate_ids(ids: list[str], key: Callable[[str], str] = str) -> None:
    """400 when a batch names one record twice. HubSpot refuses the whole batch:
    {"status":"error","message":"Duplicate IDs found in batch input: [12877907025]. IDs must be
    unique","context":{"ids":["12877907025"]},"category":"VALIDATION_ERROR"}, a live answer to
    POST /crm/v3/objects/contacts/batch/update captured in rudderlabs/rudder-transformer
    test/integrations/destinations/hs/dataDelivery/business.ts; batch upsert answers the same
    for a repeated idProperty value (public connector code quoting the same message)."""
    seen: set[str] = set()
    dups: list[str] = []
    for rid in ids:
        k = key(rid)
        if k in seen and rid not in dups:
            dups.append(rid)
        seen.add(k)
    if dups:
        raise errors.bad_request(f"Duplicate IDs found in batch input: [{', '.join(dups)}]. "
                                 "IDs must be unique", context={"ids": dups})


def _after(after: str | None) -> int | None:
    """The list endpoints' `after` cursor as an id; anything else is a 400, not a crash."""
    if after is None or after == "":
        return None
    try:
        return int(after)
    except ValueError:
        # HubSpot answers a malformed `after` with 400 VALIDATION_ERROR (reviewer's report; the
        # message is the sandbox's own wording, *unverified*).
        raise errors.bad_request(f"Invalid after value {after!r}: use paging.next.after from "
                                 "the previous page.") from None


def _record(obj: dict) -> Record:
    # `seeded` shares the generator's dict (no copy: nothing writes to it), kept for history.
    return Record(str(obj["id"]), dict(obj["properties"]), obj["createdAt"], obj["updatedAt"],
                  bool(obj.get("archived")), obj.get("archivedAt"), seeded=obj["properties"])


def _prepend(versions: list[dict], version: dict, backdated: bool) -> None:
    """Put a new version on top; a backdated one goes below any later ones (newest first)."""
    i = 0
    if backdated:
        while i < len(versions) and versions[i]["timestamp"] > version["timestamp"]:
            i += 1
    versions.insert(i, version)


def _is_backwards(current: str | None, new: str | None) -> bool:
    if not current or not new or current not in LIFECYCLE_STAGE_ORDER \
            or new not in LIFECYCLE_STAGE_ORDER:
        return False  # clearing, setting from blank and custom stages are always applied
    return LIFECYCLE_STAGE_ORDER.index(new) < LIFECYCLE_STAGE_ORDER.index(current)


def _stage_dates(stage: str, stamp: str) -> dict[str, str]:
    # The calculated date-entered properties HubSpot sets on entering a stage
    # (docs/hubspot-facts.md, "Date-entered properties").
    return {f"hs_lifecyclestage_{stage}_date": stamp, f"hs_v2_date_entered_{stage}": stamp}


def _options(options: list[dict]) -> list[dict]:
    out = []
    for i, o in enumerate(options):
        if not isinstance(o, dict) or "value" not in o or "label" not in o:
            raise errors.bad_request("Each option needs `label` and `value`.")
        out.append({"label": o["label"], "value": o["value"],
                    "displayOrder": o.get("displayOrder", i), "hidden": bool(o.get("hidden")),
                    **({"description": o["description"]} if "description" in o else {})})
    return out


def _event(kind: str, object_id: str, occurred_ms: int, source: str, source_id: str | None,
           **extra: Any) -> dict:
    return {"type": kind, "objectId": int(object_id), "occurredAt": occurred_ms,
            "changeSource": source, "sourceId": source_id, **extra}
