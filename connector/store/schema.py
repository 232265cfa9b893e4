"""The store's tables and their version. Times are integers: milliseconds since the epoch, UTC."""

from __future__ import annotations

import sqlalchemy as sa

SCHEMA_VERSION = 5

metadata = sa.MetaData()

schema_meta = sa.Table(
    "schema_meta", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(255), nullable=False),
)

# Per-contact scoring history (rollups seen, dated increases, what the connector last wrote).
contact_state = sa.Table(
    "contact_state", metadata,
    sa.Column("contact_id", sa.String(32), primary_key=True),
    sa.Column("history", sa.Text, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)

runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),  # full | incremental | webhook
    sa.Column("status", sa.String(16), nullable=False),  # running | done | failed | died | trial
    sa.Column("started_at", sa.BigInteger, nullable=False),  # also the window's upper bound
    sa.Column("window_from", sa.BigInteger),  # incremental: lastmodifieddate lower bound
    sa.Column("checkpoint_id", sa.String(32)),  # contacts up to this id are committed
    sa.Column("counts", sa.Text, nullable=False, default="{}"),
    sa.Column("finished_at", sa.BigInteger),
    sa.Column("error", sa.Text),
    # The process that runs it (host:pid, as job locks name it; added in version 3): a run whose
    # process is gone is marked `died` by the next run.
    sa.Column("holder", sa.String(128)),
    sa.Index("ix_runs_status_kind", "status", "kind"),  # the next run looks for 'running' ones
)

