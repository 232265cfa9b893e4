"""The scoring config file -> a validated, compiled RuleSet. Every problem is reported at once.

The file's shape is documented in docs/scoring.md. Validation is strict: unknown keys are errors
(a misspelt `pionts` silently ignored would score everyone wrong), and each problem names the file,
the rule by section, position and name, and the field, e.g.
`config/scoring.yaml: rules.engagement[2] 'pricing_page'.points: must be a number, got 'ten'`.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import replace
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml

from connector.core import properties as hp
from connector.core.activity import parse_activity
from connector.core.conditions import OPERATORS, compile_condition
from connector.core.handoff import Handoff
from connector.core.model import LIFECYCLE_ORDER, Reason
from connector.core.rules import DAY, Alerts, Assignment, Group, Policy, Recycle, Rule, RuleSet
from connector.core.sla import BusinessHours, Escalation, Sla
from connector.core.values import round_half_up
from connector.errors import ConfigError, Problem

SECTIONS = ("fit", "engagement", "hand_raise")
# The stages that can mean sales accepted an MQL: those after it (not evangelist or other).
ACCEPTING_STAGES = ("salesqualifiedlead", "opportunity", "customer")
DEFAULT_SALES_STATUSES = ("IN_PROGRESS", "OPEN_DEAL", "CONNECTED", "ATTEMPTED_TO_CONTACT",
                          "BAD_TIMING", "UNQUALIFIED")
# The report's funnel (connector/report/facts.py): their "became a <stage>" dates are read with every contact.
REPORT_STAGES = ("lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer")
# HubSpot internal property names are lower case; labels ("Job Title") are not names.
_PROPERTY_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_RULE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")



def load_rules(path: str | Path) -> RuleSet:
    """Read and validate a scoring config file; ConfigError lists every problem found."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError([Problem(source, f"cannot read the scoring config: {e.strerror or e}")]) from e
    try:
        # libyaml's loader where PyYAML has it (34 -> 3 ms for the packaged config); the same
        # safe constructors and the same problem marks, so errors still name line and column.
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{source}: line {mark.line + 1}, column {mark.column + 1}" if mark else source
        what = getattr(e, "problem", None) or str(e)
        context = getattr(e, "context", None)
        raise ConfigError([Problem(where, f"invalid YAML: {what}"
                                   + (f" ({context})" if context else ""))]) from None
    return parse_rules(data, source)


def parse_rules(data: Any, source: str) -> RuleSet:
    """Validate an already-parsed config mapping; ConfigError lists every problem found."""
    return _Parser(source).parse(data)


