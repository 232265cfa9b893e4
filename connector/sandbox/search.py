"""HubSpot CRM search: request limits, filter evaluation, one sort, offset paging.

Limits from https://developers.hubspot.com/docs/api/crm/search ("Limitations"): at most 5
filterGroups, 6 filters per group, 18 filters in all; request body at most 3,000 characters;
limit at most 200; at most 10,000 results per query, paging beyond gives 400; one sort.
Filters in a group are ANDed, groups are ORed; operators as listed on that page.

`associations.{objectType}` (e.g. `associations.contact` EQ <contact id> on a task search) is
the pseudo-property public clients use to search records by association; HubSpot's search page
describes filtering by association in its examples (*unverified*: the operators it takes; the
sandbox allows EQ, NEQ, IN, NOT_IN, HAS_PROPERTY and NOT_HAS_PROPERTY, by id membership). The
portal supplies the ids (`associations.contact` on engagements); any other association reads as
none.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from connector.sandbox.errors import bad_request
from connector.sandbox.values import date_only, iso_ms, to_ms

MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS = 5, 6, 18
MAX_BODY_CHARS, MAX_LIMIT, MAX_RESULTS = 3000, 200, 10_000
DEFAULT_LIMIT = 10
OPERATORS = frozenset({"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN",
                       "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN",
                       "NOT_CONTAINS_TOKEN"})
_TOKEN_SPLIT = re.compile(r"[^\w@.+-]+|(?<=\w)[.@+-](?=\w)")
ASSOCIATION_PREFIX = "associations."
# Free-text `query` looks at these default searchable contact properties.
QUERY_PROPERTIES = ("firstname", "lastname", "email", "phone", "company")

Props = dict[str, "str | None"]
TypeOf = Callable[[str], "str | None"]


@dataclass(frozen=True)
class SearchRequest:
    predicate: Callable[[Props], bool]
    sort_property: str
    descending: bool
    limit: int
    offset: int
    properties: list[str] | None
    # Speed only, never results: every match has an id above `id_floor` and below `id_ceiling`
    # (hs_object_id GT/GTE and LT/LTE filters in the single group), and `id_only` says no other
    # filter or query narrows it further.
    id_floor: int | None = None
    id_only: bool = False
    # The `associations.*` pseudo-properties the filters name (the portal supplies their ids).
    associations: frozenset[str] = frozenset()
    id_ceiling: int | None = None


def parse(body: Any, raw_length: int, type_of: TypeOf) -> SearchRequest:
    """Validate a search body against HubSpot's limits; raise ApiError (400) when it breaks one."""
    if raw_length > MAX_BODY_CHARS:
        raise bad_request(f"Search request body is {raw_length} characters; the maximum is "
                          f"{MAX_BODY_CHARS}.")
    if not isinstance(body, dict):
        raise bad_request("Invalid input JSON: expected an object.")
    groups = body.get("filterGroups") or []
    if len(groups) > MAX_GROUPS:
        raise bad_request(f"Too many filter groups ({len(groups)}); the maximum is {MAX_GROUPS}.")
    total = 0
    compiled_groups = []
    for group in groups:
        filters = group.get("filters") or []
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise bad_request(f"Too many filters in a group ({len(filters)}); the maximum is "
                              f"{MAX_FILTERS_PER_GROUP}.")
        total += len(filters)
        compiled_groups.append([_compile(f, type_of) for f in filters])
    if total > MAX_FILTERS:
        raise bad_request(f"Too many filters ({total}); the maximum is {MAX_FILTERS}.")
    sorts = body.get("sorts") or []
    if len(sorts) > 1:
        raise bad_request("Only one sort is supported.")
    sort_property, descending = "hs_object_id", False
    if sorts:
        sort = sorts[0]
        if isinstance(sort, str):  # "createdate" or "-createdate"
            descending, sort_property = sort.startswith("-"), sort.lstrip("-")
        else:
            sort_property = sort.get("propertyName") or "hs_object_id"
            descending = str(sort.get("direction", "ASCENDING")).upper() == "DESCENDING"
    try:
        limit = int(body.get("limit") or DEFAULT_LIMIT)
        offset = int(body.get("after") or 0)
    except (TypeError, ValueError):
        raise bad_request("limit and after must be integers.") from None
    if limit > MAX_LIMIT or limit < 1:
        raise bad_request(f"limit must be between 1 and {MAX_LIMIT}; got {limit}.")
    if offset >= MAX_RESULTS:
        raise bad_request(f"Paging past {MAX_RESULTS:,} results is not supported: refine the "
                          f"query (after={offset}).")
    query = str(body.get("query") or "").strip().lower()
    predicate = _combine(compiled_groups, query)
    properties = body.get("properties")
    id_floor, id_ceiling, id_only = _id_bounds(groups, query)
    associations = frozenset(str(f.get("propertyName")) for g in groups
                             for f in g.get("filters") or ()
                             if str(f.get("propertyName") or "").startswith(ASSOCIATION_PREFIX))
    return SearchRequest(predicate, sort_property, descending, limit, offset,
                         list(properties) if properties else None, id_floor, id_only,
                         associations, id_ceiling)


