"""The engagement cache: each contact's activity of one kind as last read, with the markers it was read at."""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa

from connector.store.database import Database
from connector.store.schema import engagement_cache


class EngagementCache(Database):
    def cached_activity(self, contact_ids: Sequence[str],
                        kinds: Sequence[str]) -> dict[tuple[str, str], tuple[str, list]]:
        """(contact id, kind) -> (marker JSON, [[at, attrs], ...]) for what is cached."""
        if not contact_ids or not kinds:
            return {}
        t = engagement_cache.c
        out: dict[tuple[str, str], tuple[str, list]] = {}
        with self._connect() as conn:
            for i in range(0, len(contact_ids), 500):  # SQLite's bound parameters stay well under its limit
                rows = conn.execute(sa.select(t.contact_id, t.kind, t.marker, t.occurrences).where(
                    t.contact_id.in_(list(contact_ids[i:i + 500])), t.kind.in_(list(kinds))))
                for r in rows:
                    out[(r.contact_id, r.kind)] = (r.marker, json.loads(r.occurrences))
        return out

    def cache_activity(self, rows: Sequence[tuple[str, str, str, list]], now_ms: int) -> None:
        """Keep (contact id, kind, marker JSON, occurrences) as read at `now_ms`."""
        if not rows:
            return
        with self._begin() as conn:
            self._upsert(conn, engagement_cache, [
                {"contact_id": cid, "kind": kind, "marker": marker,
                 "occurrences": json.dumps(occ, separators=(",", ":")),
                 "read_at": now_ms} for cid, kind, marker, occ in rows], ["contact_id", "kind"])
