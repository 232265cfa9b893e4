"""`connector explain`: one contact's scores, every rule that fired, the decision and why."""

from __future__ import annotations

from datetime import UTC, datetime

from connector.core import properties as hp
from connector.core.evaluate import evaluate
from connector.core.model import Contact
from connector.core.reads import NAME_PROPERTIES, scoring_inputs
from connector.core.rules import RuleSet
from connector.core.values import format_instant
from connector.engagement.enrich import Enricher
from connector.errors import HubSpotError, NotFoundError
from connector.gateway import Gateway
from connector.store import Store
from connector.writeback import known_history


def explain_contact(gateway: Gateway, store: Store, rules: RuleSet, id_or_email: str,
                    now: datetime | None = None) -> dict:
    properties = sorted(set(scoring_inputs(rules)) | set(NAME_PROPERTIES))
    try:
        raw = gateway.get_contact(id_or_email, properties)
    except NotFoundError as exc:
        kind = "email" if "@" in id_or_email else "id"
        raise NotFoundError(f"no contact with {kind} {id_or_email} in HubSpot ({exc})", status=exc.status,
                            category=exc.category, correlation_id=exc.correlation_id) from exc
    cid = str(raw["id"])
    props = raw.get("properties") or {}
    now = now or datetime.now(UTC)
    Enricher(gateway, store, rules).enrich([raw], now.timestamp())  # the activity rules' counts
    # As the sync sees it: the store's History, or HubSpot's copy (lsc_state) on a rebuilt store.
    history, _rebuilt = known_history(store.get_histories([cid]).get(cid), props, now.timestamp())
    result = evaluate(Contact(cid, props), history, rules, now)
    s, d = result.score, result.decision
    return {
        "owner": _owner_name(gateway, props.get("hubspot_owner_id")),
        "id": cid,
        "name": " ".join(x for x in (props.get("firstname"), props.get("lastname")) if x) or None,
        "email": props.get("email"),
        "lead_status": props.get(hp.LEAD_STATUS),
        "lifecycle_stage": props.get(hp.LIFECYCLE_STAGE),
        "score": {"total": s.total, "fit": s.fit, "engagement": s.engagement, "grade": s.grade, "path": s.path},
        "reasons": [str(r) for r in s.reasons],
        "activity": [{"rule": a.rule, "counts": a.describe(), "count": int(props.get(a.key) or 0)}
                     for a in rules.activities],
        "decision": {"action": d.action, "why": d.why, "lead_status": d.lead_status,
                     "lifecycle_stage": d.lifecycle_stage, "qualified": d.qualified},
        "would_write": result.changes,
        "sla": _clock(store.clock_of(cid), now.timestamp()),
        "history": store.audit_for(cid, limit=40),
    }


def _clock(clock: dict | None, now: float) -> dict | None:
    """The MQL -> first touch clock: time to first touch, or how long it has been waiting."""
    if clock is None:
        return None
    mql_at = clock["mql_at"] / 1000
    out = {"mql_at": format_instant(mql_at), "escalations_sent": clock["stages_done"]}
    if clock["first_touch_at"] is not None:
        out["first_touch_at"] = format_instant(clock["first_touch_at"] / 1000)
        out["hours_to_first_touch"] = round((clock["first_touch_at"] / 1000 - mql_at) / 3600, 2)
    else:
        out["waiting_hours"] = round((now - mql_at) / 3600, 2)
    return out


def _owner_name(gateway: Gateway, owner_id: str | None) -> str | None:
    """The contact owner's name (needs the optional crm.objects.owners.read scope; else the id)."""
    if not owner_id:
        return None
    try:
        owner = gateway.get_owner(owner_id)
    except HubSpotError:
        return owner_id
    if not owner:
        return owner_id
    name = f"{owner.get('firstName') or ''} {owner.get('lastName') or ''}".strip()
    return name or owner.get("email") or owner_id


def render(report: dict) -> str:
    s = report["score"]
    lines = [
        f"Contact {report['id']}" + (f" {report['name']}" if report["name"] else "")
        + (f" <{report['email']}>" if report["email"] else ""),
        f"  lead status: {report['lead_status'] or '-'}   lifecycle stage: {report['lifecycle_stage'] or '-'}"
        + (f"   owner: {report['owner']}" if report.get("owner") else ""),
        f"  score {s['total']} (fit {s['fit']}, engagement {s['engagement']})  grade {s['grade']}  path {s['path']}",
        "  rules that fired:",
    ]
    lines += [f"    {r}" for r in report["reasons"]] or ["    (none)"]
    if report.get("activity"):
        lines.append("  what the contact did (activity rules):")
        lines += [f"    {a['rule']}: {a['count']} ({a['counts']})" for a in report["activity"]]
    d = report["decision"]
    lines.append(f"  decision: {d['action']}: {d['why']}")
    if report["would_write"]:
        lines.append("  a sync now would write:")
        lines += [f"    {k} = {v}" for k, v in report["would_write"].items() if k != hp.REASONS]
    sla = report.get("sla")
    if sla:
        if "hours_to_first_touch" in sla:
            lines.append(f"  SLA: MQL {sla['mql_at']}, first sales touch {sla['hours_to_first_touch']:g} h later")
        else:
            lines.append(f"  SLA: MQL {sla['mql_at']}, no sales touch yet ({sla['waiting_hours']:g} h; "
                         f"{sla['escalations_sent']} escalation(s) sent)")
    if report["history"]:
        lines.append("  recent changes by the connector:")
        shown = (hp.LEAD_STATUS, hp.LIFECYCLE_STAGE, hp.SCORE, hp.GRADE, hp.PATH)
        for row in [r for r in report["history"] if r["property"] in shown]:
            at = datetime.fromtimestamp(row["at"] / 1000, UTC).strftime("%Y-%m-%d %H:%M")
            lines.append(f"    {at} {row['property']}: {row['old_value'] or '-'} -> {row['new_value']}")
    return "\n".join(lines)
