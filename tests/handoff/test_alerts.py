"""Owner alerts: a hand-raise makes exactly one task (and chat message) for the owner."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from connector.commands.setup import run_setup
from connector.core.alerts import hand_raise_action
from connector.core.model import Evaluation, History, Reason, Score
from connector.core.rules import Alerts
from connector.handoff.sender import AlertSender
from connector.store import NewAlert
from connector.sync import SyncJob
from tests.support.clock import FakeClock
from tests.support.receiver import Receiver
from tests.support.sandbox import activity, demo_request, hand_raise_candidates, post_json, reset, sandbox_stats

CONFIG = Alerts(hand_raise=True, task_due_seconds=4 * 3600, max_age_seconds=24 * 3600)
NOW = 1_790_000_000.0


def evaluation(key: str | None) -> Evaluation:
    reasons = (Reason("sales_request_recent", "Asked for sales contact", 0, hand_raise=True),
               Reason("vp_title", "VP", 20))
    return Evaluation(Score(20, 5, 25, "B3", reasons, "hand_raise"), None, {}, History.empty(), key)  # type: ignore[arg-type]


def iso(at: float) -> str:
    from connector.core.values import format_instant

    return format_instant(at)


def test_given_a_fresh_hand_raise_then_one_action_with_the_reasons_and_a_due_time():
    action = hand_raise_action(evaluation(f"sales_request_recent|demo request|{iso(NOW - 60)}"),
                               History(at=NOW - 3600), CONFIG, NOW)
    assert action is not None and action.title == "Hot lead: Asked for sales contact"
    assert "Score 25, grade B3" in action.body and "VP" in action.body
    assert action.due_at == NOW - 60 + 4 * 3600
    again = hand_raise_action(evaluation(f"sales_request_recent|demo request|{iso(NOW - 60)}"),
                              History.empty(), CONFIG, NOW + 5)
    assert again is not None and again.key == action.key  # the same action, the same key


def test_given_an_old_a_known_or_an_undated_first_seen_hand_raise_then_no_alert():
    key = f"sales_request_recent|demo request|{iso(NOW - 3 * 86400)}"
    assert hand_raise_action(evaluation(key), History.empty(), CONFIG, NOW) is None  # a first sync's backlog
    fresh = f"sales_request_recent|demo request|{iso(NOW - 60)}"
    assert hand_raise_action(evaluation(fresh), History(hand_raise_used=fresh), CONFIG, NOW) is None
    assert hand_raise_action(evaluation("meeting_booked|yes|"), History.empty(), CONFIG, NOW) is None
    assert hand_raise_action(evaluation("meeting_booked|yes|"), History(at=NOW - 10), CONFIG, NOW) is not None
    assert hand_raise_action(evaluation(fresh), History.empty(), None, NOW) is None  # no alerts configured


def new(cid: str = "101", key: str = "hand_raise:abc") -> NewAlert:
    return NewAlert(cid, key, "Hot lead: Demo request", "Score 70", "52550100", 5_000_000)


def test_given_the_same_action_recorded_twice_then_one_alert_and_one_delivery_per_channel(store):
    assert store.add_alerts([new(), new()], ("task", "slack"), now=1_000) == 1
    assert store.add_alerts([new()], ("task", "slack"), now=2_000) == 0
    assert store.alert_counts() == {"task pending": 1, "slack pending": 1}


def test_given_a_claimed_delivery_whose_sender_died_then_it_is_claimed_again_after_the_lease_only(store):
    store.add_alerts([new()], ("task",), now=1_000)
    first = store.claim_deliveries(1_000, lease_ms=60_000)
    assert [d.was_sending for d in first] == [False]
    assert store.claim_deliveries(30_000, lease_ms=60_000) == []  # still held
    again = store.claim_deliveries(62_000, lease_ms=60_000)
    assert [d.was_sending for d in again] == [True]
    store.delivery_failed(again[0].alert_id, "task", "ServerError: 503", retry_at=70_000)
    assert store.claim_deliveries(65_000) == [] and len(store.claim_deliveries(70_000)) == 1


# -- against the sandbox ------------------------------------------------------------------------

def our_tasks(sandbox) -> list[dict]:
    """Tasks the connector made (their body carries its ref token), read through HubSpot's API."""
    found, after = [], None
    while True:
        url = f"{sandbox.base_url}/crm/v3/objects/tasks?limit=100&properties=hs_task_body,hs_task_subject," \
              "hubspot_owner_id,hs_timestamp" + (f"&after={after}" if after else "")
        req = urllib.request.Request(url, headers={"Authorization": "Bearer pat-sandbox"})
        with urllib.request.urlopen(req) as r:
            page = json.loads(r.read())
        found += [t for t in page["results"] if "(ref lsc" in (t["properties"].get("hs_task_body") or "")]
        after = ((page.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            return found


def raise_hands(ctx, sandbox, n: int) -> list[str]:
    targets = hand_raise_candidates(sandbox)[:n]
    activity(sandbox, [demo_request(t) for t in targets])
    return targets


@pytest.fixture
def ctx(ctx):
    """The shared context, on a portal `connector setup` has prepared."""
    run_setup(ctx.gateway, ctx.store, ctx.rules, "pat-sandbox", dry_run=False)
    return ctx


def sync(ctx, channels=("task",)):
    summary = SyncJob(ctx.gateway, ctx.store, ctx.rules, alert_channels=channels).run(full=True)
    assert summary.failed == 0
    return summary


def settled(ctx) -> int:
    """A first sync, and the alerts it made (hand-raises of the seeded portal's last day) sent."""
    made = sync(ctx).alerts
    assert AlertSender(ctx.gateway, ctx.store, {}).run_once().delivered == made
    return made


def test_given_hand_raises_when_synced_and_sent_then_one_task_each_and_none_on_the_next_syncs(ctx, sandbox):
    assert ctx.rules.alerts is not None  # the packaged config alerts on every hand-raise
    first = sync(ctx).alerts  # of the portal's hand-raises, only those of the last 24 h alert
    hand_raisers = sum(1 for r in sandbox.portal.store("contacts").records.values()
                       if "demo request" in (r.properties.get("recent_conversion_event_name") or "").lower())
    assert first <= 3 < hand_raisers
    sender = AlertSender(ctx.gateway, ctx.store, {})
    assert sender.run_once().delivered == first
    targets = raise_hands(ctx, sandbox, 3)
    assert sync(ctx).alerts == 3
    assert sender.run_once().delivered == 3
    tasks = [t for t in our_tasks(sandbox) if t["properties"]["hs_task_body"]]
    tasks = tasks[-3:] if first else tasks
    assert len(our_tasks(sandbox)) == first + 3
    assert all(t["properties"]["hs_task_subject"].startswith("Hot lead: ") for t in tasks)
    assert sync(ctx).alerts == 0 and sender.run_once().delivered == 0  # the nightly pass: nothing new
    assert len(our_tasks(sandbox)) == first + 3
    owners = {t: sandbox.portal.store("contacts").records[t].properties.get("hubspot_owner_id") for t in targets}
    assert sorted(t["properties"].get("hubspot_owner_id") or "" for t in tasks) == \
        sorted(o or "" for o in owners.values())  # each task goes to its contact's owner


def test_given_a_sender_killed_after_hubspot_made_the_task_when_claimed_again_then_no_second_task(ctx, sandbox):
    before = settled(ctx)
    raise_hands(ctx, sandbox, 1)
    sync(ctx)
    clock = FakeClock(time.time())
    killed = AlertSender(ctx.gateway, ctx.store, {}, clock=clock)
    [d] = ctx.store.claim_deliveries(killed._now())
    ctx.gateway.create_tasks([killed._task(d)])  # ... and died before confirming
    clock.advance(61)
    assert AlertSender(ctx.gateway, ctx.store, {}, clock=clock).run_once().delivered == 1
    assert len(our_tasks(sandbox)) == before + 1


def test_given_a_chat_webhook_failing_half_the_time_then_every_alert_arrives_once(ctx, sandbox):
    before = settled(ctx)
    raise_hands(ctx, sandbox, 4)
    sync(ctx, channels=("task", "slack"))
    with Receiver(200, first=[500, 503, 500, 502]) as slack:  # four failures, then it answers
        clock = FakeClock(time.time())
        sender = AlertSender(ctx.gateway, ctx.store, {"slack": slack.url()}, clock=clock)
        delivered = sender.run_once().delivered
        for _ in range(5):
            clock.advance(30)
            delivered += sender.run_once().delivered
        texts = [r.json()["text"] for r in slack.requests[4:]]  # after the four refused tries
    assert delivered == 8 and len(texts) == 4 and len(set(texts)) == 4
    assert ctx.store.alert_counts() == {"task done": before + 4, "slack done": 4}


def test_given_a_chat_url_that_refuses_the_message_then_it_fails_for_good_and_is_recorded(ctx, sandbox):
    settled(ctx)
    raise_hands(ctx, sandbox, 1)
    sync(ctx, channels=("slack",))
    with Receiver(404) as slack:
        assert AlertSender(ctx.gateway, ctx.store, {"slack": slack.url()}).run_once().failed == 1
    [failed] = ctx.store.failed_deliveries()
    assert failed["channel"] == "slack" and "answered 404" in failed["last_error"]


def test_given_a_delivery_that_failed_for_good_then_doctor_names_it(ctx, sandbox):
    from connector.commands.doctor import _alerts_check

    settled(ctx)
    raise_hands(ctx, sandbox, 1)
    sync(ctx, channels=("slack",))
    assert _alerts_check(ctx.settings, True).ok
    with Receiver(404) as slack:
        AlertSender(ctx.gateway, ctx.store, {"slack": slack.url()}).run_once()
    check = _alerts_check(ctx.settings, True)
    assert not check.ok and "1 alert deliveries failed after every retry" in check.detail
    assert "via slack (1 tries): ChannelError: 127.0.0.1 answered 404" in check.detail


def test_given_an_mql_back_on_the_pricing_page_then_one_alert_per_visit_and_none_for_a_new_lead():
    from connector.core.alerts import qualified_lead_actions
    from connector.core.evaluate import evaluate
    from connector.core.model import Contact
    from connector.core.rules_file import load_rules
    from tests.support.paths import DEFAULT_CONFIG

    rules = load_rules(DEFAULT_CONFIG)
    assert rules.alerts is not None and rules.alerts.for_mqls == ("pricing_page", "sales_email_reply")
    from datetime import UTC, datetime

    now = datetime.fromtimestamp(NOW, UTC)
    visit = {"hs_analytics_last_url": "https://x.com/pricing", "hs_analytics_last_visit_timestamp": iso(NOW - 600)}

    def actions(props):
        return qualified_lead_actions(evaluate(Contact("1", props), History.empty(), rules, now), props, rules, NOW)

    [action] = actions({**visit, "hs_lead_status": "MQL", "lifecyclestage": "marketingqualifiedlead"})
    assert action.title == "MQL active again: Visited the pricing page"
    assert actions({**visit, "lifecyclestage": "lead"}) == []  # not qualified: scoring's job, not an alert
    later = {**visit, "hs_analytics_last_visit_timestamp": iso(NOW - 60), "lifecyclestage": "opportunity"}
    assert actions(later)[0].key != action.key  # another visit, another alert
    old = {**visit, "hs_analytics_last_visit_timestamp": iso(NOW - 3 * 86400), "lifecyclestage": "opportunity"}
    assert actions(old) == []
    # The visit that made the MQL, seen again by the next sync: not "again"; one after it is.
    made = {**visit, "hs_lead_status": "MQL", "lifecyclestage": "marketingqualifiedlead",
            "lsc_mql_date": iso(NOW - 300)}
    assert actions(made) == []
    assert len(actions({**made, "hs_analytics_last_visit_timestamp": iso(NOW - 120)})) == 1


def test_given_for_mqls_naming_a_rule_without_a_date_then_the_config_is_refused_with_the_place():
    import pytest

    from connector.core.rules_file import parse_rules
    from connector.errors import ConfigError

    config = {"version": 1, "rules": {"fit": [{"name": "vp", "label": "VP", "property": "jobtitle",
                                               "regex": "vp", "points": 5}]},
              "alerts": {"for_mqls": ["vp", "pricing_pag"]}}
    with pytest.raises(ConfigError) as e:
        parse_rules(config, "s.yaml")
    text = "\n".join(str(p) for p in e.value.problems)
    assert "alerts.for_mqls[0]: 'vp' is not a condition rule with a date_property" in text
    assert "alerts.for_mqls[1]: 'pricing_pag'" in text


def test_given_chat_urls_then_doctor_says_which_answer_without_posting_a_message(ctx):
    from connector.commands.doctor import _chat_check, _default_chat_probe

    assert _chat_check(ctx.settings, _default_chat_probe).ok  # none configured
    with Receiver(400) as live, Receiver(404) as revoked:  # Slack's answers to an empty message
        both = ctx.settings.with_overrides(slack_webhook_url=live.url("/services/T/B/secret-part"),
                                           teams_webhook_url=revoked.url("/webhookb2/secret-part"))
        check = _chat_check(both, _default_chat_probe)
        assert not check.ok and "TEAMS_WEBHOOK_URL (127.0.0.1) answered 404" in check.detail
        assert "SLACK_WEBHOOK_URL (127.0.0.1) answers" in check.detail and "secret-part" not in check.detail
        assert [r.json() for r in live.requests] == [{}]  # no text: nothing shows in the channel
        assert _chat_check(ctx.settings.with_overrides(slack_webhook_url=live.url()), _default_chat_probe).ok
    gone = ctx.settings.with_overrides(slack_webhook_url=f"http://127.0.0.1:{_closed_port()}/hook")
    assert not _chat_check(gone, _default_chat_probe).ok


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_given_a_second_demo_request_on_a_later_day_then_a_second_alert_and_never_a_third():
    first = f"sales_request_recent|demo request|{iso(NOW - 86_400 * 2)}"
    second = f"sales_request_recent|demo request|{iso(NOW - 60)}"
    config = Alerts(hand_raise=True, task_due_seconds=4 * 3600, max_age_seconds=72 * 3600)
    one = hand_raise_action(evaluation(first), History(at=NOW - 3 * 86_400), config, NOW - 86_400 * 2)
    two = hand_raise_action(evaluation(second), History(at=NOW - 3600, hand_raise_used=first), config, NOW)
    assert one is not None and two is not None and one.key != two.key
    assert hand_raise_action(evaluation(second), History(hand_raise_used=second), config, NOW + 60) is None


def test_given_an_mql_who_replies_to_a_sales_email_then_its_owner_gets_one_alert(ctx, sandbox):
    settled(ctx)
    records = sandbox.portal.store("contacts").records
    owner = sandbox.portal.owners[0]["id"]
    mql = next(cid for cid, r in sorted(records.items(), key=lambda kv: int(kv[0]))
               if r.properties.get("hs_lead_status") == "MQL" and r.properties.get("hubspot_owner_id"))
    post_json(sandbox, f"/_sandbox/contacts/{mql}/log-activity", {"type": "email", "ownerId": owner, "replied": True})
    assert records[mql].properties["hs_sales_email_last_replied"]
    assert sync(ctx).alerts == 1
    assert sync(ctx).alerts == 0  # the nightly pass sees the same reply: no second alert
    [delivery] = ctx.store.claim_deliveries(int(time.time() * 1000) + 10**9)
    assert (delivery.contact_id, delivery.title) == (mql, "MQL active again: Replied to a sales email")
    assert delivery.owner_id == records[mql].properties["hubspot_owner_id"]


TASK_CALLS = ("POST /crm/v3/objects/{objectType}", "POST /crm/v3/objects/{objectType}/batch/create")


def test_given_many_alerts_when_sent_then_one_batch_call_makes_every_task_on_its_contact(ctx, sandbox):
    before = settled(ctx)
    targets = raise_hands(ctx, sandbox, 5)
    assert sync(ctx).alerts == 5
    reset(sandbox)
    assert AlertSender(ctx.gateway, ctx.store, {}).run_once().delivered == 5
    requests = sandbox_stats(sandbox)["requests"]
    assert {k: requests.get(k, 0) for k in TASK_CALLS} == {TASK_CALLS[0]: 0, TASK_CALLS[1]: 1}
    made = {t["id"]: t for t in our_tasks(sandbox)}
    assert len(made) == before + 5
    linked = {tid: sandbox.portal.linked["tasks"].get(tid, []) for tid in made}
    assert set(targets) <= {c for cs in linked.values() for c in cs}  # each on its own contact
    assert ctx.store.alert_counts() == {"task done": before + 5}


def test_given_a_batch_with_one_contact_gone_then_the_others_are_made_and_only_it_fails(ctx, sandbox):
    before = settled(ctx)
    gone, *kept = raise_hands(ctx, sandbox, 3)
    assert sync(ctx).alerts == 3
    sandbox.portal.archive("contacts", gone)  # deleted in HubSpot before the alert went out
    counts = AlertSender(ctx.gateway, ctx.store, {}).run_once()
    assert (counts.delivered, counts.failed) == (2, 1)  # a missing contact is not worth retrying
    linked = {c for tid, cs in sandbox.portal.linked["tasks"].items() for c in cs}
    assert set(kept) <= linked and gone not in linked
    assert ctx.store.alert_counts() == {"task done": before + 2, "task failed": 1}


class AnswersWithoutIds:
    """A gateway whose batch answers the connector cannot match to its inputs (HubSpot's echo of
    objectWriteTraceId and the order of results are undocumented): the tasks are made, the
    answer says nothing about which is which."""

    def __init__(self, gateway):
        self._gateway = gateway

    def create_tasks(self, tasks):
        self._gateway.create_tasks(tasks)
        return {}

    def __getattr__(self, name):
        return getattr(self._gateway, name)


def test_given_a_batch_answer_that_names_no_task_then_each_is_found_by_search_and_none_made_twice(ctx, sandbox):
    before = settled(ctx)
    raise_hands(ctx, sandbox, 3)
    assert sync(ctx).alerts == 3
    counts = AlertSender(AnswersWithoutIds(ctx.gateway), ctx.store, {}).run_once()  # type: ignore[arg-type]
    assert (counts.delivered, counts.retried, counts.failed) == (3, 0, 0)
    assert len(our_tasks(sandbox)) == before + 3
    assert AlertSender(ctx.gateway, ctx.store, {}).run_once().delivered == 0
