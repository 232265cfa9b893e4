"""Activity candidates for calibration: rules on what a contact did (a completed meeting, a connected
call, a webinar attended, an email reply, within 30 or 90 days), valued point-in-time.

Pure. Activity objects carry their own timestamps, so a contact's activity as of a decision moment is
the occurrences dated before it; `as_of` counts exactly those (strictly before: an occurrence at or
after the moment is what the judgement could not have seen), with the scoring core's own
`connector.core.activity.signals`, under each rule's synthetic key. The candidates are rule specs in
the scoring config's schema (`activity:` mappings), so what is learned is what the engine evaluates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from connector.calibrate.candidates import Candidate
from connector.core.activity import Activity, Occurrence, signals
from connector.core.rules import RuleSet
from connector.core.rules_file import parse_rules

WINDOWS = (30, 90)
# (name, label, activity mapping without its window): what the issue names as predictive, with the
# property values HubSpot gives each (https://developers.hubspot.com/docs/api/crm/meetings ,
# .../calls , .../emails : hs_meeting_outcome COMPLETED, hs_call_status COMPLETED, hs_email_direction
# INCOMING_EMAIL for a reply).
KINDS: tuple[tuple[str, str, dict], ...] = (
    ("completed_meeting", "Completed meeting", {"kind": "meetings", "where": {"hs_meeting_outcome": "COMPLETED"}}),
    ("connected_call", "Connected call", {"kind": "calls", "where": {"hs_call_status": "COMPLETED"}}),
    ("webinar_attended", "Attended a webinar", {"kind": "marketing_events", "state": "ATTENDED"}),
    ("email_reply", "Replied to a sales email", {"kind": "emails", "where": {"hs_email_direction": "INCOMING_EMAIL"}}),
)


def candidates() -> list[Candidate]:
    """Each activity candidate, once per window; one family per activity (the windows overlap)."""
    out = []
    for name, label, spec in KINDS:
        for days in WINDOWS:
            rule = {"name": f"cand_{name}_{days}d", "label": f"{label} ({days} days)",
                    "activity": {**spec, "within_days": days}}
            out.append(Candidate(rule, "engagement", f"activity: {label.lower()} within {days} days before "
                                                     "the decision", f"activity:{name}"))
    return out


def kinds_of(activities: Sequence[Activity]) -> list[str]:
    return sorted({a.kind for a in activities})


def as_of(activities: Sequence[Activity], occurrences: Mapping[str, Sequence[Occurrence]],
          moment: float) -> dict[str, str]:
    """Each activity rule's count for one contact as of `moment` (epoch seconds): only occurrences
    dated strictly before it."""
    before = {kind: [o for o in rows if o.at < moment] for kind, rows in occurrences.items()}
    return signals(activities, before, moment)


def covered(rule_keys: Sequence[str], snapshots: Sequence[Mapping[str, str | None]], share: float) -> set[str]:
    """The keys whose rule fires (a count above 0) in at least `share` of `snapshots`."""
    if not snapshots:
        return set()
    return {k for k in rule_keys
            if sum(1 for s in snapshots if (s.get(k) or "0") != "0") >= share * len(snapshots)}


def reading_rules(current: Mapping) -> RuleSet:
    """The activity rules whose kinds calibration reads: the candidates and the current config's own."""
    own = [r for r in ((current.get("rules") or {}).get("engagement") or ()) if isinstance(r, dict) and "activity" in r]
    specs = [*own, *(c.spec for c in candidates())]
    return parse_rules({"rules": {"fit": [], "engagement": [{**s, "points": 1} for s in specs]}},
                       "<calibration activity>")
