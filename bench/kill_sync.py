"""kill -9 a sync at random points, then run again: issue 4, "`kill -9` of a sync at random points
(10 trials), then a new run: final state equal to an uninterrupted run, no duplicate audit rows."

Reference: an uninterrupted `connector sync --full` after `connector setup` (own sandbox, own store),
timed; its portal state, audit rows and batch updates are the yardstick. Each trial: a fresh
sandbox of the same portal and a fresh store, `connector setup`, `connector sync --full` as a child
process SIGKILLed at a seeded random point: odd trials after a delay (trial i draws in [i, i+1)
tenths of the reference time, so the kills cover the run from start-up to the last writes), even
trials the moment the sandbox has received a random k-th batch update (stats polled every 2 ms),
where writes sent but not yet confirmed are likeliest; then `connector sync --full`
again to completion (what an operator or the scheduler does: a plain `connector sync` after a
killed first run resumes the same unfinished full run). Checked per trial:
- every contact's decided properties equal the reference's (read back through the API);
- `SELECT contact_id, property, count(*) FROM audit GROUP BY 1, 2 HAVING count(*) > 1` is empty,
  audit and score-history rows number as many as the reference's, the outbox is empty;
- no contact written twice: each process runs with its own frozen wall clock (the killed one at
  T, the new run at T + 10 ms), so every write carries a distinct `lsc_last_scored`, and the
  sandbox's property history shows a contact written twice as two entries;
- a full pass reads through both budgets (search pages down from the top, list pages up from the
  bottom, issue 14): a killed run that had committed pages is resumed from both committed ends, so
  the run after it reads fewer contacts than the portal holds (its reads by path are printed).
Both clocks are frozen (see _harness.connector_command) so scores do not decay between the runs.
Optionally one more trial with the store on PostgreSQL (`--postgres-url`; its tables are dropped).

    .venv/bin/python bench/kill_sync.py [--contacts 4000] [--trials 10] [--postgres-url postgresql://...]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

import sqlalchemy as sa

from _harness import (
    compare_portals,
    connector_env,
    machine,
    read_history,
    read_portal,
    reset_stats,
    run_connector,
    sandbox_process,
    spawn_connector,
    stats,
    temp_db,
    total_requests,
)

UPDATE = "POST /crm/v3/objects/contacts/batch/update"
READ = "POST /crm/v3/objects/contacts/batch/read"
SEARCH = "POST /crm/v3/objects/contacts/search"
LIST = "GET /crm/v3/objects/contacts"
DUPLICATES = sa.text("SELECT contact_id, property, count(*) FROM audit "
                     "GROUP BY contact_id, property HAVING count(*) > 1")


def store_state(url: str) -> dict:
    """What the connector's store holds: row counts, duplicate audit groups, runs."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            def count(table: str) -> int:
                return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            names = set(sa.inspect(conn).get_table_names())
            if "runs" not in names:
                return {"tables": False}
            runs = [dict(r._mapping) for r in conn.execute(
                sa.text("SELECT id, kind, status, checkpoint_id FROM runs ORDER BY id"))]
            return {"tables": True, "audit": count("audit"), "score_history": count("score_history"),
                    "outbox": count("outbox"), "contact_state": count("contact_state"),
                    "write_failures": count("write_failures"),
                    "duplicates": [tuple(r) for r in conn.execute(DUPLICATES)], "runs": runs}
    finally:
        engine.dispose()


def written_twice(history: dict[str, list[dict]]) -> dict[str, int]:
    """Contacts whose lsc_last_scored was set more than once through the API: {id: times}."""
    return {cid: n for cid, entries in history.items()
            if (n := sum(1 for e in entries if e.get("sourceType") != "IMPORT")) > 1}


def resumed_with_progress(run: dict | None) -> bool:
    """The killed run was an unfinished full pass that had committed pages of either path (its
    checkpoint, connector.sync._Checkpoint: "HIGH:TOKEN" or "HIGH=LOW", names an end). A run
    already done when the process was killed (sending its alerts, exiting) is no resume: the next
    `sync --full` is a new full pass, which reads every contact (and writes none)."""
    checkpoint = (run or {}).get("checkpoint_id") or ""
    return run is not None and run.get("kind") == "full" and run.get("status") != "done" \
        and checkpoint not in ("", ":", "=")


