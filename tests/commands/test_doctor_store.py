"""doctor and the store: it says when an empty store sits beside a portal the connector has
scored, and it never creates a database file as a side effect."""

from __future__ import annotations

from connector.commands.doctor import run_doctor
from connector.commands.setup import run_setup
from connector.sync import SyncJob


def by_name(checks):
    return {c.name: c for c in checks}


def test_given_a_scored_portal_and_an_empty_store_when_doctor_then_it_says_so_with_the_count(
        ctx, settings, tmp_path):
    run_setup(ctx.gateway, ctx.store, ctx.rules, "pat-sandbox", dry_run=False)
    SyncJob(ctx.gateway, ctx.store, ctx.rules).run(full=True)
    assert by_name(run_doctor(settings))["store vs portal"].ok  # its own store: fine

    other = settings.with_overrides(database_url=f"sqlite:///{tmp_path / 'new.db'}")
    from connector.store import Store

    Store(other.sqlalchemy_url).upgrade()  # an empty but valid store
    check = by_name(run_doctor(other))["store vs portal"]
    assert not check.ok
    assert "the store is empty but HubSpot holds the connector's state for 400 contacts" in check.detail


def test_given_a_database_file_that_does_not_exist_when_doctor_then_it_is_named_and_not_created(settings, tmp_path):
    missing = tmp_path / "var" / "nowhere.db"
    checks = by_name(run_doctor(settings.with_overrides(database_url=f"sqlite:///{missing}")))
    assert not checks["store"].ok and str(missing) in checks["store"].detail
    assert checks["store vs portal"].detail == "not checked: the store check failed"
    assert not missing.exists() and not missing.parent.exists()
