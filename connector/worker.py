"""`connector worker` / `connector run`: scheduled syncs and the webhook queue consumer.

APScheduler runs an incremental sync every SYNC_INTERVAL_MINUTES and a full pass on FULL_SYNC_CRON
(both with max_instances=1 and coalescing, and one lock between them, so syncs never overlap). The
queue consumer polls the store continuously in its own thread. `connector run` also serves the
webhook endpoint from the same process (the single-machine default, with SQLite).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from connector.consumer import WebhookConsumer
from connector.errors import ConnectorError, DailyLimitError
from connector.handoff.assign import assigner_for
from connector.handoff.channels import alert_channels
from connector.handoff.sender import sender_for
from connector.handoff.sla import escalate
from connector.store import lock_holder
from connector.sync import SyncJob

log = logging.getLogger(__name__)


class Worker:
    """The scheduler and the consumer loop; `start()` then `stop()`."""

    def __init__(self, ctx: Any, *, poll_s: float = 0.2):
        self.ctx = ctx
        self.poll_s = poll_s
        self.sync_lock = threading.Lock()
        self.stopping = threading.Event()
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.channels = alert_channels(ctx.settings, ctx.rules)
        self.assigner = assigner_for(ctx)
        self.consumer = WebhookConsumer(ctx.gateway, ctx.store, ctx.rules, shadow=ctx.shadow,
                                        alert_channels=self.channels, assigner=self.assigner)
        self._thread = threading.Thread(target=self._consume_forever, name="webhook-consumer", daemon=True)
        self._alerts = threading.Thread(target=self._send_alerts_forever, name="alert-sender", daemon=True)

    def start(self) -> None:
        s = self.ctx.settings
        self.scheduler.add_job(self.sync, "interval", minutes=s.sync_interval_minutes, kwargs={"full": False},
                               id="incremental-sync", max_instances=1, coalesce=True, next_run_time=_now_dt())
        self.full_trigger = CronTrigger.from_crontab(s.full_sync_cron, timezone="UTC")
        self.scheduler.add_job(self.sync, self.full_trigger,
                               kwargs={"full": True}, id="full-sync", max_instances=1, coalesce=True)
        # Handled events are kept two days to recognise HubSpot's redeliveries (it retries for
        # about a day: docs/hubspot-facts.md, "Webhooks"), then dropped.
        self.scheduler.add_job(self.purge, "interval", hours=6, id="purge-events", max_instances=1, coalesce=True)
        if self.ctx.rules.sla is not None:
            self.scheduler.add_job(self.escalate, "interval", minutes=1, id="sla-escalations", max_instances=1,
                                   coalesce=True)
        self.scheduler.start()
        self._thread.start()
        if self.channels:
            self._alerts.start()

    def stop(self) -> None:
        self.stopping.set()
        self.scheduler.shutdown(wait=True)
        self._thread.join(timeout=30)
        if self._alerts.is_alive():
            self._alerts.join(timeout=30)

    def sync(self, full: bool) -> None:
        """One scheduled sync, unless another process (or thread) runs one, or one already ran in
        this schedule slot (several workers fire the same schedule: it must run once)."""
        kind = "full" if full else "incremental"
        if not self.sync_lock.acquire(blocking=False):
            log.info("a sync is already running here; skipping this %s run", kind)
            return
        try:
            with self.ctx.store.job_lock("sync", lock_holder()) as held:
                if not held:
                    log.info("another worker is syncing; skipping this %s run", kind)
                    return
                if self._ran_this_slot(full):
                    log.info("a %s sync already ran in this slot (another worker); skipping", kind)
                    return
                summary = SyncJob(self.ctx.gateway, self.ctx.store, self.ctx.rules,
                                  overlap_s=self.ctx.settings.search_overlap_minutes * 60,
                                  shadow=self.ctx.shadow, alert_channels=self.channels,
                                  assigner=self.assigner).run(full=full)
                log.info(summary.line())
        except DailyLimitError as exc:
            log.error("sync stopped: %s", exc)
        except ConnectorError as exc:
            log.error("sync failed: %s (the next run resumes it)", exc)
        finally:
            self.sync_lock.release()

    def _ran_this_slot(self, full: bool) -> bool:
        """A run of this kind started within half a schedule period: this slot is done."""
        last = self.ctx.store.last_run_started(["full"] if full else ["full", "incremental"])
        if last is None:
            return False
        period_s = _cron_period_s(self.full_trigger) if full else self.ctx.settings.sync_interval_minutes * 60
        return time.time() * 1000 - last < period_s * 1000 / 2

    def escalate(self) -> None:
        """MQLs past their SLA without a sales touch: the next escalation, once per stage."""
        try:
            made = escalate(self.ctx.store, self.ctx.rules, self.channels, time.time())
            if made:
                log.info("SLA: %d escalation(s) recorded", made)
        except ConnectorError as exc:
            log.error("SLA escalation check failed: %s (tried again in a minute)", exc)

    def purge(self) -> None:
        try:
            dropped = self.ctx.store.purge_done_events(older_than=int((time.time() - 2 * 86_400) * 1000))
            if dropped:
                log.info("dropped %s handled webhook events older than two days", dropped)
        except ConnectorError as exc:
            log.error("purge of handled webhook events failed: %s", exc)

    def _consume_forever(self) -> None:
        while not self.stopping.is_set():
            try:
                result = self.consumer.run_once()
            except ConnectorError as exc:
                log.error("webhook batch failed: %s (its events will be taken again)", exc)
                self.stopping.wait(5.0)
                continue
            except Exception:  # a bug must not silently stop the consumer thread
                log.exception("webhook batch failed unexpectedly (its events will be taken again)")
                self.stopping.wait(5.0)
                continue
            if result.events:
                log.info(result.line())
            else:
                self.stopping.wait(self.poll_s)


    def _send_alerts_forever(self) -> None:
        """Owner alerts, as soon as the sync or the consumer records them (a failing channel is
        retried by the sender; it never holds up scoring)."""
        sender = None
        while not self.stopping.is_set():
            try:
                sender = sender or sender_for(self.ctx)
                counts = sender.run_once()
            except Exception:  # noqa: BLE001 - a bug or an unreachable store must not stop the thread
                log.exception("alert sending failed; trying again in 5 s")
                self.stopping.wait(5.0)
                continue
            if not counts.delivered and not counts.retried and not counts.failed:
                self.stopping.wait(self.poll_s)


def run_worker(ctx: Any, *, with_web: bool = False) -> int:
    worker = Worker(ctx)
    server = None
    if with_web:
        from connector.serve import start_in_thread
        from connector.web import create_app

        server = start_in_thread(create_app(ctx.settings), ctx.settings)  # HOST:PORT, the Procfile's server
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    worker.start()
    log.info("worker started: incremental sync every %s min, full sync '%s'",
             ctx.settings.sync_interval_minutes, ctx.settings.full_sync_cron)
    while not stop.wait(1.0):
        pass
    log.info("stopping")
    if server is not None:
        server.stop()
    worker.stop()
    return 0


def _cron_period_s(trigger: CronTrigger) -> float:
    """Seconds between two consecutive fire times of `trigger` (its schedule's period)."""
    now = _now_dt()
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1))
    return (second - first).total_seconds() if first and second else 86_400.0


def _now_dt() -> datetime:
    return datetime.now(UTC)


__all__ = ["Worker", "run_worker"]
