"""`connector demo`: the dashboard beside the sandbox with a one-time password, a live feed that
names the contact, what it did, its score against the threshold and its path, and a closing summary
in words."""

from __future__ import annotations

import base64
import io
import re
import threading
import time
import urllib.error
import urllib.request

from connector.commands import demo
from connector.core.rules_file import load_rules
from tests.support.paths import SCORING

POLICY = load_rules(SCORING).policy


def test_given_a_hand_raise_mql_then_the_feed_says_hand_raise_not_hysteresis():
    props = {"lsc_score": "42", "lsc_fit_score": "30", "lsc_qualification_path": "hand_raise"}
    line = demo.mql_line("17", "Ada Lovelace <ada@example.com>", "submitted the 'Demo request' form", props, POLICY)
    assert line.startswith("-> Ada Lovelace <ada@example.com> (contact 17) submitted the 'Demo request' form.")
    assert "hand-raise" in line and "at any score" in line and "score 42" in line
    assert "hysteresis" not in line


def test_given_a_score_mql_then_the_feed_gives_score_threshold_and_fit():
    props = {"lsc_score": "64", "lsc_fit_score": "25", "lsc_qualification_path": "score"}
    line = demo.mql_line("9", "", "viewed /pricing", props, POLICY)
    assert f"MQL by score: 64 reached the threshold {POLICY.mql_threshold:g}" in line
    assert "contact 9 (contact 9) viewed /pricing" in line


def test_given_activity_items_then_they_read_as_what_a_person_did():
    assert demo.did({"type": "page_view", "url": "https://www.example.com/pricing"}) == "viewed /pricing"
    assert demo.did({"type": "form_submission", "formName": "Contact sales"}) == "submitted the 'Contact sales' form"
    assert demo.did({"type": "meeting_booked"}) == "booked a meeting"


def test_given_the_demo_then_it_prints_the_dashboard_and_its_password_which_opens_it(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "DEMO_DIR", tmp_path / "demo")
    out = io.StringIO()
    runner = threading.Thread(target=demo.run_demo, kwargs=dict(contacts=300, seed=5, tier="unlimited", seconds=4,
                                                                linger=6, out=out), daemon=True)
    runner.start()
    found = None
    deadline = time.monotonic() + 120
    while found is None and time.monotonic() < deadline:
        found = re.search(r"dashboard: (http://\S+/dashboard/) .*one-time password (\S+);", out.getvalue())
        time.sleep(0.2)
    assert found, out.getvalue()
    url, password = found.groups()

    def synced() -> bool:
        text = out.getvalue()
        return "2. connector sync" in text and ("new MQLs" in text or "became MQLs" in text)

    while not synced() and time.monotonic() < deadline:  # a wait, not a speed check
        time.sleep(0.2)
    assert synced(), out.getvalue()
    try:
        urllib.request.urlopen(url)
        raise AssertionError("the dashboard answered without the password")
    except urllib.error.HTTPError as exc:
        assert exc.code == 401
    token = base64.b64encode(f"demo:{password}".encode()).decode()
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})) as r:
        assert r.status == 200 and b'data-chart="funnel"' in r.read()
    runner.join(timeout=120)
    text = out.getvalue()
    assert "contacts became MQLs" in text and "because their score reached" in text
    assert re.search(r"Done\. In \d+ s the sandbox's visitors did [\d,]+ things", text), text
    assert "HubSpot sent" in text and "rewrote" in text
