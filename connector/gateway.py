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

What the logs and errors say: every call site names its HTTP method and path (a `_Request`), so
each attempt logs one DEBUG line (method, path, status or the connection error's class, elapsed
ms, attempt number; never a header, token, query string or body), a call HubSpot takes long to
answer logs a WARNING every `watchdog_s` while it waits (one daemon thread per process watches
the calls in flight: `_Watchdog`), and every HubSpotError raised here names the call, with
HubSpot's message, category and correlation id when it sent them.
"""

from __future__ import annotations

import functools
import json
import logging
import os
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
# Association type id task -> contact (HUBSPOT_DEFINED) on creating a task (docs/hubspot-facts.md,
# "History, outcomes and handoff"; *unverified* beyond third-party code).
TASK_TO_CONTACT = 204
HISTORY_PAGE_SIZE = 50  # list pages with propertiesWithHistory (docs/hubspot-facts.md, "Limits")
# List pages (GET /crm/v3/objects/contacts): 100 is the largest `limit` the list endpoint takes
# (docs/hubspot-facts.md, "Limits"; the spec's default is 10).
LIST_PAGE_SIZE = 100


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


class _SdkApi:
    """A gateway attribute holding one of the SDK's API objects, built on first use and then kept:
    every attribute access of the SDK's discovery builds a new ApiClient and pool
    (docs/hubspot-facts.md, "The Python SDK"), and building one imports its modules, which a
    command that never makes such a call need not pay. Two threads' first uses may both build one;
    the object kept last wins, the other is dropped."""

    def __init__(self, path: str):
        self.path = path.split(".")  # below the client, e.g. "crm.contacts.basic_api"

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, gateway: Any, owner: type | None = None) -> Any:
        if gateway is None:
            return self
        api = functools.reduce(getattr, self.path, gateway._client)
        gateway.__dict__[self.name] = api  # an instance attribute from now on: no second build
        return api


@dataclass(frozen=True, slots=True)
class NewTask:
    """An owner-alert task to create: `token` is one word that names it, in its body too."""

    token: str
    contact_id: str
    subject: str
    body: str
    due_ms: int
    owner_id: str | None


def _task_input(task: NewTask) -> dict:
    """The create input of a task associated with its contact (Tasks v3; `hs_timestamp` is the
    due date, required)."""
    properties = {"hs_timestamp": str(task.due_ms), "hs_task_subject": task.subject[:255],
                  "hs_task_body": task.body, "hs_task_status": "NOT_STARTED", "hs_task_priority": "HIGH",
                  "hs_task_type": "CALL"}
    if task.owner_id:
        properties["hubspot_owner_id"] = task.owner_id
    return {"properties": properties, "associations": [{
        "to": {"id": str(task.contact_id)},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": TASK_TO_CONTACT}]}]}


@dataclass(frozen=True, slots=True)
class _Request:
    """What one call sends, as the logs and errors name it: method, path (no query string: its
    values are not ours to print) and, for batch calls, how many inputs. Never a body."""

    method: str
    path: str
    inputs: int | None = None
    about: str | None = None  # what a path alone does not name, e.g. "property lsc_score"

    def __str__(self) -> str:
        path = self.path if self.path.isprintable() else _escaped(self.path)
        text = f"{self.method} {path}"
        notes = [f"{self.inputs} input{'' if self.inputs == 1 else 's'}"] if self.inputs is not None else []
        if self.about:
            notes.append(self.about if self.about.isprintable() else _escaped(self.about))
        return f"{text} ({'; '.join(notes)})" if notes else text


class _Flight:
    """One attempt on the wire, as the watchdog sees it (monotonic seconds)."""

    __slots__ = ("request", "attempt", "started", "watchdog_s", "read_timeout_s", "warn_at", "warnings")

    def __init__(self, request: _Request, attempt: int, watchdog_s: float, read_timeout_s: float):
        self.request = request
        self.attempt = attempt
        self.started = time.monotonic()
        self.watchdog_s = watchdog_s
        self.read_timeout_s = read_timeout_s
        self.warn_at = self.started + watchdog_s
        self.warnings = 0


class _Watchdog:
    """One daemon thread per process that warns about calls HubSpot has not answered yet.

    Cheap per call: `start` and `finish` are a dict insert and delete under a lock; the thread is
    woken only when a call is due before its next planned look (in steady state never: it sleeps
    until the oldest call in flight is due, or `watchdog_s` when none is), so there is no thread or
    timer per call. Its clock is time.monotonic, not the gateway's `clock`: tests fake that one to
    drive the limiter, and a watchdog on a fake clock would never (or always) fire.
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[int, _Flight] = {}
        self._wake = threading.Event()
        self._next_look = float("inf")
        self._idle_s = 10.0
        self._thread: threading.Thread | None = None

    def start(self, flight: _Flight) -> None:
        with self._lock:
            self._flights[id(flight)] = flight
            self._idle_s = flight.watchdog_s
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="hubspot-watchdog", daemon=True)
                self._thread.start()
        if flight.warn_at < self._next_look:
            self._wake.set()

    def finish(self, flight: _Flight) -> None:
        with self._lock:
            self._flights.pop(id(flight), None)

    def _run(self) -> None:
        while True:
            now = time.monotonic()
            due: list[tuple[_Flight, float]] = []
            with self._lock:
                next_look = now + self._idle_s
                for f in self._flights.values():
                    if f.warn_at <= now:
                        f.warnings += 1
                        f.warn_at = f.started + (f.warnings + 1) * f.watchdog_s
                        due.append((f, f.warnings * f.watchdog_s))
                    next_look = min(next_look, f.warn_at)
                self._next_look = next_look
            for f, waited in due:
                log.warning("HubSpot has not answered %s for %s s (attempt %d; read timeout %s s)",
                            f.request, f"{waited:g}", f.attempt, f"{f.read_timeout_s:g}")
            self._wake.wait(max(next_look - time.monotonic(), 0.0))
            self._wake.clear()


