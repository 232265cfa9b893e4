"""Runs (one per sync or webhook batch) and the cursors that say where the next run starts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from connector.store.database import Database
from connector.store.locks import holder_is_dead, lock_holder
from connector.store.schema import cursors, runs


@dataclass(frozen=True)
class Run:
    id: int
    kind: str
    status: str
    started_at: int
    window_from: int | None
    checkpoint_id: str | None
    counts: dict



class Runs(Database):
    def get_cursor(self, name: str) -> int | None:
        with self._connect() as conn:
            return conn.execute(sa.select(cursors.c.value).where(cursors.c.name == name)).scalar()

    def set_cursor(self, name: str, value: int) -> None:
        with self._begin() as conn:
            self._upsert(conn, cursors, {"name": name, "value": int(value)}, ["name"])

    def start_run(self, kind: str, started_at: int, window_from: int | None, holder: str | None = None) -> Run:
        """A new run, held by `holder` (default: this process)."""
        with self._begin() as conn:
            run_id = conn.execute(
                runs.insert().values(kind=kind, status="running", started_at=started_at,
                                     window_from=window_from, counts="{}", holder=holder or lock_holder())
            ).inserted_primary_key[0]
        return Run(run_id, kind, "running", started_at, window_from, None, {})

    def unfinished_run(self, kind: str) -> Run | None:
        """The newest run of this kind if it did not finish (killed, failed, interrupted): resume it."""
        with self._connect() as conn:
            row = conn.execute(
                sa.select(runs).where(runs.c.kind == kind, runs.c.status != "trial").order_by(runs.c.id.desc()).limit(1)
            ).mappings().first()
        return _run(row) if row is not None and row["status"] in ("running", "failed", "died") else None

    def mark_dead_runs(self, kinds: Sequence[str], now: int, *, everyone: bool = False,
                       older_than: int | None = None) -> int:
        """Mark `died` the runs of `kinds` still 'running' whose process is gone: its holder is a
        process of this host that no longer exists, or (`older_than`, ms) it started before that,
        or (`everyone`) any: the caller holds the job lock, so no other can be live. They stay
        resumable (`unfinished_run`). Returns how many were marked."""
        with self._connect() as conn:  # a read first: the write lock only when there is work
            rows = conn.execute(sa.select(runs.c.id, runs.c.holder, runs.c.started_at).where(
                runs.c.kind.in_(list(kinds)), runs.c.status == "running")).all()
        dead = [rid for rid, holder, started in rows
                if everyone or holder_is_dead(holder) or (older_than is not None and started < older_than)]
        if dead:
            with self._begin() as conn:
                conn.execute(runs.update().where(runs.c.id.in_(dead), runs.c.status == "running").values(
                    status="died", finished_at=now, error="its process died before it finished"))
        return len(dead)

    def finish_run(self, run: Run, counts: Mapping[str, int], now: int, *, cursor_name: str | None,
                   status: str = "done", cursors_too: Mapping[str, int] | None = None) -> None:
        """Mark the run finished and, for sync runs, move the cursor to the run's start: never past
        it, and never back (a resumed old run must not make the next window start a day early).
        `cursors_too` are set in the same transaction."""
        with self._begin() as conn:
            conn.execute(runs.update().where(runs.c.id == run.id).values(
                status=status, finished_at=now, counts=json.dumps(dict(counts))))
            if cursor_name:
                current = conn.execute(sa.select(cursors.c.value).where(cursors.c.name == cursor_name)).scalar()
                if current is None or current < run.started_at:
                    self._upsert(conn, cursors, {"name": cursor_name, "value": run.started_at}, ["name"])
            for name, value in (cursors_too or {}).items():
                self._upsert(conn, cursors, {"name": name, "value": int(value)}, ["name"])

    def fail_run(self, run_id: int, error: str, now: int) -> None:
        with self._begin() as conn:
            conn.execute(runs.update().where(runs.c.id == run_id)
                         .values(status="failed", finished_at=now, error=error[:2000]))

    def last_run_started(self, kinds: Sequence[str], status: str = "done") -> int | None:
        with self._connect() as conn:
            return conn.execute(sa.select(sa.func.max(runs.c.started_at)).where(
                runs.c.kind.in_(list(kinds)), runs.c.status == status)).scalar()


def _run(r: Mapping[str, Any]) -> Run:
    return Run(r["id"], r["kind"], r["status"], r["started_at"], r["window_from"], r["checkpoint_id"],
               json.loads(r["counts"] or "{}"))

