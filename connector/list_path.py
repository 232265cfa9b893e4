"""A full pass's list path, the parts it needs before the store is open: its share of the
10-second window (`list_share`) and its first page, asked for early (`FirstListPage`).

Kept apart from connector.sync because the sync command uses both before it loads the store's
modules (SQLAlchemy, ~0.2 s of a process's start)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from connector.gateway import Gateway

log = logging.getLogger(__name__)

SEARCH_PAGE = 200  # contacts a search page brings (connector.gateway.SEARCH_PAGE_SIZE)
LIST_PAGE = 100  # ... and a list page, and a batch update takes (LIST_PAGE_SIZE, BATCH_SIZE)


def list_share(window_max: int, interval_s: float, search_per_s: int, write_fraction: float) -> int:
    """How many of the window's `window_max` requests per `interval_s` a full pass gives list pages.

    Every contact read is written with probability `write_fraction` (f), 100 to a batch update in
    the same window. Search reads search_per_s x 200 contacts a second outside it, whose writes take
    f x that / 100 window requests a second; each list page takes one more request and brings 100
    contacts, so f more writes. What is left after search's writes, shared by list pages and their
    own writes: (max - f x search contacts per interval / 100) / (1 + f). At professional limits
    (190 per 10 s, 5 searches/s) with every contact written: (190 - 100) / 2 = 45 list pages per
    10 s, which is the rate of the 13.8 s bound for 20,000 contacts; read-only (f = 0): all 190; at
    starter limits (100) with every contact written: 0, since the writes of search's reads alone
    fill the window.
    """
    writes_for_search = write_fraction * search_per_s * SEARCH_PAGE * interval_s / LIST_PAGE
    return max(0, int((window_max - writes_for_search) / (1 + write_fraction)))


class FirstListPage:
    """The first list page of a fresh full pass, read on a thread while the store opens.

    Why: the pass's last list pages wait for the window's earliest slots to free, 10 s after they
    were taken. The token check and the portal check take the first two; the third was the first
    list page, sent only once the store was open and had said whether a killed pass left a
    checkpoint. A fresh pass starts its list path at the lowest id whatever the store says, so the
    page is asked for beside the store's start-up, and the three slots free 10 s after the first
    ~0.2 s of the process rather than 10 s after the store opened (starter limits, 20,000
    contacts: docs/benchmarks.md, "the window's first slots"). A pass that resumes from a
    checkpoint, or reads other properties, does not use it: one window call read for nothing.
    """

    def __init__(self, gateway: Gateway, properties: Sequence[str], now_ms: Callable[[], int]):
        self.properties = list(properties)
        self._gateway, self._now_ms = gateway, now_ms
        # The pass's calls and time count from here (SyncJob.run's summary).
        self.counters_before = gateway.counters.snapshot()
        self.asked_at_ms = now_ms()
        self._page: tuple[int, list[dict], str | None] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._read, name="read-list-first", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            read_at = self._now_ms()
            page, after = self._gateway.list_contacts(properties=self.properties)
            self._page = (read_at, page, after)
        except BaseException as exc:  # noqa: BLE001 - raised where the page is taken
            self._error = exc

    def take(self, properties: Sequence[str]) -> tuple[int, list[dict], str | None] | None:
        """(when it was asked for, ms; the page; the next page's token) if it was read with these
        `properties`, else None; raises what reading it raised."""
        self._thread.join()
        if list(properties) != self.properties:
            log.debug("the list page read early asked for other properties than the pass reads: not used")
            return None
        if self._error is not None:
            raise self._error
        return self._page

    def discard(self) -> None:
        """The pass did not need it (resumed, or not a full pass): wait for the read to end."""
        self._thread.join()
