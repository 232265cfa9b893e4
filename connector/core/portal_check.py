"""The rules held against the portal's contact property definitions, before anything is written.

Pure: the definitions come in as HubSpot returns them from GET /crm/v3/properties/contacts (name,
type, options …; docs/hubspot-facts.md, "CRM semantics"). Every problem names the config file, the
rule by section, position and name, the field and the property, e.g.
`scoring.yaml: rules.fit[2] 'industry'.property: 'industy' is not a contact property of this
portal; did you mean 'industry'?`
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence

from connector.core import properties as hp
from connector.core.rules import Rule, RuleSet
from connector.errors import Problem

# HubSpot property types (developers.hubspot.com/docs/api/crm/properties, "Property type and
# fieldType values"): bool, enumeration, date, datetime, string, number, phone_number, ...
NUMBER_TYPES = frozenset({"number"})
DATE_TYPES = frozenset({"date", "datetime"})
OPTION_TYPES = frozenset({"enumeration", "bool"})
TEXT_TYPES = frozenset({"string", "phone_number", "enumeration"})
# Operators that compare a number, and those that name exact values.
NUMERIC_OPERATORS = frozenset({"gte", "lte", "between"})
VALUE_OPERATORS = frozenset({"equals", "in"})
# The connector creates these itself (`connector setup`): their absence is a setup problem, not
# a rule problem, and is reported as such by the callers.
OWN_PROPERTIES = frozenset(hp.CONNECTOR_PROPERTY_NAMES)
# Read by the policy whatever the rules say (lead status, lifecycle stage, owner).
LEAD_STATUS = hp.LEAD_STATUS
POLICY_PROPERTIES = (hp.LEAD_STATUS, hp.LIFECYCLE_STAGE, "hubspot_owner_id")


def check_rules_against_portal(rules: RuleSet, definitions: Mapping[str, Mapping]) -> list[Problem]:
    """Every rule property that the portal lacks, or whose type the rule cannot use, and every
    value an `equals`/`in` rule names that is not an option of an enumeration property."""
    problems: list[Problem] = []
    names = sorted(definitions)
    for section in ("fit", "engagement", "hand_raise"):
        for index, rule in enumerate(getattr(rules, section)):
            where = f"{rules.source}: rules.{section}[{index}] {rule.name!r}"
            if rule.activity is not None:
                # Its key is no property; the forms, events and tier it needs are checked by
                # the enricher (connector/engagement/enrich.py) before the first read of them.
                problems += [_missing(f"{where}.activity.watch", p, names)
                             for p in rule.activity.watch if p not in definitions]
                continue
            for prop in rule.properties:
                problems.extend(_property_problems(rule, prop, f"{where}.property", definitions, names))
            if rule.date_property:
                problems.extend(_date_problems(rule.date_property, f"{where}.date_property", definitions, names))
    for prop in POLICY_PROPERTIES:
        if prop not in definitions:
            problems.append(Problem(f"{rules.source}: policy", f"the portal has no contact property {prop!r}, "
                                    "which the policy reads (is the token for the right portal?)"))
    recycle = rules.policy.recycle
    if recycle:
        for prop in recycle.activity_properties:
            if prop not in definitions:
                problems.append(_missing(f"{rules.source}: policy.recycle.activity_properties", prop, names))
    status = definitions.get(LEAD_STATUS)
    if rules.handoff.rejected_statuses and status is not None:
        # The MQL option is setup's to add; every other mapped status must be one sales can pick.
        options = dict(status, options=[*(status.get("options") or ()), {"value": rules.policy.mql_status}])
        problems += _option_problems(f"{rules.source}: handoff.rejected_statuses", LEAD_STATUS,
                                     list(rules.handoff.rejected_statuses), options)
    return problems


def _property_problems(rule: Rule, prop: str, where: str, definitions: Mapping[str, Mapping],
                       names: list[str]) -> list[Problem]:
    if prop in OWN_PROPERTIES:
        return []
    definition = definitions.get(prop)
    if definition is None:
        return [_missing(where, prop, names)]
    kind = str(definition.get("type") or "")
    if rule.per_unit is not None:
        if kind not in NUMBER_TYPES:
            return [Problem(where, f"{prop!r} is a {kind} property; a per_unit rule counts a number")]
        return []
    condition = rule.condition
    if condition is None:
        return []
    # A text property may hold numbers (HubSpot's contact `annualrevenue` is a string property);
    # values are parsed as numbers when compared. Options and dates never are.
    if condition.operator in NUMERIC_OPERATORS and kind in OPTION_TYPES | DATE_TYPES:
        return [Problem(where, f"{condition.operator} compares numbers, but {prop!r} is a {kind} property")]
    if condition.operator == "email_domain_in" and kind not in TEXT_TYPES:
        return [Problem(where, f"email_domain_in reads an email address, but {prop!r} is a {kind} property")]
    if condition.operator in VALUE_OPERATORS and kind in OPTION_TYPES:
        return _option_problems(where, prop, condition.argument, definition)
    return []


def _option_problems(where: str, prop: str, argument: object, definition: Mapping) -> list[Problem]:
    """Rule values are compared case-blind (connector.core.conditions), so options are too."""
    options = {str(o.get("value", "")).strip().lower(): str(o.get("value", ""))
               for o in definition.get("options") or ()}
    if definition.get("type") == "bool" and not options:
        options = {"true": "true", "false": "false"}
    wanted = argument if isinstance(argument, list) else [argument]
    problems = []
    for value in wanted:
        text = ("true" if value else "false") if isinstance(value, bool) else str(value).strip().lower()
        if text not in options:
            close = difflib.get_close_matches(text, list(options), n=1)
            hint = f"; did you mean {options[close[0]]!r}?" if close else \
                f" (options: {', '.join(sorted(options.values())[:12])}{' …' if len(options) > 12 else ''})"
            problems.append(Problem(where, f"{value!r} is not an option of {prop!r}{hint}"))
    return problems


def _date_problems(prop: str, where: str, definitions: Mapping[str, Mapping], names: list[str]) -> list[Problem]:
    definition = definitions.get(prop)
    if definition is None:
        return [_missing(where, prop, names)]
    kind = str(definition.get("type") or "")
    if kind not in DATE_TYPES:
        return [Problem(where, f"{prop!r} is a {kind} property; a window is read from a date or datetime")]
    return []


def _missing(where: str, prop: str, names: list[str]) -> Problem:
    close = difflib.get_close_matches(prop, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return Problem(where, f"{prop!r} is not a contact property of this portal{hint}")


def form_ids_of(forms: Sequence[Mapping]) -> dict[str, str]:
    """Form name (lower case) and id (lower case) -> id, from GET /marketing/v3/forms rows."""
    out: dict[str, str] = {}
    for form in forms:
        fid = str(form.get("id") or "")
        if fid:
            out[fid.lower()] = fid
            out[str(form.get("name") or "").strip().lower()] = fid
    out.pop("", None)
    return out


def check_forms_against_portal(rules: RuleSet, forms: Sequence[Mapping]) -> list[Problem]:
    """Every form_submissions rule whose form (by name or id) the portal does not have, with the
    nearest form name, e.g. `scoring.yaml: rules.engagement[3] 'roi'.activity.form: 'ROI calculater' is
    not a form of this portal; did you mean 'ROI calculator'?`"""
    known = form_ids_of(forms)
    names = sorted(str(f.get("name") or "") for f in forms if f.get("name"))
    lowered = {n.lower(): n for n in names}
    problems = []
    for index, rule in enumerate(rules.engagement):
        activity = rule.activity
        if activity is None or activity.kind != "form_submissions" or activity.form is None:
            continue
        if activity.form.strip().lower() in known:
            continue
        close = difflib.get_close_matches(activity.form.lower(), list(lowered), n=1, cutoff=0.5)
        hint = f"; did you mean {lowered[close[0]]!r}?" if close else f" (it has {len(names)} forms)"
        problems.append(Problem(f"{rules.source}: rules.engagement[{index}] {rule.name!r}.activity.form",
                                f"{activity.form!r} is not a form of this portal{hint}"))
    return problems
