"""A sync reads activity for many pages at once: fewer engagement calls, the same decisions."""

from __future__ import annotations

import connector.sync as sync_module
from connector.commands.setup import run_setup
from connector.sync import SyncJob
from tests.support.sandbox import reset, sandbox_stats

ASSOCIATIONS = "POST /crm/v4/associations/contacts/{toObjectType}/batch/read"
BATCH_READS = "POST /crm/v3/objects/{objectType}/batch/read"
NOW = 1_796_000_000.0


def dry_run(ctx, sandbox) -> tuple[dict, dict]:
    """A full dry run on a fixed clock: the planned changes by contact, and the engagement calls."""
    reset(sandbox)
    summary = SyncJob(ctx.gateway, ctx.store, ctx.rules, dry_run=True, keep_planned=10_000,
                      clock=lambda: NOW).run(full=True)
    requests = sandbox_stats(sandbox)["requests"]
    return ({p.contact_id: p.changes for p in summary.planned},
            {k: requests.get(k, 0) for k in (ASSOCIATIONS, BATCH_READS)})


def test_given_activity_rules_when_a_full_pass_reads_them_by_group_then_fewer_calls_and_the_same_plan(
        ctx, sandbox, monkeypatch):
    run_setup(ctx.gateway, ctx.store, ctx.rules, "pat-sandbox", dry_run=False)
    kinds = {a.kind for a in ctx.rules.activities} & {"meetings", "calls", "emails", "notes"}
    assert kinds == {"meetings", "calls"}  # the packaged config's engagement-object rules
    grouped, grouped_calls = dry_run(ctx, sandbox)
    monkeypatch.setattr(sync_module, "ENRICH_GROUP", 1)  # every page its own group, as before
    per_page, per_page_calls = dry_run(ctx, sandbox)
    assert grouped_calls[ASSOCIATIONS] == len(kinds)  # 400 contacts: one group, one read per kind
    assert per_page_calls[ASSOCIATIONS] > grouped_calls[ASSOCIATIONS]
    assert per_page_calls[BATCH_READS] >= grouped_calls[BATCH_READS] > 0
    assert len(grouped) == 400 and grouped == per_page  # every contact, every value alike