class _Parser:
    """Walks the config once, collecting every problem before giving up."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[Problem] = []

    # -- reporting and typed reads -------------------------------------------------------------
    def bad(self, where: str, message: str) -> None:
        self.problems.append(Problem(f"{self.source}: {where}" if where else self.source, message))

    def mapping(self, value: Any, where: str) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.bad(where, f"must be a mapping of keys to values, got {_kind(value)}")
            return {}
        return value

    def keys(self, data: dict, allowed: tuple[str, ...], where: str) -> None:
        for key in data:
            if key not in allowed:
                hint = difflib.get_close_matches(str(key), allowed, n=1)
                more = (f"; did you mean {hint[0]!r}?" if hint
                        else f" (allowed: {', '.join(allowed)})")
                self.bad(f"{where}.{key}" if where else str(key), f"unknown key {key!r}{more}")

    def number(self, data: dict, key: str, where: str, default: Any = None, *,
               minimum: float | None = None, positive: bool = False) -> Any:
        if key not in data or data[key] is None:
            return default
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.bad(f"{where}.{key}", f"must be a number, got {value!r}")
            return default
        if positive and value <= 0:
            self.bad(f"{where}.{key}", f"must be greater than 0, got {value}")
            return default
        if minimum is not None and value < minimum:
            self.bad(f"{where}.{key}", f"must be at least {minimum:g}, got {value}")
            return default
        return float(value)

    def text(self, data: dict, key: str, where: str, default: Any = None, *,
             required: bool = False, allow_empty: bool = False) -> Any:
        if key not in data or data[key] is None:
            if required:
                self.bad(f"{where}.{key}", "is required")
            return default
        value = data[key]
        if not isinstance(value, str) or (not allow_empty and not value.strip()):
            self.bad(f"{where}.{key}", f"must be non-empty text, got {value!r}")
            return default
        return value.strip()

    def texts(self, data: dict, key: str, where: str, default: tuple[str, ...]) -> tuple[str, ...]:
        if key not in data or data[key] is None:
            return default
        value = data[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.bad(f"{where}.{key}", f"must be a list of text values, got {value!r}")
            return default
        return tuple(v.strip() for v in value)

    def property_name(self, value: Any, where: str) -> str | None:
        if not isinstance(value, str) or not _PROPERTY_NAME.match(value):
            self.bad(where, f"must be a HubSpot internal property name (lower case, digits and _, "
                            f"e.g. 'jobtitle'), got {value!r}")
            return None
        return value

    # -- the document --------------------------------------------------------------------------
    def parse(self, data: Any) -> RuleSet:
        if not isinstance(data, dict):
            self.bad("", f"the scoring config must be a YAML mapping, got {_kind(data)}")
            raise ConfigError(self.problems)
        self.keys(data, ("version", "rules", "groups", "caps", "decay", "grade", "policy", "alerts", "assignment",
                         "sla", "handoff"), "")
        if data.get("version", 1) != 1:
            self.bad("version", f"unsupported version {data['version']!r} (this connector reads 1)")

        decay = self.mapping(data.get("decay"), "decay")
        self.keys(decay, ("half_life_days",), "decay")
        half_life = self.number(decay, "half_life_days", "decay", 30.0, positive=True) * DAY

        groups = self.groups(self.mapping(data.get("groups"), "groups"))
        rules_data = self.mapping(data.get("rules"), "rules")
        self.keys(rules_data, SECTIONS, "rules")
        sections: dict[str, tuple[Rule, ...]] = {}
        seen: dict[str, str] = {}
        for section in SECTIONS:
            sections[section] = self.section(section, rules_data.get(section), groups, seen)
        self.check_groups(groups, sections)
        for section, rules in sections.items():
            for rule in rules:
                if rule.group in groups:
                    groups[rule.group] = replace(groups[rule.group], section=section)

        caps = self.mapping(data.get("caps"), "caps")
        self.keys(caps, ("fit", "engagement", "total"), "caps")
        fit_cap = self.number(caps, "fit", "caps", None, positive=True)
        engagement_cap = self.number(caps, "engagement", "caps", None, positive=True)
        total_cap = self.number(caps, "total", "caps", 100.0, positive=True)

        grade = self.mapping(data.get("grade"), "grade")
        self.keys(grade, ("fit", "engagement"), "grade")
        fit_bands = self.bands(grade, "fit", (40.0, 20.0))
        engagement_bands = self.bands(grade, "engagement", (40.0, 15.0))

        policy = self.policy(self.mapping(data.get("policy"), "policy"))
        alerts = self.alerts(data["alerts"], sections) if data.get("alerts") is not None else None
        assignment = self.assignment(data["assignment"]) if data.get("assignment") is not None else None
        sla = self.sla(data["sla"]) if data.get("sla") is not None else None
        handoff = Handoff()
        if data.get("handoff") is not None:
            handoff = self.handoff(data["handoff"], policy.mql_status if policy else hp.MQL_STATUS)
        warnings: list[Problem] = []
        if not self.problems and policy is not None:
            warnings = self.check_reachable(sections, groups, fit_cap, engagement_cap, total_cap, policy)
        if self.problems:
            raise ConfigError(self.problems)
        assert policy is not None
        return RuleSet(
            source=self.source, fit=sections["fit"], engagement=sections["engagement"],
            hand_raise=sections["hand_raise"], groups=groups, fit_cap=fit_cap,
            engagement_cap=engagement_cap, total_cap=total_cap, half_life_seconds=half_life,
            fit_bands=fit_bands, engagement_bands=engagement_bands, policy=policy,
            contact_properties=_contact_properties(sections, policy), warnings=tuple(warnings),
            alerts=alerts, assignment=assignment, sla=sla, handoff=handoff,
        )

    def handoff(self, value: Any, mql_status: str) -> Handoff:
        w = "handoff"
        data = self.mapping(value, w)
        self.keys(data, ("rejected_statuses", "accepted_stages"), w)
        statuses: dict[str, str] = {}
        for status, reason in self.mapping(data.get("rejected_statuses"), f"{w}.rejected_statuses").items():
            if reason not in hp.REJECTION_REASONS:
                self.bad(f"{w}.rejected_statuses.{status}", f"unknown rejection reason {reason!r} "
                                                            f"(one of {', '.join(hp.REJECTION_REASONS)})")
            else:
                statuses[str(status)] = reason
        if mql_status in statuses:
            self.bad(f"{w}.rejected_statuses.{mql_status}", "the MQL status cannot mean a rejection")
        stages = self.texts(data, "accepted_stages", w, tuple(sorted(Handoff().accepted_stages)))
        for i, stage in enumerate(stages):
            if stage not in ACCEPTING_STAGES:
                self.bad(f"{w}.accepted_stages[{i}]", f"{stage!r} is not a stage after MQL "
                                                      f"(one of {', '.join(ACCEPTING_STAGES)})")
        return Handoff(statuses, frozenset(s for s in stages if s in ACCEPTING_STAGES))

    def sla(self, value: Any) -> Sla | None:
        w = "sla"
        data = self.mapping(value, w)
        self.keys(data, ("escalate", "business_hours"), w)
        raw = data.get("escalate")
        if not isinstance(raw, list) or not raw:
            self.bad(f"{w}.escalate", "needs a list of {after_hours, to}: the first is the SLA itself")
            raw = []
        stages = []
        for i, spec in enumerate(raw):
            where = f"{w}.escalate[{i}]"
            spec = self.mapping(spec, where)
            self.keys(spec, ("after_hours", "to"), where)
            after = self.number(spec, "after_hours", where, None, positive=True)
            to = str(spec.get("to") or "").strip()
            if after is None:
                self.bad(f"{where}.after_hours", "is required (hours without a sales touch)")
            if not to:
                self.bad(f"{where}.to", "is required: the HubSpot owner id of whoever is told")
            if after is not None and to:
                stages.append(Escalation(after * 3600.0, to))
        if [s.after_seconds for s in stages] != sorted(s.after_seconds for s in stages):
            self.bad(f"{w}.escalate", "stages must come in growing after_hours")
        hours = None
        if data.get("business_hours") is not None:
            hours = self.business_hours(self.mapping(data["business_hours"], f"{w}.business_hours"))
        return Sla(tuple(stages), hours)

    def business_hours(self, data: dict) -> BusinessHours | None:
        w = "sla.business_hours"
        self.keys(data, ("timezone", "days", "start", "end"), w)
        tz = str(data.get("timezone") or "UTC")
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(tz)
        except (KeyError, ValueError):
            self.bad(f"{w}.timezone", f"unknown time zone {tz!r} (e.g. Europe/Berlin, America/New_York)")
        names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        days = set()
        for d in data.get("days") or names[:5]:
            if str(d).lower()[:3] in names:
                days.add(names.index(str(d).lower()[:3]))
            else:
                self.bad(f"{w}.days", f"unknown day {d!r} (mon ... sun)")
        minutes = []
        for key, default in (("start", "09:00"), ("end", "17:00")):
            text = str(data.get(key, default))
            hh, _, mm = text.partition(":")
            if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
                self.bad(f"{w}.{key}", f"must be HH:MM, got {text!r}")
                minutes.append(0)
            else:
                minutes.append(int(hh) * 60 + int(mm))
        if minutes[0] >= minutes[1]:
            self.bad(w, "start must be before end")
        return BusinessHours(tz, frozenset(days), minutes[0], minutes[1])

    def assignment(self, value: Any) -> Assignment | None:
        w = "assignment"
        data = self.mapping(value, w)
        self.keys(data, ("owners", "team", "weights"), w)
        raw = data.get("owners") or []
        if not isinstance(raw, list):
            self.bad(f"{w}.owners", f"must be a list of HubSpot owner ids, got {_kind(raw)}")
            raw = []
        owners = tuple(str(o).strip() for o in raw if str(o).strip())
        team = self.text(data, "team", w, None)
        if not owners and not team:
            self.bad(w, "needs owners (a list of owner ids) or team (a HubSpot team name)")
        weights: dict[str, float] = {}
        for owner, weight in self.mapping(data.get("weights"), f"{w}.weights").items():
            if not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight <= 0:
                self.bad(f"{w}.weights.{owner}", f"must be a number above 0, got {weight!r}")
            else:
                weights[str(owner)] = float(weight)
        return Assignment(owners, team, weights)

    def alerts(self, value: Any, sections: dict[str, tuple[Rule, ...]]) -> Alerts | None:
        w = "alerts"
        data = self.mapping(value, w)
        self.keys(data, ("hand_raise", "task_due_hours", "max_age_hours", "for_mqls"), w)
        dated = {r.name for section in ("fit", "engagement") for r in sections[section]
                 if r.condition is not None and r.date_property}
        for_mqls = self.texts(data, "for_mqls", w, ())
        for i, name in enumerate(for_mqls):
            if name not in dated:
                self.bad(f"{w}.for_mqls[{i}]", f"{name!r} is not a condition rule with a date_property "
                                               f"(those: {', '.join(sorted(dated)) or 'none'})")
        hand_raise = data.get("hand_raise", True)
        if not isinstance(hand_raise, bool):
            self.bad(f"{w}.hand_raise", f"must be true or false, got {hand_raise!r}")
            hand_raise = False
        due = self.number(data, "task_due_hours", w, 4.0, positive=True)
        max_age = self.number(data, "max_age_hours", w, 24.0, positive=True)
        return Alerts(hand_raise, due * 3600.0, max_age * 3600.0, tuple(for_mqls))

    def groups(self, data: dict) -> dict[str, Group]:
        groups: dict[str, Group] = {}
        for name, spec in data.items():
            where = f"groups.{name}"
            spec = self.mapping(spec, where)
            self.keys(spec, ("max", "min", "label"), where)
            high = self.number(spec, "max", where)
            low = self.number(spec, "min", where)
            if high is None and low is None:
                self.bad(where, "needs max and/or min: a group without either caps nothing")
            if high is not None and low is not None and low > high:
                self.bad(f"{where}.min", f"min {low:g} is greater than max {high:g}")
            if high is not None and high < 0:
                self.bad(f"{where}.max", f"must be at least 0, got {high:g}: a cap limits what the "
                                         "group's rules add (a floor on negative points is `min`)")
            label = self.text(spec, "label", where, str(name).replace("_", " ").capitalize())
            groups[str(name)] = Group(str(name), high, low, label)
        return groups

    def check_groups(self, groups: dict[str, Group], sections: dict[str, tuple[Rule, ...]]):
        used: dict[str, set[str]] = {}
        for section, rules in sections.items():
            for rule in rules:
                if rule.group:
                    used.setdefault(rule.group, set()).add(section)
        for name in groups:
            if name not in used:
                self.bad(f"groups.{name}", "is not used by any rule (a misspelt group name?)")
            elif len(used[name]) > 1:
                self.bad(f"groups.{name}", f"mixes rules from {' and '.join(sorted(used[name]))}: "
                                           "a group caps points within one score")

    def check_reachable(self, sections: dict[str, tuple[Rule, ...]], groups: dict[str, Group],
                        fit_cap: float | None, engagement_cap: float | None, total_cap: float | None,
                        policy: Policy) -> list[Problem]:
        """A threshold or fit minimum no contact can reach means nobody qualifies by score, and
        nothing else would say so. Against the caps (explicit numbers) that is an error; against
        what the rules add up to (every positive rule at once, a generous bound) a warning."""
        caps_total = _add(fit_cap, engagement_cap)
        caps_total = total_cap if caps_total is None else min(caps_total, total_cap or caps_total)
        if caps_total is not None and policy.mql_threshold > caps_total:
            self.bad("policy.mql_threshold", f"{policy.mql_threshold:g} is above what the caps allow "
                                             f"({caps_total:g}): no contact can qualify by score")
        if fit_cap is not None and policy.fit_minimum > fit_cap:
            self.bad("policy.fit_minimum", f"{policy.fit_minimum:g} is above caps.fit ({fit_cap:g}): "
                                           "no contact can qualify by score")
        fit = _most(sections["fit"], groups, fit_cap)
        engagement = _most(sections["engagement"], groups, engagement_cap)
        total = fit + engagement if total_cap is None else min(total_cap, fit + engagement)
        warnings = []
        if policy.mql_threshold > total:
            warnings.append(Problem(f"{self.source}: policy.mql_threshold",
                                    f"{policy.mql_threshold:g} cannot be reached by these rules: the most a "
                                    f"contact can score is {total:g} (fit at most {fit:g}, engagement at most "
                                    f"{engagement:g}); only hand-raises will qualify"))
        if policy.fit_minimum > fit:
            warnings.append(Problem(f"{self.source}: policy.fit_minimum",
                                    f"{policy.fit_minimum:g} cannot be reached by these rules: the most fit a "
                                    f"contact can have is {fit:g}; nobody will qualify by score"))
        return warnings

    def bands(self, data: dict, key: str, default: tuple[float, ...]) -> tuple[float, ...]:
        if key not in data:
            return default
        value = data[key]
        where = f"grade.{key}"
        if (not isinstance(value, list) or not value or len(value) > 4
                or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value)):
            self.bad(where, f"must be a list of 1 to 4 numbers (band minimums), got {value!r}")
            return default
        if any(a <= b for a, b in pairwise(value)):
            self.bad(where, f"band minimums must go down strictly (best band first), got {value!r}")
            return default
        return tuple(float(v) for v in value)

    # -- rules ---------------------------------------------------------------------------------
    def section(self, section: str, value: Any, groups: dict[str, Group],
                seen: dict[str, str]) -> tuple[Rule, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.bad(f"rules.{section}", f"must be a list of rules, got {_kind(value)}")
            return ()
        rules = []
        for index, spec in enumerate(value):
            rule = self.rule(section, index, spec, groups, seen)
            if rule is not None:
                rules.append(rule)
        return tuple(rules)

    def rule(self, section: str, index: int, spec: Any, groups: dict[str, Group],
             seen: dict[str, str]) -> Rule | None:
        base = f"rules.{section}[{index}]"
        if not isinstance(spec, dict):
            self.bad(base, f"must be a mapping (name, label, property, ...), got {_kind(spec)}")
            return None
        name = spec.get("name")
        where = f"{base} {name!r}" if isinstance(name, str) else base
        before = len(self.problems)

        allowed: tuple[str, ...] = ("name", "label", "property", *OPERATORS)
        if section == "fit":
            allowed += ("points", "group")
        elif section == "engagement":
            allowed += ("points", "per_unit", "max", "within_days", "date_property", "group",
                        "half_life_days", "activity")
        else:
            allowed += ("within_days", "date_property")
        self.keys(spec, allowed, where)

        if not isinstance(name, str) or not _RULE_NAME.match(name):
            self.bad(f"{where}.name", f"is required: letters, digits, _ or -, got {name!r}")
        elif name in seen:
            self.bad(f"{where}.name", f"duplicate rule name {name!r} (first used at {seen[name]})")
        else:
            seen[name] = base
        label = self.text(spec, "label", where, required=True)

        operators = [op for op in OPERATORS if op in spec]
        activity = None
        if "activity" in spec:
            # What the contact did, counted by the engagement layer under a synthetic key: the rule
            # is then a condition `gte at_least` on that count, or a per-unit count of it.
            activity = parse_activity(str(name), spec["activity"], f"{where}.activity", self.bad)
            for key in ("property", "within_days", "date_property", *operators):
                if key in spec:
                    self.bad(f"{where}.{key}", "an activity rule takes its window and filters in activity, "
                                               f"not {key}")
            operators = []
            spec = {**spec, "property": None}
        if "per_unit" in spec and spec["per_unit"] is None:
            # An explicit null would make a count rule that never counts: refuse it.
            self.bad(f"{where}.per_unit", "must be a number greater than 0, got null")
        per_unit = self.number(spec, "per_unit", where, positive=True)
        condition = None
        if per_unit is not None or "per_unit" in spec:
            if operators:
                self.bad(f"{where}.{operators[0]}", "a per_unit rule counts a number: it takes no "
                                                    "condition operator")
        elif activity is not None:
            condition = compile_condition("gte", activity.at_least)
        elif "activity" in spec:
            pass  # its problems are reported
        elif len(operators) != 1:
            self.bad(where, "needs exactly one condition operator "
                            f"({', '.join(OPERATORS)}), found {len(operators) or 'none'}"
                     + (f": {', '.join(operators)}" if operators else ""))
        else:
            try:
                condition = compile_condition(operators[0], spec[operators[0]])
            except ValueError as e:
                self.bad(f"{where}.{operators[0]}", str(e))
            else:
                if section == "hand_raise" and condition.on_empty:
                    self.bad(f"{where}.{operators[0]}", "a hand-raise must not hold on an empty "
                                                        "value: every contact with the property "
                                                        "blank would become an MQL")

        properties = (activity.key,) if activity is not None else () if "activity" in spec else \
            self.rule_properties(spec, where, operators, per_unit is not None)

        points = 0.0
        max_points = None
        if section == "hand_raise":
            pass
        elif "per_unit" in spec:
            if "points" in spec:
                self.bad(f"{where}.points", "a per_unit rule takes per_unit and max, not points")
            max_points = self.number(spec, "max", where, positive=True)
            if spec.get("max") is None:  # missing or null
                self.bad(f"{where}.max", "is required for a per_unit rule (the most points it may "
                                         "add), so one heavy reader cannot outscore everyone")
        else:
            if "max" in spec:
                self.bad(f"{where}.max", "only a per_unit rule takes max")
            if spec.get("points") is None:  # missing or null (a null would add 0 points)
                self.bad(f"{where}.points", "is required")
            else:
                points = self.number(spec, "points", where, 0.0) or 0.0
                if points == 0 and isinstance(spec["points"], (int, float)):
                    self.bad(f"{where}.points", "must not be 0 (a rule that adds nothing)")

        within = self.number(spec, "within_days", where, positive=True)
        date_property = None
        if "date_property" in spec:
            date_property = self.property_name(spec["date_property"], f"{where}.date_property")
        if within is not None and "date_property" not in spec:
            self.bad(f"{where}.within_days",
                     "needs date_property: the date the window is read from")
        if within is not None and points < 0:
            # An expiring penalty would raise the score as time passes; penalties hold until the
            # property itself changes.
            self.bad(f"{where}.within_days", "a negative rule cannot expire (its penalty would "
                                             "raise the score as time passes)")
        half_life = self.number(spec, "half_life_days", where, positive=True)
        if half_life is not None and "per_unit" not in spec:
            self.bad(f"{where}.half_life_days", "only a per_unit rule decays")

        group = None
        if "group" in spec:
            group = spec["group"]
            if not isinstance(group, str) or group not in groups:
                known = ", ".join(groups) or "none declared"
                self.bad(f"{where}.group", f"unknown group {group!r} (groups: {known})")
                group = None

        if len(self.problems) > before:
            return None
        assert isinstance(name, str)  # a missing or malformed name was reported above
        return Rule(
            name=name, label=label, section=section, properties=properties,
            property=properties[0] if properties else "", condition=condition,
            points=points, per_unit=per_unit, max_points=max_points,
            within_seconds=within * DAY if within is not None else None,
            date_property=date_property, group=group,
            half_life_seconds=half_life * DAY if half_life is not None else None,
            activity=activity,
            reason=(Reason(name, label, round_half_up(points))
                    if condition is not None and section != "hand_raise" else
                    Reason(name, label, 0, hand_raise=True) if section == "hand_raise" else None),
        )

    def rule_properties(self, spec: dict, where: str, operators: list[str],
                        per_unit: bool) -> tuple[str, ...]:
        value = spec.get("property")
        if value is None:
            if operators == ["email_domain_in"]:
                return ("email",)  # the only place a domain lives on a contact
            self.bad(f"{where}.property", "is required")
            return ()
        values = value if isinstance(value, list) else [value]
        if per_unit and len(values) != 1:
            self.bad(f"{where}.property", "a per_unit rule counts exactly one property")
            return ()
        if not values:
            self.bad(f"{where}.property", "must name at least one property")
            return ()
        names = tuple(self.property_name(v, f"{where}.property") for v in values)
        return tuple(n for n in names if n)

    # -- policy --------------------------------------------------------------------------------
    def policy(self, data: dict) -> Policy | None:
        w = "policy"
        self.keys(data, ("mql_threshold", "fit_minimum", "hysteresis", "mql_status",
                         "qualify_from_statuses", "sales_statuses", "sales_stage_from",
                         "owner_means_sales", "recycle"), w)
        threshold = self.number(data, "mql_threshold", w, 60.0, minimum=0)
        fit_minimum = self.number(data, "fit_minimum", w, 0.0)
        hysteresis = self.number(data, "hysteresis", w, 10.0, minimum=0)
        if hysteresis > threshold:
            self.bad(f"{w}.hysteresis",
                     f"{hysteresis:g} is larger than mql_threshold {threshold:g}")
        mql_status = self.text(data, "mql_status", w, hp.MQL_STATUS)
        qualify_from = self.texts(data, "qualify_from_statuses", w, ("", "NEW", "OPEN"))
        sales = self.texts(data, "sales_statuses", w, DEFAULT_SALES_STATUSES)
        stage_from = self.text(data, "sales_stage_from", w, "salesqualifiedlead")
        if stage_from not in LIFECYCLE_ORDER:
            self.bad(f"{w}.sales_stage_from", f"unknown lifecycle stage {stage_from!r} (one of: "
                                              f"{', '.join(LIFECYCLE_ORDER)})")
        elif LIFECYCLE_ORDER.index(stage_from) <= LIFECYCLE_ORDER.index("marketingqualifiedlead"):
            self.bad(f"{w}.sales_stage_from", "must come after marketingqualifiedlead, or the "
                                              "connector would leave alone the MQLs it makes")
        for status in dict.fromkeys(qualify_from):  # config order: messages stay stable
            if status in sales:
                self.bad(f"{w}.qualify_from_statuses", f"{status!r} is also a sales status")
            elif status == mql_status:
                self.bad(f"{w}.qualify_from_statuses", f"{status!r} is the mql_status: a person's "
                                                       "MQL would pass for the connector's")
        if mql_status in sales:
            self.bad(f"{w}.mql_status", f"{mql_status!r} is also a sales status")
        owner = data.get("owner_means_sales", False)
        if not isinstance(owner, bool):
            self.bad(f"{w}.owner_means_sales", f"must be true or false, got {owner!r}")
            owner = False

        recycle = None
        if data.get("recycle") is not None:
            recycle = self.recycle(self.mapping(data["recycle"], f"{w}.recycle"), threshold,
                                   hysteresis, mql_status, sales)
        if recycle is not None:
            qualify_from = (*qualify_from, recycle.to_status)  # recycled contacts can requalify
        return Policy(threshold, fit_minimum, hysteresis, mql_status, "marketingqualifiedlead",
                      frozenset(qualify_from), frozenset(sales), stage_from, owner, recycle)

    def recycle(self, data: dict, threshold: float, hysteresis: float, mql_status: str,
                sales: tuple[str, ...]) -> Recycle | None:
        w = "policy.recycle"
        self.keys(data, ("after_days", "below", "to_status", "max_times", "activity_properties"), w)
        after = self.number(data, "after_days", w, 30.0, positive=True)
        below = self.number(data, "below", w, threshold - hysteresis)
        if below > threshold - hysteresis:
            self.bad(f"{w}.below", f"{below:g} must be at most mql_threshold - hysteresis "
                                   f"({threshold - hysteresis:g}): an MQL that fits is considered "
                                   "for recycling only once its total falls below that, so a "
                                   "higher value has no effect")
        to_status = self.text(data, "to_status", w, "OPEN")
        if to_status in sales or to_status == mql_status:
            self.bad(f"{w}.to_status", f"{to_status!r} must be a nurture status, not a sales or "
                                       "MQL status")
        max_times = data.get("max_times", 2)
        if isinstance(max_times, bool) or not isinstance(max_times, int) or max_times < 0:
            self.bad(f"{w}.max_times", f"must be a whole number >= 0, got {max_times!r}")
            max_times = 0
        activity = self.texts(data, "activity_properties", w,
                              ("hs_last_sales_activity_timestamp", "notes_last_contacted"))
        for i, prop in enumerate(activity):
            self.property_name(prop, f"{w}.activity_properties[{i}]")
        return Recycle(after, below, to_status, max_times, activity)


def _contact_properties(sections: dict[str, tuple[Rule, ...]], policy: Policy) -> frozenset[str]:
    # The verdict properties, HubSpot's MQL date and the source: for sales' verdicts and their segments.
    props = {hp.LEAD_STATUS, hp.LIFECYCLE_STAGE, "hubspot_owner_id", *hp.CONNECTOR_PROPERTY_NAMES,
             *hp.SALES_PROPERTY_NAMES, "hs_lifecyclestage_marketingqualifiedlead_date", "hs_analytics_source",
             "createdate", *(f"hs_lifecyclestage_{s}_date" for s in REPORT_STAGES)}  # the report's funnel
    for rules in sections.values():
        for rule in rules:
            if rule.activity is not None:
                # Its key is no HubSpot property; what moves when new activity arrives is read.
                props.update(rule.activity.markers)
                if rule.activity.kind == "form_submissions":
                    props.add("email")  # form submissions carry no contact id: joined on the email
                if rule.activity.kind == "page_views":
                    props.update(("hs_analytics_last_url", "hs_analytics_last_timestamp"))
                continue
            props.update(rule.properties)
            if rule.date_property:
                props.add(rule.date_property)
    if policy.recycle:
        props.update(policy.recycle.activity_properties)
    return frozenset(props)


def _most(rules: tuple[Rule, ...], groups: dict[str, Group], cap: float | None) -> float:
    """The highest score these rules could give together: every positive rule firing, per-unit
    rules at their max, group and section caps applied."""
    by_group: dict[str | None, float] = {}
    for rule in rules:
        best = rule.max_points if rule.per_unit is not None else rule.points
        if best and best > 0:
            by_group[rule.group] = by_group.get(rule.group, 0.0) + best
    most = 0.0
    for name, points in by_group.items():
        group = groups.get(name) if name else None
        if group is not None and group.max_points is not None:
            points = min(points, group.max_points)
        most += points
    return most if cap is None else min(cap, most)


def _add(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", type(None): "nothing"}.get(
        type(value), type(value).__name__)
