"""A run whose process died is marked as such by the next run (issue 10, point 5), and the
schema upgrade from version 2 adds the runs' holder without losing a run."""

from __future__ import annotations

import socket

import sqlalchemy as sa

from connector.store import SCHEMA_VERSION, lock_holder
from connector.store.schema import runs, schema_meta

DEAD = f"{socket.gethostname()}:99999999"  # no such pid on this host
ELSEWHERE = "another-host:1234"


def statuses(store) -> dict[int, str]:
    with store.engine.connect() as conn:
        return dict(conn.execute(sa.select(runs.c.id, runs.c.status)).all())


def test_given_a_run_whose_process_is_gone_then_the_next_run_marks_it_died_and_can_resume_it(store):
    dead = store.start_run("webhook", 1_000, None, holder=DEAD)
    alive = store.start_run("webhook", 1_000, None)  # this process
    remote = store.start_run("webhook", 1_000, None, holder=ELSEWHERE)
    assert store.mark_dead_runs(("webhook",), 5_000) == 1
    assert statuses(store) == {dead.id: "died", alive.id: "running", remote.id: "running"}
    assert store.unfinished_run("webhook").id == remote.id  # the newest unfinished


def test_given_an_old_run_on_another_host_then_age_marks_it_died(store):
    remote = store.start_run("webhook", 1_000, None, holder=ELSEWHERE)
    fresh = store.start_run("webhook", 9_000, None, holder=ELSEWHERE)
    assert store.mark_dead_runs(("webhook",), 10_000, older_than=5_000) == 1
    assert statuses(store) == {remote.id: "died", fresh.id: "running"}


def test_given_the_job_lock_then_every_running_sync_run_is_a_dead_ones_and_stays_resumable(store):
    old = store.start_run("full", 1_000, None, holder=ELSEWHERE)
    assert store.mark_dead_runs(("full", "incremental"), 2_000, everyone=True) == 1
    assert store.unfinished_run("full").id == old.id and statuses(store)[old.id] == "died"


def test_given_a_version_2_store_when_upgraded_then_runs_gain_a_holder_and_keep_their_rows(store):
    run = store.start_run("full", 1_000, None)
    with store.engine.begin() as conn:  # back to version 2: runs had no holder then
        conn.execute(sa.text("ALTER TABLE runs DROP COLUMN holder"))
        conn.execute(schema_meta.update().values(value="2"))
    assert store.schema_version() == 2
    assert store.upgrade() == SCHEMA_VERSION == 5
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(runs.c.id, runs.c.holder)).all() == [(run.id, None)]
    assert store.start_run("webhook", 2_000, None).id > run.id
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(runs.c.holder).where(runs.c.kind == "webhook")).scalar() == lock_holder()


def test_given_an_older_release_stamped_2_over_a_version_3_store_when_upgraded_again_then_it_still_works(store):
    with store.engine.begin() as conn:  # what the previous release's upgrade() does on its start
        conn.execute(schema_meta.update().values(value="2"))
    assert store.upgrade() == 5 and store.schema_version() == 5


def test_given_a_version_3_store_when_upgraded_then_the_calibration_and_shadow_tables_appear(store):
    with store.engine.begin() as conn:  # back to version 3: no history cache, no shadow scores
        for table in ("history_cache", "history_reads", "shadow_scores", "alerts", "alert_deliveries", "assignments",
                      "sla_clocks"):
            conn.execute(sa.text(f"DROP TABLE {table}"))
        conn.execute(schema_meta.update().values(value="3"))
    assert store.upgrade() == 5 and store.schema_version() == 5
    with store.engine.connect() as conn:
        assert {"history_cache", "history_reads", "shadow_scores", "alerts", "alert_deliveries"} <= \
            set(sa.inspect(conn).get_table_names())


def test_given_a_store_newer_than_this_connector_then_upgrade_refuses_and_names_both_versions(store):
    import pytest

    from connector.errors import StoreError

    with store.engine.begin() as conn:
        conn.execute(schema_meta.update().values(value="9"))
    with pytest.raises(StoreError, match="version 9, newer than this connector's \\(5\\)"):
        store.upgrade()
    assert store.schema_version() == 9  # not lowered


def test_given_a_version_4_store_when_upgraded_then_the_handoff_results_table_appears(store):
    with store.engine.begin() as conn:  # back to version 4: no sales verdicts kept
        conn.execute(sa.text("DROP TABLE handoff_results"))
        conn.execute(schema_meta.update().values(value="4"))
    assert store.upgrade() == 5 and store.schema_version() == 5
    with store.engine.connect() as conn:
        assert "handoff_results" in sa.inspect(conn).get_table_names()
