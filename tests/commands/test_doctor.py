"""`connector doctor` against the sandbox portal: every check, one line each, and the exit status."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml

from connector.commands.doctor import Check, daily_headroom_check, doctor_exit_code, run_doctor
from connector.commands.setup import OPTIONAL_SCOPES, REQUIRED_SCOPES, run_setup
from connector.core import properties as hp
from connector.errors import ConfigError
from connector.sandbox import Sandbox, SandboxConfig
from tests.support.receiver import Receiver

CHECK_NAMES = ["settings", "scoring config", "token", "scopes", "properties", "MQL option", "rules vs portal",
               "engagement sources", "rate limit",
               "store", "store vs portal", "webhook rejections", "owner alerts", "chat channels", "webhook URL"]


@pytest.fixture
def healthz():
    """A tiny web process answering GET /healthz (404 elsewhere) on a free loopback port; yields
    its base URL."""
    with Receiver(404, paths={"/healthz": 200}, body=b'{"status":"alive"}') as web:
        yield web.base_url


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def test_given_setup_done_and_web_up_when_doctor_then_every_check_passes_and_exit_is_0(ctx, settings, healthz):
    run_setup(ctx.gateway, ctx.store, ctx.rules, "pat-sandbox", dry_run=False)
    checks = run_doctor(settings.with_overrides(webhook_public_url=healthz + "/webhooks/hubspot"))
    assert [c.name for c in checks] == CHECK_NAMES
    assert [c.line() for c in checks if not c.ok] == []
    assert doctor_exit_code(checks) == 0
    by = _by_name(checks)
    assert "test-secret" not in by["settings"].detail and "pat-sandbox" not in by["settings"].detail
    assert "answered 200" in by["webhook URL"].detail
    assert by["rate limit"].detail.startswith("daily usage unknown")  # the unlimited tier sends no headers


def test_given_token_without_schema_write_when_doctor_then_scopes_check_fails_naming_it(settings, store):
    granted = frozenset(REQUIRED_SCOPES) - {"crm.schemas.contacts.write"} | frozenset(OPTIONAL_SCOPES)
    with Sandbox(SandboxConfig(contacts=20, tier="unlimited", tokens={"pat-x": granted})) as sb:
        checks = run_doctor(settings.with_overrides(hubspot_api_base=sb.base_url, hubspot_access_token="pat-x"))
    by = _by_name(checks)
    assert by["token"].ok
    assert not by["scopes"].ok
    assert "crm.schemas.contacts.write" in by["scopes"].detail
    assert "crm.schemas.contacts.read" not in by["scopes"].detail
    assert doctor_exit_code(checks) == 1


def test_given_setup_not_run_when_doctor_then_properties_and_mql_fail_naming_what_is_missing(settings, store):
    by = _by_name(run_doctor(settings))
    assert not by["properties"].ok
    for name in hp.CONNECTOR_PROPERTY_NAMES:
        assert name in by["properties"].detail
    assert "connector setup" in by["properties"].detail
    assert not by["MQL option"].ok and "MQL" in by["MQL option"].detail


def test_given_property_with_wrong_type_when_doctor_then_properties_check_says_which(ctx, settings):
    definition = dict(hp.PROPERTY_DEFINITIONS[0], type="string", fieldType="text")  # lsc_score as text
    ctx.gateway.create_group(hp.GROUP_NAME, hp.GROUP_LABEL)
    ctx.gateway.create_property(definition)
    run_setup(ctx.gateway, ctx.store, ctx.rules, "pat-sandbox", dry_run=False)
    by = _by_name(run_doctor(settings))
    assert not by["properties"].ok
    assert f"{hp.SCORE} is string, expected number" in by["properties"].detail


def test_given_unreachable_webhook_url_when_doctor_then_webhook_check_fails(ctx, settings):
    run_setup(ctx.gateway, ctx.store, ctx.rules, "pat-sandbox", dry_run=False)
    url = f"http://127.0.0.1:{_closed_port()}/webhooks/hubspot"
    checks = run_doctor(settings.with_overrides(webhook_public_url=url))
    failed = [c for c in checks if not c.ok]
    assert [c.name for c in failed] == ["webhook URL"]
    assert "/healthz: connection refused (nothing listens there" in failed[0].detail
    assert doctor_exit_code(checks) == 1


def test_given_healthz_answers_503_when_doctor_then_webhook_check_fails_with_the_status(settings, store):
    seen = []

    def http_get(url: str, timeout_s: float) -> int:
        seen.append((url, timeout_s))
        return 503

    by = _by_name(run_doctor(settings.with_overrides(webhook_public_url="https://hooks.example.com/webhooks/hubspot"),
                             http_get=http_get))
    assert seen == [("https://hooks.example.com/healthz", 5.0)]
    assert not by["webhook URL"].ok and "answered 503" in by["webhook URL"].detail


def test_given_no_webhook_url_when_doctor_then_webhook_check_passes_as_disabled(settings, store):
    by = _by_name(run_doctor(settings.with_overrides(webhook_public_url=None)))
    assert by["webhook URL"] == Check("webhook URL", True, "not set (webhooks disabled)")


def test_given_unknown_token_when_doctor_then_token_fails_and_hubspot_checks_are_not_run(settings, store):
    checks = run_doctor(settings.with_overrides(hubspot_access_token="pat-wrong"))
    by = _by_name(checks)
    assert not by["token"].ok and "401" in by["token"].detail
    for name in ("scopes", "properties", "MQL option", "rules vs portal", "rate limit"):
        assert by[name] == Check(name, False, "not checked: the token check failed")
    assert by["store"].ok


def test_given_fresh_database_when_doctor_then_store_check_asks_for_migrate(settings, tmp_path):
    by = _by_name(run_doctor(settings.with_overrides(database_url=f"sqlite:///{tmp_path / 'new.db'}")))
    assert not by["store"].ok and "connector migrate" in by["store"].detail


def test_given_broken_scoring_config_when_doctor_then_its_first_problems_are_reported(settings, store, tmp_path):
    bad = tmp_path / "scoring.yaml"
    bad.write_text("version: 1\nrules:\n  fit:\n    - name: x\n      property: jobtitle\n      points: lots\n",
                   encoding="utf-8")
    by = _by_name(run_doctor(settings.with_overrides(scoring_config=str(bad))))
    assert not by["scoring config"].ok
    assert "points" in by["scoring config"].detail


def test_given_missing_client_secret_when_doctor_then_settings_check_fails_naming_it(settings, store):
    by = _by_name(run_doctor(settings.with_overrides(hubspot_client_secret=None)))
    assert not by["settings"].ok and "HUBSPOT_CLIENT_SECRET" in by["settings"].detail


def test_given_professional_tier_when_doctor_then_daily_usage_comes_from_the_headers(settings, store):
    with Sandbox(SandboxConfig(contacts=20, tier="professional")) as sb:
        by = _by_name(run_doctor(settings.with_overrides(hubspot_api_base=sb.base_url)))
    assert by["rate limit"].ok
    assert "of 625,000 daily calls used" in by["rate limit"].detail


def _config_with(tmp_path, *activities: dict) -> str:
    """The packaged scoring config plus one engagement rule per activity mapping."""
    from tests.support.paths import SCORING

    data = yaml.safe_load(Path(SCORING).read_text())
    data["rules"]["engagement"] += [{"name": f"extra_{i}", "label": f"Extra {i}", "points": 5, "activity": a}
                                    for i, a in enumerate(activities)]
    path = tmp_path / "scoring.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


PAGE_VIEWS = {"kind": "page_views", "url_contains": "/pricing", "within_days": 14}
FORM = {"kind": "form_submissions", "form": "Demo request", "within_days": 30}


@pytest.mark.parametrize("tier, fallback, ok", [("professional", None, False), ("professional", "rollups", True),
                                                ("enterprise", None, True)])
def test_given_a_page_view_rule_when_doctor_then_engagement_sources_say_whether_the_tier_serves_it(
        settings, store, tmp_path, tier, fallback, ok):
    config = _config_with(tmp_path, {**PAGE_VIEWS, **({"fallback": fallback} if fallback else {})})
    with Sandbox(SandboxConfig(contacts=20, tier=tier)) as sb:
        by = _by_name(run_doctor(settings.with_overrides(hubspot_api_base=sb.base_url, scoring_config=config)))
    check = by["engagement sources"]
    assert check.ok is ok
    part = next(p for p in check.detail.split("; ") if p.startswith("page_views"))
    if tier == "enterprise":
        assert part == "page_views served"
    else:
        assert "Enterprise" in part and tier in part
        assert ("served by the rollups" in part) is (fallback == "rollups")


def test_given_a_token_without_the_forms_and_events_scopes_when_doctor_then_those_sources_are_named_not_served(
        settings, store, tmp_path):
    config = _config_with(tmp_path, FORM)
    granted = frozenset(REQUIRED_SCOPES) | frozenset(OPTIONAL_SCOPES)
    with Sandbox(SandboxConfig(contacts=20, tier="professional", tokens={"pat-x": granted})) as sb:
        by = _by_name(run_doctor(settings.with_overrides(hubspot_api_base=sb.base_url, hubspot_access_token="pat-x",
                                                         scoring_config=config)))
    parts = by["engagement sources"].detail.split("; ")
    assert not by["engagement sources"].ok
    # The packaged rules use meetings, calls and webinars; this config adds a form; the rest is unused.
    assert parts == ["meetings served", "calls served", "emails not used", "notes not used",
                     "form_submissions NOT served: the token lacks forms",
                     "marketing_events NOT served: the token lacks crm.objects.marketing_events.read",
                     "page_views not used"]


@pytest.mark.parametrize("remaining, limit, ok", [
    (250_000, 250_000, True), (25_000, 250_000, True), (24_999, 250_000, False), (0, 250_000, False),
    (None, None, True),
])
def test_daily_headroom_fails_under_ten_percent_left(remaining, limit, ok):
    assert daily_headroom_check(remaining, limit).ok is ok


def test_exit_code_is_0_only_when_every_check_passed():
    assert doctor_exit_code([Check("a", True, ""), Check("b", True, "")]) == 0
    assert doctor_exit_code([Check("a", True, ""), Check("b", False, "")]) == 1
    assert doctor_exit_code([]) == 1
    assert doctor_exit_code([Check("a", True, ""), Check("scoring config", False, "")]) == 2
    assert doctor_exit_code([Check("rules vs portal", False, ""), Check("b", False, "")]) == 2


# -- the admin's files the doctor's messages point to ---------------------------------------------


def test_env_example_lists_every_setting_and_loads_as_is():
    from dataclasses import fields

    from dotenv import dotenv_values

    from connector.settings import Settings
    from tests.support.paths import ROOT

    path = ROOT / "config" / ".env.example"
    text = path.read_text(encoding="utf-8")
    guide = (ROOT / "docs" / "admin-guide.md").read_text(encoding="utf-8")
    for f in fields(Settings):
        var = f.name.upper()
        assert f"\n{var}=" in text or f"\n# {var}=" in text, var
        assert f"| `{var}` |" in guide, var
    # Copied unchanged, its placeholders do not count as set: each is named.
    with pytest.raises(ConfigError) as exc:
        Settings.from_env(dotenv_values(path), require=("hubspot_access_token", "hubspot_client_secret"))
    assert [p.where for p in exc.value.problems] == ["HUBSPOT_ACCESS_TOKEN", "HUBSPOT_CLIENT_SECRET",
                                                     "WEBHOOK_PUBLIC_URL"]
    assert all("placeholder from config/.env.example" in p.message for p in exc.value.problems)
    real = {**dotenv_values(path), "HUBSPOT_ACCESS_TOKEN": "pat-na1-1f2e3d4c-aaaa-bbbb-cccc-123456789abc",
            "HUBSPOT_CLIENT_SECRET": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
            "WEBHOOK_PUBLIC_URL": "https://connector.example.com/webhooks/hubspot"}
    loaded = Settings.from_env(real, require=("hubspot_access_token", "hubspot_client_secret"))
    assert loaded.webhook_public_url == "https://connector.example.com/webhooks/hubspot"
