"""Owner alerts: one row per action, one delivery per channel, claimed and retried like a queue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from connector.store.database import Database, _insert_ignore
from connector.store.schema import alert_deliveries, alerts, assignments, sla_clocks


@dataclass(frozen=True)
class NewAlert:
    contact_id: str
    action_key: str  # identifies that very action (a hand-raise's rule, value and date)
    title: str
    body: str
    owner_id: str | None
    due_at: int


@dataclass(frozen=True)
class Delivery:
    """A claimed delivery of one alert on one channel."""

    alert_id: int
    channel: str
    attempts: int
    was_sending: bool  # claimed from a sender that died mid-call: the task may exist already
    contact_id: str
    action_key: str
    title: str
    body: str
    owner_id: str | None
    due_at: int


class Alerts(Database):
    def add_alerts(self, new: Sequence[NewAlert], channels: Sequence[str], now: int) -> int:
        """Record new actions and their deliveries; an action already recorded (by this run, an
        earlier one or another process) is left as it is. Returns how many were new."""
        if not new:
            return 0
        t, d = alerts, alert_deliveries
        with self._begin() as conn:
            keys = {(a.contact_id, a.action_key) for a in new}
            before = self._alert_ids(conn, keys)
            rows = [{"contact_id": a.contact_id, "action_key": a.action_key, "title": a.title[:255],
                     "body": a.body, "owner_id": a.owner_id, "created_at": now, "due_at": a.due_at}
                    for a in new if (a.contact_id, a.action_key) not in before]
            if not rows:
                return 0
            conn.execute(_insert_ignore(self.dialect, t), rows)
            after = self._alert_ids(conn, keys)
            fresh = [after[k] for k in after if k not in before]
            if fresh:
                conn.execute(_insert_ignore(self.dialect, d), [
                    {"alert_id": i, "channel": c, "status": "pending", "attempts": 0, "next_try_at": now}
                    for i in fresh for c in channels])
            return len(fresh)

    def _alert_ids(self, conn, keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
        contacts = sorted({c for c, _ in keys})
        found = conn.execute(sa.select(alerts.c.id, alerts.c.contact_id, alerts.c.action_key)
                             .where(alerts.c.contact_id.in_(contacts))).all()
        return {(r.contact_id, r.action_key): r.id for r in found if (r.contact_id, r.action_key) in keys}

    def claim_deliveries(self, now: int, *, limit: int = 50, lease_ms: int = 60_000) -> list[Delivery]:
        """Due deliveries, marked `sending` by this caller: pending ones whose time has come, and
        `sending` ones whose sender has held them longer than `lease_ms` (it died)."""
        t, d = alerts, alert_deliveries
        due = sa.or_(sa.and_(d.c.status == "pending", d.c.next_try_at <= now),
                     sa.and_(d.c.status == "sending", d.c.taken_at < now - lease_ms))
        with self._begin() as conn:
            rows = conn.execute(sa.select(d.c.alert_id, d.c.channel, d.c.attempts, d.c.status, d.c.taken_at,
                                          t.c.contact_id, t.c.action_key, t.c.title, t.c.body, t.c.owner_id,
                                          t.c.due_at)
                                .join(t, t.c.id == d.c.alert_id).where(due)
                                .order_by(d.c.next_try_at, d.c.alert_id).limit(limit)).all()
            claimed = []
            for r in rows:
                same = (d.c.alert_id == r.alert_id) & (d.c.channel == r.channel) & (d.c.status == r.status)
                if r.taken_at is not None:
                    same &= d.c.taken_at == r.taken_at
                else:
                    same &= d.c.taken_at.is_(None)
                if conn.execute(d.update().where(same).values(status="sending", taken_at=now)).rowcount:
                    claimed.append(Delivery(r.alert_id, r.channel, r.attempts, r.status == "sending",
                                            r.contact_id, r.action_key, r.title, r.body, r.owner_id, r.due_at))
            return claimed

    def delivered(self, alert_id: int, channel: str, now: int, external_id: str | None = None) -> None:
        with self._begin() as conn:
            conn.execute(alert_deliveries.update().where(
                (alert_deliveries.c.alert_id == alert_id) & (alert_deliveries.c.channel == channel))
                .values(status="done", done_at=now, external_id=external_id, last_error=None))

    def delivery_failed(self, alert_id: int, channel: str, error: str, *, retry_at: int | None) -> None:
        """One failed try: pending again at `retry_at`, or `failed` for good when None."""
        d = alert_deliveries
        with self._begin() as conn:
            conn.execute(d.update().where((d.c.alert_id == alert_id) & (d.c.channel == channel)).values(
                status="pending" if retry_at is not None else "failed", attempts=d.c.attempts + 1,
                next_try_at=retry_at if retry_at is not None else d.c.next_try_at, taken_at=None,
                last_error=error[:300]))

    def alert_counts(self) -> dict[str, int]:
        """Deliveries by 'channel status' (for doctor and benches)."""
        d = alert_deliveries
        with self._connect() as conn:
            rows = conn.execute(sa.select(d.c.channel, d.c.status, sa.func.count())
                                .group_by(d.c.channel, d.c.status)).all()
        return {f"{c} {s}": int(n) for c, s, n in rows}

    def failed_deliveries(self, limit: int = 20) -> list[dict]:
        t, d = alerts, alert_deliveries
        with self._connect() as conn:
            return [dict(r) for r in conn.execute(
                sa.select(t.c.contact_id, t.c.title, d.c.channel, d.c.attempts, d.c.last_error)
                .join(t, t.c.id == d.c.alert_id).where(d.c.status == "failed")
                .order_by(d.c.alert_id.desc()).limit(limit)).mappings()]

    # -- round-robin assignment ---------------------------------------------------------------

    def assignment_counts(self) -> dict[str, tuple[int, int]]:
        """owner id -> (MQLs assigned, when last)."""
        with self._connect() as conn:
            return {r.owner_id: (int(r.assigned), int(r.last_at))
                    for r in conn.execute(sa.select(assignments))}

    def record_assignment(self, owner_id: str, now: int) -> None:
        with self._begin() as conn:
            updated = conn.execute(assignments.update().where(assignments.c.owner_id == owner_id).values(
                assigned=assignments.c.assigned + 1, last_at=now)).rowcount
            if not updated:
                conn.execute(_insert_ignore(self.dialect, assignments),
                             [{"owner_id": owner_id, "assigned": 1, "last_at": now}])

    # -- the MQL -> first touch clock ---------------------------------------------------------

    def start_clocks(self, started: Sequence[tuple[str, int, str | None]]) -> None:
        """(contact, MQL time, owner) for new MQLs; a contact whose clock runs keeps it."""
        if started:
            with self._begin() as conn:
                conn.execute(_insert_ignore(self.dialect, sla_clocks), [
                    {"contact_id": c, "mql_at": at, "owner_id": o, "first_touch_at": None, "stages_done": 0}
                    for c, at, o in started])

    def running_clocks(self, contact_ids: Sequence[str] | None = None, limit: int = 1000) -> list[dict]:
        """Clocks not stopped by a touch (of these contacts, or all)."""
        q = sa.select(sla_clocks).where(sla_clocks.c.first_touch_at.is_(None))
        if contact_ids is not None:
            q = q.where(sla_clocks.c.contact_id.in_(list(contact_ids)))
        with self._connect() as conn:
            return [dict(r) for r in conn.execute(q.order_by(sla_clocks.c.mql_at).limit(limit)).mappings()]

    def stop_clock(self, contact_id: str, touched_at: int) -> None:
        with self._begin() as conn:
            conn.execute(sla_clocks.update().where((sla_clocks.c.contact_id == contact_id)
                                                   & sla_clocks.c.first_touch_at.is_(None))
                         .values(first_touch_at=touched_at))

    def escalated(self, contact_id: str, stages_done: int) -> None:
        with self._begin() as conn:
            conn.execute(sla_clocks.update().where(sla_clocks.c.contact_id == contact_id)
                         .values(stages_done=stages_done))

    def clock_of(self, contact_id: str) -> dict | None:
        with self._connect() as conn:
            row = conn.execute(sa.select(sla_clocks).where(sla_clocks.c.contact_id == contact_id)).mappings().first()
        return dict(row) if row else None
