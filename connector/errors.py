"""The connector's exceptions. Callers catch at the level of the decision they make.

    ConnectorError
    ├── ConfigError            bad settings or scoring config, or rules the portal cannot serve:
    │                          stop before any write (exit 2)
    ├── NotSetUpError          the portal lacks what `connector setup` creates (exit 2)
    ├── CalibrationRefused     too little or untrustworthy history to learn from (exit 2)
    ├── StoreError             the state database is unreachable or failed
    └── HubSpotError           any HubSpot answer we could not use (status, category, correlation id)
        ├── AuthError          401: the token is missing, wrong or revoked
        ├── ScopeError         403 MISSING_SCOPES: names the missing scopes
        ├── ValidationError    400: HubSpot refused the input (names the property when it can)
        ├── NotFoundError      404
        ├── RateLimitError     429 left after retries; `.policy` says which limit
        │   └── DailyLimitError  429 DAILY: never retried within the day, the run stops
        ├── ServerError        5xx left after retries
        └── UnreachableError   connection refused, DNS, TLS or timeout left after retries

Webhook input has two more, beside their code: connector.webhooks.signature.SignatureError (the request is
not HubSpot's: 401) and connector.webhooks.events.PayloadError (the body is malformed: 400).
"""

from __future__ import annotations

from dataclasses import dataclass


class ConnectorError(Exception):
    """Base of every error the connector raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is and what is wrong."""

    where: str  # e.g. "config/scoring.yaml: rule 'pricing_page' (rules[3]).points"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class ConfigError(ConnectorError):
    """Settings or scoring config are invalid. Carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem] | str):
        if isinstance(problems, str):
            problems = [Problem("config", problems)]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class NotSetUpError(ConnectorError):
    """The portal lacks what `connector setup` creates: a sync or worker refuses to start."""


class CalibrationRefused(ConnectorError):
    """`connector calibrate` will not learn from this data: too few outcomes, flat history, an
    empty time range. The message gives the counts."""


class StoreError(ConnectorError):
    """The state store could not be reached or a statement failed."""


class HubSpotError(ConnectorError):
    """HubSpot answered with an error we could not recover from."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        category: str | None = None,
        correlation_id: str | None = None,
    ):
        self.status = status
        self.category = category
        self.correlation_id = correlation_id
        super().__init__(message)


class AuthError(HubSpotError):
    """401: the access token is missing, wrong, expired or revoked."""


class ScopeError(HubSpotError):
    """403 MISSING_SCOPES: the token lacks scopes; `.scopes` names them when HubSpot says."""

    def __init__(self, message: str, *, scopes: list[str] | None = None, **kw):
        self.scopes = list(scopes or [])
        super().__init__(message, **kw)


class ValidationError(HubSpotError):
    """400: HubSpot refused the input."""


class NotFoundError(HubSpotError):
    """404: the object does not exist (or is archived)."""


class RateLimitError(HubSpotError):
    """429 still there after retries; `.policy` is HubSpot's policyName."""

    def __init__(self, message: str, *, policy: str | None = None, **kw):
        self.policy = policy
        super().__init__(message, **kw)


class DailyLimitError(RateLimitError):
    """429 DAILY: the account's daily budget is spent. Never retried the same day."""


class ServerError(HubSpotError):
    """5xx still there after retries."""


class UnreachableError(HubSpotError):
    """The API base could not be reached (connection, DNS, TLS, timeout) after retries."""
