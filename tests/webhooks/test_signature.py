"""connector.webhooks.signature against HubSpot's official vectors, the SDK, and the freshness window."""

from __future__ import annotations

import hashlib
import json
import time

import pytest
from hubspot.exceptions import InvalidSignatureTimestampError
from hubspot.utils.signature import Signature
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.webhooks.signature import (
    TOLERANCE_MS,
    SignatureError,
    check_freshness,
    decode_uri,
    sign_v3,
    verify_v3,
)
from tests.support.paths import SIGNATURE_VECTORS

VECTORS = json.loads(SIGNATURE_VECTORS.read_text())
V3 = [v for v in VECTORS["vectors"] if v["version"] == "v3"]
V3_NEGATIVE = [v for v in VECTORS["negative_vectors"] if v["version"] == "v3"]
OLD = [v for v in VECTORS["vectors"] + VECTORS["negative_vectors"] if v["version"] in ("v1", "v2")]
SECRET = "s3cret-client-secret"
NOW_S = 1_750_000_000.0


def _verify(vector: dict, now_s: float) -> None:
    verify_v3(secret=vector["client_secret"], method=vector["method"], uri=vector["uri"],
              body=vector["body"].encode(), signature=vector["expected_signature"],
              timestamp=vector["timestamp"], now_s=now_s)


def test_the_vector_file_has_every_kind_of_vector():
    assert len(V3) == 2 and len(V3_NEGATIVE) == 2 and len(OLD) == 11


@pytest.mark.parametrize("vector", V3, ids=lambda v: v["id"])
def test_given_official_v3_vector_when_signed_then_hmac_matches(vector):
    body = vector["body"].encode()
    assert sign_v3(vector["client_secret"], vector["method"], vector["uri"], body, vector["timestamp"]) \
        == vector["expected_signature"]


@pytest.mark.parametrize("vector", V3, ids=lambda v: v["id"])
def test_given_official_v3_vector_when_clock_is_its_timestamp_then_it_verifies(vector):
    _verify(vector, now_s=int(vector["timestamp"]) / 1000)  # raises if not


@pytest.mark.parametrize("vector", V3, ids=lambda v: v["id"])
def test_given_official_v3_vector_when_clock_is_today_then_it_is_stale(vector):
    with pytest.raises(SignatureError, match="timestamp outside the tolerance window"):
        _verify(vector, now_s=NOW_S)


@pytest.mark.parametrize("vector", V3_NEGATIVE, ids=lambda v: v["id"])
def test_given_negative_v3_vector_when_verified_then_signature_mismatch(vector):
    assert vector["should_verify"] is False
    with pytest.raises(SignatureError, match="signature mismatch"):
        _verify(vector, now_s=int(vector["timestamp"]) / 1000)


def _old_signature(vector: dict) -> str:
    """v1/v2 as HubSpot documents them: plain SHA-256 hex, not an HMAC."""
    parts = [vector["client_secret"]]
    if vector["version"] == "v2":
        parts += [vector["method"], vector["uri"]]
    return hashlib.sha256("".join(parts + [vector["body"]]).encode()).hexdigest()


@pytest.mark.parametrize("vector", OLD, ids=lambda v: v["id"])
def test_given_v1_or_v2_vector_then_it_is_what_the_docs_say_and_never_a_valid_v3(vector):
    assert (_old_signature(vector) == vector["expected_signature"]) is vector["should_verify"]
    # Even a genuine v1/v2 signature put in the v3 header fails: we only accept v3.
    with pytest.raises(SignatureError, match="signature mismatch"):
        verify_v3(secret=vector["client_secret"], method=vector["method"] or "POST",
                  uri=vector["uri"] or "https://www.example.com/webhook_uri", body=vector["body"].encode(),
                  signature=vector["expected_signature"], timestamp=str(int(NOW_S * 1000)), now_s=NOW_S)


# -- freshness: 5 minutes either way ----------------------------------------------------------------


@pytest.mark.parametrize("offset_ms", [0, TOLERANCE_MS, -TOLERANCE_MS, 1, -1])
def test_given_timestamp_within_five_minutes_either_way_then_fresh(offset_ms):
    ts = int(NOW_S * 1000) + offset_ms
    assert check_freshness(str(ts), NOW_S) == ts


@pytest.mark.parametrize("offset_ms", [TOLERANCE_MS + 1, -TOLERANCE_MS - 1, 10**9, -10**9])
def test_given_timestamp_beyond_five_minutes_past_or_future_then_rejected(offset_ms):
    with pytest.raises(SignatureError, match="timestamp outside the tolerance window"):
        check_freshness(str(int(NOW_S * 1000) + offset_ms), NOW_S)


