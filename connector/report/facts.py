"""What the report keeps per contact, taken from the contact as HubSpot returns it.

The sync and the webhook worker see every contact they read (WritePath.plan): they keep these
facts in the store, so a report needs no HubSpot call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from connector.core import properties as hp
from connector.core.model import Evaluation
from connector.core.rules_file import REPORT_STAGES
from connector.core.values import parse_instant

# The funnel's stages in order, as HubSpot's lifecyclestage values, and how people call them.
STAGES = REPORT_STAGES
STAGE_LABELS = {"lead": "Lead", "marketingqualifiedlead": "MQL", "salesqualifiedlead": "SQL",
                "opportunity": "Opportunity", "customer": "Customer"}
MQL, SQL = STAGES[1], STAGES[2]
SOURCE = "hs_analytics_source"  # "Original source"
OWNER = "hubspot_owner_id"


def stage_date_property(stage: str) -> str:
    """HubSpot's "Became a <stage> date" (docs/hubspot-facts.md, "Date-entered properties")."""
    return f"hs_lifecyclestage_{stage}_date"


# Read with every contact so the facts can be kept (rules_file._contact_properties adds them).
FACT_PROPERTIES = ("createdate", SOURCE, *(stage_date_property(s) for s in STAGES))


@dataclass(frozen=True, slots=True)
class ContactFacts:
    """One contact as the report counts it. Times are ms since the epoch, None when unknown."""

    contact_id: str
    created_at: int | None
    entered: tuple[int | None, ...]  # per STAGES: when HubSpot says the contact first entered it
    source: str | None
    grade: str | None
    score: int | None
    path: str | None  # score | hand_raise | manual | none
    owner_id: str | None
    updated_at: int
    # When the contact reached each stage (worked out once: a report reads it many times).
    reached_at: tuple[int | None, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "reached_at", self.reached())

    def reached(self) -> tuple[int | None, ...]:
        """When the contact reached each stage: its own date, else (a skipped stage) the earliest
        date of a later one: a contact that is an SQL has passed the MQL line too."""
        out: list[int | None] = []
        later: int | None = None
        for at in reversed(self.entered):
            if at is not None:
                later = at if later is None else min(at, later)
            out.append(at if at is not None else later)
        return tuple(reversed(out))


def facts_of(cid: str, props: Mapping[str, str | None], result: Evaluation, changes: Mapping[str, str],
             now_ms: int) -> ContactFacts:
    """The facts of a contact just evaluated: HubSpot's dates and source, and the score, grade and
    path as they are once the planned `changes` are written. The MQL date is HubSpot's, or the
    connector's own lsc_mql_date when HubSpot has none yet (the stage was not the connector's to
    set, or the write that sets it is still to come: the next read brings HubSpot's)."""
    entered = [_ms(props.get(stage_date_property(s))) for s in STAGES]
    if entered[1] is None:
        entered[1] = _ms(changes.get(hp.MQL_DATE) or props.get(hp.MQL_DATE))
    path = changes.get(hp.PATH) or props.get(hp.PATH) or None
    return ContactFacts(cid, _ms(props.get("createdate")), tuple(entered), (props.get(SOURCE) or "").strip() or None,
                        result.score.grade, result.score.total, path,
                        (changes.get(OWNER) or props.get(OWNER) or "").strip() or None, now_ms)


def _ms(value: str | None) -> int | None:
    at = parse_instant(value)
    return None if at is None else int(round(at * 1000))
