"""The HubSpot developer project in config/hubspot-app: load it and check it, without HubSpot.

`validate_project(root)` reads the three files and returns every problem found, each naming the
file and the key (`src/app/app-hsmeta.json: config.auth.requiredScopes: ...`); an empty list means
the project has the structure of HubSpot's published templates and declares what the code needs.
`validate_documents(...)` does the same on already-parsed documents (pure: no IO).

The structure checked, and where it comes from (platformVersion 2025.2):
- Templates: github.com/HubSpot/hubspot-project-components, folder 2025.2/:
  defaultFiles/hsproject.json (commit bb4e52ba4945dd3eeaf0481923c79ba847b8dea8),
  components/app/static-private/src/app/app-hsmeta.json (commit 17fbec67e522ab4f7af19ed246a49bbe300b0341),
  components/webhooks/src/app/webhooks/webhooks-hsmeta.json (commit 68ea506aef24c4609b7385b9733927a8c6a35048).
- App schema (uid <= 64 chars of letters, digits, `_`, `-`, `.`; `type` matches the parent folder;
  name <= 200 chars, no leading/trailing whitespace; description <= 8192 chars; distribution;
  auth): developers.hubspot.com/docs/apps/developer-platform/build-apps/app-configuration
- Static auth needs `distribution: private`:
  developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/overview
- Webhooks component (uid, type "webhooks", settings.targetUrl, settings.maxConcurrentRequests,
  subscriptions.crmObjects / legacyCrmObjects / hubEvents):
  developers.hubspot.com/docs/apps/developer-platform/add-features/configure-webhooks
- "webhooks components can only be in projects where config.distribution is private and
  config.auth.type is static": 2025.2/defaultFiles/AGENTS.md in the templates repository.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from connector.errors import Problem

PROJECT_DIR = Path(__file__).resolve().parent.parent / "config" / "hubspot-app"
PROJECT_FILE = "hsproject.json"
APP_FILE = "src/app/app-hsmeta.json"
WEBHOOKS_FILE = "src/app/webhooks/webhooks-hsmeta.json"

# The oldest platform version with *-hsmeta.json components, static auth and webhooks in projects
# (the templates repository's 2025.2 folder; 2025.1 used app.json / webhooks.json instead).
MIN_PLATFORM_VERSION = (2025, 2)
UID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
SUBSCRIPTION_LISTS = ("crmObjects", "legacyCrmObjects", "hubEvents")
# Legacy contact events allowed in legacyCrmObjects, and the one hub event; from the webhooks
# guide's subscription types (developers.hubspot.com/docs/api/webhooks, "Webhook subscriptions").
LEGACY_CONTACT_EVENTS = ("contact.creation", "contact.deletion", "contact.merge", "contact.restore",
                         "contact.propertyChange", "contact.associationChange")
HUB_EVENTS = ("contact.privacyDeletion",)


def load_documents(root: str | Path = PROJECT_DIR) -> tuple[dict[str, Any], list[Problem]]:
    """The project's files parsed (relative path -> document), and the ones that could not be."""
    root = Path(root)
    documents: dict[str, Any] = {}
    problems: list[Problem] = []
    for rel in (PROJECT_FILE, APP_FILE, WEBHOOKS_FILE):
        path = root / rel
        try:
            documents[rel] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            problems.append(Problem(rel, "file missing"))
        except OSError as exc:
            problems.append(Problem(rel, f"cannot read: {exc.strerror or exc}"))
        except json.JSONDecodeError as exc:
            problems.append(Problem(rel, f"not JSON: {exc}"))
    return documents, problems


def validate_project(root: str | Path = PROJECT_DIR, *, required_scopes: Iterable[str] | None = None,
                     subscriptions: Iterable[str] | None = None) -> list[Problem]:
    """Every problem with the project at `root` (empty: fine). See validate_documents."""
    documents, problems = load_documents(root)
    return problems + validate_documents(documents, required_scopes=required_scopes,
                                         subscriptions=subscriptions)


def validate_documents(documents: Mapping[str, Any], *, required_scopes: Iterable[str] | None = None,
                       subscriptions: Iterable[str] | None = None) -> list[Problem]:
    """Structure of each present document, plus what the code needs.

    `required_scopes` (default: connector.commands.setup.REQUIRED_SCOPES) must be in requiredScopes;
    `subscriptions` (default: none) are items like "contact.propertyChange:jobtitle" or
    "contact.deletion", as connector.commands.setup.webhook_subscriptions gives, that must be declared and
    active.
    """
    problems: list[Problem] = []
    if PROJECT_FILE in documents:
        problems += _check_project(documents[PROJECT_FILE])
    app = documents.get(APP_FILE)
    if APP_FILE in documents:
        problems += _check_app(app)
        problems += required_scopes_declared(app, required_scopes)
    if WEBHOOKS_FILE in documents:
        problems += _check_webhooks(documents[WEBHOOKS_FILE])
        if subscriptions is not None:
            problems += subscriptions_declared(documents[WEBHOOKS_FILE], subscriptions)
    uids = [(rel, d.get("uid")) for rel, d in documents.items() if rel != PROJECT_FILE and isinstance(d, dict)]
    seen: dict[str, str] = {}
    for rel, uid in uids:
        if isinstance(uid, str) and uid in seen:
            problems.append(Problem(f"{rel}: uid",
                                    f"{uid!r} is already the uid of {seen[uid]}: uids must be unique in the project"))
        elif isinstance(uid, str):
            seen[uid] = rel
    return problems


