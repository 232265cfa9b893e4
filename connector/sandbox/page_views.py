"""Page views per contact from HubSpot's event analytics: `GET /events/v3/events` with
objectType=contact, objectId and eventType=e_visited_page; Enterprise only.

Path, parameters (objectType, objectId, eventType, occurredAfter, occurredBefore, limit, after) and the
answer's shape ({results: [{eventType, id, objectId, objectType, occurredAt, properties}], paging.next.after})
from HubSpot's OpenAPI spec (HubSpot/HubSpot-public-api-spec-collection, PublicApiSpecs/Events/Events/
Rollouts/147897/v3/events.json; guide: https://developers.hubspot.com/docs/guides/api/analytics-and-events/event-analytics),
whose product tier requirements are ENTERPRISE for the marketing, sales, service and content hubs.
*unverified*: the `e_visited_page` event type name and its `hs_url` property; what HubSpot answers on a
lower tier (the sandbox answers 403 with category FORBIDDEN and a message naming the tier it needs);
the largest `limit` (the sandbox takes 100); newest first by default.

A contact's page views are drawn when first asked for, from its own stream (no value the generator made
moves): as many as its hs_analytics_num_page_views (at most 200), the last one its last URL at its last
timestamp, the others between its first and last visit; the likelier it is to buy, the more of them are
high-intent pages (pricing, demo).
"""

from __future__ import annotations

import random

from connector.sandbox import errors
from connector.sandbox.values import iso_ms, to_ms

EVENT_TYPE = "e_visited_page"
TIERS_WITH_EVENTS = ("enterprise", "unlimited")
MAX_LIMIT = 100
MAX_VIEWS = 200
_SITE = "https://www.example-saas.com"
_HIGH = ("/pricing", "/demo", "/product/lead-scoring", "/customers")
_LOW = ("/", "/features", "/integrations", "/blog/what-is-lead-scoring", "/blog/mql-vs-sql", "/careers", "/about")


def views_of(seed: int, cid: str, props: dict, propensity: float) -> list[dict]:
    """The contact's page views, newest first."""
    count = min(MAX_VIEWS, int(float(props.get("hs_analytics_num_page_views") or 0)))
    last = to_ms(props.get("hs_analytics_last_timestamp"))
    first = to_ms(props.get("hs_analytics_first_timestamp")) or last
    if not count or last is None or first is None:
        return []
    rng = random.Random(f"{seed}:{cid}:pageviews")
    times = sorted((first + int((last - first) * rng.random() ** 0.5) for _ in range(count - 1)), reverse=True)
    views = [(last, props.get("hs_analytics_last_url") or _SITE + "/")]
    for at in times:
        page = rng.choice(_HIGH) if rng.random() < 0.05 + 0.5 * propensity else rng.choice(_LOW)
        views.append((at, _SITE + page))
    return [{"eventType": EVENT_TYPE, "id": f"pv-{cid}-{i}", "objectId": cid, "objectType": "0-1",
             "occurredAt": iso_ms(at), "properties": {"hs_url": url}} for i, (at, url) in enumerate(views)]


def list_events(ctx, tier: str) -> tuple[int, dict]:
    if tier not in TIERS_WITH_EVENTS:
        raise errors.ApiError(403, f"The event analytics API needs an Enterprise subscription (Marketing, Sales, "
                                   f"Service or Content Hub); this portal is on {tier}.", "FORBIDDEN")
    if (ctx.arg("objectType") or "").lower() not in ("contact", "contacts", "0-1") or not ctx.arg("objectId"):
        raise errors.bad_request("The sandbox serves contact events: pass objectType=contact and objectId.")
    if (ctx.arg("eventType") or EVENT_TYPE) != EVENT_TYPE:
        return 200, {"results": []}
    cid = ctx.arg("objectId")
    record = ctx.portal.get("contacts", cid)
    if record is None:
        return 200, {"results": []}
    truth = ctx.portal.truth.get(record.id) or {}
    views = views_of(ctx.portal.seed, record.id, record.properties, float(truth.get("propensity", 0.0)))
    after_ms = to_ms(ctx.arg("occurredAfter")) if ctx.arg("occurredAfter") else None
    if after_ms is not None:
        views = [v for v in views if (to_ms(v["occurredAt"]) or 0) > after_ms]
    try:
        limit, offset = int(ctx.arg("limit") or 10), int(ctx.arg("after") or 0)
    except ValueError:
        raise errors.bad_request("limit and after must be whole numbers.") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise errors.bad_request(f"limit must be between 1 and {MAX_LIMIT}, got {limit}.")
    body: dict = {"results": views[offset:offset + limit]}
    if offset + limit < len(views):
        body["paging"] = {"next": {"after": str(offset + limit)}}
    return 200, body
