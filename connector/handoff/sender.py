"""Deliver owner alerts: claim due deliveries from the store, create the tasks (up to 100 a call)
or post the messages, record the result. A failure is retried with backoff and, after the last of
20 tries, kept as `failed` (`connector doctor` shows it); it never blocks scoring or writes, which
do not wait for it.

Exactly once: an action is recorded once (the store's unique contact + action key); a delivery is
claimed before the call and confirmed after it. A sender killed between HubSpot's answer and the
confirmation leaves the claim to expire; the next claim of a task first looks for a task carrying
the alert's token, so no second task is made. A chat message has no such lookup: in that one window
(a kill during the POST) it may be sent twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from connector.errors import AuthError, HubSpotError, ScopeError, ValidationError
from connector.gateway import BATCH_SIZE, Gateway, NewTask
from connector.handoff.channels import ChannelError, contact_url, post_message
from connector.store import Delivery, Store

log = logging.getLogger(__name__)

# A channel failing half the time loses an alert only if 20 tries in a row fail (one in a million);
# the waits grow quickly to 5 minutes (most outages are short) and stop there: about 1.5 h in all.
MAX_ATTEMPTS = 20
BACKOFF_S = (0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300)  # before tries 2, 3, ...; then 300 s each


def token_of(action_key: str) -> str:
    """One word that identifies the alert in the task's body (found again by search)."""
    return "lsc" + action_key.rsplit(":", 1)[-1][:24]


@dataclass
class SendCounts:
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)


class AlertSender:
    def __init__(self, gateway: Gateway, store: Store, webhooks: Mapping[str, str], *,
                 portal_id: int | str | None = None, clock: Callable[[], float] = time.time,
                 post: Callable[[str, str], None] = post_message, lease_ms: int = 60_000):
        """`webhooks`: channel -> incoming webhook URL ("slack", "teams")."""
        self.gateway = gateway
        self.store = store
        self.webhooks = dict(webhooks)
        self.portal_id = portal_id
        self.clock = clock
        self.post = post
        self.lease_ms = lease_ms

    def run_once(self, limit: int = 50) -> SendCounts:
        counts = SendCounts()
        claimed = self.store.claim_deliveries(self._now(), limit=limit, lease_ms=self.lease_ms)
        self._deliver_tasks([d for d in claimed if d.channel == "task"], counts)
        for d in claimed:
            if d.channel == "task":
                continue
            try:
                self._post(d)
            except ChannelError as exc:
                self._failed(d, exc, counts)
                continue
            self._done(d, None, counts)
        return counts

    def _deliver_tasks(self, claimed: list[Delivery], counts: SendCounts) -> None:
        """Tasks, up to 100 a call: one call for a whole run's alerts instead of one each (a
        first sync's 84 alerts took 4.4 s of the 10-second window one by one)."""
        fresh = []
        for d in claimed:
            if d.was_sending:  # an earlier claim died mid-call: the task may exist
                try:
                    found = self.gateway.find_task(token_of(d.action_key))
                except HubSpotError as exc:
                    self._failed(d, exc, counts)
                    continue
                if found is not None:
                    self._done(d, found, counts)
                    continue
            fresh.append(d)
        for start in range(0, len(fresh), BATCH_SIZE):
            chunk = fresh[start:start + BATCH_SIZE]
            try:
                made = self.gateway.create_tasks([self._task(d) for d in chunk])
            except ValidationError as exc:
                if len(chunk) == 1:
                    self._failed(chunk[0], exc, counts)
                else:  # one bad input may sink the batch: alone, only it fails
                    self._one_by_one(chunk, counts)
                continue
            except HubSpotError as exc:
                for d in chunk:
                    self._failed(d, exc, counts)
                continue
            for d in chunk:
                self._settle(d, made, counts)

    def _one_by_one(self, chunk: list[Delivery], counts: SendCounts) -> None:
        for d in chunk:
            try:
                made = self.gateway.create_tasks([self._task(d)])
            except HubSpotError as exc:
                self._failed(d, exc, counts)
                continue
            self._settle(d, made, counts)

    def _settle(self, d: Delivery, made: Mapping[str, str], counts: SendCounts) -> None:
        """Record the task a batch answer shows for `d`; one it does not show is looked for
        (by its token) before it is tried again."""
        task_id = made.get(token_of(d.action_key))
        if task_id is not None:
            self._done(d, task_id, counts)
            return
        try:
            found = self.gateway.find_task(token_of(d.action_key))
        except HubSpotError as exc:
            self._failed(d, exc, counts)
            return
        if found is None:
            self._failed(d, ChannelError("HubSpot's batch answer did not show this task", retry=True), counts)
        else:
            self._done(d, found, counts)

    @staticmethod
    def _task(d: Delivery) -> NewTask:
        token = token_of(d.action_key)
        return NewTask(token, d.contact_id, d.title, f"{d.body}\n\n(ref {token})", d.due_at, d.owner_id)

    def _post(self, d: Delivery) -> None:
        url = self.webhooks.get(d.channel)
        if not url:
            raise ChannelError(f"no {d.channel} webhook URL is set", retry=False)
        link = contact_url(self.portal_id, d.contact_id)
        self.post(url, f"*{d.title}*\n{d.body}" + (f"\n{link}" if link else ""))

    def _done(self, d: Delivery, external: str | None, counts: SendCounts) -> None:
        self.store.delivered(d.alert_id, d.channel, self._now(), external)
        counts.delivered += 1
        counts.by_channel[d.channel] = counts.by_channel.get(d.channel, 0) + 1

    def _failed(self, d: Delivery, exc: Exception, counts: SendCounts) -> None:
        retry = getattr(exc, "retry", True) and not isinstance(exc, (AuthError, ScopeError, ValidationError))
        attempt = d.attempts + 1
        text = f"{type(exc).__name__}: {exc}"
        if retry and attempt < MAX_ATTEMPTS:
            wait = BACKOFF_S[min(attempt - 1, len(BACKOFF_S) - 1)]
            self.store.delivery_failed(d.alert_id, d.channel, text, retry_at=self._now() + int(wait * 1000))
            counts.retried += 1
            log.warning("alert %s for contact %s via %s failed (try %d of %d, next in %g s): %s",
                        d.alert_id, d.contact_id, d.channel, attempt, MAX_ATTEMPTS, wait, text)
        else:
            self.store.delivery_failed(d.alert_id, d.channel, text, retry_at=None)
            counts.failed += 1
            log.error("alert %s for contact %s via %s failed for good after %d tries: %s",
                      d.alert_id, d.contact_id, d.channel, attempt, text)

    def _now(self) -> int:
        return int(self.clock() * 1000)


def sender_for(ctx) -> AlertSender:
    s = ctx.settings
    hooks = {k: v for k, v in (("slack", s.slack_webhook_url), ("teams", s.teams_webhook_url)) if v}
    info = ctx.gateway.token_info(s.hubspot_access_token or "") or {}
    return AlertSender(ctx.gateway, ctx.store, hooks, portal_id=info.get("hubId"))
