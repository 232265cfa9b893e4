"""The contact properties the connector owns in HubSpot, and the values it writes there.

Created by `connector setup` in their own property group. Shapes follow HubSpot's properties API:
https://developers.hubspot.com/docs/api/crm/properties (name, label, type, fieldType, groupName).
"""

from __future__ import annotations

GROUP_NAME = "lead_scoring_connector"
GROUP_LABEL = "Lead scoring (connector)"

# The custom option the connector adds to hs_lead_status. HubSpot's default options are NEW, OPEN,
# IN_PROGRESS, OPEN_DEAL, UNQUALIFIED, ATTEMPTED_TO_CONTACT, CONNECTED, BAD_TIMING
# (https://knowledge.hubspot.com/contacts/contacts-user-guide: "Lead status").
MQL_STATUS = "MQL"
MQL_OPTION = {"label": "MQL", "value": MQL_STATUS, "displayOrder": 8, "hidden": False}

LEAD_STATUS = "hs_lead_status"
LIFECYCLE_STAGE = "lifecyclestage"

SCORE = "lsc_score"
FIT_SCORE = "lsc_fit_score"
ENGAGEMENT_SCORE = "lsc_engagement_score"
GRADE = "lsc_grade"
REASONS = "lsc_reasons"
PATH = "lsc_qualification_path"
MQL_DATE = "lsc_mql_date"
LAST_SCORED = "lsc_last_scored"
STATE = "lsc_state"  # the connector's own state for the contact (connector/core/state.py)

PATH_OPTIONS = ("score", "hand_raise", "manual", "none")

# Sales' verdict on an MQL: set by people, never by the connector (connector/core/handoff.py).
HANDOFF_RESULT = "lsc_handoff_result"
REJECTION_REASON = "lsc_rejection_reason"
HANDOFF_RESULTS = ("accepted", "rejected")
REJECTION_REASONS = ("not_a_fit", "no_budget", "bad_timing", "student_or_job_seeker", "competitor",
                     "duplicate", "no_response", "other")


def _options(values: tuple[str, ...]) -> list[dict]:
    return [{"label": v.replace("_", " ").capitalize(), "value": v, "displayOrder": i, "hidden": False}
            for i, v in enumerate(values)]


# Number properties are written as integer strings ("42"), datetimes as ISO 8601 UTC with
# milliseconds ("2026-11-23T11:32:43.000Z"): the form HubSpot returns on read, so a value read
# back compares equal to the value written and nothing is written twice.
PROPERTY_DEFINITIONS: list[dict] = [
    {"name": SCORE, "label": "Lead score", "type": "number", "fieldType": "number",
     "description": "Total lead score (fit + engagement, after negatives and decay)."},
    {"name": FIT_SCORE, "label": "Lead score: fit", "type": "number", "fieldType": "number",
     "description": "Points from who the contact is: title, industry, company size, budget."},
    {"name": ENGAGEMENT_SCORE, "label": "Lead score: engagement", "type": "number",
     "fieldType": "number", "description": "Points from what the contact did, decayed over time."},
    {"name": GRADE, "label": "Lead grade", "type": "string", "fieldType": "text",
     "description": "Fit band (A-C) x engagement band (1-3), e.g. A1."},
    {"name": REASONS, "label": "Lead score reasons", "type": "string", "fieldType": "textarea",
     "description": "Why the contact has this score, biggest contributions first."},
    {"name": PATH, "label": "Qualification path", "type": "enumeration", "fieldType": "select",
     "description": "How the contact became an MQL: score, hand_raise or manual.",
     "options": _options(PATH_OPTIONS)},
    {"name": MQL_DATE, "label": "MQL date", "type": "datetime", "fieldType": "date",
     "description": "When the connector made the contact an MQL."},
    {"name": LAST_SCORED, "label": "Last updated by lead scoring", "type": "datetime",
     "fieldType": "date", "description": "When the connector last wrote to this contact (any of its properties)."},
    # Not for people: hidden from forms, read only in HubSpot's UI where the portal allows it.
    {"name": STATE, "label": "Lead scoring state (do not edit)", "type": "string", "fieldType": "textarea",
     "formField": False,
     "description": "The connector's memory of this contact (what it wrote, counted engagement, "
                    "qualification), so its local store can be rebuilt. Written by the connector."},
]



# Created by setup beside the connector's own, for sales to fill in; the connector only reads them.
SALES_PROPERTY_DEFINITIONS: list[dict] = [
    {"name": HANDOFF_RESULT, "label": "MQL handoff result", "type": "enumeration", "fieldType": "select",
     "description": "Sales' verdict on this MQL: accepted or rejected. Read by lead scoring to learn "
                    "which MQLs were worth handing over.", "options": _options(HANDOFF_RESULTS)},
    {"name": REJECTION_REASON, "label": "MQL rejection reason", "type": "enumeration", "fieldType": "select",
     "description": "Why sales rejected this MQL.", "options": _options(REJECTION_REASONS)},
]
for _definition in PROPERTY_DEFINITIONS + SALES_PROPERTY_DEFINITIONS:
    _definition["groupName"] = GROUP_NAME

CONNECTOR_PROPERTY_NAMES: tuple[str, ...] = tuple(d["name"] for d in PROPERTY_DEFINITIONS)
SALES_PROPERTY_NAMES: tuple[str, ...] = tuple(d["name"] for d in SALES_PROPERTY_DEFINITIONS)
# Everything `connector setup` creates.
SETUP_DEFINITIONS: list[dict] = PROPERTY_DEFINITIONS + SALES_PROPERTY_DEFINITIONS
