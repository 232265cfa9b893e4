"""`connector calibrate`: read history, learn, report, write a candidate config. Never writes to
HubSpot; the live config changes only with `apply=True`."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from connector.calibrate import config_out
from connector.calibrate.candidates import EXCLUDED, EXCLUDED_PREFIXES
from connector.calibrate.outcomes import MQL_STAGE
from connector.calibrate.pipeline import Options, Result, calibrate
from connector.calibrate.read import ReadResult, read_contacts
from connector.commands.setup import check_rules
from connector.context import Context
from connector.core.rules_file import load_rules
from connector.errors import ConfigError, Problem
from connector.settings import DEFAULT_SCORING_CONFIG


@dataclass
class CalibrationRun:
    result: Result
    read: ReadResult
    seconds: float
    written: str | None
    applied: bool
    backup: str | None


def options_from_args(args) -> Options:
    """The CLI's flags as Options; ConfigError (exit 2) naming the flag for a bad value."""
    from connector.calibrate.measure import Target
    from connector.calibrate.outcomes import OutcomeRule

    problems: list[Problem] = []
    since = _day(args.since, "--since", problems)
    until = _day(args.until, "--until", problems)
    if since is not None and until is not None and since >= until:
        problems.append(Problem("--since/--until", f"{args.since}..{args.until} is an empty time range"))
    stages = tuple(s.strip() for s in args.outcome_stages.split(",") if s.strip())
    if not stages:
        problems.append(Problem("--outcome-stages", "names no stage"))
    for flag, value in (("--window-days", args.window_days), ("--decision-age-days", args.decision_age_days),
                        ("--max-rules", args.max_rules)):
        if value <= 0:
            problems.append(Problem(flag, f"must be above 0, got {value:g}"))
    if args.min_conversion is not None and not 0 < args.min_conversion < 1:
        problems.append(Problem("--min-conversion", f"a rate between 0 and 1, got {args.min_conversion:g}"))
    if args.mqls_per_week is not None and args.mqls_per_week <= 0:
        problems.append(Problem("--mqls-per-week", f"must be above 0, got {args.mqls_per_week:g}"))
    if problems:
        raise ConfigError(problems)
    until_end = until + 86_400 - 0.001 if until is not None else None  # the whole last day
    properties = tuple(p.strip() for p in args.properties.split(",") if p.strip()) \
        if args.properties else None
    return Options(outcome=OutcomeRule(stages, args.window_days, args.decision_age_days, since, until_end),
                   properties=properties, budget=args.max_rules,
                   target=Target(args.mqls_per_week, args.min_conversion),
                   min_outcomes=args.min_outcomes, allow_flat=args.allow_flat_history,
                   activity=not args.no_activity)


def _day(text: str | None, flag: str, problems: list) -> float | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    except ValueError:
        problems.append(Problem(flag, f"{text!r} is not a day as YYYY-MM-DD"))
        return None


def check_inputs(definitions: dict[str, dict], options: Options) -> None:
    """One problem per unknown property or stage, before the long read (ConfigError: exit 2)."""
    problems = []
    for name in options.properties or ():
        if name not in definitions:
            problems.append(Problem(f"--properties {name}", "no such contact property in this portal"
                                    + _close(name, definitions)))
    stages = {o.get("value") for o in (definitions.get("lifecyclestage") or {}).get("options") or ()}
    for stage in options.outcome.stages:
        if stages and stage not in stages:
            problems.append(Problem(f"--outcome-stages {stage}", "no such lifecycle stage; the "
                                    f"portal has: {', '.join(sorted(s for s in stages if s))}"))
    if problems:
        raise ConfigError(problems)


def wanted_properties(ctx: Context, definitions: dict[str, dict], options: Options) -> tuple[list[str], list[str]]:
    """(plain properties, properties read with history) for this calibration."""
    stages = (*options.outcome.stages, MQL_STAGE)
    dates = [n for s in stages for n in (f"hs_lifecyclestage_{s}_date", f"hs_v2_date_entered_{s}")
             if n in definitions]
    if options.properties is not None:
        candidates = list(options.properties)
    else:
        candidates = [n for n in definitions
                      if n not in EXCLUDED and not n.startswith(EXCLUDED_PREFIXES)
                      and (definitions[n].get("type") not in ("datetime", "date"))]
    history = sorted({*ctx.rules.contact_properties, *candidates, *dates, "lifecyclestage"}
                     & set(definitions))
    return ["createdate"], history


def run_calibration(ctx: Context, options: Options, *, out: str | None, apply: bool,
                    refresh: bool = False, max_age_s: float = 86_400.0,
                    progress: Callable[[int, int], None] | None = None,
                    clock: Callable[[], float] = time.time) -> CalibrationRun:
    started = time.monotonic()
    ctx.store.upgrade()
    definitions = ctx.gateway.list_contact_properties()
    check_rules(ctx.rules, definitions)
    check_inputs(definitions, options)
    plain, history = wanted_properties(ctx, definitions, options)
    now_ms = int(clock() * 1000)
    read = read_contacts(ctx.gateway, ctx.store, properties=plain, with_history=history,
                         now_ms=now_ms, refresh=refresh, max_age_s=max_age_s, progress=progress)
    timelines = read.timelines
    source = ctx.settings.scoring_config
    current = yaml.safe_load(Path(source).read_text(encoding="utf-8"))
    activity = _activity_reader(ctx, current, timelines, now_ms / 1000) if options.activity else None
    result = calibrate(timelines, definitions, current, ctx.rules, options, read.read_at_ms / 1000, activity)
    written = backup = None
    if out:
        text = config_out.render(result.config, result, source=Path(source).name,
                                 read_at=read.read_at_ms / 1000)
        Path(out).write_text(text, encoding="utf-8")
        load_rules(out)  # what we wrote must load as SCORING_CONFIG, or we say so now
        written = out
        if apply:
            backup = apply_candidate(out, source, clock)
    return CalibrationRun(result, read, time.monotonic() - started, written, apply and bool(out), backup)


def _activity_reader(ctx: Context, current: dict, timelines, now: float):
    """Reads the judged contacts' activity (meetings, calls, emails, webinars ...) with the enricher's reads."""
    from connector.calibrate.activity import reading_rules
    from connector.engagement.enrich import read_history

    emails = {t.id: (t.latest().get("email") or "") for t in timelines}

    def read(ids):
        return read_history(ctx.gateway, reading_rules(current), {cid: {"email": emails.get(cid, "")} for cid in ids},
                            now)
    return read


def apply_candidate(candidate: str, live: str, clock: Callable[[], float]) -> str:
    """Copy the candidate over the live config file, keeping the old one beside it."""
    if Path(live).resolve() == Path(DEFAULT_SCORING_CONFIG).resolve():
        raise ConfigError([Problem("--apply", "SCORING_CONFIG is the built-in default config: copy "
                                   "it to a file of yours and point SCORING_CONFIG there first")])
    stamp = datetime.fromtimestamp(clock(), tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    backup = f"{live}.{stamp}.bak"
    shutil.copy2(live, backup)
    shutil.copyfile(candidate, live)
    return backup


def _close(name: str, names: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(names), n=1)
    return f" (did you mean {close[0]}?)" if close else ""
