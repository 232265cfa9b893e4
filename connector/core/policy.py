"""Pure status policy: the contact's current status and stage + its score + history -> Decision.

The order of the checks is the policy (docs/scoring.md, "How the policy decides"):
1. sales owns the contact (a sales lead status, a stage at or after `sales_stage_from`, or an
   owner when `owner_means_sales`): leave it;
2. right after the connector's own write, any mismatch means "wait" (HubSpot search lags); else
   a person changed the status the connector last wrote: respect it, unless a fresh hand-raise
   arrives on a status the connector qualifies from;
3. the connector's own MQL: keep it while it qualifies (with hysteresis), else maybe recycle it;
4. a status the connector may qualify from (NEW, OPEN, empty ...): qualify on score or hand-raise;
5. any other status: not the connector's to move.
"""

from __future__ import annotations

from collections.abc import Mapping

from connector.core.model import LIFECYCLE_RANK, Decision, History
from connector.core.properties import LEAD_STATUS, LIFECYCLE_STAGE
from connector.core.rules import DAY, Policy
from connector.core.scoring import ScoreCard
from connector.core.values import parse_instant

# Search results lag writes by "a few moments" (docs/hubspot-facts.md, "CRM semantics"; unverified):
# right after a write, a stale read must not pass for a person's change. Within this window a
# mismatch means "wait".
SETTLE_SECONDS = 600.0


def decide(props: Mapping[str, str | None], tally: ScoreCard, history: History, policy: Policy,
           now: float) -> Decision:
    """What to write to hs_lead_status and lifecyclestage (None: nothing), and why."""
    status = (props.get(LEAD_STATUS) or "").strip()
    stage = (props.get(LIFECYCLE_STAGE) or "").strip()
    mql = policy.mql_status
    fresh_hand_raise = (tally.hand_raise is not None
                        and tally.hand_raise_key != history.hand_raise_used)
    by_score = tally.total >= policy.mql_threshold and tally.fit >= policy.fit_minimum

    # 1. Sales owns it.
    if status in policy.sales_statuses:
        return Decision("leave", f"Sales owns the contact (lead status {status}).",
                        path=history.path, qualified=by_score or fresh_hand_raise)
    rank = LIFECYCLE_RANK.get(stage)
    if rank is not None and rank >= LIFECYCLE_RANK[policy.sales_stage_from]:
        return Decision("leave", f"Sales owns the contact (lifecycle stage {stage}).",
                        path=history.path, qualified=by_score or fresh_hand_raise)
    if policy.owner_means_sales and (props.get("hubspot_owner_id") or "").strip():
        return Decision("leave", "Sales owns the contact (it has an owner).", path=history.path,
                        qualified=by_score or fresh_hand_raise)

    # 2. Right after the connector's own write, HubSpot search may still show the old values: any
    # mismatch with what it wrote (an empty value too) means "wait", never "a person changed it".
    written_status, written_stage = history.status_written, history.stage_written
    if history.written_at is not None and now - history.written_at < SETTLE_SECONDS and (
            (written_status is not None and status != written_status)
            or (written_stage is not None and stage != written_stage)):
        return Decision("keep", "Waiting: HubSpot may not show the connector's last write yet.",
                        path=history.path, qualified=by_score or fresh_hand_raise)
    # A person's change wins. An emptied value hands the contact back to the connector; so does a
    # fresh hand-raise on a status the connector qualifies from.
    status_changed = written_status is not None and status not in ("", written_status)
    stage_changed = written_stage is not None and stage not in ("", written_stage)
    if status_changed and not (fresh_hand_raise and status in policy.qualify_from):
        return Decision("leave", f"A person set the lead status to {status or 'empty'} after the "
                                 f"connector wrote {history.status_written}: respected.",
                        path="manual" if status == mql else "none",
                        qualified=by_score or fresh_hand_raise)

    # 3. The connector's own MQL.
    if status == mql and history.status_written == mql:
        holds = (tally.total >= policy.mql_threshold - policy.hysteresis
                 and tally.fit >= policy.fit_minimum)
        if by_score:
            why = f"Still an MQL: total {tally.total} >= {policy.mql_threshold:g}."
        elif holds and history.path == "hand_raise":
            # It never qualified by score: the band would read as if it once had.
            why = (f"Still an MQL by hand-raise: raising a hand makes an MQL at any score "
                   f"(total {tally.total}, threshold {policy.mql_threshold:g}).")
        elif holds:
            why = (f"Still an MQL: total {tally.total} is within the hysteresis band "
                   f"({policy.hysteresis:g}) below the threshold {policy.mql_threshold:g}.")
        else:
            # Below the line: recycled or kept by the rules of _maybe_recycle, which look at the
            # hand-raise's date, not at whether this run saw it first (that would make the
            # second run decide otherwise than the first).
            return _maybe_recycle(props, tally, history, policy, now)
        return Decision("keep", why, path=history.path, qualified=True)

    # 4. Qualify from a nurture status.
    if status in policy.qualify_from:
        if not (fresh_hand_raise or by_score):
            return Decision("keep", _not_qualified(tally, policy, history), path="none")
        if fresh_hand_raise:
            label = tally.hand_raise.label  # type: ignore[union-attr]
            path, why = "hand_raise", f"MQL by hand-raise: {label}."
        else:
            path, why = "score", (f"MQL by score: total {tally.total} >= {policy.mql_threshold:g} "
                                  f"and fit {tally.fit} >= {policy.fit_minimum:g}.")
        target = policy.mql_stage
        if stage_changed:
            new_stage, note = None, f" Lifecycle stage {stage} was set by a person: left alone."
        elif stage == "" or (rank is not None and rank < LIFECYCLE_RANK[target]):
            new_stage, note = target, ""
        elif rank is None:
            new_stage, note = None, f" Lifecycle stage {stage} is not a default stage: left alone."
        else:
            new_stage, note = None, ""
        return Decision("qualify", why + note, lead_status=mql, lifecycle_stage=new_stage,
                        path=path, qualified=True)

    # 5. Not a status the connector moves.
    if status == mql:
        return Decision("leave", "A person or workflow made the contact an MQL.", path="manual",
                        qualified=by_score or fresh_hand_raise)
    return Decision("leave", f"Lead status {status} is not one the connector qualifies from.",
                    path="none", qualified=by_score or fresh_hand_raise)


