"""The connector's state: cursors, runs, the write outbox, audit trail, score history, webhook queue.

SQLAlchemy Core over SQLite (default, one process) or PostgreSQL (`DATABASE_URL`, several
processes). Every multi-row change that must stay consistent happens in one transaction.
Times are integers: milliseconds since the epoch, UTC.

Write path (why there is an outbox): a planned HubSpot write is first saved in `outbox` together with
the contact's new history; only after HubSpot confirms it are the history, the audit rows and the
score history committed and the outbox row deleted, all in one transaction. A process killed between
the two finds the outbox row on restart, re-checks HubSpot and finishes it: nothing is lost, nothing
is audited twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from connector.errors import StoreError

SCHEMA_VERSION = 2

metadata = sa.MetaData()

schema_meta = sa.Table(
    "schema_meta", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(255), nullable=False),
)

# Per-contact scoring history (rollups seen, dated increases, what the connector last wrote).
contact_state = sa.Table(
    "contact_state", metadata,
    sa.Column("contact_id", sa.String(32), primary_key=True),
    sa.Column("history", sa.Text, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)

runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),  # full | incremental | webhook
    sa.Column("status", sa.String(16), nullable=False),  # running | done | failed
    sa.Column("started_at", sa.BigInteger, nullable=False),  # also the window's upper bound
    sa.Column("window_from", sa.BigInteger),  # incremental: lastmodifieddate lower bound
    sa.Column("checkpoint_id", sa.String(32)),  # contacts up to this id are committed
    sa.Column("counts", sa.Text, nullable=False, default="{}"),
    sa.Column("finished_at", sa.BigInteger),
    sa.Column("error", sa.Text),
)

cursors = sa.Table(
    "cursors", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

outbox = sa.Table(
    "outbox", metadata,
    # Keyed by contact and run: the sync and the webhook worker may both have a write planned
    # for the same contact; each confirms its own.
    sa.Column("contact_id", sa.String(32), primary_key=True),
    sa.Column("run_id", sa.Integer, primary_key=True),
    sa.Column("changes", sa.Text, nullable=False),  # {property: new value}
    sa.Column("previous", sa.Text, nullable=False),  # {property: value HubSpot had}
    sa.Column("history", sa.Text, nullable=False),  # history to commit once written
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("score", sa.Text, nullable=False),  # {"total","fit","engagement","grade"}
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

audit = sa.Table(
    "audit", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, nullable=False),
    sa.Column("contact_id", sa.String(32), nullable=False, index=True),
    sa.Column("property", sa.String(128), nullable=False),
    sa.Column("old_value", sa.Text),
    sa.Column("new_value", sa.Text),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("at", sa.BigInteger, nullable=False),
)

score_history = sa.Table(
    "score_history", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("contact_id", sa.String(32), nullable=False),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("fit", sa.Integer, nullable=False),
    sa.Column("engagement", sa.Integer, nullable=False),
    sa.Column("grade", sa.String(8), nullable=False),
    sa.Index("ix_score_history_contact_at", "contact_id", "at"),
)

write_failures = sa.Table(
    "write_failures", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, nullable=False),
    sa.Column("contact_id", sa.String(32), nullable=False, index=True),
    sa.Column("changes", sa.Text, nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("at", sa.BigInteger, nullable=False),
)

# Lease locks for SQLite (PostgreSQL uses advisory locks instead): one row per held job lock.
job_locks = sa.Table(
    "job_locks", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(128), nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
)

webhook_events = sa.Table(
    "webhook_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.BigInteger, nullable=False, unique=True),
    sa.Column("object_id", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("occurred_at", sa.BigInteger, nullable=False),
    sa.Column("received_at", sa.BigInteger, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", sa.String(8), nullable=False),  # queued | taken | done
    sa.Column("taken_at", sa.BigInteger),
    sa.Column("taken_by", sa.String(64)),
    sa.Index("ix_webhook_events_status_id", "status", "id"),
)


@dataclass(frozen=True)
class EnqueueResult:
    accepted: int
    duplicates: int


@dataclass(frozen=True)
class Run:
    id: int
    kind: str
    status: str
    started_at: int
    window_from: int | None
    checkpoint_id: str | None
    counts: dict


@dataclass(frozen=True)
class PlannedWrite:
    """One contact's pending HubSpot write, as kept in the outbox."""

    contact_id: str
    run_id: int
    changes: dict[str, str]
    previous: dict[str, str | None]
    history: dict
    reasons: str
    score: dict
    planned_at: int = 0  # ms; a history older than the stored one never replaces it


