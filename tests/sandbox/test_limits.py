"""Rate limits on a fake clock: the 10-second window, search per second, daily, headers, 429s."""

from __future__ import annotations

import pytest

from connector.sandbox.limits import RateLimiter
from tests.support.clock import FakeClock


def test_given_professional_when_191st_call_in_10s_then_429_ten_secondly(
        start_sandbox, clock, make_http):
    sb = start_sandbox(tier="professional", clock=clock)
    http = make_http(sb.base_url)
    for _ in range(190):
        status, _, headers = http("GET", "/crm/v3/objects/contacts?limit=1")
        assert status == 200
    assert headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert headers["X-HubSpot-RateLimit-Max"] == "190"
    status, body, _ = http("GET", "/crm/v3/objects/contacts?limit=1")
    assert status == 429
    assert body["policyName"] == "TEN_SECONDLY_ROLLING" and body["errorType"] == "RATE_LIMIT"
    clock.advance(10.001)
    status, _, _ = http("GET", "/crm/v3/objects/contacts?limit=1")
    assert status == 200
    http.close()
    assert sb.snapshot()["rate_limited"]["TEN_SECONDLY_ROLLING"] == 1


def test_given_search_when_6th_in_a_second_then_429_secondly_without_headers(
        start_sandbox, clock, make_http):
    sb = start_sandbox(tier="starter", clock=clock)
    http = make_http(sb.base_url)
    for _ in range(5):
        status, _, headers = http("POST", "/crm/v3/objects/contacts/search", {"limit": 1})
        assert status == 200
        assert not [h for h in headers if h.lower().startswith("x-hubspot-ratelimit")]
    status, body, _ = http("POST", "/crm/v3/objects/contacts/search", {"limit": 1})
    assert status == 429 and body["policyName"] == "SECONDLY"
    # Search stays outside the 10-second window: a plain call still has the full budget.
    status, _, headers = http("GET", "/crm/v3/objects/contacts?limit=1")
    assert headers["X-HubSpot-RateLimit-Remaining"] == "99"
    clock.advance(1.0)
    assert http("POST", "/crm/v3/objects/contacts/search", {"limit": 1})[0] == 200
    http.close()


def test_given_window_full_when_rejected_then_rejections_do_not_consume(clock):
    limiter = RateLimiter("free", clock, seed=0)
    for _ in range(100):
        assert limiter.check("app", search=False).error is None
    clock.advance(5)
    for _ in range(3):
        assert limiter.check("app", search=False).error.status == 429
    clock.advance(5.0001)  # the first 100 expire; the 3 rejections left nothing behind
    decision = limiter.check("app", search=False)
    assert decision.error is None and decision.headers["X-HubSpot-RateLimit-Remaining"] == "99"


def test_given_two_apps_when_one_is_limited_then_the_other_is_not():
    limiter = RateLimiter("free", FakeClock())
    for _ in range(100):
        limiter.check("a", search=False)
    assert limiter.check("a", search=False).error is not None
    assert limiter.check("b", search=False).error is None


def test_given_many_429s_then_every_other_one_lacks_retry_after():
    limiter = RateLimiter("free", FakeClock(), seed=0)
    for _ in range(100):
        limiter.check("a", search=False)
    retry = [("Retry-After" in limiter.check("a", search=False).error.headers) for _ in range(4)]
    assert retry == [True, False, True, False]
    other = RateLimiter("free", FakeClock(), seed=1)
    for _ in range(100):
        other.check("a", search=False)
    assert "Retry-After" not in other.check("a", search=False).error.headers


def test_given_daily_budget_spent_when_calling_then_429_daily_until_midnight():
    clock = FakeClock(86_400 * 20_000)  # midnight UTC
    limiter = RateLimiter("free", clock)
    limiter.check("a", search=False)
    limiter._daily_used = 250_000  # spending 250,000 real calls would take minutes
    error = limiter.check("a", search=False).error
    assert error.extra["policyName"] == "DAILY"
    assert error.headers.get("Retry-After", "86400") == "86400"
    clock.advance(86_400)
    assert limiter.check("a", search=False).error is None


@pytest.mark.parametrize("tier, max_, daily", [("free", "100", "250000"),
                                               ("enterprise", "190", "1000000")])
def test_given_tier_when_calling_then_headers_name_its_limits(tier, max_, daily):
    headers = RateLimiter(tier, FakeClock()).check("a", search=False).headers
    assert headers["X-HubSpot-RateLimit-Max"] == max_
    assert headers["X-HubSpot-RateLimit-Daily"] == daily
    assert headers["X-HubSpot-RateLimit-Daily-Remaining"] == str(int(daily) - 1)
    assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"


def test_given_unlimited_when_calling_then_no_limit_and_no_headers():
    limiter = RateLimiter("unlimited", FakeClock())
    assert all(limiter.check("a", search=False).error is None for _ in range(1000))
    assert limiter.check("a", search=False).headers == {}