@pytest.mark.parametrize("header", ["", "  ", None])
def test_given_no_timestamp_then_missing_header(header):
    with pytest.raises(SignatureError, match="missing X-HubSpot-Request-Timestamp header"):
        check_freshness(header, NOW_S)


@pytest.mark.parametrize("header", ["1.7e12", "-1750000000000", "abc", "１２３", "9" * 40])
def test_given_timestamp_not_whole_milliseconds_then_rejected(header):
    with pytest.raises(SignatureError, match="not a whole number of milliseconds"):
        check_freshness(header, NOW_S)


@pytest.mark.parametrize("header", ["", None])
def test_given_no_signature_then_missing_header(header):
    with pytest.raises(SignatureError, match="missing X-HubSpot-Signature-v3 header"):
        verify_v3(secret=SECRET, method="POST", uri="https://a.example/h", body=b"[]",
                  signature=header, timestamp=str(int(NOW_S * 1000)), now_s=NOW_S)


def test_given_non_ascii_signature_then_mismatch_not_crash():
    with pytest.raises(SignatureError, match="signature mismatch"):
        verify_v3(secret=SECRET, method="POST", uri="https://a.example/h", body=b"[]",
                  signature="é" * 44, timestamp=str(int(NOW_S * 1000)), now_s=NOW_S)


# -- the URI HubSpot signs ----------------------------------------------------------------------------

LISTED = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'",
          "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}


@pytest.mark.parametrize("escape", sorted(LISTED))
def test_given_listed_escape_in_either_case_then_decoded(escape):
    assert decode_uri(f"https://h.example/p?x={escape}") == f"https://h.example/p?x={LISTED[escape]}"
    assert decode_uri(f"https://h.example/p?x={escape.lower()}") == f"https://h.example/p?x={LISTED[escape]}"


def test_given_other_escapes_then_left_alone_and_decoding_is_one_pass():
    assert decode_uri("https://h.example/a%20b?q=%26%3D%25") == "https://h.example/a%20b?q=%26%3D%25"
    assert decode_uri("https://h.example/?q=%253A") == "https://h.example/?q=%253A"  # %25 is not listed
    assert decode_uri("https://h.example/?q=%3A3A%2F") == "https://h.example/?q=:3A/"


def test_given_encoded_uri_when_verified_then_signed_over_decoded_form():
    ts = str(int(NOW_S * 1000))
    signed = sign_v3(SECRET, "POST", "https://h.example/hook?user=a@b.c&t=(1)", b"[]", ts)
    verify_v3(secret=SECRET, method="POST", uri="https://h.example/hook?user=a%40b.c&t=%281%29",
              body=b"[]", signature=signed, timestamp=ts, now_s=NOW_S)


# -- cross-check with HubSpot's Python SDK (fresh timestamps; the SDK does not decode URIs) ----------

_uri_text = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7e, exclude_characters="%"), max_size=30)


@settings(max_examples=60, deadline=None)
@given(secret=st.text(min_size=1, max_size=40), body=st.text(max_size=200), path=_uri_text,
       method=st.sampled_from(["POST", "GET", "PUT"]), age_ms=st.integers(0, 290_000))
def test_given_fresh_request_then_we_agree_with_the_sdk(secret, body, path, method, age_ms):
    ts = str(int(NOW_S * 1000) - age_ms)
    uri = f"https://h.example/{path}"
    sdk_signature = Signature.get_signature(secret, body, "v3", uri, method, ts)
    verify_v3(secret=secret, method=method, uri=uri, body=body.encode(), signature=sdk_signature,
              timestamp=ts, now_s=NOW_S)
    real_now_ts = str(int(time.time() * 1000) - age_ms)
    real_signature = sign_v3(secret, method, uri, body.encode(), real_now_ts)
    assert Signature.is_valid(real_signature, secret, body, uri, method, signature_version="v3",
                              timestamp=real_now_ts) is True


def test_where_we_differ_from_the_sdk_a_future_timestamp():
    future = str(int(time.time() * 1000) + 10 * 60 * 1000)
    signature = sign_v3(SECRET, "POST", "https://h.example/h", b"[]", future)
    assert Signature.is_valid(signature, SECRET, "[]", "https://h.example/h", "POST",
                              signature_version="v3", timestamp=future) is True
    with pytest.raises(SignatureError, match="timestamp outside the tolerance window"):
        verify_v3(secret=SECRET, method="POST", uri="https://h.example/h", body=b"[]",
                  signature=signature, timestamp=future, now_s=time.time())


def test_sdk_raises_rather_than_answering_false_for_a_stale_v3_timestamp():
    vector = V3[0]
    with pytest.raises(InvalidSignatureTimestampError):
        Signature.is_valid(vector["expected_signature"], vector["client_secret"], vector["body"], vector["uri"],
                           vector["method"], signature_version="v3", timestamp=vector["timestamp"])
