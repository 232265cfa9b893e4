"""HubSpot's error bodies, raised as `ApiError` inside the sandbox and rendered by the server.

Shape (every field optional for a client): status, message, correlationId, category, errors[],
context, links -- https://developers.hubspot.com/docs/api/error-handling (and the 401/403/400 bodies
quoted in HubSpot/hubspot-api-nodejs#148, #268 and the changelog post
https://developers.hubspot.com/changelog/upcoming-property-validations-rules-will-be-enforced-for-apis-and-integrations).
"""

from __future__ import annotations

import json
import uuid
from typing import Any


class ApiError(Exception):
    """An answer other than 2xx, with HubSpot's JSON body."""

    def __init__(self, status: int, message: str, category: str | None, *,
                 errors: list[dict] | None = None, context: dict | None = None,
                 links: dict | None = None, extra: dict | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.category = category
        self.errors = errors
        self.context = context
        self.links = links
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": "error", "message": self.message,
                               "correlationId": correlation_id()}
        if self.category is not None:
            out["category"] = self.category
        if self.errors is not None:
            out["errors"] = self.errors
        if self.context is not None:
            out["context"] = self.context
        if self.links is not None:
            out["links"] = self.links
        out.update(self.extra)
        return out


def correlation_id() -> str:
    return str(uuid.uuid4())


def unauthorized() -> ApiError:
    # Body as quoted in HubSpot/hubspot-api-nodejs#432 and #148 (category INVALID_AUTHENTICATION).
    return ApiError(
        401,
        "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
        "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        "INVALID_AUTHENTICATION")


def missing_scopes(required: list[str]) -> ApiError:
    # Shape from https://github.com/HubSpot/hubspot-api-nodejs/issues/268 (errors[].context,
    # links.scopes); current portals name the scopes under `requiredGranularScopes` (what public
    # clients parse, e.g. "errors[].context.requiredGranularScopes" verified against live portals).
    return ApiError(
        403,
        "This app hasn't been granted all required scopes to make this call. Read more about "
        "required scopes here: https://developers.hubspot.com/scopes.",
        "MISSING_SCOPES",
        errors=[{"message": "One or more of the following scopes are required.",
                 "context": {"requiredGranularScopes": list(required)}}],
        links={"scopes": "https://developers.hubspot.com/scopes"})


def not_found(message: str = "resource not found") -> ApiError:
    return ApiError(404, message, "OBJECT_NOT_FOUND")


# HubSpot's message for a CRM object it cannot find by the id in the path (the two spaces are
# HubSpot's): https://github.com/HubSpot/hubspot-api-nodejs/issues/669 quotes the whole body.
OBJECT_NOT_FOUND_MESSAGE = "Object not found.  objectId are usually numeric."


def object_not_found(object_id: str) -> ApiError:
    """404 for GET/PATCH /crm/v3/objects/{type}/{id} when no such (active) object exists.

    A JSON body, never an empty one: {"status": "error", "message": ..., "correlationId": ...,
    "context": {"id": [<the id as given, percent-decoded>]}, "category": "OBJECT_NOT_FOUND"}, the
    body quoted from a live portal in https://github.com/HubSpot/hubspot-api-nodejs/issues/669
    (a GET by id); the endpoint's `default` answer is the `Error` schema, with `category`,
    `correlationId` and `message` required and `context` a map of string lists
    (HubSpot/HubSpot-public-api-spec-collection, PublicApiSpecs/CRM/Contacts/Rollouts/424/v3/
    contacts.json); docs/hubspot-facts.md, "Limits" ("Errors in general"). *unverified*: that
    the message and `context.id` are the same for a numeric id that does not exist, for an
    archived one, for a PATCH, and for an email not found with `idProperty=email` (the quoted
    case is a non-numeric id); the connector must not parse the message.
    """
    return ApiError(404, OBJECT_NOT_FOUND_MESSAGE, "OBJECT_NOT_FOUND",
                    context={"id": [object_id]})


def bad_request(message: str, *, errors: list[dict] | None = None,
                context: dict | None = None) -> ApiError:
    return ApiError(400, message, "VALIDATION_ERROR", errors=errors, context=context)


def conflict(message: str, context: dict | None = None) -> ApiError:
    return ApiError(409, message, "CONFLICT", context=context)


def invalid_properties(results: list[dict]) -> ApiError:
    """400 for bad property values; `results` are HubSpot's per-property validation results.

    HubSpot embeds the results as JSON in `message` ("Property values were not valid: [...]",
    changelog post cited in the module docstring) and v3 also lists them in `errors[]` with
    `code` and `context.propertyName`.
    """
    message = "Property values were not valid: " + json.dumps(results, separators=(",", ":"))
    errors = [{"message": r["message"], "code": r["error"],
               "context": {"propertyName": [r["name"]]}} for r in results]
    return ApiError(400, message, "VALIDATION_ERROR", errors=errors)


def batch_error(category: str, message: str, context: dict, status: str = "error",
                sub_category: str | None = None) -> dict:
    """One entry of a 207 answer's `errors[]`.

    The SDK's StandardError model requires status, category, message, errors, context and links,
    so every one is present (hubspot-api-client 12.0.0, crm/*/models/standard_error.py).
    """
    out = {"status": status, "category": category, "message": message, "errors": [],
           "context": context, "links": {}}
    if sub_category:
        out["subCategory"] = sub_category
    return out
