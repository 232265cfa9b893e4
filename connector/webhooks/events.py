"""A webhook delivery's JSON array -> small frozen events; every error names the index and field.

HubSpot sends a JSON array of events (https://developers.hubspot.com/docs/api/webhooks, "Webhook
payloads"). Contact events come in two shapes:
- legacy: `subscriptionType` "contact.creation" | ".deletion" | ".propertyChange" | ".merge" |
  ".restore" | ".associationChange" | ".privacyDeletion", with `objectId`;
- generic: "object.creation" ... with `objectTypeId` ("0-1" is contact)
  (https://developers.hubspot.com/changelog/public-beta-generic-webhook-subscriptions).
Common fields: eventId, subscriptionId, portalId, appId, occurredAt (ms), attemptNumber, objectId,
changeSource, sourceId; propertyName/propertyValue on property changes; primaryObjectId,
mergedObjectIds, newObjectId on merges
(https://developers.hubspot.com/changelog/new-subscription-types-for-webhooks); association
changes carry associationType, fromObjectId, toObjectId, associationRemoved instead of objectId.

Well-formed events about other objects (company.*, deals, objectTypeId "0-2" ...) or of a kind we do
not know are returned as `ignored`, not refused: HubSpot retries any answer other than 2xx and
400/401/403/404/405, and one unexpected subscription must not block the contact events delivered
with it. `propertyValue` is dropped: the worker re-reads the contact from the API instead.

Malformed events are not fatal either: `read_delivery` keeps the well-formed events of a delivery and
returns each malformed one as `Rejected` (index, field, reason; never a value), so one bad event does
not make HubSpot retry, or drop, the valid events sent with it. A body is refused whole (PayloadError
at "body", or at the first "event[i]") only when it is not a JSON array, or none of its elements is a
well-formed event.

Bounds, checked here so that nothing out of range reaches the store (its columns: event_id and
occurred_at BIGINT, object_id VARCHAR(32), kind VARCHAR(64); connector/store/schema.py): integers
0..2**63-1, ids at most 32 digits, texts at most 256 characters, nesting at most 16 levels (a
HubSpot delivery has 3: array, event, mergedObjectIds).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from connector.errors import ConnectorError

CONTACT_TYPE_ID = "0-1"  # HubSpot's objectTypeId for contacts
CONTACT_ACTIONS = frozenset(
    {"creation", "deletion", "propertyChange", "merge", "restore", "associationChange", "privacyDeletion"}
)
INT64_MAX = 2**63 - 1  # event_id, occurred_at: BIGINT columns (signed 64-bit) on SQLite and PostgreSQL
MAX_ID_DIGITS = 32  # object_id: VARCHAR(32)
MAX_TEXT = 256  # subscriptionType, propertyName, changeSource ... (kind is VARCHAR(64): only known kinds are kept)
MAX_DEPTH = 16  # JSON nesting; HubSpot's deliveries have 3 levels
_LONGEST_INT = 40  # digits: a literal longer than this is out of every range; never converted to int


class PayloadError(ConnectorError):
    """The body is not a valid delivery. `.where` is e.g. "event[3].objectId" (or "body")."""

    def __init__(self, where: str, message: str):
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class WebhookEvent:
    """One contact event as queued. No property values: nothing personal we do not need."""

    event_id: int
    object_id: str
    kind: str  # the subscriptionType as sent, e.g. "contact.propertyChange", "object.merge"
    occurred_at: int  # ms since the epoch
    attempt_number: int = 0
    portal_id: int | None = None
    property_name: str | None = None
    change_source: str | None = None
    source_id: str | None = None
    primary_object_id: str | None = None
    merged_object_ids: tuple[str, ...] = ()
    new_object_id: str | None = None
    association_type: str | None = None
    to_object_id: str | None = None

    @property
    def action(self) -> str:
        """"propertyChange", "merge" ...: the same for legacy and generic events."""
        return self.kind.split(".", 1)[1]

    def to_queue_row(self) -> dict[str, Any]:
        """The dict `Store.enqueue_events` takes; empty fields left out of the payload."""
        payload = {
            "subscriptionType": self.kind,
            "attemptNumber": self.attempt_number,
            "portalId": self.portal_id,
            "propertyName": self.property_name,
            "changeSource": self.change_source,
            "sourceId": self.source_id,
            "primaryObjectId": self.primary_object_id,
            "mergedObjectIds": list(self.merged_object_ids) or None,
            "newObjectId": self.new_object_id,
            "associationType": self.association_type,
            "toObjectId": self.to_object_id,
        }
        return {
            "event_id": self.event_id,
            "object_id": self.object_id,
            "kind": self.kind,
            "occurred_at": self.occurred_at,
            "payload": {k: v for k, v in payload.items() if v is not None},
        }


@dataclass(frozen=True)
class Ignored:
    """A well-formed event we do not act on, and why (for the log, never the body)."""

    index: int
    event_id: int
    reason: str


@dataclass(frozen=True)
class Rejected:
    """A malformed event left out of the delivery: where and why, never its values (they may be
    personal data). `where` is e.g. "event[3].objectId"; `reason` e.g. "is out of range (an id of at
    most 32 digits)"."""

    index: int
    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(frozen=True)
