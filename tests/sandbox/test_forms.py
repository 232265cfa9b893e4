"""The sandbox's forms: GET /marketing/v3/forms and the legacy submissions read (newest first, at most
50 a page, `after` paging, the email in `values`), seeded from the form rollups without moving them, and
a submission for each form_submission activity."""

from __future__ import annotations

import pytest

from connector.sandbox import Sandbox, SandboxConfig, forms  # noqa: F401 - forms is a module
from connector.sandbox.generator import CONVERSIONS
from tests.support.sandbox import activity

PATH = "/form-integrations/v1/submissions/forms/"


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(SandboxConfig(contacts=300, seed=4, tier="professional", tokens={
            "pat-sandbox": None, "pat-crm": frozenset({"crm.objects.contacts.read"})})) as sb:
        yield sb


def test_given_the_forms_list_then_every_generated_form_and_the_extra_ones_are_named(sandbox, make_http):
    http = make_http(sandbox.base_url)
    status, body, _ = http("GET", "/marketing/v3/forms?limit=100")
    assert status == 200
    assert {f["name"] for f in body["results"]} == {n for n, _ in CONVERSIONS} | {"ROI calculator", "Event feedback"}
    assert all(f["formType"] == "hubspot" and f["archived"] is False for f in body["results"])


def test_given_the_seed_then_each_contact_has_as_many_submissions_as_its_rollup_says(sandbox):
    contacts = sandbox.portal.store("contacts").records.values()
    by_email: dict[str, int] = {}
    for rows in forms.of(sandbox.portal).submissions.values():
        for s in rows:
            by_email[s.email] = by_email.get(s.email, 0) + 1
    rollups: dict[str, int] = {}  # the generator gives some contacts the same email (duplicates to merge)
    for c in contacts:
        email = c.properties.get("email") or ""
        rollups[email] = rollups.get(email, 0) + int(c.properties.get("num_conversion_events") or 0)
    assert by_email == {e: n for e, n in rollups.items() if n}


def test_given_pages_of_50_then_newest_first_to_the_end_and_51_is_refused(sandbox, make_http):
    http = make_http(sandbox.base_url)
    fid = forms.form_id("Webinar registration")
    seen, after = [], ""
    while True:
        status, body, _ = http("GET", f"{PATH}{fid}?limit=50" + (f"&after={after}" if after else ""))
        assert status == 200 and len(body["results"]) <= 50
        seen += body["results"]
        after = ((body.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            break
    times = [r["submittedAt"] for r in seen]
    assert len(seen) == len(forms.of(sandbox.portal).submissions[fid]) > 50
    assert times == sorted(times, reverse=True) and len({r["conversionId"] for r in seen}) == len(seen)
    assert all(r["values"][0]["name"] == "email" for r in seen)
    assert http("GET", f"{PATH}{fid}?limit=51")[0] == 400
    assert http("GET", f"{PATH}00000000-0000-0000-0000-000000000000")[0] == 404


def test_given_a_token_without_the_forms_scope_then_403(sandbox, make_http):
    http = make_http(sandbox.base_url, token="pat-crm")
    status, body, _ = http("GET", "/marketing/v3/forms")
    assert status == 403 and "forms" in str(body)


def test_given_a_form_submission_activity_then_the_form_has_one_more_submission_from_that_email(sandbox, make_http):
    cid = str(list(sandbox.portal.store("contacts").order)[0])
    email = sandbox.portal.get("contacts", cid).properties["email"]
    fid = forms.form_id("ROI calculator")
    before = len(forms.of(sandbox.portal).submissions[fid])
    activity(sandbox, [{"contactId": cid, "type": "form_submission", "formName": "ROI calculator"}])
    status, body, _ = make_http(sandbox.base_url)("GET", f"{PATH}{fid}?limit=1")
    assert len(forms.of(sandbox.portal).submissions[fid]) == before + 1
    assert body["results"][0]["values"] == [{"name": "email", "value": email}]
    assert sandbox.portal.get("contacts", cid).properties["recent_conversion_event_name"] == "ROI calculator"
