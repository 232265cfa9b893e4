"""What the gateway says about its HubSpot calls: one DEBUG line per attempt (never a token or a
body), a watchdog WARNING while HubSpot keeps a call waiting, and errors that name the call.

The watchdog tests use real short waits against the sandbox's `slow` fault and assert only on the
lines logged, never on how long anything took."""

from __future__ import annotations

import logging
import re

import pytest

from connector.errors import AuthError, DailyLimitError, NotFoundError, ServerError, UnreachableError, ValidationError
from connector.gateway import Gateway
from connector.sandbox import Sandbox, SandboxConfig
from tests.support.clock import FakeClock
from tests.support.sandbox import sandbox_stats

TOKEN = "pat-sandbox"
BODY_FRAGMENT = "Chief-Body-Fragment-Officer-7f3"  # a value only a request body carries
ATTEMPT = re.compile(r"^HubSpot (?P<call>[A-Z]+ /.*) -> (?P<outcome>\S+) in [0-9.]+ ms "
                     r"\(attempt (?P<attempt>\d+)\)$")
WATCHDOG = re.compile(r"^HubSpot has not answered (?P<call>.+) for (?P<waited>[0-9.]+) s "
                      r"\(attempt (?P<attempt>\d+); read timeout (?P<timeout>[0-9.]+) s\)$")


def gateway(sb, token=TOKEN, **kw) -> Gateway:
    kw.setdefault("requests_per_10s", 1000)
    kw.setdefault("search_per_second", 1000)
    return Gateway(token, sb.base_url, **kw)


def first_id(sb) -> str:
    return str(next(iter(sb.portal.store("contacts").order)))


def attempts(caplog) -> list[tuple[str, str, int]]:
    """(call, outcome, attempt) of each per-attempt DEBUG line; fails on a gateway DEBUG line of another shape
    unless it is the retry line."""
    found = []
    for r in caplog.records:
        if r.name != "connector.gateway" or r.levelno != logging.DEBUG or r.getMessage().startswith("retrying"):
            continue
        m = ATTEMPT.match(r.getMessage())
        assert m, r.getMessage()
        found.append((m["call"], m["outcome"], int(m["attempt"])))
    return found


def watchdog_lines(caplog) -> list[re.Match]:
    return [m for r in caplog.records if r.name == "connector.gateway" and r.levelno == logging.WARNING
            if (m := WATCHDOG.match(r.getMessage()))]


def test_given_debug_when_calling_then_one_line_per_call_with_method_path_and_status_and_no_secret(sandbox, caplog):
    caplog.set_level(logging.DEBUG)  # the root logger: the SDK's, urllib3's and the sandbox's lines too
    g = gateway(sandbox)
    ids = [c["id"] for c in g.search_contacts(properties=["email"], limit=3).results]
    g.get_contact(ids[0], ["email"])
    g.batch_read_contacts(ids, ["email"])
    g.batch_update_contacts([(ids[0], {"jobtitle": BODY_FRAGMENT})])
    assert g.token_scopes(TOKEN) is not None  # the token travels in this request's body
    with pytest.raises(NotFoundError):
        g.get_contact("999999999", ["email"])

    assert attempts(caplog) == [
        ("POST /crm/v3/objects/contacts/search", "200", 1),
        (f"GET /crm/v3/objects/contacts/{ids[0]}", "200", 1),
        ("POST /crm/v3/objects/contacts/batch/read (3 inputs)", "200", 1),
        ("POST /crm/v3/objects/contacts/batch/update (1 input)", "200", 1),
        ("POST /oauth/v2/private-apps/get/access-token-info", "200", 1),
        ("GET /crm/v3/objects/contacts/999999999", "404", 1),
    ]
    for r in caplog.records:
        text = r.getMessage()
        assert TOKEN not in text and BODY_FRAGMENT not in text and "Bearer" not in text, (r.name, text)
    assert TOKEN not in caplog.text and BODY_FRAGMENT not in caplog.text


