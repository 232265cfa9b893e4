"""HubSpot's default contact and engagement property definitions, as the properties API returns them.

Shape of one definition (name, label, type, fieldType, groupName, options, calculated,
modificationMetadata ...): https://developers.hubspot.com/docs/api/crm/properties
Which properties a portal has by default, and what they mean:
https://knowledge.hubspot.com/properties/hubspots-default-contact-properties
A real portal has a few hundred; this is the subset a lead-scoring connector can meet.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

# HubSpot-defined properties carry old creation dates; any fixed value will do.
_DEFINED_AT = "2019-08-06T02:41:52.072Z"

# https://knowledge.hubspot.com/contacts/use-lifecycle-stages ("the default Lifecycle Stage property
# contains the following stages"), in funnel order.
LIFECYCLE_STAGE_ORDER: list[str] = [
    "subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead",
    "opportunity", "customer", "evangelist", "other",
]
_STAGE_LABELS = {
    "subscriber": "Subscriber", "lead": "Lead", "marketingqualifiedlead": "Marketing Qualified Lead",
    "salesqualifiedlead": "Sales Qualified Lead", "opportunity": "Opportunity",
    "customer": "Customer", "evangelist": "Evangelist", "other": "Other",
}

# Default hs_lead_status options (docs/hubspot-facts.md, "CRM semantics";
# knowledge.hubspot.com/contacts/contacts-user-guide,
# "Lead status"): NEW, OPEN, IN_PROGRESS, OPEN_DEAL, UNQUALIFIED, ATTEMPTED_TO_CONTACT, CONNECTED,
# BAD_TIMING.
LEAD_STATUS_OPTIONS: list[str] = [
    "NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED", "ATTEMPTED_TO_CONTACT", "CONNECTED",
    "BAD_TIMING",
]
_LEAD_STATUS_LABELS = {
    "NEW": "New", "OPEN": "Open", "IN_PROGRESS": "In Progress", "OPEN_DEAL": "Open Deal",
    "UNQUALIFIED": "Unqualified", "ATTEMPTED_TO_CONTACT": "Attempted to Contact",
    "CONNECTED": "Connected", "BAD_TIMING": "Bad Timing",
}

# "Number of Employees" (numemployees) on the contact is a dropdown, unlike the company's number
# property: https://knowledge.hubspot.com/properties/hubspots-default-contact-properties
# (option values unverified against a live portal; HubSpot's legacy contact-properties docs list
# these bands).
NUMEMPLOYEES_OPTIONS: list[str] = ["1-5", "5-25", "25-50", "50-100", "100-500", "500-1000", "1000+"]

# "Original Source" (hs_analytics_source) options:
# https://knowledge.hubspot.com/reports/understand-hubspots-traffic-sources-in-the-sources-tool
ANALYTICS_SOURCE_OPTIONS: list[str] = [
    "ORGANIC_SEARCH", "PAID_SEARCH", "EMAIL_MARKETING", "SOCIAL_MEDIA", "REFERRALS",
    "OTHER_CAMPAIGNS", "DIRECT_TRAFFIC", "OFFLINE", "PAID_SOCIAL",
]

# Property groups on a contact. Internal names as HubSpot's properties API returns them
# (GET /crm/v3/properties/contacts/groups): https://developers.hubspot.com/docs/api/crm/properties
DEFAULT_PROPERTY_GROUPS: list[dict] = [
    {"name": name, "label": label, "displayOrder": i, "archived": False}
    for i, (name, label) in enumerate([
        ("contactinformation", "Contact information"),
        ("contact_activity", "Contact activity"),
        ("analyticsinformation", "Web analytics history"),
        ("emailinformation", "Email information"),
        ("conversioninformation", "Conversion information"),
        ("sales_properties", "Sales properties"),
        ("deal_information", "Deal information"),
    ])
]

_FIELD_TYPE = {  # the UI field HubSpot pairs with each data type
    "string": "text", "number": "number", "datetime": "date", "date": "date",
    "enumeration": "select", "bool": "booleancheckbox", "phone_number": "phonenumber",
}


def _options(values: Iterable[str], labels: dict[str, str] | None = None) -> list[dict]:
    labels = labels or {}
    return [{"label": labels.get(v, v), "value": v, "displayOrder": i, "hidden": False}
            for i, v in enumerate(values)]


def _prop(name: str, label: str, type_: str, group: str, description: str = "", *,
          field_type: str | None = None, options: list[dict] | None = None,
          read_only: bool = False, calculated: bool = False, unique: bool = False,
          form_field: bool | None = None, **extra) -> dict:
    """One definition in the properties API's JSON shape."""
    definition = {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type or _FIELD_TYPE[type_],
        "groupName": group,
        "description": description,
        "options": options or [],
        "displayOrder": -1,
        "calculated": calculated,
        "externalOptions": False,
        "hasUniqueValue": unique,
        "hidden": False,
        "hubspotDefined": True,
        "formField": (not read_only) if form_field is None else form_field,
        "modificationMetadata": {
            "archivable": False,
            "readOnlyDefinition": True,
            "readOnlyValue": read_only,
        },
        "createdAt": _DEFINED_AT,
        "updatedAt": _DEFINED_AT,
        "archived": False,
    }
    definition.update(extra)
    return definition


