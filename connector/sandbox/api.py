"""HubSpot's endpoints: the route table and one handler per route, over `Portal`.

Paths and JSON shapes follow hubspot-api-client 12.0.0's generated clients (crm.contacts,
crm.objects.*, crm.properties, crm.associations.v4, crm.owners), which call HubSpot's
/crm/v3 and /crm/v4 paths: https://developers.hubspot.com/docs/api/crm/contacts,
https://developers.hubspot.com/docs/api/crm/properties,
https://developers.hubspot.com/docs/api-reference/crm-associations-v4/guide,
https://developers.hubspot.com/docs/api/crm/owners.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from connector.sandbox import engagements, errors, forms
from connector.sandbox.portal import (
    CONTACT_TO,
    CONTACTS,
    ENGAGEMENT_TYPES,
    MAX_ASSOCIATION_IDS,
    MAX_BATCH,
    Portal,
    Record,
)
from connector.sandbox.values import iso_ms

READ = "crm.objects.contacts.read"
WRITE = "crm.objects.contacts.write"
SCHEMA_READ = "crm.schemas.contacts.read"
SCHEMA_WRITE = "crm.schemas.contacts.write"
OWNERS_READ = "crm.objects.owners.read"
ALL_SCOPES = frozenset({READ, WRITE, SCHEMA_READ, SCHEMA_WRITE, OWNERS_READ, engagements.marketing_events.READ_SCOPE,
                        forms.SCOPE})
MAX_LIST_LIMIT = 100
MAX_HISTORY_LIMIT = 50  # list pages with propertiesWithHistory hold at most 50 records
# A batch read with propertiesWithHistory takes at most 50 inputs. *unverified*: not in HubSpot's
# docs or specs; seen as HubSpot's error text quoted in third-party code. The sandbox's answer
# is its own wording, in the style of the 100-input limit (`_inputs`).
MAX_HISTORY_BATCH = 50
_ENGAGEMENT_RE = "|".join(ENGAGEMENT_TYPES)


@dataclass
class Ctx:
    portal: Portal
    params: dict[str, str]
    query: dict[str, list[str]]
    body: Any
    raw_length: int
    base_url: str
    tokens: dict[str, frozenset[str] | None] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def names(self, name: str) -> list[str] | None:
        """A list query parameter, repeated (`a=1&a=2`) or comma separated, or None."""
        values = [v for raw in self.query.get(name, ()) for v in raw.split(",") if v]
        return values or None

    def flag(self, name: str) -> bool:
        """A boolean query parameter (`archived`): absent is false; else exactly `true` or `false`.

        HubSpot's specs type these as OpenAPI booleans, default false, sent form-style, i.e. the
        words `true` / `false` (`archived` on GET /crm/v3/objects/contacts/{contactId} and the
        batch read, HubSpot/HubSpot-public-api-spec-collection,
        PublicApiSpecs/CRM/Contacts/Rollouts/424/v3/contacts.json; docs/hubspot-facts.md, "CRM
        semantics"). What HubSpot does with any other spelling is only partly known: `archived=1`
        was not read as true (a 404 for an archived deal, treated as an SDK bug and fixed on the
        SDK side: https://github.com/HubSpot/hubspot-api-php/issues/98 , pull/99), and a HubSpot SDK
        maintainer reported Python's `archived=True` working on the owners API
        (https://github.com/HubSpot/hubspot-api-python/issues/64), which suggests a
        case-insensitive "true, else false" parse. *unverified*: how HubSpot reads `False`, `True`,
        `1`, `0` or an empty value on the CRM endpoints today. So the sandbox is stricter than
        HubSpot is likely to be, on purpose: any other spelling is a 400 `VALIDATION_ERROR` naming
        the parameter, never a silent guess, so a client can only pass here by sending the spec's
        spelling, which HubSpot reads correctly under every parse the evidence allows.
        hubspot-api-client 12.0.0 sends a Python bool given as a query value as `True` / `False`
        (its `rest.py` url-encodes query values with `str()`): leave it out, or pass the string `"false"`.
        """
        value = self.arg(name)
        if value is None or value == "false":
            return False
        if value == "true":
            return True
        raise errors.bad_request(
            f"Invalid value {value!r} for query parameter {name!r}: expected true or false.",
            context={name: [value]})


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Callable[[Ctx], tuple[int, Any]]
    scope: str | None
    search: bool = False
    pattern: re.Pattern | None = None


def _object_type(ctx: Ctx) -> str:
    return ctx.params.get("objectType", CONTACTS)


def _object_id(ctx: Ctx) -> str:
    return ctx.params.get("contactId") or ctx.params["objectId"]


def _stamp(ctx: Ctx) -> str:
    """startedAt/completedAt of batch answers, on the portal's clock (injectable in tests)."""
    return iso_ms(ctx.portal.now_ms())


def _inputs(ctx: Ctx) -> list:
    if not isinstance(ctx.body, dict) or not isinstance(ctx.body.get("inputs"), list):
        raise errors.bad_request("Invalid input JSON: expected an object with `inputs`.")
    inputs = ctx.body["inputs"]
    if len(inputs) > MAX_BATCH:
        raise errors.bad_request(f"Batch of {len(inputs)} inputs is too large: the maximum is "
                                 f"{MAX_BATCH}.", context={"limit": [str(MAX_BATCH)]})
    return inputs


def _batch(ctx: Ctx, results: list[dict], errs: list[dict], started: str) -> tuple[int, dict]:
    """200 when every input succeeded, else 207 with errors[] (the SDK's ...WithErrors model)."""
    body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started,
                            "completedAt": _stamp(ctx)}
    if errs:
        body["numErrors"] = len(errs)
        body["errors"] = errs
        return 207, body
    return 200, body


# ---- objects ------------------------------------------------------------------------------------
def list_objects(ctx: Ctx) -> tuple[int, dict]:
    kind = _object_type(ctx)
    history = ctx.names("propertiesWithHistory")
    try:
        limit = int(ctx.arg("limit", "10"))
    except ValueError:
        raise errors.bad_request("limit must be an integer.") from None
    if limit < 1 or limit > MAX_LIST_LIMIT:
        raise errors.bad_request(f"limit must be between 1 and {MAX_LIST_LIMIT}; got {limit}.")
    if history:
        limit = min(limit, MAX_HISTORY_LIMIT)
    records, after = ctx.portal.page(kind, ctx.arg("after"), limit, ctx.flag("archived"))
    names = ctx.portal.read_names(kind, ctx.names("properties"))
    linked = _association_types(ctx, kind)
    body: dict[str, Any] = {"results": [_with_associations(
        ctx.portal, kind, r, ctx.portal.render(r, names, history), linked) for r in records]}
    if after:
        body["paging"] = {"next": {"after": after,
                                   "link": f"{ctx.base_url}/crm/v3/objects/{kind}?after={after}"}}
    return 200, body


def get_object(ctx: Ctx) -> tuple[int, dict]:
    kind = _object_type(ctx)
    record = ctx.portal.get(kind, _object_id(ctx), ctx.flag("archived"), ctx.arg("idProperty"))
    if record is None:
        raise errors.object_not_found(_object_id(ctx))
    names = ctx.portal.read_names(kind, ctx.names("properties"))
    return 200, _with_associations(
        ctx.portal, kind, record, ctx.portal.render(record, names, ctx.names("propertiesWithHistory")),
        _association_types(ctx, kind))


def _association_types(ctx: Ctx, kind: str) -> list[str]:
    """The object types of the `associations` query parameter (`contacts`, `contact`, `tasks`),
    as plural names; types the sandbox does not model are kept and answer nothing."""
    out = []
    for name in ctx.names("associations") or ():
        name = name.lower()
        plural = name if name.endswith("s") else name + "s"
        out.append(plural)
    return list(dict.fromkeys(out))


def _with_associations(portal: Portal, kind: str, record: Record, body: dict,
                       to_types: list[str]) -> dict:
    """Add `associations: {type: {"results": [{"id", "type"}]}}` for the asked-for types.

    The v3 read with `associations=contacts` (https://developers.hubspot.com/docs/api/crm/tasks,
    "Retrieve tasks"; the SDK's SimplePublicObjectWithAssociations). A type with no associated
    record is left out, as HubSpot omits it (*unverified*)."""
    found = {}
    for to_type in to_types:
        linked = portal.associated(kind, record.id, to_type)
        if linked:
            found[to_type] = {"results": [{"id": rid, "type": name} for rid, name in linked]}
    if found:
        body["associations"] = found
    return body


def create_object(ctx: Ctx) -> tuple[int, dict]:
    kind = _object_type(ctx)
    body = ctx.body if isinstance(ctx.body, dict) else {}
    record = ctx.portal.create(kind, body.get("properties", {}), body.get("associations"))
    return 201, ctx.portal.render(record, _written(ctx.portal, kind, record))


def _written(portal: Portal, kind: str, record: Record) -> list[str]:
    """Writes answer with every property that has a value (what HubSpot echoes back)."""
    return [k for k, v in record.properties.items()
            if v is not None and not k.startswith("_") and k in portal.stores[kind].definitions]


def update_object(ctx: Ctx) -> tuple[int, dict]:
    kind = _object_type(ctx)
    body = ctx.body if isinstance(ctx.body, dict) else {}
    updated, missing = ctx.portal.update_many(kind, [(_object_id(ctx), body.get("properties"))],
                                              id_property=ctx.arg("idProperty"))
    if missing:
        raise errors.object_not_found(_object_id(ctx))
    return 200, ctx.portal.render(updated[0], _written(ctx.portal, kind, updated[0]))


def archive_object(ctx: Ctx) -> tuple[int, None]:
    ctx.portal.archive(_object_type(ctx), _object_id(ctx))
    return 204, None  # archiving is idempotent: a missing or archived id also answers 204


def merge_contacts(ctx: Ctx) -> tuple[int, dict]:
    body = ctx.body if isinstance(ctx.body, dict) else {}
    primary, other = body.get("primaryObjectId"), body.get("objectIdToMerge")
    if not primary or not other:
        raise errors.bad_request("primaryObjectId and objectIdToMerge are required.")
    record = ctx.portal.merge(str(primary), str(other))
    return 200, ctx.portal.render(record, _written(ctx.portal, CONTACTS, record))


def batch_read(ctx: Ctx) -> tuple[int, dict]:
    kind = _object_type(ctx)
    started = _stamp(ctx)
    inputs = _inputs(ctx)
    id_property = ctx.body.get("idProperty")
    names = ctx.portal.read_names(kind, ctx.body.get("properties"))
    history = ctx.body.get("propertiesWithHistory") or None
    if history and len(inputs) > MAX_HISTORY_BATCH:
        raise errors.bad_request(
            f"Batch of {len(inputs)} inputs is too large with propertiesWithHistory: the maximum "
            f"is {MAX_HISTORY_BATCH}.", context={"limit": [str(MAX_HISTORY_BATCH)]})
    archived = ctx.flag("archived")
    results, missing = [], []
    for item in inputs:
        rid = str(item.get("id")) if isinstance(item, dict) else ""
        record = ctx.portal.get(kind, rid, archived, id_property)
        if record is None:
            missing.append(rid)
        else:
            results.append(ctx.portal.render(record, names, history))
    errs = []
    if missing:
        # HubSpot's 207 entry for ids it cannot find: OBJECT_NOT_FOUND with context.ids.
        errs.append(errors.batch_error(
            "OBJECT_NOT_FOUND",
            f"Could not get some {kind.upper().rstrip('S')} objects, they may be deleted or not "
            "exist. Check that ids are valid.", {"ids": missing}))
    return _batch(ctx, results, errs, started)


def batch_create(ctx: Ctx) -> tuple[int, dict]:
    kind = _object_type(ctx)
    started = _stamp(ctx)
    inputs = _inputs(ctx)
    created = ctx.portal.create_many(kind, [(i.get("properties", {}), i.get("associations"))
                                            for i in inputs])
    results = [ctx.portal.render(r, _written(ctx.portal, kind, r)) for r in created]
    # An input's `objectWriteTraceId` comes back on the object made from it: the field is in both
    # the batch-create input (SimplePublicObjectBatchInputForCreate) and the answer's objects in
    # HubSpot's CRM v3 OpenAPI specs (e.g. Tasks v3). That HubSpot echoes it on every result is
    # *unverified*, as is the order of `results`: the connector maps answers by this id, then by
    # its token in the body, and looks up whatever it could not map (connector/gateway.py).
    for made, given in zip(results, inputs, strict=True):
        if isinstance(given, dict) and given.get("objectWriteTraceId"):
            made["objectWriteTraceId"] = str(given["objectWriteTraceId"])
    status, body = _batch(ctx, results, [], started)
    return 201, body


def batch_update(ctx: Ctx) -> tuple[int, dict]:
    kind = _object_type(ctx)
    started = _stamp(ctx)
    inputs = _inputs(ctx)
    pairs = [(str(i.get("id")), i.get("properties")) for i in inputs]
    updated, missing = ctx.portal.update_many(kind, pairs, id_property=ctx.body.get("idProperty"))
    errs = []
    if missing:
        errs.append(errors.batch_error(
            "OBJECT_NOT_FOUND", f"Could not update some {kind} objects, they may be deleted or "
            "not exist. Check that ids are valid.", {"ids": missing}))
    return _batch(ctx, [ctx.portal.render(r, _written(ctx.portal, kind, r)) for r in updated], errs,
                  started)


def batch_upsert(ctx: Ctx) -> tuple[int, dict]:
    started = _stamp(ctx)
    inputs = _inputs(ctx)
    id_props = {i.get("idProperty") for i in inputs}
    if len(id_props) != 1:
        raise errors.bad_request("Every upsert input needs the same idProperty.")
    pairs = [(str(i.get("id")), i.get("properties") or {}) for i in inputs]
    results = []
    for record, new in ctx.portal.upsert_many(pairs, id_props.pop()):
        rendered = ctx.portal.render(record, _written(ctx.portal, CONTACTS, record))
        rendered["new"] = new
        results.append(rendered)
    return _batch(ctx, results, [], started)


def batch_archive(ctx: Ctx) -> tuple[int, None]:
    for item in _inputs(ctx):
        ctx.portal.archive(_object_type(ctx), str(item.get("id")))
    return 204, None


def search_objects(ctx: Ctx) -> tuple[int, dict]:
    kind = _object_type(ctx)
    total, records, next_after, request = ctx.portal.search(kind, ctx.body, ctx.raw_length)
    names = ctx.portal.read_names(kind, request.properties)
    body: dict[str, Any] = {"total": total,
                            "results": [ctx.portal.render(r, names) for r in records]}
    if next_after is not None:
        body["paging"] = {"next": {"after": str(next_after)}}
    return 200, body


# ---- properties ---------------------------------------------------------------------------------
def list_properties(ctx: Ctx) -> tuple[int, dict]:
    store = ctx.portal.store(_object_type(ctx))
    archived = ctx.flag("archived")
    return 200, {"results": [d for d in store.definitions.values()
                             if bool(d.get("archived")) == archived]}


def get_property(ctx: Ctx) -> tuple[int, dict]:
    definition = ctx.portal.store(_object_type(ctx)).definitions.get(ctx.params["propertyName"])
    if definition is None:
        raise errors.not_found(f"Property {ctx.params['propertyName']} does not exist.")
    return 200, definition


def create_property(ctx: Ctx) -> tuple[int, dict]:
    return 201, ctx.portal.create_property(_object_type(ctx), ctx.body)


def update_property(ctx: Ctx) -> tuple[int, dict]:
    return 200, ctx.portal.update_property(_object_type(ctx), ctx.params["propertyName"], ctx.body)


def list_groups(ctx: Ctx) -> tuple[int, dict]:
    return 200, {"results": ctx.portal.property_groups(_object_type(ctx))}


def get_group(ctx: Ctx) -> tuple[int, dict]:
    """GET /crm/v3/properties/{objectType}/groups/{groupName}
    (https://developers.hubspot.com/docs/api/crm/properties, "Property groups")."""
    for group in ctx.portal.property_groups(_object_type(ctx)):
        if group["name"] == ctx.params["groupName"]:
            return 200, group
    raise errors.not_found(f"Unable to find property group {ctx.params['groupName']}.")


def create_group(ctx: Ctx) -> tuple[int, dict]:
    return 201, ctx.portal.create_group(_object_type(ctx), ctx.body)


# ---- associations and owners --------------------------------------------------------------------
_SINGULAR = {k[:-1]: k for k in ENGAGEMENT_TYPES}


def read_associations(ctx: Ctx) -> tuple[int, dict]:
    started = _stamp(ctx)
    to_type = ctx.params["toObjectType"].lower()
    to_type = _SINGULAR.get(to_type, to_type)
    if to_type not in ENGAGEMENT_TYPES:
        raise errors.bad_request(f"The sandbox reads contact associations to "
                                 f"{', '.join(ENGAGEMENT_TYPES)}; not {to_type!r}.")
    if not isinstance(ctx.body, dict) or not isinstance(ctx.body.get("inputs"), list):
        raise errors.bad_request("Invalid input JSON: expected an object with `inputs`.")
    inputs = ctx.body["inputs"]
    if len(inputs) > MAX_ASSOCIATION_IDS:
        raise errors.bad_request(f"Batch of {len(inputs)} inputs is too large: the maximum is "
                                 f"{MAX_ASSOCIATION_IDS}.")
    links = ctx.portal.associations[to_type]
    type_id = CONTACT_TO[to_type]
    results, errs = [], []
    for item in inputs:
        cid = str(item.get("id")) if isinstance(item, dict) else ""
        targets = list(links.get(cid, ()))
        if not targets:
            # Inputs without associations come back in errors[] (207), not as empty results.
            errs.append(errors.batch_error(
                "OBJECT_NOT_FOUND", f"No {to_type} is associated with contact {cid}.",
                {"fromObjectId": [cid]}, sub_category="crm.associations.NO_ASSOCIATIONS_FOUND"))
            continue
        results.append({"from": {"id": cid}, "to": [
            {"toObjectId": int(t), "associationTypes": [
                {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}]}
            for t in targets]})
    return _batch(ctx, results, errs, started)


def list_owners(ctx: Ctx) -> tuple[int, dict]:
    """GET /crm/v3/owners: active owners; with `archived=true` the archived ones, which are the
    deactivated users' (Portal.deactivate_owner). Each carries `teams`."""
    owners = [o for o in ctx.portal.owners if bool(o.get("archived")) == ctx.flag("archived")]
    email = ctx.arg("email")
    if email:
        owners = [o for o in owners if o.get("email", "").lower() == email.lower()]
    return 200, {"results": [{"type": "PERSON", **o} for o in owners]}


def get_owner(ctx: Ctx) -> tuple[int, dict]:
    """GET /crm/v3/owners/{ownerId}: like the list, `archived` (default false) picks active or
    archived (deactivated) owners, so a deactivated owner is a 404 without `archived=true`
    (the parameter is in https://developers.hubspot.com/docs/api/crm/owners ; the 404 for a
    deactivated owner read without it is *unverified*)."""
    archived = ctx.flag("archived")
    for owner in ctx.portal.owners:
        if str(owner["id"]) == ctx.params["ownerId"] and bool(owner.get("archived")) == archived:
            return 200, {"type": "PERSON", **owner}
    raise errors.not_found(f"Owner {ctx.params['ownerId']} does not exist.")


def access_token_info(ctx: Ctx) -> tuple[int, dict]:
    """POST /oauth/v2/private-apps/get/access-token-info {"tokenKey": ...}: the token's scopes.

    Documented at the end of https://developers.hubspot.com/docs/api/private-apps ("View access
    token info"); the answer carries userId, hubId, appId and scopes. An unknown token is 401.
    """
    key = ctx.body.get("tokenKey") if isinstance(ctx.body, dict) else None
    if not isinstance(key, str) or key not in ctx.tokens:
        raise errors.unauthorized()
    granted = ctx.tokens[key]
    return 200, {"userId": int(ctx.portal.owners[0]["userId"]) if ctx.portal.owners else 1,
                 "hubId": ctx.portal.portal_id, "appId": ctx.portal.app_id,
                 "scopes": sorted(ALL_SCOPES if granted is None else granted)}


def _routes() -> list[Route]:
    c = "/crm/v3/objects/contacts"
    e = "/crm/v3/objects/{objectType}"
    p = "/crm/v3/properties/{objectType}"
    table = [
        ("GET", c, list_objects, READ), ("POST", c, create_object, WRITE),
        ("POST", c + "/search", search_objects, READ, True),
        ("POST", c + "/merge", merge_contacts, WRITE),
        ("POST", c + "/batch/read", batch_read, READ),
        ("POST", c + "/batch/create", batch_create, WRITE),
        ("POST", c + "/batch/update", batch_update, WRITE),
        ("POST", c + "/batch/upsert", batch_upsert, WRITE),
        ("POST", c + "/batch/archive", batch_archive, WRITE),
        ("GET", c + "/{contactId}", get_object, READ),
        ("PATCH", c + "/{contactId}", update_object, WRITE),
        ("DELETE", c + "/{contactId}", archive_object, WRITE),
        # Engagement objects: the same scopes as contacts (docs/hubspot-facts.md, "Scopes").
        ("GET", e, list_objects, READ), ("POST", e, create_object, WRITE),
        ("POST", e + "/search", search_objects, READ, True),
        ("POST", e + "/batch/read", batch_read, READ),
        ("POST", e + "/batch/create", batch_create, WRITE),
        ("GET", e + "/{objectId}", get_object, READ),
        ("PATCH", e + "/{objectId}", update_object, WRITE),
        ("DELETE", e + "/{objectId}", archive_object, WRITE),
        ("GET", p + "/groups", list_groups, SCHEMA_READ),
        ("POST", p + "/groups", create_group, SCHEMA_WRITE),
        ("GET", p + "/groups/{groupName}", get_group, SCHEMA_READ),
        ("GET", p, list_properties, SCHEMA_READ), ("POST", p, create_property, SCHEMA_WRITE),
        ("GET", p + "/{propertyName}", get_property, SCHEMA_READ),
        ("PATCH", p + "/{propertyName}", update_property, SCHEMA_WRITE),
        ("POST", "/crm/v4/associations/contacts/{toObjectType}/batch/read", read_associations,
         READ),
        ("GET", "/crm/v3/owners", list_owners, OWNERS_READ),
        ("GET", "/crm/v3/owners/{ownerId}", get_owner, OWNERS_READ),
        ("POST", "/oauth/v2/private-apps/get/access-token-info", access_token_info, None),
        *engagements.ROUTES,  # marketing events and page views (connector/sandbox/engagements.py)
        *forms.ROUTES,  # forms and their submissions (connector/sandbox/forms.py)
    ]
    routes = []
    for method, template, handler, scope, *search in table:
        regex = re.escape(template)
        regex = regex.replace(re.escape("{objectType}"),
                              f"(?P<objectType>{_ENGAGEMENT_RE}|contacts)"
                              if template.startswith("/crm/v3/properties") else
                              f"(?P<objectType>{_ENGAGEMENT_RE})")
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", regex)
        routes.append(Route(method, template, handler, scope, bool(search),
                            re.compile(regex + r"\Z")))
    return routes


ROUTES = _routes()


def match(method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """(route, path parameters, whether the path exists under another method).

    `path` is the raw request path, still percent-encoded. Routes match it raw, so an encoded
    slash (`%2F`) stays inside its segment; then each path parameter is percent-decoded once
    (UTF-8), as HubSpot does: hubspot-api-client quotes every path parameter with no safe
    characters (`jane%40example.com`; `safe_chars_for_path_param = ""` in 12.0.0's generated
    `configuration.py`, quoted in `api_client.py`), and HubSpot finds the contact by that email
    with `idProperty=email` (https://github.com/HubSpot/hubspot-api-php/issues/500: the PHP
    SDK's `.../contacts/nonexistent%40email.com?archived=false&idProperty=email` works for an
    existing email and 404s for a missing one). Decoded once, not until nothing changes, as
    RFC 3986 percent-encoding means: `%2540` is the literal text `%40` (an email lookup for
    it finds nothing). `+` in a path is a literal plus, not a space (that rule is for query
    strings). *unverified*: HubSpot's handling of `%2F` in a path parameter (servers and
    proxies differ; the sandbox keeps it as a `/` inside the parameter) and of malformed escapes
    such as `%zz` (kept as they are).
    """
    path_known = False
    if len(path) > 1:
        path = path.rstrip("/")  # the SDK calls "/crm/v3/owners/"
    for route in ROUTES:
        m = route.pattern.match(path)
        if m:
            if route.method == method:
                return route, {k: unquote(v, errors="replace") for k, v in m.groupdict().items()}, True
            path_known = True
    return None, {}, path_known