def required_scopes_declared(app_document: Any, required: Iterable[str] | None = None) -> list[Problem]:
    """A problem per scope in `required` (default: connector.commands.setup.REQUIRED_SCOPES and every
    scope a config section may need, so the shipped app serves every feature) that is not in the
    app's config.auth.requiredScopes; an empty list means every one is declared."""
    if required is None:
        from connector.commands.setup import REQUIRED_SCOPES, SECTION_SCOPES

        required = [*REQUIRED_SCOPES, *(s for scopes in SECTION_SCOPES.values() for s in scopes)]
    declared = _get(app_document, "config", "auth", "requiredScopes")
    declared = set(declared) if isinstance(declared, list) else set()
    where = f"{APP_FILE}: config.auth.requiredScopes"
    return [Problem(where, f"missing scope {scope} (the connector needs it)")
            for scope in required if scope not in declared]


def subscriptions_declared(webhooks_document: Any, needed: Iterable[str]) -> list[Problem]:
    """A problem per needed subscription ("contact.propertyChange:<name>" or "contact.<event>")
    that is not declared as an active entry of the webhooks file."""
    have: set[str] = set()
    lists = _get(webhooks_document, "config", "subscriptions")
    for list_key in SUBSCRIPTION_LISTS:
        entries = lists.get(list_key) if isinstance(lists, dict) else None
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict) or entry.get("active", True) is not True:
                continue
            kind = entry.get("subscriptionType")
            prop = entry.get("propertyName")
            have.add(f"{kind}:{prop}" if prop else str(kind))
    problems = []
    for item in needed:
        if item not in have:
            kind, _, prop = item.partition(":")
            key = "hubEvents" if kind in HUB_EVENTS else "legacyCrmObjects"
            what = f"{kind} for property {prop}" if prop else kind
            problems.append(Problem(f"{WEBHOOKS_FILE}: config.subscriptions.{key}",
                                    f"missing active subscription {what} (the default rules need it)"))
    return problems


# -- per file -----------------------------------------------------------------------------------


def _check_project(doc: Any) -> list[Problem]:
    c = _Checker(PROJECT_FILE)
    if not c.object(doc, "(top level)"):
        return c.problems
    c.string(doc, "name")
    c.string(doc, "srcDir")
    version = c.string(doc, "platformVersion")
    if version is not None:
        match = re.fullmatch(r"(\d{4})\.(\d+)", version)
        if not match:
            c.bad("platformVersion", f"must look like 2025.2, got {version!r}")
        elif (int(match[1]), int(match[2])) < MIN_PLATFORM_VERSION:
            c.bad("platformVersion", f"{version} is older than 2025.2: *-hsmeta.json components need 2025.2 or later")
    if doc.get("srcDir") not in (None, "src"):
        c.bad("srcDir", f"this project keeps its components under src/, got {doc.get('srcDir')!r}")
    return c.problems


def _check_app(doc: Any) -> list[Problem]:
    c = _Checker(APP_FILE)
    if not c.object(doc, "(top level)"):
        return c.problems
    c.uid(doc)
    kind = c.string(doc, "type")
    if kind is not None and kind != "app":
        c.bad("type", f"must be 'app' (the parent folder's name), got {kind!r}")
    config = doc.get("config")
    if not c.object(config, "config"):
        return c.problems
    name = c.string(config, "name", "config.")
    if name is not None and (len(name) > 200 or name != name.strip()):
        c.bad("config.name", "at most 200 characters, no leading or trailing whitespace")
    description = c.string(config, "description", "config.")
    if description is not None and len(description) > 8192:
        c.bad("config.description", "at most 8192 characters")
    distribution = c.string(config, "distribution", "config.")
    if distribution is not None and distribution != "private":
        c.bad("config.distribution", f"must be 'private' (one account, static token), got {distribution!r}")
    auth = config.get("auth")
    if c.object(auth, "config.auth"):
        auth_type = c.string(auth, "type", "config.auth.")
        if auth_type is not None and auth_type != "static":
            c.bad("config.auth.type", f"must be 'static' (one access token for the account), got {auth_type!r}")
        required = c.scopes(auth, "requiredScopes", "config.auth.", required=True)
        optional = c.scopes(auth, "optionalScopes", "config.auth.", required=False)
        c.scopes(auth, "conditionallyRequiredScopes", "config.auth.", required=False)
        for scope in sorted(set(required) & set(optional)):
            c.bad("config.auth.optionalScopes", f"{scope} is also in requiredScopes: list it once")
    for key in ("permittedUrls", "support"):
        if key in config and not isinstance(config[key], dict):
            c.bad(f"config.{key}", "must be an object")
    urls = config.get("permittedUrls")
    if isinstance(urls, dict):
        for key, value in urls.items():
            if not isinstance(value, list) or not all(isinstance(u, str) for u in value):
                c.bad(f"config.permittedUrls.{key}", "must be a list of URLs")
    return c.problems


