"""A synthetic population of contact timelines for the calibration tests (pure: no sandbox).

Each contact has a hidden propensity from a custom enumeration `crm_in_use` and from its email
clicks, which accumulate over time; converted contacts reach `opportunity` some weeks after their
decision moment. Older contacts have had more time to click, as in a real portal.
"""

from __future__ import annotations

import math
import random

from connector.calibrate.timeline import Timeline

DAY = 86_400.0
NOW = 1_790_000_000.0  # 2026-09-21
CRM = ("Salesforce", "HubSpot", "Pipedrive", "Spreadsheets", "None")
CRM_WEIGHT = {"Salesforce": 1.6, "HubSpot": 1.2, "Pipedrive": 0.3, "Spreadsheets": -0.4, "None": -1.2}

DEFINITIONS = {
    "crm_in_use": {"name": "crm_in_use", "label": "CRM in use", "type": "enumeration", "fieldType": "select",
                   "options": [{"label": c, "value": c} for c in CRM]},
    "hs_email_click": {"name": "hs_email_click", "label": "Marketing emails clicked", "type": "number",
                       "fieldType": "number", "modificationMetadata": {"readOnlyValue": True}},
    "jobtitle": {"name": "jobtitle", "label": "Job Title", "type": "string", "fieldType": "text"},
    "lifecyclestage": {"name": "lifecyclestage", "label": "Lifecycle Stage", "type": "enumeration",
                       "fieldType": "radio", "options": [{"label": s, "value": s} for s in (
                           "subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead",
                           "opportunity", "customer", "evangelist", "other")]},
    "hs_lifecyclestage_opportunity_date": {"name": "hs_lifecyclestage_opportunity_date", "type": "datetime",
                                           "fieldType": "date"},
    "hubspot_owner_id": {"name": "hubspot_owner_id", "label": "Owner", "type": "enumeration",
                         "fieldType": "select", "options": []},
}


def population(n: int = 3000, seed: int = 1, *, flat: bool = False, base: float = -3.6) -> tuple[list[Timeline], dict]:
    """(timelines, truth: id -> converted) for `n` contacts created over two years before NOW."""
    rng = random.Random(seed)
    timelines, truth = [], {}
    for i in range(n):
        cid = str(1000 + i)
        created = NOW - rng.random() * 730 * DAY
        crm = rng.choice(CRM)
        rate = math.exp(CRM_WEIGHT[crm] * 0.5) * 0.05  # clicks a day
        clicks, t, click_times = 0, created, []
        while True:
            t += rng.expovariate(rate) * DAY
            if t > NOW:
                break
            clicks += 1
            click_times.append(t)
        early = sum(1 for c in click_times if c <= created + 30 * DAY)
        logit = base + CRM_WEIGHT[crm] + 0.6 * min(early, 4)
        converted = rng.random() < 1 / (1 + math.exp(-logit))
        title = rng.choice(("CEO", "Manager", "Engineer", "Student"))
        versions = {
            "crm_in_use": ((created,), (crm,)),
            "jobtitle": ((created,), (title,)),
            "lifecyclestage": ((created,), ("lead",)),
        }
        if click_times:
            versions["hs_email_click"] = (tuple(click_times), tuple(str(k + 1) for k in range(len(click_times))))
        converted_at = created + 30 * DAY + rng.uniform(5, 120) * DAY
        if converted and converted_at < NOW:
            versions["lifecyclestage"] = ((created, converted_at), ("lead", "opportunity"))
            versions["hs_lifecyclestage_opportunity_date"] = ((converted_at,), (_iso(converted_at),))
        truth[cid] = converted
        if flat:
            versions = {k: ((NOW - DAY,), (v[-1],)) for k, (_, v) in versions.items()}
        timelines.append(Timeline(cid, NOW - DAY if flat else created, versions))
    return timelines, truth


def _iso(at: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
