"""Forms and their submissions: seeded from the contacts' form rollups, recorded from
`POST /_sandbox/activity`, and served with HubSpot's paths.

    GET /marketing/v3/forms                                      the portal's forms (names -> ids)
    GET /form-integrations/v1/submissions/forms/{formGuid}       one form's submissions, newest first

Forms v3 list: path, `limit` / `after` / `archived` parameters, scope `forms`, FREE on every hub, and the
definition's required fields (id, name, formType, createdAt, updatedAt, archived, fieldGroups,
configuration, displayOptions, legalConsentOptions) from HubSpot's OpenAPI spec
(HubSpot/HubSpot-public-api-spec-collection, PublicApiSpecs/Marketing/Forms/Rollouts/144909/v3/forms.json;
guide: https://developers.hubspot.com/docs/guides/api/marketing/forms). *unverified*: the list's default and
largest `limit` (the sandbox: 20 and 100).

Submissions (legacy v1): "returned in reverse-chronological order", `limit` default 20 and at most 50, `after`
from the previous page's paging.next.after, results {conversionId, submittedAt (epoch ms), values [{name,
value}], pageUrl}, scope `forms` (https://developers.hubspot.com/docs/api-reference/legacy/marketing/forms/v1/get-form-integrations-v1-submissions-forms-form_guid).
A submission names no contact: its `values` carry the email the visitor typed. *unverified*: the `after`
token's form (the sandbox's is opaque to clients: the last row's submittedAt and conversionId), what an
unknown guid answers (the sandbox: 404 like the v3 API), and a `limit` above 50 (the sandbox: 400).

Seeded submissions restate each contact's rollups, so no generated value moves: the first at
first_conversion_date on first_conversion_event_name, the most recent at recent_conversion_date on
recent_conversion_event_name, and the num_conversion_events - 2 others between them, on forms drawn from the
contact's own stream (`{seed}:{cid}:forms`) among the two named and as many others as
num_unique_conversion_events asks for.
"""

from __future__ import annotations

import bisect
import random
import threading
import uuid
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from weakref import WeakKeyDictionary

from connector.sandbox import errors
from connector.sandbox.values import iso_ms, to_ms

SCOPE = "forms"
MAX_SUBMISSIONS_LIMIT = 50
MAX_FORMS_LIMIT = 100
DEFAULT_LIMIT = 20
_DAY_MS = 86_400_000
_SITE = "https://www.example-saas.com"
# The generator's conversion names (generator.CONVERSIONS) and forms nobody submitted yet.
_EXTRA_FORMS = ("ROI calculator", "Event feedback")


def form_id(name: str) -> str:
    """A form's guid: stable for its name, so every sandbox run names the same forms the same way."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox-form:{name.strip().lower()}"))


@dataclass(frozen=True, slots=True)
class Submission:
    at_ms: int
    conversion_id: str
    email: str
    page_url: str

    @property
    def key(self) -> tuple[int, str]:
        """Sort key, newest first."""
        return (-self.at_ms, self.conversion_id)


@dataclass
class Forms:
    """The portal's forms and each one's submissions, newest first."""

    created_ms: int = 0
    definitions: dict[str, dict] = field(default_factory=dict)  # id -> definition
    submissions: dict[str, list[Submission]] = field(default_factory=dict)  # id -> newest first
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ensure(self, name: str) -> str:
        """The id of the form called `name`, made when the portal has none (a marketer built it)."""
        fid = form_id(name)
        if fid not in self.definitions:
            stamp = iso_ms(self.created_ms)
            self.definitions[fid] = {
                "id": fid, "name": name, "formType": "hubspot", "createdAt": stamp, "updatedAt": stamp,
                "archived": False, "fieldGroups": [{"groupType": "default_group", "richTextType": "text", "fields": [
                    {"objectTypeId": "0-1", "name": "email", "label": "Email", "required": True, "hidden": False,
                     "fieldType": "email"}]}],
                "configuration": {"language": "en", "createNewContactForNewEmail": True},
                "displayOptions": {"renderRawHtml": False, "theme": "default_style", "submitButtonText": "Submit",
                                   "style": {}},
                "legalConsentOptions": {"type": "none"}}
            self.submissions[fid] = []
        return fid

    def add(self, name: str, at_ms: int, email: str) -> None:
        with self.lock:
            fid = self.ensure(name)
            rows = self.submissions[fid]
            row = Submission(at_ms, str(uuid.uuid5(uuid.NAMESPACE_URL, f"{fid}:{email}:{at_ms}:{len(rows)}")), email,
                             f"{_SITE}/forms/{fid[:8]}")
            bisect.insort(rows, row, key=lambda s: s.key)


_BY_PORTAL: WeakKeyDictionary = WeakKeyDictionary()


def of(portal: object) -> Forms:
    return _BY_PORTAL.setdefault(portal, Forms())


def seed(seed_value: int, contacts: list[dict], now_ms: int, names: tuple[str, ...]) -> Forms:
    """The forms (`names`, then the extra ones) and the submissions each contact's rollups imply."""
    forms = Forms(created_ms=now_ms - 800 * _DAY_MS)
    for name in (*names, *_EXTRA_FORMS):
        forms.ensure(name)
    for c in contacts:
        p = c["properties"]
        total = int(float(p.get("num_conversion_events") or 0))
        first, first_ms = p.get("first_conversion_event_name"), to_ms(p.get("first_conversion_date"))
        recent, recent_ms = p.get("recent_conversion_event_name"), to_ms(p.get("recent_conversion_date"))
        email = p.get("email") or ""
        if not total or not first or first_ms is None:
            continue
        forms.add(first, first_ms, email)
        if total < 2 or not recent or recent_ms is None:
            continue
        forms.add(recent, recent_ms, email)
        rng = random.Random(f"{seed_value}:{c['id']}:forms")
        unique = int(float(p.get("num_unique_conversion_events") or 1))
        pool = list(dict.fromkeys((first, recent)))
        others = [n for n in names if n not in pool]
        rng.shuffle(others)
        pool += others[:max(0, unique - len(pool))]
        for _ in range(total - 2):
            forms.add(rng.choice(pool), first_ms + int((recent_ms - first_ms) * rng.random()), email)
    return forms


