"""HubSpot v3 request signatures: pure verification, the clock passed in.

Rules (https://developers.hubspot.com/docs/api/webhooks/validating-requests, v3 section, and
https://developers.hubspot.com/changelog/introducing-version-3-of-webhook-signatures):
HMAC-SHA256 keyed with the app's client secret over the UTF-8 string
`method + uri + body + timestamp`, base64-encoded, sent in `X-HubSpot-Signature-v3`; the timestamp
(ms since the epoch) is in `X-HubSpot-Request-Timestamp`; reject timestamps older than 5 minutes.

We accept v3 only: v1 and v2 carry no timestamp, so a captured request could be replayed forever.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from connector.errors import ConnectorError

SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
# "Reject the request if the timestamp is older than 5 minutes" (docs above; hubspot-api-python's
# Signature.MAX_ALLOWED_TIMESTAMP is also 300 s). The SDK accepts any future timestamp; we also
# reject more than 5 minutes ahead, so a leaked request signed "in the future" cannot be replayed
# for longer than the window.
TOLERANCE_MS = 5 * 60 * 1000

# The escapes HubSpot decodes in the request URI before signing, and only these (docs' table).
# "%3a" and "%3A" are the same escape (RFC 3986 section 2.1), so we match either case. "%25" is not
# listed, so "%253A" stays as it is.
_DECODED = {
    "%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
    "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";",
}
_ESCAPE = re.compile("|".join(_DECODED), re.IGNORECASE)


class SignatureError(ConnectorError):
    """The request is not provably from HubSpot; `.reason` is one short, specific phrase."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def decode_uri(uri: str) -> str:
    """The URI as HubSpot signs it: the listed percent-escapes decoded, nothing else touched."""
    return _ESCAPE.sub(lambda m: _DECODED[m.group(0).upper()], uri)


def sign_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """The base64 v3 signature of a request. `uri` is used as given (decode it first)."""
    message = method.encode() + uri.encode("utf-8") + body + timestamp.encode("ascii")
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def check_freshness(timestamp: str | None, now_s: float, tolerance_ms: int = TOLERANCE_MS) -> int:
    """The timestamp in ms if within `tolerance_ms` of `now_s` either way; else SignatureError."""
    if timestamp is None or timestamp.strip() == "":
        raise SignatureError(f"missing {TIMESTAMP_HEADER} header")
    text = timestamp.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 16:
        raise SignatureError(f"{TIMESTAMP_HEADER} is not a whole number of milliseconds")
    ts_ms = int(text)
    if abs(now_s * 1000 - ts_ms) > tolerance_ms:
        raise SignatureError("timestamp outside the tolerance window")
    return ts_ms


def check_headers(signature: str | None, timestamp: str | None, now_s: float,
                  tolerance_ms: int = TOLERANCE_MS) -> None:
    """The checks that need no body: both headers present, timestamp fresh. Lets the web layer
    refuse a stale or unsigned request before reading its body."""
    if signature is None or signature.strip() == "":
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    check_freshness(timestamp, now_s, tolerance_ms)


def verify_v3(
    *,
    secret: str,
    method: str,
    uri: str,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    now_s: float,
    tolerance_ms: int = TOLERANCE_MS,
) -> None:
    """Return if the request is HubSpot's and fresh; raise SignatureError with the reason if not.

    `uri` is the URL HubSpot called (scheme, host, path, query), before decoding; `body` the raw
    bytes as received; `now_s` the current time in seconds.
    """
    if not secret:
        raise SignatureError("no client secret configured")
    check_headers(signature, timestamp, now_s, tolerance_ms)
    signed_timestamp = (timestamp or "").strip()  # exactly as sent: HubSpot signs the header text
    expected = sign_v3(secret, method.upper(), decode_uri(uri), body, signed_timestamp)
    # Constant-time comparison, as the docs ask; bytes so that a non-ASCII header cannot raise.
    given = (signature or "").strip()  # check_headers refused a missing one already
    if not hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace")):
        raise SignatureError("signature mismatch")
