"""Reading and nudging a running sandbox portal from the connector's tests (not fixtures), and a
gateway whose process dies mid-run."""

from __future__ import annotations

import json
import urllib.request

from connector.core import properties as hp
from connector.gateway import Gateway
from tests.support.clock import FakeClock

# What must come out the same whatever path the writes took (times differ run to run).
COMPARED = (hp.LEAD_STATUS, hp.LIFECYCLE_STAGE, hp.SCORE, hp.FIT_SCORE, hp.ENGAGEMENT_SCORE, hp.GRADE,
            hp.REASONS, hp.PATH)


def portal_state(sandbox) -> dict[str, dict]:
    """Every contact's connector-relevant values, read straight from the sandbox's memory."""
    store = sandbox.portal.store("contacts")
    return {str(i): {k: store.records[str(i)].properties.get(k) for k in COMPARED} for i in list(store.order)}


def sandbox_stats(sandbox) -> dict:
    with urllib.request.urlopen(sandbox.base_url + "/_sandbox/stats") as r:
        return json.loads(r.read())


def calls(sandbox) -> int:
    return sum(sandbox_stats(sandbox)["requests"].values())


def writes(sandbox) -> int:
    return sandbox_stats(sandbox)["requests"].get("POST /crm/v3/objects/contacts/batch/update", 0)


def reset(sandbox) -> None:
    req = urllib.request.Request(sandbox.base_url + "/_sandbox/stats/reset", data=b"", method="POST")
    urllib.request.urlopen(req).read()


def sales_update(sandbox, contact_id: str, properties: dict) -> None:
    req = urllib.request.Request(f"{sandbox.base_url}/_sandbox/contacts/{contact_id}/sales-update",
                                 data=json.dumps({"properties": properties}).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req).read()


def post_json(sandbox, path: str, body) -> dict:
    """POST `body` as JSON to the sandbox with the default token; its JSON answer, if any."""
    req = urllib.request.Request(sandbox.base_url + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": "Bearer pat-sandbox"})
    with urllib.request.urlopen(req) as r:
        data = r.read()
    return json.loads(data) if data else {}


def activity(sandbox, items: list[dict]) -> dict:
    return post_json(sandbox, "/_sandbox/activity", items)


def demo_request(contact_id: str) -> dict:
    return {"contactId": contact_id, "type": "form_submission", "formName": "Demo request"}


def hand_raise_candidates(sandbox) -> list[str]:
    """Contacts a demo request would make MQLs: not MQL, not sales-owned, no demo request yet."""
    contacts = sandbox.portal.store("contacts")
    out = []
    for cid in contacts.order:
        p = contacts.records[str(cid)].properties
        if (p.get(hp.LEAD_STATUS) or "") in ("", "NEW", "OPEN") \
                and p.get(hp.LIFECYCLE_STAGE) in ("subscriber", "lead") \
                and "demo request" not in (p.get("recent_conversion_event_name") or "").lower():
            out.append(str(cid))
    return out


class DiesAfterWrites(Gateway):
    """A worker's gateway whose process is killed right after HubSpot applied its n-th batch update;
    `read_s` of (simulated) time pass during each batch read (a slow or rate-limited HubSpot)."""

    def __init__(self, *a, die_after: int, clock: FakeClock | None = None, read_s: float = 0.0, **kw):
        super().__init__(*a, **kw)
        self.left, self.clock, self.read_s = die_after, clock, read_s

    def batch_read_contacts(self, ids, properties):
        if self.clock is not None:
            self.clock.advance(self.read_s)
        return super().batch_read_contacts(ids, properties)

    def batch_update_contacts(self, updates):
        outcome = super().batch_update_contacts(updates)
        self.left -= 1
        if self.left <= 0:
            raise SystemExit("killed")
        return outcome