def drop_tables(url: str) -> None:
    from connector.store import Store
    from connector.store.schema import metadata

    store = Store(url)
    try:
        metadata.drop_all(store.engine)
    finally:
        store.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=7, help="the portal's seed")
    parser.add_argument("--tier", default="professional")
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--kill-seed", type=int, default=1, help="seed of the kill delays")
    parser.add_argument("--postgres-url",
                        help="also one trial with DATABASE_URL on PostgreSQL (its connector tables are dropped)")
    parser.add_argument("--timeout", type=float, default=120.0, help="per connector command, seconds")
    args = parser.parse_args()
    began = time.monotonic()
    print(f"machine: {machine()}")
    portal_now = float(int(time.time()))
    frozen = portal_now + 60
    common = ("--contacts", str(args.contacts), "--seed", str(args.seed), "--tier", args.tier)
    print(f"portal: {args.contacts} contacts, seed {args.seed}, tier {args.tier}, generated as of {portal_now:.0f}; "
          f"connector clocks frozen at +60 s (killed run) and +60.01 s (the run after)")

    # -- the uninterrupted reference -----------------------------------------------------------
    ref_db = temp_db()
    with sandbox_process(*common, now=portal_now) as url:
        env = connector_env(url, ref_db, BENCH_FROZEN_EPOCH=str(frozen))
        run_connector(env, "setup", timeout=args.timeout)
        reset_stats(url)
        ref_took, done = run_connector(env, "sync", "--full", "--json", timeout=args.timeout)
        ref_stats = stats(url)
        ref_summary = json.loads(done.stdout)
        expected, _ = read_portal(url)
        ref_twice = written_twice(read_history(url, "lsc_last_scored")[0])
    ref_store = store_state(f"sqlite:///{ref_db}")
    changed_props = ref_store["audit"]
    print(f"reference: took {ref_took:.2f}s, written={ref_summary['written']}, requests {total_requests(ref_stats)} "
          f"({ref_stats['requests'].get(SEARCH, 0)} searches, {ref_stats['requests'].get(UPDATE, 0)} batch updates), "
          f"audit rows {ref_store['audit']}, duplicate audit groups {len(ref_store['duplicates'])}, "
          f"score rows {ref_store['score_history']}, contacts written twice {len(ref_twice)}")

    rng = random.Random(args.kill_seed)
    ref_updates = ref_stats["requests"].get(UPDATE, 0)
    # Odd trials: a random instant (the run idles between bursts of 5 searches a second, so most
    # instants fall in a wait). Even trials: the instant the sandbox has received a random k-th
    # batch update, when written-but-unconfirmed outbox rows are most likely.
    plans = []
    for i in range(args.trials):
        delay = ref_took * (i + rng.random()) / args.trials
        kth = rng.randint(1, max(1, ref_updates - 1)) if i % 2 else None
        plans.append((f"{i + 1}", delay, kth, None))
    if args.postgres_url:
        plans.append(("pg", ref_took * (0.3 + 0.6 * rng.random()), rng.randint(1, max(1, ref_updates - 1)),
                      args.postgres_url))

    failures: list[str] = []
    rows = []
    for name, delay, kth, pg_url in plans:
        db_url = pg_url or f"sqlite:///{temp_db()}"
        if pg_url:
            drop_tables(pg_url)
        with sandbox_process(*common, now=portal_now) as url:
            env = connector_env(url, "unused", BENCH_FROZEN_EPOCH=str(frozen), DATABASE_URL=db_url)
            run_connector(env, "setup", timeout=args.timeout)
            reset_stats(url)
            with tempfile.TemporaryFile("w+") as err:
                proc = spawn_connector(env, "sync", "--full", "--json", stdout=subprocess.DEVNULL, stderr=err)
                started = time.monotonic()
                if kth is None:
                    time.sleep(max(0.0, delay - (time.monotonic() - started)))
                else:
                    while proc.poll() is None and stats(url)["requests"].get(UPDATE, 0) < kth \
                            and time.monotonic() - started < args.timeout:
                        time.sleep(0.002)
                killed = proc.poll() is None
                if killed:
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=args.timeout)
                at = time.monotonic() - started
            before = stats(url)
            at_kill = store_state(db_url)
            reset_stats(url)
            env_next = dict(env, BENCH_FROZEN_EPOCH=str(frozen + 0.01))
            took, done = run_connector(env_next, "sync", "--full", "--json", check=False, timeout=args.timeout)
            after = stats(url)
            if done.returncode != 0:
                failures.append(f"trial {name}: the run after the kill exited {done.returncode}: {done.stderr[-500:]}")
                continue
            summary = json.loads(done.stdout)
            actual, _ = read_portal(url)
            twice = written_twice(read_history(url, "lsc_last_scored")[0])
        final = store_state(db_url)
        if pg_url:
            drop_tables(pg_url)
        diffs = compare_portals(expected, actual)
        run_at_kill = at_kill.get("runs", [])[-1:] if at_kill.get("tables") else []
        row = {
            "trial": name, "store": "postgresql" if pg_url else "sqlite", "delay_s": round(delay, 2), "kth_update": kth,
            "killed_at_s": round(at, 2) if killed else None,
            "updates_before_kill": before["requests"].get(UPDATE, 0),
            "outbox_at_kill": at_kill.get("outbox"), "audit_at_kill": at_kill.get("audit"),
            "run_at_kill": run_at_kill[0] if run_at_kill else None,
            "recovered": summary.get("recovered"), "written_after": summary.get("written"),
            "updates_after": after["requests"].get(UPDATE, 0), "reads_after": after["requests"].get(READ, 0),
            "searches_after": after["requests"].get(SEARCH, 0), "lists_after": after["requests"].get(LIST, 0),
            "pulled_after": summary.get("pulled"), "read_paths_after": summary.get("reads", {}),
            "took_after_s": round(took, 2),
            "mismatches": len(diffs), "duplicate_audit_groups": len(final["duplicates"]),
            "audit": final["audit"], "score_history": final["score_history"], "outbox": final["outbox"],
            "write_failures": final["write_failures"], "written_twice": len(twice),
            "runs": [(r["id"], r["kind"], r["status"]) for r in final["runs"]],
        }
        rows.append(row)
        total_updates = row["updates_before_kill"] + row["updates_after"]
        state = (f"run {row['run_at_kill']['id']} {row['run_at_kill']['status']}, checkpoint "
                 f"{row['run_at_kill']['checkpoint_id']}"
                 if row["run_at_kill"] else "no run row yet")
        when = f"kill at {delay:.2f}s" if kth is None else f"kill at batch update #{kth} ({at:.2f}s)"
        print(f"trial {name:>3} [{row['store']}]: {when} ({'killed' if killed else 'had already finished'}; "
              f"{row['updates_before_kill']} batch updates sent, {state}, outbox {row['outbox_at_kill']}, "
              f"audit {row['audit_at_kill']}) -> new run: recovered {row['recovered']}, "
              f"written {row['written_after']}, {row['updates_after']} batch updates + "
              f"{row['reads_after']} batch reads + {row['searches_after']} searches + {row['lists_after']} list pages "
              f"(contacts read {row['pulled_after']}: {row['read_paths_after']}), "
              f"{took:.2f}s | batch updates in all {total_updates} "
              f"(reference {ref_stats['requests'].get(UPDATE, 0)}), "
              f"mismatches {len(diffs)}, duplicate audit groups {len(final['duplicates'])}, audit {final['audit']}/"
              f"{changed_props}, score rows {final['score_history']}/{ref_store['score_history']}, "
              f"outbox {final['outbox']}, written twice {len(twice)}", flush=True)
        for line in diffs[:5]:
            print(f"      {line}")
        for dup in final["duplicates"][:5]:
            print(f"      duplicate audit rows: {dup}")
        for cid, n in list(twice.items())[:5]:
            print(f"      contact {cid}: lsc_last_scored written {n} times")
        problems = []
        if diffs:
            problems.append(f"{len(diffs)} mismatches")
        if final["duplicates"]:
            problems.append(f"{len(final['duplicates'])} duplicate audit groups")
        if final["audit"] != ref_store["audit"]:
            problems.append(f"audit rows {final['audit']} != reference {ref_store['audit']}")
        if final["score_history"] != ref_store["score_history"]:
            problems.append(f"score rows {final['score_history']} != reference {ref_store['score_history']}")
        if final["outbox"]:
            problems.append(f"outbox not empty ({final['outbox']})")
        if twice:
            problems.append(f"{len(twice)} contacts written twice")
        if resumed_with_progress(row["run_at_kill"]) and row["pulled_after"] >= args.contacts:
            problems.append(f"the resumed pass read all {row['pulled_after']} contacts again")
        if any(status != "done" for _, _, status in row["runs"]):
            problems.append(f"runs not all done: {row['runs']}")
        failures += [f"trial {name}: {p}" for p in problems]

    killed = [r for r in rows if r["killed_at_s"] is not None]
    print(f"summary: {len(rows)} trials ({len(killed)} killed mid-run), "
          f"{sum(r['mismatches'] == 0 for r in rows)} with final state equal to the reference, "
          f"{sum(r['duplicate_audit_groups'] == 0 for r in rows)} without duplicate audit rows, "
          f"{sum(r['outbox'] == 0 for r in rows)} with an empty outbox, "
          f"{sum(r['written_twice'] == 0 for r in rows)} without a contact written twice; "
          f"batch updates after the kill: {[r['updates_after'] for r in rows]}, "
          f"writes recovered from the outbox: {[r['recovered'] for r in rows]}")
    print(f"took {time.monotonic() - began:.1f}s in all")
    if failures:
        print("FAIL:\n  " + "\n  ".join(failures))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