def _check_webhooks(doc: Any) -> list[Problem]:
    c = _Checker(WEBHOOKS_FILE)
    if not c.object(doc, "(top level)"):
        return c.problems
    c.uid(doc)
    kind = c.string(doc, "type")
    if kind is not None and kind != "webhooks":
        c.bad("type", f"must be 'webhooks', got {kind!r}")
    config = doc.get("config")
    if not c.object(config, "config"):
        return c.problems
    settings = config.get("settings")
    if c.object(settings, "config.settings"):
        target = c.string(settings, "targetUrl", "config.settings.")
        if target is not None and not target.startswith("https://"):
            # HubSpot calls a "publicly available and secure (HTTPS) endpoint"
            # (developers.hubspot.com/docs/api/webhooks).
            c.bad("config.settings.targetUrl", f"must be an https:// URL, got {target!r}")
        concurrency = settings.get("maxConcurrentRequests")
        if concurrency is None:
            c.bad("config.settings.maxConcurrentRequests", "missing")
        elif not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
            c.bad("config.settings.maxConcurrentRequests", f"must be a positive whole number, got {concurrency!r}")
    lists = config.get("subscriptions")
    if not c.object(lists, "config.subscriptions"):
        return c.problems
    for key in sorted(set(lists) - set(SUBSCRIPTION_LISTS)):
        c.bad(f"config.subscriptions.{key}", f"unknown list (expected {', '.join(SUBSCRIPTION_LISTS)})")
    for list_key in SUBSCRIPTION_LISTS:
        entries = lists.get(list_key, [])
        if not isinstance(entries, list):
            c.bad(f"config.subscriptions.{list_key}", "must be a list")
            continue
        for i, entry in enumerate(entries):
            c.subscription(list_key, i, entry)
    return c.problems


class _Checker:
    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []

    def bad(self, key: str, message: str) -> None:
        self.problems.append(Problem(f"{self.file}: {key}", message))

    def object(self, value: Any, key: str) -> bool:
        if value is None:
            self.bad(key, "missing")
            return False
        if not isinstance(value, dict):
            self.bad(key, "must be an object")
            return False
        return True

    def string(self, doc: dict, key: str, prefix: str = "") -> str | None:
        value = doc.get(key)
        if value is None:
            self.bad(prefix + key, "missing")
            return None
        if not isinstance(value, str) or not value.strip():
            self.bad(prefix + key, f"must be a non-empty string, got {value!r}")
            return None
        return value

    def uid(self, doc: dict) -> None:
        uid = self.string(doc, "uid")
        if uid is not None and not UID_PATTERN.fullmatch(uid):
            self.bad("uid", f"at most 64 letters, digits, '_', '-' or '.', got {uid!r}")

    def scopes(self, auth: dict, key: str, prefix: str, *, required: bool) -> list[str]:
        value = auth.get(key)
        if value is None:
            if required:
                self.bad(prefix + key, "missing")
            return []
        if not isinstance(value, list) or not all(isinstance(s, str) and s for s in value):
            self.bad(prefix + key, "must be a list of scope names")
            return []
        for scope in sorted({s for s in value if value.count(s) > 1}):
            self.bad(prefix + key, f"{scope} is listed twice")
        return list(value)

    def subscription(self, list_key: str, i: int, entry: Any) -> None:
        where = f"config.subscriptions.{list_key}[{i}]"
        if not isinstance(entry, dict):
            self.bad(where, "must be an object")
            return
        kind = entry.get("subscriptionType")
        if not isinstance(kind, str):
            self.bad(where + ".subscriptionType", "missing")
            return
        if list_key == "crmObjects":
            if not kind.startswith("object."):
                self.bad(where + ".subscriptionType", f"crmObjects takes object.* types, got {kind!r}")
            if not isinstance(entry.get("objectType"), str):
                self.bad(where + ".objectType", "missing")
        elif list_key == "legacyCrmObjects":
            if kind.startswith("contact.") and kind not in LEGACY_CONTACT_EVENTS:
                self.bad(where + ".subscriptionType", f"{kind!r} is not a legacy contact event"
                         + (" (privacy deletion goes in hubEvents)" if kind in HUB_EVENTS else ""))
            elif "." not in kind or kind.startswith("object."):
                self.bad(where + ".subscriptionType", f"legacyCrmObjects takes <object>.<event> types, got {kind!r}")
        elif kind not in HUB_EVENTS and kind.startswith("contact."):
            self.bad(where + ".subscriptionType", f"{kind!r} is not a hub event (expected {', '.join(HUB_EVENTS)})")
        if kind.endswith(".propertyChange") and not (isinstance(entry.get("propertyName"), str)
                                                     and entry["propertyName"]):
            self.bad(where + ".propertyName", "required for a propertyChange subscription")
        if "active" in entry and not isinstance(entry["active"], bool):
            self.bad(where + ".active", "must be true or false")


def _get(doc: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc
