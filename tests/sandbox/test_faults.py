"""Fault injection: spec parsing, seeded draws, and faults that never half-apply a write."""

from __future__ import annotations

import http.client as httplib
import time

import pytest

from connector.sandbox import server
from connector.sandbox.faults import FaultInjector, FaultSpec


def test_given_spec_when_parsed_then_rates_slow_drop_and_seed():
    spec = FaultSpec.parse("500=0.02,502=0.01,503=0.01,504=0.01,slow=0.05:2.0,drop=0.01,seed=3")
    assert spec.rates == ((500, 0.02), (502, 0.01), (503, 0.01), (504, 0.01))
    assert (spec.slow_rate, spec.slow_s, spec.drop_rate, spec.seed) == (0.05, 2.0, 0.01, 3)


@pytest.mark.parametrize("bad", ["418=0.1", "500", "500=lots", "500=0.7,503=0.7"])
def test_given_bad_spec_when_parsed_then_value_error(bad):
    with pytest.raises(ValueError):
        FaultSpec.parse(bad)


def test_given_same_seed_when_drawing_then_same_faults_at_about_the_rates():
    def draws():
        injector = FaultInjector(FaultSpec.parse("500=0.1,drop=0.1,seed=5"))
        return [(f.kind if f else None) for f in (injector.draw() for _ in range(2000))]
    first = draws()
    assert first == draws()
    assert 120 < first.count("status") < 280 and 120 < first.count("drop") < 280


def test_given_all_500_when_writing_then_500_and_nothing_applied(start_sandbox, make_http):
    sb = start_sandbox(tier="unlimited", faults="500=1.0")
    http = make_http(sb.base_url)
    before = sb.portal.count()
    status, body, _ = http("POST", "/crm/v3/objects/contacts",
                           {"properties": {"email": "never@fault-test.com"}})
    http.close()
    assert status == 500 and body["status"] == "error"
    assert sb.portal.count() == before
    assert sb.snapshot()["requests"] == {"POST /crm/v3/objects/contacts": 1}


def test_given_gateway_fault_when_calling_then_html_body(start_sandbox, make_http):
    sb = start_sandbox(tier="unlimited", faults="502=1.0")
    http = make_http(sb.base_url)
    status, body, headers = http("GET", "/crm/v3/objects/contacts")
    http.close()
    assert status == 502 and headers["Content-Type"] == "text/html"


def test_given_all_drop_when_writing_then_no_answer_and_nothing_applied(start_sandbox, make_http):
    sb = start_sandbox(tier="unlimited", faults="drop=1.0")
    http = make_http(sb.base_url)
    before = sb.portal.count()
    with pytest.raises((httplib.RemoteDisconnected, ConnectionError)):
        http("POST", "/crm/v3/objects/contacts", {"properties": {"email": "x@drop-test.com"}})
    http.close()
    assert sb.portal.count() == before


class _SleepRecorder:
    """The `time` module as the sandbox's server sees it, with every sleep recorded (and slept)."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        time.sleep(seconds)

    def __getattr__(self, name: str):
        return getattr(time, name)


def test_given_slow_fault_when_calling_then_answer_is_late_but_normal(start_sandbox, make_http, monkeypatch):
    sb = start_sandbox(tier="unlimited", faults="slow=1.0:0.2")
    timing = _SleepRecorder()
    monkeypatch.setattr(server, "time", timing)
    http = make_http(sb.base_url)
    status, _, _ = http("GET", "/crm/v3/objects/contacts?limit=1")
    http.close()
    assert status == 200 and timing.slept == [0.2]  # held back 0.2 s before the normal answer
    assert sb.faults.counts["slow"] == 1
