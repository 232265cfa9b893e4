"""`connector report --json` on a seeded sandbox, every number held against the same numbers
computed from the sandbox's raw contacts (tests/report/independent.py, not the report's code)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from connector.cli import main
from connector.core.rules_file import load_rules
from tests.report.independent import contacts_of, expected
from tests.support.paths import SCORING
from tests.support.sandbox import calls


def cli(capsys, *args) -> str:
    capsys.readouterr()
    assert main(["--env-file", "/dev/null", *args]) == 0
    return capsys.readouterr().out


def spend_file(tmp_path, contacts) -> str:
    """Spend for every source the portal has, in the months the portal's MQLs fall in (inputs)."""
    months = sorted({datetime.fromtimestamp(c["reached"][1] / 1000, UTC).strftime("%Y-%m")
                     for c in contacts if c["reached"][1] is not None})
    sources = sorted({c["source"] for c in contacts if c["source"]})
    path = tmp_path / "spend.csv"
    lines = ["# test spend", "month,source,amount,currency"]
    lines += [f"{m},{s},{1000 + 17 * i + 3 * j}.50,EUR" for i, m in enumerate(months) for j, s in enumerate(sources)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture
def synced(env, sandbox, capsys):
    cli(capsys, "setup")
    cli(capsys, "sync", "--full")
    # Once more: the MQLs the first sync made now carry HubSpot's own "became an MQL" date.
    cli(capsys, "sync", "--full")
    return sandbox


@pytest.mark.parametrize("by, cut", [("month", False), ("week", False), ("month", True)])
def test_given_a_synced_sandbox_when_report_json_then_every_number_equals_the_raw_data(synced, capsys, tmp_path, by,
                                                                                       cut):
    """`cut`: the window ends mid-month, months ago (cost still counts that whole month)."""
    contacts = contacts_of(synced)
    today = datetime.now(UTC).date()
    since = date(today.year - 1, today.month, 1)
    if cut:
        today = (today.replace(day=1) - timedelta(days=40)).replace(day=15)
    spend = spend_file(tmp_path, contacts)
    before = calls(synced)
    report = json.loads(cli(capsys, "report", "--json", "--since", since.isoformat(), "--until", today.isoformat(),
                            "--by", by, "--spend", spend))
    assert calls(synced) == before  # the report reads the store only
    policy = load_rules(SCORING).policy
    want = expected(contacts, since, today, by, policy.mql_threshold, policy.hysteresis, spend)

    assert report["contacts"] == want["contacts"] == 400
    assert report["window"]["periods"] == want["periods"]
    assert report["funnel"]["total"] == want["total"]
    assert want["total"][1]["entered"] > 0 and want["total"][2]["converted"] > 0  # a funnel with something in it
    assert {p["period"]: p["stages"] for p in report["funnel"]["by_period"]} == want["by_period"]
    for name, rows in want["segments"].items():
        assert {r["value"]: r["stages"] for r in report["segments"][name]} == rows, name
    assert {p["period"]: p["paths"] for p in report["mqls_by_path"]} == want["mqls_by_path"]
    assert {p["period"]: p["total"] for p in report["mqls_by_path"]} == {
        k: sum(v.values()) for k, v in want["mqls_by_path"].items()}

    cost = report["cost"]
    got = {(r["month"], r["source"]): {k: r[k] for k in ("spend", "mqls", "sqls", "cost_per_mql", "cost_per_sql")}
           for r in cost["by_month_and_source"]}
    assert got == want["cost"] and any(v["mqls"] for v in got.values())
    for row in cost["by_source"]:
        mine = [v for (m, s), v in want["cost"].items() if s == row["source"]]
        assert row["spend"] == pytest.approx(sum(v["spend"] for v in mine))
        assert (row["mqls"], row["sqls"]) == (sum(v["mqls"] for v in mine), sum(v["sqls"] for v in mine))
    assert cost["total"]["mqls"] == sum(v["mqls"] for v in want["cost"].values())

    cal = report["calibration"]
    assert (cal["contacts"], cal["converted"]) == (want["calibration"]["contacts"], want["calibration"]["converted"])
    deciles = {d["decile"]: d for d in cal["deciles"]}
    assert set(deciles) == set(want["calibration"]["deciles"])
    for d, w in want["calibration"]["deciles"].items():
        for key in ("contacts", "converted", "actual", "min_score", "max_score"):
            assert deciles[d][key] == w[key], (d, key)
        assert deciles[d]["predicted"] == pytest.approx(w["predicted"], abs=2e-4)
