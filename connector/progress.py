"""A one-line progress indicator for terminals (the sync shows it on stderr when it is a TTY)."""

from __future__ import annotations

import time
from typing import TextIO


class ProgressBar:
    def __init__(self, stream: TextIO, label: str = "contacts"):
        self.stream = stream
        self.label = label
        self.started = time.monotonic()
        self._last = 0.0

    def update(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._last < 0.2:
            return
        self._last = now
        rate = done / max(now - self.started, 1e-6)
        tail = f" / {total}" if total else ""
        self.stream.write(f"\r{done}{tail} {self.label}  {rate:,.0f}/s  {now - self.started:,.0f}s ")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()