def _ro(name: str, label: str, type_: str, group: str, description: str = "", **kw) -> dict:
    """A read-only definition that HubSpot calculates (API writes are rejected)."""
    return _prop(name, label, type_, group, description, read_only=True, calculated=True, **kw)


def _lifecycle_date_properties() -> list[dict]:
    # "Became a [stage] date" (hs_lifecyclestage_<stage>_date), and the v2 date entered / exited
    # properties, all set by HubSpot: https://knowledge.hubspot.com/properties/hubspots-default-contact-properties
    # and https://knowledge.hubspot.com/records/use-lifecycle-stages (docs/hubspot-facts.md, "CRM semantics").
    out = []
    for stage in LIFECYCLE_STAGE_ORDER:
        label = _STAGE_LABELS[stage]
        out.append(_ro(f"hs_lifecyclestage_{stage}_date", f"Became a {label} Date", "datetime",
                       "contactinformation",
                       f"The date when the contact's lifecycle stage changed to {label}."))
        out.append(_ro(f"hs_v2_date_entered_{stage}",
                       f"Date entered '{label} (Lifecycle Stage Pipeline)'", "datetime",
                       "contactinformation", f"The date the contact entered the {label} stage."))
        out.append(_ro(f"hs_v2_date_exited_{stage}",
                       f"Date exited '{label} (Lifecycle Stage Pipeline)'", "datetime",
                       "contactinformation", f"The date the contact left the {label} stage."))
    return out


