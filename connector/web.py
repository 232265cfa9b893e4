"""The web process: `create_app()`; POST /webhooks/hubspot, GET /healthz, GET /readyz.

The webhook endpoint only verifies, parses, enqueues and answers; the worker does the work. Order:
signature headers and timestamp -> body size -> HMAC over the raw body -> parse and validate -> one transaction
that stores every event, deduplicated by eventId -> 200 {"accepted": n, "duplicates": m, "ignored": k}.
401 signature, 400 malformed, 413 too large, 503 store unavailable (HubSpot retries 5xx).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Mapping

from flask import Blueprint, Flask, current_app, jsonify, request

from connector.errors import ConfigError, StoreError
from connector.settings import Settings
from connector.signature import (
    SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, check_headers, verify_v3,
)
from connector.store import EnqueueResult, Store
from connector.webhook_events import Delivery, PayloadError, parse_delivery

log = logging.getLogger("connector.web")

STORE_KEY = "connector.store"
SETTINGS_KEY = "connector.settings"
_READ_CHUNK = 64 * 1024

webhooks = Blueprint("webhooks", __name__)
health = Blueprint("health", __name__)


def create_app(test_config: Settings | Mapping[str, Any] | None = None) -> Flask:
    """Build the app and its one Store. `test_config`: a Settings, or a dict whose lowercase keys
    override the settings' defaults (validated like environment values; the environment itself is
    not read) and whose UPPERCASE keys go to `app.config` (e.g. CLOCK: a callable returning
    seconds). Without it, settings come from the environment."""
    settings, config = _settings(test_config)
    _configure_logging(settings)
    app = Flask(__name__)
    app.config.update(CLOCK=time.time)
    app.config.update(config)
    app.extensions[SETTINGS_KEY] = settings
    # HubSpot times out a delivery after a few seconds: better a fast 503 (it retries) than a
    # request that waits 30 s for SQLite's writer lock.
    store = Store.from_settings(settings, busy_timeout_s=2.0)
    app.extensions[STORE_KEY] = store
    app.extensions["connector.schema_ready"] = _try_upgrade(store)
    app.register_blueprint(webhooks)
    app.register_blueprint(health)
    return app


def _settings(test_config: Settings | Mapping[str, Any] | None) -> tuple[Settings, dict[str, Any]]:
    require = ("hubspot_client_secret",)
    if isinstance(test_config, Settings):
        if not test_config.hubspot_client_secret:
            raise ConfigError("HUBSPOT_CLIENT_SECRET is required to verify webhooks but not set")
        return test_config, {}
    overrides = dict(test_config or {})
    config = {k: v for k, v in overrides.items() if k.isupper()}
    if test_config is None:
        return Settings.from_env(require=require), config
    # Validate overrides exactly as environment values would be (and never read os.environ).
    env = {k.upper(): str(v) for k, v in overrides.items() if not k.isupper() and v is not None}
    return Settings.from_env(env, require=require), config


def _configure_logging(settings: Settings) -> None:
    """Under gunicorn nothing configures Python logging, so the per-delivery lines would vanish:
    give the root logger a stderr handler at LOG_LEVEL, unless someone (CLI, pytest) already did."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=settings.log_level.upper(),
                            format="%(asctime)s %(levelname)s %(name)s %(message)s")


def _try_upgrade(store: Store) -> bool:
    """Create the schema if needed. A store that is down now must not stop the app from starting:
    requests answer 503 (HubSpot retries) and /readyz says why until it is back."""
    try:
        store.upgrade()
        return True
    except StoreError as exc:
        log.warning("store not ready at start: %s", exc)
        return False


def _store() -> Store:
    store: Store = current_app.extensions[STORE_KEY]
    if not current_app.extensions["connector.schema_ready"]:
        store.upgrade()  # raises StoreError while the database is still down
        current_app.extensions["connector.schema_ready"] = True
    return store


def _now() -> float:
    clock: Callable[[], float] = current_app.config["CLOCK"]
    return clock()


# -- POST /webhooks/hubspot ---------------------------------------------------------------------


class _Rejected(Exception):
    def __init__(self, status: int, reason: str, public: str):
        self.status, self.reason, self.public = status, reason, public