class Delivery:
    events: tuple[WebhookEvent, ...]
    ignored: tuple[Ignored, ...]
    rejected: tuple[Rejected, ...] = ()


def read_delivery(body: bytes) -> Delivery:
    """A delivery's raw body -> its contact events, the well-formed events we do not act on, and
    the malformed events (each with its reason). Raises PayloadError only when the body as a whole
    is not a delivery: not UTF-8, not JSON, too deeply nested, not an array, or no element is a
    well-formed event."""
    data = _load(body)
    if not isinstance(data, list):
        raise PayloadError("body", f"must be a JSON array of events, got {_kind(data)}")
    events: list[WebhookEvent] = []
    ignored: list[Ignored] = []
    rejected: list[Rejected] = []
    for index, raw in enumerate(data):
        try:
            result = parse_event(raw, index)
        except PayloadError as exc:
            rejected.append(Rejected(index, exc.where, exc.message))
            continue
        (ignored if isinstance(result, Ignored) else events).append(result)  # type: ignore[arg-type]
    if rejected and not events and not ignored:
        first = rejected[0]
        more = f" (and {len(rejected) - 1} more malformed events)" if len(rejected) > 1 else ""
        raise PayloadError(first.where, first.reason + more)
    return Delivery(tuple(events), tuple(ignored), tuple(rejected))


def parse_delivery(body: bytes) -> Delivery:
    """Strict `read_delivery`: raises PayloadError for the first malformed event too."""
    delivery = read_delivery(body)
    if delivery.rejected:
        first = delivery.rejected[0]
        raise PayloadError(first.where, first.reason)
    return delivery


def _load(body: bytes) -> Any:
    """The body's JSON, each failure a PayloadError at "body" that never quotes the body."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("body", "is not UTF-8") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant, parse_int=_parse_int)
    except RecursionError:  # the C decoder recurses once per level: ~1,000 levels hit the limit
        raise PayloadError("body", f"nests deeper than {MAX_DEPTH} levels") from None
    except (json.JSONDecodeError, ValueError) as exc:
        raise PayloadError("body", f"is not valid JSON ({_short(exc)})") from None
    if _deeper_than(data, MAX_DEPTH):
        raise PayloadError("body", f"nests deeper than {MAX_DEPTH} levels")
    return data


def _deeper_than(data: Any, limit: int) -> bool:
    """True if `data` nests more than `limit` arrays/objects (iterative: no recursion to exhaust)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (list, dict)):
            if depth > limit:
                return True
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children if isinstance(child, (list, dict)))
    return False


class _OutOfRange:
    """An integer literal too long for any field (kept unconverted: int() of a 4,301-digit string
    raises, and of a long one costs time)."""

    __slots__ = ()


_OUT_OF_RANGE = _OutOfRange()


def _parse_int(literal: str) -> int | _OutOfRange:
    return _OUT_OF_RANGE if len(literal.lstrip("-")) > _LONGEST_INT else int(literal)


