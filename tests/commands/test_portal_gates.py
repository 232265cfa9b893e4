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


@pytest.fixture
def env(monkeypatch, sandbox, tmp_path):
    for var in ("HUBSPOT_ACCESS_TOKEN", "HUBSPOT_API_BASE", "DATABASE_URL", "SCORING_CONFIG", "HUBSPOT_CLIENT_SECRET",
                "WEBHOOK_PUBLIC_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-sandbox")
    monkeypatch.setenv("HUBSPOT_API_BASE", sandbox.base_url)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("SCORING_CONFIG", SCORING)
    return monkeypatch


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


@pytest.mark.parametrize("command", [("setup",), ("sync", "--full"), ("doctor",)])
def test_given_a_rule_on_a_property_the_portal_lacks_then_exit_2_naming_it_and_no_write(
        env, sandbox, tmp_path, capsys, command):
    if command[0] == "sync":
        assert run("setup") == 0
    before = portal_writes(sandbox)
    env.setenv("SCORING_CONFIG", config_with(tmp_path, misspell_industry))
    capsys.readouterr()
    assert run(*command) == 2
    out = capsys.readouterr()
    text = out.out + out.err
    assert "'industy' is not a contact property of this portal; did you mean 'industry'?" in text
    assert "rules.fit[" in text and "scoring.yaml" in text
    assert portal_writes(sandbox) == before


@pytest.mark.parametrize("command", [("setup",), ("sync", "--full"), ("doctor",)])
def test_given_a_value_that_is_not_an_option_then_exit_2_naming_it_and_no_write(
        env, sandbox, tmp_path, capsys, command):
    if command[0] == "sync":
        assert run("setup") == 0
    before = portal_writes(sandbox)
    env.setenv("SCORING_CONFIG", config_with(tmp_path, unknown_lifecycle_option))
    capsys.readouterr()
    assert run(*command) == 2
    out = capsys.readouterr()
    assert "'vip_stage'.property: 'vip' is not an option of 'lifecyclestage'" in out.out + out.err
    assert portal_writes(sandbox) == before
