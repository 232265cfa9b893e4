"""`connector doctor`: is this deployment ready? One clear line per check; exit 0 only if all pass,
2 when the configuration itself is wrong (settings, scoring config, rules vs portal), else 1.

Checks, in order (each a `Check(name, ok, detail)`):
  settings        the key settings, secrets masked; the token and client secret are set
  scoring config  SCORING_CONFIG (default: the packaged rules) loads; else its first problems
  token           HubSpot accepts HUBSPOT_ACCESS_TOKEN
  scopes          the token has every scope the connector and the scoring config's sections need
                  (connector.commands.setup.needed_scopes; names each missing one and what for)
  properties      the connector's properties exist with the right types (names the missing)
  MQL option      hs_lead_status has the MQL option
  rules vs portal every property the rules read exists with a type and options the rule can use
                  (a threshold the rules cannot reach is shown as a warning)
  engagement sources  for each activity kind the rules use, whether the portal can serve it: the token's
                  scope (marketing events, forms) and the tier (page views: Enterprise, learned from the
                  event analytics API's answer); the other kinds are listed as "not used"
  rate limit      daily API usage from X-HubSpot-RateLimit-Daily/-Daily-Remaining, learned by the
                  gateway on the calls above; fails under 10 % left; "unknown" (ok) without headers
  store           the state store answers and its schema is current (else: `connector migrate`);
                  a SQLite file that does not exist is reported, not created
  store vs portal an empty store beside a portal that holds the connector's state (lsc_state)
  webhook rejections  malformed events left out of accepted deliveries in the last 7 days
  owner alerts    alert deliveries (task, Slack, Teams) that failed for good after every retry
  chat channels   each configured SLACK_WEBHOOK_URL / TEAMS_WEBHOOK_URL answers an empty message
                  (nothing is posted): 2xx or 400 is live; 403/404/410, no answer: fails
  webhook URL     GET <origin of WEBHOOK_PUBLIC_URL>/healthz answers 200 within 5 s. Unset: ok,
                  "not set (webhooks disabled)": a deployment may run on scheduled syncs alone.

When the token check fails, the checks that need HubSpot fail as "not checked" rather than
repeating the same error. Doctor changes nothing, in HubSpot or locally.
"""

from __future__ import annotations

import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from connector.core import properties as hp
from connector.errors import AuthError, ConfigError, ConnectorError, HubSpotError, ScopeError
from connector.settings import Settings

HttpGet = Callable[[str, float], int]  # (url, timeout_s) -> HTTP status; raises OSError if no answer

WEBHOOK_TIMEOUT_S = 5.0
DAILY_HEADROOM = 0.10  # fail when less than 10 % of the account's daily budget is left
SHOWN_SETTINGS = ("HUBSPOT_API_BASE", "HUBSPOT_ACCESS_TOKEN", "HUBSPOT_CLIENT_SECRET", "DATABASE_URL",
                  "SCORING_CONFIG", "WEBHOOK_PUBLIC_URL", "TRUST_PROXY_HEADERS")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.name}: {self.detail}"


# Checks whose failure means the configuration itself is wrong: the other commands would refuse
# to start with exit 2, and so does doctor.
CONFIG_CHECKS = frozenset({"settings", "scoring config", "rules vs portal"})


def doctor_exit_code(checks: Sequence[Check]) -> int:
    """0 when every check passed; 2 when a configuration check failed (settings, scoring config,
    rules vs portal: what makes the other commands exit 2); else 1."""
    if not checks:
        return 1
    if any(not c.ok and c.name in CONFIG_CHECKS for c in checks):
        return 2
    return 0 if all(c.ok for c in checks) else 1


def run_doctor(settings: Settings, *, http_get: HttpGet | None = None, chat_probe: HttpGet | None = None,
               clock: Callable[[], float] = time.time) -> list[Check]:
    """Run every check against the deployment `settings` describe. Never raises ConnectorError."""
    checks = [_settings_check(settings), _scoring_check(settings)]
    hubspot = _hubspot_checks(settings)
    checks += hubspot
    store = _store_check(settings)
    checks.append(store)
    token_ok = bool(hubspot) and hubspot[0].ok
    checks.append(_store_vs_portal_check(settings, store.ok, token_ok))
    checks.append(_rejected_events_check(settings, store.ok, int(clock() * 1000)))
    checks.append(_alerts_check(settings, store.ok))
    checks.append(_chat_check(settings, chat_probe or _default_chat_probe))
    checks.append(_webhook_check(settings, http_get or default_http_get))
    return checks


