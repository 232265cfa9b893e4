"""`connector calibrate`'s cache of contacts read with their property history, and its cursor."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from connector.store.database import Database
from connector.store.schema import history_cache, history_reads


@dataclass(frozen=True)
class HistoryRead:
    read_key: str
    started_at: int
    finished_at: int | None
    after: str | None
    contacts: int


class HistoryCache(Database):
    def history_read(self, read_key: str) -> HistoryRead | None:
        with self._connect() as conn:
            row = conn.execute(sa.select(history_reads).where(
                history_reads.c.read_key == read_key)).mappings().first()
        return HistoryRead(**row) if row else None

    def start_history_read(self, read_key: str, started_at: int) -> None:
        """A fresh read under `read_key`: what an earlier one cached is dropped."""
        with self._begin() as conn:
            conn.execute(history_cache.delete().where(history_cache.c.read_key == read_key))
            conn.execute(history_reads.delete().where(history_reads.c.read_key == read_key))
            conn.execute(history_reads.insert().values(read_key=read_key, started_at=started_at,
                                                       contacts=0))

    def save_history_page(self, read_key: str, records: Sequence[dict], after: str | None,
                          finished_at: int | None) -> None:
        """One page of records (each a dict with "id") and the cursor after it, in one
        transaction: a read killed between pages resumes at the first page it had not saved."""
        with self._begin() as conn:
            if records:
                conn.execute(history_cache.delete().where(
                    (history_cache.c.read_key == read_key)
                    & history_cache.c.contact_id.in_([str(r["id"]) for r in records])))
                conn.execute(history_cache.insert(), [
                    {"read_key": read_key, "contact_id": str(r["id"]),
                     "record": zlib.compress(json.dumps(r, separators=(",", ":")).encode(), 6)}
                    for r in records])
            conn.execute(history_reads.update().where(history_reads.c.read_key == read_key).values(
                after=after, finished_at=finished_at,
                contacts=history_reads.c.contacts + len(records)))

    def cached_history(self, read_key: str) -> Iterator[dict]:
        """Every cached record of `read_key`."""
        with self._connect() as conn:
            result = conn.execution_options(stream_results=True).execute(
                sa.select(history_cache.c.record).where(history_cache.c.read_key == read_key))
            for (blob,) in result:
                yield json.loads(zlib.decompress(blob))