@webhooks.post("/webhooks/hubspot")
def receive():
    started = time.perf_counter()
    try:
        delivery, result = _accept(current_app.extensions[SETTINGS_KEY])
    except _Rejected as rejected:
        log.warning("webhook rejected status=%d reason=%s took=%.1fms",
                    rejected.status, rejected.reason, _ms(started))
        return jsonify(error=rejected.public), rejected.status
    accepted, duplicates = (result.accepted, result.duplicates) if result else (0, 0)
    ignored = len(delivery.ignored)
    log.info("webhook delivery events=%d accepted=%d duplicates=%d ignored=%d took=%.1fms",
             len(delivery.events) + ignored, accepted, duplicates, ignored, _ms(started))
    return jsonify(accepted=accepted, duplicates=duplicates, ignored=ignored), 200


def _accept(settings: Settings) -> tuple[Delivery, EnqueueResult | None]:
    """Verify, read, parse, store; each failure a _Rejected with its status and reason."""
    signature = request.headers.get(SIGNATURE_HEADER)
    timestamp = request.headers.get(TIMESTAMP_HEADER)
    try:
        check_headers(signature, timestamp, _now())  # before reading a byte of the body
        body = _read_body(settings.webhook_max_body_bytes)
        verify_v3(secret=settings.hubspot_client_secret or "", method=request.method,
                  uri=called_uri(settings), body=body, signature=signature, timestamp=timestamp,
                  now_s=_now())
    except SignatureError as exc:
        raise _Rejected(401, exc.reason, "invalid signature") from None
    try:
        delivery = parse_delivery(body)
    except PayloadError as exc:
        raise _Rejected(400, str(exc), str(exc)) from None
    if not delivery.events:
        return delivery, None
    rows = [event.to_queue_row() for event in delivery.events]
    try:
        return delivery, _store().enqueue_events(rows, now=int(_now() * 1000))
    except StoreError as exc:
        raise _Rejected(503, str(exc), "store unavailable, retry later") from None


def _read_body(limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes: from Content-Length before reading, and
    while reading (a chunked body has no Content-Length)."""
    length = request.content_length
    if length is not None and length > limit:
        raise _Rejected(413, f"Content-Length {length} over {limit}", "body too large")
    stream = request.stream
    chunks, size = [], 0
    while True:
        chunk = stream.read(min(_READ_CHUNK, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise _Rejected(413, f"body over {limit} bytes", "body too large")
    return b"".join(chunks)


def called_uri(settings: Settings) -> str:
    """The URL HubSpot called, which is what it signed (scheme and host included).

    WEBHOOK_PUBLIC_URL when set: the target URL exactly as configured in HubSpot. Else, when
    TRUST_PROXY_HEADERS is on, scheme and host from X-Forwarded-Proto/-Host (first value: the one
    the outermost proxy saw). Else what this server saw. Path and query are the raw ones from the
    request line, not Werkzeug's re-quoted `request.url`: the escapes HubSpot decodes are decoded
    by `signature.decode_uri`, and any other escape must reach the HMAC untouched.
    """
    if settings.webhook_public_url:
        return settings.webhook_public_url
    environ = request.environ
    scheme, host = request.scheme, request.host
    if settings.trust_proxy_headers:
        scheme = _first(request.headers.get("X-Forwarded-Proto")) or scheme
        host = _first(request.headers.get("X-Forwarded-Host")) or host
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw and "://" in raw.split("?", 1)[0]:  # absolute-form request line: keep path and query
        raw = "/" + raw.split("://", 1)[1].partition("/")[2]
    if not raw:
        query = environ.get("QUERY_STRING", "")
        raw = request.full_path if query else request.path
    return f"{scheme}://{host}{raw}"


def _first(value: str | None) -> str:
    return value.split(",")[0].strip() if value else ""


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


# -- health -------------------------------------------------------------------------------------


@health.get("/healthz")
def healthz():
    """Alive: the process answers. Says nothing about the database (that is /readyz)."""
    return jsonify(status="alive"), 200


@health.get("/readyz")
def readyz():
    """Ready: the store answers and the scoring config loads. 503 with the reasons otherwise."""
    settings: Settings = current_app.extensions[SETTINGS_KEY]
    problems: dict[str, str] = {}
    try:
        _store().ping()
    except StoreError as exc:
        problems["store"] = str(exc)
    try:
        from connector.rules import load_rules  # lazily: rules are another module's business

        load_rules(settings.scoring_config)
    except ImportError as exc:
        problems["scoring_config"] = f"cannot load connector.rules: {exc}"
    except ConfigError as exc:
        problems["scoring_config"] = str(exc)
    if problems:
        return jsonify(status="not ready", problems=problems), 503
    return jsonify(status="ready"), 200
