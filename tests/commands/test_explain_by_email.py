"""`connector explain` by email against the sandbox: the SDK sends the email percent-encoded
(`%40`), the sandbox decodes it as HubSpot does, and a missing contact comes back as HubSpot's JSON
404 (issue 10, points 6 and 8)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import quote

import pytest

from connector.cli import main
from connector.commands.explain import explain_contact
from connector.errors import NotFoundError

GET_ONE = "GET /crm/v3/objects/contacts/{contactId}"
MISSING_ID = "999999999"
MISSING_EMAIL = "nobody.here@explain-by-email.example"


def _a_contact(sandbox) -> tuple[str, str]:
    """(id, email) of the first active contact with an email."""
    contacts = sandbox.portal.store("contacts")
    for cid in contacts.order:
        record = contacts.records[str(cid)]
        if not record.archived and record.properties.get("email"):
            return record.id, record.properties["email"]
    raise AssertionError("the generated portal has no contact with an email")


def _raw_get(sandbox, path: str) -> tuple[int, str, bytes]:
    req = urllib.request.Request(sandbox.base_url + path, headers={"Authorization": "Bearer pat-sandbox"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()




def _cli(*args: str) -> int:
    return main(["--env-file", "/dev/null", *args])


# ---- found by email ------------------------------------------------------------------------------
def test_given_contact_email_when_explain_then_report_is_about_that_contact(ctx, sandbox):
    cid, email = _a_contact(sandbox)
    report = explain_contact(ctx.gateway, ctx.store, ctx.rules, email)
    assert report["id"] == cid
    assert report["email"] == email
    score = report["score"]
    assert set(score) == {"total", "fit", "engagement", "grade", "path"}
    assert all(isinstance(score[k], int) for k in ("total", "fit", "engagement"))
    assert {"action", "why", "qualified"} <= set(report["decision"])
    # The same contact by id gives the same scores and decision.
    by_id = explain_contact(ctx.gateway, ctx.store, ctx.rules, cid)
    assert by_id["id"] == cid
    assert by_id["score"] == score and by_id["decision"]["action"] == report["decision"]["action"]
    assert sandbox.snapshot()["requests"][GET_ONE] == 2


def test_given_contact_email_when_cli_explain_then_exit_0_and_json_names_that_contact(env, sandbox, capsys):
    assert _cli("setup") == 0
    capsys.readouterr()
    cid, email = _a_contact(sandbox)
    assert _cli("explain", email, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["id"] == cid and report["email"] == email
    assert set(report["score"]) == {"total", "fit", "engagement", "grade", "path"}
    assert _cli("explain", email) == 0
    assert f"Contact {cid}" in capsys.readouterr().out


# ---- not found -----------------------------------------------------------------------------------
@pytest.mark.parametrize("who, path", [
    (MISSING_ID, f"/crm/v3/objects/contacts/{MISSING_ID}"),
    (MISSING_EMAIL, f"/crm/v3/objects/contacts/{quote(MISSING_EMAIL, safe='')}?idProperty=email"),
])
def test_given_missing_contact_then_sandbox_answers_hubspots_json_404(sandbox, who, path):
    status, content_type, raw = _raw_get(sandbox, path)
    assert status == 404 and content_type.startswith("application/json")
    body = json.loads(raw)
    assert body["status"] == "error" and body["category"] == "OBJECT_NOT_FOUND"
    assert body["message"] and body["correlationId"]
    assert body["context"] == {"id": [who]}


@pytest.mark.parametrize("who", [MISSING_ID, MISSING_EMAIL])
def test_given_missing_contact_when_explain_then_not_found_with_hubspots_category(ctx, who):
    with pytest.raises(NotFoundError) as exc:
        explain_contact(ctx.gateway, ctx.store, ctx.rules, who)
    # Parsed from the JSON body (an empty body gave no category and no correlation id).
    assert exc.value.status == 404
    assert exc.value.category == "OBJECT_NOT_FOUND"
    assert exc.value.correlation_id


@pytest.mark.parametrize("who", [MISSING_ID, MISSING_EMAIL])
def test_given_missing_contact_when_explain_then_the_error_names_the_contact(ctx, env, capsys, who):
    with pytest.raises(NotFoundError) as exc:
        explain_contact(ctx.gateway, ctx.store, ctx.rules, who)
    assert who in str(exc.value)
    assert _cli("migrate") == 0
    capsys.readouterr()
    assert _cli("explain", who) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("connector:")]
    assert len(err) == 1 and who in err[0], err
