"""Regression tests for the review of the sandbox: batch duplicates, merge chains, paging cursors,
lost answers after applied writes, concurrent and duplicated webhook delivery, batch timestamps."""

from __future__ import annotations

import json
import threading
import time

import pytest

from connector.sandbox import cli
from connector.sandbox.faults import FaultInjector, FaultSpec
from connector.sandbox.values import iso_ms
from connector.sandbox.webhooks import DEFAULT_MAX_CONCURRENT, WebhookSender

C = "/crm/v3/objects/contacts"


# ---- 1. duplicate ids in one batch ----------------------------------------------------------------
def test_given_same_id_twice_in_batch_update_then_400_duplicate_ids_and_nothing_applied(
        start_sandbox, make_http):
    sb = start_sandbox(tier="unlimited")
    cid = str(sb.portal.stores["contacts"].order[0])
    before = sb.portal.get("contacts", cid).properties.get("firstname")
    http = make_http(sb.base_url)
    status, body, _ = http("POST", f"{C}/batch/update", {"inputs": [
        {"id": cid, "properties": {"firstname": "First"}},
        {"id": cid, "properties": {"firstname": "Second"}}]})
    assert status == 400 and body["category"] == "VALIDATION_ERROR"
    assert body["message"] == f"Duplicate IDs found in batch input: [{cid}]. IDs must be unique"
    assert body["context"] == {"ids": [cid]}
    assert sb.portal.get("contacts", cid).properties.get("firstname") == before


def test_given_same_email_twice_in_batch_upsert_then_400_and_nothing_created(
        start_sandbox, make_http):
    sb = start_sandbox(tier="unlimited")
    before = sb.portal.count()
    http = make_http(sb.base_url)
    status, body, _ = http("POST", f"{C}/batch/upsert", {"inputs": [
        {"id": "dup@review.test", "idProperty": "email", "properties": {"firstname": "A"}},
        {"id": "DUP@review.test", "idProperty": "email", "properties": {"firstname": "B"}}]})
    assert status == 400 and body["message"].startswith("Duplicate IDs found in batch input")
    assert sb.portal.count() == before  # before the fix the first was created, then 409


# ---- 7. upsert is all or nothing -------------------------------------------------------------------
def test_given_upsert_of_existing_and_new_then_both_applied_under_one_lock(start_sandbox, make_http):
    sb = start_sandbox(tier="unlimited")
    existing = sb.portal.get("contacts", str(sb.portal.stores["contacts"].order[0]))
    email = existing.properties["email"]
    http = make_http(sb.base_url)
    status, body, _ = http("POST", f"{C}/batch/upsert", {"inputs": [
        {"id": email, "idProperty": "email", "properties": {"firstname": "Upd"}},
        {"id": "new-one@review.test", "idProperty": "email", "properties": {"firstname": "New"}}]})
    assert status == 200
    assert [(r["properties"]["firstname"], r["new"]) for r in body["results"]] == [
        ("Upd", False), ("New", True)]
    # The lock is not re-entrant: upsert_many must not call locking methods while holding it.
    assert not sb.portal.lock.locked()


# ---- 4. merge chains -----------------------------------------------------------------------------
def test_given_a_merged_into_b_then_b_into_c_when_reading_a_then_c(start_sandbox, make_http):
    sb = start_sandbox(tier="unlimited")
    a, b, c = (str(i) for i in sb.portal.stores["contacts"].order[:3])
    http = make_http(sb.base_url)
    assert http("POST", f"{C}/merge", {"primaryObjectId": b, "objectIdToMerge": a})[0] == 200
    assert http("POST", f"{C}/merge", {"primaryObjectId": c, "objectIdToMerge": b})[0] == 200
    status, body, _ = http("GET", f"{C}/{a}")
    assert status == 200 and body["id"] == c
    status, body, _ = http("POST", f"{C}/batch/read", {"inputs": [{"id": a}, {"id": b}]})
    assert status == 200 and [r["id"] for r in body["results"]] == [c, c]


# ---- 5. malformed paging cursor ------------------------------------------------------------------
@pytest.mark.parametrize("after", ["abc", "12x", "1.5"])
def test_given_non_numeric_after_when_listing_then_400_not_500(sandbox, http, after):
    status, body, _ = http("GET", f"{C}?after={after}")
    assert status == 400 and body["category"] == "VALIDATION_ERROR"


# ---- 3. lost answers after applied writes ----------------------------------------------------------
def test_given_lost_spec_when_parsed_then_rate_kept_and_counted_in_total():
    spec = FaultSpec.parse("lost=0.25,500=0.5,seed=2")
    assert spec.lost_rate == 0.25 and spec.active
    with pytest.raises(ValueError):
        FaultSpec.parse("lost=0.6,500=0.5")
    assert FaultSpec.parse("500=0.1").lost_rate == 0.0  # default: off


def test_given_lost_fault_when_creating_then_504_html_and_the_write_applied(
        start_sandbox, make_http):
    sb = start_sandbox(tier="unlimited", faults="lost=1.0")
    before = sb.portal.count()
    http = make_http(sb.base_url)
    status, body, headers = http("POST", C, {"properties": {"email": "lost@fault-test.com"}})
    assert status == 504 and headers["Content-Type"] == "text/html"
    assert sb.portal.count() == before + 1
    assert sb.portal.get("contacts", "lost@fault-test.com", id_property="email") is not None
    # A retry is handled too (409: the contact exists), and its answer is lost again.
    assert http("POST", C, {"properties": {"email": "lost@fault-test.com"}})[0] == 504
    assert sb.portal.count() == before + 1