def _id_bounds(groups: list, query: str) -> tuple[int | None, int | None, bool]:
    """The id bounds (exclusive) of a one-group search that pages by `hs_object_id > last id`
    (as a connector restarting past 10,000 results does) or `< last id` (paging down), and
    whether those are its only conditions (true too of a search with no filter at all)."""
    if not groups:
        return None, None, not query  # no filter: every record matches
    if len(groups) != 1:
        return None, None, False
    floors, ceilings, others = [], [], 0
    for f in groups[0].get("filters") or []:
        op, value = str(f.get("operator", "")).upper(), str(f.get("value", ""))
        if f.get("propertyName") == "hs_object_id" and op in ("GT", "GTE") and value.isdigit():
            floors.append(int(value) if op == "GT" else int(value) - 1)
        elif f.get("propertyName") == "hs_object_id" and op in ("LT", "LTE") and value.isdigit():
            ceilings.append(int(value) if op == "LT" else int(value) + 1)
        else:
            others += 1
    if not floors and not ceilings:
        return None, None, False
    return (max(floors) if floors else None, min(ceilings) if ceilings else None,
            others == 0 and not query)


def run(request: SearchRequest, records: Iterable[tuple[str, Props]],
        type_of: TypeOf) -> tuple[int, list[str], int | None]:
    """(total matches, ids on the page, next offset or None)."""
    matches = [(rid, props) for rid, props in records if request.predicate(props)]
    if request.sort_property == "hs_object_id" and not request.descending:
        # Records come in id order (the portal keeps them so): nothing to sort.
        end = request.offset + request.limit
        return len(matches), [rid for rid, _ in matches[request.offset:end]], end if end < len(matches) else None
    key = _sort_key(request.sort_property, type_of(request.sort_property))
    present = [m for m in matches if _has(m[1].get(request.sort_property))]
    missing = [m for m in matches if not _has(m[1].get(request.sort_property))]
    present.sort(key=lambda m: (key(m[1]), int(m[0])), reverse=request.descending)
    ordered = present + missing  # records without the sort property come last
    end = request.offset + request.limit
    page = [rid for rid, _ in ordered[request.offset:end]]
    next_after = end if end < len(ordered) else None
    return len(ordered), page, next_after


def _has(value: Any) -> bool:
    return value is not None and value != ""


def _sort_key(prop: str, ptype: str | None) -> Callable[[Props], Any]:
    if ptype == "number":
        return lambda p: float(p[prop])
    if ptype in ("datetime", "date"):
        return lambda p: p[prop]  # ISO strings sort like the times they name
    return lambda p: str(p[prop]).lower()


def _combine(groups: list[list[Callable[[Props], bool]]], query: str) -> Callable[[Props], bool]:
    def matches(props: Props) -> bool:
        if query and not any(query in str(props.get(q) or "").lower()
                             for q in QUERY_PROPERTIES):
            return False
        return not groups or any(all(f(props) for f in g) for g in groups)
    return matches