# -- the checks -----------------------------------------------------------------------------------


def _settings_check(settings: Settings) -> Check:
    shown = settings.redacted()
    detail = ", ".join(f"{k}={shown[k] if shown[k] not in (None, '') else '(not set)'}" for k in SHOWN_SETTINGS)
    # Settings.from_env validated the values; the token and the client secret are needed here
    # (the web process refuses to start without the secret: it verifies every webhook with it).
    problems = settings._problems(("hubspot_access_token", "hubspot_client_secret"))
    if problems:
        return Check("settings", False, "; ".join(str(p) for p in problems) + f" [{detail}]")
    return Check("settings", True, detail)


def _scoring_check(settings: Settings) -> Check:
    from connector.core.rules_file import load_rules

    try:
        rules = load_rules(settings.scoring_config)
    except ConfigError as exc:
        first = "; ".join(str(p) for p in exc.problems[:3])
        more = f" (and {len(exc.problems) - 3} more)" if len(exc.problems) > 3 else ""
        return Check("scoring config", False, f"{first}{more}")
    return Check("scoring config", True,
                 f"{settings.scoring_config} loads; reads {len(rules.contact_properties)} contact properties")


def _hubspot_checks(settings: Settings) -> list[Check]:
    from connector.commands.setup import REQUIRED_SCOPES, missing_scopes, needed_scopes
    from connector.core.rules_file import load_rules
    from connector.gateway import Gateway

    names = ("token", "scopes", "properties", "MQL option", "rules vs portal", "engagement sources", "rate limit")
    if not settings.hubspot_access_token:
        return [Check(n, False, "not checked: HUBSPOT_ACCESS_TOKEN is not set") for n in names]
    gateway = Gateway.from_settings(settings)
    token = settings.hubspot_access_token
    checks: list[Check] = []
    try:
        granted = gateway.token_scopes(token)
        if granted is None:  # HubSpot could not list them: prove the token with a cheap read
            gateway.get_property(hp.LEAD_STATUS)
    except (HubSpotError, ConnectorError) as exc:
        reason = _token_failure(exc)
        checks.append(Check("token", False, reason))
        checks += [Check(n, False, "not checked: the token check failed") for n in names[1:]]
        return checks
    checks.append(Check("token", True, f"HubSpot accepts the token ({settings.hubspot_api_base})"))

    if granted is None:
        checks.append(Check("scopes", True, "unknown: HubSpot did not list the token's scopes "
                            "(a missing one shows as 403 in the checks below)"))
    else:
        try:
            rules = load_rules(settings.scoring_config)
        except ConfigError:
            rules = None  # the scoring config check names the problem; the base scopes still count
        needed = needed_scopes(rules) if rules is not None else REQUIRED_SCOPES
        missing, optional = missing_scopes(granted, rules)
        if missing:
            checks.append(Check("scopes", False, "missing required scope(s): " + "; ".join(
                f"{s} (to {needed[s]})" for s in missing)
                + " (add them to the app's requiredScopes, upload, and use the new token)"))
        else:
            note = f"; optional {', '.join(optional)} not granted" if optional else ""
            checks.append(Check("scopes", True, f"all {len(needed)} scopes the connector and its config need "
                                f"are granted{note}"))

    checks += _property_checks(gateway, settings)
    checks.append(engagement_sources_check(gateway, settings, granted))
    checks.append(daily_headroom_check(gateway.daily_remaining, gateway.daily_limit))
    return checks


