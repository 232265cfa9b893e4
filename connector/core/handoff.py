"""Pure: sales' verdict on an MQL (accepted or rejected, and why), read from the contact.

Sales answer in the two properties `connector setup` creates (lsc_handoff_result,
lsc_rejection_reason); the config's `handoff` section may also read a verdict from what sales
already do: a lead status such as UNQUALIFIED or BAD_TIMING (a rejection with its reason), or a
lifecycle stage past MQL (an acceptance). The connector never writes either property.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from connector.core.properties import (
    HANDOFF_RESULT,
    LEAD_STATUS,
    LIFECYCLE_STAGE,
    MQL_DATE,
    REJECTION_REASON,
    REJECTION_REASONS,
)
from connector.core.values import parse_instant

ACCEPTED = "accepted"
REJECTED = "rejected"
UNSPECIFIED = "unspecified"  # a rejection whose reason sales left empty


@dataclass(frozen=True, slots=True)
class Handoff:
    """Where verdicts come from besides the result property (the `handoff` config section)."""

    # Lead status -> rejection reason: sales' own way of saying "not for us".
    rejected_statuses: Mapping[str, str] = field(default_factory=dict)
    # Lifecycle stages that mean sales took the lead (SQL and later).
    accepted_stages: frozenset[str] = frozenset({"salesqualifiedlead", "opportunity", "customer"})


@dataclass(frozen=True, slots=True)
class Verdict:
    result: str  # ACCEPTED | REJECTED
    reason: str | None  # one of REJECTION_REASONS or UNSPECIFIED for a rejection; None for an acceptance
    source: str  # "property", "status:<value>" or "stage:<value>"


def mql_moment(props: Mapping[str, str | None]) -> float | None:
    """When the contact became an MQL (epoch s): the connector's MQL date, else HubSpot's
    "Became a Marketing Qualified Lead Date"; None for a contact never an MQL."""
    for name in (MQL_DATE, "hs_lifecyclestage_marketingqualifiedlead_date"):
        when = parse_instant(props.get(name))
        if when is not None:
            return when
    return None


def verdict(props: Mapping[str, str | None], handoff: Handoff) -> Verdict | None:
    """Sales' verdict on the contact as it is now, or None (none given yet). The result property
    wins over a status or a stage: it is the one sales set on purpose. A status or a stage counts
    only for a contact that was an MQL (an UNQUALIFIED contact marketing never handed over is no
    rejection of the handoff)."""
    result = (props.get(HANDOFF_RESULT) or "").strip().lower()
    if result == REJECTED:
        reason = (props.get(REJECTION_REASON) or "").strip().lower()
        return Verdict(REJECTED, reason if reason in REJECTION_REASONS else UNSPECIFIED, "property")
    if result == ACCEPTED:
        return Verdict(ACCEPTED, None, "property")
    if mql_moment(props) is None:
        return None
    status = (props.get(LEAD_STATUS) or "").strip()
    if status in handoff.rejected_statuses:
        return Verdict(REJECTED, handoff.rejected_statuses[status], f"status:{status}")
    stage = (props.get(LIFECYCLE_STAGE) or "").strip()
    if stage in handoff.accepted_stages:
        return Verdict(ACCEPTED, None, f"stage:{stage}")
    return None
