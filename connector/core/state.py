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
import math
from collections.abc import Mapping
from typing import Any

from connector.core.model import History
from connector.core.properties import PATH_OPTIONS

VERSION = 1
# HubSpot's text properties hold up to 65,536 characters (docs/hubspot-facts.md, "CRM semantics");
# a History is a few hundred. Past this the copy is left out rather than truncated into nonsense.
MAX_CHARS = 60_000


def encode(history: History) -> str:
    """The property value: versioned compact JSON of the History."""
    return json.dumps({"v": VERSION, **history.to_json()}, separators=(",", ":"), sort_keys=True)


def decode(value: str | None, now: float | None = None) -> History | None:
    """The History a value written by `encode` holds; None for no value or one this version
    cannot read or trust (a person's edit, another integration's, a newer version, a time in the
    future of `now`): the caller then starts from nothing rather than from nonsense."""
    if not value or len(value) > MAX_CHARS:
        return None
    try:
        data = json.loads(value)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("v") != VERSION or not _well_typed(data):
        return None
    try:
        history = History.from_json({k: v for k, v in data.items() if k != "v"})
    except Exception:  # noqa: BLE001 - any oddity the checks above missed: not ours to trust
        return None
    if now is not None and any(t is not None and t > now + 60 for t in (history.at, history.written_at,
                                                                        history.mql_at)):
        return None
    return history


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and 0 <= value < 1e11  # epoch seconds before the year 5138, counts below 10^11


def _well_typed(data: dict) -> bool:
    """Every field of the shape `History.to_json` writes, and nothing that would poison a run."""
    for key in ("at", "w", "m"):
        if data.get(key) is not None and not _finite(data[key]):
            return False
    if "n" in data and not (isinstance(data["n"], int) and not isinstance(data["n"], bool) and 0 <= data["n"] < 1000):
        return False
    for key in ("s", "l", "h"):
        if data.get(key) is not None and not isinstance(data[key], str):
            return False
    if "p" in data and data["p"] not in PATH_OPTIONS:
        return False
    rollups = data.get("r", [])
    return isinstance(rollups, list) and all(
        isinstance(r, list) and len(r) == 3 and isinstance(r[0], str) and _finite(r[1]) and _finite(r[2])
        for r in rollups)


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


def from_properties(properties: Mapping[str, str | None], name: str, now: float | None = None) -> History | None:
    """The History kept in a contact's properties (as HubSpot returned them), if any."""
    return decode(properties.get(name), now)
