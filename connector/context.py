"""The wiring: settings -> rules and gateway, then the store, validated in that order, for the commands."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from connector.commands.setup import check_rules, check_scopes, inspect_portal
from connector.core.rules import RuleSet
from connector.core.rules_file import load_rules
from connector.errors import NotSetUpError
from connector.gateway import Gateway
from connector.settings import Settings

if TYPE_CHECKING:
    from connector.shadow import ShadowScorer
    from connector.store import Store

log = logging.getLogger("connector")


@dataclass
class Context:
    """What a command works with: one of each, built once.

    The store (`Context(settings, rules, store_or_None, gateway)`) is opened on first use when
    given as None: its modules load SQLAlchemy (~0.15 s), and a sync's first calls to HubSpot
    (the token check, a full pass's portal check) go out before it rather than after."""

    settings: Settings
    rules: RuleSet
    opened_store: Store | None
    gateway: Gateway
    shadow: ShadowScorer | None = None  # SHADOW_SCORING_CONFIG, validated like the live config
    _opening: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def store(self) -> Store:
        with self._opening:  # the web app's and the consumer's threads may both ask first
            if self.opened_store is None:
                from connector.store import Store

                self.opened_store = Store.from_settings(self.settings)
            return self.opened_store


def build_context(*, require_token: bool = True, settings: Settings | None = None) -> Context:
    """Settings and the scoring configs are validated first: a bad one stops us before any call.
    The store opens when first used (Context.store)."""
    settings = settings or Settings.from_env(require=("hubspot_access_token",) if require_token else ())
    rules = load_rules(settings.scoring_config)
    shadow = None
    if settings.shadow_scoring_config:
        from connector.shadow import ShadowScorer  # it records sightings in the store: loads SQLAlchemy

        shadow = ShadowScorer.load(settings.shadow_scoring_config)
    return Context(settings, rules, None, Gateway.from_settings(settings), shadow)


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
