"""The web app under test: its settings for one test (a SQLite store in tmp_path, a fixed clock)."""

from __future__ import annotations

from pathlib import Path

from tests.support.clock import FakeClock

SECRET = "test-client-secret-1234"
PUBLIC_URL = "https://hooks.example.com/webhooks/hubspot"
NOW_S = 1_750_000_000.0
NOW_MS = str(int(NOW_S * 1000))


def app_config(tmp_path: Path) -> dict:
    """create_app's test_config: settings (lowercase) and the app's CLOCK, at NOW_S. The scoring
    config it names does not exist."""
    return {"hubspot_client_secret": SECRET, "database_url": f"sqlite:///{tmp_path / 'state.db'}",
            "webhook_public_url": PUBLIC_URL, "scoring_config": str(tmp_path / "scoring.yaml"),
            "webhook_max_body_bytes": 4096, "CLOCK": FakeClock(NOW_S)}
