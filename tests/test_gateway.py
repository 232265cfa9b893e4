"""The gateway against the sandbox: paging, limits, retries and the mapping of HubSpot's errors."""

from __future__ import annotations

import pytest

from connector.errors import AuthError, DailyLimitError, ScopeError, UnreachableError, ValidationError
from connector.gateway import Gateway
from connector.sandbox import Sandbox, SandboxConfig
from tests.support.clock import FakeClock
from tests.support.sandbox import sandbox_stats

START = 1_795_000_000.0  # one clock for the sandbox and the gateway; the gateway's sleeps move it


def gateway(sb, token="pat-sandbox", **kw) -> Gateway:
    kw.setdefault("requests_per_10s", 1000)
    kw.setdefault("search_per_second", 1000)
    return Gateway(token, sb.base_url, **kw)


def test_given_more_than_10000_matches_when_iter_search_then_query_restarts_after_last_id_and_sees_all_once():
    with Sandbox(SandboxConfig(contacts=10_250, seed=5, tier="unlimited")) as sb:
        g = gateway(sb)
        ids = [c["id"] for page in g.iter_search(properties=["email"]) for c in page]
    assert len(ids) == len(set(ids)) == 10_250
    assert [int(i) for i in ids] == sorted(int(i) for i in ids)


def test_given_wrong_token_when_calling_then_auth_error_names_the_setting(sandbox):
    with pytest.raises(AuthError, match="HUBSPOT_ACCESS_TOKEN"):
        gateway(sandbox, token="pat-wrong").search_contacts(properties=["email"])


def test_given_token_without_schema_scope_when_creating_a_property_then_scope_error_names_it():
    cfg = SandboxConfig(contacts=10, tier="unlimited",
                        tokens={"pat-limited": frozenset({"crm.objects.contacts.read", "crm.objects.contacts.write"})})
    with Sandbox(cfg) as sb:
        with pytest.raises(ScopeError) as caught:
            gateway(sb, token="pat-limited").create_property({"name": "x_test", "label": "X", "type": "string",
                                                             "fieldType": "text", "groupName": "contactinformation"})
    assert any("crm.schemas.contacts.write" in s for s in caught.value.scopes) or "crm.schemas" in str(caught.value)


def test_given_value_outside_enumeration_when_batch_update_then_validation_error(sandbox):
    g = gateway(sandbox)
    cid = next(iter(g.iter_search(properties=["email"])))[0]["id"]
    with pytest.raises(ValidationError):
        g.batch_update_contacts([(cid, {"hs_lead_status": "NOT_AN_OPTION"})])


def test_given_an_unknown_id_in_a_batch_when_update_then_others_apply_and_it_is_reported_failed(sandbox):
    g = gateway(sandbox)
    cid = next(iter(g.iter_search(properties=["email"])))[0]["id"]
    outcome = g.batch_update_contacts([(cid, {"jobtitle": "CTO"}), ("999999999", {"jobtitle": "CTO"})])
    assert outcome.ok == [cid]
    assert list(outcome.failed) == ["999999999"]


def test_given_5xx_and_dropped_connections_when_calling_then_retried_until_answered():
    cfg = SandboxConfig(contacts=300, tier="unlimited", faults="500=0.15,502=0.05,503=0.05,504=0.05,drop=0.1,seed=4")
    with Sandbox(cfg) as sb:
        g = gateway(sb, sleep=lambda s: None)
        ids = [c["id"] for _ in range(5) for page in g.iter_search(properties=["email"]) for c in page]
        assert len(ids) == 1500
        assert g.counters.retries > 0


def test_given_searches_faster_than_5_per_second_when_calling_then_429_secondly_is_retried():
    clock = FakeClock(START)
    with Sandbox(SandboxConfig(contacts=50, tier="professional", clock=clock)) as sb:
        g = gateway(sb, clock=clock, sleep=clock.sleep)
        for _ in range(12):
            g.search_contacts(properties=["email"])
        limited = sandbox_stats(sb)["rate_limited"]["SECONDLY"]
    assert limited > 0 and g.counters.rate_limited == limited


def test_given_default_budget_when_searching_then_the_limiter_keeps_under_5_per_second_without_any_429():
    clock = FakeClock(START)
    with Sandbox(SandboxConfig(contacts=50, tier="professional", clock=clock)) as sb:
        g = gateway(sb, search_per_second=5, clock=clock, sleep=clock.sleep)
        for _ in range(12):
            g.search_contacts(properties=["email"])
        assert sandbox_stats(sb)["rate_limited"]["SECONDLY"] == 0


def test_given_starter_tier_and_an_over_eager_budget_when_calling_then_429s_are_retried_and_headers_learned():
    clock = FakeClock(START)
    with Sandbox(SandboxConfig(contacts=50, tier="starter", clock=clock)) as sb:
        g = gateway(sb, requests_per_10s=1000, clock=clock, sleep=clock.sleep)
        ids = [str(i) for i in range(1, 20)]
        for _ in range(130):
            g.batch_read_contacts(ids, ["email"])
        limited = sandbox_stats(sb)["rate_limited"]["TEN_SECONDLY_ROLLING"]
    assert g.window.limit == 100  # learned from X-HubSpot-RateLimit-Max
    assert limited <= 1  # learned after the first answer: at most the request in flight then


def test_given_nothing_listening_when_calling_then_unreachable_error():
    g = Gateway("pat-sandbox", "http://127.0.0.1:9", sleep=lambda s: None, connect_timeout_s=0.5)
    with pytest.raises(UnreachableError):
        g.token_scopes("pat-sandbox")


def test_given_daily_budget_spent_when_calling_then_no_retry_and_nothing_more_is_sent():
    clock = FakeClock(START)
    with Sandbox(SandboxConfig(contacts=10, tier="starter", clock=clock)) as sb:
        sb.limiter._day, sb.limiter._daily_used = int(clock.now // 86_400), sb.limiter.tier.daily
        g = gateway(sb, clock=clock, sleep=clock.sleep)
        with pytest.raises(DailyLimitError):
            g.batch_read_contacts(["1"], ["email"])
        with pytest.raises(DailyLimitError):
            g.batch_read_contacts(["1"], ["email"])
        assert g.counters.requests == 1


def test_given_over_10000_matches_when_iter_search_descending_then_it_restarts_below_the_last_id_and_sees_all_once():
    with Sandbox(SandboxConfig(contacts=10_250, seed=5, tier="unlimited")) as sb:
        g = gateway(sb)
        ids = [int(c["id"]) for page in g.iter_search(properties=["email"], descending=True) for c in page]
        below = [int(c["id"]) for page in g.iter_search(properties=["email"], descending=True,
                                                         below_id=str(ids[5000])) for c in page]
    assert len(ids) == len(set(ids)) == 10_250
    assert ids == sorted(ids, reverse=True)
    assert below == ids[5001:]


def test_given_the_list_endpoint_when_paging_with_its_tokens_then_every_contact_comes_once_in_id_order(sandbox):
    g = gateway(sandbox)
    ids, after, pages = [], None, 0
    while True:
        page, after = g.list_contacts(properties=["email"], after=after)
        ids += [int(c["id"]) for c in page]
        pages += 1
        if not after:
            break
    assert pages == 4 and len(ids) == 400
    assert ids == sorted(set(ids))
    assert g.counters.by_kind == {"list": 4}
