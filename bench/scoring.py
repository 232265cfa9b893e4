"""Benchmark: contacts scored AND decided per second on one core, with the default config.

    .venv/bin/python bench/scoring.py [--contacts 100000] [--config config/scoring.yaml]

Generates a seeded synthetic population shaped like a B2B HubSpot portal (values as HubSpot sends
them: strings, ISO and ms-epoch dates, blanks), then times `evaluate` twice: a first run (no
history, every contact new to the connector) and a next-day run fed with the first run's history
and writes (the steady state). Generation is not timed. Prints one line per run and the lower
figure as the result.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connector.model import Contact, History  # noqa: E402
from connector.rules import load_rules  # noqa: E402
from connector.scoring import evaluate  # noqa: E402

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)

TITLES = ["VP Marketing", "Head of Sales", "Director of IT", "Marketing Manager", "CEO",
          "Software Engineer", "Student", "Marketing Intern", "Account Executive", "CTO",
          "Seeking new opportunities", "Operations Manager", "", "", "Consultant"]
INDUSTRIES = ["Computer Software", "Information Technology and Services", "Retail", "Banking",
              "Financial Services", "Hospital & Health Care", "Education", "", "Internet"]
SIZES = ["1-5", "5-25", "25-50", "50-100", "100-500", "500-1000", "1000+", ""]
COUNTRIES = ["United States", "Germany", "France", "India", "Brazil", "United Kingdom", ""]
DOMAINS = ["acme.com", "globex.io", "initech.com", "gmail.com", "yahoo.com", "hooli.xyz",
           "umbrella.co", "outlook.com", "competitor-one.example"]
PAGES = ["https://acme.example/blog/scoring", "https://acme.example/pricing",
         "https://acme.example/careers", "https://acme.example/", "https://acme.example/docs/api",
         ""]
FORMS = ["Ebook download", "Webinar registration", "Newsletter signup", "Demo request",
         "Contact sales", "Free trial", "Whitepaper: 2026 report", ""]
STATUSES = ["", "", "", "NEW", "NEW", "OPEN", "IN_PROGRESS", "MQL", "UNQUALIFIED", "CONNECTED"]
STAGES = ["subscriber", "lead", "lead", "lead", "marketingqualifiedlead", "salesqualifiedlead",
          "customer", "other", ""]


def _when(rng: random.Random, days: float) -> str:
    """A date up to `days` ago, as HubSpot sends it: ISO most of the time, ms epoch sometimes."""
    moment = NOW - timedelta(seconds=rng.random() * days * 86400)
    if rng.random() < 0.3:
        return str(int(moment.timestamp() * 1000))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def make_contact(rng: random.Random, i: int) -> Contact:
    views = int(rng.expovariate(1 / 12))
    props: dict[str, str | None] = {
        "email": f"p{i}@{rng.choice(DOMAINS)}",
        "jobtitle": rng.choice(TITLES),
        "industry": rng.choice(INDUSTRIES),
        "numemployees": rng.choice(SIZES),
        "annualrevenue": str(rng.choice([0, 500000, 2500000, 12000000, 90000000])) or None,
        "country": rng.choice(COUNTRIES),
        "hs_analytics_num_page_views": str(views),
        "hs_analytics_num_visits": str(max(0, views // 3)),
        "hs_analytics_last_url": rng.choice(PAGES) if views else None,
        "hs_analytics_last_visit_timestamp": _when(rng, 120) if views else None,
        "hs_email_open": str(int(rng.expovariate(1 / 4))),
        "hs_email_click": str(int(rng.expovariate(1 / 1.5))),
        "hs_email_last_open_date": _when(rng, 90),
        "hs_email_bounce": "1" if rng.random() < 0.03 else "0",
        "hs_email_optout": "true" if rng.random() < 0.05 else "false",
        "num_conversion_events": str(int(rng.expovariate(1 / 1.2))),
        "recent_conversion_event_name": rng.choice(FORMS),
        "recent_conversion_date": _when(rng, 200),
        "first_conversion_event_name": rng.choice(FORMS),
        "first_conversion_date": _when(rng, 700),
        "engagements_last_meeting_booked": _when(rng, 60) if rng.random() < 0.02 else None,
        "hs_lead_status": rng.choice(STATUSES),
        "lifecyclestage": rng.choice(STAGES),
        "hubspot_owner_id": str(rng.randint(1, 20)) if rng.random() < 0.3 else None,
        "hs_last_sales_activity_timestamp": _when(rng, 300) if rng.random() < 0.2 else None,
    }
    return Contact(str(i + 1), props)


def run(contacts: list[Contact], histories: list[History], rules, now: datetime):
    start = time.perf_counter()
    results = [evaluate(c, h, rules, now) for c, h in zip(contacts, histories)]
    return time.perf_counter() - start, results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--config", default=str(Path(__file__).resolve().parent.parent
                                                / "config" / "scoring.yaml"))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    rules = load_rules(args.config)
    rng = random.Random(args.seed)
    contacts = [make_contact(rng, i) for i in range(args.contacts)]

    first, results = run(contacts, [History.empty()] * len(contacts), rules, NOW)
    # Next day: HubSpot now shows what the connector wrote, and the history it kept.
    updated = [Contact(c.id, {**c.properties, **r.changes}) for c, r in zip(contacts, results)]
    second, again = run(updated, [r.history for r in results], rules, NOW + timedelta(days=1))

    n = len(contacts)
    changed = sum(1 for r in results if r.changes)
    rewritten = sum(1 for r in again if r.changes)
    mqls = sum(1 for r in results if r.decision.action == "qualify")
    print(f"python {platform.python_version()} on {platform.machine()}, {n} contacts, "
          f"config {args.config}")
    print(f"first run : {n / first:,.0f} contacts/s ({first:.2f}s; {changed} with changes, "
          f"{mqls} qualified)")
    print(f"next day  : {n / second:,.0f} contacts/s ({second:.2f}s; {rewritten} with changes)")
    print(f"result    : {n / max(first, second):,.0f} contacts/s scored and decided on one core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
