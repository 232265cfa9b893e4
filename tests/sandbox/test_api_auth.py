"""Tokens and scopes: 401 without a known Bearer token, 403 MISSING_SCOPES naming the scope."""

from __future__ import annotations

import json

import hubspot
import pytest
from hubspot.crm.contacts import ApiException

from connector.sandbox import Sandbox, SandboxConfig


@pytest.fixture(scope="module")
def scoped():
    with Sandbox(SandboxConfig(contacts=20, tier="unlimited", tokens={
            "pat-full": None, "pat-read": frozenset({"crm.objects.contacts.read"})})) as sb:
        yield sb


@pytest.mark.parametrize("token", [None, "pat-unknown"])
def test_given_no_or_unknown_token_when_calling_then_401(scoped, token, make_http):
    http = make_http(scoped.base_url, token=token)
    status, body, _ = http("GET", "/crm/v3/objects/contacts")
    http.close()
    assert status == 401 and body["category"] == "INVALID_AUTHENTICATION"


def test_given_read_only_token_when_writing_then_403_missing_scopes(scoped):
    client = hubspot.Client.create(access_token="pat-read", host=scoped.base_url)
    contact_id = str(scoped.portal.stores["contacts"].order[0])
    assert client.crm.contacts.basic_api.get_by_id(contact_id, _request_timeout=(2, 10)).id
    with pytest.raises(ApiException) as exc:
        client.crm.contacts.basic_api.archive(contact_id, _request_timeout=(2, 10))
    assert exc.value.status == 403
    body = json.loads(exc.value.body)
    assert body["category"] == "MISSING_SCOPES"
    assert body["errors"][0]["context"]["requiredGranularScopes"] == [
        "crm.objects.contacts.write"]


def test_given_read_only_token_when_reading_owners_then_403(scoped, make_http):
    http = make_http(scoped.base_url, token="pat-read")
    status, body, _ = http("GET", "/crm/v3/owners")
    http.close()
    assert status == 403
    assert body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.owners.read"]


def test_given_full_token_when_writing_then_allowed(scoped, make_http):
    http = make_http(scoped.base_url, token="pat-full")
    status, _, _ = http("POST", "/crm/v3/objects/contacts",
                        {"properties": {"email": "full@scope-test.com"}})
    http.close()
    assert status == 201
