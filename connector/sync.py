"""The scheduled sync: pull contacts, score and decide (pure core), write back what changed.

    pages ──► WritePath.plan ──► checkpoint in the store ──► writer threads ──► batch update
              (one read brings every input)  (histories + outbox)            (≤100, changed values only)

An incremental run reads by search (a `lastmodifieddate` window, ascending ids). A full pass reads
through HubSpot's two budgets at once: search pages of 200 (5 requests/s per account, outside the
10-second window) page DOWN from the highest id, list pages of 100 (GET /crm/v3/objects/contacts,
in the 10-second window) page UP from the lowest; each page keeps only the ids the other path has
not reached (`_Frontier`), and the pass is complete where they meet. So the split needs no guess
about the id space: each path covers what its budget reads by then. Writes share the window with
list pages and go first: list pages are background requests (SlidingWindow.acquire), and they
take at most the share of the window that the writes still to come leave them (`list_share`,
from the limits the headers report and the share of contacts written so far), so neither budget
idles, writes never wait for list pages, and nothing provokes a 429.

Each page's decisions are committed (as an outbox) before any is written, and each write is
confirmed afterwards (connector.writeback), so a run killed anywhere is finished by the next one,
which resumes the pass from both committed ends (`_Checkpoint`). The incremental cursor is the
start of the last complete run, never later.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field

from connector.core import properties as hp
from connector.core.rules import RuleSet
from connector.core.values import parse_instant
from connector.errors import HubSpotError, ValidationError
from connector.gateway import BATCH_SIZE, Counters, Gateway
from connector.handoff.assign import Assigner
from connector.list_path import FirstListPage, list_share
from connector.ratelimit import Cancelled, SlidingWindow
from connector.shadow import ShadowScorer
from connector.store import PlannedWrite, Run, Store
from connector.writeback import RunCounts, WritePath

log = logging.getLogger(__name__)

CURSOR = "contacts.lastmodifieddate"
ECHO = "contacts.own_writes"  # see SyncJob._lower_bound
PLANNED_IN_JSON = 10_000  # a dry run's planned changes in --json (the rest counted, not listed)
SEARCH, LIST = "search", "list"  # a full pass's two read paths
CHECKPOINT_CHARS = 32  # the run row's checkpoint_id column (connector/store/schema.py)
QUEUED_PAGES = 8  # pages read ahead of planning, both paths together (bounded memory)
# Batch updates in flight at once. Each waits a round trip: with 2, a first sync of 20,000 contacts
# against the sandbox answering every call 150 ms late (`--faults slow=1.0:0.15`, as HubSpot might)
# took 20.1 s, its writes alone 200 x 0.15 / 2 = 15 s; with 4, 15.4 s (the rate bound: 13.8 s).
# Without the delay 2 and 4 alike (13.9 / 13.6 s): the window, not the writers, is the limit there.
WRITERS = 4
ENRICH_GROUP = 1000  # contacts whose activity is read together (an association read's largest batch)
@dataclass
class RunSummary(RunCounts):
    """A finished sync: its counters (this run's writes plus a dead run's it finished), the
    run's identity, the API calls it made and the budgets they were made in."""

    kind: str = ""
    dry_run: bool = False
    recovered: int = 0
    requests: int = 0
    rate_limited: int = 0
    retries: int = 0
    took_s: float = 0.0
    run_id: int | None = None
    window_from: int | None = None
    reads: dict[str, int] = field(default_factory=dict)  # contacts read into the run, by path
    calls: dict[str, int] = field(default_factory=dict)  # API calls, by kind (search, list, batch_update...)
    window_max: int = 0  # the 10-second window as the headers last reported it (or as configured)
    window_interval_s: float = 0.0
    search_per_s: int = 0

    def line(self) -> str:
        """One line with the keys `as_dict` uses (so a log and a JSON summary read alike)."""
        return (f"sync done kind={self.kind}{' dry-run' if self.dry_run else ''} pulled={self.pulled} "
                f"scored={self.scored} changed={self.changed} written={self.written} failed={self.failed} "
                f"held={self.held} mql_new={self.mql_new} {self.budget_use()} requests={self.requests} "
                f"rate_limited={self.rate_limited} retries={self.retries} took_s={self.took_s:.1f}"
                + (f" rebuilt={self.rebuilt}" if self.rebuilt else ""))

    def budget_use(self) -> str:
        """Reads by path (contacts/calls), write calls, and the two budgets they were made in."""
        reads = ",".join(f"{path}:{self.reads.get(path, 0)}/{self.calls.get(path, 0)}" for path in (SEARCH, LIST))
        return (f"reads={reads} write_calls={self.calls.get('batch_update', 0)} "
                f"budgets=search:{self.search_per_s}/s,window:{self.window_max}/{self.window_interval_s:g}s")

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
                 writers: int = WRITERS, progress: Callable[[int, int], None] | None = None,
                 clock: Callable[[], float] = time.time, keep_planned: int = 0,
                 before_first_write: Callable[[], None] | None = None,
                 shadow: ShadowScorer | None = None, alert_channels: Sequence[str] = (),
                 assigner: Assigner | None = None, first_list_page: FirstListPage | None = None):
        """`before_first_write`: run once, before the first page with a planned write is committed
        (the portal check: a run with nothing to write makes no call for it). `shadow`: score
        with a candidate config too (not in a dry run: a dry run keeps nothing).
        `first_list_page`: a full pass's first list page, asked for before the store opened
        (connector.list_path); used if the pass starts its list path at the lowest id."""
        self.gateway = gateway
        self.store = store
        self.overlap_ms = int(overlap_s * 1000)
        self.dry_run = dry_run
        self.limit = limit
        self.writers = writers
        self.progress = progress
        self.clock = clock
        self.before_first_write = before_first_write
        self.first_list_page = first_list_page
        self._reads: Counter[str] = Counter()
        self.path = WritePath(gateway, store, rules, clock=clock,
                              keep_planned=PLANNED_IN_JSON if dry_run else keep_planned,
                              shadow=None if dry_run else shadow,
                              alert_channels=() if dry_run else alert_channels,
                              assigner=None if dry_run else assigner, keep_verdicts=not dry_run)

    def run(self, *, full: bool = False) -> RunSummary:
        try:
            return self._run(full)
        finally:
            if self.first_list_page is not None:
                self.first_list_page.discard()  # its read has ended, used or not

    def _run(self, full: bool) -> RunSummary:
        started = self.clock()
        counters_before = self.gateway.counters.snapshot()
        if self.first_list_page is not None:  # the pass began with it
            started = min(started, self.first_list_page.asked_at_ms / 1000)
            counters_before = self.first_list_page.counters_before
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
                          took_s=self.clock() - started, run_id=run.id, window_from=run.window_from,
                          **self._budgets(used))

    def _budgets(self, used: Counters) -> dict:
        """The summary's reads by path, calls by kind and the budgets as the gateway knows them."""
        return {"reads": dict(self._reads), "calls": {k: v for k, v in used.by_kind.items() if v},
                "window_max": self.gateway.window.limit, "window_interval_s": self.gateway.window.interval_s,
                "search_per_s": self.gateway.search_window.limit}

    def _resume_or_start(self, kind: str, cursor: int | None) -> Run:
        window_from = self._lower_bound(cursor) if kind == "incremental" else None
        if self.dry_run:
            return Run(0, kind, "dry-run", self._now_ms(), window_from, None, {})
        unfinished = self.store.unfinished_run(kind)
        if unfinished is not None:
            log.info("resuming %s run %s from checkpoint %s", kind, unfinished.id, unfinished.checkpoint_id)
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
            with closing(self._pages(run, tally, lambda n: total.__setitem__(0, n))) as pages:
                for page, contacts in self._enriched(pages):
                    if not contacts:  # a path's last page, past the other's end: only its end to commit
                        if not self.dry_run:
                            self.path.claim(run.id, page.checkpoint, tally, {}, [])
                        continue
                    planned, histories = self.path.plan(contacts, run.id, tally, echo.see if echo else None,
                                                        page.read_at)
                    if planned and self.before_first_write is not None:
                        check, self.before_first_write = self.before_first_write, None
                        check()  # raises before anything of this page is committed
                    if not self.dry_run:
                        # Contacts the webhook worker holds are its to write (it read them later, or
                        # wrote them after this read): this run leaves them alone.
                        mine, _held = self.path.claim(run.id, page.checkpoint, tally, histories, planned,
                                                      read_at=page.read_at)
                        pending.extend(mine)
                        while len(pending) >= BATCH_SIZE:
                            submit(pending[:BATCH_SIZE])
                            pending = pending[BATCH_SIZE:]
                    if self.progress:
                        self.progress(tally.pulled, min(total[0], self.limit) if self.limit else total[0])
            if pending:
                submit(pending)
            try:
                _raise_first_error(futures, wait=True)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)  # a fatal error: send no more batches
                raise
        if echo is not None:
            echo.settle()

    def _enriched(self, pages: Iterable[_Page]) -> Generator[tuple[_Page, list[dict]], None, None]:
        """The pages in order, each with its contacts (cut at `limit`), their activity read a group
        of pages at a time: an association read takes 1,000 contacts and a batch read 100
        engagements, so reading per page of 100-200 contacts spent two calls per kind on every
        page, most of them part-empty (20,000 contacts, the packaged config: 632 association and
        batch reads in a read-only pass; in groups of 1,000: 168). A group is at least
        ENRICH_GROUP contacts or what is left; without activity rules, each page is its own group.
        A page is committed after its group's read, so a killed run reads again at most a group's
        pages."""
        group: list[tuple[_Page, list[dict]]] = []
        size = taken = 0
        for page in pages:
            contacts = page.contacts
            if self.limit is not None:
                contacts = contacts[: max(0, self.limit - taken)]
                if not contacts:
                    break
            taken += len(contacts)
            self._reads[page.path] += len(contacts)
            group.append((page, contacts))
            size += len(contacts)
            if size >= ENRICH_GROUP or not self.path.reads_activity:  # nothing to read: no waiting
                yield from self._enrich(group)
                group, size = [], 0
            if self.limit is not None and taken >= self.limit:
                break
        yield from self._enrich(group)

    def _enrich(self, group: list[tuple[_Page, list[dict]]]) -> list[tuple[_Page, list[dict]]]:
        if group:
            self.path.enrich([c for _, contacts in group for c in contacts])
        return group

    def _write_fraction(self, tally: RunCounts) -> float:
        """The share of contacts read that this run is writing: none in a dry run; all of them
        until the first pages are planned (a first sync writes every contact; a nightly pass
        learns its own share within a few pages)."""
        if self.dry_run:
            return 0.0
        return min(1.0, tally.changed / tally.pulled) if tally.pulled else 1.0

    def _pages(self, run: Run, tally: RunCounts,
               on_total: Callable[[int], None]) -> Generator[_Page, None, None]:
        """The run's pages, each with the checkpoint that commits it: both budgets for a full pass;
        search alone for an incremental run, or a full run an older version began (its checkpoint
        is one id: search resumes ascending from it)."""
        if run.kind == "full":
            resumed = _Checkpoint.decode(run.checkpoint_id)
            if resumed is not None:
                return _BothBudgets(self.gateway, self.path.properties, resumed, self._now_ms, on_total,
                                    lambda: self._write_fraction(tally), self.first_list_page).pages()
        return self._search_pages(run, on_total)

    def _search_pages(self, run: Run, on_total: Callable[[int], None]) -> Generator[_Page, None, None]:
        filters = []
        if run.window_from is not None:
            filters = [
                {"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(run.window_from)},
                {"propertyName": "lastmodifieddate", "operator": "LT", "value": str(run.started_at)},
            ]
        pages = self.gateway.iter_search(properties=self.path.properties, filters=filters,
                                         after_id=run.checkpoint_id, on_total=on_total)
        for read_at, page in _timed(pages, self._now_ms):
            yield _Page(SEARCH, page, read_at, str(page[-1]["id"]))

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)


