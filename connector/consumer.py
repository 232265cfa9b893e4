"""The webhook queue consumer: take queued events, coalesce them per contact, act.

- deletion / privacy deletion: erase what the store keeps about the contact;
- merge: the surviving contact inherits the merged contacts' history, then is rescored;
- everything else (creation, property change, restore, association change): re-read the contact
  from HubSpot in batch calls (never trusting `propertyValue`, as HubSpot advises:
  developers.hubspot.com/docs/api/webhooks), score, decide and write through the sync's path.

Events are claimed with a lease (connector.store.take_events) and marked done only after every
resulting write is confirmed: a worker killed mid-batch leaves them to be claimed again, and the
re-read then shows the writes that landed, so nothing is done twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from connector.core import properties as hp
from connector.core.rules import RuleSet
from connector.errors import StoreError
from connector.gateway import BATCH_SIZE, Gateway
from connector.handoff.assign import Assigner
from connector.shadow import ShadowScorer
from connector.store import QueuedEvent, Store, lock_holder
from connector.writeback import RunCounts, WritePath

log = logging.getLogger(__name__)

# Property changes that are the echo of an integration's own write of the connector's outputs.
# HubSpot marks API writes by apps with changeSource "INTEGRATION" (developers.hubspot.com/docs/api/webhooks).
# How long events of a contact the sync holds wait before they are taken again: the sync's
# writers send a planned batch within moments.
DEFER_MS = 2_000
# A webhook run lasts one batch; one 'running' this long is a dead worker's on another host (on
# this host the holder's pid tells at once).
WEBHOOK_RUN_MAX_MS = 3_600_000
DEAD_CHECK_EVERY_MS = 60_000  # how often a busy worker looks for dead webhook runs
_UNKNOWN = object()  # the app id not asked for yet
_OWN_OUTPUTS = frozenset(hp.CONNECTOR_PROPERTY_NAMES) | {hp.LEAD_STATUS, hp.LIFECYCLE_STAGE}


@dataclass
class ConsumeResult(RunCounts):
    """One webhook batch: the run counters plus what the events asked for."""

    events: int = 0
    contacts: int = 0
    ignored: int = 0
    forgotten: int = 0
    merged: int = 0
    deferred: int = 0  # events left for a moment: the sync holds their contact

    def line(self) -> str:
        return (f"webhook batch events={self.events} contacts={self.contacts} ignored={self.ignored} "
                f"forgotten={self.forgotten} merged={self.merged} written={self.written} failed={self.failed}")


class WebhookConsumer:
    def __init__(self, gateway: Gateway, store: Store, rules: RuleSet, *, batch_size: int = 500,
                 lease_ms: int = 30_000, worker_id: str | None = None, clock: Callable[[], float] = time.time,
                 app_id: str | None = None, shadow: ShadowScorer | None = None,
                 alert_channels: Sequence[str] = (), assigner: Assigner | None = None):
        """`app_id`: this connector's HubSpot app (asked of HubSpot on first need when None).
        `shadow`: score with a candidate config too (connector/shadow.py)."""
        self.store = store
        self.gateway = gateway
        self.path = WritePath(gateway, store, rules, clock=clock, shadow=shadow, alert_channels=alert_channels,
                              assigner=assigner)
        self.batch_size = batch_size
        self.lease_ms = lease_ms
        self.worker_id = worker_id or lock_holder()
        self.clock = clock
        self._app_id: str | None | object = app_id if app_id is not None else _UNKNOWN
        self._dead_checked_at = -DEAD_CHECK_EVERY_MS

    def run_once(self) -> ConsumeResult:
        """Handle one batch of queued events; returns what was done (events=0: queue empty)."""
        now = self._now_ms()
        events = self.store.take_events(self.batch_size, self.worker_id, now, self.lease_ms)
        result = ConsumeResult(events=len(events))
        if not events:
            return result
        # Writes a dead worker planned. A live worker keeps its events' lease and its planned
        # writes' stamps fresh (the heartbeat below, and each checkpoint), so a write planned more
        # than a lease before `now` is no live worker's, and every write planned under events just
        # taken over is one. (Leftover writes only exist while their events are unfinished.)
        self.path.finish_planned(result, kinds=("webhook",), created_before=now - self.lease_ms)
        if now - self._dead_checked_at >= DEAD_CHECK_EVERY_MS:
            self._dead_checked_at = now
            self.store.mark_dead_runs(("webhook",), now, older_than=now - WEBHOOK_RUN_MAX_MS)
        with _Heartbeat(self, [e.id for e in events]) as heartbeat:
            held = self._handle(events, result, heartbeat)
        # Contacts the sync holds (it planned them, or wrote them after our read) come back a
        # little later, to be read again once its write has landed: one writer per contact.
        later = [e.id for e in events if e.object_id in held]
        self.store.finish_events([e.id for e in events if e.object_id not in held])
        if later:
            self.store.defer_events(later, self.worker_id, self._now_ms(), self.lease_ms, DEFER_MS)
            result.deferred = len(later)
        return result

    def _handle(self, events: list[QueuedEvent], result: ConsumeResult, heartbeat: _Heartbeat) -> set[str]:
        """Act on a batch; returns the contacts another run holds (their events wait)."""
        rescore, forget, merges = self._coalesce(events, result)
        private = {e.object_id for e in events if e.kind.endswith("privacyDeletion")}
        unsure = forget - private
        if unsure:
            # Erase only what HubSpot confirms is gone: a contact restored since (or a deletion
            # event for a contact that exists) is rescored instead, its history kept. A privacy
            # deletion (GDPR) is erased whatever a read shows.
            still_there = self._existing(sorted(unsure, key=_id_order))
            rescore |= still_there
            forget -= still_there
        if forget:
            self.store.forget_contacts(sorted(forget))
            result.forgotten = len(forget)
        for survivor, merged in merges.items():
            self.store.move_history(sorted(merged), survivor)
            result.merged += len(merged)
        rescore -= forget
        result.contacts = len(rescore)
        if not rescore:
            return set()
        return self._rescore(sorted(rescore, key=_id_order), [e.id for e in events], result, heartbeat)

    def _coalesce(self, events: list[QueuedEvent],
                  result: ConsumeResult) -> tuple[set[str], set[str], dict[str, set[str]]]:
        rescore: set[str] = set()
        forget: set[str] = set()
        merges: dict[str, set[str]] = {}
        for e in sorted(events, key=lambda e: (e.occurred_at, e.event_id)):
            action = e.kind.split(".", 1)[-1]
            p = e.payload
            if action in ("deletion", "privacyDeletion"):
                forget.add(e.object_id)
                rescore.discard(e.object_id)
            elif action == "merge":
                survivor = str(p.get("newObjectId") or p.get("primaryObjectId") or e.object_id)
                merged = {str(i) for i in p.get("mergedObjectIds", [])} - {survivor}
                merges.setdefault(survivor, set()).update(merged)
                rescore.difference_update(merged)
                rescore.add(survivor)
            elif (action == "propertyChange" and p.get("changeSource") == "INTEGRATION"
                  and p.get("propertyName") in _OWN_OUTPUTS and self._is_own_app(p.get("sourceId"))):
                result.ignored += 1
            else:
                if action == "restore":
                    forget.discard(e.object_id)
                rescore.add(e.object_id)
        return rescore, forget, merges

    def _rescore(self, contact_ids: list[str], event_ids: list[int], tally: RunCounts,
                 heartbeat: _Heartbeat) -> set[str]:
        run = self.store.start_run("webhook", self._now_ms(), None)
        heartbeat.run_id = run.id
        held: set[str] = set()
        for i in range(0, len(contact_ids), BATCH_SIZE):
            chunk = contact_ids[i:i + BATCH_SIZE]
            read_at = self._now_ms()
            contacts = self.gateway.batch_read_contacts(chunk, self.path.properties)
            self.path.enrich(contacts)
            planned, histories = self.path.plan(contacts, run.id, tally, read_at=read_at)
            # Renew the lease with the same instant the outbox rows get: the events can then only
            # be taken over once every write planned under them is older than a lease, i.e. once
            # a taker may treat those writes as a dead worker's.
            now = self._now_ms()
            if not self.store.renew_events(event_ids, self.worker_id, now):
                raise StoreError("this webhook batch's lease was taken over by another worker; leaving it to them")
            mine, busy = self.path.claim(run.id, chunk[-1], tally, histories, planned, now, read_at)
            held |= busy
            if mine:
                self.path.write(mine, tally)
        self.store.finish_run(run, tally.counts(), self._now_ms(), cursor_name=None)
        return held

    def _existing(self, contact_ids: list[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(contact_ids), BATCH_SIZE):
            chunk = contact_ids[i:i + BATCH_SIZE]
            found.update(str(c["id"]) for c in self.gateway.batch_read_contacts(chunk, ["hs_object_id"]))
        return found

    def _is_own_app(self, source_id: object) -> bool:
        """An INTEGRATION change is this connector's own echo unless its sourceId names another
        app (then it is rescored like a person's change). Without a sourceId, or when HubSpot
        cannot tell this token's app id, it counts as our own, as before."""
        if source_id is None or source_id == "":
            return True
        if self._app_id is _UNKNOWN:
            self._app_id = self.gateway.own_app_id()
            if self._app_id is None:
                log.warning("HubSpot did not say which app this token belongs to: every integration's change "
                            "of lead status, stage or lsc_* properties counts as the connector's own echo")
        return self._app_id is None or str(source_id) == self._app_id

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)


class _Heartbeat:
    """Renews a batch's lease (and its planned writes' stamps) every third of a lease while the
    batch is worked on: a write slowed by retries must not make the batch look abandoned."""

    def __init__(self, consumer: WebhookConsumer, event_ids: list[int]):
        self.consumer = consumer
        self.event_ids = event_ids
        self.run_id: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="lease-heartbeat", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        c = self.consumer
        while not self._stop.wait(c.lease_ms / 3000):
            try:
                if not c.store.renew_events(self.event_ids, c.worker_id, c._now_ms(), self.run_id):
                    log.warning("lost the lease of a webhook batch to another worker")
                    return
            except StoreError as exc:
                log.warning("could not renew a webhook batch's lease: %s", exc)


def _id_order(contact_id: str) -> tuple[int, str]:
    return (int(contact_id), "") if contact_id.isdigit() else (0, contact_id)