def engagement_sources_check(gateway, settings: Settings, granted: Collection[str] | None) -> Check:
    """Which engagement sources the portal can serve, for the kinds the configured rules use: the
    token's scope for each (KIND_SCOPES; `granted` None: HubSpot did not list them) and, for page
    views, the tier (a rule with `fallback: rollups` is served by the rollups instead)."""
    from connector.commands.setup import KIND_SCOPES
    from connector.core.activity import KINDS, PAGE_VIEWS
    from connector.core.rules_file import load_rules
    from connector.engagement.enrich import page_views_refused

    try:
        rules = load_rules(settings.scoring_config)
    except ConfigError:
        return Check("engagement sources", False, "not checked: the scoring config does not load")
    used = {a.kind for a in rules.activities}
    parts, ok = [], True
    for kind in KINDS:
        if kind not in used:
            parts.append(f"{kind} not used")
            continue
        missing = [s for s in KIND_SCOPES.get(kind, {}) if granted is not None and s not in granted]
        if missing:
            ok = False
            parts.append(f"{kind} NOT served: the token lacks {', '.join(missing)}")
            continue
        if kind == PAGE_VIEWS:
            try:
                refused = page_views_refused(gateway)
            except (HubSpotError, ConnectorError) as exc:
                refused = _hubspot_failure(exc)
            if refused is not None:
                fallback = all(a.fallback for a in rules.activities if a.kind == PAGE_VIEWS)
                ok = ok and fallback
                parts.append(f"{kind} {'served by the rollups (fallback)' if fallback else 'NOT served'}: "
                             f"event analytics need Enterprise (HubSpot: {refused.replace('; ', ', ')})")
                continue
        unknown = " (scopes not listed by HubSpot)" if granted is None and KIND_SCOPES.get(kind) else ""
        parts.append(f"{kind} served{unknown}")
    return Check("engagement sources", ok, "; ".join(parts))


def _property_checks(gateway, settings: Settings) -> list[Check]:
    from connector.commands.setup import inspect_portal

    try:
        definitions = gateway.list_contact_properties()
    except (HubSpotError, ConnectorError) as exc:
        return [Check("properties", False, _hubspot_failure(exc)),
                Check("MQL option", False, "not checked: reading properties failed"),
                Check("rules vs portal", False, "not checked: reading properties failed")]
    portal = inspect_portal(definitions)
    if portal.missing or portal.wrong_type:
        parts = ([f"missing {', '.join(d['name'] for d in portal.missing)}"] if portal.missing else []) + [
            f"{d['name']} is {found}, expected {d['type']}" for d, found in portal.wrong_type]
        props = Check("properties", False, "; ".join(parts) + " (run `connector setup`)")
    else:
        props = Check("properties", True, f"all {len(hp.SETUP_DEFINITIONS)} connector properties exist "
                      f"in group {hp.GROUP_NAME} with the right types")
    if portal.lead_status is None:
        mql = Check("MQL option", False, f"{hp.LEAD_STATUS} does not exist in this portal")
    elif portal.has_mql_option:
        mql = Check("MQL option", True, f"{hp.LEAD_STATUS} has the {hp.MQL_STATUS} option")
    else:
        mql = Check("MQL option", False, f"{hp.LEAD_STATUS} has no {hp.MQL_STATUS} option (run `connector setup`)")
    return [props, mql, _rules_vs_portal_check(settings, definitions)]


def _rules_vs_portal_check(settings: Settings, definitions: dict[str, dict]) -> Check:
    from connector.core.portal_check import check_rules_against_portal
    from connector.core.rules_file import load_rules

    try:
        rules = load_rules(settings.scoring_config)
    except ConfigError:
        return Check("rules vs portal", False, "not checked: the scoring config does not load")
    problems = check_rules_against_portal(rules, definitions)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        return Check("rules vs portal", False, "; ".join(str(p) for p in problems[:3]) + more)
    warned = f"; warning: {rules.warnings[0]}" if rules.warnings else ""
    return Check("rules vs portal", True,
                 f"every rule's property exists in the portal with a fitting type and options{warned}")


def daily_headroom_check(remaining: int | None, limit: int | None) -> Check:
    # X-HubSpot-RateLimit-Daily / -Daily-Remaining are absent when HubSpot does not know them
    # (developers.hubspot.com/docs/guides/apps/api-usage/usage-details, "Rate limit headers").
    if remaining is None or not limit:
        return Check("rate limit", True, "daily usage unknown (HubSpot sent no daily rate-limit headers)")
    left = remaining / limit
    detail = f"{limit - remaining:,} of {limit:,} daily calls used, {remaining:,} left ({left:.0%})"
    if left < DAILY_HEADROOM:
        return Check("rate limit", False, detail + f": under {DAILY_HEADROOM:.0%} left; the budget is "
                     "shared by every app in the account and resets at midnight (account time zone)")
    return Check("rate limit", True, detail)


