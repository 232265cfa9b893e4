"""The scoring config's value types: a validated, compiled RuleSet and what it is made of.

`connector.core.rules_file` builds them from the scoring config file; scoring and policy read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from connector.core.activity import Activity
from connector.core.conditions import Condition
from connector.core.handoff import Handoff
from connector.core.matcher import Matcher
from connector.core.model import Reason
from connector.core.sla import Sla
from connector.errors import Problem

DAY = 86400.0


@dataclass(frozen=True, slots=True, eq=False)  # identity: rules are compared and hashed as objects
class Rule:
    """One scoring rule. A condition rule adds `points` when its condition holds on any of its
    `properties`; a per-unit rule adds `per_unit` points per (decayed) unit of a count, up to
    `max_points`. A hand-raise rule adds no points: it qualifies the contact."""

    name: str
    label: str
    section: str  # "fit" | "engagement" | "hand_raise"
    properties: tuple[str, ...]
    condition: Condition | None = None
    points: float = 0.0
    per_unit: float | None = None
    max_points: float | None = None
    within_seconds: float | None = None
    date_property: str | None = None
    group: str | None = None
    half_life_seconds: float | None = None
    reason: Reason | None = None  # built once for a condition rule: its points never vary
    property: str = ""  # the first of `properties`: what a count rule counts
    # An activity rule (connector/core/activity.py): `properties` is its synthetic key, set on the
    # contact by the engagement layer before it is scored.
    activity: Activity | None = None
    # A count rule's reasons by rounded points (at most max_points of them), built on first use.
    reasons: dict[int, Reason] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Group:
    """A cap (and optional floor) on the summed points of the rules that name this group."""

    name: str
    max_points: float | None
    min_points: float | None
    label: str
    section: str = ""  # "fit" or "engagement": the score whose rules it caps (set once known)
    # Cap reasons by (capped value, rounded cut), built on first use: few distinct ones exist.
    reasons: dict[tuple[float, int], Reason] = field(default_factory=dict, compare=False,
                                                     repr=False)


@dataclass(frozen=True, slots=True)
class Recycle:
    """When an unworked MQL goes back to a nurture status (lead status only: lifecycle never
    moves backwards)."""

    after_days: float
    below: float
    to_status: str
    max_times: int
    activity_properties: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Policy:
    """How scores become lead statuses and lifecycle stages."""

    mql_threshold: float
    fit_minimum: float
    hysteresis: float
    mql_status: str
    mql_stage: str
    qualify_from: frozenset[str]
    sales_statuses: frozenset[str]
    sales_stage_from: str
    owner_means_sales: bool
    recycle: Recycle | None


@dataclass(frozen=True, slots=True)
class Alerts:
    """Which actions tell the contact's owner at once (a HubSpot task, and chat messages where
    configured), and for how long a first-seen action is still news."""

    hand_raise: bool
    task_due_seconds: float  # the task is due this long after the action
    max_age_seconds: float  # an action older than this when the connector first sees it: no alert
    # Condition rules (with a date_property) that alert when they fire for a contact already
    # qualified (an MQL or later, before customer): e.g. a pricing-page visit by an MQL.
    for_mqls: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Assignment:
    """Who gets an MQL that has no owner: least assigned first (by count over weight), among the
    active owners listed or on the team; a contact with an owner is never reassigned."""

    owners: tuple[str, ...]
    team: str | None
    weights: Mapping[str, float]


def _compiled(default=None):
    """A RuleSet field derived in __post_init__ (so `dataclasses.replace` rebuilds it), left out
    of equality and repr."""
    return field(init=False, compare=False, repr=False, default=default)


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The whole validated scoring config, ready for `connector.core.evaluate.evaluate`."""

    source: str
    fit: tuple[Rule, ...]
    engagement: tuple[Rule, ...]
    hand_raise: tuple[Rule, ...]
    groups: Mapping[str, Group]
    fit_cap: float | None
    engagement_cap: float | None
    total_cap: float | None
    half_life_seconds: float
    fit_bands: tuple[float, ...]
    engagement_bands: tuple[float, ...]
    policy: Policy
    contact_properties: frozenset[str]
    # What is legal but probably not meant (a threshold these rules cannot reach): shown by setup,
    # sync and doctor; not part of the config's value.
    warnings: tuple[Problem, ...] = field(default=(), compare=False)
    alerts: Alerts | None = None  # None: no alerts (the config has no `alerts` section)
    assignment: Assignment | None = None  # None: MQLs keep whatever owner they have
    sla: Sla | None = None  # None: no MQL -> first-touch clock
    # Where sales' verdicts come from besides the result property (always read; see core/handoff).
    handoff: Handoff = field(default_factory=Handoff)
    # Condition rules compiled for speed (connector.core.matcher); not part of the config's value.
    fit_matcher: Matcher = _compiled()
    engagement_matcher: Matcher = _compiled()
    hand_raise_matcher: Matcher = _compiled()
    counters: tuple[Rule, ...] = _compiled(())  # the per-unit rules
    activities: tuple[Activity, ...] = _compiled(())  # what the activity rules count

    def __post_init__(self) -> None:
        conditional = [r for r in self.engagement if r.condition is not None]
        object.__setattr__(self, "counters", tuple(r for r in self.engagement if r.per_unit))
        object.__setattr__(self, "activities", tuple(r.activity for r in self.engagement if r.activity))
        for name, rules in (("fit_matcher", self.fit), ("engagement_matcher", conditional),
                            ("hand_raise_matcher", self.hand_raise)):
            object.__setattr__(self, name, Matcher(rules))


