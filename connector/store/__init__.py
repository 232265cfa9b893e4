"""The connector's state: cursors, runs, the write outbox, audit trail, score history, webhook queue.

SQLAlchemy Core over SQLite (default, one process) or PostgreSQL (`DATABASE_URL`, several
processes). Every multi-row change that must stay consistent happens in one transaction.

One `Store` object, assembled from one module per job:
- `schema`: the tables and their version; `database`: engine, guarded connections, upgrades;
- `runs`: runs and cursors; `outbox`: planned writes, audit trail, histories;
- `locks`: job locks across processes; `queue`: the webhook queue;
- `history`: calibration's cache of contacts read with history; `shadow`: shadow scores;
- `alerts`: owner alerts and their deliveries per channel, assignment counts, SLA clocks;
- `handoff`: sales' verdicts on MQLs; `funnel`: what the report counts per contact;
- `engagement`: each contact's activity as last read (connector/engagement/).
"""

from __future__ import annotations

from connector.store.alerts import Alerts, Delivery, NewAlert
from connector.store.engagement import EngagementCache
from connector.store.funnel import Funnel
from connector.store.handoff import HandoffResults, SeenVerdict
from connector.store.history import HistoryCache, HistoryRead
from connector.store.locks import Locks, lock_holder
from connector.store.outbox import Outbox, PlannedWrite
from connector.store.queue import EnqueueResult, Queue, QueuedEvent
from connector.store.runs import Run, Runs
from connector.store.schema import SCHEMA_VERSION
from connector.store.shadow import Shadow, ShadowSighting


class Store(Runs, Funnel, Outbox, Queue, Locks, HistoryCache, Shadow, Alerts, HandoffResults,
            EngagementCache):
    """All reads and writes of the connector's own state."""


__all__ = ["SCHEMA_VERSION", "Delivery", "EnqueueResult", "HistoryRead", "NewAlert", "PlannedWrite",
           "QueuedEvent", "Run", "SeenVerdict", "ShadowSighting", "Store", "lock_holder"]