cursors = sa.Table(
    "cursors", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

outbox = sa.Table(
    "outbox", metadata,
    # Keyed by contact and run: the sync and the webhook worker may both have a write planned
    # for the same contact; each confirms its own.
    sa.Column("contact_id", sa.String(32), primary_key=True),
    sa.Column("run_id", sa.Integer, primary_key=True),
    sa.Column("changes", sa.Text, nullable=False),  # {property: new value}
    sa.Column("previous", sa.Text, nullable=False),  # {property: value HubSpot had}
    sa.Column("history", sa.Text, nullable=False),  # history to commit once written
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("score", sa.Text, nullable=False),  # {"total","fit","engagement","grade"}
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

audit = sa.Table(
    "audit", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, nullable=False),
    sa.Column("contact_id", sa.String(32), nullable=False, index=True),
    sa.Column("property", sa.String(128), nullable=False),
    sa.Column("old_value", sa.Text),
    sa.Column("new_value", sa.Text),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("at", sa.BigInteger, nullable=False),
)

score_history = sa.Table(
    "score_history", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("contact_id", sa.String(32), nullable=False),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("fit", sa.Integer, nullable=False),
    sa.Column("engagement", sa.Integer, nullable=False),
    sa.Column("grade", sa.String(8), nullable=False),
    sa.Index("ix_score_history_contact_at", "contact_id", "at"),
)

write_failures = sa.Table(
    "write_failures", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, nullable=False),
    sa.Column("contact_id", sa.String(32), nullable=False, index=True),
    sa.Column("changes", sa.Text, nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("at", sa.BigInteger, nullable=False),
)

# Lease locks for SQLite (PostgreSQL uses advisory locks instead): one row per held job lock.
job_locks = sa.Table(
    "job_locks", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(128), nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
)

webhook_events = sa.Table(
    "webhook_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.BigInteger, nullable=False, unique=True),
    sa.Column("object_id", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("occurred_at", sa.BigInteger, nullable=False),
    sa.Column("received_at", sa.BigInteger, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", sa.String(8), nullable=False),  # queued | taken | done
    sa.Column("taken_at", sa.BigInteger),
    sa.Column("taken_by", sa.String(64)),
    sa.Index("ix_webhook_events_status_id", "status", "id"),
)

# Malformed events the web process left out of a delivery it otherwise accepted: where and why,
# never their values (added in version 3). `connector doctor` shows them; purged with handled events.
rejected_events = sa.Table(
    "rejected_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("received_at", sa.BigInteger, nullable=False, index=True),
    sa.Column("field", sa.String(128), nullable=False),  # e.g. event[3].objectId
    sa.Column("reason", sa.String(300), nullable=False),
)


# `connector calibrate`'s read of contacts with their property history (added in version 4): one
# row per contact, the HubSpot record as read, zlib-compressed JSON, so a rerun (or an interrupted
# read) does not start from nothing. `history_reads` holds each read's cursor and whether it ended.
history_cache = sa.Table(
    "history_cache", metadata,
    sa.Column("read_key", sa.String(64), primary_key=True),  # what was asked for (hash)
    sa.Column("contact_id", sa.String(32), primary_key=True),
    sa.Column("record", sa.LargeBinary, nullable=False),
)

history_reads = sa.Table(
    "history_reads", metadata,
    sa.Column("read_key", sa.String(64), primary_key=True),
    sa.Column("started_at", sa.BigInteger, nullable=False),
    sa.Column("finished_at", sa.BigInteger),  # None: interrupted; `after` says where to go on
    sa.Column("after", sa.String(64)),
    sa.Column("contacts", sa.Integer, nullable=False, default=0),
)

# Shadow scoring (added in version 4): with SHADOW_SCORING_CONFIG set, each contact's live and
# shadow scores as first seen under that shadow config, and when it later reached an outcome stage.
shadow_scores = sa.Table(
    "shadow_scores", metadata,
    sa.Column("config_key", sa.String(64), primary_key=True),  # the shadow config's hash
    sa.Column("contact_id", sa.String(32), primary_key=True),
    sa.Column("first_at", sa.BigInteger, nullable=False),
    sa.Column("live_total", sa.Integer, nullable=False),
    sa.Column("shadow_total", sa.Integer, nullable=False),
    sa.Column("live_mql", sa.Boolean, nullable=False),
    sa.Column("shadow_mql", sa.Boolean, nullable=False),
    sa.Column("stage_at_start", sa.String(64)),
    sa.Column("latest_shadow_total", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Column("outcome_at", sa.BigInteger),  # first seen at an outcome stage (first_at: was there already)
)

# Owner alerts (added in version 4): one row per action (a hand-raise: that very form submission or
# meeting), unique per contact, so redeliveries, reruns and restarts never alert twice; one delivery
# row per channel (task, slack, teams), retried with backoff and kept when it finally fails.
alerts = sa.Table(
    "alerts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("contact_id", sa.String(32), nullable=False),
    sa.Column("action_key", sa.String(255), nullable=False),
    sa.Column("title", sa.String(255), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("owner_id", sa.String(32)),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("due_at", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("contact_id", "action_key", name="uq_alerts_contact_action"),
)

alert_deliveries = sa.Table(
    "alert_deliveries", metadata,
    sa.Column("alert_id", sa.Integer, primary_key=True),
    sa.Column("channel", sa.String(16), primary_key=True),  # task | slack | teams
    sa.Column("status", sa.String(8), nullable=False),  # pending | sending | done | failed
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_try_at", sa.BigInteger, nullable=False),
    sa.Column("taken_at", sa.BigInteger),  # 'sending' since: a killed sender's claim expires
    sa.Column("external_id", sa.String(64)),  # the HubSpot task id
    sa.Column("last_error", sa.String(300)),
    sa.Column("done_at", sa.BigInteger),
    sa.Index("ix_alert_deliveries_status_next", "status", "next_try_at"),
)

# Round-robin assignment (added in version 4): per owner, how many MQLs the connector assigned and
# when it last did, so the next unowned MQL goes to the least assigned (by weight).
assignments = sa.Table(
    "assignments", metadata,
    sa.Column("owner_id", sa.String(32), primary_key=True),
    sa.Column("assigned", sa.Integer, nullable=False),
    sa.Column("last_at", sa.BigInteger, nullable=False),
)

# The MQL -> first sales touch clock (added in version 4): started when the connector makes a
# contact an MQL, stopped at the first touch; `stages_done` escalations were sent (once each).
sla_clocks = sa.Table(
    "sla_clocks", metadata,
    sa.Column("contact_id", sa.String(32), primary_key=True),
    sa.Column("mql_at", sa.BigInteger, nullable=False),
    sa.Column("owner_id", sa.String(32)),
    sa.Column("first_touch_at", sa.BigInteger),
    sa.Column("stages_done", sa.Integer, nullable=False, default=0),
)

# Sales' verdict on each MQL (added in version 5): one row per contact and MQL moment (a contact
# recycled and qualified again is judged again), the latest verdict for it. Kept as an outcome
# with what the contact looked like when judged: grade, score, path, source and the rules that
# had fired (JSON list), so rejection reasons can be counted per rule and segment.
handoff_results = sa.Table(
    "handoff_results", metadata,
    sa.Column("contact_id", sa.String(32), primary_key=True),
    sa.Column("mql_at", sa.BigInteger, primary_key=True),  # ms; 0 when the contact was never an MQL
    sa.Column("result", sa.String(16), nullable=False),  # accepted | rejected
    sa.Column("reason", sa.String(32)),  # for a rejection: one of REJECTION_REASONS or unspecified
    sa.Column("source", sa.String(64), nullable=False),  # property | status:<value> | stage:<value>
    sa.Column("decided_at", sa.BigInteger, nullable=False),  # first seen with this verdict (ms)
    sa.Column("grade", sa.String(8)),
    sa.Column("score", sa.Integer),
    sa.Column("path", sa.String(16)),
    sa.Column("original_source", sa.String(64)),
    sa.Column("rules", sa.Text, nullable=False, default="[]"),
    sa.Column("owner_id", sa.String(32)),
)

# What the report counts per contact (added in version 5; connector/report/facts.py): HubSpot's
# creation and "became a <stage>" dates (ms), original source, and the connector's score, grade and
# path, as the sync or the webhook worker last saw the contact. A full sync refills it.
contact_facts = sa.Table(
    "contact_facts", metadata,
    sa.Column("contact_id", sa.String(32), primary_key=True),
    sa.Column("created_at", sa.BigInteger),
    sa.Column("lead_at", sa.BigInteger),
    sa.Column("mql_at", sa.BigInteger),
    sa.Column("sql_at", sa.BigInteger),
    sa.Column("opportunity_at", sa.BigInteger),
    sa.Column("customer_at", sa.BigInteger),
    sa.Column("source", sa.String(64)),
    sa.Column("grade", sa.String(8)),
    sa.Column("score", sa.Integer),
    sa.Column("path", sa.String(16)),
    sa.Column("owner_id", sa.String(32)),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)

# Each contact's activity of one kind as last read from HubSpot (added in version 5;
# connector/engagement/): the markers it was read at (the contact rollups that move with new activity)
# and the occurrences, so an unchanged contact is not read again. A cache: a lost store reads again.
engagement_cache = sa.Table(
    "engagement_cache", metadata,
    sa.Column("contact_id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(32), primary_key=True),  # meetings, calls, ..., marketing_events, page_views
    sa.Column("marker", sa.Text, nullable=False),  # JSON of the marker values when read
    sa.Column("occurrences", sa.Text, nullable=False),  # JSON [[at seconds, {attrs}], ...]
    sa.Column("read_at", sa.BigInteger, nullable=False),  # ms
)
