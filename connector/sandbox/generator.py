"""A seeded, believable B2B HubSpot portal: owners, contacts, engagements, and the hidden truth.

Each contact gets a hidden propensity from its fit (seniority, industry, company size, email
domain) and an intent draw. Propensity drives its engagement rollups, its lifecycle stage and
whether it eventually became a customer (`truth`), so a scoring model can be calibrated later.
Everything comes from one `random.Random(seed)`: the same seed and `now` give the same portal.
What must not move today's values draws from a contact's own stream instead
(`random.Random(f"{seed}:{contact id}:<purpose>")`): the property history (timeline.py), the
future customers' conversion times and the custom buyer properties.
Property names and meanings: see properties.py (sources there).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from connector.sandbox.properties import BUYER_GROUP, BUYER_PROPERTIES, LIFECYCLE_STAGE_ORDER
from connector.sandbox.values import iso_ms

COMPETITOR_DOMAINS: tuple[str, ...] = ("leadrankr.io", "scorewise.com", "pipelinepilot.co")
FREE_EMAIL_DOMAINS: tuple[str, ...] = (
    "gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com", "proton.me",
)
SITE = "https://www.example-saas.com"
SITE_PAGES: tuple[str, ...] = (
    "/", "/pricing", "/features", "/product/lead-scoring", "/customers", "/integrations",
    "/blog/what-is-lead-scoring", "/blog/mql-vs-sql", "/blog/b2b-funnel-benchmarks",
    "/blog/hubspot-workflows-guide", "/careers", "/about", "/demo", "/docs/getting-started",
)
HIGH_INTENT_PAGES: tuple[str, ...] = ("/pricing", "/demo", "/product/lead-scoring", "/customers")
# (name, how strongly it signals buying intent)
CONVERSIONS: tuple[tuple[str, float], ...] = (
    ("Newsletter signup", 0.0), ("Ebook download", 0.2), ("Webinar registration", 0.3),
    ("Free trial", 0.7), ("Pricing request", 0.8), ("Contact sales", 0.9), ("Demo request", 1.0),
)

# (seniority 0..5, title templates); {d} is a department.
_TITLES: tuple[tuple[int, tuple[str, ...]], ...] = (
    (0, ("{d} Intern", "Intern", "Working Student")),
    (1, ("{d} Specialist", "{d} Associate", "{d} Coordinator", "Software Engineer",
         "Account Executive", "Business Development Representative", "Data Analyst")),
    (2, ("{d} Manager", "Senior {d} Manager", "Team Lead, {d}", "Demand Generation Manager")),
    (3, ("Director of {d}", "Head of {d}", "Senior Director, {d}")),
    (4, ("VP of {d}", "Vice President, {d}", "SVP {d}")),
    (5, ("CEO", "Founder & CEO", "CMO", "CRO", "COO", "CTO", "Co-Founder")),
)
_SENIORITY_WEIGHTS = (0.06, 0.38, 0.28, 0.14, 0.08, 0.06)
_DEPARTMENTS = ("Marketing", "Sales", "Revenue Operations", "Marketing Operations", "Growth",
                "Engineering", "Finance", "Customer Success", "IT", "Human Resources")
_DEPT_FIT = {"Marketing": 1.0, "Sales": 0.9, "Revenue Operations": 1.0, "Marketing Operations": 1.0,
             "Growth": 0.9, "Engineering": 0.3, "Finance": 0.2, "Customer Success": 0.4, "IT": 0.4,
             "Human Resources": 0.1}
# (industry, weight, fit)
_INDUSTRIES = (
    ("Computer Software", 0.2, 1.0), ("Information Technology and Services", 0.14, 0.9),
    ("Marketing and Advertising", 0.12, 0.9), ("Financial Services", 0.08, 0.7),
    ("Internet", 0.07, 0.8), ("Hospital & Health Care", 0.06, 0.4), ("Retail", 0.06, 0.4),
    ("Manufacturing", 0.06, 0.5), ("Education Management", 0.05, 0.2),
    ("Real Estate", 0.04, 0.3), ("Telecommunications", 0.04, 0.6),
    ("Nonprofit Organization Management", 0.04, 0.1), ("Construction", 0.04, 0.2),
)
# (numemployees band, weight, low, high, fit): the bands are HubSpot's options (properties.py).
_SIZES = (
    ("1-5", 0.12, 1, 5, 0.2), ("5-25", 0.2, 5, 25, 0.5), ("25-50", 0.16, 25, 50, 0.8),
    ("50-100", 0.15, 50, 100, 1.0), ("100-500", 0.18, 100, 500, 1.0),
    ("500-1000", 0.09, 500, 1000, 0.8), ("1000+", 0.10, 1000, 20000, 0.6),
)
# (country, weight, fit, [(city, state)], phone prefix)
_COUNTRIES = (
    ("United States", 0.5, 1.0, (("New York", "NY"), ("San Francisco", "CA"), ("Austin", "TX"),
                                 ("Boston", "MA"), ("Chicago", "IL"), ("Seattle", "WA"),
                                 ("Denver", "CO"), ("Atlanta", "GA")), "+1"),
    ("United Kingdom", 0.12, 0.9, (("London", "England"), ("Manchester", "England"),
                                   ("Edinburgh", "Scotland")), "+44"),
    ("Canada", 0.07, 0.9, (("Toronto", "Ontario"), ("Vancouver", "British Columbia"),
                           ("Montreal", "Quebec")), "+1"),
    ("Germany", 0.07, 0.7, (("Berlin", "Berlin"), ("Munich", "Bavaria"),
                            ("Hamburg", "Hamburg")), "+49"),
    ("France", 0.04, 0.6, (("Paris", "Île-de-France"), ("Lyon", "Auvergne-Rhône-Alpes")), "+33"),
    ("Netherlands", 0.04, 0.8, (("Amsterdam", "North Holland"), ("Utrecht", "Utrecht")), "+31"),
    ("Australia", 0.06, 0.8, (("Sydney", "New South Wales"), ("Melbourne", "Victoria")), "+61"),
    ("India", 0.06, 0.3, (("Bengaluru", "Karnataka"), ("Mumbai", "Maharashtra")), "+91"),
    ("Brazil", 0.04, 0.3, (("São Paulo", "São Paulo"), ("Rio de Janeiro", "Rio de Janeiro")), "+55"),
)
_FIRST = ("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
          "Elizabeth", "William", "Barbara", "Sarah", "Daniel", "Priya", "Wei", "Aisha", "Lucas",
          "Emma", "Noah", "Olivia", "Liam", "Sofia", "Mateo", "Chloe", "Arjun", "Hannah", "Yuki",
          "Fatima", "Oliver", "Mia", "Leon", "Anna", "Ravi", "Grace", "Ethan", "Zoe", "Marco")
_LAST = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Martinez",
         "Lopez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Martin", "Lee", "Clark",
         "Patel", "Kumar", "Chen", "Wang", "Müller", "Schmidt", "Dubois", "Rossi", "Silva",
         "Nguyen", "Kim", "Okafor", "Novak", "Jansen", "O'Brien", "Walker", "Young", "King")
_CO_A = ("Blue", "North", "Bright", "Apex", "Summit", "Clear", "Iron", "Nova", "Pixel", "Green",
         "Quantum", "Silver", "Rapid", "True", "Open", "Cloud", "Peak", "Vertex", "Atlas", "Lumen")
_CO_B = ("path", "stack", "wave", "forge", "leaf", "point", "line", "bridge", "works", "logic",
         "scale", "mark", "flow", "grid", "labs", "hub", "spark", "base", "field", "gate")
_CO_SUFFIX = (" Inc.", " LLC", " Ltd", " GmbH", "", "", " Group", " Technologies", " Solutions")
_UNIVERSITIES = (("State University", "stateu.edu"), ("Tech Institute", "techinst.edu"),
                 ("City College", "citycollege.edu"), ("University of Westfield", "westfield.ac.uk"))
_SOURCES = (("ORGANIC_SEARCH", 0.35), ("DIRECT_TRAFFIC", 0.15), ("PAID_SEARCH", 0.12),
            ("SOCIAL_MEDIA", 0.1), ("REFERRALS", 0.1), ("EMAIL_MARKETING", 0.06),
            ("OFFLINE", 0.06), ("PAID_SOCIAL", 0.04), ("OTHER_CAMPAIGNS", 0.02))
_OWNER_NAMES = (("Alex", "Morgan"), ("Jordan", "Reyes"), ("Taylor", "Brooks"), ("Casey", "Nguyen"),
                ("Riley", "Schneider"), ("Sam", "Okoro"), ("Jamie", "Larsen"), ("Drew", "Hart"))

_DAY_MS = 86_400_000


@dataclass
class SeededPortal:
    """Everything the sandbox serves at start, plus the hidden truth (never served)."""

    portal_id: int
    app_id: int
    owners: list[dict]
    contacts: list[dict]
    engagements: dict[str, list[dict]] = field(default_factory=dict)
    # type -> contact id -> engagement ids
    associations: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    # contact id -> {"propensity": float, "became_customer": bool, "converts_at"?: ISO}
    truth: dict[str, dict] = field(default_factory=dict)
    # What the portal needs to derive history lazily (timeline.py) and its extra properties.
    seed: int = 0
    now_ms: int = 0
    history: str = "timeline"  # "timeline" or "flat" (HISTORY_MODES)
    buyers: str = "standard"  # "standard" or "custom" (BUYER_MODES)
    import_ms: int | None = None  # flat history: when everything was imported
    custom_properties: list[dict] = field(default_factory=list)
    custom_groups: list[dict] = field(default_factory=list)


def _cumulative(weights: Sequence[float]) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return [c / total for c in out]


def _pick(rng_value: float, items: Sequence, cum: list[float]):
    for item, c in zip(items, cum, strict=True):
        if rng_value <= c:
            return item
    return items[-1]


_SEN_CUM = _cumulative(_SENIORITY_WEIGHTS)
_IND_CUM = _cumulative([w for _, w, _ in _INDUSTRIES])
_SIZE_CUM = _cumulative([w for _, w, *_ in _SIZES])
_COUNTRY_CUM = _cumulative([c[1] for c in _COUNTRIES])
_SOURCE_CUM = _cumulative([w for _, w in _SOURCES])


# The seeded sales teams: the first three owners work inbound leads, the rest enterprise deals.
INBOUND_TEAM = {"id": "6500101", "name": "Inbound SDRs"}
ENTERPRISE_TEAM = {"id": "6500102", "name": "Enterprise AEs"}
INBOUND_SDRS = 3


def _owners(rng: random.Random, now_ms: int) -> list[dict]:
    # Owner JSON as GET /crm/v3/owners returns it: https://developers.hubspot.com/docs/api/crm/owners
    # (the guide's example: id, email, type, firstName, lastName, userId, userIdIncludingInactive,
    # createdAt, updatedAt, archived, and "if applicable, team information": teams[] of
    # {"id", "name", "primary"}, the PublicTeam model of HubSpot's generated clients). Teams take
    # no random draws, so every other seeded value is as before.
    owners = []
    for i, (first, last) in enumerate(_OWNER_NAMES):
        created = now_ms - rng.randint(400, 1500) * _DAY_MS
        team = INBOUND_TEAM if i < INBOUND_SDRS else ENTERPRISE_TEAM
        owners.append({
            "id": str(52_550_100 + i * 17),
            "email": f"{first.lower()}.{last.lower()}@example-saas.com",
            "firstName": first,
            "lastName": last,
            "userId": 9_100_000 + i * 13,
            "userIdIncludingInactive": 9_100_000 + i * 13,
            "createdAt": iso_ms(created),
            "updatedAt": iso_ms(created + rng.randint(1, 300) * _DAY_MS),
            "archived": False,
            "teams": [{**team, "primary": True}],
        })
    return owners


class _Builder:
    """Builds contacts one by one; keeps engagements and associations as it goes."""

    def __init__(self, rng: random.Random, now_ms: int, owners: list[dict], *, seed: int = 0,
                 buyers: str = "standard"):
        self.rng = rng
        self.seed = seed
        self.buyers = buyers
        self.now_ms = now_ms
        self.owner_ids = [o["id"] for o in owners]
        self.engagements: dict[str, list[dict]] = {
            t: [] for t in ("meetings", "calls", "notes", "tasks", "emails")}
        self.associations: dict[str, dict[str, list[str]]] = {t: {} for t in self.engagements}
        self.next_engagement_id = 20_000_000_001

    def engagement(self, kind: str, contact_id: str, at_ms: int, props: dict) -> None:
        eid = str(self.next_engagement_id)
        self.next_engagement_id += 1
        stamp = iso_ms(at_ms)
        props["hs_object_id"] = eid
        props["hs_createdate"] = stamp
        props["hs_lastmodifieddate"] = stamp
        self.engagements[kind].append(
            {"id": eid, "properties": props, "createdAt": stamp, "updatedAt": stamp,
             "archived": False})
        self.associations[kind].setdefault(contact_id, []).append(eid)

    def contact(self, cid: str, created_ms: int) -> tuple[dict, dict]:
        rng = self.rng
        r = rng.random
        p: dict[str, str] = {}
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        p["firstname"], p["lastname"] = first, last
        country, _, country_fit, cities, prefix = _pick(r(), _COUNTRIES, _COUNTRY_CUM)
        city, state = rng.choice(cities)
        p["country"], p["city"], p["state"] = country, city, state

        kind_draw = r()
        local = f"{first}.{last}".lower().replace("'", "").replace("ü", "u")
        if kind_draw < 0.04:  # students: no company, university or free mail
            uni, uni_domain = rng.choice(_UNIVERSITIES)
            p["jobtitle"] = rng.choice(("Student", "MBA Student", "Graduate Student"))
            p["company"] = uni
            domain = uni_domain if r() < 0.6 else rng.choice(FREE_EMAIL_DOMAINS)
            fit = 0.02
        else:
            seniority, titles = _pick(r(), _TITLES, _SEN_CUM)
            dept = rng.choice(_DEPARTMENTS)
            p["jobtitle"] = rng.choice(titles).format(d=dept)
            industry, _, industry_fit = _pick(r(), _INDUSTRIES, _IND_CUM)
            band, _, low, high, size_fit = _pick(r(), _SIZES, _SIZE_CUM)
            employees = rng.randint(low, high)
            revenue = employees * rng.randint(60, 350) * 1000
            name = rng.choice(_CO_A) + rng.choice(_CO_B)
            p["industry"] = industry
            p["numemployees"] = band
            p["annualrevenue"] = str(int(round(revenue, -4)))
            if kind_draw < 0.055:  # people at competitors, looking around
                domain = rng.choice(COMPETITOR_DOMAINS)
                p["company"] = domain.split(".")[0].capitalize()
                fit = 0.0
            else:
                p["company"] = name + rng.choice(_CO_SUFFIX)
                corporate = name.lower() + rng.choice((".com", ".com", ".io", ".co", ".net"))
                p["website"] = f"https://www.{corporate}"
                free = r() < 0.18
                domain = rng.choice(FREE_EMAIL_DOMAINS) if free else corporate
                fit = (0.3 * (seniority / 5) + 0.25 * industry_fit + 0.2 * size_fit
                       + 0.15 * _DEPT_FIT[dept] + 0.1 * country_fit) * (0.75 if free else 1.0)
                if seniority == 0:
                    fit *= 0.4
        p["email"] = f"{local}{rng.randint(1, 99) if r() < 0.15 else ''}@{domain}"
        if r() < 0.55:
            p["phone"] = f"{prefix} {rng.randint(200, 989)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"

        web: float | None = None
        if self.buyers == "custom":
            # Buying propensity sits in custom properties, drawn from their own stream so the
            # rest of the contact is drawn exactly as in a standard portal; who the contact is
            # (title, industry, size ...) and how it browses no longer matter.
            buyer = random.Random(f"{self.seed}:{cid}:buyer")
            fit = _buyer_profile(buyer, p, student=kind_draw < 0.04,
                                 competitor=0.04 <= kind_draw < 0.055)
            web = buyer.betavariate(2, 5)
        intent = r()
        propensity = 1 / (1 + math.exp(-(6.0 * fit + 3.0 * intent - 6.2 + rng.gauss(0, 0.5))))
        truth = {"propensity": round(propensity, 4),
                 "became_customer": r() < 0.4 * propensity ** 1.5}
        self._engagement_rollups(p, cid, created_ms, propensity, web)
        self._lifecycle(p, cid, created_ms, propensity, truth["became_customer"])
        stamp_created = iso_ms(created_ms)
        p["createdate"] = stamp_created
        # Same-format ISO strings sort as times do: no parsing needed.
        p["lastmodifieddate"] = max(stamp_created, *(p[k] for k in _DATE_KEYS if k in p))
        p["hs_object_id"] = cid
        contact = {"id": cid, "properties": p, "createdAt": stamp_created,
                   "updatedAt": p["lastmodifieddate"], "archived": False}
        return contact, truth

    def _stage_entered(self, previous_ms: int, stage: str) -> int:
        """When a contact that entered the previous stage at `previous_ms` enters `stage`: a sales
        cycle's exponential wait, as long whether the contact is a week or three years old (the
        time since creation says nothing about how fast a buyer moves). A wait that would end
        after now is folded into the time left. One draw, as before, so every other value stays."""
        u = self.rng.random()
        wait_ms = int(-_STAGE_WAIT_DAYS[stage] * math.log(1.0 - u) * _DAY_MS)
        if previous_ms + wait_ms <= self.now_ms:
            return previous_ms + wait_ms
        return previous_ms + int((self.now_ms - previous_ms) * u)

    def _between(self, start_ms: int, end_ms: int, late_bias: float = 1.0) -> int:
        """A time in [start, end], pulled towards the end when late_bias < 1."""
        return start_ms + int((end_ms - start_ms) * self.rng.random() ** late_bias)

    def _engagement_rollups(self, p: dict, cid: str, created_ms: int, prop: float,
                            web_prop: float | None = None) -> None:
        """Rollups driven by propensity; web analytics by `web_prop` when given (custom buyers:
        browsing that says nothing about buying)."""
        rng, r, now_ms = self.rng, self.rng.random, self.now_ms
        web = prop if web_prop is None else web_prop
        age_days = max(1, (now_ms - created_ms) // _DAY_MS)
        p["hs_analytics_source"] = _pick(r(), [s for s, _ in _SOURCES], _SOURCE_CUM)
        # Web analytics: visits then page views (>= visits), first/last seen.
        visits = 1 + int(rng.expovariate(1 / (1 + 25 * web * web + 2 * r())))
        views = visits + int(visits * rng.expovariate(1 / (0.5 + 3 * web)))
        p["hs_analytics_num_visits"] = str(visits)
        p["hs_analytics_num_page_views"] = str(views)
        first_seen = created_ms - rng.randint(0, 30) * _DAY_MS * (r() < 0.4)
        p["hs_analytics_first_timestamp"] = iso_ms(first_seen)
        p["hs_analytics_first_url"] = SITE + rng.choice(SITE_PAGES[:10])
        if visits == 1:  # a single visit: the one that created the contact
            first_seen = created_ms - rng.randint(0, 600_000)
        if visits > 1:
            # Engaged contacts were seen recently; the rest drifted away.
            last_visit = self._between(created_ms, now_ms, 0.3 + (1 - web))
        else:
            last_visit = first_seen
        browsing = rng.randint(0, 1_200_000) * (views > visits)  # the last session's length
        last_seen = min(now_ms, max(created_ms, last_visit + browsing))
        p["hs_analytics_last_visit_timestamp"] = iso_ms(last_visit)
        p["hs_analytics_last_timestamp"] = iso_ms(last_seen)
        page = rng.choice(HIGH_INTENT_PAGES) if r() < web else rng.choice(SITE_PAGES)
        p["hs_analytics_last_url"] = SITE + page

        # Marketing email: delivered >= opens >= clicks; about a send a week for the subscribed.
        if r() < 0.85:
            opted_out = r() < 0.04 * (1.5 - prop)
            delivered = max(1, int(age_days / 7 * (0.3 + 0.7 * r())))
            opens = int(delivered * min(0.9, 0.08 + 0.6 * prop * r() + 0.1 * r()))
            clicks = int(opens * min(0.8, 0.05 + 0.5 * prop * r()))
            p["hs_email_delivered"] = str(delivered)
            p["hs_email_open"] = str(opens)
            p["hs_email_click"] = str(clicks)
            # Sends stop at unsubscribe, so opted-out contacts were last sent to long ago.
            recent_from = created_ms if opted_out else max(created_ms, now_ms - 14 * _DAY_MS)
            last_send = self._between(recent_from, now_ms, 1.0 if not opted_out else 3.0)
            p["hs_email_last_send_date"] = iso_ms(last_send)
            if opens:
                last_open = self._between(created_ms, last_send, 0.3)
                p["hs_email_first_open_date"] = iso_ms(self._between(created_ms, last_open, 2))
                p["hs_email_last_open_date"] = iso_ms(last_open)
                if clicks:
                    last_click = self._between(created_ms, last_open, 0.5)
                    p["hs_email_first_click_date"] = iso_ms(
                        self._between(created_ms, last_click, 2))
                    p["hs_email_last_click_date"] = iso_ms(last_click)
            if r() < 0.02:
                p["hs_email_bounce"] = str(1 + (r() < 0.2))
            p["hs_email_optout"] = "true" if opted_out else "false"

        # Forms: high propensity converts more, and on higher-intent forms.
        conversions = int(rng.expovariate(1 / (0.2 + 3.5 * prop))) + (r() < 0.6)
        if conversions:
            def form() -> str:
                target = min(1.0, max(0.0, prop + rng.gauss(0, 0.25)))
                if web_prop is not None:
                    # Custom buyers register for webinars; the other forms say nothing.
                    target = 0.3 if target > 0.45 else rng.choice(_NOISE_TARGETS)
                return min(CONVERSIONS, key=lambda c: abs(c[1] - target))[0]
            first_name, recent_name = form(), form() if conversions > 1 else None
            recent_name = recent_name or first_name
            first_ms = created_ms  # the first form submission is what created the contact
            recent_ms = self._between(first_ms, now_ms, 0.5) if conversions > 1 else first_ms
            unique = min(conversions, 1 + (recent_name != first_name) + int(r() * (conversions - 1) / 2))
            p["num_conversion_events"] = str(conversions)
            p["num_unique_conversion_events"] = str(unique)
            p["first_conversion_event_name"] = first_name
            p["first_conversion_date"] = iso_ms(first_ms)
            p["recent_conversion_event_name"] = recent_name
            p["recent_conversion_date"] = iso_ms(recent_ms)
        else:
            p["num_conversion_events"] = "0"
            p["num_unique_conversion_events"] = "0"

    def _lifecycle(self, p: dict, cid: str, created_ms: int, prop: float, customer: bool) -> None:
        rng, r, now_ms = self.rng, self.rng.random, self.now_ms
        age_days = (now_ms - created_ms) / _DAY_MS
        if customer and r() < min(0.8, age_days / 365):  # older buyers have already closed
            stage = "evangelist" if r() < 0.08 else "customer"
        elif r() < 0.01:
            stage = "other"
        else:
            draw = prop * (0.5 + r())
            intent = p.get("recent_conversion_event_name") in ("Demo request", "Contact sales",
                                                                "Pricing request")
            if draw > 0.75 and intent:
                stage = "opportunity" if r() < 0.5 else "salesqualifiedlead"
            elif draw > 0.55 or (intent and draw > 0.3):
                stage = "marketingqualifiedlead"
            elif p.get("first_conversion_event_name") == "Newsletter signup" and r() < 0.7:
                stage = "subscriber"
            else:
                stage = "lead"
        p["lifecyclestage"] = stage

        # Date entered each stage passed through, in order; "other" is entered from lead.
        order = LIFECYCLE_STAGE_ORDER
        path = ["lead", "other"] if stage == "other" else order[:order.index(stage) + 1]
        if path[0] == "subscriber" and r() < 0.5 and len(path) > 1:
            path = path[1:]  # most contacts start as leads, not subscribers
        t = created_ms
        for i, name in enumerate(path):
            if i:
                t = self._stage_entered(t, name)
            stamp = iso_ms(t)
            p[f"hs_lifecyclestage_{name}_date"] = stamp
            p[f"hs_v2_date_entered_{name}"] = stamp
            if i:
                p[f"hs_v2_date_exited_{path[i - 1]}"] = stamp
        stage_ms = t

        sales_owned = stage in ("marketingqualifiedlead", "salesqualifiedlead", "opportunity",
                                "customer", "evangelist")
        if sales_owned or r() < 0.12:
            owner = rng.choice(self.owner_ids)
            p["hubspot_owner_id"] = owner
        else:
            owner = None
        status = self._lead_status(stage, prop, owner is not None)
        if status:
            p["hs_lead_status"] = status
        if stage in ("opportunity", "customer", "evangelist"):
            p["num_associated_deals"] = str(1 + (r() < 0.15))
        if owner:
            self._sales_activity(p, cid, owner, stage, stage_ms, created_ms)

    def _lead_status(self, stage: str, prop: float, owned: bool) -> str | None:
        r = self.rng.random
        if stage in ("subscriber", "other", "customer", "evangelist"):
            return None if r() < 0.8 else "NEW" if stage == "subscriber" else None
        if stage == "lead":
            if not owned:
                return "NEW" if r() < 0.6 else None
            return _pick(r(), ("OPEN", "ATTEMPTED_TO_CONTACT", "UNQUALIFIED", "BAD_TIMING",
                               "CONNECTED"), _LEAD_OWNED_CUM)
        if stage == "marketingqualifiedlead":
            return _pick(r(), ("OPEN", "IN_PROGRESS", "ATTEMPTED_TO_CONTACT", "CONNECTED", "NEW"),
                         _MQL_CUM)
        if stage == "salesqualifiedlead":
            return "CONNECTED" if r() < 0.5 else "IN_PROGRESS"
        return "OPEN_DEAL"  # opportunity

    def _sales_activity(self, p: dict, cid: str, owner: str, stage: str, stage_ms: int,
                        created_ms: int) -> None:
        rng, r, now_ms = self.rng, self.rng.random, self.now_ms
        advanced = stage in ("salesqualifiedlead", "opportunity", "customer", "evangelist")
        n_calls = rng.randint(1, 4) if advanced else int(r() * 3)
        last_contact = 0
        for _ in range(n_calls):
            at = self._between(created_ms, now_ms, 0.7)
            connected = r() < 0.45
            self.engagement("calls", cid, at, {
                "hs_timestamp": iso_ms(at), "hubspot_owner_id": owner,
                "hs_call_title": "Discovery call" if connected else "Call attempt",
                "hs_call_direction": "OUTBOUND",
                "hs_call_status": "COMPLETED" if connected else "NO_ANSWER",
                "hs_call_duration": str(rng.randint(300, 2400) * 1000 if connected else 0),
                "hs_call_body": "Talked through current process." if connected else "",
            })
            last_contact = max(last_contact, at)
        if r() < 0.5:
            at = self._between(created_ms, now_ms, 0.7)
            self.engagement("notes", cid, at, {
                "hs_timestamp": iso_ms(at), "hubspot_owner_id": owner,
                "hs_note_body": rng.choice(("Interested in Q3 rollout.", "Evaluating vendors.",
                                            "Asked for a pricing sheet.", "Budget not approved yet.")),
            })
        if r() < 0.4:
            at = self._between(created_ms, now_ms, 0.5)
            done = at < now_ms - 7 * _DAY_MS
            self.engagement("tasks", cid, at, {
                "hs_timestamp": iso_ms(at), "hubspot_owner_id": owner,
                "hs_task_subject": "Follow up", "hs_task_type": rng.choice(("CALL", "EMAIL", "TODO")),
                "hs_task_status": "COMPLETED" if done else "NOT_STARTED",
                "hs_task_priority": rng.choice(("LOW", "MEDIUM", "HIGH")),
            })
        if r() < 0.5:
            at = self._between(created_ms, now_ms, 0.7)
            self.engagement("emails", cid, at, {
                "hs_timestamp": iso_ms(at), "hubspot_owner_id": owner,
                "hs_email_subject": "Quick question", "hs_email_direction": "EMAIL",
                "hs_email_status": "SENT", "hs_email_text": "Would a short call next week work?",
            })
            last_contact = max(last_contact, at)
        n_meetings = rng.randint(1, 3) if advanced else (1 if r() < 0.3 else 0)
        booked_last = latest_meeting = 0
        for _ in range(n_meetings):
            booked = self._between(created_ms, now_ms, 0.6)
            start = booked + rng.randint(1, 10) * _DAY_MS
            self.engagement("meetings", cid, booked, {
                "hs_timestamp": iso_ms(start), "hubspot_owner_id": owner,
                "hs_meeting_title": rng.choice(("Intro call", "Product demo", "Pricing review")),
                "hs_meeting_start_time": iso_ms(start),
                "hs_meeting_end_time": iso_ms(start + 1_800_000),
                "hs_meeting_outcome": "COMPLETED" if start < now_ms else "SCHEDULED",
            })
            booked_last, latest_meeting = max(booked_last, booked), max(latest_meeting, start)
            if start < now_ms:
                last_contact = max(last_contact, start)
        if booked_last:
            p["engagements_last_meeting_booked"] = iso_ms(booked_last)
            p["hs_latest_meeting_activity"] = iso_ms(latest_meeting)
        activities = n_calls + n_meetings
        if activities and last_contact:
            p["num_contacted_notes"] = str(activities)
            p["notes_last_contacted"] = iso_ms(last_contact)
            p["notes_last_updated"] = iso_ms(last_contact)
            p["hs_last_sales_activity_timestamp"] = iso_ms(max(last_contact, booked_last))


# Custom buyers (generate_portal(buyers="custom")): (CRM in use, weight, fit, P(automation)).
_CRMS = (("HubSpot", 0.28, 1.0, 0.7), ("Salesforce", 0.22, 0.25, 0.5), ("Pipedrive", 0.12, 0.45, 0.3),
         ("Spreadsheets", 0.25, 0.35, 0.1), ("None", 0.13, 0.0, 0.05))
_CRM_CUM = _cumulative([w for _, w, _, _ in _CRMS])
_NOISE_TARGETS = tuple(v for _, v in CONVERSIONS)


def _buyer_profile(rng: random.Random, p: dict, *, student: bool, competitor: bool) -> float:
    """Set the custom buyer properties on `p`; return the fit they give (0..1).

    Buyers of a HubSpot lead-scoring connector run HubSpot, get many inbound leads and already
    automate their marketing; nothing here depends on title, industry or company size.
    """
    crm, _, crm_fit, p_auto = _pick(rng.random(), _CRMS, _CRM_CUM)
    if student:
        crm, crm_fit, p_auto = rng.choice((("None", 0.0, 0.0), ("Spreadsheets", 0.35, 0.0)))
    leads = 0 if student else int(math.exp(rng.gauss(3.4, 1.4)))
    automation = rng.random() < p_auto
    p["crm_in_use"] = crm
    p["monthly_inbound_leads"] = str(leads)
    p["uses_marketing_automation"] = "true" if automation else "false"
    fit = 0.5 * crm_fit + 0.3 * min(1.0, math.log10(1 + leads) / 3) + 0.2 * automation
    return fit * (0.1 if competitor else 1.0)


# Mean days from entering the previous stage to entering this one (a B2B sales cycle of a few months
# from MQL to customer; nurture before MQL takes longer). A modelling choice, not HubSpot data.
_STAGE_WAIT_DAYS = {"lead": 20.0, "marketingqualifiedlead": 45.0, "salesqualifiedlead": 14.0,
                    "opportunity": 21.0, "customer": 45.0, "evangelist": 120.0, "other": 60.0}
_LEAD_OWNED_CUM = _cumulative((0.35, 0.25, 0.15, 0.1, 0.15))
_MQL_CUM = _cumulative((0.35, 0.25, 0.2, 0.1, 0.1))
# Properties whose value is a timestamp that can bump lastmodifieddate (not future meetings).
_DATE_KEYS = frozenset({
    "hs_analytics_last_timestamp", "hs_email_last_send_date", "recent_conversion_date",
    "notes_last_contacted", "engagements_last_meeting_booked",
} | {f"hs_v2_date_entered_{s}" for s in LIFECYCLE_STAGE_ORDER})


HISTORY_MODES = ("timeline", "flat")
BUYER_MODES = ("standard", "custom")
IMPORT_AGE_MS = 7 * _DAY_MS  # flat history: the import was a week before `now`
CONVERSION_MEAN_DAYS = 120  # future customers convert after now + expovariate(this mean) ...
CONVERSION_MAX_DAYS = 365  # ... capped at a year
_LIFECYCLE_DATE_PREFIXES = ("hs_lifecyclestage_", "hs_v2_date_entered_", "hs_v2_date_exited_")


def _converts_at(seed: int, cid: str, props: dict, now_ms: int) -> str:
    """When a contact that became (or will become) a customer converts: its customer date when
    it is one already, else a time in the year after `now` from its own random stream."""
    if props.get("lifecyclestage") in ("customer", "evangelist") \
            and props.get("hs_lifecyclestage_customer_date"):
        return props["hs_lifecyclestage_customer_date"]
    rng = random.Random(f"{seed}:{cid}:converts")
    days = min(CONVERSION_MAX_DAYS, rng.expovariate(1 / CONVERSION_MEAN_DAYS))
    return iso_ms(now_ms + max(3_600_000, int(days * _DAY_MS)))


def _flatten(contact: dict, import_ms: int) -> None:
    """Imported from another CRM: createdate and the lifecycle dates are the import's."""
    p = contact["properties"]
    stamp = iso_ms(import_ms)
    for key in p:
        if key.startswith(_LIFECYCLE_DATE_PREFIXES):
            p[key] = stamp
    p["createdate"] = stamp
    p["lastmodifieddate"] = max(stamp, *(p[k] for k in _DATE_KEYS if k in p))
    contact["createdAt"] = stamp
    contact["updatedAt"] = p["lastmodifieddate"]


