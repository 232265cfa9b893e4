"""The one path from HubSpot contacts to confirmed writes, shared by the sync and the webhook worker.

    plan:   contacts + stored histories --evaluate--> PlannedWrite (changed) / history (unchanged)
    write:  batch update (≤100) --> confirm in the store (history, audit, score) or record the failure
    finish: planned writes left by a killed process are re-checked against HubSpot, then confirmed
            or written, so nothing is lost and nothing is written twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from connector.core import properties as hp
from connector.core import state
from connector.core.alerts import hand_raise_action, qualified_lead_actions
from connector.core.evaluate import evaluate, reasons_text
from connector.core.handoff import Handoff, mql_moment, verdict
from connector.core.model import Contact, Evaluation, History, Score
from connector.core.reads import OWNER, contact_reads
from connector.core.rules import RuleSet
from connector.core.sla import touched_at
from connector.core.values import format_instant, parse_instant, same_instant, same_number
from connector.engagement.enrich import Enricher
from connector.errors import ValidationError
from connector.gateway import BATCH_SIZE, BatchOutcome, Gateway
from connector.handoff.assign import Assigner
from connector.report.facts import ContactFacts, facts_of
from connector.shadow import ShadowScorer
from connector.store import NewAlert, PlannedWrite, SeenVerdict, Store

log = logging.getLogger(__name__)


@dataclass
class PlannedChange:
    """A change as shown by --dry-run and the demo."""

    contact_id: str
    changes: dict[str, str]
    previous: dict[str, str | None]
    why: str
    name: str = ""  # "First Last <email>" as far as HubSpot has them


@dataclass
class RunCounts:
    """What a run did; updated from the reading thread and the writer threads. The one declaration
    of the run counters: a sync's summary and a webhook batch's result extend it."""

    pulled: int = 0
    scored: int = 0
    rebuilt: int = 0  # contacts whose history came from HubSpot's copy (the store had none, or older)
    changed: int = 0
    held: int = 0  # planned changes left to another run that holds the contact (one writer per contact)
    written: int = 0
    failed: int = 0
    mql_new: int = 0
    alerts: int = 0  # new owner alerts recorded (connector/core/alerts.py)
    by_path: dict[str, int] = field(default_factory=dict)
    planned: list[PlannedChange] = field(default_factory=list)
    last_write_ms: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def unplan(self, w: PlannedWrite) -> None:
        """A planned write the store refused (another run holds the contact)."""
        with self._lock:
            self.changed -= 1
            self.held += 1
            if w.new_mql_path is not None:
                self.mql_new -= 1
                self.by_path[w.new_mql_path] -= 1
                if not self.by_path[w.new_mql_path]:
                    del self.by_path[w.new_mql_path]

    def counts(self) -> dict[str, int]:
        """The counters a run row keeps in the store."""
        return {"pulled": self.pulled, "scored": self.scored, "changed": self.changed,
                "written": self.written, "failed": self.failed}

    def reported(self) -> dict[str, Any]:
        """The public fields (no lock, no internal timestamp), for summaries and JSON."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _INTERNAL}


_INTERNAL = frozenset({"last_write_ms", "_lock"})