@dataclass
class _Page:
    """Contacts one read brought into the run, and what committing them records."""

    path: str  # SEARCH or LIST
    contacts: list[dict]
    read_at: int  # ms, taken just before the request
    checkpoint: str = ""
    after: str | None = None  # a list page: HubSpot's token for the next one
    last: bool = False  # the path's last page


@dataclass
class _Checkpoint:
    """A full pass's committed progress, as the run row keeps it: every id from `high` up was read
    by search; the list path either still runs (its next page is `list_after`) or is done, having
    read every id up to `low`. Encoded "HIGH:TOKEN" or "HIGH=LOW" (parts empty when unknown) in at
    most CHECKPOINT_CHARS; a token too long for that is left out (the list path then starts again
    from the bottom: more reads, never fewer)."""

    high: int | None = None
    list_after: str | None = None
    list_done: bool = False
    low: int | None = None

    def encode(self) -> str:
        high = "" if self.high is None else str(self.high)
        if self.list_done:
            return f"{high}={'' if self.low is None else self.low}"
        text = f"{high}:{self.list_after or ''}"
        return text if len(text) <= CHECKPOINT_CHARS else f"{high}:"

    @classmethod
    def decode(cls, text: str | None) -> _Checkpoint | None:
        """None for an older version's checkpoint (one id: an ascending search read up to it)."""
        if not text:
            return cls()
        digits = len(text) - len(text.lstrip("0123456789"))
        if digits == len(text):
            return None
        high, sep, rest = text[:digits], text[digits], text[digits + 1:]
        top = int(high) if high else None
        if sep == "=":
            return cls(top, None, True, int(rest) if rest else None)
        return cls(top, rest or None)

    def advance(self, page: _Page) -> str:
        """Record a page of either path as committed; the checkpoint text that says so."""
        if page.path == SEARCH:
            if page.contacts:
                self.high = int(page.contacts[-1]["id"])
        else:
            if page.contacts:
                self.low = int(page.contacts[-1]["id"])
            if page.last:
                self.list_done = True
            else:
                self.list_after = page.after
        return self.encode()


