"""Client-side rate limiting that keeps the connector under HubSpot's windows instead of hitting 429s.

HubSpot limits (developers.hubspot.com/docs/guides/apps/api-usage/usage-details, checked 2026-11):
a rolling 10-second window per app (100 requests on Free/Starter, 190 on Professional/Enterprise),
and the CRM search endpoints at 5 requests per second per account, outside that window.

A slot is held from the moment a request is sent until `interval` after its answer arrived. The
server counts a request when it arrives, which is between those two instants, so a new request
sent after a slot frees can never make the server see more than `limit` requests in any window,
whatever the network latency.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class Cancelled(Exception):
    """A request given up while it waited for a slot (SlidingWindow.acquire's `cancelled`)."""


class SlidingWindow:
    """At most `limit` requests per `interval_s`, counted as described in the module docstring."""

    def __init__(self, limit: int, interval_s: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] | None = None):
        self.limit = limit
        self.interval_s = interval_s
        self._clock = clock
        self._sleep = sleep
        self._done: deque[float] = deque()  # answer times of finished requests, oldest first
        self._expired = 0  # slots freed so far, all told (see observe)
        self._in_flight = 0
        self._waiting = 0  # foreground requests waiting for a slot
        self._cond = threading.Condition()

    def acquire(self, *, background: bool = False, cancelled: Callable[[], bool] | None = None) -> int:
        """Block until a request may be sent, then count it as in flight; returns the mark that
        `observe` takes for the answer's headers.

        A `background` request (a full pass's list page) takes a slot only while no other request
        waits for one: the writes that share the window go first, and list pages use what is left.
        `cancelled`: looked at while waiting (at least every 50 ms); when it says so, `Cancelled`
        is raised and no slot is taken (a reader whose pass is already complete).
        """
        with self._cond:
            if not background:
                self._waiting += 1
            try:
                while True:
                    now = self._clock()
                    self._expire(now)
                    if cancelled is not None and cancelled():
                        raise Cancelled("the request was no longer needed")
                    if self._in_flight + len(self._done) < self.limit and (not background or not self._waiting):
                        self._in_flight += 1
                        return self._expired
                    self._wait(now, at_most=0.05 if cancelled is not None else None)
            finally:
                if not background:
                    self._waiting -= 1
                    self._cond.notify_all()  # a background request may be next

    def _wait(self, now: float, at_most: float | None = None) -> None:
        """Sleep until the oldest slot frees (or a release wakes us); the lock is held on return."""
        wait = (self._done[0] + self.interval_s - now) if self._done else 0.05
        wait = max(min(wait, at_most or wait), 0.001)
        if self._sleep is not None:  # tests with a fake clock
            self._cond.release()
            try:
                self._sleep(wait)
            finally:
                self._cond.acquire()
        else:
            self._cond.wait(timeout=wait)

    def release(self) -> None:
        """The answer (or error) arrived: the slot stays held for one interval from now."""
        with self._cond:
            self._in_flight = max(0, self._in_flight - 1)
            self._done.append(self._clock())
            self._cond.notify_all()

    def observe(self, limit: int | None, remaining: int | None, interval_s: float | None,
                sent: int | None = None) -> None:
        """Learn from HubSpot's X-HubSpot-RateLimit-* headers of an answer to a request sent with
        mark `sent` (what `acquire` returned).

        `Max` and `Interval-Milliseconds` replace our assumptions. When `Remaining` is lower than
        our own count implies, someone else (another process of ours, another integration sharing
        the app) is using the window: their share is booked as phantom requests answered now.

        "Our own count" is every slot held when the request was sent or taken since, including
        those freed in between: HubSpot counted the window as it was when the request arrived,
        and a slot of ours that freed before its answer was read still was in it then. Counting
        only the slots held now booked a phantom each time that happened, which kept a slot from
        us for a whole interval (starter, 20,000 contacts: the read-only pass's last list page
        waited 0.3 s for one in about half the runs; docs/benchmarks.md).
        """
        with self._cond:
            if interval_s:
                self.interval_s = interval_s
            if limit:
                self.limit = limit
            if remaining is not None and limit:
                now = self._clock()
                self._expire(now)
                freed_since = self._expired - sent if sent is not None else 0
                used_by_others = (limit - remaining) - (len(self._done) + self._in_flight + freed_since)
                for _ in range(max(0, used_by_others)):
                    self._done.append(now)

    def penalise(self, seconds: float) -> None:
        """After an unexpected 429, keep every slot busy for `seconds`."""
        with self._cond:
            until = self._clock() + seconds - self.interval_s
            self._done.extend([until] * max(0, self.limit - len(self._done)))
            self._done = deque(sorted(self._done))

    def _expire(self, now: float) -> None:
        while self._done and self._done[0] + self.interval_s <= now:
            self._done.popleft()
            self._expired += 1
