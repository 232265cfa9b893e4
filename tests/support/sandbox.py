"""Small helpers shared by the connector's tests (not fixtures)."""

from __future__ import annotations

import json
import urllib.request

from connector.core import properties as hp
from connector.gateway import Gateway

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
    urllib.request.urlopen(urllib.request.Request(sandbox.base_url + "/_sandbox/stats/reset", data=b"", method="POST")).read()


def sales_update(sandbox, contact_id: str, properties: dict) -> None:
    req = urllib.request.Request(f"{sandbox.base_url}/_sandbox/contacts/{contact_id}/sales-update",
                                 data=json.dumps({"properties": properties}).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req).read()


class DiesAfterWrites(Gateway):
    """A worker's gateway whose process is killed right after HubSpot applied its n-th batch update;
    `read_s` of (simulated) time pass during each batch read (a slow or rate-limited HubSpot)."""

    def __init__(self, *a, die_after: int, clock=None, read_s: float = 0.0, **kw):
        super().__init__(*a, **kw)
        self.left, self.clock, self.read_s = die_after, clock, read_s

    def batch_read_contacts(self, ids, properties):
        if self.clock is not None:
            self.clock.offset_s += self.read_s
        return super().batch_read_contacts(ids, properties)

    def batch_update_contacts(self, updates):
        outcome = super().batch_update_contacts(updates)
        self.left -= 1
        if self.left <= 0:
            raise SystemExit("killed")
        return outcome
