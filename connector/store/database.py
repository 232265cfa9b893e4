"""The engine, guarded connections and schema upgrades: what every part of the store stands on."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Any, Literal, Self

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from connector.errors import StoreError
from connector.store.schema import (
    SCHEMA_VERSION,
    alert_deliveries,
    alerts,
    assignments,
    contact_facts,
    engagement_cache,
    handoff_results,
    history_cache,
    history_reads,
    job_locks,
    metadata,
    rejected_events,
    runs,
    schema_meta,
    shadow_scores,
    sla_clocks,
)


class Database:
    """An engine for SQLite (default, one process) or PostgreSQL (several processes), whose
    database errors surface as StoreError. The store's parts are methods of its subclasses."""

    def __init__(self, url: str, *, pool_size: int | None = None, busy_timeout_s: float = 30.0,
                 engine: Engine | None = None):
        """`pool_size`: PostgreSQL connections kept per process (size it to the threads that use the
        store: gunicorn's --threads). `busy_timeout_s`: how long SQLite waits for the writer lock."""
        self.url = url
        self.engine = engine or _create_engine(url, pool_size, busy_timeout_s)
        self.dialect = self.engine.dialect.name

    @classmethod
    def from_settings(cls, settings: Any, **kw: Any) -> Self:
        settings.ensure_local_dirs()
        kw.setdefault("pool_size", settings.database_pool_size)
        return cls(settings.sqlalchemy_url, **kw)

    def upgrade(self) -> int:
        """Create or upgrade the schema to SCHEMA_VERSION; returns the version now in force."""
        with self._begin() as conn:
            if self.dialect == "postgresql":
                # Web, worker and release processes may start together: one upgrades at a time
                # (concurrent CREATE TABLE of the same name fails on PostgreSQL's catalog).
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key("schema upgrade")})
            metadata.create_all(conn, tables=[schema_meta])
            current = conn.execute(
                sa.select(schema_meta.c.value).where(schema_meta.c.key == "schema_version")
            ).scalar()
            version = int(current) if current else 0
            if version < 1:
                metadata.create_all(conn)
            if version < 2:
                metadata.create_all(conn, tables=[job_locks])
            if version > SCHEMA_VERSION:
                raise StoreError(f"the state store's schema is at version {version}, newer than this "
                                 f"connector's ({SCHEMA_VERSION}): run the newer connector, or restore its store")
            if version < 3:
                # By what is there, not by the stamp: an older release that started in between (a
                # rolling deploy, a rollback) may have stamped 2 over a store that already has it.
                if "holder" not in {c["name"] for c in sa.inspect(conn).get_columns("runs")}:
                    conn.execute(sa.text("ALTER TABLE runs ADD COLUMN holder VARCHAR(128)"))
                metadata.create_all(conn, tables=[rejected_events])
                if "ix_runs_status_kind" not in {i["name"] for i in sa.inspect(conn).get_indexes("runs")}:
                    sa.Index("ix_runs_status_kind", runs.c.status, runs.c.kind).create(conn)
            if version < 4:
                metadata.create_all(conn, tables=[history_cache, history_reads, shadow_scores, alerts,
                                                  alert_deliveries, assignments, sla_clocks])
            if version < 5:
                metadata.create_all(conn, tables=[handoff_results, contact_facts, engagement_cache])
            # Later versions append their DDL here: `if version < 6: ...`, each safe to run twice.
            if version < SCHEMA_VERSION:
                self._upsert(conn, schema_meta, {"key": "schema_version", "value": str(SCHEMA_VERSION)}, ["key"])
        return SCHEMA_VERSION

    def schema_version(self) -> int:
        with self._connect() as conn:
            if not sa.inspect(conn).has_table("schema_meta"):
                return 0
            value = conn.execute(sa.select(schema_meta.c.value).where(schema_meta.c.key == "schema_version")).scalar()
            return int(value) if value else 0

    def ping(self) -> None:
        with self._connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def file_identity(self) -> tuple[int, int] | None:
        """(device, inode) of the SQLite file, None for another database. A web process compares
        it with the one it opened: a deleted or replaced file must not be acknowledged into."""
        path = self.sqlite_path()
        if path is None:
            return None
        try:
            st = os.stat(path)
        except OSError:
            return (0, 0)  # gone
        return (st.st_dev, st.st_ino)

    def sqlite_path(self) -> str | None:
        url = self.engine.url
        if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
            return None
        return url.database

    def check_writable(self) -> None:
        """A write that changes nothing, committed: StoreError when the database is read-only,
        its disk full, or its file gone (a read alone would not tell)."""
        with self._begin() as conn:
            conn.execute(schema_meta.update().where(schema_meta.c.key == "schema_version")
                         .values(value=schema_meta.c.value))

    def dispose(self) -> None:
        self.engine.dispose()

    def count_rows(self, table_name: str) -> int:
        table = metadata.tables[table_name]
        with self._connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()

    def _connect(self):
        return _Guard(self.engine, begin=False)

    def _begin(self):
        return _Guard(self.engine, begin=True)

    def _upsert(self, conn: Connection, table: sa.Table, rows: dict | list[dict], keys: list[str],
                only_if_newer: sa.Column | None = None) -> None:
        rows = [rows] if isinstance(rows, dict) else rows
        insert = _dialect_insert(self.dialect)(table)
        update_cols = {c.name: insert.excluded[c.name] for c in table.columns if c.name not in keys}
        where = None if only_if_newer is None else only_if_newer <= insert.excluded[only_if_newer.name]
        conn.execute(insert.on_conflict_do_update(index_elements=keys, set_=update_cols, where=where), rows)


