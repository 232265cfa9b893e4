"""Round-robin assignment of unowned MQLs: even over the active owners, never a reassignment."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter

from connector.core.assign import next_owner
from connector.core.rules_file import parse_rules
from connector.handoff.assign import Assigner
from connector.sandbox.server import Sandbox, SandboxConfig
from connector.sync import SyncJob
from tests.handoff.conftest import packaged_with
from tests.support.sandbox import activity, demo_request, hand_raise_candidates


def test_given_counts_and_weights_then_the_least_loaded_owner_is_next():
    assert next_owner(["a", "b", "c"], {"a": (2, 10), "b": (1, 20), "c": (1, 5)}, {}) == "c"  # tie: least recent
    assert next_owner(["a", "b"], {"a": (3, 1), "b": (2, 2)}, {"a": 2.0}) == "a"  # 3/2 < 2/1
    assert next_owner([], {}, {}) is None


def test_given_300_unowned_mqls_over_3_owners_with_one_deactivated_half_way_then_an_even_split(tmp_path):
    with Sandbox(SandboxConfig(contacts=2500, seed=3, tier="unlimited")) as sb:
        owners = [o["id"] for o in sb.portal.owners[:3]]
        ctx = packaged_with(sb, tmp_path, assignment={"owners": owners})
        rules, store = ctx.rules, ctx.store

        def job():
            return SyncJob(ctx.gateway, ctx.store, ctx.rules, assigner=Assigner(ctx.gateway, ctx.store,
                                                                                 rules.assignment))
        job().run(full=True)
        records = sb.portal.store("contacts").records
        first_owners = {cid: r.properties.get("hubspot_owner_id") for cid, r in records.items()}
        candidates = hand_raise_candidates(sb)
        unowned = [c for c in candidates if not first_owners[c]]
        owned = [c for c in candidates if first_owners[c]][:20]
        assert len(unowned) >= 300 and len(owned) == 20
        activity(sb, [demo_request(c) for c in unowned[:150] + owned])
        assert job().run(full=True).failed == 0
        req = urllib.request.Request(f"{sb.base_url}/_sandbox/owners/{owners[2]}/deactivate", data=b"{}",
                                     method="POST", headers={"Content-Type": "application/json"})
        json.loads(urllib.request.urlopen(req).read())
        activity(sb, [demo_request(c) for c in unowned[150:300]])
        assert job().run(full=True).failed == 0
        now_owner = {c: records[c].properties.get("hubspot_owner_id") for c in unowned[:300]}
        split = Counter(now_owner.values())
        assert all(records[c].properties.get("hs_lead_status") == "MQL" for c in unowned[:300])
        assert abs(split[owners[0]] - 125) <= 1 and abs(split[owners[1]] - 125) <= 1
        assert abs(split[owners[2]] - 50) <= 1 and sum(split.values()) == 300
        assert all(records[c].properties.get("hubspot_owner_id") == first_owners[c] for c in owned)
        # every assignment is in the audit trail (the first sync assigned the score-made MQLs too)
        assert all(any(a["property"] == "hubspot_owner_id" and a["new_value"] == now_owner[c]
                       for a in store.audit_for(c)) for c in unowned[:300])
        assert sum(n for n, _ in store.assignment_counts().values()) >= 300


def test_given_assignment_without_owners_or_team_or_with_a_bad_weight_then_refused_with_the_place():
    import pytest

    from connector.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        parse_rules({"version": 1, "assignment": {"weights": {"52550100": 0}}}, "s.yaml")
    text = "\n".join(str(p) for p in e.value.problems)
    assert "assignment: needs owners (a list of owner ids) or team" in text
    assert "assignment.weights.52550100: must be a number above 0, got 0" in text


def test_given_a_team_then_its_active_members_take_turns(ctx, sandbox):
    from connector.core.rules import Assignment

    team = [str(o["id"]) for o in sandbox.portal.owners if any(t["name"] == "Inbound SDRs" for t in o["teams"])]
    assigner = Assigner(ctx.gateway, ctx.store, Assignment((), "Inbound SDRs", {}))
    assert len(team) == 3 and assigner.active() == sorted(team)
    assert sorted(assigner.assign() for _ in range(6)) == sorted(team * 2)
