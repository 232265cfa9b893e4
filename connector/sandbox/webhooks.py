"""Webhooks out: subscriptions, HubSpot's event payloads, and a signing, batching, retrying sender.

Payload fields (legacy contact.* and generic object.*):
https://developers.hubspot.com/docs/api/webhooks and
https://developers.hubspot.com/docs/apps/legacy-apps/public-apps/create-generic-webhook-subscriptions
Subscriptions file of a project app (webhooks-hsmeta.json), as in HubSpot's template
HubSpot/hubspot-project-components 2025.2/components/webhooks/src/app/webhooks/webhooks-hsmeta.json
(commit 68ea506aef24c4609b7385b9733927a8c6a35048) and
https://developers.hubspot.com/docs/guides/crm/private-apps/webhooks
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from connector.sandbox.signing import sign_v1, sign_v3

EVENT_TYPES = ("creation", "deletion", "propertyChange", "merge", "privacyDeletion", "restore",
               "associationChange")
# objectTypeId of contacts in generic payloads ("0-1"):
# https://developers.hubspot.com/changelog/public-beta-generic-webhook-subscriptions
CONTACT_OBJECT_TYPE_ID = "0-1"
# changeFlag per event type. Only "NEW" on creation is in HubSpot's docs (the v1 signature example,
# https://developers.hubspot.com/docs/faq/v1-request-validation); the others are unverified guesses.
_CHANGE_FLAGS = {"creation": "NEW", "deletion": "DELETED", "propertyChange": "VALUE_CHANGED",
                 "merge": "MERGED", "restore": "RESTORED", "privacyDeletion": "DELETED",
                 "associationChange": "ASSOCIATION_CHANGED"}
# Statuses HubSpot does not retry; it retries timeouts, connection errors and every other status,
# 429 honouring Retry-After (docs/hubspot-facts.md, "Webhooks";
# https://developers.hubspot.com/docs/api/webhooks "Retries").
NO_RETRY_STATUSES = frozenset({400, 401, 403, 404, 405})
# HubSpot sends at most 100 events per request (https://developers.hubspot.com/docs/api/webhooks,
# unverified wording: "up to 100").
MAX_BATCH = 100
# Concurrent POSTs when no webhooks file says otherwise (settings.maxConcurrentRequests). HubSpot
# delivers with up to maxConcurrentRequests requests in flight, so batches arrive concurrently and
# out of order. 10 is the value in HubSpot's own template (webhooks-hsmeta.json, cited above) and in
# the settings API example (https://developers.hubspot.com/docs/api-reference/legacy/webhooks/settings/update-setting,
# "maxConcurrentRequests": 10); HubSpot's default when unset is *unverified*.
DEFAULT_MAX_CONCURRENT = 10


class SubscriptionFileError(ValueError):
    """A webhooks file that cannot be read; the message names the file and the key at fault."""


@dataclass(frozen=True)
class Subscription:
    """One active or inactive subscription; `property_name=None` on a propertyChange means all.

    "All properties" is the sandbox's default only: HubSpot needs a propertyName per subscription.
    """

    id: int
    subscription_type: str  # "contact.propertyChange", "object.creation", ...
    property_name: str | None = None
    active: bool = True

    @property
    def generic(self) -> bool:
        return self.subscription_type.startswith("object.")

    @property
    def event_type(self) -> str:
        return self.subscription_type.split(".", 1)[1]

    def matches(self, event: dict) -> bool:
        if not self.active or event["type"] != self.event_type:
            return False
        if self.event_type == "propertyChange" and self.property_name is not None:
            return event.get("propertyName") == self.property_name
        return True


def default_subscriptions(fmt: str = "legacy") -> list[Subscription]:
    """Creation, deletion, merge, restore, privacy deletion and every property change of contacts.

    Privacy deletion stays contact.privacyDeletion in both formats: the generic format does not
    cover it (create-generic-webhook-subscriptions page, linked above).
    """
    if fmt not in ("legacy", "generic"):
        raise ValueError(f"fmt must be 'legacy' or 'generic', got {fmt!r}")
    prefix = "contact." if fmt == "legacy" else "object."
    subs = [Subscription(1000 + i, prefix + t)
            for i, t in enumerate(("creation", "deletion", "merge", "restore", "propertyChange"))]
    subs.append(Subscription(1005, "contact.privacyDeletion"))
    return subs


@dataclass(frozen=True)
class WebhooksFile:
    target_url: str | None
    max_concurrent_requests: int | None
    subscriptions: list[Subscription]


_LISTS = {  # list key in the file -> allowed subscription types
    "crmObjects": {f"object.{t}" for t in EVENT_TYPES if t != "privacyDeletion"},
    "legacyCrmObjects": {f"contact.{t}" for t in EVENT_TYPES if t != "privacyDeletion"},
    "hubEvents": {"contact.privacyDeletion"},
}


def load_webhooks_file(path: str | Path) -> WebhooksFile:
    """Read a HubSpot project's webhooks-hsmeta.json (or the older webhooks.json).

    Only contact subscriptions are kept (the sandbox has contacts only); others are ignored.
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SubscriptionFileError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise SubscriptionFileError(f"{path}: not JSON: {exc}") from exc

    def fail(key: str, problem: str) -> SubscriptionFileError:
        return SubscriptionFileError(f"{path}: {key}: {problem}")

    if not isinstance(document, dict):
        raise fail("(top level)", "must be an object")
    # 2025.2 project components wrap everything in "config"; the older webhooks.json does not.
    base, prefix = (document["config"], "config.") if "config" in document else (document, "")
    if not isinstance(base, dict):
        raise fail("config", "must be an object")
    settings = base.get("settings", {})
    if not isinstance(settings, dict):
        raise fail(prefix + "settings", "must be an object")
    target = settings.get("targetUrl")
    if target is not None and (not isinstance(target, str) or not target.startswith(("http://", "https://"))):
        raise fail(prefix + "settings.targetUrl", f"must be an http(s) URL, got {target!r}")
    concurrency = settings.get("maxConcurrentRequests")
    if concurrency is not None and (not isinstance(concurrency, int) or isinstance(concurrency, bool)
                                    or concurrency < 1):
        raise fail(prefix + "settings.maxConcurrentRequests",
                   f"must be a positive integer, got {concurrency!r}")
    lists = base.get("subscriptions")
    if not isinstance(lists, dict):
        raise fail(prefix + "subscriptions", "missing, or not an object")
    unknown = sorted(set(lists) - set(_LISTS))
    if unknown:
        raise fail(prefix + f"subscriptions.{unknown[0]}",
                   f"unknown list (expected one of {', '.join(_LISTS)})")
    subs: list[Subscription] = []
    ids = itertools.count(2000)
    for list_key, allowed in _LISTS.items():
        entries = lists.get(list_key, [])
        key = f"{prefix}subscriptions.{list_key}"
        if not isinstance(entries, list):
            raise fail(key, "must be a list")
        for i, entry in enumerate(entries):
            where = f"{key}[{i}]"
            if not isinstance(entry, dict):
                raise fail(where, "must be an object")
            kind = entry.get("subscriptionType")
            if not isinstance(kind, str):
                raise fail(where + ".subscriptionType", "missing")
            object_type = entry.get("objectType", entry.get("objectName"))
            if list_key == "crmObjects":
                if not isinstance(object_type, str):
                    raise fail(where + ".objectType", "missing")
                if object_type.lower() not in ("contact", "contacts", "0-1"):
                    next(ids)
                    continue  # another object type: the sandbox has contacts only
            elif not kind.startswith("contact."):
                next(ids)
                continue
            if kind not in allowed:
                raise fail(where + ".subscriptionType",
                           f"{kind!r} is not allowed in {list_key} (allowed: {', '.join(sorted(allowed))})")
            prop = entry.get("propertyName")
            if kind.endswith(".propertyChange") and not isinstance(prop, str):
                raise fail(where + ".propertyName", "required for a propertyChange subscription")
            active = entry.get("active", True)
            if not isinstance(active, bool):
                raise fail(where + ".active", "must be true or false")
            subs.append(Subscription(next(ids), kind, prop, active))
    return WebhooksFile(target, concurrency, subs)