DEFAULT_CONTACT_PROPERTIES: list[dict] = [
    # Identity and firmographics: https://knowledge.hubspot.com/properties/hubspots-default-contact-properties
    _prop("email", "Email", "string", "contactinformation", "A contact's email address.",
          unique=False),
    _prop("firstname", "First Name", "string", "contactinformation", "A contact's first name."),
    _prop("lastname", "Last Name", "string", "contactinformation", "A contact's last name."),
    _prop("phone", "Phone Number", "string", "contactinformation",
          "A contact's primary phone number.", field_type="phonenumber"),
    _prop("jobtitle", "Job Title", "string", "contactinformation", "A contact's job title."),
    _prop("company", "Company Name", "string", "contactinformation",
          "Name of the contact's company (not the associated company record)."),
    _prop("website", "Website URL", "string", "contactinformation",
          "The contact's company website."),
    _prop("city", "City", "string", "contactinformation", "A contact's city of residence."),
    _prop("state", "State/Region", "string", "contactinformation",
          "The contact's state of residence."),
    _prop("country", "Country/Region", "string", "contactinformation",
          "The contact's country/region of residence."),
    _prop("industry", "Industry", "string", "contactinformation",
          "The industry a contact is in (free text on the contact)."),
    _prop("numemployees", "Number of Employees", "enumeration", "contactinformation",
          "The number of company employees.", options=_options(NUMEMPLOYEES_OPTIONS)),
    _prop("annualrevenue", "Annual Revenue", "string", "contactinformation",
          "Annual company revenue."),
    _prop("lifecyclestage", "Lifecycle Stage", "enumeration", "contactinformation",
          "The qualification of contacts to sales readiness.", field_type="radio",
          options=_options(LIFECYCLE_STAGE_ORDER, _STAGE_LABELS)),
    _prop("hs_lead_status", "Lead Status", "enumeration", "sales_properties",
          "The contact's sales, prospecting or outreach status.", field_type="radio",
          options=_options(LEAD_STATUS_OPTIONS, _LEAD_STATUS_LABELS)),
    # Options are the portal's owners (label: name, value: owner id); use contact_properties(owners).
    _prop("hubspot_owner_id", "Contact owner", "enumeration", "sales_properties",
          "The owner of a contact.", referencedObjectType="OWNER"),
    _ro("hs_object_id", "Record ID", "number", "contactinformation",
        "The unique ID for this record. This value is set automatically by HubSpot.",
        unique=True),
    _ro("createdate", "Create Date", "datetime", "contactinformation",
        "The date that a contact entered the system."),
    _ro("lastmodifieddate", "Last Modified Date", "datetime", "contactinformation",
        "Most recent timestamp of any property update for a contact."),
    # Web analytics rollups, calculated by HubSpot's tracking code ("Web analytics history"):
    # https://knowledge.hubspot.com/properties/hubspots-default-contact-properties
    _ro("hs_analytics_num_page_views", "Number of Pageviews", "number", "analyticsinformation",
        "The number of page views the contact has had on your website."),
    _ro("hs_analytics_num_visits", "Number of Sessions", "number", "analyticsinformation",
        "The number of sessions (visits) the contact has had on your website."),
    _ro("hs_analytics_first_timestamp", "Time First Seen", "datetime", "analyticsinformation",
        "The first time the contact has been seen on your website."),
    _ro("hs_analytics_last_timestamp", "Time Last Seen", "datetime", "analyticsinformation",
        "The last time the contact was seen on your website."),
    _ro("hs_analytics_last_visit_timestamp", "Time of Last Session", "datetime",
        "analyticsinformation", "The start of the contact's most recent session on your website."),
    _ro("hs_analytics_first_url", "First Page Seen", "string", "analyticsinformation",
        "The first page the contact visited on your website."),
    _ro("hs_analytics_last_url", "Last Page Seen", "string", "analyticsinformation",
        "The last page the contact visited on your website."),
    _ro("hs_analytics_source", "Original Traffic Source", "enumeration", "analyticsinformation",
        "How the contact first found your website.",
        options=_options(ANALYTICS_SOURCE_OPTIONS)),
    # Conversion rollups ("Conversion information").
    _ro("num_conversion_events", "Number of Form Submissions", "number", "conversioninformation",
        "The number of forms the contact has submitted."),
    _ro("num_unique_conversion_events", "Number of Unique Forms Submitted", "number",
        "conversioninformation", "The number of different forms the contact has submitted."),
    _ro("first_conversion_event_name", "First Conversion", "string", "conversioninformation",
        "The first form the contact submitted."),
    _ro("first_conversion_date", "First Conversion Date", "datetime", "conversioninformation",
        "The date the contact first submitted a form."),
    _ro("recent_conversion_event_name", "Recent Conversion", "string", "conversioninformation",
        "The last form the contact submitted."),
    _ro("recent_conversion_date", "Recent Conversion Date", "datetime", "conversioninformation",
        "The date the contact last submitted a form."),
    # Marketing email rollups ("Email information").
    _ro("hs_email_delivered", "Marketing emails delivered", "number", "emailinformation",
        "The number of marketing emails delivered to the contact."),
    _ro("hs_email_open", "Marketing emails opened", "number", "emailinformation",
        "The number of marketing emails the contact opened."),
    _ro("hs_email_click", "Marketing emails clicked", "number", "emailinformation",
        "The number of marketing emails the contact clicked."),
    _ro("hs_email_bounce", "Marketing emails bounced", "number", "emailinformation",
        "The number of marketing emails that bounced for the contact."),
    # A bool whose values are the strings "true" / "false" on the API.
    _ro("hs_email_optout", "Unsubscribed from all email", "bool", "emailinformation",
        "Whether the contact unsubscribed from all email.",
        options=[{"label": "True", "value": "true", "displayOrder": 0, "hidden": False},
                 {"label": "False", "value": "false", "displayOrder": 1, "hidden": False}]),
    _ro("hs_email_last_send_date", "Last marketing email send date", "datetime",
        "emailinformation", "The last time a marketing email was sent to the contact."),
    _ro("hs_email_first_open_date", "First marketing email open date", "datetime",
        "emailinformation", "The first time the contact opened a marketing email."),
    _ro("hs_email_last_open_date", "Last marketing email open date", "datetime",
        "emailinformation", "The last time the contact opened a marketing email."),
    _ro("hs_email_first_click_date", "First marketing email click date", "datetime",
        "emailinformation", "The first time the contact clicked a link in a marketing email."),
    _ro("hs_email_last_click_date", "Last marketing email click date", "datetime",
        "emailinformation", "The last time the contact clicked a link in a marketing email."),
    # Sales activity rollups ("Contact activity"), set from logged engagements.
    _ro("notes_last_contacted", "Last Contacted", "datetime", "contact_activity",
        "The last time a call, sales email or meeting was logged for the contact."),
    _ro("notes_last_updated", "Last Activity Date", "datetime", "contact_activity",
        "The last time a note, call, email, meeting or task was logged for the contact."),
    _ro("num_contacted_notes", "Number of Sales Activities", "number", "contact_activity",
        "The number of sales activities logged for the contact."),
    _ro("hs_last_sales_activity_timestamp", "Last Engagement Date", "datetime",
        "contact_activity", "The last time the contact engaged with your sales activities."),
    _ro("hs_sales_email_last_replied", "Recent Sales Email Replied Date", "datetime", "contact_activity",
        "The last time the contact replied to a sales email."),
    _ro("engagements_last_meeting_booked", "Date of last meeting booked in meetings tool",
        "datetime", "contact_activity",
        "The date of the last meeting the contact booked through the meetings tool."),
    _ro("hs_latest_meeting_activity", "Latest meeting activity", "datetime", "contact_activity",
        "The date of the most recent meeting logged or scheduled with the contact."),
    _ro("num_associated_deals", "Number of Associated Deals", "number", "deal_information",
        "The number of deals associated with the contact."),
    *_lifecycle_date_properties(),
]
for _i, _definition in enumerate(DEFAULT_CONTACT_PROPERTIES):
    _definition["displayOrder"] = _i

