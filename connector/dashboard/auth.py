"""Who may see the dashboard: nobody unless DASHBOARD_PASSWORD is set, then whoever sends it.

HTTP basic auth (any user name), the password compared in constant time. Off: every dashboard URL
answers the app's plain 404, as any unknown URL does, so an unconfigured dashboard is not even
seen to exist. The password travels with every request: serve the web process over HTTPS.
"""

from __future__ import annotations

import base64
import binascii
import hmac

PREFIX = "/dashboard"
REALM = "lead scoring dashboard"


def is_dashboard(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def allowed(password: str | None, authorization: str | None) -> bool:
    """True when `authorization` (the request's Authorization header) carries `password`."""
    if not password or not authorization:
        return False
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    _user, colon, given = decoded.partition(b":")
    return bool(colon) and hmac.compare_digest(given, password.encode("utf-8"))


def challenge() -> dict[str, str]:
    return {"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'}
