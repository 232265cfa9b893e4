"""HubSpot's engagement APIs, called through the Gateway's one request path (limits, retries, counts).

- Associations v4 batch read, `POST /crm/v4/associations/contacts/{toObjectType}/batch/read`: at most
  1,000 ids a call (https://developers.hubspot.com/changelog/2025-02-10 ; docs/hubspot-facts.md, "Limits");
  a contact with none comes back in errors[] (207).
- Engagement batch reads, `POST /crm/v3/objects/{calls|emails|meetings|notes}/batch/read`: 100 inputs
  (https://developers.hubspot.com/docs/api/crm/calls and siblings); contact scopes.
- Marketing events, `GET /marketing/v3/marketing-events/` and the participation breakdowns by contact and
  by event (https://developers.hubspot.com/docs/guides/api/marketing/marketing-events); scope
  crm.objects.marketing_events.read.
- Forms, `GET /marketing/v3/forms` (names -> ids; scope `forms`: HubSpot's OpenAPI spec, HubSpot/HubSpot-public-
  api-spec-collection, PublicApiSpecs/Marketing/Forms/Rollouts/144909/v3/forms.json), and their submissions, only
  from the legacy `GET /form-integrations/v1/submissions/forms/{formGuid}`: newest first, at most 50 a page, `after`
  paging, scope `forms`, no contact id (each submission's `values` carry the email)
  (https://developers.hubspot.com/docs/api-reference/legacy/marketing/forms/v1/get-form-integrations-v1-submissions-forms-form_guid).
- Page views, `GET /events/v3/events?objectType=contact&objectId=…&eventType=e_visited_page`
  (https://developers.hubspot.com/docs/guides/api/analytics-and-events/event-analytics): Enterprise only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote

from connector.gateway import BATCH_SIZE, Gateway, _Request

ASSOCIATION_BATCH = 1000
KIND = "engagement"  # the gateway's counter for these calls (the 10-second window, like the CRM's)
PAGE = 100  # marketing events and event analytics pages (*unverified* as their largest `limit`)
SUBMISSIONS_PAGE = 50  # the legacy submissions API's largest `limit` (its reference page: 1 <= x <= 50)
FORMS_PAGE = 20  # the forms list's page: its default in HubSpot's guide; the largest is *unverified*


def call(gateway: Gateway, method: str, path: str, *, query: dict[str, str] | None = None,
         body: Any = None, inputs: int | None = None) -> dict:
    """One HubSpot call by path, through the gateway's limiter, retries and error mapping (as its
    token-info call goes through the SDK's generic `call_api`)."""
    api_client = gateway._contacts_basic.api_client

    def send(**kw: Any) -> Any:
        return api_client.call_api(path, method, query_params=list((query or {}).items()), body=body,
                                   header_params={"Content-Type": "application/json", "Accept": "application/json"},
                                   auth_settings=["oauth2"], response_types_map={}, **kw)
    return gateway._call(KIND, _Request(method, path, inputs), send)


def associated(gateway: Gateway, kind: str, contact_ids: Sequence[str]) -> dict[str, list[str]]:
    """contact id -> ids of its `kind` objects (calls, emails, meetings, notes)."""
    out: dict[str, list[str]] = {}
    for i in range(0, len(contact_ids), ASSOCIATION_BATCH):
        chunk = contact_ids[i:i + ASSOCIATION_BATCH]
        data = call(gateway, "POST", f"/crm/v4/associations/contacts/{kind}/batch/read",
                    body={"inputs": [{"id": str(c)} for c in chunk]}, inputs=len(chunk))
        for row in data.get("results") or []:
            out[str(row["from"]["id"])] = [str(t["toObjectId"]) for t in row.get("to") or []]
    return out


def read_objects(gateway: Gateway, kind: str, ids: Sequence[str], properties: Sequence[str]) -> dict[str, dict]:
    """id -> properties of `kind` objects, 100 a call."""
    out: dict[str, dict] = {}
    for i in range(0, len(ids), BATCH_SIZE):
        chunk = ids[i:i + BATCH_SIZE]
        data = call(gateway, "POST", f"/crm/v3/objects/{kind}/batch/read", inputs=len(chunk),
                    body={"inputs": [{"id": x} for x in chunk], "properties": list(properties)})
        for row in data.get("results") or []:
            out[str(row["id"])] = row.get("properties") or {}
    return out


def _pages(gateway: Gateway, path: str, query: dict[str, str], limit: int = PAGE) -> Iterator[dict]:
    """Every row of a GET answer paged by `after` (paging.next.after), one call a page, fetched lazily: a
    caller that stops iterating stops the calls."""
    after: str | None = None
    while True:
        data = call(gateway, "GET", path, query={**query, "limit": str(limit), **({"after": after} if after else {})})
        yield from data.get("results") or []
        after = ((data.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            return


def marketing_events(gateway: Gateway) -> list[dict]:
    return list(_pages(gateway, "/marketing/v3/marketing-events", {}))


def contact_participations(gateway: Gateway, contact_id: str) -> list[dict]:
    path = f"/marketing/v3/marketing-events/participations/contacts/{quote(str(contact_id), safe='')}/breakdown"
    return list(_pages(gateway, path, {}))


def event_participations(gateway: Gateway, event_id: str) -> list[dict]:
    path = f"/marketing/v3/marketing-events/participations/{quote(str(event_id), safe='')}/breakdown"
    return list(_pages(gateway, path, {}))


def page_views(gateway: Gateway, contact_id: str, since_iso: str | None, *, limit: int | None = None) -> list[dict]:
    """The contact's e_visited_page events (after `since_iso` when given); `limit`: one page of that size."""
    query = {"objectType": "contact", "objectId": str(contact_id), "eventType": "e_visited_page"}
    if since_iso:
        query["occurredAfter"] = since_iso
    if limit is not None:
        return call(gateway, "GET", "/events/v3/events", query={**query, "limit": str(limit)}).get("results") or []
    return list(_pages(gateway, "/events/v3/events", query))


def forms(gateway: Gateway) -> list[dict]:
    """The portal's forms (id, name, ...), not archived."""
    return list(_pages(gateway, "/marketing/v3/forms", {}, FORMS_PAGE))


def form_submissions(gateway: Gateway, form_id: str, since_ms: int | None) -> Iterator[dict]:
    """One form's submissions newest first, down to `since_ms` (epoch ms; None: all of them): the pages stop
    at the first older one, as HubSpot answers them newest first."""
    path = f"/form-integrations/v1/submissions/forms/{quote(str(form_id), safe='')}"
    for row in _pages(gateway, path, {}, SUBMISSIONS_PAGE):
        if since_ms is not None and int(row.get("submittedAt") or 0) < since_ms:
            return
        yield row