def _store_check(settings: Settings) -> Check:
    from connector.store import SCHEMA_VERSION, Store

    shown = settings.redacted()["DATABASE_URL"]
    path = sqlite_path(settings)
    if path is not None and not path.exists():
        # Opening it would create an empty database: doctor changes nothing.
        return Check("store", False, f"{path.resolve()} does not exist (DATABASE_URL={shown}): run "
                     "`connector migrate`, or point DATABASE_URL at the store the connector uses")
    store = None
    try:
        store = Store(settings.sqlalchemy_url, pool_size=settings.database_pool_size)
        store.ping()
        version = store.schema_version()
    except (ConnectorError, OSError) as exc:
        return Check("store", False, f"{shown}: {exc}")
    finally:
        if store is not None:
            store.dispose()
    if version != SCHEMA_VERSION:
        return Check("store", False, f"{shown} answers but its schema is at version {version}, "
                     f"expected {SCHEMA_VERSION}: run `connector migrate`")
    return Check("store", True, f"{shown} answers, schema version {version}")


def sqlite_path(settings: Settings) -> Path | None:
    """The SQLite file DATABASE_URL names (None for another database or an in-memory one)."""
    url = settings.sqlalchemy_url
    if not url.startswith("sqlite:///") or url in ("sqlite://", "sqlite:///:memory:"):
        return None
    return Path(url[len("sqlite:///"):].split("?", 1)[0])


def _store_vs_portal_check(settings: Settings, store_ok: bool, token_ok: bool) -> Check:
    """An empty store beside a portal the connector has scored: usually DATABASE_URL points at the
    wrong place (a new file, an ephemeral disk). Harmless (the next sync rebuilds it from HubSpot's
    lsc_state and rewrites nothing) but worth knowing before going live."""
    from connector.gateway import Gateway
    from connector.store import Store

    if not store_ok:
        return Check("store vs portal", False, "not checked: the store check failed")
    if not token_ok:
        return Check("store vs portal", False, "not checked: the token check failed")
    store = Store(settings.sqlalchemy_url, pool_size=settings.database_pool_size)
    try:
        known = store.count_rows("contact_state")
    except ConnectorError as exc:
        return Check("store vs portal", False, str(exc))
    finally:
        store.dispose()
    if known:
        return Check("store vs portal", True, f"the store knows {known:,} contacts")
    try:
        page = Gateway.from_settings(settings).search_contacts(
            properties=["hs_object_id"], filters=[{"propertyName": hp.STATE, "operator": "HAS_PROPERTY"}], limit=1)
    except (HubSpotError, ConnectorError) as exc:
        return Check("store vs portal", False, _hubspot_failure(exc))
    if not page.total:
        return Check("store vs portal", True, "the store is empty and no contact holds the connector's state yet "
                     "(a first sync)")
    return Check("store vs portal", False, f"the store is empty but HubSpot holds the connector's state for "
                 f"{page.total:,} contacts: is DATABASE_URL the store the connector uses? (The next sync "
                 "rebuilds it from HubSpot and rewrites nothing.)")


REJECTED_WINDOW_MS = 7 * 86_400_000


def _rejected_events_check(settings: Settings, store_ok: bool, now_ms: int) -> Check:
    """Malformed events the web process left out of deliveries it accepted, over the last 7 days:
    a HubSpot payload the connector does not understand would otherwise go unnoticed."""
    from connector.store import Store

    if not store_ok:
        return Check("webhook rejections", False, "not checked: the store check failed")
    store = Store(settings.sqlalchemy_url, pool_size=settings.database_pool_size)
    try:
        count, latest = store.rejected_since(now_ms - REJECTED_WINDOW_MS)
    except ConnectorError as exc:
        return Check("webhook rejections", False, str(exc))
    finally:
        store.dispose()
    if not count:
        return Check("webhook rejections", True, "no malformed webhook event in the last 7 days")
    assert latest is not None
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(latest["received_at"] / 1000))
    return Check("webhook rejections", False, f"{count} malformed webhook event(s) left out in the last 7 days "
                 f"(their deliveries' other events were kept); latest {when}: {latest['field']}: {latest['reason']}")


def _alerts_check(settings: Settings, store_ok: bool) -> Check:
    """Owner alerts the sender gave up on (they are kept, with the last error)."""
    from connector.store import Store

    if not store_ok:
        return Check("owner alerts", False, "not checked: the store check failed")
    store = Store(settings.sqlalchemy_url, pool_size=settings.database_pool_size)
    try:
        counts = store.alert_counts()
        failed = store.failed_deliveries(limit=1)
    except ConnectorError as exc:
        return Check("owner alerts", False, str(exc))
    finally:
        store.dispose()
    done = sum(n for k, n in counts.items() if k.endswith(" done"))
    pending = sum(n for k, n in counts.items() if k.endswith((" pending", " sending")))
    if not failed:
        return Check("owner alerts", True, f"{done} delivered, {pending} on their way, none failed")
    total = sum(n for k, n in counts.items() if k.endswith(" failed"))
    f = failed[0]
    return Check("owner alerts", False, f"{total} alert deliveries failed after every retry; latest: contact "
                 f"{f['contact_id']} via {f['channel']} ({f['attempts']} tries): {f['last_error']}")