def test_given_each_gateway_call_when_logged_then_the_path_is_one_the_sandbox_served(sandbox, caplog):
    """The paths in the logs and errors are written at the call sites: check them against the routes HubSpot's
    SDK really called (the sandbox counts each request under its route template)."""
    caplog.set_level(logging.DEBUG, logger="connector.gateway")
    g = gateway(sandbox)
    cid = g.search_contacts(properties=["email"], limit=1).results[0]["id"]
    g.get_contact(cid, ["email"])
    g.batch_read_contacts([cid], ["email"])
    g.batch_update_contacts([(cid, {"jobtitle": "CTO"})])
    g.list_contact_properties()
    g.get_property("email")
    with pytest.raises(ValidationError, match="PATCH /crm/v3/properties/contacts/jobtitle"):
        g.update_property("jobtitle", {"label": "Job title"})  # HubSpot's own property: refused, still called
    g.get_group("contactinformation")
    g.get_owner("1")
    g.token_scopes(TOKEN)
    served = [key.split(" ", 1) for key in sandbox_stats(sandbox)["requests"]]
    for call, _, _ in attempts(caplog):
        method, path = call.split(" (")[0].split(" ", 1)
        assert any(m == method and re.fullmatch(re.sub(r"\\{\w+\\}", "[^/]+", re.escape(t.rstrip("/"))), path)
                   for m, t in served), f"{call} matches no route the sandbox served: {served}"


def test_given_a_failing_call_when_retried_then_each_attempt_is_logged_and_the_error_names_the_call(caplog):
    caplog.set_level(logging.DEBUG, logger="connector.gateway")
    with Sandbox(SandboxConfig(contacts=5, tier="unlimited", faults="503=1.0")) as sb:
        g = gateway(sb, max_attempts=3, sleep=lambda s: None)
        with pytest.raises(ServerError) as caught:
            g.batch_read_contacts(["1", "2"], ["email"])
    call = "POST /crm/v3/objects/contacts/batch/read (2 inputs)"
    assert attempts(caplog) == [(call, "503", 1), (call, "503", 2), (call, "503", 3)]
    assert str(caught.value).startswith(f"HubSpot answered 503 to {call}")
    assert str(caught.value).endswith("(gave up after 3 attempts)")


def test_given_a_missing_contact_when_reading_then_the_error_names_method_path_and_hubspots_ids(sandbox):
    with pytest.raises(NotFoundError) as caught:
        gateway(sandbox).get_contact("999999999", ["email"])
    text = str(caught.value)
    assert text.startswith("HubSpot answered 404 to GET /crm/v3/objects/contacts/999999999: ")
    assert f"(OBJECT_NOT_FOUND, correlation id {caught.value.correlation_id})" in text
    assert caught.value.correlation_id


def test_given_a_refused_batch_when_writing_then_the_error_names_the_call_and_its_input_count(sandbox):
    g = gateway(sandbox)
    ids = [c["id"] for c in g.search_contacts(properties=["email"], limit=2).results]
    with pytest.raises(ValidationError) as caught:
        g.batch_update_contacts([(i, {"hs_lead_status": "NOT_AN_OPTION"}) for i in ids])
    assert str(caught.value).startswith("HubSpot answered 400 to POST /crm/v3/objects/contacts/batch/update "
                                        "(2 inputs): ")
    assert "NOT_AN_OPTION" in str(caught.value) and "VALIDATION_ERROR" in str(caught.value)


def test_given_a_wrong_token_when_calling_then_the_error_names_the_setting_and_the_call(sandbox):
    with pytest.raises(AuthError) as caught:
        gateway(sandbox, token="pat-wrong").search_contacts(properties=["email"])
    assert "HUBSPOT_ACCESS_TOKEN" in str(caught.value)
    assert "POST /crm/v3/objects/contacts/search" in str(caught.value)
    assert "pat-wrong" not in str(caught.value)


