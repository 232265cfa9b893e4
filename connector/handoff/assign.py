"""Round-robin assignment of unowned MQLs over the active owners listed in the config or on a team.

Owners come from GET /crm/v3/owners (active ones only; a deactivated user is listed with
`archived=true`: https://developers.hubspot.com/docs/api/crm/owners), read again every
`refresh_s`, so an owner deactivated mid-day stops getting leads within a minute.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from connector.core.assign import next_owner
from connector.core.rules import Assignment
from connector.gateway import Gateway
from connector.store import Store


class Assigner:
    def __init__(self, gateway: Gateway, store: Store, config: Assignment, *,
                 clock: Callable[[], float] = time.time, refresh_s: float = 60.0):
        self.gateway = gateway
        self.store = store
        self.config = config
        self.clock = clock
        self.refresh_s = refresh_s
        self._active: list[str] = []
        self._read_at: float | None = None
        self._lock = threading.Lock()  # the worker's consumer and its syncs share one assigner

    def active(self) -> list[str]:
        now = self.clock()
        if self._read_at is None or now - self._read_at >= self.refresh_s:
            owners = self.gateway.list_owners()
            listed = set(self.config.owners)
            self._active = sorted(
                str(o["id"]) for o in owners
                if (str(o["id"]) in listed) or (self.config.team and any(
                    t.get("name") == self.config.team for t in o.get("teams") or ())))
            self._read_at = now
        return self._active

    def assign(self) -> str | None:
        """The next owner (recorded as assigned now), or None when no listed owner is active."""
        with self._lock:
            owner = next_owner(self.active(), self.store.assignment_counts(), self.config.weights)
            if owner is not None:
                self.store.record_assignment(owner, int(self.clock() * 1000))
            return owner


def assigner_for(ctx) -> Assigner | None:
    return Assigner(ctx.gateway, ctx.store, ctx.rules.assignment) if ctx.rules.assignment else None