# ---- 6. fault counters under threads -------------------------------------------------------------
def test_given_threads_drawing_then_counts_match_the_faults_drawn():
    injector = FaultInjector(FaultSpec.parse("500=0.3,drop=0.2,lost=0.2,seed=4"))
    drawn: list[str] = []
    lock = threading.Lock()

    def work():
        mine = [f.kind for f in (injector.draw() for _ in range(3000)) if f is not None]
        with lock:
            drawn.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert injector.counts == {k: drawn.count(k) for k in ("status", "slow", "drop", "lost")}


# ---- 2. concurrent, duplicated webhook delivery --------------------------------------------------
class SlowRecorder:
    """A `post` that takes a while and records how many calls overlapped."""

    def __init__(self, delay: float = 0.05) -> None:
        self.delay, self.lock = delay, threading.Lock()
        self.active = self.peak = 0
        self.bodies: list[list[dict]] = []

    def __call__(self, url, body, headers, timeout):
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(self.delay)
        with self.lock:
            self.active -= 1
            self.bodies.append(json.loads(body))
        return 204, {}


def _changes(n):
    return [{"type": "propertyChange", "objectId": i, "occurredAt": 1764000000000,
             "changeSource": "API", "propertyName": "firstname", "propertyValue": str(i)}
            for i in range(n)]


def test_given_max_concurrent_requests_then_posts_overlap_up_to_it():
    post = SlowRecorder()
    sender = WebhookSender("http://hooks.test/", "s", portal_id=1, app_id=2, post=post,
                           max_batch=1, flush_interval_s=0, max_concurrent_requests=4).start()
    try:
        sender.publish(_changes(12))
        assert sender.flush()
    finally:
        sender.stop()
    assert post.peak == 4  # one thread before the fix
    assert sender.stats == {"sent": 12, "retried": 0, "failed": 0, "duplicated": 0}


def test_given_webhooks_file_then_sender_uses_its_max_concurrent_requests(start_sandbox, tmp_path):
    hooks = tmp_path / "webhooks-hsmeta.json"
    hooks.write_text(json.dumps({"config": {
        "settings": {"targetUrl": "https://example.com/hook", "maxConcurrentRequests": 3},
        "subscriptions": {"legacyCrmObjects": [{"subscriptionType": "contact.creation"}]}}}))
    sb = start_sandbox(webhook_url="http://127.0.0.1:9/hooks", subscriptions=str(hooks))
    assert sb.webhooks.max_concurrent_requests == 3
    assert len(sb.webhooks._threads) == 3
    plain = start_sandbox(webhook_url="http://127.0.0.1:9/hooks")
    assert plain.webhooks.max_concurrent_requests == DEFAULT_MAX_CONCURRENT


def test_given_duplicate_rate_1_then_every_batch_delivered_again_with_same_event_ids():
    post = SlowRecorder(delay=0)
    sender = WebhookSender("http://hooks.test/", "s", portal_id=1, app_id=2, post=post,
                           flush_interval_s=0.005, duplicate_rate=1.0, seed=3).start()
    try:
        sender.publish(_changes(5))
        assert sender.flush()
    finally:
        sender.stop()
    events = [e for body in post.bodies for e in body]
    ids = sorted(e["eventId"] for e in events)
    assert ids == sorted([1, 2, 3, 4, 5] * 2)  # each twice, never a third time
    assert {e["attemptNumber"] for e in events} == {0}  # a duplicate is not a retry
    assert sender.stats == {"sent": 5, "retried": 0, "failed": 0, "duplicated": 5}


def test_given_cli_webhook_duplicates_then_config_and_sandbox_sender_get_it(start_sandbox):
    parser = __import__("argparse").ArgumentParser()
    cli.add_arguments(parser)
    config = cli.config_from_args(parser.parse_args(["--webhook-duplicates", "0.2"]))
    assert config.duplicate_rate == 0.2
    assert cli.config_from_args(parser.parse_args([])).duplicate_rate == 0.0
    with pytest.raises(ValueError):
        cli.config_from_args(parser.parse_args(["--webhook-duplicates", "1.5"]))
    sb = start_sandbox(webhook_url="http://127.0.0.1:9/hooks", duplicate_rate=0.2)
    assert sb.webhooks.duplicate_rate == 0.2
    assert sb.snapshot()["webhooks"]["duplicated"] == 0


# ---- 9. batch timestamps on the portal's clock -----------------------------------------------------
def test_given_fake_clock_then_batch_started_and_completed_at_use_it(start_sandbox, make_http,
                                                                       clock):
    sb = start_sandbox(tier="unlimited", clock=clock)
    cid = str(sb.portal.stores["contacts"].order[0])
    http = make_http(sb.base_url)
    status, body, _ = http("POST", f"{C}/batch/read", {"inputs": [{"id": cid}]})
    assert status == 200
    assert body["startedAt"] == body["completedAt"] == iso_ms(int(clock() * 1000))
