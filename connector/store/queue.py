"""The webhook queue: deliveries stored deduplicated by eventId, taken in leased batches."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from connector.store.database import Database, _insert_ignore, _lock_key
from connector.store.schema import outbox, rejected_events, webhook_events

MAX_REJECTED = 100  # malformed events noted per delivery (a delivery holds at most 100 events)


@dataclass(frozen=True)
class EnqueueResult:
    accepted: int
    duplicates: int


@dataclass(frozen=True)
class QueuedEvent:
    id: int
    event_id: int
    object_id: str
    kind: str
    occurred_at: int
    payload: dict



class Queue(Database):
    def enqueue_events(self, events: Sequence[Mapping[str, Any]], now: int | None = None,
                       rejected: Sequence[tuple[str, str]] = ()) -> EnqueueResult:
        """Store a delivery's events in one transaction, ignoring event ids already stored, with
        the (field, reason) of each malformed event it left out (at most MAX_REJECTED a delivery)."""
        import time

        received = int(time.time() * 1000) if now is None else now
        notes = [{"received_at": received, "field": field[:128], "reason": reason[:300]}
                 for field, reason in rejected[:MAX_REJECTED]]
        unique: dict[int, dict] = {}
        for e in events:
            unique.setdefault(int(e["event_id"]), {
                "event_id": int(e["event_id"]), "object_id": str(e["object_id"]), "kind": str(e["kind"]),
                "occurred_at": int(e["occurred_at"]), "received_at": received,
                "payload": json.dumps(e.get("payload") or {}, separators=(",", ":")), "status": "queued",
            })
        if not unique and not notes:
            return EnqueueResult(0, len(events))
        insert = _insert_ignore(self.dialect, webhook_events).returning(webhook_events.c.event_id)
        with self._begin() as conn:
            # RETURNING names the rows really inserted (rowcount is unreliable for executemany).
            accepted = len(conn.execute(insert, list(unique.values())).all()) if unique else 0
            if notes:
                conn.execute(rejected_events.insert(), notes)
        return EnqueueResult(accepted, len(events) - accepted)

    def rejected_since(self, since: int) -> tuple[int, dict | None]:
        """How many malformed events were left out since `since` (ms), and the latest one."""
        with self._connect() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(rejected_events)
                                 .where(rejected_events.c.received_at >= since)).scalar_one()
            latest = conn.execute(sa.select(rejected_events).where(rejected_events.c.received_at >= since)
                                  .order_by(rejected_events.c.id.desc()).limit(1)).mappings().first()
        return count, dict(latest) if latest else None

    def take_events(self, limit: int, worker_id: str, now: int, lease_ms: int = 60_000) -> list[QueuedEvent]:
        """Claim up to `limit` queued events (or events whose claimant's lease ran out), never an
        event of a contact another live worker holds events of: two workers rescoring one contact
        at once would both read it and both write the same change.

        Claims are serialised (PostgreSQL: a transaction advisory lock; SQLite: BEGIN IMMEDIATE)
        and short; the work after them runs in parallel.
        """
        expired = now - lease_ms
        claimable = sa.or_(webhook_events.c.status == "queued",
                           sa.and_(webhook_events.c.status == "taken", webhook_events.c.taken_at < expired))
        with self._connect() as conn:  # idle polls must not take a lock
            if conn.execute(sa.select(webhook_events.c.id).where(claimable).limit(1)).first() is None:
                return []
        held_by_others = sa.select(webhook_events.c.object_id).where(
            webhook_events.c.status == "taken", webhook_events.c.taken_at >= expired,
            webhook_events.c.taken_by != worker_id)
        with self._begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key("webhook queue claim")})
            query = (sa.select(webhook_events).where(claimable, webhook_events.c.object_id.not_in(held_by_others))
                     .order_by(webhook_events.c.id).limit(limit))
            rows = conn.execute(query).mappings().all()
            if rows:
                conn.execute(webhook_events.update().where(webhook_events.c.id.in_([r["id"] for r in rows])).values(
                    status="taken", taken_at=now, taken_by=worker_id))
        return [QueuedEvent(r["id"], r["event_id"], r["object_id"], r["kind"], r["occurred_at"],
                            json.loads(r["payload"])) for r in rows]

    def renew_events(self, ids: Sequence[int], worker_id: str, now: int, run_id: int | None = None) -> bool:
        """Extend this worker's lease on its events, and on the writes it planned under them (run
        `run_id`), so neither looks abandoned while it works; False if another worker took any."""
        ids = list(ids)
        with self._begin() as conn:
            renewed = conn.execute(webhook_events.update().where(
                webhook_events.c.id.in_(ids), webhook_events.c.status == "taken",
                webhook_events.c.taken_by == worker_id).values(taken_at=now)).rowcount
            if run_id is not None and renewed == len(ids):
                conn.execute(outbox.update().where(outbox.c.run_id == run_id).values(created_at=now))
        return renewed == len(ids)

    def defer_events(self, ids: Sequence[int], worker_id: str, now: int, lease_ms: int, delay_ms: int) -> None:
        """Hand this worker's events back, to be taken again in `delay_ms`: they stay 'taken' by
        nobody live, with a lease that runs out then (so the contact's other events wait too)."""
        if not ids:
            return
        with self._begin() as conn:
            conn.execute(webhook_events.update().where(
                webhook_events.c.id.in_(list(ids)), webhook_events.c.taken_by == worker_id).values(
                taken_by="deferred", taken_at=now - lease_ms + delay_ms))

    def finish_events(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        with self._begin() as conn:
            conn.execute(webhook_events.update().where(webhook_events.c.id.in_(list(ids))).values(status="done"))

    def count_queued(self) -> int:
        with self._connect() as conn:
            return conn.execute(
                sa.select(sa.func.count()).select_from(webhook_events).where(webhook_events.c.status != "done")
            ).scalar_one()

    def purge_done_events(self, older_than: int) -> int:
        """Drop handled events received before `older_than`; kept until then to catch redeliveries
        (HubSpot retries for about a day, per docs/hubspot-facts.md, "Webhooks")."""
        with self._begin() as conn:
            conn.execute(rejected_events.delete().where(rejected_events.c.received_at < older_than))
            return conn.execute(webhook_events.delete().where(
                webhook_events.c.status == "done", webhook_events.c.received_at < older_than)).rowcount

