"""Shadow scores: the live and the shadow config's view of each contact, and what became of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from connector.store.database import Database
from connector.store.schema import shadow_scores


@dataclass(frozen=True)
class ShadowSighting:
    """One contact scored by both configs in one run."""

    contact_id: str
    live_total: int
    shadow_total: int
    live_mql: bool
    shadow_mql: bool
    stage: str | None
    reached_outcome: bool  # its lifecycle stage now is an outcome stage


class Shadow(Database):
    def record_shadow(self, config_key: str, sightings: Sequence[ShadowSighting], now: int) -> None:
        """First sighting of a contact under this shadow config: keep both scores as they were.
        Later ones: keep the newest shadow score, and note when the contact reached an outcome
        (a contact already there when first seen gets its first sighting's time)."""
        if not sightings:
            return
        ids = [s.contact_id for s in sightings]
        t = shadow_scores
        with self._begin() as conn:
            known = {r.contact_id: r for r in conn.execute(
                sa.select(t.c.contact_id, t.c.outcome_at).where(
                    (t.c.config_key == config_key) & t.c.contact_id.in_(ids)))}
            new = [{"config_key": config_key, "contact_id": s.contact_id, "first_at": now,
                    "live_total": s.live_total, "shadow_total": s.shadow_total,
                    "live_mql": s.live_mql, "shadow_mql": s.shadow_mql,
                    "stage_at_start": s.stage, "latest_shadow_total": s.shadow_total,
                    "updated_at": now, "outcome_at": now if s.reached_outcome else None}
                   for s in sightings if s.contact_id not in known]
            if new:
                conn.execute(t.insert(), new)
            for s in sightings:
                row = known.get(s.contact_id)
                if row is None:
                    continue
                values: dict = {"latest_shadow_total": s.shadow_total, "updated_at": now}
                if s.reached_outcome and row.outcome_at is None:
                    values["outcome_at"] = now
                conn.execute(t.update().where((t.c.config_key == config_key)
                                              & (t.c.contact_id == s.contact_id)).values(**values))

    def shadow_rows(self, config_key: str) -> list[dict]:
        with self._connect() as conn:
            return [dict(r) for r in conn.execute(
                sa.select(shadow_scores).where(shadow_scores.c.config_key == config_key)
            ).mappings()]

    def shadow_keys(self) -> list[tuple[str, int, int]]:
        """(config key, contacts, first sighting) of every shadow config seen, newest first."""
        t = shadow_scores
        with self._connect() as conn:
            rows = conn.execute(sa.select(t.c.config_key, sa.func.count(), sa.func.min(t.c.first_at))
                                .group_by(t.c.config_key)).all()
        return sorted(((k, int(n), int(at)) for k, n, at in rows), key=lambda r: -r[2])
