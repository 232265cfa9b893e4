"""config/hubspot-app has the structure of HubSpot's project templates and declares what the code needs.

Template skeletons below are the key trees of HubSpot/hubspot-project-components, folder 2025.2/:
defaultFiles/hsproject.json (commit bb4e52ba), components/app/static-private/src/app/app-hsmeta.json
(commit 17fbec67), components/webhooks/src/app/webhooks/webhooks-hsmeta.json (commit 68ea506a).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from connector.commands import hubspot_app as ha
from connector.commands.setup import (
    OPTIONAL_SCOPES,
    OWNERS_READ,
    REQUIRED_SCOPES,
    SECTION_SCOPES,
    webhook_subscriptions,
)
from connector.core.rules_file import load_rules
from connector.sandbox.webhooks import load_subscriptions, load_webhooks_file
from tests.support.paths import ROOT, SCORING

PROJECT = ROOT / "config" / "hubspot-app"
# How many subscriptions the project declares: an appended one gets this index.
_DECLARED = len(json.loads((PROJECT / ha.WEBHOOKS_FILE).read_text())["config"]["subscriptions"]["legacyCrmObjects"])
NEEDED = webhook_subscriptions(load_rules(SCORING))

# Key -> type, per file, as in the templates (a dict value is a nested object's skeleton).
TEMPLATES: dict[str, dict] = {
    ha.PROJECT_FILE: {"name": str, "srcDir": str, "platformVersion": str},
    ha.APP_FILE: {"uid": str, "type": str, "config": {
        "description": str, "name": str, "distribution": str,
        "auth": {"type": str, "requiredScopes": list, "optionalScopes": list, "conditionallyRequiredScopes": list},
        "permittedUrls": {"fetch": list, "iframe": list, "img": list},
        "support": {"supportEmail": str, "documentationUrl": str, "supportUrl": str, "supportPhone": str}}},
    ha.WEBHOOKS_FILE: {"uid": str, "type": str, "config": {
        "settings": {"targetUrl": str, "maxConcurrentRequests": int},
        "subscriptions": {"crmObjects": list, "legacyCrmObjects": list, "hubEvents": list}}},
}
# Keys the docs mark required (app-configuration and configure-webhooks pages).
REQUIRED_KEYS = {
    ha.PROJECT_FILE: ["name", "srcDir", "platformVersion"],
    ha.APP_FILE: ["uid", "type", "config", "config.name", "config.description", "config.distribution",
                  "config.auth", "config.auth.type", "config.auth.requiredScopes"],
    ha.WEBHOOKS_FILE: ["uid", "type", "config", "config.settings", "config.settings.targetUrl",
                       "config.settings.maxConcurrentRequests", "config.subscriptions"],
}


def _doc(rel: str) -> dict:
    return json.loads((PROJECT / rel).read_text(encoding="utf-8"))


def _lookup(doc: dict, dotted: str):
    for key in dotted.split("."):
        doc = doc[key]
    return doc


def _unknown_keys(doc: dict, skeleton: dict, prefix: str = "") -> list[str]:
    """Keys of `doc` outside the template skeleton, and template keys of the wrong type."""
    found = []
    for key, value in doc.items():
        if key not in skeleton:
            found.append(prefix + key)
        elif isinstance(skeleton[key], dict):
            found += (_unknown_keys(value, skeleton[key], f"{prefix}{key}.") if isinstance(value, dict)
                      else [prefix + key])
        elif not isinstance(value, skeleton[key]) or isinstance(value, bool):
            found.append(f"{prefix}{key} (type)")
    return found


@pytest.mark.parametrize("rel", list(TEMPLATES))
def test_given_project_file_then_it_has_the_templates_required_keys_and_no_others(rel):
    doc = _doc(rel)
    for dotted in REQUIRED_KEYS[rel]:
        _lookup(doc, dotted)  # KeyError names the missing key
    assert _unknown_keys(doc, TEMPLATES[rel]) == []


def test_given_project_then_private_static_app_on_current_platform_with_valid_uids():
    project, app, hooks = _doc(ha.PROJECT_FILE), _doc(ha.APP_FILE), _doc(ha.WEBHOOKS_FILE)
    major, minor = (int(x) for x in project["platformVersion"].split("."))
    assert (major, minor) >= (2025, 2)
    assert (app["type"], hooks["type"]) == ("app", "webhooks")
    assert app["config"]["distribution"] == "private"
    assert app["config"]["auth"]["type"] == "static"
    for uid in (app["uid"], hooks["uid"]):
        assert re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", uid)
    assert app["uid"] != hooks["uid"]


def test_given_project_then_every_scope_the_code_or_a_config_section_needs_is_required():
    auth = _doc(ha.APP_FILE)["config"]["auth"]
    assert set(REQUIRED_SCOPES) | set(SECTION_SCOPES["assignment"]) <= set(auth["requiredScopes"])
    assert set(OPTIONAL_SCOPES) <= set(auth["requiredScopes"]) and auth["optionalScopes"] == []
    assert ha.required_scopes_declared(_doc(ha.APP_FILE)) == []


def test_given_default_rules_then_every_subscription_they_need_is_declared_and_nothing_else():
    assert ha.subscriptions_declared(_doc(ha.WEBHOOKS_FILE), NEEDED) == []
    declared = {f"{s.subscription_type}:{s.property_name}" if s.property_name else s.subscription_type
                for s in load_subscriptions(PROJECT / ha.WEBHOOKS_FILE) if s.active}
    assert declared == set(NEEDED)


def test_given_project_when_validated_then_no_problems():
    assert ha.validate_project(PROJECT, subscriptions=NEEDED) == []


def test_given_webhooks_file_when_the_sandbox_loads_it_then_settings_and_subscriptions_come_through():
    loaded = load_webhooks_file(PROJECT / ha.WEBHOOKS_FILE)
    assert loaded.target_url == "https://YOUR-CONNECTOR-HOST/webhooks/hubspot"
    assert loaded.max_concurrent_requests == _doc(ha.WEBHOOKS_FILE)["config"]["settings"]["maxConcurrentRequests"]
    assert len(loaded.subscriptions) == len(NEEDED)


def test_given_project_readme_then_it_names_the_placeholder_and_where_the_credentials_are():
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    for needle in ("hs project upload", "YOUR-CONNECTOR-HOST", "Auth", "HUBSPOT_ACCESS_TOKEN",
                   "HUBSPOT_CLIENT_SECRET", "legacy private app"):
        assert needle in readme


# -- the validator finds what is wrong, naming file and key ---------------------------------------


@pytest.fixture
def project(tmp_path) -> Path:
    copy = tmp_path / "hubspot-app"
    shutil.copytree(PROJECT, copy)
    return copy


def _edit(root: Path, rel: str, change) -> None:
    path = root / rel
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(json.dumps(doc), encoding="utf-8")


def _wheres(problems) -> list[str]:
    return [p.where for p in problems]


def test_given_auth_type_missing_when_validated_then_problem_names_file_and_key(project):
    _edit(project, ha.APP_FILE, lambda d: d["config"]["auth"].pop("type"))
    problems = ha.validate_project(project)
    assert _wheres(problems) == ["src/app/app-hsmeta.json: config.auth.type"]
    assert problems[0].message == "missing"


def test_given_required_scope_missing_when_validated_then_problem_names_file_key_and_scope(project):
    _edit(project, ha.APP_FILE, lambda d: d["config"]["auth"]["requiredScopes"].remove("crm.schemas.contacts.write"))
    problems = ha.validate_project(project)
    assert _wheres(problems) == ["src/app/app-hsmeta.json: config.auth.requiredScopes"]
    assert "crm.schemas.contacts.write" in problems[0].message


def test_given_scope_only_optional_when_checked_then_it_counts_as_missing():
    app = {"config": {"auth": {"requiredScopes": [], "optionalScopes": [*REQUIRED_SCOPES, OWNERS_READ]}}}
    assert len(ha.required_scopes_declared(app)) == len(REQUIRED_SCOPES) + 1  # owners: for assignment


def test_given_property_subscription_missing_when_validated_then_problem_names_the_property(project):
    def drop(d):
        d["config"]["subscriptions"]["legacyCrmObjects"] = [
            e for e in d["config"]["subscriptions"]["legacyCrmObjects"] if e.get("propertyName") != "jobtitle"]
    _edit(project, ha.WEBHOOKS_FILE, drop)
    problems = ha.validate_project(project, subscriptions=NEEDED)
    assert _wheres(problems) == ["src/app/webhooks/webhooks-hsmeta.json: config.subscriptions.legacyCrmObjects"]
    assert "jobtitle" in problems[0].message


def test_given_inactive_subscription_when_checked_then_it_does_not_count(project):
    def deactivate(d):
        d["config"]["subscriptions"]["hubEvents"][0]["active"] = False
    _edit(project, ha.WEBHOOKS_FILE, deactivate)
    problems = ha.validate_project(project, subscriptions=NEEDED)
    assert _wheres(problems) == ["src/app/webhooks/webhooks-hsmeta.json: config.subscriptions.hubEvents"]


@pytest.mark.parametrize("rel, change, where", [
    (ha.PROJECT_FILE, lambda d: d.update(platformVersion="2025.1"), "hsproject.json: platformVersion"),
    (ha.PROJECT_FILE, lambda d: d.pop("srcDir"), "hsproject.json: srcDir"),
    (ha.APP_FILE, lambda d: d.update(uid="lead scoring!"), "src/app/app-hsmeta.json: uid"),
    (ha.APP_FILE, lambda d: d.update(type="private-app"), "src/app/app-hsmeta.json: type"),
    (ha.APP_FILE, lambda d: d["config"].update(distribution="marketplace"),
     "src/app/app-hsmeta.json: config.distribution"),
    (ha.APP_FILE, lambda d: d["config"]["auth"].update(type="oauth"), "src/app/app-hsmeta.json: config.auth.type"),
    (ha.APP_FILE, lambda d: d["config"].update(name=" padded "), "src/app/app-hsmeta.json: config.name"),
    (ha.WEBHOOKS_FILE, lambda d: d["config"]["settings"].pop("targetUrl"),
     "src/app/webhooks/webhooks-hsmeta.json: config.settings.targetUrl"),
    (ha.WEBHOOKS_FILE, lambda d: d["config"]["settings"].update(maxConcurrentRequests="10"),
     "src/app/webhooks/webhooks-hsmeta.json: config.settings.maxConcurrentRequests"),
    (ha.WEBHOOKS_FILE, lambda d: d["config"]["subscriptions"]["legacyCrmObjects"].append(
        {"subscriptionType": "contact.privacyDeletion", "active": True}),
     f"src/app/webhooks/webhooks-hsmeta.json: config.subscriptions.legacyCrmObjects[{_DECLARED}].subscriptionType"),
    (ha.WEBHOOKS_FILE, lambda d: d["config"]["subscriptions"]["legacyCrmObjects"][5].pop("propertyName"),
     "src/app/webhooks/webhooks-hsmeta.json: config.subscriptions.legacyCrmObjects[5].propertyName"),
    (ha.WEBHOOKS_FILE, lambda d: d.update(uid="lead-scoring-connector"), "src/app/webhooks/webhooks-hsmeta.json: uid"),
])
def test_given_one_thing_wrong_when_validated_then_exactly_that_file_and_key_are_named(project, rel, change, where):
    _edit(project, rel, change)
    assert _wheres(ha.validate_project(project)) == [where]


def test_given_file_missing_or_not_json_when_validated_then_the_file_is_named(project):
    (project / ha.WEBHOOKS_FILE).unlink()
    (project / ha.PROJECT_FILE).write_text("{not json", encoding="utf-8")
    problems = ha.validate_project(project)
    assert _wheres(problems) == [ha.PROJECT_FILE, ha.WEBHOOKS_FILE]
    assert problems[0].message.startswith("not JSON") and problems[1].message == "file missing"
