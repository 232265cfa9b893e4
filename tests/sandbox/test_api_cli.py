"""`connector sandbox` flags, and a 20,000-contact sandbox that serves."""

from __future__ import annotations

import argparse

import pytest

from connector.sandbox import Sandbox, SandboxConfig
from connector.sandbox.cli import add_arguments, config_from_args, parse_tokens


def test_given_tokens_when_parsed_then_scopes_per_token():
    assert parse_tokens(None) == {"pat-sandbox": None}
    assert parse_tokens(["a", "b:crm.objects.contacts.read,crm.objects.owners.read", "c:"]) == {
        "a": None, "b": frozenset({"crm.objects.contacts.read", "crm.objects.owners.read"}),
        "c": frozenset()}


def test_given_flags_when_parsed_then_config_matches():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--port", "0", "--contacts", "10", "--tier", "starter",
                              "--faults", "503=0.5,seed=2",
                              "--token", "t:crm.objects.contacts.read",
                              "--webhook-format", "generic", "--activity-rate", "2"])
    config = config_from_args(args)
    assert (config.port, config.contacts, config.tier, config.webhook_format) == (
        0, 10, "starter", "generic")
    assert config.faults.rates == ((503, 0.5),) and config.activity_rate == 2
    with pytest.raises(SystemExit):
        parser.parse_args(["--tier", "gold"])


def test_given_20000_contacts_when_started_then_it_serves_them(make_http):
    # How fast it starts is bench/sandbox.py's to measure, not a test's.
    with Sandbox(SandboxConfig(contacts=20_000, seed=7, tier="professional")) as sb:
        http = make_http(sb.base_url)
        status, body, _ = http("GET", "/crm/v3/objects/contacts?limit=1")
        http.close()
        assert status == 200 and sb.portal.count() == 20_000