@dataclass(frozen=True)
class QueuedEvent:
    id: int
    event_id: int
    object_id: str
    kind: str
    occurred_at: int
    payload: dict


class Store:
    """All reads and writes of the connector's own state."""

    def __init__(self, url: str, *, pool_size: int | None = None, busy_timeout_s: float = 30.0,
                 engine: Engine | None = None):
        """`pool_size`: PostgreSQL connections kept per process (size it to the threads that use the
        store: gunicorn's --threads). `busy_timeout_s`: how long SQLite waits for the writer lock."""
        self.url = url
        self.engine = engine or _create_engine(url, pool_size, busy_timeout_s)
        self.dialect = self.engine.dialect.name

    @classmethod
    def from_settings(cls, settings: Any, **kw: Any) -> "Store":
        settings.ensure_local_dirs()
        kw.setdefault("pool_size", settings.database_pool_size)
        return cls(settings.sqlalchemy_url, **kw)

    # -- lifecycle -------------------------------------------------------------------------

    def upgrade(self) -> int:
        """Create or upgrade the schema to SCHEMA_VERSION; returns the version now in force."""
        with self._begin() as conn:
            if self.dialect == "postgresql":
                # Web, worker and release processes may start together: one upgrades at a time
                # (concurrent CREATE TABLE of the same name fails on PostgreSQL's catalog).
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key("schema upgrade")})
            metadata.create_all(conn, tables=[schema_meta])
            current = conn.execute(
                sa.select(schema_meta.c.value).where(schema_meta.c.key == "schema_version")
            ).scalar()
            version = int(current) if current else 0
            if version < 1:
                metadata.create_all(conn)
            if version < 2:
                metadata.create_all(conn, tables=[job_locks])
            # Later versions append their DDL here: `if version < 3: ...`.
            if version != SCHEMA_VERSION:
                self._upsert(conn, schema_meta, {"key": "schema_version", "value": str(SCHEMA_VERSION)}, ["key"])
        return SCHEMA_VERSION

    def schema_version(self) -> int:
        with self._connect() as conn:
            if not sa.inspect(conn).has_table("schema_meta"):
                return 0
            value = conn.execute(sa.select(schema_meta.c.value).where(schema_meta.c.key == "schema_version")).scalar()
            return int(value) if value else 0

    def ping(self) -> None:
        with self._connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()

    # -- cursors and runs ------------------------------------------------------------------

    def get_cursor(self, name: str) -> int | None:
        with self._connect() as conn:
            return conn.execute(sa.select(cursors.c.value).where(cursors.c.name == name)).scalar()

    def set_cursor(self, name: str, value: int) -> None:
        with self._begin() as conn:
            self._upsert(conn, cursors, {"name": name, "value": int(value)}, ["name"])

    def start_run(self, kind: str, started_at: int, window_from: int | None) -> Run:
        with self._begin() as conn:
            run_id = conn.execute(
                runs.insert().values(kind=kind, status="running", started_at=started_at,
                                     window_from=window_from, counts="{}")
            ).inserted_primary_key[0]
        return Run(run_id, kind, "running", started_at, window_from, None, {})

    def unfinished_run(self, kind: str) -> Run | None:
        """The newest run of this kind if it did not finish (killed, failed, interrupted): resume it."""
        with self._connect() as conn:
            row = conn.execute(
                sa.select(runs).where(runs.c.kind == kind, runs.c.status != "trial").order_by(runs.c.id.desc()).limit(1)
            ).mappings().first()
        return _run(row) if row is not None and row["status"] in ("running", "failed") else None

    def checkpoint(self, run_id: int, checkpoint_id: str, counts: Mapping[str, int],
                   histories: Mapping[str, dict], planned: Sequence[PlannedWrite], now: int) -> None:
        """Commit one page of work: histories of unchanged contacts, planned writes, progress."""
        with self._begin() as conn:
            self._save_histories(conn, [(cid, h, now) for cid, h in histories.items()])
            if planned:
                ids = [p.contact_id for p in planned]
                # A resumed run re-plans contacts it planned before it died: the new plan wins.
                conn.execute(outbox.delete().where(outbox.c.run_id == run_id, outbox.c.contact_id.in_(ids)))
                conn.execute(outbox.insert(), [_outbox_row(p, now) for p in planned])
            conn.execute(runs.update().where(runs.c.id == run_id).values(
                checkpoint_id=checkpoint_id, counts=json.dumps(dict(counts))))

    def finish_run(self, run: Run, counts: Mapping[str, int], now: int, *, cursor_name: str | None,
                   status: str = "done", cursors_too: Mapping[str, int] | None = None) -> None:
        """Mark the run finished and, for sync runs, move the cursor to the run's start: never past
        it, and never back (a resumed old run must not make the next window start a day early).
        `cursors_too` are set in the same transaction."""
        with self._begin() as conn:
            conn.execute(runs.update().where(runs.c.id == run.id).values(
                status=status, finished_at=now, counts=json.dumps(dict(counts))))
            if cursor_name:
                current = conn.execute(sa.select(cursors.c.value).where(cursors.c.name == cursor_name)).scalar()
                if current is None or current < run.started_at:
                    self._upsert(conn, cursors, {"name": cursor_name, "value": run.started_at}, ["name"])
            for name, value in (cursors_too or {}).items():
                self._upsert(conn, cursors, {"name": name, "value": int(value)}, ["name"])

    def fail_run(self, run_id: int, error: str, now: int) -> None:
        with self._begin() as conn:
            conn.execute(runs.update().where(runs.c.id == run_id).values(status="failed", finished_at=now, error=error[:2000]))

    # -- contact histories and the write outbox ----------------------------------------------

    def get_histories(self, contact_ids: Iterable[str]) -> dict[str, dict]:
        ids = list(contact_ids)
        found: dict[str, dict] = {}
        with self._connect() as conn:
            for chunk in _chunks(ids, 500):
                for cid, text in conn.execute(
                    sa.select(contact_state.c.contact_id, contact_state.c.history).where(contact_state.c.contact_id.in_(chunk))
                ):
                    found[cid] = json.loads(text)
        return found

    def planned_writes(self, limit: int = 100, *, kinds: Sequence[str] | None = None,
                       created_before: int | None = None) -> list[PlannedWrite]:
        """Writes planned but not confirmed, optionally only those of runs of `kinds`, or planned
        before `created_before` (so a live process's in-flight writes are left to it)."""
        query = sa.select(outbox).order_by(outbox.c.contact_id, outbox.c.run_id).limit(limit)
        if kinds is not None:
            query = query.join(runs, runs.c.id == outbox.c.run_id).where(runs.c.kind.in_(list(kinds)))
        if created_before is not None:
            query = query.where(outbox.c.created_at < created_before)
        with self._connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_planned(r) for r in rows]

    def discard_planned(self, planned: Sequence[PlannedWrite]) -> None:
        """Drop planned writes a newer plan for the same contact supersedes (never sent again)."""
        if not planned:
            return
        with self._begin() as conn:
            for w in planned:
                conn.execute(outbox.delete().where(outbox.c.run_id == w.run_id, outbox.c.contact_id == w.contact_id))

    def count_planned(self) -> int:
        with self._connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one()

    def confirm_writes(self, written: Sequence[PlannedWrite], now: int) -> None:
        """HubSpot has the values: commit histories, audit rows and score history; clear the outbox."""
        if not written:
            return
        with self._begin() as conn:
            # Only rows still in the outbox are confirmed: a second confirmation (two processes
            # finishing the same write after a crash) adds no audit or score rows.
            still_planned = set()
            for run_id in {w.run_id for w in written}:
                ids = [w.contact_id for w in written if w.run_id == run_id]
                still_planned |= {(cid, run_id) for cid in conn.execute(
                    outbox.delete().where(outbox.c.run_id == run_id, outbox.c.contact_id.in_(ids)).returning(outbox.c.contact_id)
                ).scalars()}
            written = [w for w in written if (w.contact_id, w.run_id) in still_planned]
            if not written:
                return
            self._save_histories(conn, [(w.contact_id, w.history, w.planned_at or now) for w in written])
            audit_rows = [
                {"run_id": w.run_id, "contact_id": w.contact_id, "property": prop, "old_value": w.previous.get(prop),
                 "new_value": value, "reasons": w.reasons, "at": now}
                for w in written for prop, value in w.changes.items()
            ]
            if audit_rows:
                conn.execute(audit.insert(), audit_rows)
            scores = [
                {"contact_id": w.contact_id, "at": now, "total": int(w.score.get("total", 0)), "fit": int(w.score.get("fit", 0)),
                 "engagement": int(w.score.get("engagement", 0)), "grade": str(w.score.get("grade", ""))}
                for w in written if w.score
            ]
            if scores:
                conn.execute(score_history.insert(), scores)

    def record_failures(self, failed: Sequence[tuple[PlannedWrite, str]], now: int) -> None:
        """HubSpot refused these writes for good: keep them for a person to see; the next run retries."""
        if not failed:
            return
        with self._begin() as conn:
            conn.execute(write_failures.insert(), [
                {"run_id": w.run_id, "contact_id": w.contact_id, "changes": json.dumps(w.changes), "error": error[:2000], "at": now}
                for w, error in failed
            ])
            for w, _ in failed:
                conn.execute(outbox.delete().where(outbox.c.run_id == w.run_id, outbox.c.contact_id == w.contact_id))

    def audit_for(self, contact_id: str, limit: int = 50) -> list[dict]:
        with self._connect() as conn:
            rows = conn.execute(sa.select(audit).where(audit.c.contact_id == contact_id).order_by(audit.c.id.desc()).limit(limit)).mappings().all()
        return [dict(r) for r in rows]

    def last_audit_id(self) -> int:
        with self._connect() as conn:
            return conn.execute(sa.select(sa.func.max(audit.c.id))).scalar() or 0

    def audit_since(self, after_id: int, prop: str, value: str, limit: int = 100) -> list[dict]:
        """Audit rows newer than `after_id` that set `prop` to `value` (e.g. new MQLs, for a feed)."""
        with self._connect() as conn:
            rows = conn.execute(sa.select(audit).where(audit.c.id > after_id, audit.c.property == prop,
                                                       audit.c.new_value == value).order_by(audit.c.id).limit(limit)).mappings().all()
        return [dict(r) for r in rows]

    def count_rows(self, table_name: str) -> int:
        table = metadata.tables[table_name]
        with self._connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()

    def forget_contacts(self, contact_ids: Sequence[str]) -> None:
        """Erase what we keep about these contacts (deletion, GDPR privacy deletion)."""
        ids = list(contact_ids)
        with self._begin() as conn:
            for table in (contact_state, outbox, audit, score_history, write_failures):
                conn.execute(table.delete().where(table.c.contact_id.in_(ids)))

    def move_history(self, from_ids: Sequence[str], to_id: str) -> None:
        """A merge: the surviving contact inherits the audit and score history of the merged ones."""
        ids = [i for i in from_ids if i != to_id]
        if not ids:
            return
        with self._begin() as conn:
            for table in (audit, score_history, write_failures):
                conn.execute(table.update().where(table.c.contact_id.in_(ids)).values(contact_id=to_id))
            conn.execute(contact_state.delete().where(contact_state.c.contact_id.in_(ids)))
            conn.execute(outbox.delete().where(outbox.c.contact_id.in_(ids)))

    # -- job locks -------------------------------------------------------------------------

    @contextlib.contextmanager
    def job_lock(self, name: str, holder: str, lease_ms: int = 6 * 3600 * 1000):
        """Yield True if this process now holds the lock `name` (and release it after), else False.

        PostgreSQL: a session advisory lock on a connection held for the job's duration, freed by
        the server if the process dies. SQLite: a lease row that expires after `lease_ms`.
        """
        import time

        if self.dialect == "postgresql":
            key = _lock_key(name)
            conn = self.engine.connect()
            try:
                got = bool(conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
                conn.commit()
                try:
                    yield got
                finally:
                    if got:
                        conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                        conn.commit()
            finally:
                conn.close()
            return
        now = int(time.time() * 1000)
        with self._begin() as conn:
            taken = conn.execute(_insert_ignore(self.dialect, job_locks).values(
                name=name, holder=holder, expires_at=now + lease_ms)).rowcount
            if not taken:
                current = conn.execute(sa.select(job_locks.c.holder).where(job_locks.c.name == name)).scalar()
                stale = sa.or_(job_locks.c.expires_at < now, job_locks.c.holder == current) if _holder_is_dead(current) \
                    else job_locks.c.expires_at < now
                taken = conn.execute(job_locks.update().where(job_locks.c.name == name, stale)
                                     .values(holder=holder, expires_at=now + lease_ms)).rowcount
        try:
            yield bool(taken)
        finally:
            if taken:
                with self._begin() as conn:
                    conn.execute(job_locks.delete().where(job_locks.c.name == name, job_locks.c.holder == holder))

    def last_run_started(self, kinds: Sequence[str], status: str = "done") -> int | None:
        with self._connect() as conn:
            return conn.execute(sa.select(sa.func.max(runs.c.started_at)).where(
                runs.c.kind.in_(list(kinds)), runs.c.status == status)).scalar()

    # -- webhook queue -----------------------------------------------------------------------

    def enqueue_events(self, events: Sequence[Mapping[str, Any]], now: int | None = None) -> EnqueueResult:
        """Store a delivery's events in one transaction, ignoring event ids already stored."""
        import time

        received = int(time.time() * 1000) if now is None else now
        unique: dict[int, dict] = {}
        for e in events:
            unique.setdefault(int(e["event_id"]), {
                "event_id": int(e["event_id"]), "object_id": str(e["object_id"]), "kind": str(e["kind"]),
                "occurred_at": int(e["occurred_at"]), "received_at": received,
                "payload": json.dumps(e.get("payload") or {}, separators=(",", ":")), "status": "queued",
            })
        if not unique:
            return EnqueueResult(0, len(events))
        insert = _insert_ignore(self.dialect, webhook_events).returning(webhook_events.c.event_id)
        with self._begin() as conn:
            # RETURNING names the rows really inserted (rowcount is unreliable for executemany).
            accepted = len(conn.execute(insert, list(unique.values())).all())
        return EnqueueResult(accepted, len(events) - accepted)

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
        return [QueuedEvent(r["id"], r["event_id"], r["object_id"], r["kind"], r["occurred_at"], json.loads(r["payload"])) for r in rows]

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
        (HubSpot retries for about a day, per hubspot-facts.md)."""
        with self._begin() as conn:
            return conn.execute(webhook_events.delete().where(
                webhook_events.c.status == "done", webhook_events.c.received_at < older_than)).rowcount

    # -- internals ---------------------------------------------------------------------------

    def _connect(self):
        return _Guard(self.engine, begin=False)

    def _begin(self):
        return _Guard(self.engine, begin=True)

    def _save_histories(self, conn: Connection, histories: Sequence[tuple[str, dict, int]]) -> None:
        """Upsert (contact, history, as of): a history never replaces one evaluated later (the
        sync and the webhook worker may both have evaluated the contact; the later one stands)."""
        if not histories:
            return
        rows = [{"contact_id": cid, "history": json.dumps(h, separators=(",", ":")), "updated_at": at} for cid, h, at in histories]
        self._upsert(conn, contact_state, rows, ["contact_id"], only_if_newer=contact_state.c.updated_at)

    def _upsert(self, conn: Connection, table: sa.Table, rows: dict | list[dict], keys: list[str],
                only_if_newer: sa.Column | None = None) -> None:
        rows = [rows] if isinstance(rows, dict) else rows
        insert = (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table)
        update_cols = {c.name: insert.excluded[c.name] for c in table.columns if c.name not in keys}
        where = None if only_if_newer is None else only_if_newer <= insert.excluded[only_if_newer.name]
        conn.execute(insert.on_conflict_do_update(index_elements=keys, set_=update_cols, where=where), rows)


class _Guard:
    """A connection (or transaction) whose database errors surface as StoreError."""

    def __init__(self, engine: Engine, begin: bool):
        self.engine, self.begin = engine, begin

    def __enter__(self) -> Connection:
        try:
            self._conn = self.engine.connect()
            if self.begin and self.engine.dialect.name == "sqlite":
                # Take SQLite's write lock up front: a deferred transaction that reads, then
                # writes, lets two processes read the same queue rows before either claims them.
                self._conn.exec_driver_sql("BEGIN IMMEDIATE")
            return self._conn
        except sa.exc.SQLAlchemyError as exc:
            self._close()
            raise StoreError(f"state store unavailable: {_short(exc)}") from exc

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            if self.begin:
                if exc is None:
                    self._conn.commit()
                else:
                    self._conn.rollback()
        except sa.exc.SQLAlchemyError as error:
            raise StoreError(f"state store failed: {_short(error)}") from error
        finally:
            self._close()
        if isinstance(exc, sa.exc.SQLAlchemyError):
            raise StoreError(f"state store failed: {_short(exc)}") from exc
        return False

    def _close(self) -> None:
        conn = getattr(self, "_conn", None)
        if conn is not None:
            conn.close()


def _lock_key(name: str) -> int:
    """A stable 64-bit key for PostgreSQL advisory locks."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def lock_holder() -> str:
    """This process, as a lock holder: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _holder_is_dead(holder: str | None) -> bool:
    """A holder on this host whose process is gone (killed): its SQLite lease can be taken over."""
    if not holder or ":" not in holder:
        return False
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _create_engine(url: str, pool_size: int | None, busy_timeout_s: float) -> Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": busy_timeout_s})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            # WAL lets readers run beside the one writer; busy_timeout makes writers wait, not fail.
            # pysqlite's own implicit BEGIN is off: the store opens write transactions itself
            # (BEGIN IMMEDIATE, see _Guard) and reads run in autocommit.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            cur.close()

        return engine
    kw: dict[str, Any] = {"pool_pre_ping": True}
    if pool_size:
        kw.update(pool_size=pool_size, max_overflow=pool_size, pool_timeout=10)
    return sa.create_engine(url, **kw)


def _insert_ignore(dialect: str, table: sa.Table):
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    return insert.on_conflict_do_nothing()


def _outbox_row(p: PlannedWrite, now: int) -> dict:
    return {"contact_id": p.contact_id, "run_id": p.run_id, "changes": json.dumps(p.changes), "previous": json.dumps(p.previous),
            "history": json.dumps(p.history, separators=(",", ":")), "reasons": p.reasons, "score": json.dumps(p.score), "created_at": now}


def _planned(r: Mapping[str, Any]) -> PlannedWrite:
    return PlannedWrite(r["contact_id"], r["run_id"], json.loads(r["changes"]), json.loads(r["previous"]),
                        json.loads(r["history"]), r["reasons"], json.loads(r["score"]))


def _run(r: Mapping[str, Any]) -> Run:
    return Run(r["id"], r["kind"], r["status"], r["started_at"], r["window_from"], r["checkpoint_id"], json.loads(r["counts"] or "{}"))


def _chunks(items: Sequence[str], size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:300]