CONTACT_PROPERTIES_BY_NAME: dict[str, dict] = {p["name"]: p for p in DEFAULT_CONTACT_PROPERTIES}


def _custom(name: str, label: str, type_: str, group: str, description: str, **kw) -> dict:
    """A portal's own property, as the properties API returns one it created: hubspotDefined
    false, archivable, its definition editable
    (https://developers.hubspot.com/docs/api/crm/properties, "Create a property")."""
    definition = _prop(name, label, type_, group, description, form_field=True, **kw)
    definition["hubspotDefined"] = False
    definition["modificationMetadata"] = {"archivable": True, "readOnlyDefinition": False,
                                          "readOnlyValue": False}
    definition["createdAt"] = definition["updatedAt"] = "2023-02-14T09:30:00.000Z"
    return definition


# The custom-buyers portal's own properties (generate_portal(buyers="custom")), in their group.
BUYER_GROUP: dict = {"name": "buyer_profile", "label": "Buyer profile", "displayOrder": 7,
                     "archived": False}
CRM_IN_USE_OPTIONS: list[str] = ["Salesforce", "HubSpot", "Pipedrive", "Spreadsheets", "None"]
BUYER_PROPERTIES: list[dict] = [
    _custom("crm_in_use", "CRM in use", "enumeration", "buyer_profile",
            "The CRM the contact's team works in today.", options=_options(CRM_IN_USE_OPTIONS)),
    _custom("monthly_inbound_leads", "Monthly inbound leads", "number", "buyer_profile",
            "About how many inbound leads the contact's team gets a month."),
    _custom("uses_marketing_automation", "Uses marketing automation", "bool", "buyer_profile",
            "Whether the contact's team already automates its marketing.",
            field_type="booleancheckbox",
            options=[{"label": "Yes", "value": "true", "displayOrder": 0, "hidden": False},
                     {"label": "No", "value": "false", "displayOrder": 1, "hidden": False}]),
]
for _i, _definition in enumerate(BUYER_PROPERTIES):
    _definition["displayOrder"] = _i

