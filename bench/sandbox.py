"""How fast the sandbox serves list pages and batch reads on --tier unlimited.

    .venv/bin/python bench/sandbox.py [--contacts 20000] [--threads 2] [--seconds 5]

Keep-alive http.client connections, one per thread. Target: >= 20,000 contacts per second for
both list (100 per page) and batch read (100 per call), so the sandbox is never what a
benchmark of the connector measures.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
from urllib.parse import urlsplit

from connector.sandbox import DEFAULT_TOKEN, Sandbox, SandboxConfig

PROPERTIES = ("email,firstname,lastname,jobtitle,company,industry,numemployees,country,"
              "lifecyclestage,hs_lead_status,hs_analytics_num_page_views,hs_analytics_num_visits,"
              "hs_email_open,hs_email_click,num_conversion_events,recent_conversion_event_name,"
              "hs_analytics_last_visit_timestamp,hubspot_owner_id")
HEADERS = {"Authorization": f"Bearer {DEFAULT_TOKEN}", "Content-Type": "application/json"}


def _list_worker(netloc: str, deadline: float, out: list[int]) -> None:
    conn = http.client.HTTPConnection(netloc)
    contacts = requests = 0
    after = ""
    while time.monotonic() < deadline:
        conn.request("GET", f"/crm/v3/objects/contacts?limit=100&properties={PROPERTIES}"
                            + (f"&after={after}" if after else ""), headers=HEADERS)
        body = json.loads(conn.getresponse().read())
        contacts += len(body["results"])
        requests += 1
        after = body.get("paging", {}).get("next", {}).get("after", "")
    conn.close()
    out.append((contacts, requests))


def _batch_worker(netloc: str, ids: list[str], deadline: float, out: list) -> None:
    conn = http.client.HTTPConnection(netloc)
    contacts = requests = 0
    i = 0
    props = PROPERTIES.split(",")
    while time.monotonic() < deadline:
        chunk = ids[i:i + 100] or ids[:100]
        i = (i + 100) % len(ids)
        payload = json.dumps({"inputs": [{"id": c} for c in chunk], "properties": props,
                              "propertiesWithHistory": []})
        conn.request("POST", "/crm/v3/objects/contacts/batch/read", body=payload,
                     headers=HEADERS)
        body = json.loads(conn.getresponse().read())
        contacts += len(body["results"])
        requests += 1
    conn.close()
    out.append((contacts, requests))


def _run(name: str, target, args_for, threads: int, seconds: float) -> float:
    out: list = []
    deadline = time.monotonic() + seconds
    workers = [threading.Thread(target=target, args=(*args_for(), deadline, out))
               for _ in range(threads)]
    started = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    took = time.monotonic() - started
    contacts = sum(c for c, _ in out)
    requests = sum(r for _, r in out)
    rate = contacts / took
    print(f"{name:<11} {rate:>9,.0f} contacts/s  {requests / took:>6,.0f} requests/s  "
          f"({contacts:,} contacts in {requests:,} requests, {threads} threads, {took:.1f}s)")
    return rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--target", type=float, default=20_000)
    args = parser.parse_args(argv)
    started = time.monotonic()
    with Sandbox(SandboxConfig(contacts=args.contacts, tier="unlimited")) as sb:
        print(f"sandbox: {args.contacts:,} contacts ready in {time.monotonic() - started:.1f}s "
              f"at {sb.base_url}")
        netloc = urlsplit(sb.base_url).netloc
        ids = [str(i) for i in sb.portal.stores["contacts"].order]
        rates = {
            "list": _run("list", _list_worker, lambda: (netloc,), args.threads, args.seconds),
            "batch read": _run("batch read", _batch_worker, lambda: (netloc, ids),
                               args.threads, args.seconds),
        }
        print("server counted:", json.dumps(sb.snapshot()["requests"]))
    slow = [name for name, rate in rates.items() if rate < args.target]
    if slow:
        print(f"BELOW TARGET ({args.target:,.0f} contacts/s): {', '.join(slow)}")
        return 1
    print(f"OK: both above {args.target:,.0f} contacts/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
