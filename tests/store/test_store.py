"""The state store on SQLite and PostgreSQL: schema, queue, outbox, locks. No database mocks."""

from __future__ import annotations

import threading

import pytest

from connector.errors import StoreError
from connector.store import SCHEMA_VERSION, PlannedWrite, Store


def _event(i: int, contact: str = "1") -> dict:
    return {"event_id": i, "object_id": contact, "kind": "contact.propertyChange", "occurred_at": 1000 + i,
            "payload": {"propertyName": "email"}}


def test_upgrade_is_idempotent_and_versioned(store):
    assert store.upgrade() == SCHEMA_VERSION
    assert store.schema_version() == SCHEMA_VERSION


def test_given_redelivered_events_when_enqueue_then_each_event_id_is_stored_once(store):
    first = store.enqueue_events([_event(1), _event(2), _event(2)])
    again = store.enqueue_events([_event(2), _event(3)])
    assert (first.accepted, first.duplicates) == (2, 1)
    assert (again.accepted, again.duplicates) == (1, 1)
    assert store.count_queued() == 3


def test_given_two_workers_when_taking_events_then_batches_are_disjoint_and_leases_expire(store):
    store.enqueue_events([_event(i, str(i)) for i in range(1, 21)])
    a = store.take_events(10, "worker-a", now=10_000, lease_ms=5_000)
    b = store.take_events(50, "worker-b", now=10_001, lease_ms=5_000)
    assert len(a) == 10 and len(b) == 10
    assert not {e.event_id for e in a} & {e.event_id for e in b}
    store.finish_events([e.id for e in b])
    # worker-a died: after its lease its events are claimable again, worker-b's finished ones are not
    c = store.take_events(50, "worker-c", now=16_000, lease_ms=5_000)
    assert {e.event_id for e in c} == {e.event_id for e in a}


def test_given_concurrent_takers_when_racing_then_no_event_is_taken_twice(store):
    store.enqueue_events([_event(i, str(i)) for i in range(1, 201)])
    taken: list[int] = []
    lock = threading.Lock()

    def take(name: str) -> None:
        while True:
            batch = store.take_events(7, name, now=1_000, lease_ms=60_000)
            if not batch:
                return
            with lock:
                taken.extend(e.event_id for e in batch)

    threads = [threading.Thread(target=take, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == list(range(1, 201))


def test_given_planned_write_when_confirmed_twice_then_audit_and_score_rows_are_written_once(store):
    run = store.start_run("full", 1_000, None)
    write = PlannedWrite("7", run.id, {"lsc_score": "40", "hs_lead_status": "MQL"},
                         {"lsc_score": None, "hs_lead_status": "NEW"},
                         {"t": 40}, "Demo request", {"total": 40, "fit": 20, "engagement": 20, "grade": "B1"})
    store.checkpoint(run.id, "7", {"pulled": 1}, {}, [write], now=1_100)
    assert store.count_planned() == 1
    store.confirm_writes([write], now=1_200)
    store.confirm_writes([write], now=1_300)
    assert store.count_rows("audit") == 2
    assert store.count_rows("score_history") == 1
    assert store.get_histories(["7"]) == {"7": {"t": 40}}
    assert store.count_planned() == 0


def test_given_a_refused_write_when_recorded_then_it_leaves_the_outbox_and_history_is_unchanged(store):
    run = store.start_run("full", 1_000, None)
    write = PlannedWrite("8", run.id, {"lsc_score": "x"}, {}, {"t": 1}, "", {})
    store.checkpoint(run.id, "8", {}, {}, [write], now=1_100)
    store.record_failures([(write, "INVALID_DECIMAL")], now=1_200)
    assert store.count_planned() == 0 and store.count_rows("write_failures") == 1
    assert store.get_histories(["8"]) == {}


def test_finish_run_moves_the_cursor_to_the_runs_start_not_its_end(store):
    run = store.start_run("incremental", 5_000, 1_000)
    store.finish_run(run, {}, now=9_000, cursor_name="c")
    assert store.get_cursor("c") == 5_000
    assert store.unfinished_run("incremental") is None


def test_deletion_forgets_and_merge_moves_history(store):
    run = store.start_run("webhook", 1, None)
    for cid in ("1", "2", "3"):
        w = PlannedWrite(cid, run.id, {"lsc_score": "1"}, {}, {"t": 1}, "",
                         {"total": 1, "fit": 1, "engagement": 0, "grade": "C3"})
        store.checkpoint(run.id, cid, {}, {}, [w], now=2)
        store.confirm_writes([w], now=3)
    store.forget_contacts(["1"])
    store.move_history(["2"], "3")
    assert store.audit_for("1") == [] and store.audit_for("2") == []
    assert len(store.audit_for("3")) == 2
    assert store.get_histories(["1", "2", "3"]) == {"3": {"t": 1}}


def test_job_lock_is_exclusive_and_released(store):
    with store.job_lock("sync", "host:1") as first:
        with store.job_lock("sync", "host:2") as second:
            assert first and not second
    with store.job_lock("sync", "host:2") as again:
        assert again


def test_given_unreachable_database_when_used_then_store_error():
    store = Store("postgresql+psycopg://nobody@127.0.0.1:1/none")
    with pytest.raises(StoreError, match="unavailable"):
        store.ping()


def test_a_resumed_old_run_never_moves_the_cursor_back(store):
    new = store.start_run("incremental", 9_000, 1_000)
    store.finish_run(new, {}, now=9_500, cursor_name="c")
    old = store.start_run("full", 5_000, None)
    store.finish_run(old, {}, now=9_900, cursor_name="c")
    assert store.get_cursor("c") == 9_000


def test_a_history_evaluated_earlier_never_replaces_one_evaluated_later(store):
    run = store.start_run("webhook", 1, None)
    later = PlannedWrite("5", run.id, {"lsc_score": "9"}, {}, {"v": "later"}, "", {}, planned_at=2_000)
    earlier = PlannedWrite("5", run.id + 1, {"lsc_score": "3"}, {}, {"v": "earlier"}, "", {}, planned_at=1_000)
    for w in (later, earlier):
        store.checkpoint(w.run_id, "5", {}, {}, [w], now=w.planned_at)
    store.confirm_writes([later], now=3_000)
    store.confirm_writes([earlier], now=4_000)
    assert store.get_histories(["5"]) == {"5": {"v": "later"}}


def test_a_failed_run_is_resumed_from_its_checkpoint(store):
    run = store.start_run("full", 1_000, None)
    store.checkpoint(run.id, "250", {"pulled": 250}, {}, [], now=1_100)
    store.fail_run(run.id, "UnreachableError", now=1_200)
    resumed = store.unfinished_run("full")
    assert resumed is not None and resumed.id == run.id and resumed.checkpoint_id == "250"


def test_given_a_worker_holds_a_contacts_events_when_another_takes_then_it_gets_none_of_that_contact(store):
    store.enqueue_events([_event(1, "7"), _event(2, "8")])
    first = store.take_events(1, "worker-a", now=1_000, lease_ms=5_000)  # contact 7
    store.enqueue_events([_event(3, "7")])  # a newer change of contact 7 while worker-a works on it
    second = store.take_events(10, "worker-b", now=1_001, lease_ms=5_000)
    assert [e.object_id for e in first] == ["7"]
    assert [e.object_id for e in second] == ["8"]
    store.finish_events([e.id for e in first])
    third = store.take_events(10, "worker-b", now=1_002, lease_ms=5_000)
    assert [e.event_id for e in third] == [3]