def parse_event(raw: object, index: int) -> WebhookEvent | Ignored:
    """One array element -> a contact event, or Ignored if well-formed but not ours."""
    at = f"event[{index}]"
    if not isinstance(raw, dict):
        raise PayloadError(at, f"must be an object, got {_kind(raw)}")
    f = _Fields(raw, at)
    event_id = f.positive_int("eventId")
    kind = f.text("subscriptionType")
    family, _, action = kind.partition(".")
    if family == "object":
        type_field = "fromObjectTypeId" if action == "associationChange" else "objectTypeId"
        type_id = f.text(type_field, required=action != "associationChange")
        if type_id != CONTACT_TYPE_ID:
            return Ignored(index, event_id, f"{type_field} {type_id!r} is not a contact ({CONTACT_TYPE_ID})")
    elif family != "contact":
        return Ignored(index, event_id, f"subscriptionType {kind!r} is not about contacts")
    if action not in CONTACT_ACTIONS:
        return Ignored(index, event_id, f"subscriptionType {kind!r} is not one we act on")

    if action == "associationChange":
        object_id = f.object_id("fromObjectId")
    else:
        object_id = f.object_id("objectId")
    return WebhookEvent(
        event_id=event_id,
        object_id=object_id,
        kind=kind,
        occurred_at=f.non_negative_int("occurredAt"),
        attempt_number=f.non_negative_int("attemptNumber", default=0),
        portal_id=f.optional_int("portalId"),
        property_name=f.text("propertyName") if action == "propertyChange" else None,
        change_source=f.text("changeSource", required=False),
        source_id=f.text("sourceId", required=False),
        primary_object_id=f.object_id("primaryObjectId", required=False),
        merged_object_ids=f.object_ids("mergedObjectIds"),
        new_object_id=f.object_id("newObjectId", required=False),
        association_type=f.text("associationType", required=False),
        to_object_id=f.object_id("toObjectId", required=False),
    )


class _Fields:
    """Typed reads from one event dict; each failure is a PayloadError at `event[i].field`."""

    def __init__(self, raw: dict[str, Any], at: str):
        self.raw = raw
        self.at = at

    def _get(self, name: str, required: bool) -> Any:
        value = self.raw.get(name)
        if value is None and required:
            raise PayloadError(f"{self.at}.{name}", "is required")
        return value

    def _fail(self, name: str, expected: str, value: object) -> PayloadError:
        return PayloadError(f"{self.at}.{name}", f"must be {expected}, got {_kind(value)}")

    def text(self, name: str, required: bool = True) -> str:
        value = self._get(name, required)
        if value is None:
            return None  # type: ignore[return-value]
        if not isinstance(value, str) or (required and not value):
            raise self._fail(name, "a non-empty string", value)
        if len(value) > MAX_TEXT:
            raise PayloadError(f"{self.at}.{name}", f"must be at most {MAX_TEXT} characters, got {len(value)}")
        return value

    def _int(self, name: str, value: object, minimum: int) -> int:
        if isinstance(value, _OutOfRange) or (isinstance(value, int) and value > INT64_MAX):
            raise PayloadError(f"{self.at}.{name}", f"is out of range (an integer from {minimum} to 2**63-1)")
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self._fail(name, f"an integer >= {minimum}", value)
        return value

    def positive_int(self, name: str) -> int:
        return self._int(name, self._get(name, True), 1)

    def non_negative_int(self, name: str, default: int | None = None) -> int:
        value = self._get(name, default is None)
        return default if value is None else self._int(name, value, 0)  # type: ignore[return-value]

    def optional_int(self, name: str) -> int | None:
        value = self._get(name, False)
        return None if value is None else self._int(name, value, 0)

    def _id(self, name: str, value: object) -> str:
        # HubSpot sends ids as JSON numbers; digit strings are accepted too. Kept as text: ids can
        # exceed 2**53, which some JSON tools silently round.
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            text = str(value)
        elif isinstance(value, str) and value.isascii() and value.isdigit() and value.lstrip("0"):
            text = value.lstrip("0")
        elif isinstance(value, _OutOfRange):
            text = "9" * (MAX_ID_DIGITS + 1)  # more digits than any id: refused just below
        else:
            raise self._fail(name, "a positive integer id", value)
        if len(text) > MAX_ID_DIGITS:
            raise PayloadError(f"{self.at}.{name}", f"is out of range (an id of at most {MAX_ID_DIGITS} digits)")
        return text

    def object_id(self, name: str, required: bool = True) -> str:
        value = self._get(name, required)
        return None if value is None else self._id(name, value)  # type: ignore[return-value]

    def object_ids(self, name: str) -> tuple[str, ...]:
        value = self._get(name, False)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self._fail(name, "an array of ids", value)
        return tuple(self._id(f"{name}[{i}]", v) for i, v in enumerate(value))


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed")


def _kind(value: object) -> str:
    """A JSON type name for messages: never the value itself (it may be personal data)."""
    if value is None:
        return "null"
    if isinstance(value, _OutOfRange):
        return "a number out of range"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "an array", dict: "an object"}.get(type(value), type(value).__name__)


def _short(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return str(exc)[:80]
