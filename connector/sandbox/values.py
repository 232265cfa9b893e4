"""Property values as HubSpot stores and returns them: strings, datetimes as ISO 8601 with ms and Z.

Writes to datetime properties accept a ms epoch or an ISO string; date properties must be midnight
UTC and read back as YYYY-MM-DD; numbers read back as given but must parse as numbers (no
thousands separators: https://community.hubspot.com/t5/Developer-Announcements/Upcoming-Increased-validation-for-contact-updates-made-through/m-p/760355);
enumerations must name one of the options (multi-select: values separated by ";").
Property types and formats: https://developers.hubspot.com/docs/api/crm/properties
("Property type and fieldType values"). INVALID_OPTION and PROPERTY_DOESNT_EXIST are HubSpot's
codes (quoted in public issues, e.g. gitcoinco/code_fund_ads#479, hubspot-net/HubSpot.NET#50);
INVALID_DECIMAL and INVALID_DATE are the sandbox's guesses (*unverified*).
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from connector.sandbox import errors

_DIGITS = re.compile(r"-?\d+\Z")
_NUMBER = re.compile(r"-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\Z")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


def iso_ms(ms: int) -> str:
    """Epoch milliseconds -> '2024-05-01T12:00:00.123Z' (lexicographic order = time order).

    The sandbox's one timestamp formatter: HubSpot's read form, ISO 8601 UTC with ms and Z.
    """
    ms = int(ms)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def ms_of(moment: datetime) -> int:
    """An aware datetime -> epoch milliseconds, exactly (sub-millisecond part dropped)."""
    return (moment - _EPOCH) // _ONE_MS



def parse_json(raw: bytes) -> Any:
    """A request body as JSON (None when empty); 400 "Invalid input JSON" when it is not JSON."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.bad_request(f"Invalid input JSON: {exc}") from None


def to_ms(value: Any) -> int | None:
    """A ms epoch (int or digit string), an ISO datetime or a YYYY-MM-DD date -> epoch ms.

    The sandbox's one time parser (None when `value` is not a time)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if _DIGITS.match(text):
        return int(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(round(dt.timestamp() * 1000))


def date_only(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def _result(name: str, error: str, message: str) -> dict:
    # One of HubSpot's validation results ("isValid", "message", "error", "name"), see
    # connector.sandbox.errors.invalid_properties.
    return {"isValid": False, "message": message, "error": error, "name": name}


def normalize(definition: dict, value: Any) -> tuple[str | None, dict | None]:
    """(stored string, None) or (None, validation result) for a write of `value`."""
    name, ptype = definition["name"], definition["type"]
    if value is None or value == "":
        return "", None  # "" clears a property in HubSpot
    if ptype == "number":
        text = str(value).strip() if not isinstance(value, bool) else "x"
        if not _NUMBER.match(text):
            return None, _result(name, "INVALID_DECIMAL",
                                 f"{value} was not a valid number.")
        return text, None
    if ptype == "datetime":
        ms = to_ms(value)
        if ms is None:
            return None, _result(name, "INVALID_DATE",
                                 f"{value} was not a valid long or ISO 8601 datetime.")
        return iso_ms(ms), None
    if ptype == "date":
        ms = to_ms(value)
        if ms is None or ms % 86_400_000:
            return None, _result(name, "INVALID_DATE",
                                 f"{value} is not a valid date: dates must be midnight UTC.")
        return date_only(ms), None
    if ptype in ("enumeration", "bool"):
        if isinstance(value, bool):
            value = "true" if value else "false"
        text = str(value)
        allowed = {o["value"] for o in definition.get("options") or ()}
        if ptype == "bool":
            allowed |= {"true", "false"}
        # externalOptions (e.g. owners, pipelines): the options live elsewhere; accept any value.
        if definition.get("externalOptions") and not definition.get("options"):
            return text, None
        parts = text.split(";") if definition.get("fieldType") == "checkbox" else [text]
        bad = [p for p in parts if p not in allowed]
        if bad:
            return None, _result(name, "INVALID_OPTION",
                                 f"{bad[0]} was not one of the allowed options: "
                                 f"{sorted(allowed)}")
        return text, None
    return str(value), None
