"""Job locks, so that syncs never overlap across processes and machines."""

from __future__ import annotations

import contextlib
import os
import socket

import sqlalchemy as sa

from connector.store.database import Database, _insert_ignore, _lock_key
from connector.store.schema import job_locks


class Locks(Database):
    @contextlib.contextmanager
    def job_lock(self, name: str, holder: str, lease_ms: int = 6 * 3600 * 1000):
        """Yield True if this process now holds the lock `name` (and release it after), else False.

        PostgreSQL: a session advisory lock on a connection held for the job's duration, freed by
        the server if the process dies. SQLite: a lease row that expires after `lease_ms`.
        """
        import time

        if self.dialect == "postgresql":
            key = _lock_key(name)
            conn = self.engine.connect()
            try:
                got = bool(conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
                conn.commit()
                try:
                    yield got
                finally:
                    if got:
                        conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                        conn.commit()
            finally:
                conn.close()
            return
        now = int(time.time() * 1000)
        with self._begin() as conn:
            taken = conn.execute(_insert_ignore(self.dialect, job_locks).values(
                name=name, holder=holder, expires_at=now + lease_ms)).rowcount
            if not taken:
                current = conn.execute(sa.select(job_locks.c.holder).where(job_locks.c.name == name)).scalar()
                stale = (sa.or_(job_locks.c.expires_at < now, job_locks.c.holder == current)
                         if holder_is_dead(current) else job_locks.c.expires_at < now)
                taken = conn.execute(job_locks.update().where(job_locks.c.name == name, stale)
                                     .values(holder=holder, expires_at=now + lease_ms)).rowcount
        try:
            yield bool(taken)
        finally:
            if taken:
                with self._begin() as conn:
                    conn.execute(job_locks.delete().where(job_locks.c.name == name, job_locks.c.holder == holder))


def lock_holder() -> str:
    """This process, as a lock holder: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def holder_is_dead(holder: str | None) -> bool:
    """A holder on this host whose process is gone (killed): its SQLite lease can be taken over."""
    if not holder or ":" not in holder:
        return False
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False

