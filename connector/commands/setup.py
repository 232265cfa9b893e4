"""`connector setup`: make the portal ready, idempotently, and say what was (or would be) done.

Creates the connector's property group and properties, adds the `MQL` option to hs_lead_status
while keeping every existing option, checks the token's scopes, upgrades the store's schema, and
lists the webhook subscriptions the rules need.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from connector.core import properties as hp
from connector.core.portal_check import check_rules_against_portal
from connector.core.rules import RuleSet
from connector.core.rules_file import REPORT_STAGES
from connector.errors import ConfigError, ScopeError, ValidationError
from connector.gateway import Gateway

if TYPE_CHECKING:  # the store's modules load SQLAlchemy: the checks here run before it is needed
    from connector.store import Store

# Scope -> why the connector needs it (developers.hubspot.com/docs/apps/legacy-apps/authentication/scopes).
REQUIRED_SCOPES: dict[str, str] = {
    "crm.objects.contacts.read": "read contacts and their engagement rollups (search, batch read)",
    "crm.objects.contacts.write": "write lead status, lifecycle stage and the score properties",
    "crm.schemas.contacts.read": "read property definitions (hs_lead_status options)",
    "crm.schemas.contacts.write": "create the connector's properties and add the MQL option",
}
OPTIONAL_SCOPES: dict[str, str] = {
    "crm.objects.owners.read": "show owner names in explanations",
}
# Scopes a config section needs on top of REQUIRED_SCOPES (tasks, for alerts and escalations, are
# engagement objects under crm.objects.contacts.read/write: HubSpot's Tasks v3 spec lists those).
OWNERS_READ = "crm.objects.owners.read"
SECTION_SCOPES: dict[str, dict[str, str]] = {
    "assignment": {OWNERS_READ: "assign new MQLs to active owners (the scoring config's assignment section: "
                                "GET /crm/v3/owners, with their teams)"},
}


# What the activity rules of a kind read beyond the contact scopes (engagement objects read with
# those: docs/hubspot-facts.md, "Scopes"). Marketing events: HubSpot's marketing events spec
# (https://developers.hubspot.com/docs/guides/api/marketing/marketing-events); event analytics names no
# scope of its own in its spec (*unverified*), it needs an Enterprise tier instead (doctor says). Forms: `forms`
# for both the forms list (HubSpot's forms v3 spec, PublicApiSpecs/Marketing/Forms/.../v3/forms.json) and the
# legacy submissions read (https://developers.hubspot.com/docs/api-reference/legacy/marketing/forms/v1/get-form-integrations-v1-submissions-forms-form_guid).
KIND_SCOPES: dict[str, dict[str, str]] = {
    "marketing_events": {"crm.objects.marketing_events.read": "score webinar registrations and attendance "
                                                              "(marketing-event participations)"},
    "form_submissions": {"forms": "score form submissions (the forms list and each form's submissions)"},
}


def needed_scopes(rules: RuleSet) -> dict[str, str]:
    """Every scope these rules need, and what for: the required ones, those of their sections and
    those of their activity rules' kinds."""
    needed = dict(REQUIRED_SCOPES)
    for section, scopes in SECTION_SCOPES.items():
        if getattr(rules, section, None) is not None:
            needed.update(scopes)
    for activity in rules.activities:
        needed.update(KIND_SCOPES.get(activity.kind, {}))
    return needed
# Legacy contact subscriptions the webhook worker acts on (HubSpot webhooks API,
# developers.hubspot.com/docs/api/webhooks#webhook-subscriptions).
# Read with every contact but never a reason to rescore it: ids and dates that move with a change
# already watched (HubSpot's MQL date moves with lifecyclestage).
UNWATCHED = ("hs_object_id", "lastmodifieddate", "createdate", "hs_lifecyclestage_marketingqualifiedlead_date",
             *(f"hs_lifecyclestage_{s}_date" for s in REPORT_STAGES))
OBJECT_SUBSCRIPTIONS = ("contact.creation", "contact.deletion", "contact.privacyDeletion",
                        "contact.merge", "contact.restore")


@dataclass
class SetupReport:
    done: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    subscriptions: list[str] = field(default_factory=list)


def webhook_subscriptions(rules: RuleSet) -> list[str]:
    """Every subscription the rules need: object events plus a propertyChange per property read."""
    own = set(hp.CONNECTOR_PROPERTY_NAMES)
    watched = sorted(p for p in rules.contact_properties
                     if p not in own and p not in UNWATCHED)
    return list(OBJECT_SUBSCRIPTIONS) + [f"contact.propertyChange:{p}" for p in watched]


def missing_scopes(granted: list[str], rules: RuleSet | None = None) -> tuple[list[str], list[str]]:
    """(scopes the connector, or these rules, need that are not granted; optional ones not granted)."""
    needed = needed_scopes(rules) if rules is not None else REQUIRED_SCOPES
    return ([s for s in needed if s not in granted],
            [s for s in OPTIONAL_SCOPES if s not in granted and s not in needed])


