"""Candidate rules from the portal's contact properties: numbers as thresholds, options grouped.

Each candidate is a rule spec in the scoring config's own schema (a `gte`, `in` or `equals`
condition on one property), so what is learned is exactly what the engine will later evaluate.
Properties that describe what sales or the funnel did to the contact (lifecycle stage, lead status,
owner, deals, stage dates, the connector's own scores) are never candidates: they are the outcome
or its consequence, and learning from them would be leakage.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from connector.core.values import parse_number

# The outcome and what follows from it; identity fields that say nothing about buying.
EXCLUDED = frozenset({
    "lifecyclestage", "hs_lead_status", "hubspot_owner_id", "hubspot_owner_assigneddate",
    "hubspot_team_id", "num_associated_deals", "recent_deal_amount", "recent_deal_close_date",
    "total_revenue", "first_deal_created_date", "closedate", "days_to_close",
    "notes_last_contacted", "notes_last_updated", "notes_next_activity_date",
    "num_contacted_notes", "num_notes", "hs_last_sales_activity_timestamp",
    "hs_last_sales_activity_date", "hs_latest_meeting_activity", "engagements_last_meeting_booked",
    "hs_sales_email_last_replied", "hs_sales_email_last_opened", "hs_sales_email_last_clicked",
    "createdate", "lastmodifieddate", "hs_object_id", "email", "firstname", "lastname", "phone",
    "mobilephone", "address", "city", "zip", "website", "company", "hs_email_domain",
    "hs_analytics_first_timestamp", "hs_analytics_last_timestamp",
    "hs_analytics_last_visit_timestamp", "hs_analytics_first_visit_timestamp",
})
# What marketing did to the contact, not what the contact did: emails sent grow with the contact's age
# whatever it does, so at a decision moment they measure how long it has been around. Learned from,
# they make a model that ranks by age (measured: such a rule took 52 of 100 points and the
# candidate ranked the sandbox's future buyers no better than a coin, AUC 0.51).
EXPOSURE = frozenset({"hs_email_delivered", "hs_email_last_send_date", "hs_email_first_send_date",
                      "hs_email_sends_since_last_engagement", "hs_email_quarantined"})
EXCLUDED_PREFIXES = ("hs_lifecyclestage_", "hs_v2_", "hs_date_entered_", "hs_date_exited_",
                     "hs_time_in_", "lsc_", "hs_predictivecontactscore", "hubspotscore",
                     "hs_latest_source", "hs_sequences_", "hs_calculated_")
# Rollups HubSpot calculates from behaviour: their rules go to the engagement score.
BEHAVIOUR_PREFIXES = ("hs_analytics_", "hs_email_", "num_", "recent_conversion",
                      "first_conversion", "hs_social_")
TEXT_DISTINCT_MAX = 25  # a text property with more distinct values than this is free text
THRESHOLD_QUANTILES = (0.25, 0.5, 0.75, 0.9)
MULTI_SELECT = "checkbox"  # values joined by ";": an `in` on the whole value would mislead


@dataclass(frozen=True, slots=True)
class Candidate:
    """One candidate rule: its spec (config schema), the section it would go to, and why."""

    spec: dict
    section: str
    why: str
    family: str  # rules of one family are mutually exclusive (one option of a property)


def eligible(name: str, definition: Mapping) -> str | None:
    """Why `name` cannot be a candidate, or None when it can."""
    if name in EXCLUDED or name.startswith(EXCLUDED_PREFIXES):
        return "describes the outcome, sales' work or identity"
    if name in EXPOSURE:
        return "counts what marketing sent, not what the contact did"
    if definition.get("type") in ("datetime", "date"):
        return "a date (dates count only through the engagement rules' windows)"
    if definition.get("fieldType") == MULTI_SELECT:
        return "a multiple checkbox"
    if definition.get("archived") or definition.get("hidden"):
        return "archived or hidden"
    return None


def section_of(name: str, definition: Mapping) -> str:
    calculated = bool((definition.get("modificationMetadata") or {}).get("readOnlyValue"))
    return "engagement" if calculated or name.startswith(BEHAVIOUR_PREFIXES) else "fit"


def propose(definitions: Mapping[str, Mapping], names: Iterable[str],
            values: Mapping[str, Sequence[str | None]], *, min_coverage: float = 0.05,
            min_share: float = 0.01, counted: Mapping[str, str] | None = None,
            ) -> tuple[list[Candidate], dict[str, str]]:
    """Candidate rules for `names`, given each property's values in the training snapshots.

    `counted`: properties a per-unit rule of the config already counts (property -> rule). They
    get no threshold rules: a count reached over years and one reached last week would look the
    same, while the rule's decayed units tell them apart (its points per unit are learned).
    Returns the candidates and, per property left out, why (too few values, free text ...).
    """
    out: list[Candidate] = []
    skipped: dict[str, str] = {}
    for name in names:
        definition = definitions.get(name) or {}
        why = eligible(name, definition)
        if why is not None:
            skipped[name] = why
            continue
        seen = [v.strip() for v in values.get(name, ()) if v is not None and v.strip()]
        n = len(values.get(name, ())) or 1
        if len(seen) / n < min_coverage:
            skipped[name] = f"values in {len(seen) / n:.1%} of contacts (< {min_coverage:.0%})"
            continue
        section = section_of(name, definition)
        label = definition.get("label") or name
        if definition.get("type") == "number" and counted and name in counted:
            skipped[name] = f"counted, with decay, by rule {counted[name]!r}"
            continue
        if definition.get("type") == "number":
            found = _thresholds(name, label, seen, section)
        else:
            found = _options(name, label, seen, n, section, definition, min_share)
        if isinstance(found, str):
            skipped[name] = found
        else:
            out += found
    return _unique_names(out), skipped


def _unique_names(candidates: list[Candidate]) -> list[Candidate]:
    """Rule names are unique in a config; two option values can sanitise to the same name."""
    seen: set[str] = set()
    for c in candidates:
        base, i = c.spec["name"], 2
        while c.spec["name"] in seen:
            c.spec["name"] = f"{base}_{i}"
            i += 1
        seen.add(c.spec["name"])
    return candidates


def _thresholds(name: str, label: str, seen: list[str], section: str) -> list[Candidate] | str:
    numbers = sorted(x for x in (parse_number(v) for v in seen) if x is not None)
    if len(numbers) < 20:
        return "fewer than 20 numeric values"
    cuts: list[float] = []
    for q in THRESHOLD_QUANTILES:
        cut = numbers[min(len(numbers) - 1, int(q * len(numbers)))]
        if cut > numbers[0] and cut not in cuts:  # "≥ the smallest value" would always hold
            cuts.append(cut)
    if not cuts:
        return "a single value"
    return [Candidate({"name": _rule_name(name, f"gte_{_fmt(c)}"), "label": f"{label} ≥ {_fmt(c)}",
                       "property": name, "gte": c},
                      section, f"{name} ≥ {_fmt(c)} (the {_share(numbers, c)} of values at or "
                               "above it in training)", f"{name}>=")
            for c in cuts]


def _options(name: str, label: str, seen: list[str], n: int, section: str,
             definition: Mapping, min_share: float) -> list[Candidate] | str:
    counts = Counter(v.lower() for v in seen)
    options = {str(o.get("value", "")).lower(): o for o in definition.get("options") or ()}
    if not options and len(counts) > TEXT_DISTINCT_MAX:
        return f"free text ({len(counts)} distinct values)"
    if definition.get("type") == "bool" or definition.get("fieldType") == "booleancheckbox":
        share = counts.get("true", 0) / n
        if not min_share <= share <= 1 - min_share:
            return "almost always the same"
        return [Candidate({"name": _rule_name(name, "true"), "label": f"{label}: yes",
                           "property": name, "equals": "true"}, section,
                          f"{name} is true ({share:.1%} of contacts)", name)]
    spelled = {v.lower(): v for v in seen}  # the value as HubSpot sends it
    common = [v for v, c in counts.most_common() if c / n >= min_share]
    rare = [v for v in counts if v not in common]
    out = [Candidate({"name": _rule_name(name, v), "label": f"{label}: {spelled[v]}",
                      "property": name, "in": [spelled[v]]}, section,
                     f"{name} = {spelled[v]!r} ({counts[v] / n:.1%} of contacts)", name)
           for v in common]
    rare_share = sum(counts[v] for v in rare) / n
    if rare and rare_share >= min_share:
        out.append(Candidate({"name": _rule_name(name, "other"), "label": f"{label}: other values",
                              "property": name, "in": sorted(spelled[v] for v in rare)},
                             section, f"{name} is one of {len(rare)} rarer values "
                                      f"({rare_share:.1%} of contacts)", name))
    if len(out) < 2 and not rare:
        return "a single value"
    return out


_UNSAFE = re.compile(r"[^a-z0-9_-]+")


def _rule_name(prop: str, what: str) -> str:
    return "learned_" + _UNSAFE.sub("_", f"{prop}_{what}".lower()).strip("_")[:80]


def _fmt(x: float) -> str:
    return str(int(x)) if x == int(x) else f"{x:.4g}"


def _share(numbers: list[float], cut: float) -> str:
    above = sum(1 for x in numbers if x >= cut)
    return f"{above / len(numbers):.0%}"