class _Frontier:
    """Where a full pass's two readers stand: every id up to `low` is the list reader's (it pages
    up from the bottom), every id from `high` up the search reader's (it pages down from the top).
    A page keeps only the ids between the two, so no contact is read into the run twice; the pass
    is complete (`met`) when a page reaches past the other end, or a reader runs out of pages.

    Sound because each reader's pages are contiguous in id order: a list page that reaches `high`
    holds every id between `low` and `high`, as does a search page that reaches `low`. A resumed
    list reader starts at a token, not at an id: until its first page is taken `low` is unknown,
    and the search reader waits for it rather than read the list's committed part again.
    """

    def __init__(self, low: int | None, high: int | None, *, low_known: bool):
        self._lock = threading.Lock()
        self.low, self.high = low, high
        self.met = False
        self._low_known = threading.Event()
        if low_known:
            self._low_known.set()
        self._previous: dict[str, int] = {}

    def from_bottom(self, page: list[dict]) -> tuple[list[dict], bool]:
        """The list reader's page (ascending ids): the contacts it keeps, and whether the pass is complete."""
        with self._lock:
            self._low_known.set()
            return self._take(LIST, page)

    def from_top(self, page: list[dict], stop: threading.Event) -> tuple[list[dict], bool]:
        """The search reader's page (descending ids), as `from_bottom`."""
        while not self._low_known.wait(0.05):
            if stop.is_set():
                return [], True
        with self._lock:
            return self._take(SEARCH, page)

    def _take(self, path: str, page: list[dict]) -> tuple[list[dict], bool]:
        upward = path == LIST
        ids = self._in_order(path, page, ascending=upward)
        if self.met:
            return [], True
        other_end = self.high if upward else self.low
        kept = page if other_end is None else [
            c for c, i in zip(page, ids, strict=True) if (i < other_end if upward else i > other_end)]
        if kept:
            if upward:
                self.low = int(kept[-1]["id"])
            else:
                self.high = int(kept[-1]["id"])
        self.met = len(kept) < len(page)
        return kept, self.met

    def meet(self) -> None:
        """A reader ran out of pages: it read everything the other has not."""
        with self._lock:
            self.met = True
            self._low_known.set()

    def _in_order(self, path: str, page: list[dict], *, ascending: bool) -> list[int]:
        """The page's ids, checked to continue its reader's id order (HubSpot's docs do not promise
        it for the list endpoint: *unverified*, see Gateway.list_contacts). Out of order the split
        would be unsound, so the run stops, resumable, instead of missing contacts."""
        ids = [int(c["id"]) for c in page]
        previous = self._previous.get(path)
        for i in ids:
            if previous is not None and (i <= previous if ascending else i >= previous):
                raise HubSpotError(f"HubSpot's contact {path} pages came back out of id order (id {i} after "
                                   f"{previous}): a full pass cannot split its reads by id")
            previous = i
        if previous is not None:
            self._previous[path] = previous
        return ids


