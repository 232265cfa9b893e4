"""The scheduled sync: pull contacts, score and decide (pure core), write back what changed.

    search pages ──► WritePath.plan ──► checkpoint in the store ──► writer threads ──► batch update
                     (one read brings every input)  (histories + outbox)               (≤100, changed values only)

Reads are bounded by HubSpot's search limit (5/s), writes by the 10-second window: writer threads
overlap the two so a run takes about as long as its reads. Each page's decisions are committed (as
an outbox) before any is written, and each write is confirmed afterwards (connector.writeback), so
a run killed anywhere is finished by the next one. The incremental cursor is the start of the last
complete run, never later.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from connector.core import properties as hp
from connector.core.rules import RuleSet
from connector.core.values import parse_instant
from connector.gateway import BATCH_SIZE, Gateway
from connector.handoff.assign import Assigner
from connector.shadow import ShadowScorer
from connector.store import PlannedWrite, Run, Store
from connector.writeback import RunCounts, WritePath

log = logging.getLogger(__name__)

CURSOR = "contacts.lastmodifieddate"
ECHO = "contacts.own_writes"  # see SyncJob._lower_bound
PLANNED_IN_JSON = 10_000  # a dry run's planned changes in --json (the rest counted, not listed)


@dataclass
class RunSummary(RunCounts):
    """A finished sync: its counters (this run's writes plus a dead run's it finished), the
    run's identity and the API calls it made."""

    kind: str = ""
    dry_run: bool = False
    recovered: int = 0
    requests: int = 0
    rate_limited: int = 0
    retries: int = 0
    took_s: float = 0.0
    run_id: int | None = None
    window_from: int | None = None

    def line(self) -> str:
        """One line with the keys `as_dict` uses (so a log and a JSON summary read alike)."""
        return (f"sync done kind={self.kind}{' dry-run' if self.dry_run else ''} pulled={self.pulled} "
                f"scored={self.scored} changed={self.changed} written={self.written} failed={self.failed} "
                f"held={self.held} mql_new={self.mql_new} requests={self.requests} "
                f"rate_limited={self.rate_limited} retries={self.retries} took_s={self.took_s:.1f}"
                + (f" rebuilt={self.rebuilt}" if self.rebuilt else ""))

    def as_dict(self) -> dict:
        data = self.reported()
        data["took_s"] = round(self.took_s, 2)
        data["planned"] = [p.__dict__ for p in self.planned[:PLANNED_IN_JSON]]
        if self.dry_run:
            data["planned_left_out"] = self.planned_left_out
        return data

    @property
    def planned_left_out(self) -> int:
        """Planned changes a dry run counted but did not keep (it keeps PLANNED_IN_JSON)."""
        return max(0, self.changed - len(self.planned[:PLANNED_IN_JSON]))


