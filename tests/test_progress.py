"""The progress line: done of total, rate, elapsed and time left."""

from __future__ import annotations

import io

from connector.progress import ProgressBar
from tests.support.clock import FakeClock


def test_given_a_total_then_the_line_shows_share_rate_and_time_left():
    bar = ProgressBar(io.StringIO(), clock=FakeClock(0.0))
    assert bar.render(5_000, 20_000, 10.0) == (
        "[######------------------] 5,000/20,000 contacts  25%  500/s  00:10 elapsed, 00:30 left ")


def test_given_no_total_yet_then_the_line_counts_without_a_bar():
    bar = ProgressBar(io.StringIO(), clock=FakeClock(0.0))
    assert bar.render(400, 0, 2.0) == "400 contacts  200/s  00:02 "


def test_given_frequent_updates_then_it_redraws_at_most_five_times_a_second():
    clock, out = FakeClock(0.0), io.StringIO()
    bar = ProgressBar(out, clock=clock)
    for _ in range(10):
        bar.update(1, 10)
        clock.advance(0.05)
    assert out.getvalue().count("\r") == 3  # at 0.0, 0.2 and 0.4 s
    bar.close()
    assert out.getvalue().endswith("\n")


def test_given_a_full_sync_then_progress_hears_the_total_from_the_first_page(ctx, sandbox):
    from connector.commands.setup import run_setup
    from connector.sync import SyncJob

    run_setup(ctx.gateway, ctx.store, ctx.rules, "pat-sandbox", dry_run=False)
    seen: list[tuple[int, int]] = []
    SyncJob(ctx.gateway, ctx.store, ctx.rules, progress=lambda done, total: seen.append((done, total))).run(full=True)
    assert seen == [(200, 400), (400, 400)]
