"""`connector report`: the funnel, conversion, velocity, handoff, cost and calibration, from the
store alone (no HubSpot call, no token needed). The dashboard shows the same dict."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connector.core.rules import RuleSet
from connector.errors import ConfigError
from connector.report.build import Inputs, build_report
from connector.report.facts import ContactFacts
from connector.report.periods import Window
from connector.report.spend import Spend, parse_spend
from connector.store import Store


def load_report(store: Store, rules: RuleSet, window: Window, spend_file: str | None, *,
                strict_spend: bool = True, now_ms: int | None = None,
                facts: Sequence[ContactFacts] | None = None) -> dict:
    """The report for `window`. A spend file with errors: ConfigError naming each line and column
    (`strict_spend`), or the cost section says what is wrong (the dashboard): never half of it.
    `facts`: every contact's facts, when the caller keeps them (the dashboard); else read."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    spend, status = read_spend(spend_file, strict=strict_spend)
    # Whole calendar months around the window: cost per MQL counts the MQLs of every month it touches.
    first = datetime.fromtimestamp(window.since / 1000, UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last = datetime.fromtimestamp((window.until - 1) / 1000, UTC).replace(day=28) + timedelta(days=4)
    after = last.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    contacts, last_seen = store.facts_summary()
    inputs = Inputs(facts=store.facts_between(_ms(first), _ms(after)) if facts is None else facts, contacts=contacts,
                    last_seen=last_seen, policy=rules.policy, sla=rules.sla,
                    clocks=store.clocks_between(window.since, window.until),
                    verdicts=store.verdicts(window.since, window.until),
                    spend=spend, spend_status=status, shadow=_shadow(store), now_ms=now_ms)
    return build_report(inputs, window)


def read_spend(path: str | None, *, strict: bool) -> tuple[Spend | None, str]:
    """(the spend, "") or (None, why there is none)."""
    if not path:
        return None, "no spend file configured (SPEND_FILE, or --spend PATH)"
    file = Path(path)
    if not file.is_file():
        return None, (f"no spend file at {path}: put month,source,amount,currency rows there for cost per "
                      "MQL and SQL (docs/dashboard.md)")
    try:
        return parse_spend(file.read_text(encoding="utf-8-sig"), path), ""
    except UnicodeDecodeError as exc:
        error = ConfigError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})")
    except ConfigError as exc:
        error = exc
    if strict:
        raise error
    return None, "the spend file has errors, so no costs are shown: " + "; ".join(str(p) for p in error.problems)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _shadow(store: Store) -> dict | None:
    """Live against the newest shadow config, when one has run."""
    keys = store.shadow_keys()
    if not keys:
        return None
    from connector.calibrate.shadow_compare import compare  # numpy: only when there is a shadow

    return {"key": keys[0][0], **compare(store.shadow_rows(keys[0][0]))}
