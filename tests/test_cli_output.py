"""What the CLI prints: a dry run lists every change with the contact's name, text and JSON use
one vocabulary, doctor --json is an object with an overall status."""

from __future__ import annotations

import json
import re

from connector.cli import main


def run(*args: str) -> int:
    return main(["--env-file", "/dev/null", *args])


def test_given_a_dry_run_then_every_planned_contact_is_listed_with_its_name_and_reasons(env, sandbox, capsys):
    assert run("setup") == 0
    capsys.readouterr()
    assert run("sync", "--full", "--dry-run") == 0
    out = capsys.readouterr().out
    listed = re.findall(r"^ +(\d+)  (.+ <[^>]+@[^>]+>)$", out, re.M)
    assert len(listed) == 400  # every contact of the fresh portal, none cut at 50
    assert "400 contacts would change" in out and "more not listed" not in out
    assert out.count("why: ") == 400
    assert run("sync", "--full", "--dry-run", "--json") == 0
    planned = json.loads(capsys.readouterr().out)["planned"]
    assert out.count("reasons: ") == sum(1 for p in planned if p["changes"].get("lsc_reasons")) > 390
    assert "lsc_state" not in out and "lsc_last_scored" not in out
    assert re.search(r"^sync done kind=full dry-run .* mql_new=\d+ .* rate_limited=0 .* took_s=\d+\.\d$", out, re.M)


def test_given_json_then_the_keys_are_those_of_the_line_and_times_are_rounded(env, sandbox, capsys):
    assert run("setup") == 0
    capsys.readouterr()
    assert run("sync", "--full", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert {"pulled", "scored", "changed", "held", "written", "failed", "mql_new", "requests", "rate_limited",
            "retries", "took_s"} <= set(data)
    assert data["took_s"] == round(data["took_s"], 2)
    assert "_lock" not in data and "last_write_ms" not in data


def test_given_doctor_json_then_an_object_with_the_overall_status(env, sandbox, capsys):
    # No client secret (a settings problem: exit 2), no setup yet (properties, MQL option).
    assert run("doctor", "--json") == 2
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "config error" and data["exit_code"] == 2
    assert {"settings", "properties", "MQL option"} <= set(data["failed"])
    assert data["passed"] == sum(c["ok"] for c in data["checks"])
    env.setenv("HUBSPOT_CLIENT_SECRET", "a-real-secret")
    assert run("doctor", "--json") == 1
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "failed" and "settings" not in data["failed"]
    assert {c["name"] for c in data["checks"]} >= {"token", "properties", "store"}