class _Guard:
    """A connection (or transaction) whose database errors surface as StoreError."""

    def __init__(self, engine: Engine, begin: bool):
        self.engine, self.begin = engine, begin

    def __enter__(self) -> Connection:
        try:
            self._conn = self.engine.connect()
            if self.begin and self.engine.dialect.name == "sqlite":
                # Take SQLite's write lock up front: a deferred transaction that reads, then
                # writes, lets two processes read the same queue rows before either claims them.
                self._conn.exec_driver_sql("BEGIN IMMEDIATE")
            return self._conn
        except sa.exc.SQLAlchemyError as exc:
            self._close()
            raise StoreError(f"state store unavailable: {_short(exc)}") from exc

    def __exit__(self, exc_type, exc, tb) -> Literal[False]:
        try:
            if self.begin:
                if exc is None:
                    self._conn.commit()
                else:
                    self._conn.rollback()
        except sa.exc.SQLAlchemyError as error:
            raise StoreError(f"state store failed: {_short(error)}") from error
        finally:
            self._close()
        if isinstance(exc, sa.exc.SQLAlchemyError):
            raise StoreError(f"state store failed: {_short(exc)}") from exc
        return False

    def _close(self) -> None:
        conn = getattr(self, "_conn", None)
        if conn is not None:
            conn.close()


def _lock_key(name: str) -> int:
    """A stable 64-bit key for PostgreSQL advisory locks."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def _create_engine(url: str, pool_size: int | None, busy_timeout_s: float) -> Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": busy_timeout_s})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            # WAL lets readers run beside the one writer; busy_timeout makes writers wait, not fail.
            # pysqlite's own implicit BEGIN is off: the store opens write transactions itself
            # (BEGIN IMMEDIATE, see _Guard) and reads run in autocommit.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            cur.close()

        return engine
    kw: dict[str, Any] = {"pool_pre_ping": True}
    if pool_size:
        kw.update(pool_size=pool_size, max_overflow=pool_size, pool_timeout=10)
    return sa.create_engine(url, **kw)


def _dialect_insert(dialect: str):
    """The dialect's INSERT with ON CONFLICT. Imported when first used: SQLAlchemy's postgresql
    package imports its driver modules, which cost every SQLite command ~0.28 s of CPU at start-up
    (importing the sync path: 0.74 -> 0.46 s)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql
        return postgresql.insert
    from sqlalchemy.dialects import sqlite
    return sqlite.insert


def _insert_ignore(dialect: str, table: sa.Table):
    return _dialect_insert(dialect)(table).on_conflict_do_nothing()


def _chunks(items: Sequence[str], size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:300]