class _BothBudgets:
    """A full pass through both budgets: a search reader paging down from the highest id and a
    list reader paging up from the lowest, each in its own thread, meeting in the middle
    (`_Frontier`). Their pages come out in one stream in the order they were read, each with the
    checkpoint that commits it and every earlier page of its path (`_Checkpoint`)."""

    def __init__(self, gateway: Gateway, properties: Sequence[str], resumed: _Checkpoint,
                 now_ms: Callable[[], int], on_total: Callable[[int], None],
                 write_fraction: Callable[[], float], first_list_page: FirstListPage | None = None):
        """`write_fraction`: the share of contacts read that are being written (0 in a dry run).
        `first_list_page`: the list path's first page if it was asked for early (connector.list_path)."""
        self.gateway = gateway
        self.first_list_page = first_list_page
        self.write_fraction = write_fraction
        # The list pages' own share of the window (list_share), on the window's clock and interval.
        self.share = SlidingWindow(gateway.window.limit, gateway.window.interval_s)
        self.properties = list(properties)
        self.committed = resumed
        self.now_ms = now_ms
        self.on_total = on_total
        low = resumed.low if resumed.list_done else None
        self.frontier = _Frontier(low, resumed.high, low_known=resumed.list_done or resumed.list_after is None)
        self.queue: queue.Queue[_Page | BaseException] = queue.Queue(QUEUED_PAGES)
        self.stop = threading.Event()

    def pages(self) -> Generator[_Page, None, None]:
        readers = [threading.Thread(target=self._read, args=(SEARCH, self._search_down()),
                                    name="read-search", daemon=True)]
        if not self.committed.list_done:
            readers.append(threading.Thread(target=self._read, args=(LIST, self._list_up()),
                                            name="read-list", daemon=True))
        for reader in readers:
            reader.start()
        try:
            left = len(readers)
            while left:
                item = self.queue.get()
                if isinstance(item, BaseException):
                    raise item
                left -= item.last
                item.checkpoint = self.committed.advance(item)
                yield item
        finally:
            self.stop.set()  # readers check it before each request and while waiting to hand a page over
            for reader in readers:
                reader.join()

    def _read(self, path: str, pages: Iterator[tuple[int, list[dict], str | None]]) -> None:
        """One reader's loop: take each page's share (`_Frontier`), hand it over, stop at the end."""
        try:
            for read_at, page, after in pages:
                if self.stop.is_set():
                    return
                kept, met = (self.frontier.from_bottom(page) if path == LIST
                             else self.frontier.from_top(page, self.stop))
                self._hand_over(_Page(path, kept, read_at, after=after, last=met))
                if met:
                    return
            self.frontier.meet()
            self._hand_over(_Page(path, [], self.now_ms(), last=True))
        except Cancelled:  # the pass completed while this reader waited for a slot
            self._hand_over(_Page(path, [], self.now_ms(), last=True))
        except BaseException as exc:  # noqa: BLE001 - the planning thread raises it
            self._hand_over(exc)

    def _finished(self) -> bool:
        return self.stop.is_set() or self.frontier.met

    def _hand_over(self, item: _Page | BaseException) -> None:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    def _search_down(self) -> Iterator[tuple[int, list[dict], str | None]]:
        high = self.committed.high
        pages = self.gateway.iter_search(properties=self.properties, below_id=None if high is None else str(high),
                                         descending=True, on_total=self.on_total, cancelled=self._finished)
        for read_at, page in _timed(pages, self.now_ms):
            yield read_at, page, None

    def _list_up(self) -> Iterator[tuple[int, list[dict], str | None]]:
        # A resumed list path's first page is read whatever its share: until it is, the search
        # reader does not know where the list stands (_Frontier) and waits.
        resumed = self.committed.list_after
        early = None
        if resumed is None and self.first_list_page is not None:
            early = self.first_list_page.take(self.properties)
        try:
            read_at, page, after = early or self._list_page(resumed, within_share=resumed is None)
        except ValidationError:
            if resumed is None:
                raise
            # *unverified* that a list token stays valid across processes and hours (HubSpot's
            # docs say only that it pages on): one refused, the list path starts again.
            log.warning("HubSpot refused the list token a killed full pass kept; its list pages start again "
                        "from the lowest id")
            read_at, page, after = self._list_page(None, within_share=False)
        while True:
            yield read_at, page, after
            if not after or self.stop.is_set():
                return
            read_at, page, after = self._list_page(after)

    def _list_page(self, after: str | None, *, within_share: bool = True) -> tuple[int, list[dict], str | None]:
        """(when it was asked for, ms; the page; the next page's token), within the list pages'
        share of the window unless told otherwise."""
        if within_share:
            window = self.gateway.window
            self.share.interval_s = window.interval_s
            self.share.limit = list_share(window.limit, window.interval_s, self.gateway.search_window.limit,
                                          self.write_fraction())
            self.share.acquire(cancelled=self._finished)
        try:
            read_at = self.now_ms()
            page, nxt = self.gateway.list_contacts(properties=self.properties, after=after,
                                                   cancelled=self._finished)
        finally:
            if within_share:
                self.share.release()
        return read_at, page, nxt


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