_WATCHDOG = _Watchdog()
if hasattr(os, "register_at_fork"):  # a forked worker has no monitor thread: start afresh there
    os.register_at_fork(after_in_child=_WATCHDOG._reset)


class _Transient(Exception):
    """Internal: a failure worth retrying, with the wait HubSpot asked for (if any)."""

    def __init__(self, error: HubSpotError, retry_after: float | None):
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class Gateway:
    """HubSpot CRM calls the connector needs, with limits, retries and error mapping."""

    # The SDK's API objects, each built on first use and kept (_SdkApi).
    _contacts_basic = _SdkApi("crm.contacts.basic_api")
    _contacts_batch = _SdkApi("crm.contacts.batch_api")
    _contacts_search = _SdkApi("crm.contacts.search_api")
    _properties = _SdkApi("crm.properties.core_api")
    _groups = _SdkApi("crm.properties.groups_api")
    _owners = _SdkApi("crm.owners.owners_api")
    _tasks_search = _SdkApi("crm.objects.tasks.search_api")
    _tasks_batch = _SdkApi("crm.objects.tasks.batch_api")

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
                 jitter: Callable[[], float] = random.random, watchdog_s: float | None = 10.0):
        """`clock` and `sleep` drive the rate limiter and the retry waits; tests pass fakes.
        `watchdog_s`: warn every so many seconds a call waits for HubSpot's answer (None or 0: never)."""
        import hubspot  # the only place the SDK is imported

        self._access_token = access_token
        self._token_info: dict[str, dict | None] = {}
        self._client = hubspot.Client.create(access_token=access_token, host=api_base.rstrip("/"), retry=False)
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
        self._watchdog_s = watchdog_s or None

    # -- contacts --------------------------------------------------------------------------

    def search_contacts(self, *, properties: Sequence[str], filters: Sequence[dict] = (),
                        after: str | None = None, limit: int = SEARCH_PAGE_SIZE, descending: bool = False,
                        cancelled: Callable[[], bool] | None = None) -> SearchPage:
        """One page of contacts matching all `filters`, sorted by id (ascending unless `descending`).
        `cancelled`: as for `list_contacts`."""
        body: dict[str, Any] = {
            "filterGroups": [{"filters": list(filters)}] if filters else [],
            # Search takes `sorts` as given: the object form sorts by id (docs/hubspot-facts.md, "The Python SDK");
            # one sort, either direction (developers.hubspot.com/docs/api/crm/search, "Sorting").
            "sorts": [{"propertyName": "hs_object_id", "direction": "DESCENDING" if descending else "ASCENDING"}],
            "properties": list(properties),
            "limit": limit,
        }
        if after:
            body["after"] = after
        data = self._call("search", _Request("POST", "/crm/v3/objects/contacts/search"),
                          lambda **kw: self._contacts_search.do_search(public_object_search_request=body, **kw),
                          cancelled=cancelled)
        nxt = (data.get("paging") or {}).get("next", {}).get("after")
        return SearchPage(data.get("results", []), nxt, int(data.get("total", 0)))

    def iter_search(self, *, properties: Sequence[str], filters: Sequence[dict] = (),
                    after_id: str | None = None, below_id: str | None = None, descending: bool = False,
                    on_total: Callable[[int], None] | None = None,
                    cancelled: Callable[[], bool] | None = None) -> Iterator[list[dict]]:
        """Every matching contact with id > `after_id` and id < `below_id`, in pages, by id
        (ascending, or `descending`). `on_total` hears how many match, from the first page
        (HubSpot's `total`), for a progress bar. `cancelled`: as for `list_contacts`.

        A search query stops at 10,000 results (400 past it): at the cap a new query starts past
        the last id seen (`hs_object_id > last id`, as Airbyte's HubSpot source does; `<` when
        descending).
        """
        floor, ceiling = after_id, below_id
        while True:
            query = list(filters)
            if floor is not None:
                query.append({"propertyName": "hs_object_id", "operator": "GT", "value": floor})
            if ceiling is not None:
                query.append({"propertyName": "hs_object_id", "operator": "LT", "value": ceiling})
            after: str | None = None
            seen = 0
            while True:
                page = self.search_contacts(properties=properties, filters=query, after=after, descending=descending,
                                            cancelled=cancelled)
                if on_total is not None:
                    on_total(page.total)
                    on_total = None
                if page.results:
                    seen += len(page.results)
                    if descending:
                        ceiling = page.results[-1]["id"]
                    else:
                        floor = page.results[-1]["id"]
                    yield page.results
                if not page.after:
                    return
                if seen + SEARCH_PAGE_SIZE > SEARCH_RESULT_CAP:
                    break  # restart the query past the last id seen
                after = page.after

    def list_contacts(self, *, properties: Sequence[str], after: str | None = None,
                      limit: int = LIST_PAGE_SIZE,
                      cancelled: Callable[[], bool] | None = None) -> tuple[list[dict], str | None]:
        """One page of GET /crm/v3/objects/contacts and the `after` token of the next (None: that
        was the last). The token is HubSpot's opaque paging cursor ("the paging cursor token of the
        last successfully read resource", the contacts spec): it is only ever passed back.

        *unverified*: that the list comes in ascending id order. HubSpot's docs do not say; it is
        what clients observe and what the sandbox does. A full pass checks it on every page
        (connector.sync) rather than trusting it. `cancelled`: give up (connector.ratelimit.Cancelled)
        while waiting for a slot in the window once it says so.
        """
        return self._list_page(properties, (), after, limit, cancelled)

    def _list_page(self, properties: Sequence[str], with_history: Sequence[str], after: str | None,
                   limit: int, cancelled: Callable[[], bool] | None = None) -> tuple[list[dict], str | None]:
        # Kind "list" is a background request in the 10-second window: it yields to every other
        # call waiting there (a sync's writes first), see SlidingWindow.acquire.
        extra = {"properties_with_history": list(with_history)} if with_history else {}
        data = self._call("list", _Request("GET", "/crm/v3/objects/contacts"),
                          lambda **kw: self._contacts_basic.get_page(
            limit=limit, after=after, properties=list(properties), **extra, **kw), cancelled=cancelled)
        nxt = (data.get("paging") or {}).get("next", {}).get("after")
        return data.get("results", []), nxt

    def get_contact(self, id_or_email: str, properties: Sequence[str]) -> dict:
        id_property = "email" if "@" in id_or_email else None
        return self._call("get", _Request("GET", f"/crm/v3/objects/contacts/{id_or_email}"),
                          lambda **kw: self._contacts_basic.get_by_id(
            id_or_email, properties=list(properties), id_property=id_property, **kw))

    def batch_read_contacts(self, ids: Sequence[str], properties: Sequence[str]) -> list[dict]:
        """Current values of up to 100 contacts; missing (deleted) ids are simply absent."""
        if not ids:
            return []
        body = {"inputs": [{"id": str(i)} for i in ids], "properties": list(properties)}
        # `archived` is left out: HubSpot's default is false, and the SDK would send Python's
        # spelling "False" where HubSpot's spec has the boolean `false`.
        data = self._call("batch_read", _Request("POST", "/crm/v3/objects/contacts/batch/read", len(ids)),
                          lambda **kw: self._contacts_batch.read(
            batch_read_input_simple_public_object_id=body, **kw))
        return data.get("results", [])

    def list_contacts_with_history(self, *, properties: Sequence[str], with_history: Sequence[str],
                                   after: str | None = None,
                                   limit: int = HISTORY_PAGE_SIZE) -> tuple[list[dict], str | None]:
        """One page of the contact list with `propertiesWithHistory` (every version, newest first),
        ascending by id, and the cursor of the next page (None: that was the last).

        Asking for history lowers the page size to 50 (docs/hubspot-facts.md, "Limits").
        """
        return self._list_page(properties, with_history, after, limit)

    def batch_update_contacts(self, updates: Sequence[tuple[str, dict[str, str]]]) -> BatchOutcome:
        """Write up to 100 contacts. A 207 answer lists per-record errors: those ids are `failed`."""
        if not updates:
            return BatchOutcome([], {})
        if len(updates) > BATCH_SIZE:
            raise ValueError(f"at most {BATCH_SIZE} updates per batch, got {len(updates)}")
        body = {"inputs": [{"id": cid, "properties": props} for cid, props in updates]}
        data = self._call("batch_update", _Request("POST", "/crm/v3/objects/contacts/batch/update", len(updates)),
                          lambda **kw: self._contacts_batch.update(
            batch_input_simple_public_object_batch_input=body, **kw))
        ok = [str(r["id"]) for r in data.get("results", [])]
        failed: dict[str, str] = {}
        for err in data.get("errors", []) or []:
            ids = _ids_in_error(err) or [cid for cid, _ in updates if cid not in ok]
            for cid in ids:
                failed[cid] = err.get("message", "refused by HubSpot")
        return BatchOutcome(ok, failed)

    # -- properties ------------------------------------------------------------------------

    # -- tasks (owner alerts) ----------------------------------------------------------------

    def create_tasks(self, tasks: Sequence[NewTask]) -> dict[str, str]:
        """Up to 100 tasks in one call (POST /crm/v3/objects/tasks/batch/create, the Tasks v3
        batch API); returns task id by `NewTask.token` for each task the answer shows made. Each
        input carries its token as `objectWriteTraceId` and in its body; an answer object is
        matched by the one, else the other (neither the echo nor the order of `results` is
        documented). A token missing from the result: the caller looks for that task itself."""
        if not tasks:
            return {}
        if len(tasks) > BATCH_SIZE:
            raise ValueError(f"at most {BATCH_SIZE} tasks per batch, got {len(tasks)}")
        body = {"inputs": [{**_task_input(t), "objectWriteTraceId": t.token} for t in tasks]}
        data = self._call("tasks", _Request("POST", "/crm/v3/objects/tasks/batch/create", len(tasks)),
                          lambda **kw: self._tasks_batch.create(
            batch_input_simple_public_object_batch_input_for_create=body, **kw))
        tokens = {t.token for t in tasks}
        made: dict[str, str] = {}
        for result in data.get("results") or []:
            token = result.get("objectWriteTraceId")
            if token not in tokens:
                text = str((result.get("properties") or {}).get("hs_task_body") or "")
                token = next((t for t in tokens if t in text), None)
            if token is not None and result.get("id") is not None:
                made[token] = str(result["id"])
        return made

    def find_task(self, token: str) -> str | None:
        """The id of a task whose body carries `token` (one word), or None."""
        body = {"filterGroups": [{"filters": [{"propertyName": "hs_task_body", "operator": "CONTAINS_TOKEN",
                                               "value": token}]}],
                "properties": ["hs_task_subject"], "limit": 1}
        data = self._call("search", _Request("POST", "/crm/v3/objects/tasks/search"),
                          lambda **kw: self._tasks_search.do_search(public_object_search_request=body, **kw))
        results = data.get("results") or []
        return str(results[0]["id"]) if results else None

    def get_property(self, name: str) -> dict | None:
        try:
            return self._call("properties", _Request("GET", f"/crm/v3/properties/contacts/{name}"),
                              lambda **kw: self._properties.get_by_name("contacts", name, **kw))
        except NotFoundError:
            return None

    def list_contact_properties(self) -> dict[str, dict]:
        """Every contact property definition of the portal, by name: one call (GET
        /crm/v3/properties/contacts answers all of them, unpaged)."""
        data = self._call("properties", _Request("GET", "/crm/v3/properties/contacts"),
                          lambda **kw: self._properties.get_all("contacts", **kw))
        return {str(d["name"]): d for d in data.get("results", [])}

    def create_property(self, definition: dict) -> dict:
        request = _Request("POST", "/crm/v3/properties/contacts", about=f"property {definition.get('name')}")
        return self._call("properties", request,
                          lambda **kw: self._properties.create("contacts", property_create=definition, **kw))

    def update_property(self, name: str, changes: dict) -> dict:
        """PATCH a property. Note: `options` REPLACES the whole option list (docs/hubspot-facts.md, "CRM semantics")."""
        return self._call("properties", _Request("PATCH", f"/crm/v3/properties/contacts/{name}"),
                          lambda **kw: self._properties.update("contacts", name, property_update=changes, **kw))

    def get_group(self, name: str) -> dict | None:
        try:
            return self._call("properties", _Request("GET", f"/crm/v3/properties/contacts/groups/{name}"),
                              lambda **kw: self._groups.get_by_name("contacts", name, **kw))
        except NotFoundError:
            return None

    def create_group(self, name: str, label: str) -> dict:
        return self._call("properties", _Request("POST", "/crm/v3/properties/contacts/groups", about=f"group {name}"),
                          lambda **kw: self._groups.create(
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
            # The body holds a token: _Request never carries a body, and nothing here logs one.
            data = self._call("token_info", _Request("POST", "/oauth/v2/private-apps/get/access-token-info"), send,
                              attempts=3)
        except NotFoundError:
            data = None
        info = data if isinstance(data, dict) else None
        self._token_info[access_token] = info
        return info

    def list_owners(self) -> list[dict]:
        """Every active owner (https://developers.hubspot.com/docs/api/crm/owners), all pages."""
        owners: list[dict] = []
        after: str | None = None
        while True:
            page_kw = {"limit": 500, **({"after": after} if after else {})}
            data = self._call("owners", _Request("GET", "/crm/v3/owners"),
                              lambda page_kw=page_kw, **kw: self._owners.get_page(**page_kw, **kw))
            owners += data.get("results") or []
            after = (data.get("paging") or {}).get("next", {}).get("after")
            if not after:
                return owners

    def get_owner(self, owner_id: str) -> dict | None:
        try:
            return self._call("owners", _Request("GET", f"/crm/v3/owners/{owner_id}"),
                              lambda **kw: self._owners.get_by_id(owner_id, id_property="id", **kw))
        except NotFoundError:
            return None

    # -- the one way every call goes ----------------------------------------------------------

    def _call(self, kind: str, request: _Request, send: Callable[..., Any], attempts: int | None = None,
              cancelled: Callable[[], bool] | None = None) -> Any:
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
                    return self._send_once(kind, request, send, attempt.retry_state.attempt_number, cancelled)
        except _Transient as exc:
            tried = retrying.statistics.get("attempt_number", 1)
            if tried > 1:
                exc.error.args = (f"{exc.error} (gave up after {tried} attempts)",)
            raise exc.error from None
        raise AssertionError("unreachable")

    def _send_once(self, kind: str, request: _Request, send: Callable[..., Any], attempt: int,
                   cancelled: Callable[[], bool] | None = None) -> Any:
        if self._daily_blocked_until is not None and self._clock() < self._daily_blocked_until:
            # The day's budget is spent: no request may burn it further (docs/hubspot-facts.md, "Limits").
            raise DailyLimitError("HubSpot's daily API limit for this account is used up; waiting for it to reset "
                                  f"(not sent: {request})", policy="DAILY", status=429)
        window = self.search_window if kind == "search" else self.window
        sent = window.acquire(background=kind == "list", cancelled=cancelled)
        self.counters.count(kind)
        # Timed from here: the limiter's wait above is ours, not HubSpot's.
        flight = _Flight(request, attempt, self._watchdog_s or 0.0, self._timeout[1])
        if self._watchdog_s:
            _WATCHDOG.start(flight)
        outcome: object = "?"  # what the DEBUG line says came back: a status, or an exception's class
        try:
            response = send(_preload_content=False, _request_timeout=self._timeout)
            outcome = response.status
            body = response.data
            headers = response.headers
            response.release_conn()
        except urllib3.exceptions.HTTPError as exc:  # connection refused, reset, timeout, dropped
            outcome = type(exc).__name__
            raise _Transient(UnreachableError(f"cannot reach HubSpot for {request}: "
                                              f"{type(exc).__name__}: {_first_line(exc)}"), None) from exc
        except Exception as exc:  # the SDK's ApiException family: no common base across packages
            status = getattr(exc, "status", None)
            outcome = status if status else type(exc).__name__
            if status is None:
                raise
            if not status:  # the SDK's rest client turns a TLS failure into an ApiException with status 0
                reason = _first_line(Exception(getattr(exc, "reason", None) or exc))
                raise _Transient(UnreachableError(f"cannot reach HubSpot for {request}: {reason}"), None) from None
            raise self._map_error(int(status), request, getattr(exc, "headers", None) or {},
                                  getattr(exc, "body", None), window) from None
        finally:
            window.release()
            if self._watchdog_s:
                _WATCHDOG.finish(flight)
            self._log_attempt(flight, outcome)
        if kind != "search":
            self._learn(headers, sent)
        try:
            return json.loads(body) if body else {}
        except ValueError:
            raise _Transient(ServerError(f"HubSpot answered {outcome} to {request} with something that is not JSON",
                                         status=outcome if isinstance(outcome, int) else None), None) from None

    @staticmethod
    def _log_attempt(flight: _Flight, outcome: object) -> None:
        """One DEBUG line per attempt; and, after a watchdog warning, one INFO line when it ends."""
        if flight.warnings:
            log.info("HubSpot answered %s after %.1f s: %s (attempt %d)", flight.request,
                     time.monotonic() - flight.started, outcome, flight.attempt)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("HubSpot %s -> %s in %.1f ms (attempt %d)", flight.request, outcome,
                      (time.monotonic() - flight.started) * 1000, flight.attempt)

    def _learn(self, headers: Any, sent: int) -> None:
        """The window's limits from an answer's headers; `sent`: the request's mark in the window."""
        limit = _int_header(headers, "X-HubSpot-RateLimit-Max")
        remaining = _int_header(headers, "X-HubSpot-RateLimit-Remaining")
        interval = _int_header(headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
        if limit:
            self.window.observe(limit, remaining, interval / 1000 if interval else None, sent)
        daily = _int_header(headers, "X-HubSpot-RateLimit-Daily-Remaining")
        if daily is not None:
            self.daily_remaining = daily
            self.daily_limit = _int_header(headers, "X-HubSpot-RateLimit-Daily")

    def _map_error(self, status: int, request: _Request, headers: Any, raw: Any, window: SlidingWindow) -> Exception:
        """HubSpot's error answer -> our exception, naming the call; transient ones wrapped for a retry."""
        body = _json_body(raw)
        message = str(body.get("message") or "") or None
        category = body.get("category") or body.get("errorType")
        correlation_id = body.get("correlationId")
        common: dict[str, Any] = {"status": status, "category": category, "correlation_id": correlation_id}
        answered = _answered(status, request, message, category, correlation_id)
        ref = _refs(None, correlation_id)
        if status == 429:
            self.counters.add("rate_limited")
            policy = body.get("policyName")
            # DAILY: the account's budget for the day is gone; retrying only burns it further
            # (developers.hubspot.com/docs/guides/apps/api-usage/usage-details).
            if policy == "DAILY":
                # Hold every call until HubSpot's Retry-After, else an hour; then one call probes.
                self._daily_blocked_until = self._clock() + min(_float_header(headers, "Retry-After") or 3600.0,
                                                                86_400.0)
                return DailyLimitError(f"HubSpot's daily API limit for this account is used up (429 to {request}); "
                                       f"the run stops and resumes after midnight (account time zone){ref}",
                                       policy=policy, **common)
            retry_after = _float_header(headers, "Retry-After")
            wait = retry_after if retry_after is not None else (1.0 if policy == "SECONDLY" else window.interval_s / 2)
            window.penalise(wait)
            limited = f"rate limited by HubSpot ({policy or 'unknown policy'}) on {request}{ref}"
            return _Transient(RateLimitError(limited, policy=policy, **common), retry_after)
        if status == 401:
            return AuthError(f"HubSpot rejected the access token (401 to {request}): check HUBSPOT_ACCESS_TOKEN{ref}",
                             **common)
        if status == 403:
            scopes = _missing_scopes(body)
            if category == "MISSING_SCOPES" or scopes:
                named = ", ".join(scopes) if scopes else "see HubSpot's message"
                return ScopeError(f"the access token lacks required scopes: {named} (403 to {request}){ref}",
                                  scopes=scopes, **common)
            return HubSpotError(f"HubSpot refused {request} (403): {message or 'no reason given'}"
                                f"{_refs(category, correlation_id)}", **common)
        if status == 404:
            return NotFoundError(answered, **common)
        if status >= 500:
            return _Transient(ServerError(answered, **common), _float_header(headers, "Retry-After"))
        if status in (400, 409, 422):
            return ValidationError(answered, **common)
        return HubSpotError(answered, **common)

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
        wait = state.next_action.sleep if state.next_action else 0.0
        log.debug("retrying in %.2f s after: %s", wait, exc)


def _answered(status: int, request: _Request, message: str | None, category: str | None,
              correlation_id: str | None) -> str:
    """e.g. "HubSpot answered 404 to GET /crm/v3/objects/contacts/123: Object not found. (OBJECT_NOT_FOUND,
    correlation id 1f2e...)"."""
    text = f"HubSpot answered {status} to {request}"
    return (f"{text}: {message}" if message else text) + _refs(category, correlation_id)


def _refs(category: str | None, correlation_id: str | None) -> str:
    """" (CATEGORY, correlation id X)", the parts HubSpot sent, or ""."""
    parts = [str(category)] if category else []
    if correlation_id:
        parts.append(f"correlation id {correlation_id}")
    return f" ({', '.join(parts)})" if parts else ""


def _escaped(text: str) -> str:
    """Control characters as escapes: a path segment from a user must not forge log lines."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


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