@dataclass
class PortalState:
    """What the portal has of what the connector needs: setup acts on it, doctor reports it."""

    missing: list[dict]  # definitions of the properties setup creates that the portal lacks
    wrong_type: list[tuple[dict, str]]  # (definition, the type the portal's property has)
    present: list[str]
    lead_status: dict | None  # the hs_lead_status property, None when the portal has none

    @property
    def has_mql_option(self) -> bool:
        return any(o.get("value") == hp.MQL_STATUS for o in (self.lead_status or {}).get("options") or [])


    @property
    def ready(self) -> bool:
        """The properties the connector writes and the MQL option are there: a sync may write. (The
        sales verdict properties are only read: without them no verdict is seen, nothing breaks.)"""
        return not self.missing_own and not self.wrong_type and self.has_mql_option

    @property
    def missing_own(self) -> list[dict]:
        return [d for d in self.missing if d["name"] in hp.CONNECTOR_PROPERTY_NAMES]

    def not_ready_because(self) -> str:
        own = self.missing_own
        parts = [f"missing properties {', '.join(d['name'] for d in own)}"] if own else []
        parts += [f"{d['name']} has type {found}, expected {d['type']}" for d, found in self.wrong_type]
        if self.lead_status is None:
            parts.append(f"the portal has no {hp.LEAD_STATUS} property")
        elif not self.has_mql_option:
            parts.append(f"{hp.LEAD_STATUS} has no {hp.MQL_STATUS} option")
        return "; ".join(parts)


def inspect_portal(definitions: Mapping[str, dict]) -> PortalState:
    """Hold the portal's contact property definitions (Gateway.list_contact_properties, one call)
    against what the connector needs."""
    state = PortalState([], [], [], definitions.get(hp.LEAD_STATUS))
    for definition in hp.SETUP_DEFINITIONS:
        existing = definitions.get(definition["name"])
        if existing is None:
            state.missing.append(definition)
        elif existing.get("type") != definition["type"]:
            state.wrong_type.append((definition, str(existing.get("type"))))
        else:
            state.present.append(definition["name"])
    return state


def check_rules(rules: RuleSet, definitions: Mapping[str, dict]) -> None:
    """Refuse rules the portal cannot serve (a property it lacks, a value that is not an option):
    ConfigError naming file, rule and property, before anything is written."""
    problems = check_rules_against_portal(rules, definitions)
    if problems:
        raise ConfigError(problems)


def check_scopes(gateway: Gateway, token: str, rules: RuleSet | None = None) -> list[str]:
    """Raise ScopeError naming every missing scope the connector (and `rules`) need, and what
    for; return the missing optional ones."""
    granted = gateway.token_scopes(token)
    if granted is None:  # HubSpot could not say: the calls themselves will tell
        return []
    missing, optional = missing_scopes(granted, rules)
    if missing:
        why = needed_scopes(rules) if rules is not None else REQUIRED_SCOPES
        raise ScopeError("the access token lacks required scopes: " + "; ".join(f"{s} (to {why[s]})" for s in missing)
                         + ". Add them to the app in HubSpot, then use its new token", scopes=missing)
    return optional


def run_setup(gateway: Gateway, store: Store | None, rules: RuleSet, token: str, *, dry_run: bool) -> SetupReport:
    report = SetupReport()
    for scope in check_scopes(gateway, token, rules):
        report.warnings.append(f"optional scope {scope} not granted: cannot {OPTIONAL_SCOPES[scope]}")
    verb = "would create" if dry_run else "created"
    definitions = gateway.list_contact_properties()
    check_rules(rules, definitions)  # before the first write: a misspelt property changes nothing
    report.warnings += [str(w) for w in rules.warnings]

    if gateway.get_group(hp.GROUP_NAME) is None:
        if not dry_run:
            _create_once(lambda: gateway.create_group(hp.GROUP_NAME, hp.GROUP_LABEL))
        report.done.append(f"{verb} property group {hp.GROUP_NAME}")
    else:
        report.already.append(f"property group {hp.GROUP_NAME}")

    portal = inspect_portal(definitions)
    for definition in portal.missing:
        if not dry_run:
            _create_once(functools.partial(gateway.create_property, definition))
        report.done.append(f"{verb} property {definition['name']} ({definition['type']})")
    for definition, found in portal.wrong_type:
        report.warnings.append(f"property {definition['name']} exists with type {found}, "
                               f"expected {definition['type']}: rename or delete it in HubSpot")
    report.already += [f"property {name}" for name in portal.present]

    if portal.lead_status is None:
        report.warnings.append("hs_lead_status does not exist in this portal: lead statuses cannot be written")
    elif portal.has_mql_option:
        report.already.append(f"hs_lead_status option {hp.MQL_STATUS}")
    else:
        # PATCH with `options` REPLACES the list (docs/hubspot-facts.md, "CRM semantics"): send every existing option.
        options = list(portal.lead_status.get("options") or [])
        order = max([int(o.get("displayOrder", 0) or 0) for o in options] + [-1]) + 1
        new_options = [_option(o) for o in options] + [dict(hp.MQL_OPTION, displayOrder=order)]
        if not dry_run:
            gateway.update_property(hp.LEAD_STATUS, {"options": new_options})
        report.done.append(f"{'would add' if dry_run else 'added'} option {hp.MQL_STATUS} to hs_lead_status "
                           f"(keeping its {len(options)} options)")

    if store is not None and not dry_run:
        store.upgrade()
        report.done.append("state store schema up to date")
    report.subscriptions = webhook_subscriptions(rules)
    return report


def _create_once(create) -> None:
    """Create, where a 409 means our own earlier attempt got there: a create whose answer was lost
    (timeout, dropped connection) is retried by the gateway and then finds the object existing."""
    try:
        create()
    except ValidationError as exc:
        if exc.status != 409:
            raise


def _option(o: dict) -> dict:
    return {k: o[k] for k in ("label", "value", "displayOrder", "hidden", "description") if k in o}
