"""What one read of a contact asks HubSpot for: every property a run's evaluation, planning and
alerts use, so a single page brings them all. Pure: the rules and the run's options decide it."""

from __future__ import annotations

from connector.core import properties as hp
from connector.core.rules import RuleSet
from connector.core.sla import TOUCH_PROPERTIES

NAME_PROPERTIES = ("email", "firstname", "lastname")  # who a dry run's planned change is about
OWNER = "hubspot_owner_id"  # an alert's task goes to the contact's owner


def scoring_inputs(rules: RuleSet) -> list[str]:
    """Every property one evaluation reads: the rules' properties, the connector's own, status,
    stage and lastmodifieddate."""
    return sorted(set(rules.contact_properties) | set(hp.CONNECTOR_PROPERTY_NAMES)
                  | {hp.LEAD_STATUS, hp.LIFECYCLE_STAGE, "lastmodifieddate"})


def contact_reads(rules: RuleSet, *, names: bool = False, shadow: RuleSet | None = None,
                  owners: bool = False) -> list[str]:
    """The properties a run reads: the scoring inputs; with `names`, who each contact is (a dry
    run lists them); a shadow config's inputs; the owner when alerts or assignment need it; the
    touch properties and createdate when the config has an SLA."""
    return sorted(set(scoring_inputs(rules)) | (set(NAME_PROPERTIES) if names else set())
                  | (set(shadow.contact_properties) if shadow else set())
                  | ({OWNER} if owners else set())
                  | ({*TOUCH_PROPERTIES, "createdate"} if rules.sla is not None else set()))
