"""Helpers shared by the handoff tests."""

from __future__ import annotations

import yaml

from connector.commands.setup import run_setup
from connector.context import Context
from connector.core.rules_file import parse_rules
from connector.gateway import Gateway
from connector.settings import Settings
from connector.store import Store
from tests.support.paths import DEFAULT_CONFIG


def packaged_with(sandbox, tmp_path, **sections) -> Context:
    """A context on `sandbox` (set up as `connector setup` would) whose rules are the packaged
    config plus `sections` (e.g. assignment=..., sla=...), on a SQLite store in `tmp_path`."""
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config.update(sections)
    rules = parse_rules(config, "packaged+" + "+".join(sections))
    settings = Settings(hubspot_access_token="pat-sandbox", hubspot_api_base=sandbox.base_url,
                        database_url=f"sqlite:///{tmp_path / 's.db'}", hubspot_requests_per_10s=1000,
                        hubspot_search_per_second=1000)
    store = Store(settings.sqlalchemy_url)
    store.upgrade()
    ctx = Context(settings, rules, store, Gateway.from_settings(settings))
    run_setup(ctx.gateway, ctx.store, ctx.rules, "pat-sandbox", dry_run=False)
    return ctx
