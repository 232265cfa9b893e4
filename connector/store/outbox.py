"""The write outbox, the audit trail, score history and each contact's scoring history.

Why an outbox: a planned HubSpot write is first saved in `outbox` together with the contact's new
history; only after HubSpot confirms it are the history, the audit rows and the score history
committed and the outbox row deleted, all in one transaction. A process killed between the two
finds the outbox row on restart, re-checks HubSpot and finishes it: nothing is lost, nothing is
audited twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connector.core.properties import LAST_SCORED, STATE
from connector.core.values import same_instant
from connector.store.database import Database, _chunks, _lock_key
from connector.store.schema import audit, contact_state, outbox, runs, score_history, write_failures


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
    # Not kept in the outbox, only used while planning: when HubSpot was read for this plan (ms),
    # and the qualification path when the plan makes the contact an MQL.
    read_at: int = 0
    new_mql_path: str | None = None


class Outbox(Database):
    def checkpoint(self, run_id: int, checkpoint_id: str, counts: Mapping[str, int],
                   histories: Mapping[str, dict], planned: Sequence[PlannedWrite], now: int,
                   read_at: int | None = None) -> set[str]:
        """Commit one page of work: histories of unchanged contacts, planned writes, progress.

        One writer per contact: a plan is refused, and its contact id returned, when another run
        holds a planned write for the contact, or wrote it after this plan's read (`read_at`), or
        wrote a change this read does not show (its lsc_last_scored is not the one written: a
        lagging search index). An unchanged contact's history is not saved then either (`read_at`:
        when the page was read): a stale read must not replace what another run confirmed.
        """
        with self._begin() as conn:
            if self.dialect == "postgresql":
                # Claims are serialised, as queue claims are: two transactions must not each miss
                # the other's uncommitted outbox row.
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key("outbox claims")})
            busy = self._held_elsewhere(conn, run_id, planned) if planned else set()
            mine = [p for p in planned if p.contact_id not in busy]
            if histories and read_at is not None:
                stale = self._held_elsewhere(conn, run_id, [
                    PlannedWrite(cid, run_id, {}, {}, {}, "", {}, read_at=read_at) for cid in histories])
                histories = {cid: h for cid, h in histories.items() if cid not in stale}
            self._save_histories(conn, [(cid, h, now) for cid, h in histories.items()])
            if mine:
                ids = [p.contact_id for p in mine]
                # A resumed run re-plans contacts it planned before it died: the new plan wins.
                conn.execute(outbox.delete().where(outbox.c.run_id == run_id, outbox.c.contact_id.in_(ids)))
                conn.execute(outbox.insert(), [_outbox_row(p, now) for p in mine])
            conn.execute(runs.update().where(runs.c.id == run_id).values(
                checkpoint_id=checkpoint_id, counts=json.dumps(dict(counts))))
        return busy

    def _held_elsewhere(self, conn: Connection, run_id: int, planned: Sequence[PlannedWrite]) -> set[str]:
        read_at = {p.contact_id: p.read_at or p.planned_at for p in planned}
        seen = {p.contact_id: p.previous.get(LAST_SCORED) for p in planned if LAST_SCORED in p.previous}
        busy: set[str] = set()
        for chunk in _chunks(list(read_at), 500):
            busy.update(conn.execute(sa.select(outbox.c.contact_id).where(
                outbox.c.contact_id.in_(chunk), outbox.c.run_id != run_id)).scalars())
            rows = conn.execute(sa.select(audit.c.contact_id, sa.func.max(audit.c.at)).where(
                audit.c.contact_id.in_(chunk), audit.c.run_id != run_id).group_by(audit.c.contact_id)).all()
            busy.update(cid for cid, at in rows if at >= read_at[cid])
            shown = [cid for cid in chunk if cid in seen]
            if shown:
                # The last lsc_last_scored another run wrote: a read that shows another value
                # predates that write (HubSpot's search lags writes by moments).
                latest = sa.select(audit.c.contact_id, sa.func.max(audit.c.id).label("id")).where(
                    audit.c.contact_id.in_(shown), audit.c.property == LAST_SCORED,
                    audit.c.run_id != run_id).group_by(audit.c.contact_id).subquery()
                written = conn.execute(sa.select(audit.c.contact_id, audit.c.new_value).join(
                    latest, audit.c.id == latest.c.id)).all()
                busy.update(cid for cid, value in written
                            if not same_instant(seen[cid], value) and seen[cid] != value)
        return busy

    def get_histories(self, contact_ids: Iterable[str]) -> dict[str, dict]:
        ids = list(contact_ids)
        found: dict[str, dict] = {}
        with self._connect() as conn:
            for chunk in _chunks(ids, 500):
                for cid, text in conn.execute(
                    sa.select(contact_state.c.contact_id, contact_state.c.history)
                    .where(contact_state.c.contact_id.in_(chunk))
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
                    outbox.delete().where(outbox.c.run_id == run_id, outbox.c.contact_id.in_(ids))
                    .returning(outbox.c.contact_id)
                ).scalars()}
            written = [w for w in written if (w.contact_id, w.run_id) in still_planned]
            if not written:
                return
            self._save_histories(conn, [(w.contact_id, w.history, w.planned_at or now) for w in written])
            audit_rows = [
                {"run_id": w.run_id, "contact_id": w.contact_id, "property": prop, "old_value": w.previous.get(prop),
                 "new_value": value, "reasons": w.reasons, "at": now}
                for w in written for prop, value in w.changes.items()
                if prop != STATE  # the History itself, kept just above: not a change anyone reads
            ]
            if audit_rows:
                conn.execute(audit.insert(), audit_rows)
            scores = [
                {"contact_id": w.contact_id, "at": now, "total": int(w.score.get("total", 0)),
                 "fit": int(w.score.get("fit", 0)), "engagement": int(w.score.get("engagement", 0)),
                 "grade": str(w.score.get("grade", ""))}
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
                {"run_id": w.run_id, "contact_id": w.contact_id, "changes": json.dumps(w.changes),
                 "error": error[:2000], "at": now}
                for w, error in failed
            ])
            for w, _ in failed:
                conn.execute(outbox.delete().where(outbox.c.run_id == w.run_id, outbox.c.contact_id == w.contact_id))

    def audit_for(self, contact_id: str, limit: int = 50) -> list[dict]:
        with self._connect() as conn:
            rows = conn.execute(sa.select(audit).where(audit.c.contact_id == contact_id)
                                .order_by(audit.c.id.desc()).limit(limit)).mappings().all()
        return [dict(r) for r in rows]

    def last_audit_id(self) -> int:
        with self._connect() as conn:
            return conn.execute(sa.select(sa.func.max(audit.c.id))).scalar() or 0

    def audit_since(self, after_id: int, prop: str, value: str, limit: int = 100) -> list[dict]:
        """Audit rows newer than `after_id` that set `prop` to `value` (e.g. new MQLs, for a feed)."""
        with self._connect() as conn:
            rows = conn.execute(sa.select(audit).where(audit.c.id > after_id, audit.c.property == prop,
                                                       audit.c.new_value == value)
                                .order_by(audit.c.id).limit(limit)).mappings().all()
        return [dict(r) for r in rows]

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

    def _save_histories(self, conn: Connection, histories: Sequence[tuple[str, dict, int]]) -> None:
        """Upsert (contact, history, as of): a history never replaces one evaluated later (the
        sync and the webhook worker may both have evaluated the contact; the later one stands)."""
        if not histories:
            return
        rows = [{"contact_id": cid, "history": json.dumps(h, separators=(",", ":")), "updated_at": at}
                for cid, h, at in histories]
        self._upsert(conn, contact_state, rows, ["contact_id"], only_if_newer=contact_state.c.updated_at)


def _outbox_row(p: PlannedWrite, now: int) -> dict:
    return {"contact_id": p.contact_id, "run_id": p.run_id, "changes": json.dumps(p.changes),
            "previous": json.dumps(p.previous), "history": json.dumps(p.history, separators=(",", ":")),
            "reasons": p.reasons, "score": json.dumps(p.score), "created_at": now}


def _planned(r: Mapping[str, Any]) -> PlannedWrite:
    return PlannedWrite(r["contact_id"], r["run_id"], json.loads(r["changes"]), json.loads(r["previous"]),
                        json.loads(r["history"]), r["reasons"], json.loads(r["score"]))

