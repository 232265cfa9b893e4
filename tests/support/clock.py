"""One fake clock for every test: epoch seconds that move only when the test (or the code under
test, through `sleep`) says so."""

from __future__ import annotations

import threading

T0 = 1_790_000_000.0  # a fixed "now" (2026-09-21)


class FakeClock:
    """Call it for the time (epoch seconds, as `time.time`); `advance` moves it; `sleep` is the
    `time.sleep` to hand the code under test: it returns at once, the clock having moved."""

    def __init__(self, now: float = T0) -> None:
        self.now = now
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def ms(self) -> int:
        """The time in epoch milliseconds, as HubSpot writes it."""
        return int(self.now * 1000)

    def __repr__(self) -> str:
        return f"FakeClock({self.now!r})"