def load_subscriptions(path: str | Path) -> list[Subscription]:
    """The contact subscriptions in a project's webhooks file (see load_webhooks_file)."""
    return load_webhooks_file(path).subscriptions


def build_payload(event: dict, sub: Subscription, *, event_id: int, portal_id: int,
                  app_id: int) -> dict:
    """One event as HubSpot sends it for `sub` (legacy contact.* or generic object.*)."""
    kind = event["type"]
    payload = {
        "eventId": event_id,
        "subscriptionId": sub.id,
        "portalId": portal_id,
        "appId": app_id,
        "occurredAt": int(event["occurredAt"]),
        "subscriptionType": sub.subscription_type,
        "attemptNumber": 0,
        "objectId": int(event["objectId"]),
        "changeSource": event.get("changeSource", "API"),
    }
    if sub.generic:
        payload["objectTypeId"] = CONTACT_OBJECT_TYPE_ID
    if event.get("sourceId") is not None:
        payload["sourceId"] = event["sourceId"]
    payload["changeFlag"] = _CHANGE_FLAGS[kind]
    if kind == "propertyChange":
        payload["propertyName"] = event["propertyName"]
        payload["propertyValue"] = "" if event.get("propertyValue") is None else str(event["propertyValue"])
    elif kind == "merge":
        payload["primaryObjectId"] = int(event["primaryObjectId"])
        payload["mergedObjectIds"] = [int(i) for i in event.get("mergedObjectIds", [])]
        payload["newObjectId"] = int(event.get("newObjectId", event["primaryObjectId"]))
        payload["numberOfPropertiesMoved"] = int(event.get("numberOfPropertiesMoved", 0))
    elif kind == "associationChange":
        for key in ("associationType", "fromObjectId", "toObjectId", "associationRemoved",
                    "isPrimaryAssociation"):
            if key in event:
                payload[key] = event[key]
    return payload