def generate_portal(n_contacts: int, seed: int, now: datetime, *, history: str = "timeline",
                    buyers: str = "standard") -> SeededPortal:
    """A deterministic portal of `n_contacts` contacts created over the three years before `now`.

    `history`: "timeline" (each contact's property history is a believable past ending at
    today's values, timeline.py) or "flat" (imported from another CRM a week ago: one IMPORT
    version per property, createdate and the lifecycle dates at the import). `buyers`:
    "standard" or "custom" (propensity in custom properties, see _buyer_profile). Today's values
    of a standard portal do not depend on `history` (apart from the import dates of "flat").
    """
    if history not in HISTORY_MODES:
        raise ValueError(f"history must be one of {', '.join(HISTORY_MODES)}; got {history!r}")
    if buyers not in BUYER_MODES:
        raise ValueError(f"buyers must be one of {', '.join(BUYER_MODES)}; got {buyers!r}")
    rng = random.Random(seed)
    now_ms = int(now.astimezone(UTC).timestamp() * 1000)
    owners = _owners(rng, now_ms)
    builder = _Builder(rng, now_ms, owners, seed=seed, buyers=buyers)
    import_ms = now_ms - IMPORT_AGE_MS if history == "flat" else None
    span = 3 * 365 * _DAY_MS
    # Growth: more contacts recently (sqrt pulls creation dates towards now).
    created = sorted(now_ms - int(span * (1 - rng.random() ** 0.6)) - rng.randint(60_000, 3_600_000)
                     for _ in range(n_contacts))
    contacts, truth = [], {}
    next_id = 101
    for created_ms in created:
        cid = str(next_id)
        next_id += rng.randint(1, 3)  # ids rise with creation time, with gaps like a real portal
        contact, contact_truth = builder.contact(cid, created_ms)
        if import_ms is not None:
            _flatten(contact, import_ms)
        if contact_truth["became_customer"]:
            contact_truth["converts_at"] = _converts_at(seed, cid, contact["properties"], now_ms)
        contacts.append(contact)
        truth[cid] = contact_truth
    return SeededPortal(
        portal_id=62_515_000 + seed % 1000,
        app_id=54_321,
        owners=owners,
        contacts=contacts,
        engagements=builder.engagements,
        associations=builder.associations,
        truth=truth,
        seed=seed,
        now_ms=now_ms,
        history=history,
        buyers=buyers,
        import_ms=import_ms,
        custom_properties=list(BUYER_PROPERTIES) if buyers == "custom" else [],
        custom_groups=[dict(BUYER_GROUP)] if buyers == "custom" else [],
    )


