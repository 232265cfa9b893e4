"""Sales' verdicts on MQLs (accepted / rejected and why), kept as outcomes for the report and calibrate."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from connector.store.database import Database
from connector.store.schema import handoff_results


@dataclass(frozen=True)
class SeenVerdict:
    """A verdict as the connector saw it on a contact, with the contact's state at that moment."""

    contact_id: str
    mql_at: int  # ms; 0: never an MQL
    result: str
    reason: str | None
    source: str
    grade: str | None
    score: int | None
    path: str | None
    original_source: str | None
    rules: tuple[str, ...]
    owner_id: str | None


class HandoffResults(Database):
    def record_verdicts(self, seen: Sequence[SeenVerdict], now: int) -> int:
        """Keep each new or changed verdict (stamped `now`); one seen again unchanged keeps its
        first time and its first snapshot. Returns how many rows were new or changed."""
        if not seen:
            return 0
        latest = {(v.contact_id, v.mql_at): v for v in seen}
        t = handoff_results.c
        with self._begin() as conn:
            known = {(r.contact_id, r.mql_at): (r.result, r.reason) for r in conn.execute(
                sa.select(t.contact_id, t.mql_at, t.result, t.reason)
                .where(t.contact_id.in_(sorted({k[0] for k in latest}))))}
            changed = [v for key, v in latest.items() if known.get(key) != (v.result, v.reason)]
            if changed:
                self._upsert(conn, handoff_results, [_row(v, now) for v in changed], ["contact_id", "mql_at"])
        return len(changed)

    def verdicts(self, since: int | None = None, until: int | None = None) -> list[dict]:
        """Every kept verdict decided in [since, until) (ms), oldest first, `rules` as a list."""
        t = handoff_results.c
        q = sa.select(handoff_results).order_by(t.decided_at, t.contact_id)
        if since is not None:
            q = q.where(t.decided_at >= since)
        if until is not None:
            q = q.where(t.decided_at < until)
        with self._connect() as conn:
            return [dict(r, rules=json.loads(r["rules"] or "[]")) for r in conn.execute(q).mappings()]


def _row(v: SeenVerdict, now: int) -> dict:
    return {"contact_id": v.contact_id, "mql_at": v.mql_at, "result": v.result, "reason": v.reason,
            "source": v.source, "decided_at": now, "grade": v.grade, "score": v.score, "path": v.path,
            "original_source": v.original_source, "rules": json.dumps(list(v.rules)), "owner_id": v.owner_id}
