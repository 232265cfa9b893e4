"""A one-line progress indicator for terminals (the sync shows it on stderr when it is a TTY):
done of total, rate, elapsed and, once the total is known, the time left."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO


class ProgressBar:
    WIDTH = 24

    def __init__(self, stream: TextIO, label: str = "contacts", clock: Callable[[], float] = time.monotonic):
        self.stream = stream
        self.label = label
        self.clock = clock
        self.started = clock()
        self._last = float("-inf")

    def update(self, done: int, total: int) -> None:
        """Redraw (at most five times a second); `total` 0 while unknown."""
        now = self.clock()
        if now - self._last < 0.2:
            return
        self._last = now
        self.stream.write("\r" + self.render(done, total, now - self.started))
        self.stream.flush()

    def render(self, done: int, total: int, elapsed: float) -> str:
        rate = done / elapsed if elapsed > 0 else 0.0
        if not total:
            return f"{done:,} {self.label}  {rate:,.0f}/s  {_clock(elapsed)} "
        share = min(done / total, 1.0)
        filled = int(share * self.WIDTH)
        eta = _clock((total - done) / rate) if rate > 0 and done < total else "--:--"
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        return (f"[{bar}] {done:,}/{total:,} {self.label} {share:4.0%}  {rate:,.0f}/s  "
                f"{_clock(elapsed)} elapsed, {eta} left ")

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.5))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"
