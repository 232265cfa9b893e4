"""Marketing spend from a CSV file (month,source,amount,currency) and what each MQL and SQL cost.

The file is read whole or not at all: every problem is collected with its line and column and the
read fails with all of them (ConfigError), so no report ever shows costs from half a file.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from connector.errors import ConfigError, Problem

COLUMNS = ("month", "source", "amount", "currency")
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])\Z")
_SOURCE = re.compile(r"[A-Z][A-Z0-9_]*\Z")  # hs_analytics_source values, e.g. PAID_SEARCH
_CURRENCY = re.compile(r"[A-Z]{3}\Z")  # ISO 4217
EXAMPLE_SOURCES = "ORGANIC_SEARCH, PAID_SEARCH, PAID_SOCIAL, EMAIL_MARKETING, SOCIAL_MEDIA, REFERRALS, OFFLINE"


@dataclass(frozen=True, slots=True)
class SpendRow:
    month: str  # YYYY-MM
    source: str
    amount: Decimal
    line: int


@dataclass(frozen=True, slots=True)
class Spend:
    path: str
    currency: str
    rows: tuple[SpendRow, ...]


def parse_spend(text: str, path: str) -> Spend:
    """The spend rows of `text` (the file at `path`, named in errors). Blank lines and lines
    starting with # are skipped; the header names the four columns in any order."""
    problems: list[Problem] = []

    def bad(line: int, column: int, message: str) -> None:
        problems.append(Problem(f"{path}:{line}:{column}", message))

    lines = [(n, raw) for n, raw in enumerate(text.splitlines(), 1) if raw.strip() and not raw.lstrip().startswith("#")]
    if not lines:
        raise ConfigError([Problem(path, f"is empty: expected a header line {','.join(COLUMNS)} and one row per "
                                         "month and source")])
    try:
        records = [(n, next(csv.reader(io.StringIO(raw), strict=True))) for n, raw in lines]
    except csv.Error as exc:
        raise ConfigError([Problem(path, f"is not valid CSV ({exc})")]) from None
    header_line, header = records[0]
    names = [h.strip().lower() for h in header]
    for i, name in enumerate(names, 1):
        if name not in COLUMNS:
            bad(header_line, i, f"unknown column {header[i - 1]!r} (the columns are {', '.join(COLUMNS)})")
        elif names.index(name) != i - 1:
            bad(header_line, i, f"column {name!r} appears twice")
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        bad(header_line, len(names) + 1, f"missing column(s) {', '.join(missing)}")
    if problems:
        raise ConfigError(problems)
    col = {name: names.index(name) for name in COLUMNS}
    rows: list[SpendRow] = []
    seen: dict[tuple[str, str], int] = {}
    currency: tuple[str, int] | None = None
    for n, fields in records[1:]:
        if len(fields) != len(names):
            bad(n, min(len(fields), len(names)) + 1,
                f"expected {len(names)} fields ({','.join(header)}), found {len(fields)}")
            continue
        month, source, amount_text, unit = (fields[col[c]].strip() for c in COLUMNS)
        ok = True
        if not _MONTH.match(month):
            bad(n, col["month"] + 1, f"month {month!r} is not a month as YYYY-MM (e.g. 2026-11)")
            ok = False
        if not _SOURCE.match(source):
            bad(n, col["source"] + 1, f"source {source!r} is not a HubSpot original source value "
                                      f"(hs_analytics_source, e.g. {EXAMPLE_SOURCES})")
            ok = False
        amount = _amount(amount_text)
        if amount is None:
            bad(n, col["amount"] + 1, f"amount {amount_text!r} is not a number of 0 or more (e.g. 1250.50; "
                                      "no thousands separators or currency signs)")
            ok = False
        if not _CURRENCY.match(unit):
            bad(n, col["currency"] + 1, f"currency {unit!r} is not a three-letter ISO code (e.g. EUR, USD)")
            ok = False
        elif currency is None:
            currency = (unit, n)
        elif unit != currency[0]:
            bad(n, col["currency"] + 1, f"currency {unit} differs from {currency[0]} on line {currency[1]}: "
                                        "one currency per file (convert first)")
            ok = False
        if ok and (month, source) in seen:
            bad(n, col["source"] + 1, f"{month} {source} is already on line {seen[(month, source)]}: "
                                      "one row per month and source (add them up)")
            ok = False
        if ok:
            seen[(month, source)] = n
            rows.append(SpendRow(month, source, amount, n))  # type: ignore[arg-type]
    if problems:
        raise ConfigError(problems)
    return Spend(path, currency[0] if currency else "", tuple(rows))


def _amount(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() and value >= 0 else None


def costs(spend: Spend, mql_months: Sequence[tuple[str | None, int | None, int | None]], months: Sequence[str]) -> dict:
    """Cost per MQL and per SQL by source and month, for the calendar months `months`.
    `mql_months`: per contact (source, when it reached MQL, when it reached SQL) in ms."""
    wanted = set(months)
    mqls: dict[tuple[str, str], int] = {}
    sqls: dict[tuple[str, str], int] = {}
    month_of: dict[int, str] = {}  # by day: a month name per contact date is the slow part
    for source, mql_at, sql_at in mql_months:
        if source is None:
            continue
        for at, counts in ((mql_at, mqls), (sql_at, sqls)):
            if at is not None:
                day = at // 86_400_000
                month = month_of.get(day)
                if month is None:
                    month = month_of[day] = _month(day * 86_400_000)
                if month in wanted:
                    key = (month, source)
                    counts[key] = counts.get(key, 0) + 1
    rows = []
    totals: dict[str, list] = {}
    for r in sorted(spend.rows, key=lambda r: (r.month, r.source)):
        if r.month not in wanted:
            continue
        m, s = mqls.get((r.month, r.source), 0), sqls.get((r.month, r.source), 0)
        rows.append(_cost_row({"month": r.month, "source": r.source}, r.amount, m, s))
        total = totals.setdefault(r.source, [Decimal(0), 0, 0])
        total[0] += r.amount
        total[1] += m
        total[2] += s
    by_source = [_cost_row({"source": source}, t[0], t[1], t[2]) for source, t in sorted(totals.items())]
    all_spend = sum((t[0] for t in totals.values()), Decimal(0))
    overall = _cost_row({}, all_spend, sum(t[1] for t in totals.values()), sum(t[2] for t in totals.values()))
    return {"file": spend.path, "currency": spend.currency, "months": sorted(wanted), "by_month_and_source": rows,
            "by_source": by_source, "total": overall}


def _cost_row(key: dict, amount: Decimal, mqls: int, sqls: int) -> dict:
    return {**key, "spend": float(round(amount, 2)), "mqls": mqls, "sqls": sqls,
            "cost_per_mql": float(round(amount / mqls, 2)) if mqls else None,
            "cost_per_sql": float(round(amount / sqls, 2)) if sqls else None}


def _month(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m")
