"""Wires the sandbox's engagement sources beside the CRM: webinars (marketing_events.py), page views
(page_views.py) and form submissions (forms.py), with the portal's tier, for api.py's routes and admin.py's endpoint."""

from __future__ import annotations

from functools import partial
from typing import Any

from connector.sandbox import forms, marketing_events, page_views
from connector.sandbox.generator import CONVERSIONS

_TIERS: dict[int, str] = {}


def attach(portal: Any, seeded: Any, tier: str) -> None:
    """Seed the webinars from the generated contacts and add the integration's contact properties."""
    webinars = marketing_events.seed(seeded.seed, seeded.contacts, seeded.truth, seeded.now_ms)
    marketing_events.attach(portal, webinars)
    portal.stores["contacts"].definitions.update({d["name"]: dict(d) for d in marketing_events.INTEGRATION_DEFINITIONS})
    _TIERS[id(portal)] = tier
    forms.attach(portal, seeded, tuple(name for name, _ in CONVERSIONS))  # and their submissions


def tier_of(portal: Any) -> str:
    return _TIERS.get(id(portal), "professional")


def events_route(ctx: Any) -> tuple[int, dict]:
    return page_views.list_events(ctx, tier_of(ctx.portal))


ROUTES = [
    ("GET", "/marketing/v3/marketing-events", marketing_events.list_events, marketing_events.READ_SCOPE),
    ("GET", "/marketing/v3/marketing-events/participations/contacts/{contactIdentifier}/breakdown",
     marketing_events.contact_breakdown, marketing_events.READ_SCOPE),
    ("GET", "/marketing/v3/marketing-events/participations/{marketingEventId}/breakdown",
     marketing_events.event_breakdown, marketing_events.READ_SCOPE),
    # The events API's spec names no scope beyond `oauth` (*unverified* which a private app needs).
    ("GET", "/events/v3/events", events_route, None),
]
record = partial(marketing_events.record)
