"""The wiring: settings -> rules, store and gateway, validated in that order, for the commands."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from connector.commands.setup import check_rules, check_scopes, inspect_portal
from connector.core.rules import RuleSet
from connector.core.rules_file import load_rules
from connector.errors import NotSetUpError
from connector.gateway import Gateway
from connector.settings import Settings
from connector.shadow import ShadowScorer
from connector.store import Store

log = logging.getLogger("connector")


@dataclass
class Context:
    """What a command works with: one of each, built once."""

    settings: Settings
    rules: RuleSet
    store: Store
    gateway: Gateway
    shadow: ShadowScorer | None = None  # SHADOW_SCORING_CONFIG, validated like the live config


def build_context(*, require_token: bool = True, settings: Settings | None = None) -> Context:
    """Settings and the scoring config are validated first: a bad one stops us before any call."""
    settings = settings or Settings.from_env(require=("hubspot_access_token",) if require_token else ())
    rules = load_rules(settings.scoring_config)
    shadow = ShadowScorer.load(settings.shadow_scoring_config) if settings.shadow_scoring_config else None
    store = Store.from_settings(settings)
    return Context(settings, rules, store, Gateway.from_settings(settings), shadow)


def preflight(ctx: Context, *, require_setup: bool = True, portal: bool = True) -> None:
    """Cheap calls before any write: the token works and has the scopes; with `portal`, the
    portal check below. A sync passes `portal=False` and runs `check_portal` itself just before
    it would first plan a write, so a sync with nothing to write keeps its two-call floor."""
    check_scopes(ctx.gateway, ctx.settings.hubspot_access_token or "", ctx.rules)
    if portal:
        check_portal(ctx, require_setup=require_setup)


def check_portal(ctx: Context, *, require_setup: bool = True) -> None:
    """One call: the portal's contact properties serve the rules (ConfigError naming file, rule
    and property) and, unless `require_setup` is off, hold what `connector setup` creates
    (NotSetUpError)."""
    definitions = ctx.gateway.list_contact_properties()
    check_rules(ctx.rules, definitions)
    if ctx.shadow is not None:
        check_rules(ctx.shadow.rules, definitions)
    for warning in ctx.rules.warnings:
        log.warning("%s", warning)
    portal = inspect_portal(definitions)
    if require_setup and not portal.ready:
        raise NotSetUpError(f"the portal is not set up for the connector ({portal.not_ready_because()}): "
                            "run `connector setup` first; nothing was written")