READ_ONLY_CONTACT_PROPERTIES: frozenset[str] = frozenset(
    p["name"] for p in DEFAULT_CONTACT_PROPERTIES if p["modificationMetadata"]["readOnlyValue"]
)

# A contact read without `properties` returns these:
# https://developers.hubspot.com/docs/api/crm/contacts ("by default, the following properties are
# returned": createdate, email, firstname, hs_object_id, lastmodifieddate, lastname).
DEFAULT_PROPERTIES_ON_READ: list[str] = [
    "createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname",
]


def contact_properties(owners: Iterable[dict] = ()) -> list[dict]:
    """A deep copy of the default contact properties, hubspot_owner_id's options set to `owners`.

    HubSpot lists a portal's owners as the options of hubspot_owner_id (label: name, value: id).
    """
    return with_owner_options(DEFAULT_CONTACT_PROPERTIES, owners)


def with_owner_options(definitions: Iterable[dict], owners: Iterable[dict]) -> list[dict]:
    """A deep copy of `definitions` whose hubspot_owner_id lists `owners` as its options (contacts
    and engagements alike: an engagement is assigned to an owner the same way)."""
    definitions = copy.deepcopy(list(definitions))
    owner_options = [
        {"label": f"{o.get('firstName', '')} {o.get('lastName', '')}".strip() or o["email"],
         "value": str(o["id"]), "displayOrder": i, "hidden": False}
        for i, o in enumerate(owners)
    ]
    for definition in definitions:
        if definition["name"] == "hubspot_owner_id":
            definition["options"] = owner_options
    return definitions


def _engagement_common(kind: str) -> list[dict]:
    group = f"{kind}information"
    return [
        _prop("hs_timestamp", "Activity date", "datetime", group,
              "When the engagement happened (required on create)."),
        _prop("hubspot_owner_id", "Activity assigned to", "enumeration", group,
              "The owner of the engagement.", referencedObjectType="OWNER"),
        _ro("hs_object_id", "Record ID", "number", group, "The unique ID for this record.",
            unique=True),
        _ro("hs_createdate", "Create date", "datetime", group, "When the record was created."),
        _ro("hs_lastmodifieddate", "Last modified date", "datetime", group,
            "When the record was last modified."),
    ]