class WritePath:
    """Plans, writes and confirms contact changes for one rule set."""

    def __init__(self, gateway: Gateway, store: Store, rules: RuleSet, *,
                 clock: Callable[[], float] = time.time, keep_planned: int = 0,
                 shadow: ShadowScorer | None = None, alert_channels: Sequence[str] = (),
                 assigner: Assigner | None = None, keep_verdicts: bool = True):
        """`shadow`: also score every contact with a candidate config, kept in the store.
        `alert_channels`: where the config's alerts go ("task", "slack", "teams"); none: no alerts
        (a dry run records none). `assigner`: gives each new MQL without an owner one.
        `keep_verdicts`: keep sales' verdicts on MQLs, the report's facts and the engagement read in
        the store (not in a dry run)."""
        self.gateway = gateway
        self.store = store
        self.rules = rules
        self.clock = clock
        self.keep_planned = keep_planned
        self.shadow = shadow
        self.assigner = assigner
        self.keep_verdicts = keep_verdicts
        self.alert_channels = tuple(alert_channels) if rules.alerts is not None else ()
        # Activity rules' counts (connector/engagement/); a dry run reads them but keeps no cache.
        self.engagement = Enricher(gateway, store, rules, keep=keep_verdicts)
        self.properties = contact_reads(rules, names=bool(keep_planned), shadow=shadow.rules if shadow else None,
                                        owners=bool(self.alert_channels or assigner))

    @property
    def reads_activity(self) -> bool:
        """Whether the rules count activity read from HubSpot's engagement APIs."""
        return bool(self.engagement.activities)

    def enrich(self, contacts: Sequence[dict]) -> None:
        """Add the activity rules' counts to the contacts' properties: what they did, read only
        where it changed (connector/engagement/enrich.py)."""
        self.engagement.enrich(contacts, self.clock())

    def plan(self, contacts: Sequence[dict], run_id: int, tally: RunCounts,
             on_contact: Callable[[dict], None] | None = None,
             read_at: int | None = None) -> tuple[list[PlannedWrite], dict[str, dict]]:
        """Evaluate contacts (as HubSpot returns them, after `enrich`) against their stored
        histories. `read_at`: when they were read (ms, taken before the request); the store
        refuses the plan of a contact another run wrote since (Store.checkpoint)."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        now_ms = int(now.timestamp() * 1000)
        stored = self.store.get_histories([str(c["id"]) for c in contacts])
        planned: list[PlannedWrite] = []
        unchanged: dict[str, dict] = {}
        scored: list[tuple[str, dict, Score]] = []
        actions: list[NewAlert] = []
        clocks: list[tuple[str, int, str | None]] = []  # SLA clocks this page starts
        seen: dict[str, tuple[dict, History]] = {}
        verdicts: list[SeenVerdict] = []
        facts: list[ContactFacts] = []  # what the report counts (connector/report/facts.py)
        for raw in contacts:
            cid = str(raw["id"])
            props = raw.get("properties") or {}
            try:
                history, rebuilt = known_history(stored.get(cid), props, now.timestamp())
                result = evaluate(Contact(cid, props), history, self.rules, now)
            except Exception as exc:  # noqa: BLE001 - one contact's oddity must not stop the run
                # A bug of ours or a value no check foresaw: named by contact and class (a message
                # may quote the contact's data), counted as failed (exit 1), the rest goes on.
                log.error("could not score contact %s (%s); left as it is", cid, type(exc).__name__)
                tally.pulled += 1
                tally.failed += 1
                continue
            tally.pulled += 1
            tally.scored += 1
            tally.rebuilt += rebuilt
            if self.shadow is not None:
                scored.append((cid, props, result.score))
            if on_contact is not None:
                on_contact(props)
            changes = dict(result.changes)
            if self.assigner is not None and changes.get(hp.LEAD_STATUS) == self.rules.policy.mql_status \
                    and not (props.get(OWNER) or "").strip():
                owner = self.assigner.assign()  # never for a contact that has an owner
                if owner is not None:
                    changes[OWNER] = owner
            if self.rules.sla is not None:
                seen[cid] = (props, history)
                # Not on a first sight of an old contact: the install's first sync would start clocks
                # for every backlog MQL at once, and escalate them all a few hours later.
                created = parse_instant(props.get("createdate"))
                fresh = history.at is not None or (created is not None and now_ms / 1000 - created <= 86_400)
                if changes.get(hp.LEAD_STATUS) == self.rules.policy.mql_status and fresh:
                    clocks.append((cid, now_ms, changes.get(OWNER) or props.get(OWNER) or None))
            if self.keep_verdicts:
                judged = seen_verdict(cid, props, result, self.rules.handoff)
                if judged is not None:
                    verdicts.append(judged)
            if self.alert_channels:
                found = [hand_raise_action(result, history, self.rules.alerts, now.timestamp()),
                         *qualified_lead_actions(result, props, self.rules, now.timestamp())]
                owner_now = changes.get(OWNER) or props.get(OWNER) or None
                actions += [NewAlert(cid, a.key, a.title, a.body, owner_now, int(a.due_at * 1000))
                            for a in found if a is not None]
            # The connector's state rides along with every write, and alone when what it has
            # counted changed: HubSpot keeps what the store would (connector/core/state.py).
            kept = state.wanted(props.get(hp.STATE), result.history, writing=bool(changes))
            if kept is not None:
                changes[hp.STATE] = kept
            if self.keep_verdicts:
                facts.append(facts_of(cid, props, result, changes, now_ms))
            if not changes:
                unchanged[cid] = result.history.to_json()
                continue
            # Every write carries lsc_last_scored: the next sync recognises its own echoes by it.
            changes.setdefault(hp.LAST_SCORED, format_instant(now.timestamp()))
            tally.changed += 1
            new_mql = result.decision.path if changes.get(hp.LEAD_STATUS) == hp.MQL_STATUS else None
            if new_mql is not None:
                tally.mql_new += 1
                tally.by_path[new_mql] = tally.by_path.get(new_mql, 0) + 1
            previous = {k: props.get(k) for k in changes}
            if len(tally.planned) < self.keep_planned:
                tally.planned.append(PlannedChange(cid, changes, previous, result.decision.why, display_name(props)))
            planned.append(PlannedWrite(cid, run_id, changes, previous, result.history.to_json(),
                                        reasons_text(result.score), score_dict(result), planned_at=now_ms,
                                        read_at=now_ms if read_at is None else read_at, new_mql_path=new_mql))
        if actions:
            # Before the page's writes: an alert must not wait for them, and it is recorded once
            # whatever happens to them (the store keeps one per contact and action).
            tally.alerts += self.store.add_alerts(actions, self.alert_channels, now_ms)
        if self.rules.sla is not None and seen:
            self._clocks(clocks, seen, now_ms)
        if verdicts:
            self.store.record_verdicts(verdicts, now_ms)
        self.store.record_facts(facts)
        if self.shadow is not None and scored:
            self._shadow(scored, now)
        return planned, unchanged

    def _clocks(self, started: list[tuple[str, int, str | None]], seen: dict[str, tuple[dict, History]],
                now_ms: int) -> None:
        """Start the SLA clock of new MQLs; stop running ones at the first sales touch: a logged call,
        meeting, email or note (HubSpot's rollups), or a lead status a person changed from MQL."""
        self.store.start_clocks(started)
        for clock in self.store.running_clocks(list(seen)):
            props, history = seen[clock["contact_id"]]
            when = touched_at(props, clock["mql_at"] / 1000)
            status = (props.get(hp.LEAD_STATUS) or "").strip()
            by_person = history.status_written == self.rules.policy.mql_status and \
                status not in ("", self.rules.policy.mql_status)
            if when is not None or by_person:
                self.store.stop_clock(clock["contact_id"], int(when * 1000) if when is not None else now_ms)

    def _shadow(self, scored: list[tuple[str, dict, Score]], now: datetime) -> None:
        """Shadow scores are a measurement: a failure to keep them is logged, never a failed run."""
        assert self.shadow is not None
        try:
            sightings = self.shadow.sightings(scored, self.rules.policy, now.timestamp())
            self.store.record_shadow(self.shadow.key, sightings, int(now.timestamp() * 1000))
        except Exception as exc:  # noqa: BLE001
            log.warning("shadow scores of %d contacts not kept (%s: %s)", len(scored),
                        type(exc).__name__, str(exc)[:200])

    def claim(self, run_id: int, checkpoint_id: str, tally: RunCounts, histories: Mapping[str, dict],
              planned: list[PlannedWrite], now: int | None = None,
              read_at: int | None = None) -> tuple[list[PlannedWrite], set[str]]:
        """Commit the page's plan (Store.checkpoint, stamped `now`) and return (the writes this run
        may send, the contacts another run holds). A held contact is not counted as this run's
        change."""
        now = int(self.clock() * 1000) if now is None else now
        # The run row's counts still include the refused plans; the next checkpoint corrects them.
        busy = self.store.checkpoint(run_id, checkpoint_id, tally.counts(), histories, planned, now, read_at)
        if not busy:
            return planned, busy
        for w in planned:
            if w.contact_id in busy:
                tally.unplan(w)
        return [w for w in planned if w.contact_id not in busy], busy

    def write(self, batch: Sequence[PlannedWrite], tally: RunCounts) -> None:
        """Send one batch (≤100); confirm what HubSpot applied, record what it refused.

        HubSpot refuses a whole batch update with 400 when one record is invalid: the batch is
        then halved until the bad records stand alone, and only those are recorded as failures.
        """
        try:
            outcome = self.gateway.batch_update_contacts([(w.contact_id, w.changes) for w in batch])
        except ValidationError as exc:
            if len(batch) > 1:
                middle = len(batch) // 2
                self.write(batch[:middle], tally)
                self.write(batch[middle:], tally)
                return
            outcome = BatchOutcome([], {batch[0].contact_id: str(exc)})
        ok = set(outcome.ok) - set(outcome.failed)
        now = int(self.clock() * 1000)
        written = [w for w in batch if w.contact_id in ok]
        failed = [(w, outcome.failed.get(w.contact_id, "missing from HubSpot's answer"))
                  for w in batch if w.contact_id not in ok]
        self.store.confirm_writes(written, now)
        self.store.record_failures(failed, now)
        with tally._lock:
            tally.written += len(written)
            tally.failed += len(failed)
            # max: writer threads finish out of order, and the echo check needs the latest.
            tally.last_write_ms = max(now, tally.last_write_ms or 0)
        for w, error in failed:
            log.warning("HubSpot refused the write of contact %s: %s (recorded; the next run retries)",
                        w.contact_id, error)

    def finish_planned(self, tally: RunCounts, *, kinds: Sequence[str] | None = None,
                       created_before: int | None = None) -> int:
        """Confirm or redo writes a killed process planned (runs of `kinds`, planned before
        `created_before` ms). Re-reads first, so nothing is written twice; of several runs' plans
        for one contact only the newest counts; what is still to send goes in full batches."""
        done = 0
        while True:
            rows = self.store.planned_writes(limit=10 * BATCH_SIZE, kinds=kinds, created_before=created_before)
            if not rows:
                return done
            newest: dict[str, PlannedWrite] = {}
            for row in rows:
                if row.contact_id not in newest or row.run_id > newest[row.contact_id].run_id:
                    newest[row.contact_id] = row
            self.store.discard_planned([r for r in rows if newest[r.contact_id] is not r])
            todo: list[PlannedWrite] = []
            chosen = list(newest.values())
            for i in range(0, len(chosen), BATCH_SIZE):
                todo += self._settle(chosen[i:i + BATCH_SIZE])
                while len(todo) >= BATCH_SIZE:
                    self.write(todo[:BATCH_SIZE], tally)
                    todo = todo[BATCH_SIZE:]
            if todo:
                self.write(todo, tally)
            done += len(rows)

    def _settle(self, planned: list[PlannedWrite]) -> list[PlannedWrite]:
        """Confirm the planned writes HubSpot already has, drop those of deleted contacts, and
        return the ones still to send."""
        props = sorted({p for w in planned for p in w.changes})
        current = {str(c["id"]): c.get("properties") or {} for c in
                   self.gateway.batch_read_contacts([w.contact_id for w in planned], props)}
        landed = [w for w in planned if w.contact_id in current
                  and all(same_value(current[w.contact_id].get(k), v) for k, v in w.changes.items())]
        landed_ids = {w.contact_id for w in landed}
        # A value that is neither what was planned nor what the plan started from was set by
        # someone since: the old plan must not overwrite it. The contact's lastmodifieddate moved,
        # so the next run rescores it from what it is now.
        overtaken = [w for w in planned if w.contact_id in current and w.contact_id not in landed_ids and any(
            not same_value(current[w.contact_id].get(k), v)
            and (current[w.contact_id].get(k) or "") != (w.previous.get(k) or "")
            for k, v in w.changes.items() if k != hp.LAST_SCORED)]
        now = int(self.clock() * 1000)
        self.store.confirm_writes(landed, now)
        self.store.discard_planned(overtaken)
        self.store.record_failures([(w, "contact no longer exists in HubSpot") for w in planned
                                    if w.contact_id not in current], now)
        skip = landed_ids | {w.contact_id for w in overtaken}
        return [w for w in planned if w.contact_id in current and w.contact_id not in skip]


def known_history(stored: dict | None, props: Mapping[str, str | None], now: float) -> tuple[History, bool]:
    """The contact's History: the store's, unless the copy HubSpot keeps (lsc_state) is newer or
    the store has none (an empty, lost or restored store). True when HubSpot's copy was used. A
    copy that does not read as the connector's own (edited, from the future) is not used."""
    kept = state.from_properties(props, hp.STATE, now)
    if stored is not None:
        local = History.from_json(stored)
        if kept is None or (kept.at or 0) <= (local.at or 0):
            return local, False
    if kept is not None:
        return kept, True
    return History.empty(), False


def seen_verdict(cid: str, props: Mapping[str, str | None], result: Evaluation,
                 handoff: Handoff) -> SeenVerdict | None:
    """Sales' verdict on the contact with what it looked like when judged, or None."""
    found = verdict(props, handoff)
    if found is None:
        return None
    mql_at = mql_moment(props)
    score = result.score
    return SeenVerdict(cid, int(mql_at * 1000) if mql_at is not None else 0, found.result, found.reason,
                       found.source, score.grade, score.total, (props.get(hp.PATH) or None),
                       props.get("hs_analytics_source") or None,
                       tuple(r.rule for r in score.reasons if r.rule), props.get(OWNER) or None)


def display_name(props: Mapping[str, str | None]) -> str:
    """How a person recognises the contact: "First Last <email>", or whichever part exists."""
    name = " ".join(p for p in ((props.get("firstname") or "").strip(), (props.get("lastname") or "").strip()) if p)
    email = (props.get("email") or "").strip()
    return f"{name} <{email}>" if name and email else name or email


def score_dict(result: Evaluation) -> dict:
    s = result.score
    return {"total": s.total, "fit": s.fit, "engagement": s.engagement, "grade": s.grade}


def same_value(current: str | None, wanted: str) -> bool:
    """HubSpot may give back a value in another form than written (datetimes, numbers)."""
    return current == wanted or same_instant(current, wanted) or same_number(current, wanted)
