"""What the report counts per contact (contact_facts), kept by the sync and the webhook worker, and
the SLA clocks of a window: the report reads these, never HubSpot."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from connector.report.facts import ContactFacts
from connector.store.outbox import Outbox
from connector.store.schema import contact_facts, sla_clocks

_STAGE_COLUMNS = ("lead_at", "mql_at", "sql_at", "opportunity_at", "customer_at")  # in STAGES order


class Funnel(Outbox):
    def record_facts(self, facts: Sequence[ContactFacts]) -> None:
        """Keep each contact's facts; never over facts seen later (the sync and the worker may both
        have read the contact: the later reading stands)."""
        if not facts:
            return
        latest = {f.contact_id: f for f in facts}
        with self._begin() as conn:
            self._upsert(conn, contact_facts, [_row(f) for f in latest.values()], ["contact_id"],
                         only_if_newer=contact_facts.c.updated_at)

    def all_facts(self) -> list[ContactFacts]:
        """Every contact's facts."""
        return self._facts(None)

    def facts_between(self, since: int, until: int) -> list[ContactFacts]:
        """The facts of contacts created or entering a stage in [since, until) (ms): all a report
        on that window counts (a 12-week report on 20,000 contacts reads a few thousand)."""
        c = contact_facts.c
        dated = [c.created_at, *(c[n] for n in _STAGE_COLUMNS)]
        return self._facts(sa.or_(*((col >= since) & (col < until) for col in dated)))

    def facts_updated_since(self, at: int) -> list[ContactFacts]:
        """The facts kept at or after `at` (ms): what a reader holding older ones must refresh."""
        return self._facts(contact_facts.c.updated_at >= at)

    def facts_summary(self) -> tuple[int, int | None]:
        """(contacts with facts, when the store last saw one in ms)."""
        c = contact_facts.c
        with self._connect() as conn:
            n, last = conn.execute(sa.select(sa.func.count(), sa.func.max(c.updated_at))).one()
        return int(n), last

    def _facts(self, where) -> list[ContactFacts]:
        c = contact_facts.c
        query = sa.select(c.contact_id, c.created_at, *(c[n] for n in _STAGE_COLUMNS), c.source, c.grade, c.score,
                          c.path, c.owner_id, c.updated_at)
        with self._connect() as conn:
            rows = conn.execute(query if where is None else query.where(where)).all()
        return [ContactFacts(r[0], r[1], tuple(r[2:7]), r[7], r[8], r[9], r[10], r[11], r[12]) for r in rows]

    def clocks_between(self, since: int, until: int) -> list[dict]:
        """SLA clocks of the MQLs made in [since, until) (ms)."""
        t = sla_clocks.c
        with self._connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(sla_clocks).where(t.mql_at >= since, t.mql_at < until)
                                                  .order_by(t.mql_at)).mappings()]

    def forget_contacts(self, contact_ids: Sequence[str]) -> None:
        """A deleted contact leaves the report too (deletion, GDPR privacy deletion)."""
        super().forget_contacts(contact_ids)
        with self._begin() as conn:
            conn.execute(contact_facts.delete().where(contact_facts.c.contact_id.in_(list(contact_ids))))

    def move_history(self, from_ids: Sequence[str], to_id: str) -> None:
        """A merge: the merged contacts leave the report; the survivor's next reading refills it."""
        super().move_history(from_ids, to_id)
        gone = [i for i in from_ids if i != to_id]
        if gone:
            with self._begin() as conn:
                conn.execute(contact_facts.delete().where(contact_facts.c.contact_id.in_(gone)))


def _row(f: ContactFacts) -> dict:
    return {"contact_id": f.contact_id, "created_at": f.created_at, **dict(zip(_STAGE_COLUMNS, f.entered, strict=True)),
            "source": f.source, "grade": f.grade, "score": f.score, "path": f.path, "owner_id": f.owner_id,
            "updated_at": f.updated_at}