# Engagement object properties, one list per object type (groups are approximate).
ENGAGEMENT_PROPERTIES: dict[str, list[dict]] = {
    # https://developers.hubspot.com/docs/api/crm/meetings
    "meetings": _engagement_common("meeting") + [
        _prop("hs_meeting_title", "Meeting name", "string", "meetinginformation"),
        _prop("hs_meeting_body", "Meeting description", "string", "meetinginformation",
              field_type="textarea"),
        _prop("hs_internal_meeting_notes", "Internal meeting notes", "string",
              "meetinginformation", field_type="textarea"),
        _prop("hs_meeting_external_url", "External URL", "string", "meetinginformation"),
        _prop("hs_meeting_location", "Location", "string", "meetinginformation"),
        _prop("hs_meeting_start_time", "Start time", "datetime", "meetinginformation"),
        _prop("hs_meeting_end_time", "End time", "datetime", "meetinginformation"),
        _prop("hs_meeting_outcome", "Meeting outcome", "enumeration", "meetinginformation",
              options=_options(["SCHEDULED", "COMPLETED", "RESCHEDULED", "NO_SHOW", "CANCELED"])),
    ],
    # https://developers.hubspot.com/docs/api/crm/calls
    "calls": _engagement_common("call") + [
        _prop("hs_call_title", "Call title", "string", "callinformation"),
        _prop("hs_call_body", "Call notes", "string", "callinformation", field_type="textarea"),
        _prop("hs_call_direction", "Call direction", "enumeration", "callinformation",
              options=_options(["INBOUND", "OUTBOUND"])),
        # Disposition values are GUIDs of the portal's call outcomes; free text here.
        _prop("hs_call_disposition", "Call outcome", "string", "callinformation"),
        _prop("hs_call_duration", "Call duration (ms)", "number", "callinformation"),
        _prop("hs_call_status", "Call status", "enumeration", "callinformation",
              options=_options(["BUSY", "CALLING_CRM_USER", "CANCELED", "COMPLETED",
                                "CONNECTING", "FAILED", "IN_PROGRESS", "NO_ANSWER", "QUEUED",
                                "RINGING"])),
        _prop("hs_call_from_number", "From number", "string", "callinformation"),
        _prop("hs_call_to_number", "To number", "string", "callinformation"),
    ],
    # https://developers.hubspot.com/docs/api/crm/notes
    "notes": _engagement_common("note") + [
        _prop("hs_note_body", "Note body", "string", "noteinformation", field_type="html"),
        _prop("hs_attachment_ids", "Attachment IDs", "string", "noteinformation"),
    ],
    # https://developers.hubspot.com/docs/api/crm/tasks
    "tasks": _engagement_common("task") + [
        _prop("hs_task_subject", "Task title", "string", "taskinformation"),
        _prop("hs_task_body", "Task notes", "string", "taskinformation", field_type="textarea"),
        _prop("hs_task_status", "Task status", "enumeration", "taskinformation",
              options=_options(["NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED",
                                "DEFERRED"])),
        _prop("hs_task_priority", "Priority", "enumeration", "taskinformation",
              options=_options(["NONE", "LOW", "MEDIUM", "HIGH"])),
        _prop("hs_task_type", "Task type", "enumeration", "taskinformation",
              options=_options(["EMAIL", "CALL", "TODO"])),
    ],
    # https://developers.hubspot.com/docs/api/crm/email
    "emails": _engagement_common("email") + [
        _prop("hs_email_subject", "Email subject", "string", "emailinformation"),
        _prop("hs_email_text", "Email body", "string", "emailinformation",
              field_type="textarea"),
        _prop("hs_email_html", "Email HTML", "string", "emailinformation", field_type="html"),
        _prop("hs_email_direction", "Email direction", "enumeration", "emailinformation",
              options=_options(["EMAIL", "INCOMING_EMAIL", "FORWARDED_EMAIL"])),
        _prop("hs_email_status", "Email send status", "enumeration", "emailinformation",
              options=_options(["BOUNCED", "FAILED", "SCHEDULED", "SENDING", "SENT"])),
        _prop("hs_email_headers", "Email headers", "string", "emailinformation"),
    ],
}
for _definitions in ENGAGEMENT_PROPERTIES.values():
    for _i, _definition in enumerate(_definitions):
        _definition["displayOrder"] = _i

ENGAGEMENT_TYPES: tuple[str, ...] = tuple(ENGAGEMENT_PROPERTIES)
