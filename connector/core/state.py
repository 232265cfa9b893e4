"""The connector's state for one contact, as kept in HubSpot itself (the `lsc_state` property).

HubSpot is the source of truth and the local store is a cache that can be rebuilt: everything
the connector needs to go on correctly — what it wrote and when, when it qualified the contact
and by which path, the engagement it has already counted for decay, the hand-raise it acted on —
is the contact's History, and a compact copy of it rides along with every write. A sync on an
empty store reads it back and decides exactly as it would have with the store.

The copy is rewritten only when the connector writes anything else, or when what it has
counted changes (a count, a written value, a path); decay alone does not rewrite it: decay is
exponential, hence memoryless, so decayed units advanced from an older copy equal those advanced
from a newer one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from connector.core.model import History

VERSION = 1
# HubSpot's text properties hold up to 65,536 characters (docs/hubspot-facts.md, "CRM semantics");
# a History is a few hundred. Past this the copy is left out rather than truncated into nonsense.
MAX_CHARS = 60_000


def encode(history: History) -> str:
    """The property value: versioned compact JSON of the History."""
    return json.dumps({"v": VERSION, **history.to_json()}, separators=(",", ":"), sort_keys=True)


def decode(value: str | None) -> History | None:
    """The History a value written by `encode` holds; None for no value or one this version
    cannot read (a person's edit, a newer version): the caller then starts from nothing."""
    if not value:
        return None
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("v") != VERSION:
        return None
    try:
        return History.from_json({k: v for k, v in data.items() if k != "v"})
    except (TypeError, ValueError):
        return None


def counted(history: History) -> dict[str, Any]:
    """What the connector has counted and written, without the time of evaluation and the decayed
    units that only follow from it: two Histories equal here lead to the same decisions later."""
    data = history.to_json()
    data.pop("at", None)
    if "r" in data:
        data["r"] = [[name, count] for name, count, _units in data["r"]]
    return data


def wanted(current: str | None, history: History, writing: bool) -> str | None:
    """The value to write, or None to leave HubSpot's copy as it is. `writing`: other connector
    values are being written anyway, so the copy goes along (it must say what was written)."""
    text = encode(history)
    if len(text) > MAX_CHARS:
        return None
    if writing:
        return text if text != current else None
    previous = decode(current)
    if previous is not None and counted(previous) == counted(history):
        return None
    return text


def from_properties(properties: Mapping[str, str | None], name: str) -> History | None:
    """The History kept in a contact's properties (as HubSpot returned them), if any."""
    return decode(properties.get(name))
