"""The calibration's read (against the sandbox: HubSpot's paging and history limits) and the command's
refusals, as a user meets them."""

from __future__ import annotations

import pytest

from connector.calibrate.read import read_contacts
from connector.cli import main
from connector.errors import UnreachableError
from tests.support.sandbox import sandbox_stats

PROPS = ["createdate"]
HISTORY = ["hs_analytics_num_visits", "lifecyclestage", "jobtitle"]


def test_given_a_read_killed_after_two_pages_when_rerun_then_it_resumes_there_and_then_reuses_the_cache(ctx):
    gateway = ctx.gateway
    real = gateway.list_contacts_with_history
    pages = []

    def dies_on_the_third(**kw):
        if len(pages) == 2:
            raise UnreachableError("connection reset (simulated)")
        pages.append(kw.get("after"))
        return real(**kw)

    gateway.list_contacts_with_history = dies_on_the_third
    with pytest.raises(UnreachableError):
        read_contacts(gateway, ctx.store, properties=PROPS, with_history=HISTORY, now_ms=1_000_000)
    gateway.list_contacts_with_history = real
    second = read_contacts(gateway, ctx.store, properties=PROPS, with_history=HISTORY, now_ms=2_000_000)
    assert second.resumed and second.from_cache == 100  # two pages of 50 kept from the first try
    assert second.calls == 1 + (400 - 100) // 50  # the total, then the six pages not read yet
    assert len(second.timelines) == 400 and len({t.id for t in second.timelines}) == 400
    assert all(t.versions.get("lifecyclestage") for t in second.timelines)
    third = read_contacts(gateway, ctx.store, properties=PROPS, with_history=HISTORY, now_ms=3_000_000)
    assert third.calls == 0 and third.from_cache == 400
    fresh = read_contacts(gateway, ctx.store, properties=PROPS, with_history=HISTORY, now_ms=4_000_000,
                          refresh=True)
    assert fresh.calls == 1 + 400 // 50 and not fresh.resumed


def test_given_an_unknown_property_or_stage_or_an_empty_range_then_one_line_names_it_and_exit_2(env, sandbox, capsys):
    before = sandbox_stats(sandbox)["requests"]
    assert main(["--env-file", "/dev/null", "calibrate", "--since", "2026-05-01", "--until", "2026-04-01"]) == 2
    assert "--since/--until: 2026-05-01..2026-04-01 is an empty time range" in capsys.readouterr().err
    assert sandbox_stats(sandbox)["requests"] == before  # refused before any call
    assert main(["--env-file", "/dev/null", "calibrate", "--properties", "jobtitel"]) == 2
    assert "--properties jobtitel: no such contact property in this portal (did you mean jobtitle?)" in \
        capsys.readouterr().err
    assert main(["--env-file", "/dev/null", "calibrate", "--outcome-stages", "closedwon"]) == 2
    assert "--outcome-stages closedwon: no such lifecycle stage" in capsys.readouterr().err


def test_given_a_small_portal_then_calibrate_refuses_with_the_counts_and_writes_nothing_anywhere(env, sandbox, capsys,
                                                                                               tmp_path):
    out = tmp_path / "candidate.yaml"
    assert main(["--env-file", "/dev/null", "calibrate", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "judged contacts reached opportunity or customer within 180 days" in err and "too young" in err
    assert not out.exists()
    writes = {k: v for k, v in sandbox_stats(sandbox)["requests"].items()
              if not k.startswith(("GET ", "POST /crm/v3/objects/contacts/search"))}
    assert writes == {"POST /oauth/v2/private-apps/get/access-token-info": 1}  # the token check reads too


def test_given_apply_then_the_live_file_is_replaced_and_kept_beside_and_the_packaged_default_is_refused(tmp_path):
    from connector.commands.calibrate import apply_candidate
    from connector.errors import ConfigError
    from connector.settings import DEFAULT_SCORING_CONFIG

    live, candidate = tmp_path / "scoring.yaml", tmp_path / "candidate.yaml"
    live.write_text("old: 1\n")
    candidate.write_text("new: 2\n")
    backup = apply_candidate(str(candidate), str(live), clock=lambda: 1_790_000_000.0)
    from pathlib import Path

    assert live.read_text() == "new: 2\n" and Path(backup).read_text() == "old: 1\n"
    assert backup.endswith(".20260921T141320Z.bak")
    with pytest.raises(ConfigError, match="built-in default config"):
        apply_candidate(str(candidate), DEFAULT_SCORING_CONFIG, clock=lambda: 0.0)


def test_given_a_portal_with_history_when_calibrated_from_the_cli_then_a_loadable_candidate_and_a_json_report(
        monkeypatch, tmp_path, capsys):
    import json

    import yaml

    from connector.calibrate.activity import reading_rules
    from connector.core.rules_file import load_rules
    from connector.sandbox.server import Sandbox, SandboxConfig
    from tests.support.paths import DEFAULT_CONFIG

    with Sandbox(SandboxConfig(contacts=3000, seed=5, tier="unlimited")) as sb:
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-sandbox")
        monkeypatch.setenv("HUBSPOT_API_BASE", sb.base_url)
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'state.db'}")
        monkeypatch.setenv("SCORING_CONFIG", str(DEFAULT_CONFIG))
        out = tmp_path / "candidate.yaml"
        args = ["--env-file", "/dev/null", "calibrate", "--out", str(out), "--json", "--min-outcomes", "20"]
        assert main(args) == 0
        report = json.loads(capsys.readouterr().out)
        from tests.support.sandbox import sandbox_stats
        by_path = sandbox_stats(sb)["requests"]
        # The judged contacts' activity: associations 1,000 ids a call, then the objects, webinars per event.
        activity = sum(n for k, n in by_path.items() if k.split()[1].startswith(
            ("/crm/v4/associations", "/crm/v3/objects/{objectType}", "/marketing/")))
        assert by_path["POST /crm/v4/associations/contacts/{toObjectType}/batch/read"] == 3 * 3  # 3 kinds
        assert report["calls"] - activity == 3 + 3000 // 50 and report["counts"]["contacts"] == 3000
        assert report["split"]["kind"] == "time" and report["split"]["train_to"] <= report["split"]["holdout_from"]
        assert {"auc", "auc_low", "lift", "grades", "paths", "at_threshold"} <= set(report["compare"]["candidate"])
        assert load_rules(out).policy.mql_threshold == report["threshold"]["holdout"]["threshold"]
        assert main(args) == 0  # a rerun reuses the read
        again = json.loads(capsys.readouterr().out)
        assert again["read_calls"] == 0 and again["cached"] == 3000
        # --no-activity: no activity read (the cached read: the token check and the definitions only),
        # no activity candidate, and the current config's activity rules valued 0, so none is kept.
        assert main([*args, "--no-activity"]) == 0
        without = json.loads(capsys.readouterr().out)
        activity_rules = {a.rule for a in reading_rules(yaml.safe_load(DEFAULT_CONFIG.read_text())).activities}
        assert activity_rules & {r["name"] for r in again["rules"]}  # with them, some are learned
        assert without["calls"] == 2 and not activity_rules & {r["name"] for r in without["rules"]}