# post(url, body, headers, timeout) -> (status, response headers); raises OSError on connection
# errors and timeouts.
PostFn = Callable[[str, bytes, dict, float], tuple[int, dict]]


def urllib_post(url: str, body: bytes, headers: dict, timeout: float) -> tuple[int, dict]:
    """POST with the standard library; any HTTP status is returned, not raised."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers or {})


@dataclass
class _Pending:
    payload: dict
    due: float  # time.monotonic() when it may be sent
    duplicate: bool = False  # a re-delivery of an already delivered event


class WebhookSender:
    """Sends published change events to `url` as HubSpot does, from background threads.

    Batches up to `max_batch` events per POST (a JSON array), signed with v3 and v1 headers, from
    `max_concurrent_requests` threads, so POSTs overlap and batches arrive out of order (HubSpot
    delivers at least once, unordered: docs/hubspot-facts.md, "Webhooks").
    Failed deliveries are retried with attemptNumber + 1, at most `max_attempts` attempts in all.
    HubSpot spreads its retries over about a day; the sandbox compresses the schedule to
    retry_backoff_s * 2**(attempt-1), capped at 50 * retry_backoff_s (0.2 s .. 10 s by default),
    or Retry-After when a 429 gives one. stats counts events: sent, retried, failed (given up),
    duplicated (re-delivered after a success).

    At least once: with `duplicate_rate` > 0 a delivered batch is, with that probability (seeded
    by `seed`), delivered again a little later with the same eventIds and the same attemptNumber
    (a duplicate is the same delivery again, not a retry after a failure; HubSpot's attemptNumber
    on such re-deliveries is *unverified*). A duplicate that fails is not retried or counted.
    """

    def __init__(self, url: str, client_secret: str, *, portal_id: int, app_id: int,
                 fmt: str = "legacy", subscriptions: Iterable[Subscription] | None = None,
                 max_batch: int = MAX_BATCH, flush_interval_s: float = 0.05,
                 max_attempts: int = 10, retry_backoff_s: float = 0.2,
                 clock: Callable[[], float] = time.time, post: PostFn | None = None,
                 timeout_s: float = 5.0, max_concurrent_requests: int = DEFAULT_MAX_CONCURRENT,
                 duplicate_rate: float = 0.0, seed: int = 0):
        if not 1 <= max_batch <= MAX_BATCH:
            raise ValueError(f"max_batch must be 1..{MAX_BATCH}, got {max_batch}")
        if max_concurrent_requests < 1:
            raise ValueError(f"max_concurrent_requests must be >= 1, got {max_concurrent_requests}")
        if not 0.0 <= duplicate_rate <= 1.0:
            raise ValueError(f"duplicate_rate must be 0..1, got {duplicate_rate}")
        self.max_concurrent_requests = max_concurrent_requests
        self.duplicate_rate = duplicate_rate
        self._rng = random.Random(seed)
        self.url = url
        self._secret = client_secret
        self.portal_id, self.app_id = portal_id, app_id
        self.subscriptions = list(subscriptions) if subscriptions is not None else default_subscriptions(fmt)
        self.max_batch, self.flush_interval_s = max_batch, flush_interval_s
        self.max_attempts, self.retry_backoff_s = max_attempts, retry_backoff_s
        self.clock = clock
        self._post = post or urllib_post
        self.timeout_s = timeout_s
        self._queue: deque[_Pending] = deque()
        self._cond = threading.Condition()
        self._in_flight = 0
        self._event_ids = itertools.count(1)
        self._stop = False
        self._threads: list[threading.Thread] = []
        self._stats = _zero_stats()

    @property
    def stats(self) -> dict[str, int]:
        with self._cond:
            return dict(self._stats)

    def reset_stats(self) -> None:
        with self._cond:
            self._stats = _zero_stats()

    def payloads_for(self, events: Iterable[dict]) -> list[dict]:
        """The payloads the subscriptions make of `events` (eventIds assigned)."""
        events = list(events)
        # A privacy deletion also fires contact.deletion (docs/hubspot-facts.md, "Webhooks"), unless
        # the caller already published that deletion alongside it.
        deleted = {(e["objectId"], e["occurredAt"]) for e in events if e["type"] == "deletion"}
        out = []
        for event in events:
            expanded = [event]
            if event["type"] == "privacyDeletion" and (event["objectId"], event["occurredAt"]) not in deleted:
                expanded.append({**event, "type": "deletion"})
            for one in expanded:
                for sub in self.subscriptions:
                    if sub.matches(one):
                        out.append(build_payload(one, sub, event_id=next(self._event_ids),
                                                 portal_id=self.portal_id, app_id=self.app_id))
        return out

    def publish(self, events: list[dict]) -> None:
        """Queue change events; returns at once."""
        payloads = self.payloads_for(events)
        if not payloads:
            return
        now = time.monotonic()
        with self._cond:
            self._queue.extend(_Pending(p, now) for p in payloads)
            self._cond.notify_all()

    def start(self) -> WebhookSender:
        with self._cond:
            if not self._threads:
                self._stop = False
                self._threads = [threading.Thread(target=self._run, name=f"sandbox-webhooks-{i}",
                                                  daemon=True)
                                 for i in range(self.max_concurrent_requests)]
                for thread in self._threads:
                    thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the threads after their current POSTs; undelivered events are dropped."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
            threads, self._threads = self._threads, []
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is queued or in flight (for tests); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def _take_batch(self) -> list[_Pending] | None:
        """Block until a batch is due (None when stopping)."""
        with self._cond:
            while True:
                if self._stop:
                    return None
                now = time.monotonic()
                due = [p for p in self._queue if p.due <= now]
                if due:
                    if len(due) < self.max_batch and self.flush_interval_s > 0:
                        # Let a burst of changes gather into one request, as HubSpot batches.
                        self._cond.wait(self.flush_interval_s)
                        if self._stop:
                            return None
                        now = time.monotonic()
                    batch = []
                    for p in list(self._queue):
                        if p.due <= now and len(batch) < self.max_batch:
                            batch.append(p)
                    for p in batch:
                        self._queue.remove(p)
                    if not batch:  # another thread took them while this one waited
                        continue
                    self._in_flight += len(batch)
                    return batch
                wait = min((p.due for p in self._queue), default=now + 1.0) - now
                self._cond.wait(max(0.001, min(wait, 1.0)))

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            status, retry_after = self._deliver([p.payload for p in batch])
            with self._cond:
                originals = [p for p in batch if not p.duplicate]
                if status is not None and 200 <= status < 300:
                    self._stats["sent"] += len(originals)
                    self._stats["duplicated"] += len(batch) - len(originals)
                    if originals and self.duplicate_rate and \
                            self._rng.random() < self.duplicate_rate:
                        due = time.monotonic() + self.flush_interval_s
                        self._queue.extend(_Pending(p.payload, due, duplicate=True)
                                           for p in originals)
                elif status in NO_RETRY_STATUSES:
                    self._stats["failed"] += len(originals)
                else:
                    self._requeue(originals, retry_after)
                self._in_flight -= len(batch)
                self._cond.notify_all()

    def _requeue(self, batch: list[_Pending], retry_after: float | None) -> None:
        now = time.monotonic()
        for p in batch:
            attempt = p.payload["attemptNumber"] + 1
            if attempt >= self.max_attempts:
                self._stats["failed"] += 1
                continue
            delay = retry_after if retry_after is not None else min(
                self.retry_backoff_s * 2 ** (attempt - 1), self.retry_backoff_s * 50)
            p.payload = {**p.payload, "attemptNumber": attempt}
            p.due = now + delay
            self._queue.append(p)
            self._stats["retried"] += 1

    def signed_request(self, payloads: list[dict]) -> tuple[bytes, dict]:
        """The body and headers of one POST: compact JSON array, v3 and v1 signatures."""
        body = json.dumps(payloads, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        timestamp = str(int(self.clock() * 1000))
        text = body.decode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/) (sandbox)",
            # Webhooks carry v1 in X-HubSpot-Signature (validating-requests page) and v3 with its
            # timestamp: https://developers.hubspot.com/docs/api/webhooks/validating-requests
            "X-HubSpot-Signature": sign_v1(self._secret, text),
            "X-HubSpot-Signature-Version": "v1",
            "X-HubSpot-Signature-v3": sign_v3(self._secret, "POST", self.url, text, timestamp),
            "X-HubSpot-Request-Timestamp": timestamp,
            "X-HubSpot-Timeout-Millis": str(int(self.timeout_s * 1000)),
        }
        return body, headers

    def _deliver(self, payloads: list[dict]) -> tuple[int | None, float | None]:
        body, headers = self.signed_request(payloads)
        try:
            status, response_headers = self._post(self.url, body, headers, self.timeout_s)
        except (OSError, ValueError):  # connection refused/reset, timeout, bad response
            return None, None
        retry_after = None
        if status == 429:
            value = {k.lower(): v for k, v in response_headers.items()}.get("retry-after")
            try:
                retry_after = max(0.0, float(value)) if value is not None else None
            except ValueError:
                retry_after = None
        return status, retry_after


def _zero_stats() -> dict[str, int]:
    return {"sent": 0, "retried": 0, "failed": 0, "duplicated": 0}