# (activity type, weight)
_CLOCK_TYPES = (("page_view", 0.7), ("email_delivered", 0.07), ("email_open", 0.08),
                ("email_click", 0.04), ("form_submission", 0.08), ("meeting_booked", 0.01),
                ("email_bounce", 0.005), ("email_unsubscribe", 0.005))
_CLOCK_CUM = _cumulative([w for _, w in _CLOCK_TYPES])
_CLOCK_FORMS = ("Newsletter signup", "Ebook download", "Webinar registration", "Free trial",
                "Pricing request", "Contact sales", "Demo request")
_CLOCK_FORM_CUM = _cumulative((0.3, 0.3, 0.2, 0.08, 0.05, 0.04, 0.03))


class ActivityClock:
    """Keeps producing believable activity at about `rate_per_s` items per second."""

    MAX_BATCH = 1000  # a long pause must not produce a flood

    def __init__(self, seed: int, rate_per_s: float):
        self.rng = random.Random(seed)
        self.rate_per_s = rate_per_s
        self._owed = 0.0

    def next_batch(self, contact_ids: Sequence[str], now: datetime, elapsed_s: float) -> list[dict]:
        """Activity items (the /_sandbox/activity shape) for `elapsed_s` seconds before `now`."""
        if not contact_ids or elapsed_s <= 0:
            return []
        self._owed += self.rate_per_s * elapsed_s
        n = min(int(self._owed), self.MAX_BATCH)
        self._owed -= int(self._owed)
        rng = self.rng
        now_ms = int(now.astimezone(UTC).timestamp() * 1000)
        span_ms = int(elapsed_s * 1000)
        items = []
        for _ in range(n):
            kind = _pick(rng.random(), [t for t, _ in _CLOCK_TYPES], _CLOCK_CUM)
            item = {"contactId": rng.choice(contact_ids), "type": kind,
                    "occurredAt": iso_ms(now_ms - int(rng.random() * span_ms))}
            if kind == "page_view":
                item["url"] = SITE + rng.choice(SITE_PAGES)
            elif kind == "form_submission":
                item["formName"] = _pick(rng.random(), _CLOCK_FORMS, _CLOCK_FORM_CUM)
            items.append(item)
        items.sort(key=lambda i: i["occurredAt"])
        return items
