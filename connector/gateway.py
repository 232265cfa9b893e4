"""The only module that talks to HubSpot.

It owns the SDK client (hubspot-api-client), timeouts, retries (tenacity), the client-side rate
limiter, paging, the 10,000-result search restart, 207 batch answers, and the mapping of HubSpot
errors to the connector's exceptions (connector.errors). Everything else gets plain dicts.

Why typed APIs with `_preload_content=False`: the SDK's typed calls give us its urllib3 pool
(keep-alive, thread-safe) and its paths, but deserialising into models costs about 0.2 ms per
contact (docs/hubspot-facts.md, "The Python SDK"); taking the raw answer and `json.loads` it is
~4x cheaper and keeps the rate-limit headers. The SDK's own urllib3 retries are turned off
(`retry=False`): it does not retry POST and ends in MaxRetryError (docs/hubspot-facts.md, "The
Python SDK"); retrying happens here, once, with tenacity.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

import tenacity
import urllib3

from connector.errors import (
    AuthError,
    DailyLimitError,
    HubSpotError,
    NotFoundError,
    RateLimitError,
    ScopeError,
    ServerError,
    UnreachableError,
    ValidationError,
)
from connector.ratelimit import SlidingWindow

if TYPE_CHECKING:
    from connector.settings import Settings

log = logging.getLogger(__name__)

# Search: at most 200 per page and 10,000 results per query; paging past that answers 400
# (developers.hubspot.com/docs/api/crm/search, "Limitations").
SEARCH_PAGE_SIZE = 200
SEARCH_RESULT_CAP = 10_000
# Batch read/update: 100 inputs per request (developers.hubspot.com/docs/api/crm/contacts, batch).
BATCH_SIZE = 100


@dataclass
class Counters:
    """What this gateway did, for the run summary."""

    requests: int = 0
    rate_limited: int = 0
    retries: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, kind: str) -> None:
        with self._lock:
            self.requests += 1
            self.by_kind[kind] = self.by_kind.get(kind, 0) + 1

    def add(self, name: str) -> None:
        """+1 on `rate_limited` or `retries`, from any thread."""
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)

    def snapshot(self) -> Counters:
        with self._lock:
            return Counters(self.requests, self.rate_limited, self.retries, dict(self.by_kind))

    def since(self, before: Counters) -> Counters:
        """What was counted after `before` (one run's share of a gateway shared by a process)."""
        now = self.snapshot()
        return Counters(now.requests - before.requests, now.rate_limited - before.rate_limited,
                        now.retries - before.retries,
                        {k: v - before.by_kind.get(k, 0) for k, v in now.by_kind.items()})


@dataclass(frozen=True)
class SearchPage:
    results: list[dict]
    after: str | None
    total: int


@dataclass(frozen=True)
class BatchOutcome:
    """A batch write's result: ids HubSpot applied, and a message per id it refused (207)."""

    ok: list[str]
    failed: dict[str, str]


class _Transient(Exception):
    """Internal: a failure worth retrying, with the wait HubSpot asked for (if any)."""

    def __init__(self, error: HubSpotError, retry_after: float | None):
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class Gateway:
    """HubSpot CRM calls the connector needs, with limits, retries and error mapping."""

    @classmethod
    def from_settings(cls, settings: Settings, **kw: Any) -> Self:
        """A gateway with the settings' token, API base, budgets and timeouts (the twin of
        `Store.from_settings`); `kw` passes test doubles (clock, sleep) through."""
        return cls(settings.hubspot_access_token or "", settings.hubspot_api_base,
                   requests_per_10s=settings.hubspot_requests_per_10s,
                   search_per_second=settings.hubspot_search_per_second,
                   connect_timeout_s=settings.http_connect_timeout_s,
                   read_timeout_s=settings.http_read_timeout_s, **kw)

    def __init__(self, access_token: str, api_base: str = "https://api.hubapi.com", *,
                 requests_per_10s: int = 100, search_per_second: int = 5,
                 connect_timeout_s: float = 5.0, read_timeout_s: float = 30.0,
                 max_attempts: int = 8, max_wait_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] | None = None,
                 jitter: Callable[[], float] = random.random):
        """`clock` and `sleep` drive the rate limiter and the retry waits; tests pass fakes."""
        import hubspot  # the only place the SDK is imported

        self._access_token = access_token
        self._token_info: dict[str, dict | None] = {}
        self._client = hubspot.Client.create(access_token=access_token, host=api_base.rstrip("/"), retry=False)
        crm = self._client.crm
        # Each attribute access builds a new ApiClient and pool (docs/hubspot-facts.md, "The Python SDK"): build once.
        self._contacts_basic = crm.contacts.basic_api
        self._contacts_batch = crm.contacts.batch_api
        self._contacts_search = crm.contacts.search_api
        self._properties = crm.properties.core_api
        self._groups = crm.properties.groups_api
        self._owners = crm.owners.owners_api
        self._timeout = (connect_timeout_s, read_timeout_s)
        self.window = SlidingWindow(requests_per_10s, 10.0, clock=clock, sleep=sleep)
        self.search_window = SlidingWindow(search_per_second, 1.0, clock=clock, sleep=sleep)
        self.counters = Counters()
        self.daily_remaining: int | None = None
        self.daily_limit: int | None = None
        self._clock = clock
        self._daily_blocked_until: float | None = None
        self._sleep = sleep or time.sleep
        self._jitter = jitter
        self._max_attempts = max_attempts
        self._max_wait_s = max_wait_s

    # -- contacts --------------------------------------------------------------------------

    def search_contacts(self, *, properties: Sequence[str], filters: Sequence[dict] = (),
                        after: str | None = None, limit: int = SEARCH_PAGE_SIZE) -> SearchPage:
        """One page of contacts matching all `filters`, sorted by id ascending."""
        body: dict[str, Any] = {
            "filterGroups": [{"filters": list(filters)}] if filters else [],
            # Search takes `sorts` as given: the object form sorts by id (docs/hubspot-facts.md, "The Python SDK").
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": list(properties),
            "limit": limit,
        }
        if after:
            body["after"] = after
        data = self._call("search",
                          lambda **kw: self._contacts_search.do_search(public_object_search_request=body, **kw))
        nxt = (data.get("paging") or {}).get("next", {}).get("after")
        return SearchPage(data.get("results", []), nxt, int(data.get("total", 0)))

    def iter_search(self, *, properties: Sequence[str], filters: Sequence[dict] = (),
                    after_id: str | None = None) -> Iterator[list[dict]]:
        """Every matching contact with id > `after_id`, in pages, ascending by id.

        A search query stops at 10,000 results (400 past it): at the cap a new query starts with
        `hs_object_id > last id seen`, as Airbyte's HubSpot source does.
        """
        last_id = after_id
        while True:
            query = list(filters)
            if last_id is not None:
                query.append({"propertyName": "hs_object_id", "operator": "GT", "value": last_id})
            after: str | None = None
            seen = 0
            while True:
                page = self.search_contacts(properties=properties, filters=query, after=after)
                if page.results:
                    last_id = page.results[-1]["id"]
                    seen += len(page.results)
                    yield page.results
                if not page.after:
                    return
                if seen + SEARCH_PAGE_SIZE > SEARCH_RESULT_CAP:
                    break  # restart the query from last_id
                after = page.after

    def get_contact(self, id_or_email: str, properties: Sequence[str]) -> dict:
        id_property = "email" if "@" in id_or_email else None
        return self._call("get", lambda **kw: self._contacts_basic.get_by_id(
            id_or_email, properties=list(properties), id_property=id_property, **kw))

    def batch_read_contacts(self, ids: Sequence[str], properties: Sequence[str]) -> list[dict]:
        """Current values of up to 100 contacts; missing (deleted) ids are simply absent."""
        if not ids:
            return []
        body = {"inputs": [{"id": str(i)} for i in ids], "properties": list(properties)}
        # `archived` is left out: HubSpot's default is false, and the SDK would send Python's
        # spelling "False" where HubSpot's spec has the boolean `false`.
        data = self._call("batch_read", lambda **kw: self._contacts_batch.read(
            batch_read_input_simple_public_object_id=body, **kw))
        return data.get("results", [])

    def batch_update_contacts(self, updates: Sequence[tuple[str, dict[str, str]]]) -> BatchOutcome:
        """Write up to 100 contacts. A 207 answer lists per-record errors: those ids are `failed`."""
        if not updates:
            return BatchOutcome([], {})
        if len(updates) > BATCH_SIZE:
            raise ValueError(f"at most {BATCH_SIZE} updates per batch, got {len(updates)}")
        body = {"inputs": [{"id": cid, "properties": props} for cid, props in updates]}
        data = self._call("batch_update", lambda **kw: self._contacts_batch.update(
            batch_input_simple_public_object_batch_input=body, **kw))
        ok = [str(r["id"]) for r in data.get("results", [])]
        failed: dict[str, str] = {}
        for err in data.get("errors", []) or []:
            ids = _ids_in_error(err) or [cid for cid, _ in updates if cid not in ok]
            for cid in ids:
                failed[cid] = err.get("message", "refused by HubSpot")
        return BatchOutcome(ok, failed)

    # -- properties ------------------------------------------------------------------------

    def get_property(self, name: str) -> dict | None:
        try:
            return self._call("properties", lambda **kw: self._properties.get_by_name("contacts", name, **kw))
        except NotFoundError:
            return None

    def list_contact_properties(self) -> dict[str, dict]:
        """Every contact property definition of the portal, by name: one call (GET
        /crm/v3/properties/contacts answers all of them, unpaged)."""
        data = self._call("properties", lambda **kw: self._properties.get_all("contacts", **kw))
        return {str(d["name"]): d for d in data.get("results", [])}

    def create_property(self, definition: dict) -> dict:
        return self._call("properties",
                          lambda **kw: self._properties.create("contacts", property_create=definition, **kw))

    def update_property(self, name: str, changes: dict) -> dict:
        """PATCH a property. Note: `options` REPLACES the whole option list (docs/hubspot-facts.md, "CRM semantics")."""
        return self._call("properties",
                          lambda **kw: self._properties.update("contacts", name, property_update=changes, **kw))

    def get_group(self, name: str) -> dict | None:
        try:
            return self._call("properties", lambda **kw: self._groups.get_by_name("contacts", name, **kw))
        except NotFoundError:
            return None

    def create_group(self, name: str, label: str) -> dict:
        return self._call("properties", lambda **kw: self._groups.create(
            "contacts", property_group_create={"name": name, "label": label}, **kw))

    # -- token and owners ----------------------------------------------------------------------

    def token_scopes(self, access_token: str) -> list[str] | None:
        """The scopes granted to this private-app token, or None when HubSpot cannot say."""
        data = self.token_info(access_token)
        scopes = data.get("scopes") if data else None
        return [str(s) for s in scopes] if isinstance(scopes, list) else None

    def own_app_id(self) -> str | None:
        """The id of the app this gateway's token belongs to: HubSpot puts it in the sourceId of
        the changes the app's API calls make (docs/hubspot-facts.md, "Webhooks"). None when
        HubSpot cannot say."""
        data = self.token_info(self._access_token)
        app = data.get("appId") if data else None
        return str(app) if app is not None else None

    def token_info(self, access_token: str) -> dict | None:
        """POST /oauth/v2/private-apps/get/access-token-info {"tokenKey": token}: userId, hubId,
        appId and scopes (developers.hubspot.com/docs/api/private-apps, "Get access token info"),
        or None when HubSpot has no such endpoint for the token. The typed SDK has no method for
        it: it goes through the SDK's generic `call_api`, on the same pool. Kept for the process's
        life: the preflight asks, the webhook worker's echo check reuses the answer.
        """
        if access_token in self._token_info:
            return self._token_info[access_token]
        api_client = self._contacts_basic.api_client

        def send(**kw: Any) -> Any:
            return api_client.call_api("/oauth/v2/private-apps/get/access-token-info", "POST",
                                       body={"tokenKey": access_token},
                                       header_params={"Content-Type": "application/json",
                                                      "Accept": "application/json"},
                                       auth_settings=["oauth2"], response_types_map={}, **kw)
        try:
            # Few attempts: this is the preflight call, and an unreachable API base should be
            # reported in seconds, not after the full retry schedule.
            data = self._call("token_info", send, attempts=3)
        except NotFoundError:
            data = None
        info = data if isinstance(data, dict) else None
        self._token_info[access_token] = info
        return info

    def get_owner(self, owner_id: str) -> dict | None:
        try:
            return self._call("owners",
                              lambda **kw: self._owners.get_by_id(owner_id, id_property="id", **kw))
        except NotFoundError:
            return None

    # -- the one way every call goes ----------------------------------------------------------

    def _call(self, kind: str, send: Callable[..., Any], attempts: int | None = None) -> Any:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Transient),
            stop=tenacity.stop_after_attempt(attempts or self._max_attempts),
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=self._before_retry,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._send_once(kind, send)
        except _Transient as exc:
            raise exc.error from None
        raise AssertionError("unreachable")

    def _send_once(self, kind: str, send: Callable[..., Any]) -> Any:
        if self._daily_blocked_until is not None and self._clock() < self._daily_blocked_until:
            # The day's budget is spent: no request may burn it further (docs/hubspot-facts.md, "Limits").
            raise DailyLimitError("HubSpot's daily API limit for this account is used up; waiting for it to reset",
                                  policy="DAILY", status=429)
        window = self.search_window if kind == "search" else self.window
        window.acquire()
        self.counters.count(kind)
        try:
            response = send(_preload_content=False, _request_timeout=self._timeout)
            body = response.data
            headers = response.headers
            response.release_conn()
        except urllib3.exceptions.HTTPError as exc:  # connection refused, reset, timeout, dropped
            raise _Transient(UnreachableError(f"cannot reach HubSpot: {type(exc).__name__}: {_first_line(exc)}"),
                             None) from exc
        except Exception as exc:  # the SDK's ApiException family: no common base across packages
            status = getattr(exc, "status", None)
            if status is None:
                raise
            raise self._map_error(int(status), getattr(exc, "headers", None) or {}, getattr(exc, "body", None),
                                  window) from None
        finally:
            window.release()
        if kind != "search":
            self._learn(headers)
        try:
            return json.loads(body) if body else {}
        except ValueError:
            raise _Transient(ServerError("HubSpot answered with something that is not JSON"), None) from None

    def _learn(self, headers: Any) -> None:
        limit = _int_header(headers, "X-HubSpot-RateLimit-Max")
        remaining = _int_header(headers, "X-HubSpot-RateLimit-Remaining")
        interval = _int_header(headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
        if limit:
            self.window.observe(limit, remaining, interval / 1000 if interval else None)
        daily = _int_header(headers, "X-HubSpot-RateLimit-Daily-Remaining")
        if daily is not None:
            self.daily_remaining = daily
            self.daily_limit = _int_header(headers, "X-HubSpot-RateLimit-Daily")

    def _map_error(self, status: int, headers: Any, raw: Any, window: SlidingWindow) -> Exception:
        """HubSpot's error answer -> our exception; transient ones wrapped for a retry."""
        body = _json_body(raw)
        message = str(body.get("message") or f"HTTP {status}")
        category = body.get("category") or body.get("errorType")
        common: dict[str, Any] = {"status": status, "category": category, "correlation_id": body.get("correlationId")}
        if status == 429:
            self.counters.add("rate_limited")
            policy = body.get("policyName")
            # DAILY: the account's budget for the day is gone; retrying only burns it further
            # (developers.hubspot.com/docs/guides/apps/api-usage/usage-details).
            if policy == "DAILY":
                # Hold every call until HubSpot's Retry-After, else an hour; then one call probes.
                self._daily_blocked_until = self._clock() + min(_float_header(headers, "Retry-After") or 3600.0,
                                                                86_400.0)
                return DailyLimitError("HubSpot's daily API limit for this account is used up; the run stops "
                                       "and resumes after midnight (account time zone)", policy=policy, **common)
            retry_after = _float_header(headers, "Retry-After")
            wait = retry_after if retry_after is not None else (1.0 if policy == "SECONDLY" else window.interval_s / 2)
            window.penalise(wait)
            return _Transient(RateLimitError(f"rate limited by HubSpot ({policy or 'unknown policy'})", policy=policy,
                                             **common), retry_after)
        if status == 401:
            return AuthError("HubSpot rejected the access token (401): check HUBSPOT_ACCESS_TOKEN", **common)
        if status == 403:
            scopes = _missing_scopes(body)
            if category == "MISSING_SCOPES" or scopes:
                named = ", ".join(scopes) if scopes else "see HubSpot's message"
                return ScopeError(f"the access token lacks required scopes: {named}", scopes=scopes, **common)
            return HubSpotError(f"HubSpot refused the request (403): {message}", **common)
        if status == 404:
            return NotFoundError(message, **common)
        if status >= 500:
            return _Transient(ServerError(f"HubSpot server error {status}: {message}", **common),
                              _float_header(headers, "Retry-After"))
        if status in (400, 409, 422):
            return ValidationError(message, **common)
        return HubSpotError(f"HubSpot answered {status}: {message}", **common)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            return min(exc.retry_after, self._max_wait_s)
        # Exponential with equal jitter (half fixed, half random), capped: 0.5, 1, 2, 4 ... seconds.
        base = min(self._max_wait_s, 0.5 * 2 ** (state.attempt_number - 1))
        return base / 2 + self._jitter() * base / 2

    def _before_retry(self, state: tenacity.RetryCallState) -> None:
        self.counters.add("retries")
        exc = state.outcome.exception() if state.outcome else None
        log.debug("retrying HubSpot call after: %s", exc)


def _ids_in_error(err: dict) -> list[str]:
    ctx = err.get("context") or {}
    ids = ctx.get("ids") or ctx.get("id") or []
    if isinstance(ids, str):
        ids = [ids]
    return [str(i) for i in ids]


def _missing_scopes(body: dict) -> list[str]:
    scopes: list[str] = []
    for err in body.get("errors", []) or []:
        ctx = err.get("context") or {}
        for key in ("requiredGranularScopes", "requiredScopes", "missingScopes"):
            scopes.extend(str(s) for s in ctx.get(key, []) or [])
    ctx = body.get("context") or {}
    for key in ("requiredGranularScopes", "requiredScopes", "missingScopes"):
        scopes.extend(str(s) for s in ctx.get(key, []) or [])
    return sorted(set(scopes))


def _json_body(raw: Any) -> dict:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _int_header(headers: Any, name: str) -> int | None:
    value = _header(headers, name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _float_header(headers: Any, name: str) -> float | None:
    value = _header(headers, name)
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _header(headers: Any, name: str) -> str | None:
    """urllib3's HTTPHeaderDict (answers and ApiException.headers alike) looks names up case-insensitively."""
    return headers.get(name) if headers is not None else None


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else ""
