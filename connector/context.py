"""The wiring: settings -> rules, store and gateway, validated in that order, for the commands."""

from __future__ import annotations

from dataclasses import dataclass

from connector.commands.setup import check_scopes
from connector.core.rules import RuleSet
from connector.core.rules_file import load_rules
from connector.gateway import Gateway
from connector.settings import Settings
from connector.store import Store


@dataclass
class Context:
    """What a command works with: one of each, built once."""

    settings: Settings
    rules: RuleSet
    store: Store
    gateway: Gateway


def build_context(*, require_token: bool = True, settings: Settings | None = None) -> Context:
    """Settings and the scoring config are validated first: a bad one stops us before any call."""
    settings = settings or Settings.from_env(require=("hubspot_access_token",) if require_token else ())
    rules = load_rules(settings.scoring_config)
    store = Store.from_settings(settings)
    return Context(settings, rules, store, Gateway.from_settings(settings))


def preflight(ctx: Context) -> None:
    """One cheap call that proves the API base answers, the token works and has the scopes."""
    check_scopes(ctx.gateway, ctx.settings.hubspot_access_token or "")
