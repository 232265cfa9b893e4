"""The spend file: read whole or not at all, every problem named by line and column."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connector.cli import main
from connector.errors import ConfigError
from connector.report.spend import parse_spend

GOOD = "month,source,amount,currency\n2026-10,PAID_SEARCH,1200.50,EUR\n2026-11,PAID_SEARCH,900,EUR\n"


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_spend(text, "config/spend.csv")
    return [str(p) for p in caught.value.problems]


def test_given_a_good_file_then_every_row_is_read_with_its_line():
    spend = parse_spend("# comment\n\n" + GOOD, "s.csv")
    assert spend.currency == "EUR"
    assert [(r.month, r.source, r.amount, r.line) for r in spend.rows] == [
        ("2026-10", "PAID_SEARCH", Decimal("1200.50"), 4), ("2026-11", "PAID_SEARCH", Decimal("900"), 5)]


def test_given_columns_in_another_order_then_they_are_read_by_name():
    spend = parse_spend("currency,amount,source,month\nUSD,10,OFFLINE,2026-01\n", "s.csv")
    assert (spend.rows[0].month, spend.rows[0].source, spend.currency) == ("2026-01", "OFFLINE", "USD")


@pytest.mark.parametrize("line, where, words", [
    ("2026-13,PAID_SEARCH,10,EUR", "config/spend.csv:4:1", "month '2026-13'"),
    ("2026-12,Paid search,10,EUR", "config/spend.csv:4:2", "source 'Paid search'"),
    ("2026-12,PAID_SEARCH,1.200,00,EUR", "config/spend.csv:4:5", "expected 4 fields"),
    ("2026-12,PAID_SEARCH,€10,EUR", "config/spend.csv:4:3", "amount '€10'"),
    ("2026-12,PAID_SEARCH,-5,EUR", "config/spend.csv:4:3", "amount '-5'"),
    ("2026-12,PAID_SEARCH,10,euro", "config/spend.csv:4:4", "currency 'euro'"),
    ("2026-12,PAID_SEARCH,10,USD", "config/spend.csv:4:4", "differs from EUR on line 2"),
    ("2026-10,PAID_SEARCH,10,EUR", "config/spend.csv:4:2", "already on line 2"),
])
def test_given_one_bad_line_then_its_line_and_column_are_named(line, where, words):
    found = problems(GOOD + line + "\n")
    assert len(found) == 1, found
    assert found[0].startswith(where + ": ") and words in found[0], found


def test_given_several_bad_lines_then_all_are_named_at_once():
    found = problems(GOOD + "2026-1,PAID_SEARCH,x,EUR\n2026-12,OFFLINE,5,EURO\n")
    assert [p.split(": ")[0] for p in found] == ["config/spend.csv:4:1", "config/spend.csv:4:3",
                                                  "config/spend.csv:5:4"]


def test_given_a_bad_header_then_the_column_is_named():
    found = problems("month,channel,amount,currency\n2026-10,X,1,EUR\n")
    assert found[0].startswith("config/spend.csv:1:2: unknown column 'channel'")
    assert any("missing column(s) source" in p for p in found)


def test_given_a_bad_spend_file_when_report_then_exit_2_naming_line_and_column_and_no_report(env, tmp_path, capsys):
    bad = tmp_path / "spend.csv"
    bad.write_text(GOOD + "2026-12,PAID_SOCIAL,12k,EUR\n")
    assert main(["--env-file", "/dev/null", "report", "--json", "--spend", str(bad)]) == 2
    out = capsys.readouterr()
    assert out.out == ""  # nothing half-read, nothing printed
    assert f"{bad}:4:3: amount '12k' is not a number" in out.err
