"""The CLI's promises: one clear line and exit status 2 before any write when it cannot work."""

from __future__ import annotations

import pytest

from connector.cli import main
from connector.core import properties as hp
from connector.sandbox import Sandbox, SandboxConfig
from tests.support.sandbox import calls, sandbox_stats, writes


def run(*args: str) -> int:
    return main(["--env-file", "/dev/null", *args])


def _one_error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("connector:")]
    assert len(err) == 1, err
    return err[0]


def test_given_bad_token_when_sync_then_exit_2_with_one_line_and_no_write(env, sandbox, capsys):
    env.setenv("HUBSPOT_ACCESS_TOKEN", "pat-wrong")
    assert run("sync", "--full") == 2
    assert "HUBSPOT_ACCESS_TOKEN" in _one_error_line(capsys)
    assert writes(sandbox) == 0


def test_given_token_missing_a_scope_when_sync_then_exit_2_naming_the_scope_and_no_write(env, capsys):
    cfg = SandboxConfig(contacts=20, tier="unlimited",
                        tokens={"pat-ro": frozenset({"crm.objects.contacts.read", "crm.schemas.contacts.read"})})
    with Sandbox(cfg) as sb:
        env.setenv("HUBSPOT_API_BASE", sb.base_url)
        env.setenv("HUBSPOT_ACCESS_TOKEN", "pat-ro")
        assert run("sync", "--full") == 2
        line = _one_error_line(capsys)
        assert "crm.objects.contacts.write" in line and "crm.schemas.contacts.write" in line
        assert writes(sb) == 0


def test_given_unreachable_api_base_when_sync_then_exit_2_with_one_line(env, capsys):
    env.setenv("HUBSPOT_API_BASE", "http://127.0.0.1:9")
    env.setenv("HTTP_CONNECT_TIMEOUT_S", "0.5")
    assert run("sync") == 2
    assert "cannot reach HubSpot" in _one_error_line(capsys)


def test_given_broken_scoring_config_when_sync_then_exit_2_naming_the_file_and_no_call(env, sandbox, tmp_path, capsys):
    bad = tmp_path / "scoring.yaml"
    bad.write_text("version: 1\nthis_key_does_not_exist: true\n")
    env.setenv("SCORING_CONFIG", str(bad))
    assert run("sync", "--full") == 2
    err = capsys.readouterr().err
    assert "configuration error" in err and str(bad) in err
    assert calls(sandbox) == 0


def test_given_bad_setting_when_any_command_then_exit_2_naming_the_variable(env, sandbox, capsys):
    env.setenv("HUBSPOT_REQUESTS_PER_10S", "lots")
    assert run("sync") == 2
    assert "HUBSPOT_REQUESTS_PER_10S" in capsys.readouterr().err
    assert calls(sandbox) == 0


def test_given_setup_then_sync_dry_run_then_table_printed_and_nothing_written(env, sandbox, capsys):
    assert run("setup") == 0
    capsys.readouterr()
    assert run("sync", "--full", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "why:" in out and "sync done kind=full dry-run" in out
    assert writes(sandbox) == 0


def test_given_synced_portal_when_explain_then_score_rules_and_decision_are_shown(env, sandbox, capsys):
    assert run("setup") == 0
    assert run("sync", "--full", "--json") == 0
    capsys.readouterr()
    mql = next(r for r in sandbox.portal.store("contacts").records.values()
               if r.properties.get(hp.LEAD_STATUS) == hp.MQL_STATUS)
    assert run("explain", mql.id) == 0
    out = capsys.readouterr().out
    assert f"Contact {mql.id}" in out and "rules that fired" in out and "decision:" in out
    assert "lead_status -> MQL" not in out  # nothing left to write: it already is one
    assert sandbox_stats(sandbox)["requests"].get("GET /crm/v3/objects/contacts/{contactId}") == 1


def test_given_setup_done_when_doctor_then_every_check_passes_and_exit_0(env, sandbox, capsys):
    env.setenv("HUBSPOT_CLIENT_SECRET", "s3cret-for-tests")
    assert run("setup") == 0
    capsys.readouterr()
    assert run("doctor") == 0
    out = capsys.readouterr().out
    assert "checks passed" in out and "failed:" not in out
    assert "s3cret-for-tests" not in out and "pat-sandbox" not in out  # secrets are never printed


def test_given_token_without_a_scope_when_doctor_then_exit_1_naming_it(env, capsys):
    cfg = SandboxConfig(contacts=20, tier="unlimited", tokens={
        "pat-nowrite": frozenset({"crm.objects.contacts.read", "crm.schemas.contacts.read",
                                  "crm.schemas.contacts.write"})})
    with Sandbox(cfg) as sb:
        env.setenv("HUBSPOT_API_BASE", sb.base_url)
        env.setenv("HUBSPOT_ACCESS_TOKEN", "pat-nowrite")
        env.setenv("HUBSPOT_CLIENT_SECRET", "s3cret-for-tests")
        assert run("doctor") == 1
        assert "crm.objects.contacts.write" in capsys.readouterr().out


def test_given_an_assignment_section_and_no_owners_read_scope_when_sync_then_exit_2_naming_it(env, tmp_path, capsys):
    import yaml

    from tests.support.paths import DEFAULT_CONFIG

    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["assignment"] = {"team": "Inbound SDRs"}
    path = tmp_path / "scoring.yaml"
    path.write_text(yaml.safe_dump(config))
    from connector.commands.setup import OWNERS_READ, needed_scopes
    from connector.core.rules_file import load_rules

    base = set(needed_scopes(load_rules(DEFAULT_CONFIG))) - {OWNERS_READ}  # all the packaged config needs
    cfg = SandboxConfig(contacts=20, tier="unlimited", tokens={"pat-noowners": frozenset(base)})
    with Sandbox(cfg) as sb:
        env.setenv("HUBSPOT_API_BASE", sb.base_url)
        env.setenv("HUBSPOT_ACCESS_TOKEN", "pat-noowners")
        env.setenv("SCORING_CONFIG", str(path))
        assert run("sync", "--full") == 2
        line = _one_error_line(capsys)
        assert "crm.objects.owners.read" in line and "assign new MQLs" in line
        assert writes(sb) == 0 and sandbox_stats(sb)["requests"].get("GET /crm/v3/owners", 0) == 0
        env.setenv("SCORING_CONFIG", str(DEFAULT_CONFIG))  # without the section the same token is enough
        assert run("setup") == 0


@pytest.mark.parametrize("mode", [("--dry-run",), ()])
def test_given_a_full_sync_from_the_cli_then_its_first_list_page_is_the_one_asked_for_before_the_store_opened(
        env, sandbox, monkeypatch, mode):
    from connector.list_path import FirstListPage

    env.setenv("HUBSPOT_REQUESTS_PER_10S", "1000")
    env.setenv("HUBSPOT_SEARCH_PER_SECOND", "5")  # list pages get a share of the window, writing or not
    taken = []
    take = FirstListPage.take
    monkeypatch.setattr(FirstListPage, "take", lambda self, properties: taken.append(take(self, properties))
                        or taken[-1])
    assert run("setup") == 0
    assert run("sync", "--full", "--json", *mode) == 0
    assert len(taken) == 1 and taken[0] is not None  # asked with the properties the pass reads
