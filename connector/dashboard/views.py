"""The dashboard's pages. Every /dashboard URL passes the guard first (before routing, so not even
a 405 tells an unconfigured dashboard exists); the report pages read the store only."""

from __future__ import annotations

import logging
import os
import threading
import time

from flask import Blueprint, Flask, Response, abort, current_app, render_template, request

from connector.commands.report import load_report
from connector.core.rules import RuleSet
from connector.core.rules_file import load_rules
from connector.dashboard.auth import PREFIX, allowed, challenge, is_dashboard
from connector.dashboard.charts import charts
from connector.errors import ConnectorError, HubSpotError, NotFoundError
from connector.report.facts import ContactFacts
from connector.report.periods import window
from connector.settings import Settings
from connector.store import Store
from connector.webhooks.receiver import SETTINGS_KEY, app_store

dashboard = Blueprint("dashboard", __name__, url_prefix=PREFIX, template_folder="templates")
_RULES_KEY = "connector.dashboard.rules"
_GATEWAY_KEY = "connector.dashboard.gateway"
_FACTS_KEY = "connector.dashboard.facts"
_WARMING_KEY = "connector.dashboard.warming"  # the start-up read of the facts, while it runs
log = logging.getLogger("connector.dashboard")
_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    # Nothing runs and nothing is fetched: the page is HTML, inline CSS and inline SVG.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dashboard.before_app_request
def guard():
    """Off (no password): 404, as any unknown URL. On: 401 without the password."""
    if not is_dashboard(request.path):
        return None
    settings: Settings = current_app.extensions[SETTINGS_KEY]
    if not settings.dashboard_password:
        abort(404)
    if not allowed(settings.dashboard_password, request.headers.get("Authorization")):
        return Response("authentication required\n", 401, {**challenge(), **_SECURITY_HEADERS,
                                                           "Content-Type": "text/plain; charset=utf-8"})
    return None


@dashboard.after_request
def secure(response: Response) -> Response:
    response.headers.update(_SECURITY_HEADERS)
    return response


@dashboard.get("/")
def overview():
    settings: Settings = current_app.extensions[SETTINGS_KEY]
    since, until, by = request.args.get("since") or None, request.args.get("until") or None, request.args.get("by")
    by = by if by in ("week", "month") else "week"
    try:
        span = window(since, until, by, int(time.time() * 1000))
    except ConnectorError as exc:
        return render_template("overview.html", error=str(exc), form={"since": since or "", "until": until or "",
                                                                      "by": by}, report=None, charts=[]), 400
    started = time.perf_counter()
    store = app_store()
    report = load_report(store, _rules(settings), span, settings.spend_file, strict_spend=False,
                         facts=_facts(store))
    took_ms = (time.perf_counter() - started) * 1000
    form = {"since": since or report["window"]["since"], "until": until or report["window"]["until"], "by": by}
    return render_template("overview.html", report=report, charts=charts(report), form=form, error=None,
                           took_ms=took_ms)


@dashboard.get("/contact")
def contact():
    """What `connector explain` shows, for an id or an email (one HubSpot read; nothing written)."""
    from connector.commands.explain import explain_contact

    settings: Settings = current_app.extensions[SETTINGS_KEY]
    query = (request.args.get("q") or "").strip()
    found, error, status = None, None, 200
    if not query:
        error = "Give a contact id or an email address."
    elif not settings.hubspot_access_token:
        error, status = "The look-up reads the contact from HubSpot: set HUBSPOT_ACCESS_TOKEN on the web process.", 503
    else:
        try:
            found = explain_contact(_gateway(settings), app_store(), _rules(settings), query)
        except NotFoundError:
            error, status = f"No contact with {'email' if '@' in query else 'id'} {query} in HubSpot.", 404
        except HubSpotError as exc:
            error, status = f"HubSpot did not answer the look-up: {exc}", 502
    return render_template("contact.html", query=query, found=found, error=error), status


def warm(app: Flask) -> threading.Thread | None:
    """With the dashboard on, read every contact's facts once in the background as the web process
    starts, so its first page costs the report, not the read of 20,000 rows (~0.4 s). A failure is
    only logged: the first page then reads them itself."""
    settings: Settings = app.extensions[SETTINGS_KEY]
    if not settings.dashboard_password:
        return None

    def read() -> None:
        try:
            with app.app_context():
                _facts(app_store())
        except ConnectorError as exc:
            log.warning("dashboard facts not read ahead (%s); the first page reads them", type(exc).__name__)

    thread = threading.Thread(target=read, name="dashboard-warm-up", daemon=True)
    app.extensions[_WARMING_KEY] = thread
    thread.start()
    return thread


def _facts(store: Store) -> list[ContactFacts]:
    """Every contact's facts, kept between requests: a page reads only those kept since the last
    page (a sync or the worker wrote them), and all of them again only when the count says some
    were deleted. A page then costs the report, not the read."""
    warming = current_app.extensions.get(_WARMING_KEY)
    if warming is not None and warming is not threading.current_thread() and warming.is_alive():
        warming.join(30.0)  # the read under way serves this page too: one read, not two racing
    count, last = store.facts_summary()
    cached = current_app.extensions.get(_FACTS_KEY)
    if cached is not None and cached[0] == (count, last):
        return cached[2]
    known: dict[str, ContactFacts] | None = None
    if cached is not None and cached[0][1] is not None:
        known = dict(cached[1])
        known.update((f.contact_id, f) for f in store.facts_updated_since(cached[0][1]))
        if len(known) != count:
            known = None  # some contacts were deleted or merged away: read them all
    if known is None:
        known = {f.contact_id: f for f in store.all_facts()}
    facts = list(known.values())
    current_app.extensions[_FACTS_KEY] = ((count, last), known, facts)
    return facts


def _rules(settings: Settings) -> RuleSet:
    """The scoring config, loaded again only when its file changes."""
    path = settings.scoring_config
    stamp = (path, os.stat(path).st_mtime_ns)
    cached = current_app.extensions.get(_RULES_KEY)
    if cached is None or cached[0] != stamp:
        cached = (stamp, load_rules(path))
        current_app.extensions[_RULES_KEY] = cached
    return cached[1]


def _gateway(settings: Settings):
    from connector.gateway import Gateway

    gateway = current_app.extensions.get(_GATEWAY_KEY)
    if gateway is None:
        gateway = current_app.extensions[_GATEWAY_KEY] = Gateway.from_settings(settings)
    return gateway