class SyncJob:
    """One sync run. Construct, then `run(full=...)`."""

    def __init__(self, gateway: Gateway, store: Store, rules: RuleSet, *,
                 overlap_s: float = 300.0, dry_run: bool = False, limit: int | None = None,
                 writers: int = 2, progress: Callable[[int, int], None] | None = None,
                 clock: Callable[[], float] = time.time, keep_planned: int = 0,
                 before_first_write: Callable[[], None] | None = None,
                 shadow: ShadowScorer | None = None, alert_channels: Sequence[str] = (),
                 assigner: Assigner | None = None):
        """`before_first_write`: run once, before the first page with a planned write is committed
        (the portal check: a run with nothing to write makes no call for it). `shadow`: score
        with a candidate config too (not in a dry run: a dry run keeps nothing)."""
        self.gateway = gateway
        self.store = store
        self.overlap_ms = int(overlap_s * 1000)
        self.dry_run = dry_run
        self.limit = limit
        self.writers = writers
        self.progress = progress
        self.clock = clock
        self.before_first_write = before_first_write
        self.path = WritePath(gateway, store, rules, clock=clock,
                              keep_planned=PLANNED_IN_JSON if dry_run else keep_planned,
                              shadow=None if dry_run else shadow,
                              alert_channels=() if dry_run else alert_channels,
                              assigner=None if dry_run else assigner, keep_verdicts=not dry_run)

    def run(self, *, full: bool = False) -> RunSummary:
        started = self.clock()
        counters_before = self.gateway.counters.snapshot()
        tally = RunCounts()
        kind = "full" if full else "incremental"
        # One sync runs at a time (the job lock), so every sync write still planned is a dead
        # run's; the webhook worker's in-flight writes are its own to finish. Counted apart: the
        # echo check below is about this run's own writes.
        recovery = RunCounts()
        if not self.dry_run and self.before_first_write is not None and self.store.count_planned():
            check, self.before_first_write = self.before_first_write, None
            check()  # a dead run's writes are about to be finished: the portal is checked first
        recovered = 0 if self.dry_run else self.path.finish_planned(recovery, kinds=("full", "incremental"))
        if not self.dry_run:
            # A sync runs only under the job lock, so a sync run still 'running' is a dead one's.
            died = self.store.mark_dead_runs(("full", "incremental"), self._now_ms(), everyone=True)
            if died:
                log.warning("%d earlier sync run(s) had died without finishing; marked as such", died)
        cursor = self.store.get_cursor(CURSOR)
        if kind == "incremental" and cursor is None:
            kind = "full"  # nothing synced yet: an incremental run would have no lower bound
        run = self._resume_or_start(kind, cursor)
        try:
            self._process(run, tally)
        except BaseException as exc:
            if not self.dry_run:
                self.store.fail_run(run.id, f"{type(exc).__name__}: {exc}", self._now_ms())
            raise
        if not self.dry_run:
            complete = self.limit is None
            echo: dict[str, int] | None = None
            if complete and tally.written:
                assert tally.last_write_ms is not None  # every write that tally.written counts sets it
                echo = {ECHO + ".from": run.started_at, ECHO + ".until": tally.last_write_ms,
                        ECHO + ".count": tally.written}
            # A --limit trial is not a sync of the portal: it moves no cursor and fills no schedule slot.
            self.store.finish_run(run, tally.counts(), self._now_ms(), cursor_name=CURSOR if complete else None,
                                  status="done" if complete else "trial", cursors_too=echo)
        if tally.rebuilt:
            log.warning("the store had no (or an older) state for %d contacts whose state HubSpot keeps (%s): "
                        "rebuilt from HubSpot, nothing rewritten because of it", tally.rebuilt, hp.STATE)
        used = self.gateway.counters.since(counters_before)
        counts = tally.reported() | {"written": tally.written + recovery.written,
                                     "failed": tally.failed + recovery.failed, "by_path": dict(tally.by_path)}
        return RunSummary(**counts, kind=kind, dry_run=self.dry_run, recovered=recovered,
                          requests=used.requests, rate_limited=used.rate_limited, retries=used.retries,
                          took_s=self.clock() - started, run_id=run.id, window_from=run.window_from)

    def _resume_or_start(self, kind: str, cursor: int | None) -> Run:
        window_from = self._lower_bound(cursor) if kind == "incremental" else None
        if self.dry_run:
            return Run(0, kind, "dry-run", self._now_ms(), window_from, None, {})
        unfinished = self.store.unfinished_run(kind)
        if unfinished is not None:
            log.info("resuming %s run %s after contact %s", kind, unfinished.id, unfinished.checkpoint_id)
            return unfinished
        return self.store.start_run(kind, self._now_ms(), window_from)

    def _lower_bound(self, cursor: int | None) -> int | None:
        """Where an incremental window starts: the last complete run's start minus an overlap for
        search lag (results lag writes by "a few moments": developers.hubspot.com/docs/api/crm/search).

        That overlap would also re-find every contact the connector itself wrote within it, run
        after run. So once a run has seen the echo of every write of the writing run before it
        (each written contact came back carrying its new `lsc_last_scored`), the search index has
        caught up to the end of those writes, and the window may start just after them.
        """
        if cursor is None:
            return None
        bound = cursor - self.overlap_ms
        horizon = self.store.get_cursor(ECHO + ".confirmed")
        if horizon is not None and horizon < cursor:
            bound = max(bound, horizon + 1)
        return bound

    def _process(self, run: Run, tally: RunCounts) -> None:
        filters = []
        if run.window_from is not None:
            filters = [
                {"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(run.window_from)},
                {"propertyName": "lastmodifieddate", "operator": "LT", "value": str(run.started_at)},
            ]
        echo = _EchoCounter(self.store) if run.kind == "incremental" and not self.dry_run else None
        pending: list[PlannedWrite] = []
        futures: list[Future] = []
        # Bounded memory: at most this many batches queued for the writers before reading waits.
        slots = threading.BoundedSemaphore(self.writers * 2)
        with ThreadPoolExecutor(max_workers=self.writers, thread_name_prefix="writer") as pool:
            def submit(batch: list[PlannedWrite]) -> None:
                slots.acquire()
                future = pool.submit(self.path.write, batch, tally)
                future.add_done_callback(lambda _f: slots.release())
                futures.append(future)
                try:
                    _raise_first_error(futures)
                except BaseException:
                    pool.shutdown(wait=True, cancel_futures=True)  # a fatal error: send no more batches
                    raise

            total = [0]
            pages = self.gateway.iter_search(properties=self.path.properties, filters=filters,
                                             after_id=run.checkpoint_id, on_total=lambda n: total.__setitem__(0, n))
            for read_at, page in _timed(pages, self._now_ms):
                if self.limit is not None:
                    page = page[: max(0, self.limit - tally.pulled)]
                    if not page:
                        break
                planned, histories = self.path.plan(page, run.id, tally, echo.see if echo else None, read_at)
                if planned and self.before_first_write is not None:
                    check, self.before_first_write = self.before_first_write, None
                    check()  # raises before anything of this page is committed
                if not self.dry_run:
                    # Contacts the webhook worker holds are its to write (it read them later, or
                    # wrote them after this read): this run leaves them alone.
                    mine, _held = self.path.claim(run.id, str(page[-1]["id"]), tally, histories, planned,
                                                  read_at=read_at)
                    pending.extend(mine)
                    while len(pending) >= BATCH_SIZE:
                        submit(pending[:BATCH_SIZE])
                        pending = pending[BATCH_SIZE:]
                if self.progress:
                    self.progress(tally.pulled, min(total[0], self.limit) if self.limit else total[0])
                if self.limit is not None and tally.pulled >= self.limit:
                    break
            if pending:
                submit(pending)
            try:
                _raise_first_error(futures, wait=True)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)  # a fatal error: send no more batches
                raise
        if echo is not None:
            echo.settle()

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)


class _EchoCounter:
    """Counts contacts whose `lsc_last_scored` falls in the last writing run's span (see
    SyncJob._lower_bound); when all of that run's writes came back, the span's end is confirmed."""

    def __init__(self, store: Store):
        self.store = store
        self.start = store.get_cursor(ECHO + ".from")
        self.end = store.get_cursor(ECHO + ".until")
        self.expected = store.get_cursor(ECHO + ".count")
        self.seen = 0

    def see(self, props: dict) -> None:
        if self.expected is None or self.start is None or self.end is None:
            return
        at = parse_instant(props.get(hp.LAST_SCORED))
        if at is not None and self.start <= round(at * 1000) <= self.end:
            self.seen += 1

    def settle(self) -> None:
        if self.expected is not None and self.end is not None and self.seen >= self.expected:
            self.store.set_cursor(ECHO + ".confirmed", self.end)


def _timed(pages: Iterator[list[dict]], now_ms: Callable[[], int]) -> Iterator[tuple[int, list[dict]]]:
    """Each page with the instant just before it was requested (ms)."""
    while True:
        read_at = now_ms()
        try:
            page = next(pages)
        except StopIteration:
            return
        yield read_at, page


def _raise_first_error(futures: list[Future], wait: bool = False) -> None:
    """Surface a writer thread's fatal error (bad token, daily limit, store) in the reading thread."""
    for future in list(futures):
        if wait or future.done():
            error = future.exception()
            if error is not None:
                raise error
            futures.remove(future)