def test_given_the_daily_budget_spent_when_calling_again_then_the_error_names_the_call_not_sent():
    clock = FakeClock(1_795_000_000.0)
    with Sandbox(SandboxConfig(contacts=10, tier="starter", clock=clock)) as sb:
        sb.limiter._day, sb.limiter._daily_used = int(clock.now // 86_400), sb.limiter.tier.daily
        g = gateway(sb, clock=clock, sleep=clock.sleep)
        with pytest.raises(DailyLimitError) as first:
            g.batch_read_contacts(["1"], ["email"])
        with pytest.raises(DailyLimitError) as second:
            g.get_contact("1", ["email"])
    assert "429 to POST /crm/v3/objects/contacts/batch/read (1 input)" in str(first.value)
    assert "(not sent: GET /crm/v3/objects/contacts/1)" in str(second.value)


def test_given_nothing_listening_when_calling_then_the_error_names_the_call():
    g = Gateway(TOKEN, "http://127.0.0.1:9", sleep=lambda s: None, connect_timeout_s=0.5, max_attempts=2)
    with pytest.raises(UnreachableError) as caught:
        g.get_owner("42")
    assert str(caught.value).startswith("cannot reach HubSpot for GET /crm/v3/owners/42: ")


def test_given_control_characters_in_an_id_when_logged_then_they_cannot_forge_a_line(sandbox, caplog):
    caplog.set_level(logging.DEBUG, logger="connector.gateway")
    with pytest.raises(NotFoundError) as caught:
        gateway(sandbox).get_contact("1\nERROR forged", ["email"])
    assert "\n" not in str(caught.value)
    assert attempts(caplog) == [("GET /crm/v3/objects/contacts/1\\nERROR forged", "404", 1)]


def test_given_hubspot_answers_slowly_when_calling_then_the_watchdog_warns_until_it_answers(caplog):
    caplog.set_level(logging.INFO, logger="connector.gateway")
    with Sandbox(SandboxConfig(contacts=5, tier="unlimited", faults="slow=1.0:1.5")) as sb:
        cid = first_id(sb)
        gateway(sb, watchdog_s=0.1).get_contact(cid, ["email"])
    lines = watchdog_lines(caplog)
    assert len(lines) >= 2, caplog.text  # again every further watchdog_s
    assert {m["call"] for m in lines} == {f"GET /crm/v3/objects/contacts/{cid}"}
    assert [m["waited"] for m in lines] == [f"{0.1 * k:g}" for k in range(1, len(lines) + 1)]
    assert {(m["attempt"], m["timeout"]) for m in lines} == {("1", "30")}
    assert any(r.getMessage().startswith(f"HubSpot answered GET /crm/v3/objects/contacts/{cid} after ")
               for r in caplog.records if r.levelno == logging.INFO)


def test_given_hubspot_never_answers_when_calling_then_each_attempt_is_watched_and_the_timeout_named(caplog):
    caplog.set_level(logging.DEBUG, logger="connector.gateway")
    with Sandbox(SandboxConfig(contacts=5, tier="unlimited", faults="slow=1.0:3.0")) as sb:
        g = gateway(sb, watchdog_s=0.1, read_timeout_s=0.5, max_attempts=2, sleep=lambda s: None)
        with pytest.raises(UnreachableError) as caught:
            g.search_contacts(properties=["email"])
    call = "POST /crm/v3/objects/contacts/search"
    assert {(m["call"], m["attempt"], m["timeout"]) for m in watchdog_lines(caplog)} == {(call, "1", "0.5"),
                                                                                      (call, "2", "0.5")}
    assert attempts(caplog) == [(call, "ReadTimeoutError", 1), (call, "ReadTimeoutError", 2)]
    assert str(caught.value).startswith(f"cannot reach HubSpot for {call}: ReadTimeoutError")


def test_given_watchdog_off_when_hubspot_is_slow_then_no_warning(caplog):
    caplog.set_level(logging.DEBUG, logger="connector.gateway")
    with Sandbox(SandboxConfig(contacts=5, tier="unlimited", faults="slow=1.0:0.5")) as sb:
        gateway(sb, watchdog_s=None).get_contact(first_id(sb), ["email"])
    assert watchdog_lines(caplog) == []
    assert [outcome for _, outcome, _ in attempts(caplog)] == ["200"]