def _default_chat_probe(url: str, timeout_s: float) -> int:
    from connector.handoff.channels import probe

    return probe(url, timeout_s)


def _chat_check(settings: Settings, chat_probe: HttpGet) -> Check:
    """Each configured Slack / Teams URL answers an empty message (which posts nothing): 2xx or 400
    is a live webhook refusing an empty text; 403, 404, 410 a revoked or deleted one. The URL is a
    secret: only its host is shown."""
    urls = [(name, url) for name, url in (("SLACK_WEBHOOK_URL", settings.slack_webhook_url),
                                          ("TEAMS_WEBHOOK_URL", settings.teams_webhook_url)) if url]
    if not urls:
        return Check("chat channels", True, "none configured (owner alerts go to HubSpot tasks only)")
    problems, fine = [], []
    for name, url in urls:
        host = urlsplit(url).hostname or "?"
        try:
            status = chat_probe(url, WEBHOOK_TIMEOUT_S)
        except (OSError, ValueError) as exc:
            problems.append(f"{name} ({host}): {_no_answer(exc)}")
            continue
        if status < 300 or status == 400:
            fine.append(f"{name} ({host}) answers")
        else:
            problems.append(f"{name} ({host}) answered {status}: the webhook looks revoked or deleted; "
                            "alerts to it will fail")
    if problems:
        return Check("chat channels", False, "; ".join(problems + fine))
    return Check("chat channels", True, "; ".join(fine))


def _webhook_check(settings: Settings, http_get: HttpGet) -> Check:
    if not settings.webhook_public_url:
        return Check("webhook URL", True, "not set (webhooks disabled)")
    parts = urlsplit(settings.webhook_public_url)
    url = f"{parts.scheme}://{parts.netloc}/healthz"
    note = ""
    if parts.path.rstrip("/") != "/webhooks/hubspot":
        note = f"; note: WEBHOOK_PUBLIC_URL's path is {parts.path or '/'!r}, the endpoint is /webhooks/hubspot"
    started = time.monotonic()
    try:
        status = http_get(url, WEBHOOK_TIMEOUT_S)
    except (OSError, ValueError) as exc:  # refused, DNS, TLS, timeout (URLError is an OSError)
        return Check("webhook URL", False, f"GET {url}: {_no_answer(exc)}{note}")
    took_ms = (time.monotonic() - started) * 1000
    if status != 200:
        return Check("webhook URL", False, f"GET {url} answered {status}, expected 200{note}")
    return Check("webhook URL", True, f"GET {url} answered 200 in {took_ms:.0f} ms{note}")


def default_http_get(url: str, timeout_s: float) -> int:
    """GET `url`; its HTTP status (redirects followed). Raises OSError when nothing answers."""
    from connector.handoff.channels import status_of

    return status_of(urllib.request.Request(url, headers={"User-Agent": "lead-scoring-connector doctor"}), timeout_s)


# -- messages -------------------------------------------------------------------------------------


def _no_answer(exc: BaseException) -> str:
    """Why nothing answered, in words: refused, unknown host, TLS, or a timeout."""
    reason = getattr(exc, "reason", None) or exc
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (nothing listens there: is the web process running on that host and port?)"
    if isinstance(reason, socket.gaierror):
        return f"host not found ({reason})"
    if isinstance(reason, ssl.SSLError):
        return f"TLS failed ({reason})"
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        return f"no answer within {WEBHOOK_TIMEOUT_S:.0f} s"
    return str(reason)


def _token_failure(exc: Exception) -> str:
    if isinstance(exc, AuthError):
        return "HubSpot rejected HUBSPOT_ACCESS_TOKEN (401): copy the app's access token again (Auth tab)"
    return _hubspot_failure(exc)


def _hubspot_failure(exc: Exception) -> str:
    if isinstance(exc, ScopeError):
        return "missing scope(s): " + (", ".join(exc.scopes) if exc.scopes else str(exc))
    status = getattr(exc, "status", None)
    return f"{type(exc).__name__}{f' ({status})' if status else ''}: {exc}"
