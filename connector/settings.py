"""Settings from the environment (and `.env`, loaded by the CLI only) into a frozen, validated object.

Every problem is reported at once, each naming the variable at fault, before anything touches
HubSpot. `Settings.from_env(environ, require=...)` takes the mapping explicitly so tests never read
the developer's environment by accident.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from connector.errors import ConfigError, Problem

DEFAULT_API_BASE = "https://api.hubapi.com"
DEFAULT_DATABASE_URL = "sqlite:///var/connector.db"
MIN_DASHBOARD_PASSWORD = 12


def default_scoring_config() -> str:
    """The default rules shipped inside the package (connector/defaults/scoring.yaml): found the
    same way from a checkout and from a wheel installed anywhere."""
    # setuptools installs packages as plain directories, so the resource is a real file path.
    return str(resources.files("connector") / "defaults" / "scoring.yaml")


DEFAULT_SCORING_CONFIG = default_scoring_config()


@dataclass(frozen=True)
class Settings:
    """Everything the connector reads from its environment. See config/.env.example."""

    hubspot_access_token: str | None = None
    hubspot_client_secret: str | None = None
    hubspot_api_base: str = DEFAULT_API_BASE
    database_url: str = DEFAULT_DATABASE_URL
    # PostgreSQL connections per process: one per thread that uses the store (gunicorn --threads 4,
    # plus the worker's scheduler and consumer threads) is enough; the pool may double it briefly.
    database_pool_size: int = 5
    scoring_config: str = DEFAULT_SCORING_CONFIG
    # A candidate config (e.g. from `connector calibrate`) that scores every contact beside the live
    # one, kept in the store only; `connector shadow` compares the two. Unset: no shadow.
    shadow_scoring_config: str | None = None
    webhook_public_url: str | None = None
    # Incoming webhooks for owner alerts (secrets: never logged). Unset: alerts go to HubSpot tasks only.
    slack_webhook_url: str | None = None
    teams_webhook_url: str | None = None
    # The dashboard (/dashboard on the web process) is off unless this is set: HTTP basic auth with
    # this password (any user name), compared in constant time. A secret: never logged. Serve the
    # web process over HTTPS in production, or the password crosses the network in the clear.
    dashboard_password: str | None = None
    # Marketing spend per month and source (month,source,amount,currency) for cost per MQL and SQL.
    spend_file: str = "config/spend.csv"
    trust_proxy_headers: bool = False
    # Address `connector web` / `connector run` bind: loopback unless set (the Procfile binds 0.0.0.0 itself).
    host: str = "127.0.0.1"
    port: int = 8000
    # Client-side budget for HubSpot's 10-second window. 100 is the Free/Starter burst limit
    # (developers.hubspot.com/docs/guides/apps/api-usage/usage-details); the limiter also learns
    # the real one from X-HubSpot-RateLimit-Max on every answer.
    hubspot_requests_per_10s: int = 100
    # HubSpot's search endpoints allow 5 requests per second per account (same page).
    hubspot_search_per_second: int = 5
    http_connect_timeout_s: float = 5.0
    http_read_timeout_s: float = 30.0
    sync_interval_minutes: int = 5
    full_sync_cron: str = "0 3 * * *"
    search_overlap_minutes: int = 5
    webhook_max_body_bytes: int = 1_048_576
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, require: tuple[str, ...] = ()) -> Settings:
        """Build from `environ` (default: os.environ). `require` names settings that must be set."""
        env = os.environ if environ is None else environ
        problems: list[Problem] = []
        values: dict[str, object] = {}
        for f in fields(cls):
            var = f.name.upper()
            raw = env.get(var)
            if raw is None or raw.strip() == "":
                continue
            raw = raw.strip()
            try:
                values[f.name] = _convert(raw, f.type)
            except ValueError as exc:
                problems.append(Problem(var, str(exc)))
        settings = cls(**values)  # type: ignore[arg-type]
        problems.extend(settings._problems(require))
        if problems:
            raise ConfigError(problems)
        return settings

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def _problems(self, require: tuple[str, ...]) -> list[Problem]:
        problems = []
        for name in require:
            if not getattr(self, name):
                problems.append(Problem(name.upper(),
                                        "is required for this command but not set (see config/.env.example)"))
        for name in ("hubspot_access_token", "hubspot_client_secret", "webhook_public_url"):
            value = getattr(self, name)
            if value and is_placeholder(value):
                problems.append(Problem(name.upper(), f"is still the placeholder from config/.env.example "
                                        f"({value[:14]}…): put the real value there (the app's Auth tab in "
                                        "HubSpot, or your host)"))
        base = urlsplit(self.hubspot_api_base)
        if base.scheme not in ("http", "https") or not base.netloc:
            problems.append(Problem("HUBSPOT_API_BASE", f"must be an http(s) URL, got {self.hubspot_api_base!r}"))
        if self.webhook_public_url:
            public = urlsplit(self.webhook_public_url)
            if public.scheme not in ("http", "https") or not public.netloc:
                problems.append(Problem("WEBHOOK_PUBLIC_URL",
                                        f"must be the full http(s) URL HubSpot calls, got {self.webhook_public_url!r}"))
        if not self.database_url.startswith(("sqlite:", "postgresql", "postgres:")):
            problems.append(Problem("DATABASE_URL", "must be sqlite:///path.db or postgresql://user@host/db"))
        for name in ("database_pool_size", "hubspot_requests_per_10s", "hubspot_search_per_second",
                     "sync_interval_minutes", "webhook_max_body_bytes", "port"):
            if getattr(self, name) <= 0:
                problems.append(Problem(name.upper(), "must be a positive number"))
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            problems.append(Problem("LOG_LEVEL", f"must be DEBUG, INFO, WARNING or ERROR, got {self.log_level!r}"))
        if self.dashboard_password is not None and len(self.dashboard_password) < MIN_DASHBOARD_PASSWORD:
            problems.append(Problem("DASHBOARD_PASSWORD", f"must be at least {MIN_DASHBOARD_PASSWORD} characters "
                                    f"(got {len(self.dashboard_password)}); e.g. python -c "
                                    "'import secrets; print(secrets.token_urlsafe(18))'"))
        if self.search_overlap_minutes < 0:
            problems.append(Problem("SEARCH_OVERLAP_MINUTES", "must be 0 or more"))
        return problems

    @property
    def sqlalchemy_url(self) -> str:
        """DATABASE_URL in the form SQLAlchemy wants: platforms hand out `postgres://`, which
        SQLAlchemy 2 no longer accepts, and we use the psycopg 3 driver."""
        url = self.database_url
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix):]
        return url

    def ensure_local_dirs(self) -> None:
        """Create the directory of a file-based SQLite database (the default lives in ./var)."""
        if not self.database_url.startswith("sqlite:///") or self.database_url == "sqlite:///:memory:":
            return
        path = self.database_url[len("sqlite:///"):].split("?", 1)[0]
        if path.startswith("file:"):  # SQLite's URI form (sqlite:///file:/path?mode=ro&uri=true)
            path = path[len("file:"):]
        Path(path).parent.mkdir(parents=True, exist_ok=True)

    def redacted(self) -> dict[str, object]:
        """The settings for display, with secrets masked."""
        shown: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("hubspot_access_token", "hubspot_client_secret", "slack_webhook_url",
                          "teams_webhook_url", "dashboard_password") and value:
                value = f"set ({len(str(value))} chars)"
            elif f.name == "database_url":
                value = _mask_password(str(value))
            shown[f.name.upper()] = value
        return shown


# The example file's stand-ins: zero-filled ids and YOUR-… host names (config/.env.example).
_PLACEHOLDER = re.compile(r"(^|[-/.])0{8}-0{4}-0{4}-0{4}-0{12}$|YOUR-", re.IGNORECASE)


def is_placeholder(value: str) -> bool:
    """True for a value copied unchanged from config/.env.example."""
    return bool(_PLACEHOLDER.search(value))


def _convert(raw: str, annotation: object) -> object:
    kind = str(annotation)
    if "bool" in kind:
        lowered = raw.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"must be true or false, got {raw!r}")
    if "int" in kind:
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"must be a whole number, got {raw!r}") from None
    if "float" in kind:
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"must be a number, got {raw!r}") from None
    return raw


def _mask_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
