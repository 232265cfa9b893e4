"""SLA escalations: an MQL nobody in sales touched in time alerts the next person, once per stage.

Run every minute by the worker. Each due stage becomes an owner alert (connector/handoff/sender.py
delivers it: a task for that person and the chat message), keyed by contact, MQL time and stage,
so a rerun, a restart or two workers never escalate the same stage twice.
"""

from __future__ import annotations

from connector.core.rules import RuleSet
from connector.core.sla import due, elapsed
from connector.core.values import format_instant
from connector.store import NewAlert, Store


def escalate(store: Store, rules: RuleSet, channels: tuple[str, ...], now: float) -> int:
    """Record the escalations due at `now`; returns how many were new."""
    sla = rules.sla
    if sla is None or not channels:
        return 0
    new = 0
    for clock in store.running_clocks():
        mql_at = clock["mql_at"] / 1000
        stages = due(mql_at, now, sla, clock["stages_done"])
        if not stages:
            continue
        alerts = []
        for i in stages:
            stage = sla.escalations[i]
            hours = stage.after_seconds / 3600
            spent = elapsed(mql_at, now, sla) / 3600
            owner = clock["owner_id"] or "nobody"
            body = (f"MQL since {format_instant(mql_at)}, owner {owner}: no call, meeting, email or note "
                    f"logged for {spent:.1f} h{' of business hours' if sla.hours else ''} "
                    f"(the SLA: {sla.escalations[0].after_seconds / 3600:g} h). Escalation {i + 1}.")
            alerts.append(NewAlert(clock["contact_id"], f"sla:{clock['mql_at']}:{i}",
                                   f"SLA breach: no sales touch within {hours:g} h", body, stage.to_owner,
                                   int(now * 1000)))
        new += store.add_alerts(alerts, channels, int(now * 1000))
        store.escalated(clock["contact_id"], max(stages) + 1)
    return new
