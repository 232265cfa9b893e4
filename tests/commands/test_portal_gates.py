"""Rules are held against the portal before any write, and nothing runs on a portal without setup:
setup, sync and doctor name the file, rule and property; the sandbox records no write at all."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from connector.cli import main
from tests.support.paths import SCORING
from tests.support.sandbox import sandbox_stats

READS = ("/search", "/batch/read", "access-token", "/_sandbox")


def portal_writes(sandbox) -> dict[str, int]:
    """Every request that could change the portal (creates, updates, deletes), by route."""
    return {route: n for route, n in sandbox_stats(sandbox)["requests"].items()
            if route.split(" ", 1)[0] in ("POST", "PATCH", "PUT", "DELETE")
            and not any(r in route for r in READS)}




def run(*args: str) -> int:
    return main(["--env-file", "/dev/null", *args])


def config_with(tmp_path: Path, change) -> str:
    data = yaml.safe_load(Path(SCORING).read_text())
    change(data)
    path = tmp_path / "scoring.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def misspell_industry(data: dict) -> None:
    rule = next(r for r in data["rules"]["fit"] if r.get("property") == "industry")
    rule["property"] = "industy"


def unknown_lifecycle_option(data: dict) -> None:
    data["rules"]["fit"].append({"name": "vip_stage", "label": "VIP stage", "property": "lifecyclestage",
                                 "equals": "vip", "points": 5})


def error_lines(capsys) -> list[str]:
    return [line.strip() for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_given_a_portal_without_setup_when_sync_then_exit_2_naming_setup_and_no_write(env, sandbox, capsys):
    assert run("sync", "--full") == 2
    lines = error_lines(capsys)
    assert any("connector setup" in line and "not set up" in line for line in lines), lines
    assert portal_writes(sandbox) == {}


@pytest.mark.parametrize("change, named", [
    (misspell_industry, "'industy' is not a contact property of this portal; did you mean 'industry'?"),
    (unknown_lifecycle_option, "'vip_stage'.property: 'vip' is not an option of 'lifecyclestage'"),
], ids=["missing property", "not an option"])
@pytest.mark.parametrize("command", [("setup",), ("sync", "--full"), ("doctor",)])
def test_given_a_rule_the_portal_cannot_serve_then_exit_2_naming_file_rule_and_property_and_no_write(
        env, sandbox, tmp_path, capsys, command, change, named):
    if command[0] == "sync":
        assert run("setup") == 0
    before = portal_writes(sandbox)
    env.setenv("SCORING_CONFIG", config_with(tmp_path, change))
    capsys.readouterr()
    assert run(*command) == 2
    out = capsys.readouterr()
    text = out.out + out.err
    assert named in text and "rules.fit[" in text and "scoring.yaml" in text
    assert portal_writes(sandbox) == before


def test_given_nothing_to_write_when_connector_sync_then_the_portal_check_costs_no_call(env, sandbox):
    from tests.support.sandbox import reset

    assert run("setup") == 0 and run("sync", "--full") == 0
    assert run("sync") == 0  # reads the connector's own echoes, writes nothing
    reset(sandbox)
    assert run("sync") == 0
    calls = {route: n for route, n in sandbox_stats(sandbox)["requests"].items() if n}
    assert calls == {"POST /oauth/v2/private-apps/get/access-token-info": 1,
                     "POST /crm/v3/objects/contacts/search": 1}
