"""The signer reproduces HubSpot's published vectors and agrees with the official SDK."""

import json
import time

import pytest
from hubspot.utils.signature import Signature

from connector.sandbox.signing import decode_uri_v3, sign_v1, sign_v2, sign_v3
from tests.support.paths import SIGNATURE_VECTORS

# HubSpot's signature vectors (from its docs and official SDK test suites, each cited in the file)
# kept in tests/data.
VECTORS = json.loads(SIGNATURE_VECTORS.read_text())
SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"


def _sign(v: dict) -> str:
    if v["version"] == "v1":
        return sign_v1(v["client_secret"], v["body"])
    if v["version"] == "v2":
        return sign_v2(v["client_secret"], v["method"], v["uri"], v["body"])
    return sign_v3(v["client_secret"], v["method"], v["uri"], v["body"], v["timestamp"])


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["id"])
def test_given_published_vector_when_signed_then_signature_matches(vector):
    assert _sign(vector) == vector["expected_signature"]


@pytest.mark.parametrize("vector", VECTORS["negative_vectors"], ids=lambda v: v["id"])
def test_given_tampered_vector_when_signed_then_signature_differs(vector):
    assert _sign(vector) != vector["expected_signature"]


def test_given_bytes_body_when_signed_then_same_as_text():
    body = '[{"eventId":1,"propertyValue":"Zoë"}]'
    assert sign_v1(SECRET, body.encode()) == sign_v1(SECRET, body)
    assert sign_v3(SECRET, "POST", "https://x.test/h", body.encode(), 1) == sign_v3(
        SECRET, "POST", "https://x.test/h", body, "1")


def test_given_encoded_uri_when_v3_then_only_listed_escapes_are_decoded():
    uri = "https://x.test/hook%3Fa%3Db%2Fc%2fd%20e%40f"
    assert decode_uri_v3(uri) == "https://x.test/hook?a%3Db/c/d%20e@f"
    assert sign_v3(SECRET, "POST", uri, "[]", 5) == sign_v3(SECRET, "POST", decode_uri_v3(uri), "[]", 5)


def test_given_fresh_timestamp_when_sdk_validates_v3_then_valid():
    timestamp = str(int(time.time() * 1000))
    body, uri = '[{"eventId":7}]', "http://127.0.0.1:8000/webhooks/hubspot"
    signature = sign_v3(SECRET, "POST", uri, body, timestamp)
    assert Signature.is_valid(signature=signature, client_secret=SECRET, request_body=body,
                              http_uri=uri, http_method="POST", signature_version="v3",
                              timestamp=timestamp)
    assert not Signature.is_valid(signature=signature, client_secret=SECRET, request_body=body + " ",
                                  http_uri=uri, http_method="POST", signature_version="v3",
                                  timestamp=timestamp)
