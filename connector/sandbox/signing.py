"""HubSpot's request signatures (v1, v2, v3), computed as HubSpot computes them when it sends.

Rules: https://developers.hubspot.com/docs/api/webhooks/validating-requests and
https://developers.hubspot.com/changelog/introducing-version-3-of-webhook-signatures
Checked against every vector of HubSpot's signature examples in
tests/data/webhook-signature-vectors.json (tests/sandbox/test_signing.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

# v3: "decode any URL-encoded characters listed below" before signing; only these, not a full
# unquote (https://developers.hubspot.com/docs/api/webhooks/validating-requests).
_V3_URI_DECODE = {
    "%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'",
    "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";",
}


def _text(value: str | bytes) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def decode_uri_v3(uri: str) -> str:
    """The URI as HubSpot puts it into a v3 signature (the listed escapes decoded, any case)."""
    out, i = [], 0
    while i < len(uri):
        chunk = uri[i:i + 3].upper()
        if uri[i] == "%" and chunk in _V3_URI_DECODE:
            out.append(_V3_URI_DECODE[chunk])
            i += 3
        else:
            out.append(uri[i])
            i += 1
    return "".join(out)


def sign_v1(client_secret: str, body: str | bytes) -> str:
    """v1: hex SHA-256 of client secret + raw body (a plain hash, not an HMAC)."""
    return hashlib.sha256((client_secret + _text(body)).encode("utf-8")).hexdigest()


def sign_v2(client_secret: str, method: str, uri: str, body: str | bytes) -> str:
    """v2: hex SHA-256 of client secret + method + URI + raw body."""
    source = client_secret + method + uri + _text(body)
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def sign_v3(client_secret: str, method: str, uri: str, body: str | bytes,
            timestamp_ms: int | str) -> str:
    """v3: base64 HMAC-SHA256, keyed by the client secret, of method + URI + body + timestamp."""
    message = method + decode_uri_v3(uri) + _text(body) + str(timestamp_ms)
    digest = hmac.new(client_secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode("ascii")
