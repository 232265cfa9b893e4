"""Admin endpoints under /_sandbox/ (outside HubSpot's namespace; no auth, not counted, not
rate limited), plus the wiring of the webhook sender and the activity clock.

    GET  /_sandbox/stats                          counters (see docs/sandbox.md)
    POST /_sandbox/stats/reset                    zero them
    POST /_sandbox/activity                       JSON array of activities -> rollups, webhooks
    GET  /_sandbox/truth                          hidden propensity, who became a customer, when
    POST /_sandbox/advance                        {"until": "<ISO or ms>"}: future customers whose
                                                  time has come become opportunities (14 days
                                                  before) and customers (at converts_at), as a
                                                  salesperson would (CRM_UI), dated then;
                                                  answers {"opportunity": n, "customer": m};
                                                  idempotent
    POST /_sandbox/contacts/{id}/sales-update     {"properties": {...}} as a salesperson in the UI
    POST /_sandbox/contacts/{id}/privacy-delete   GDPR delete (privacyDeletion + deletion events)
    POST /_sandbox/contacts/{id}/log-activity     {"type": "call"|"email"|"meeting"|"note",
                                                  "ownerId", "at"?, "replied"?}: a logged sales
                                                  touch (the engagement, its association, the
                                                  rollups; an email with "replied": true also
                                                  moves hs_sales_email_last_replied)
    POST /_sandbox/contacts/{id}/marketing-event  {"state", "eventId"?}: the webinar integration
                                                  records a participation (marketing_events.record)
    POST /_sandbox/owners/{ownerId}/deactivate    the owner's user is deactivated: archived owner
    GET  /_sandbox/tasks                          tasks created through the API, with contact ids
                                                  and creation time in ms
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING, Any

from connector.sandbox import errors
from connector.sandbox.portal import CONTACTS
from connector.sandbox.values import parse_json, to_ms

if TYPE_CHECKING:
    from connector.sandbox.server import Sandbox

log = logging.getLogger(__name__)
# The contact properties a logged sales touch moves (Portal.log_activity), answered back.
ROLLUPS = ("notes_last_updated", "notes_last_contacted", "hs_last_sales_activity_timestamp",
           "num_contacted_notes")
_CONTACT_ACTION = re.compile(
    r"/_sandbox/contacts/(?P<id>\d+)/(?P<action>sales-update|privacy-delete|log-activity|marketing-event)\Z")
_DEACTIVATE_OWNER = re.compile(r"/_sandbox/owners/(?P<id>[^/]+)/deactivate\Z")


def handle(sb: Sandbox, method: str, path: str, query: dict, raw: bytes) -> tuple[int, Any]:
    body = parse_json(raw)
    if path == "/_sandbox/stats" and method == "GET":
        return 200, sb.snapshot()
    if path == "/_sandbox/stats/reset" and method == "POST":
        sb.reset_stats()
        return 200, sb.snapshot()
    if path == "/_sandbox/activity" and method == "POST":
        return 200, sb.portal.apply_activity(body)
    if path == "/_sandbox/truth" and method == "GET":
        return 200, {"contacts": sb.portal.truth}
    if path == "/_sandbox/advance" and method == "POST":
        until = to_ms(body.get("until")) if isinstance(body, dict) else None
        if until is None:
            raise errors.bad_request('Expected {"until": "<ISO 8601 time or epoch ms>"}.')
        return 200, sb.portal.advance(until)
    if path == "/_sandbox/tasks" and method == "GET":
        return 200, {"results": sb.portal.created_tasks()}
    m = _DEACTIVATE_OWNER.match(path)
    if m and method == "POST":
        owner = sb.portal.deactivate_owner(m["id"])
        if owner is None:
            raise errors.not_found(f"Owner {m['id']} does not exist.")
        return 200, {"type": "PERSON", **owner}
    m = _CONTACT_ACTION.match(path)
    if m and method == "POST":
        cid = m["id"]
        if m["action"] == "marketing-event":
            from connector.sandbox import engagements
            return 201, engagements.record(sb.portal, cid, body)
        if m["action"] == "log-activity":
            logged = sb.portal.log_activity(cid, body)
            engagement, contact = logged["engagement"], logged["contact"]
            return 201, {
                "objectType": logged["objectType"],
                "engagement": sb.portal.render(engagement, [
                    k for k, v in engagement.properties.items() if v is not None]),
                "contact": None if contact is None else sb.portal.render(contact, [
                    *ROLLUPS, "lastmodifieddate"])}
        if m["action"] == "privacy-delete":
            if not sb.portal.archive(CONTACTS, cid, source="CRM_UI", source_id=_user(sb),
                                     privacy=True):
                raise errors.not_found(f"Contact {cid} does not exist.")
            return 204, None
        values = (body or {}).get("properties") if isinstance(body, dict) else None
        # A salesperson in the UI: changeSource CRM_UI, sourceId "userId:<id>" (the shape of
        # HubSpot's webhook payloads for UI edits), and the UI may set an earlier lifecycle stage.
        updated, missing = sb.portal.update_many(CONTACTS, [(cid, values)], source="CRM_UI",
                                                 source_id=_user(sb), enforce_lifecycle=False)
        if missing:
            raise errors.not_found(f"Contact {cid} does not exist.")
        record = updated[0]
        return 200, sb.portal.render(record, [k for k in record.properties
                                              if not k.startswith("_")])
    raise errors.not_found(f"No sandbox endpoint {method} {path}.")


def _user(sb: Sandbox) -> str:
    owner = sb.portal.owners[0] if sb.portal.owners else {"userId": 1}
    return f"userId:{owner.get('userId', 1)}"


def make_webhook_sender(sb: Sandbox) -> Any:
    from connector.sandbox.webhooks import (
        DEFAULT_MAX_CONCURRENT,
        WebhookSender,
        default_subscriptions,
        load_webhooks_file,
    )

    cfg = sb.config
    concurrency = None
    if cfg.subscriptions:
        hooks_file = load_webhooks_file(cfg.subscriptions)
        subs, concurrency = hooks_file.subscriptions, hooks_file.max_concurrent_requests
    else:
        subs = default_subscriptions(cfg.webhook_format)
    return WebhookSender(cfg.webhook_url, cfg.client_secret, portal_id=sb.portal.portal_id,
                         app_id=sb.portal.app_id, fmt=cfg.webhook_format, subscriptions=subs,
                         max_concurrent_requests=concurrency or DEFAULT_MAX_CONCURRENT,
                         duplicate_rate=cfg.duplicate_rate, seed=cfg.seed)


def run_activity_clock(sb: Sandbox, tick_s: float = 1.0) -> None:
    """Feed the generator's ActivityClock into the portal until the sandbox stops."""
    from connector.sandbox.generator import ActivityClock

    clock = ActivityClock(sb.config.seed, sb.config.activity_rate)
    last = time.monotonic()
    while not sb._stopping.wait(tick_s):
        now = time.monotonic()
        with sb.portal.lock:
            ids = [str(i) for i in sb.portal.stores[CONTACTS].order]
        items = clock.next_batch(ids, sb.portal.now(), now - last)
        last = now
        if items:
            try:
                sb.portal.apply_activity(items)
            except errors.ApiError as exc:  # a generator bug: log it, keep serving
                log.warning("activity clock produced invalid items: %s", exc.message)
