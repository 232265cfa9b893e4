"""POST /webhooks/hubspot: verify, parse, enqueue, answer. Never calls HubSpot, never scores.

Order: signature headers and timestamp -> body size -> HMAC over the raw body -> parse
and validate -> one transaction that stores every well-formed event, deduplicated by eventId -> 200
{"accepted": n, "duplicates": m, "ignored": k} (+ "rejected" and "errors" when some events were
malformed: they are left out and logged, one WARNING line each with index, field and reason, never
a value). 401 signature, 400 malformed body or framing (nothing stored), 413 too large, 503 store
unavailable (HubSpot retries 5xx). The worker does the work (connector.consumer).

Nothing here logs a client's bytes: a failure to read the body is logged by its exception's class
name only, and parse errors name the field and the JSON type, never the value.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from flask import Blueprint, current_app, jsonify, request

from connector.errors import StoreError
from connector.settings import Settings
from connector.store import EnqueueResult, Store
from connector.webhooks.events import Delivery, PayloadError, read_delivery
from connector.webhooks.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, check_headers, verify_v3

log = logging.getLogger("connector.web")

# Where the app factory (connector.web.create_app) keeps what the endpoints share.
STORE_KEY = "connector.store"
SETTINGS_KEY = "connector.settings"
SCHEMA_READY_KEY = "connector.schema_ready"
STORE_FILE_KEY = "connector.store_file"  # (device, inode) of the SQLite file when it was opened
_READ_CHUNK = 64 * 1024
# Per delivery: how many malformed events get their own log line and appear in the answer's
# "errors" (HubSpot sends at most 100 events a delivery; the count is always complete).
_REJECTED_SHOWN = 20

webhooks = Blueprint("webhooks", __name__)


def app_store() -> Store:
    """The app's one Store, its schema created on first use if the database was down at start.

    A SQLite file deleted or replaced after this process opened it raises StoreError (so 503:
    HubSpot keeps the delivery and retries): acknowledging into a file that no longer exists
    would lose the events at the next restart."""
    store: Store = current_app.extensions[STORE_KEY]
    if not current_app.extensions[SCHEMA_READY_KEY]:
        store.upgrade()  # raises StoreError while the database is still down
        current_app.extensions[SCHEMA_READY_KEY] = True
        current_app.extensions[STORE_FILE_KEY] = store.file_identity()
    opened = current_app.extensions.get(STORE_FILE_KEY)
    if opened is not None and store.file_identity() != opened:
        raise StoreError(f"the state store file {store.sqlite_path()} was deleted or replaced after this process "
                         "opened it: deliveries are refused (HubSpot retries them) until the web process restarts")
    return store


def _now() -> float:
    clock: Callable[[], float] = current_app.config["CLOCK"]
    return clock()


class _Rejected(Exception):
    def __init__(self, status: int, reason: str, public: str):
        self.status, self.reason, self.public = status, reason, public


@webhooks.post("/webhooks/hubspot")
def receive():
    started = time.perf_counter()
    try:
        delivery, result = _accept(current_app.extensions[SETTINGS_KEY])
    except _Rejected as refusal:
        log.warning("webhook rejected status=%d reason=%s took=%.1fms",
                    refusal.status, refusal.reason, _ms(started))
        return jsonify(error=refusal.public), refusal.status
    except Exception as exc:  # a bug of ours: 500, so HubSpot retries; the log names the frames
        # and the error's class, not its message, which may quote the delivery
        log.error("webhook failed status=500 error=%s at %s took=%.1fms", type(exc).__name__, _frames(exc),
                  _ms(started))
        return jsonify(error="internal error, retry later"), 500
    accepted, duplicates = (result.accepted, result.duplicates) if result else (0, 0)
    ignored, rejected = len(delivery.ignored), len(delivery.rejected)
    for bad in delivery.rejected[:_REJECTED_SHOWN]:
        log.warning("webhook event rejected index=%d where=%s reason=%s", bad.index, bad.where, bad.reason)
    if rejected > _REJECTED_SHOWN:
        log.warning("webhook event rejected: %d more in this delivery", rejected - _REJECTED_SHOWN)
    log.info("webhook delivery events=%d accepted=%d duplicates=%d ignored=%d took=%.1fms rejected=%d",
             len(delivery.events) + ignored + rejected, accepted, duplicates, ignored, _ms(started), rejected)
    answer: dict[str, object] = {"accepted": accepted, "duplicates": duplicates, "ignored": ignored}
    if rejected:
        answer.update(rejected=rejected, errors=[str(bad) for bad in delivery.rejected[:_REJECTED_SHOWN]])
    return jsonify(answer), 200


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
        delivery = read_delivery(body)
    except PayloadError as exc:
        raise _Rejected(400, str(exc), str(exc)) from None
    if not delivery.events and not delivery.rejected:
        return delivery, None
    rows = [event.to_queue_row() for event in delivery.events]
    notes = [(bad.where, bad.reason) for bad in delivery.rejected]  # where and why, never a value
    try:
        return delivery, app_store().enqueue_events(rows, now=int(_now() * 1000), rejected=notes)
    except StoreError as exc:
        raise _Rejected(503, str(exc), "store unavailable, retry later") from None


def _read_body(limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes: from Content-Length before reading, and
    while reading (a chunked body has no Content-Length; with both headers Transfer-Encoding wins,
    as RFC 9112 section 6.3 says and Werkzeug and waitress do). A body the server cannot read (bad
    chunked framing, the client gone) is a 400 logged by the error's class name only: servers'
    framing errors quote the client's bytes in their messages."""
    length = request.content_length
    if length is not None and length > limit:
        raise _Rejected(413, f"Content-Length {length} over {limit}", "body too large")
    stream = request.stream
    chunks, size = [], 0
    while True:
        try:
            chunk = stream.read(min(_READ_CHUNK, limit + 1 - size))
        except Exception as exc:  # any server's framing error or disconnect: the client's fault
            raise _Rejected(400, f"body could not be read ({type(exc).__name__})", "body could not be read") from None
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


def _frames(exc: BaseException) -> str:
    """Where `exc` was raised: the innermost frames as file:line function, no values."""
    frames = traceback.extract_tb(exc.__traceback__)[-4:]
    return " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(frames))


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
