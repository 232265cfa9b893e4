"""HubSpot's API rate limits by tier: the 10-second window per app, search per second, daily.

Figures from https://developers.hubspot.com/docs/guides/apps/api-usage/usage-details
(free/starter 100 per 10 s and 250,000 a day; professional 190 and 625,000; enterprise 190 and
1,000,000). Search: 5 requests per second per account, not counted in the 10-second window
(https://developers.hubspot.com/docs/api/crm/search "Limitations"). Search answers carry no
rate-limit headers (same page). 429 body and policyName values (TEN_SECONDLY_ROLLING, SECONDLY,
DAILY) from the usage-details page's error section.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from connector.sandbox.errors import ApiError

TEN_SECONDS = 10.0
ONE_SECOND = 1.0
SEARCH_PER_SECOND = 5


@dataclass(frozen=True)
class Tier:
    name: str
    per_ten_seconds: int | None  # None: unlimited
    daily: int | None


TIERS: dict[str, Tier] = {
    "free": Tier("free", 100, 250_000),
    "starter": Tier("starter", 100, 250_000),
    "professional": Tier("professional", 190, 625_000),
    "enterprise": Tier("enterprise", 190, 1_000_000),
    "unlimited": Tier("unlimited", None, None),
}

POLICIES = ("TEN_SECONDLY_ROLLING", "SECONDLY", "DAILY")


@dataclass
class Decision:
    """The limiter's answer: headers to add, or the 429 to send instead."""
    headers: dict[str, str] = field(default_factory=dict)
    error: ApiError | None = None


class RateLimiter:
    """Counts requests per token (app) and per account; `clock()` returns epoch seconds.

    A rejected request consumes nothing, so a client that waits as told gets through.
    """

    def __init__(self, tier: str, clock: Callable[[], float], seed: int = 0) -> None:
        self.tier = TIERS[tier]
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, deque[float]] = {}
        self._search: deque[float] = deque()
        self._day: int | None = None
        self._daily_used = 0
        self._rejections = 0
        # HubSpot does not always send Retry-After; the sandbox leaves it out of every other 429,
        # starting with the first or the second depending on the seed, so tests are repeatable.
        self._skip_parity = seed % 2
        self.rejected = dict.fromkeys(POLICIES, 0)

    def reset_counters(self) -> None:
        with self._lock:
            self.rejected = dict.fromkeys(POLICIES, 0)

    def check(self, token: str, search: bool) -> Decision:
        if self.tier.per_ten_seconds is None:
            return Decision()
        now = self._clock()
        with self._lock:
            day = int(now // 86_400)
            if day != self._day:  # HubSpot resets the daily budget at midnight (UTC here)
                self._day, self._daily_used = day, 0
            if self._daily_used >= self.tier.daily:
                wait = (day + 1) * 86_400 - now
                return Decision(error=self._reject("DAILY", wait))
            if search:
                _expire(self._search, now - ONE_SECOND)
                if len(self._search) >= SEARCH_PER_SECOND:
                    return Decision(error=self._reject("SECONDLY",
                                                       self._search[0] + ONE_SECOND - now))
                self._search.append(now)
                self._daily_used += 1
                return Decision()
            window = self._windows.setdefault(token, deque())
            _expire(window, now - TEN_SECONDS)
            limit = self.tier.per_ten_seconds
            if len(window) >= limit:
                return Decision(error=self._reject("TEN_SECONDLY_ROLLING",
                                                   window[0] + TEN_SECONDS - now))
            window.append(now)
            self._daily_used += 1
            return Decision(headers={
                "X-HubSpot-RateLimit-Max": str(limit),
                "X-HubSpot-RateLimit-Remaining": str(limit - len(window)),
                "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                "X-HubSpot-RateLimit-Daily": str(self.tier.daily),
                "X-HubSpot-RateLimit-Daily-Remaining": str(self.tier.daily - self._daily_used),
            })

    def _reject(self, policy: str, wait_s: float) -> ApiError:
        self.rejected[policy] += 1
        self._rejections += 1
        headers = {}
        if self._rejections % 2 != self._skip_parity:
            headers["Retry-After"] = str(max(1, math.ceil(wait_s)))
        return ApiError(429, f"You have reached your {policy.lower()} limit.", None,
                        extra={"errorType": "RATE_LIMIT", "policyName": policy},
                        headers=headers)


def _expire(times: deque[float], cutoff: float) -> None:
    while times and times[0] <= cutoff:
        times.popleft()
