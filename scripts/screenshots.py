#!/usr/bin/env python3
"""Screenshots of the dashboard's main views for docs/ (PNG), taken in the headless chromium the
browser tests use (tests/dashboard/browser.py): a seeded sandbox, synced, served on a free port.

    .venv/bin/python scripts/screenshots.py [--contacts 3000] [--out docs]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connector.commands.setup import run_setup  # noqa: E402
from connector.core.rules_file import load_rules  # noqa: E402
from connector.gateway import Gateway  # noqa: E402
from connector.sandbox import DEFAULT_TOKEN, Sandbox, SandboxConfig  # noqa: E402
from connector.settings import Settings, default_scoring_config  # noqa: E402
from connector.store import Store  # noqa: E402
from connector.sync import SyncJob  # noqa: E402
from connector.web import create_app  # noqa: E402
from tests.dashboard.browser import chromium, console_errors, missing  # noqa: E402
from tests.dashboard.conftest import free_port  # noqa: E402

PASSWORD = "screenshot-password-only"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default=str(ROOT / "docs"))
    args = parser.parse_args()
    if missing():
        print(f"screenshots: {missing()}", file=sys.stderr)
        return 2
    from werkzeug.serving import make_server

    work = Path(tempfile.mkdtemp(prefix="screenshots-"))
    os.chdir(ROOT)  # the page names the spend file as configured: config/spend.csv
    with Sandbox(SandboxConfig(contacts=args.contacts, seed=args.seed, tier="unlimited")) as sandbox:
        settings = Settings(hubspot_access_token=DEFAULT_TOKEN, hubspot_client_secret="screenshots-secret",
                            hubspot_api_base=sandbox.base_url, database_url=f"sqlite:///{work / 'state.db'}",
                            scoring_config=default_scoring_config(), hubspot_requests_per_10s=1000,
                            hubspot_search_per_second=1000, dashboard_password=PASSWORD,
                            spend_file="config/spend.csv")
        rules = load_rules(settings.scoring_config)
        store = Store.from_settings(settings)
        store.upgrade()
        gateway = Gateway.from_settings(settings)
        run_setup(gateway, store, rules, DEFAULT_TOKEN, dry_run=False)
        SyncJob(gateway, store, rules, overlap_s=300).run(full=True)
        server = make_server("127.0.0.1", free_port(), create_app(settings), threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}/dashboard/"
        hand_raiser = next(r.id for r in sandbox.portal.store("contacts").records.values()
                           if r.properties.get("lsc_qualification_path") == "hand_raise")
        views = {"dashboard-overview.png": base, "dashboard-by-month.png": base + "?by=month",
                 "dashboard-contact.png": f"{base}contact?q={hand_raiser}"}
        with chromium(width=1366, height=900, password=PASSWORD) as driver:
            for name, url in views.items():
                driver.get(url)
                height = driver.execute_script("return document.documentElement.scrollHeight")
                driver.set_window_size(1366, min(max(height, 600), 4000))
                path = Path(args.out) / name
                driver.save_screenshot(str(path))
                errors = console_errors(driver)
                print(f"{path} ({height}px high){'; console errors: ' + str(errors) if errors else ''}")
        server.shutdown()
        store.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