def _compile(flt: dict, type_of: TypeOf) -> Callable[[Props], bool]:
    op = str(flt.get("operator", "")).upper()
    prop = flt.get("propertyName")
    if op not in OPERATORS:
        raise bad_request(f"Unknown filter operator {op!r}.")
    if not prop:
        raise bad_request("Each filter needs a propertyName.")
    if str(prop).startswith(ASSOCIATION_PREFIX):
        return _association_filter(op, flt, str(prop))
    ptype = type_of(prop)
    if op == "HAS_PROPERTY":
        return lambda p: _has(p.get(prop))
    if op == "NOT_HAS_PROPERTY":
        return lambda p: not _has(p.get(prop))
    conv = _converter(ptype)
    if op in ("IN", "NOT_IN"):
        values = flt.get("values")
        if not isinstance(values, list):
            raise bad_request(f"{op} needs `values` (a list).")
        wanted = {conv(v) for v in values}
        if op == "IN":
            return lambda p: _has(p.get(prop)) and _split(conv, p[prop]) & wanted != set()
        return lambda p: not (_has(p.get(prop)) and _split(conv, p[prop]) & wanted)
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        token = str(flt.get("value", "")).lower()
        hit = (lambda s: fnmatch.fnmatchcase(s, token)) if "*" in token else (
            lambda s: s == token or token in _TOKEN_SPLIT.split(s))
        if op == "CONTAINS_TOKEN":
            return lambda p: _has(p.get(prop)) and hit(str(p[prop]).lower())
        return lambda p: not (_has(p.get(prop)) and hit(str(p[prop]).lower()))
    if "value" not in flt:
        raise bad_request(f"{op} needs a `value`.")
    value = conv(flt["value"])
    if op == "BETWEEN":
        if "highValue" not in flt:
            raise bad_request("BETWEEN needs `value` and `highValue`.")
        high = conv(flt["highValue"])
        return lambda p: _has(p.get(prop)) and value <= conv(p[prop]) <= high
    if op == "EQ":
        return lambda p: _has(p.get(prop)) and conv(p[prop]) == value
    if op == "NEQ":  # records without the property are "not equal" too
        return lambda p: not _has(p.get(prop)) or conv(p[prop]) != value
    compare = {"LT": lambda a: a < value, "LTE": lambda a: a <= value,
               "GT": lambda a: a > value, "GTE": lambda a: a >= value}[op]
    return lambda p: _has(p.get(prop)) and compare(conv(p[prop]))


def _association_filter(op: str, flt: dict, prop: str) -> Callable[[Props], bool]:
    """A filter on `associations.<type>`: the record's associated ids, stored "id;id"."""
    def ids(p: Props) -> set[str]:
        return {i for i in str(p.get(prop) or "").split(";") if i}
    if op == "HAS_PROPERTY":
        return lambda p: bool(ids(p))
    if op == "NOT_HAS_PROPERTY":
        return lambda p: not ids(p)
    if op in ("EQ", "NEQ"):
        if "value" not in flt:
            raise bad_request(f"{op} needs a `value`.")
        value = str(flt["value"])
        return (lambda p: value in ids(p)) if op == "EQ" else (lambda p: value not in ids(p))
    if op in ("IN", "NOT_IN"):
        values = flt.get("values")
        if not isinstance(values, list):
            raise bad_request(f"{op} needs `values` (a list).")
        wanted = {str(v) for v in values}
        return (lambda p: bool(ids(p) & wanted)) if op == "IN" else (
            lambda p: not ids(p) & wanted)
    raise bad_request(f"Operator {op} is not supported on {prop}: use EQ, NEQ, IN, NOT_IN, "
                      "HAS_PROPERTY or NOT_HAS_PROPERTY.")


def _split(conv: Callable[[Any], Any], raw: str) -> set:
    # multi-select values are stored "a;b;c"
    return {conv(part) for part in str(raw).split(";")}


def _converter(ptype: str | None) -> Callable[[Any], Any]:
    """Map stored and filter values to comparable ones (dates as ms epoch or ISO both work)."""
    if ptype == "number":
        def number(v: Any) -> float:
            try:
                return float(v)
            except (TypeError, ValueError):
                raise bad_request(f"{v!r} is not a number.") from None
        return number
    if ptype == "datetime":
        def when(v: Any) -> str:
            ms = to_ms(v)
            if ms is None:
                raise bad_request(f"{v!r} is not a ms epoch or ISO 8601 datetime.")
            return iso_ms(ms)
        return when
    if ptype == "date":
        def day(v: Any) -> str:
            ms = to_ms(v)
            if ms is None:
                raise bad_request(f"{v!r} is not a date.")
            return date_only(ms)
        return day
    # strings and enumerations compare case-insensitively
    return lambda v: str(v).lower() if not isinstance(v, bool) else str(v).lower()
