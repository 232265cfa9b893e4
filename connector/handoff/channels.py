"""Chat messages: Slack and Microsoft Teams incoming webhooks (a JSON POST with `text`).

Slack: https://api.slack.com/messaging/webhooks (`{"text": ...}`, answers 200 "ok").
Teams: https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook
(`{"text": ...}` is accepted by Office 365 connectors; *unverified* for Workflows-based webhooks,
which expect an Adaptive Card). The URL is a secret: it is never logged, only its host.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit


def alert_channels(settings, rules) -> tuple[str, ...]:
    """Where this config's alerts (and SLA escalations) go: a HubSpot task always, chat where a
    webhook URL is set."""
    if rules.alerts is None and rules.sla is None:
        return ()
    return ("task", *(("slack",) if settings.slack_webhook_url else ()),
            *(("teams",) if settings.teams_webhook_url else ()))


class ChannelError(Exception):
    """The channel did not take the message; `retry` says whether trying again may help."""

    def __init__(self, message: str, retry: bool):
        super().__init__(message)
        self.retry = retry


def post_message(url: str, text: str, *, timeout_s: float = 5.0) -> None:
    host = urlsplit(url).hostname or "?"
    req = urllib.request.Request(url, data=json.dumps({"text": text}).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as r:
            r.read(1024)
    except urllib.error.HTTPError as e:
        # 4xx (but 408/429) is our message or URL: retrying will not help; 5xx, 408, 429 may.
        raise ChannelError(f"{host} answered {e.code}", retry=e.code >= 500 or e.code in (408, 429)) from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise ChannelError(f"{host} unreachable ({type(e).__name__})", retry=True) from None


def probe(url: str, timeout_s: float = 5.0) -> int:
    """POST an empty JSON object (no `text`: nothing is posted to the channel); the HTTP status.
    Raises OSError when nothing answers. Slack answers a live URL's empty message with 400
    (`no_text` / `invalid_payload`) and a dead one with 403, 404 or 410
    (https://api.slack.com/messaging/webhooks#handling_errors); Teams' answers: *unverified*."""
    return status_of(urllib.request.Request(url, data=b"{}", method="POST",
                                            headers={"Content-Type": "application/json"}), timeout_s)


def status_of(request: urllib.request.Request, timeout_s: float) -> int:
    """Send `request`; the HTTP status it gets (redirects followed). OSError when nothing answers."""
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 (http(s) only)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return int(exc.code)


def contact_url(portal_id: int | str | None, contact_id: str) -> str | None:
    """The contact's record in HubSpot (https://app.hubspot.com/contacts/<portal>/record/0-1/<id>)."""
    if not portal_id:
        return None
    return f"https://app.hubspot.com/contacts/{portal_id}/record/0-1/{contact_id}"
