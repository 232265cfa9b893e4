"""Fault injection: `--faults "500=0.02,502=0.01,slow=0.05:2.0,drop=0.01,lost=0.01,seed=3"`.

A fault is chosen when a request arrives. The status, slow and drop faults act before anything is
read or written, so the portal is as before. `lost` is the other case a client must survive: the
request is handled (a write IS applied) and then the answer is lost, replaced by a 504 gateway
timeout with an HTML body. On HubSpot a 502/504 or a client timeout can follow a write that was
applied (the edge gives up waiting while the backend finishes), so a client that retries a write
after a 5xx must tolerate it having happened already (docs/hubspot-facts.md, "Limits": gateway errors
come from the edge).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

STATUSES = (500, 502, 503, 504)


@dataclass(frozen=True)
class Fault:
    kind: str  # "status", "slow", "drop" or "lost"
    status: int = 0
    delay_s: float = 0.0


@dataclass(frozen=True)
class FaultSpec:
    rates: tuple[tuple[int, float], ...] = ()
    slow_rate: float = 0.0
    slow_s: float = 0.0
    drop_rate: float = 0.0
    seed: int = 0
    lost_rate: float = 0.0  # handled, then answered 504 (the write applied, the answer lost)

    @classmethod
    def parse(cls, spec: str | None) -> FaultSpec:
        """Parse the CLI form; raise ValueError naming the bad part."""
        if not spec:
            return cls()
        rates: list[tuple[int, float]] = []
        slow_rate = slow_s = drop_rate = lost_rate = 0.0
        seed = 0
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key, sep, value = part.partition("=")
            if not sep:
                raise ValueError(f"fault {part!r}: expected KEY=VALUE")
            try:
                if key == "seed":
                    seed = int(value)
                elif key == "slow":
                    rate, _, delay = value.partition(":")
                    slow_rate, slow_s = float(rate), float(delay or 1.0)
                elif key == "drop":
                    drop_rate = float(value)
                elif key == "lost":
                    lost_rate = float(value)
                elif key.isdigit() and int(key) in STATUSES:
                    rates.append((int(key), float(value)))
                else:
                    raise ValueError(f"fault {part!r}: unknown kind {key!r}")
            except ValueError as exc:
                if "unknown kind" in str(exc):
                    raise
                raise ValueError(f"fault {part!r}: bad number") from exc
        total = sum(r for _, r in rates) + slow_rate + drop_rate + lost_rate
        if any(r < 0 for _, r in rates) or min(slow_rate, drop_rate, lost_rate) < 0 or total > 1:
            raise ValueError(f"fault rates must be >= 0 and add up to at most 1 (got {total})")
        return cls(tuple(rates), slow_rate, slow_s, drop_rate, seed, lost_rate)

    @property
    def active(self) -> bool:
        return bool(self.rates or self.slow_rate or self.drop_rate or self.lost_rate)


class FaultInjector:
    """Draws at most one fault per request from a seeded generator (thread safe)."""

    def __init__(self, spec: FaultSpec) -> None:
        self.spec = spec
        self._rng = random.Random(spec.seed)
        self._lock = threading.Lock()
        self.counts = {"status": 0, "slow": 0, "drop": 0, "lost": 0}

    def draw(self) -> Fault | None:
        if not self.spec.active:
            return None
        with self._lock:  # the draw and its count together: no lost updates across threads
            fault = self._choose(self._rng.random())
            if fault is not None:
                self.counts[fault.kind] += 1
        return fault

    def _choose(self, x: float) -> Fault | None:
        for status, rate in self.spec.rates:
            if x < rate:
                return Fault("status", status=status)
            x -= rate
        if x < self.spec.slow_rate:
            return Fault("slow", delay_s=self.spec.slow_s)
        x -= self.spec.slow_rate
        if x < self.spec.drop_rate:
            return Fault("drop")
        x -= self.spec.drop_rate
        if x < self.spec.lost_rate:
            return Fault("lost")
        return None