def attach(portal: Any, seeded: Any, names: tuple[str, ...]) -> None:
    """Seed the forms and make the portal's activity endpoint record each form submission as one."""
    _BY_PORTAL[portal] = seed(seeded.seed, seeded.contacts, seeded.now_ms, names)
    # Portal.apply_activity (POST /_sandbox/activity, the activity clock) moves the form rollups; the
    # submission itself is this module's: wrap the instance's method, so both move together.
    portal.apply_activity = partial(_apply_and_record, portal, portal.apply_activity)


def _apply_and_record(portal: Any, apply: Any, items: Any) -> dict:
    answer = apply(items)  # validates every item first: past this line each one is well formed
    forms = of(portal)
    for item in items:
        if item.get("type") != "form_submission":
            continue
        contact = portal.get("contacts", str(item["contactId"]))
        if contact is None:
            continue
        at = to_ms(item["occurredAt"]) if item.get("occurredAt") is not None else portal.now_ms()
        forms.add(item["formName"], int(at or portal.now_ms()), contact.properties.get("email") or "")
    return answer


def _limit(ctx: Any, largest: int) -> int:
    text = ctx.arg("limit") or str(DEFAULT_LIMIT)
    try:
        limit = int(text)
    except ValueError:
        raise errors.bad_request(f"Invalid limit {text!r}: expected a whole number.") from None
    if not 1 <= limit <= largest:
        raise errors.bad_request(f"limit must be between 1 and {largest}, got {limit}.")
    return limit


def list_forms(ctx: Any) -> tuple[int, dict]:
    forms = of(ctx.portal)
    limit = _limit(ctx, MAX_FORMS_LIMIT)
    archived = ctx.flag("archived")
    with forms.lock:
        rows = [d for d in forms.definitions.values() if bool(d.get("archived")) == archived]
    rows.sort(key=lambda d: d["id"])
    after = ctx.arg("after")
    if after:
        rows = [d for d in rows if d["id"] > after]
    body: dict = {"results": rows[:limit]}
    if len(rows) > limit:
        body["paging"] = {"next": {"after": rows[limit - 1]["id"]}}
    return 200, body


def form_submissions(ctx: Any) -> tuple[int, dict]:
    forms = of(ctx.portal)
    fid = ctx.params["formGuid"]
    limit = _limit(ctx, MAX_SUBMISSIONS_LIMIT)
    with forms.lock:
        rows = forms.submissions.get(fid)
        if rows is None:
            raise errors.not_found(f"Form {fid} does not exist.")
        start = 0
        after = ctx.arg("after")
        if after:
            at, _, cid = after.partition(":")
            if not at.lstrip("-").isdigit() or not cid:
                raise errors.bad_request(f"Invalid after {after!r}.")
            start = bisect.bisect_right(rows, (-int(at), cid), key=lambda s: s.key)
        chunk = rows[start:start + limit]
        more = start + limit < len(rows)
    body: dict = {"results": [{"conversionId": s.conversion_id, "submittedAt": s.at_ms, "pageUrl": s.page_url,
                               "values": [{"name": "email", "value": s.email}]} for s in chunk]}
    if more and chunk:
        token = f"{chunk[-1].at_ms}:{chunk[-1].conversion_id}"
        body["paging"] = {"next": {"after": token, "link": f"{ctx.base_url}/form-integrations/v1/submissions/"
                                                           f"forms/{fid}?limit={limit}&after={token}"}}
    return 200, body


ROUTES = [
    ("GET", "/marketing/v3/forms", list_forms, SCOPE),
    ("GET", "/form-integrations/v1/submissions/forms/{formGuid}", form_submissions, SCOPE),
]
