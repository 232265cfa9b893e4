"""Form-submission rules end to end on the sandbox: the submissions of a form (HubSpot's legacy
submissions API, newest first, joined on the email) counted within the rule's window; a form the
portal does not have stops the sync before any write, naming the rule and the nearest form."""

from __future__ import annotations

import pytest

from connector.commands.setup import run_setup
from connector.core import properties as hp
from connector.errors import ConfigError
from connector.gateway import Gateway
from connector.sandbox import Sandbox, SandboxConfig, forms
from connector.sync import SyncJob
from tests.engagement.support import with_rule
from tests.support.sandbox import activity, reset, sandbox_stats, writes

DAY_MS = 86_400_000
SUBMISSIONS = "GET /form-integrations/v1/submissions/forms/{formGuid}"
ROI = {"name": "roi_twice", "label": "ROI calculator twice in 14 days", "points": 10,
       "activity": {"kind": "form_submissions", "form": "ROI calculator", "within_days": 14, "at_least": 2}}


def rules(form: str = "ROI calculator"):
    return with_rule(ROI, {"form": form})


@pytest.fixture
def sandbox():
    with Sandbox(SandboxConfig(contacts=200, seed=11, tier="professional")) as sb:
        yield sb


def submit(sb: Sandbox, cid: str, days_ago: float, form: str = "ROI calculator") -> dict:
    return {"contactId": cid, "type": "form_submission", "formName": form,
            "occurredAt": sb.portal.now_ms() - int(days_ago * DAY_MS)}


def reasons(sb: Sandbox, cid: str) -> str:
    return sb.portal.get("contacts", cid).properties.get(hp.REASONS) or ""


def test_given_two_roi_submissions_in_14_days_then_the_rule_scores_and_one_submission_does_not(store, sandbox):
    gateway = Gateway("pat-sandbox", sandbox.base_url, requests_per_10s=1000)
    run_setup(gateway, store, rules(), "pat-sandbox", dry_run=False)
    twice, once, old, none = (str(c) for c in list(sandbox.portal.store("contacts").order)[:4])
    activity(sandbox, [submit(sandbox, twice, 3), submit(sandbox, twice, 1), submit(sandbox, once, 2),
                       submit(sandbox, old, 40), submit(sandbox, old, 30), submit(sandbox, none, 1, "Ebook download")])
    assert len(forms.of(sandbox.portal).submissions[forms.form_id("ROI calculator")]) == 5
    reset(sandbox)
    SyncJob(gateway, store, rules()).run(full=True)
    assert ROI["label"] in reasons(sandbox, twice)
    assert [ROI["label"] in reasons(sandbox, c) for c in (once, old, none)] == [False, False, False]
    # The form is read once in the run (one page: five submissions), not once per page of contacts.
    assert sandbox_stats(sandbox)["requests"].get(SUBMISSIONS) == 1


def test_given_a_new_submission_after_a_sync_then_the_next_sync_reads_only_the_newer_page(store, sandbox):
    gateway = Gateway("pat-sandbox", sandbox.base_url, requests_per_10s=1000)
    run_setup(gateway, store, rules(), "pat-sandbox", dry_run=False)
    cid = str(list(sandbox.portal.store("contacts").order)[5])
    activity(sandbox, [submit(sandbox, cid, 5)])
    job = SyncJob(gateway, store, rules())
    job.run(full=True)
    assert ROI["label"] not in reasons(sandbox, cid)
    activity(sandbox, [submit(sandbox, cid, 0)])  # moves recent_conversion_date and num_conversion_events
    reset(sandbox)
    job.run()
    assert ROI["label"] in reasons(sandbox, cid)
    assert sandbox_stats(sandbox)["requests"].get(SUBMISSIONS) == 1


def test_given_a_form_the_portal_lacks_then_refused_naming_the_rule_and_the_nearest_form_with_0_writes(
        store, sandbox):
    gateway = Gateway("pat-sandbox", sandbox.base_url, requests_per_10s=1000)
    wrong = rules("ROI calculater")
    run_setup(gateway, store, wrong, "pat-sandbox", dry_run=False)
    reset(sandbox)
    with pytest.raises(ConfigError) as e:
        SyncJob(gateway, store, wrong).run(full=True)
    lines = str(e.value).splitlines()
    assert lines == ["scoring.yaml: rules.engagement[0] 'roi_twice'.activity.form: 'ROI calculater' is not a form "
                     "of this portal; did you mean 'ROI calculator'?"]
    assert writes(sandbox) == 0


def test_given_a_form_named_by_its_id_then_it_counts_as_by_name(store, sandbox):
    gateway = Gateway("pat-sandbox", sandbox.base_url, requests_per_10s=1000)
    by_id = rules(forms.form_id("ROI calculator"))
    run_setup(gateway, store, by_id, "pat-sandbox", dry_run=False)
    cid = str(list(sandbox.portal.store("contacts").order)[7])
    activity(sandbox, [submit(sandbox, cid, 2), submit(sandbox, cid, 1)])
    SyncJob(gateway, store, by_id).run(full=True)
    assert ROI["label"] in reasons(sandbox, cid)