def _not_qualified(tally: ScoreCard, policy: Policy, history: History) -> str:
    if tally.hand_raise is not None:  # a used hand-raise: say why it no longer counts
        lead = ("Not an MQL: the hand-raise was already acted on (or seen while the contact "
                "was not the connector's to move); ")
    else:
        lead = "Not an MQL: "
    if tally.total < policy.mql_threshold:
        return lead + f"total {tally.total} < threshold {policy.mql_threshold:g}."
    return lead + f"fit {tally.fit} < fit minimum {policy.fit_minimum:g}."


def _maybe_recycle(props: Mapping[str, str | None], tally: ScoreCard, history: History,
                   policy: Policy, now: float) -> Decision:
    recycle = policy.recycle
    scores = (f"total {tally.total}, fit {tally.fit}, threshold {policy.mql_threshold:g} - "
              f"hysteresis {policy.hysteresis:g}")
    # A hand-raise MQL never qualified by score: "no longer qualifies" would mislead sales.
    low = (f"became one by hand-raise; its score is below the MQL line ({scores})"
           if history.path == "hand_raise" else f"no longer qualifies ({scores})")
    if recycle is None:
        return Decision("keep", f"Still an MQL: it {low}, but recycling is off.", path=history.path)
    since = history.mql_at if history.mql_at is not None else history.written_at
    if since is None or now - since < recycle.after_days * DAY:
        return Decision("keep", f"Still an MQL: it {low}; recycled only after "
                                f"{recycle.after_days:g} days unworked.", path=history.path)
    for name in recycle.activity_properties:
        when = parse_instant(props.get(name))
        if when is not None and when >= since:
            return Decision("keep", f"Still an MQL: sales worked it ({name}) since it became one.",
                            path=history.path)
    # A hand-raise dated after it became an MQL (a new meeting booked, a new demo request) is the
    # buyer asking again: recycling it then would hand a hot lead back to nurture. The key ends
    # with the hand-raise's date (connector.core.scoring._hand_raise).
    raised = parse_instant(tally.hand_raise_key.rpartition("|")[2]) if tally.hand_raise_key else None
    if raised is not None and raised >= since:
        return Decision("keep", "Still an MQL: it raised its hand again since it became one "
                                f"({tally.hand_raise.label}).",  # type: ignore[union-attr]
                        path=history.path)
    if tally.total >= recycle.below:
        return Decision("keep", f"Still an MQL: total {tally.total} is not below the recycle "
                                f"threshold {recycle.below:g}.", path=history.path)
    if history.recycles >= recycle.max_times:
        return Decision("keep", f"Still an MQL: already recycled {history.recycles} times "
                                f"(max {recycle.max_times}); left for sales to decide.",
                        path=history.path)
    return Decision(
        "recycle",
        f"Recycled to {recycle.to_status}: an MQL for {recycle.after_days:g}+ days without sales "
        f"activity and total {tally.total} < {recycle.below:g}. The lifecycle stage stays: "
        "HubSpot stages do not move backwards.",
        lead_status=recycle.to_status, path="none")


def remember(props: Mapping[str, str | None], decision: Decision, tally: ScoreCard, history: History,
             policy: Policy, now: float) -> History:
    """The history to persist after this decision (assuming the sync writes the changes)."""
    wrote = decision.lead_status is not None or decision.lifecycle_stage is not None
    status_written = (decision.lead_status if decision.lead_status is not None
                      else history.status_written)
    used = history.hand_raise_used
    if tally.hand_raise is not None:
        ours = (props.get(LEAD_STATUS) or "").strip() == policy.mql_status == history.status_written
        if decision.action in ("qualify", "leave") or (decision.action == "keep" and ours):
            # Acted on, or seen while the contact was left alone (sales or a person had it): it
            # will not (re-)qualify the contact later; only a newer hand-raise will.
            used = tally.hand_raise_key
    return History(
        # Units are as of the later of the two: a replayed older event must not rewind the clock,
        # or the next run would fade the same days twice.
        at=now if history.at is None or now > history.at else history.at,
        rollups=tally.rollups,
        status_written=status_written,
        stage_written=(decision.lifecycle_stage if decision.lifecycle_stage is not None
                       else history.stage_written),
        written_at=now if wrote else history.written_at,
        mql_at=now if decision.action == "qualify" else history.mql_at,
        path=decision.path,
        recycles=history.recycles + (decision.action == "recycle"),
        hand_raise_used=used,
    )
