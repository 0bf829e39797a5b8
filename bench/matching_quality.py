"""Quality of matching against the optimal assignment (issue 5, "Benchmarks", "Quality").

    .venv/bin/python bench/matching_quality.py [--actors 60000] [--requests 3000] [--seed 1]
                                               [--k 3] [--search-pool 50] [--pool 100]
                                               [--internship-pool 1000]
                                               [--objective ranking|distance|both]
                                               [--ranking-candidates best|nearest]
                                               [--objective-weights service|default|NAME=W,...]
                                               [--unlimited-capacity]
                                               [--networkx auto|yes|no] [--no-validate]

One generated instance of the territory Paris Est Marne et Bois (towns and centres from
territories/paris-est-marne-et-bois.json), matched twice:

- Online, as the service does it: every volunteer's fr.vitawin.volunteer.registered.v1, then every
  request's fr.vitawin.request.created.v2, in creation order, through the real handlers
  (handlers.on_volunteer_registered / on_request_created, k=3) over the in-memory fakes of
  tests/unit/matching/conftest.py, with a `Search` whose `VolunteerIndex` is loaded by an
  `IndexFollower`. The clock (`Search.today`) is the request's creation day, so the weekly contact
  cap counts the proposals of that ISO week. Acceptances are modelled right after each request is
  handled, with the real `answers.answer` (capacity taken atomically): its proposals, in rank
  order, are accepted until professionals_wanted is reached (a pupil's placement is then
  confirmed by the referent); an acceptance refused for capacity is declined and the next
  candidate proposed (handlers.on_proposal_freed). The other proposals stay pending.
- Optima (--objective both, the default; or only one of them): the same instance as a
  transportation problem: each request takes at most professionals_wanted of its eligible pairs
  (0 or 1 each), and each capacity row holds at most its limit: (volunteer, action, ISO week of
  the request's creation) at weekly_contact_cap for every action, internships included (rule 7
  holds for them too: the first version of this bench forgot it, and its distance optimum broke
  the weekly cap of a few internship hosts), and (volunteer, internship period) at
  capacity_per_period. Eligible: rules.check with empty counters (the usage rules are the
  capacity rows). Maximum flow first (an LP), then minimum cost at that flow (a second LP with
  the flow fixed), both with scipy's HiGHS dual simplex. Without the internships' second row the
  matrix would be a network matrix (integral vertices); with it, integrality is checked and a
  stage whose vertex is fractional is solved again as a MILP (scipy.optimize.milp; printed). A
  row with no more arcs than its limit cannot bind and is left out. Two costs:
  - "ranking's objective": what the service's ranking values. Per pair, the static score
    ranking.rank(request, volunteer, distance, VolunteerStats(), priorities, weights).score, i.e.
    the service's own function and weights with the two dynamic criteria held at their initial
    value (reactivity at its prior 1/2, load at 1: nothing outstanding); distance, ROME codes,
    period and priority are the pair's. Cost = 1 - score, in units of 1e-6, times T plus the
    volunteer's rank by id among the request's arcs (T = more than that rank can be): score first,
    then the service's own tie-break (lower volunteer id), so that with capacities out of the way
    (--unlimited-capacity) the optimum and the service's greedy choice are the same set. Each
    request keeps the --pool (internships: --internship-pool) eligible offers of best static score
    among ALL the eligible offers in reach, located and remote (--ranking-candidates best: found
    exactly, walking the located offers nearest first until no farther one can beat the worst
    kept), or the same nearest ones as the distance optimum (--ranking-candidates nearest; with
    --pool equal to --search-pool, that is the service's own candidate pool).
  - "distance only": cost = distance in metres; each request keeps its --pool (internships:
    --internship-pool) nearest eligible located offers plus as many eligible remote ones.
  The number of requests whose arcs were cut is printed (the full bipartite graph has millions of
  arcs): a cut can only make an optimum look worse. With --networkx (default: when a graph has at
  most 60,000 arcs, and only when no arc is under two rows, i.e. a true network),
  networkx.max_flow_min_cost solves the same graph too, as a cross-check.
  The ranking weights of the optimum's objective are --objective-weights: "service" (the
  online run's, MATCHING_WEIGHT_*), "default" (RankingWeights()) or overrides of the defaults
  ("rome=0.1,load=0"). Every column's "static score" is measured with those same weights.

Every accepted pair of the online run (and every proposal) is checked again with
vitawin_matching.rules.check, with a Usage rebuilt from the run's own log (accepted placements
before the acceptance, proposals of that week before the proposal, the request's outstanding
proposals): the violations are counted per rule (target: 0). Each optimum's assignment is checked
the same way, its pairs taken in the requests' creation order, each pair being both a proposal
and an acceptance (counters: the optimum's own earlier pairs).

--unlimited-capacity (a sanity check of the optimum, not a realistic instance): every offer's
capacity_per_period and weekly_contact_cap become 1,000,000 (after the contract validation).
Nothing then couples the requests, so for a separable objective the greedy online choice IS the
optimum: with the dynamic weights at 0 (MATCHING_WEIGHT_REACTIVITY=0 MATCHING_WEIGHT_LOAD=0) and
the service's candidate pool (--ranking-candidates nearest --pool 50 --internship-pool 50), the
online / ranking-optimum ratios must be 1.000.

Online, `Search.pool` (--search-pool, MATCHING_POOL, 50 by default) is the service's own
candidate pool: the nearest offers that pass the rules without counters, before the counters
(capacity, weekly cap) are read. Ranking weights come from MATCHING_WEIGHT_* as in the service
(e.g. MATCHING_WEIGHT_ROME=0 ... to rank on distance alone).

The instance (seeded): --actors actors, 30 % of them pledge. Volunteers at a town centre of the
territory (weighted by population) plus a Gaussian offset (sigma about 1.1 km); 1 to 3 action
types (testimony 35 %, intervention 20 %, internship 30 %, job fair 15 %, apprenticeship and
mentoring 5 % each, asked by no request here); per action: audience (collège 35 %, lycée 25 %,
all 40 %), modality (10 % remote for testimony and intervention), a limit of 3 to 20 km (the
pledge's, or in 30 % of the actions their own), a weekly contact cap of 2 to 10; internships: 1 to
3 interns per period, levels (half any, else those of the audience), periods (30 % any week,
else some of the schools' internship periods); job fairs: 60 % on request, else 1 to 3 of the
fair days. 47 schools (60 % collèges, 40 % lycées) placed in the towns by population, each with
its internship period (3e: one week among 2026-W50, 2027-W03, 2027-W05; 2nde: 2027-W24 and W25).
Requests spread over the schools: class testimony 25 %, class intervention 15 %, job fair 5 %
(on one of 8 fair days), internship hosting 15 % (over the school's period), discovery internship
25 % and job information 15 % (pupils' requests, placed at the school); dated kinds on school
days from January to mid-June 2027 (zone C holidays left out, approximately); professionals
wanted 1 to 5 (job fairs 3 to 10, pupils' requests 1); a limit of 5 to 15 km; created 2 to 8
weeks before the date (internships 3 to 10 weeks before the period), never before 2026-11-09.

It is a benchmark, not a test: it prints figures (date, machine, parameters, a Markdown table)."""
from __future__ import annotations

import argparse
import copy
import heapq
import math
import os
import platform
import random
import sys
import time
from collections import Counter, defaultdict
from datetime import date, datetime, time as dtime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import scipy
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import csr_matrix, vstack

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.unit.matching.conftest (the fakes)
sys.path.insert(0, str(ROOT / "services" / "matching"))  # when the package is not installed

from vitawin_common.contracts import load as load_contracts  # noqa: E402
from vitawin_common.events import new_event  # noqa: E402
from vitawin_common.territory import distance_km, load as load_territory  # noqa: E402

from vitawin_matching import answers, handlers, rules  # noqa: E402
from vitawin_matching.domain import INTERNSHIP, REMOTE, Request, Volunteer  # noqa: E402
from vitawin_matching.index import VolunteerIndex  # noqa: E402
from vitawin_matching.ranking import NEUTRAL, RankingWeights, VolunteerStats, rank  # noqa: E402
from vitawin_matching.search import REMOTE_OK, IndexFollower, Search  # noqa: E402
from vitawin_matching.workflow import ACCEPTED, PENDING, REQUESTER, VOLUNTEER  # noqa: E402

from tests.unit.matching.conftest import FakeDatabase, FakeUnitOfWork, FakeVolunteers  # noqa: E402

TERRITORY_FILE = ROOT / "territories" / "paris-est-marne-et-bois.json"
PLEDGE_SHARE = 0.30
N_SCHOOLS = 47
K_DEFAULT = 3

ROME = [("D1102", "Boulanger / Boulangère"), ("D1104", "Pâtissier / Pâtissière"),
        ("G1602", "Cuisinier / Cuisinière"), ("H2909", "Assembleur monteur / Assembleuse monteuse"),
        ("M1805", "Développeur / Développeuse informatique"), ("J1506", "Infirmier / Infirmière"),
        ("F1703", "Maçon / Maçonne"), ("I1604", "Mécanicien / Mécanicienne automobile"),
        ("K2111", "Formateur / Formatrice"), ("D1501", "Vendeur / Vendeuse"),
        ("M1607", "Secrétaire"), ("F1602", "Électricien / Électricienne du bâtiment"),
        ("K1302", "Aide-soignant / Aide-soignante"), ("A1203", "Jardinier / Jardinière paysagiste"),
        ("E1205", "Graphiste")]
ACTION_WEIGHTS = {"testimony": 0.35, "intervention": 0.20, "internship": 0.30, "job_fair": 0.15,
                  "apprenticeship": 0.05, "mentoring": 0.05}
AUDIENCES = (("college", 0.35), ("lycee", 0.25), ("all", 0.40))
LEVEL_OF = {"college": "3e", "lycee": "2nde"}
COLLEGE_PERIODS = (("2026-W50",), ("2027-W03",), ("2027-W05",))
LYCEE_PERIODS = (("2027-W24", "2027-W25"),)
ALL_PERIODS = COLLEGE_PERIODS + LYCEE_PERIODS  # disjoint: a (volunteer, period) node is exact
KINDS = (("class_testimony", 0.25), ("class_intervention", 0.15), ("job_fair", 0.05),
         ("internship_hosting", 0.15), ("discovery_internship", 0.25), ("job_information", 0.15))
ACTION_OF = {"class_testimony": "testimony", "class_intervention": "intervention", "job_fair": "job_fair",
             "internship_hosting": "internship", "discovery_internship": "internship",
             "job_information": "testimony"}
PUPIL_KINDS = {"discovery_internship", "job_information"}
FIRST_DAY, LAST_DAY = date(2027, 1, 4), date(2027, 6, 11)
HOLIDAYS = ((date(2027, 2, 20), date(2027, 3, 7)), (date(2027, 4, 17), date(2027, 5, 2)))  # zone C, approx.
EARLIEST_CREATION = date(2026, 11, 9)
REGISTRATION_DAY = date(2026, 11, 2)


def week_monday(week: str) -> date:
    year, number = week.split("-W")
    return date.fromisocalendar(int(year), int(number), 1)


def school_days() -> list[date]:
    days, day = [], FIRST_DAY
    while day <= LAST_DAY:
        if day.weekday() < 5 and not any(a <= day <= b for a, b in HOLIDAYS):
            days.append(day)
        day += timedelta(days=1)
    return days


def pick(rng: random.Random, weighted) -> str:
    names, weights = zip(*weighted)
    return rng.choices(names, weights)[0]


def iso_z(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# --- the instance --------------------------------------------------------------------------------
def place(rng: random.Random, towns, weights, sigma_km: float = 1.1):
    town = rng.choices(towns, weights)[0]
    lat = town.centre.lat + rng.gauss(0, sigma_km) / 111.195
    lon = town.centre.lon + rng.gauss(0, sigma_km) / (111.195 * math.cos(math.radians(town.centre.lat)))
    return town, round(lat, 6), round(lon, 6)


def action_settings(rng: random.Random, action: str, fair_days: list[date]) -> dict:
    code, label = rng.choice(ROME)
    audience = pick(rng, AUDIENCES)
    modality = {"internship": "on_site", "apprenticeship": "on_site", "mentoring": "on_site"}.get(action, "in_class")
    if action in ("testimony", "intervention") and rng.random() < 0.10:
        modality = "remote"
    settings = {"rome_codes": [code], "rome_jobs": [{"code": code, "label": label}], "audience": audience,
                "modality": modality, "weekly_contact_cap": rng.randint(2, 10)}
    if rng.random() < 0.30:
        settings["max_distance_km"] = rng.randint(3, 20)
    if action == "intervention":
        settings["topics"] = ["Découverte du métier"]
    elif action == "internship":
        settings["capacity_per_period"] = rng.randint(1, 3)
        if rng.random() < 0.5:
            settings["levels"] = []
        else:
            settings["levels"] = ["3e", "2nde"] if audience == "all" else [LEVEL_OF[audience]]
        if rng.random() < 0.30:
            settings["periods"] = []
        else:
            chosen = [p for p in ALL_PERIODS if rng.random() < 0.5] or [rng.choice(ALL_PERIODS)]
            settings["periods"] = [week for period in chosen for week in period]
    elif action == "apprenticeship":
        settings.update(diplomas=[], places=rng.randint(1, 3))
    elif action == "mentoring":
        settings.update(duration_months=6, mentees=rng.randint(1, 3))
    elif action == "job_fair":
        if rng.random() < 0.60:
            settings.update(dates=[], on_request=True)
        else:
            settings.update(dates=sorted(d.isoformat() for d in rng.sample(fair_days, rng.randint(1, 3))),
                            on_request=False)
    return settings


def generate(args, territory):
    rng = random.Random(args.seed)
    towns = sorted(territory.towns.values(), key=lambda t: t.insee)
    raw = {t["insee"]: t for t in __import__("json").loads(TERRITORY_FILE.read_text(encoding="utf-8"))["towns"]}
    weights = [raw[t.insee].get("population", 1) for t in towns]
    days = school_days()
    fair_days = sorted(rng.sample([d for d in days if d.weekday() == 3 and d < date(2027, 4, 1)], 8))
    registered_at = datetime.combine(REGISTRATION_DAY, dtime(9), timezone.utc)

    volunteers = []
    n_pledges = round(args.actors * PLEDGE_SHARE)
    action_names, action_weights = zip(*ACTION_WEIGHTS.items())
    for i in range(n_pledges):
        town, lat, lon = place(rng, towns, weights)
        count = rng.choices((1, 2, 3), (0.5, 0.35, 0.15))[0]
        types: list[str] = []
        while len(types) < count:
            action = rng.choices(action_names, action_weights)[0]
            if action not in types:
                types.append(action)
        vid = f"vol-{i:07d}"
        volunteers.append({
            "volunteer_id": vid, "organisation_name": f"Entreprise {i}",
            "contact_email": f"contact-{i}@entreprise.example.fr", "town": town.insee,
            "location": {"lat": lat, "lon": lon}, "action_types": types,
            "max_distance_km": rng.randint(3, 20), "actor_id": f"act-{i:032x}",
            "actions": {a: action_settings(rng, a, fair_days) for a in types}})

    schools = []
    for i in range(N_SCHOOLS):
        town, lat, lon = place(rng, towns, weights, sigma_km=0.8)
        kind = "college" if rng.random() < 0.6 else "lycee"
        period = rng.choice(COLLEGE_PERIODS if kind == "college" else LYCEE_PERIODS)
        schools.append(SimpleNamespace(uai=f"094{i:04d}{chr(65 + i % 26)}", town=town.insee, lat=lat, lon=lon,
                                       audience=kind, level=LEVEL_OF[kind], period=period))

    requests = []
    for i in range(args.requests):
        school = rng.choice(schools)
        kind = pick(rng, KINDS)
        code, label = rng.choice(ROME)
        data = {"request_id": f"req-{i:07d}", "kind": kind,
                "requester_kind": "pupil" if kind in PUPIL_KINDS else "school",
                "action_type": ACTION_OF[kind], "school_uai": school.uai, "levels": [school.level],
                "audience": school.audience, "town": school.town,
                "location": {"lat": school.lat, "lon": school.lon}}
        if kind != "job_fair":
            data["level"] = school.level
        if kind in ("class_testimony", "class_intervention", "job_fair"):
            day = rng.choice(fair_days) if kind == "job_fair" else rng.choice(days)
            data.update(date=day.isoformat(), start_time="09:00", end_time="12:00" if kind != "job_fair" else "16:00")
            if kind != "job_fair":
                data["class_size"] = rng.randint(20, 32)
            if kind == "class_intervention":
                data["topic"] = "Découverte du métier"
            created = day - timedelta(days=rng.randint(14, 56))
            expires = day
            wanted = rng.randint(3, 10) if kind == "job_fair" else rng.randint(1, 5)
        elif kind in ("internship_hosting", "discovery_internship"):
            data["period"] = list(school.period)
            start = week_monday(school.period[0])
            created = start - timedelta(days=rng.randint(21, 70))
            expires = start
            wanted = rng.randint(1, 5) if kind == "internship_hosting" else 1
            if kind == "internship_hosting":
                data["pupils"] = wanted
            else:
                data["around"] = "school"
        else:  # job_information
            created = EARLIEST_CREATION + timedelta(days=rng.randint(0, (LAST_DAY - EARLIEST_CREATION).days - 30))
            expires = created + timedelta(days=30)
            wanted = 1
        created = max(created, EARLIEST_CREATION)
        created_at = datetime.combine(created, dtime(8), timezone.utc) + timedelta(seconds=rng.randint(0, 36000))
        data.update({"rome_codes": [code], "rome_jobs": [{"code": code, "label": label}],
                     "professionals_wanted": wanted, "max_distance_km": float(rng.choice((5, 8, 10, 12, 15)))})
        if data["requester_kind"] == "school":
            data["contact_email"] = f"referent-{i}@{school.uai.lower()}.example.fr"
        data.update({"status": "open", "version": 1, "accepted_count": 0, "created_at": iso_z(created_at),
                     "updated_at": iso_z(created_at),
                     "expires_at": iso_z(datetime.combine(expires, dtime(22), timezone.utc))})
        requests.append((created_at, data))
    requests.sort(key=lambda item: (item[0], item[1]["request_id"]))
    return volunteers, registered_at, requests, schools


# --- online: the real handlers over the fakes ------------------------------------------------------
class JournaledDict(dict):
    """The fake's usage counters with an undo journal: a transaction's rollback without copying
    every counter (FakeUnitOfWork deep-copies; at 60,000 actors that is most of the run)."""
    journal: dict | None = None
    _MISSING = object()

    def __setitem__(self, key, value):
        if self.journal is not None and key not in self.journal:
            self.journal[key] = self.get(key, self._MISSING)
        super().__setitem__(key, value)

    def rollback(self):
        for key, old in (self.journal or {}).items():
            if old is self._MISSING:
                self.pop(key, None)
            else:
                super().__setitem__(key, old)


class BenchUnitOfWork(FakeUnitOfWork):
    """FakeUnitOfWork with the same all-or-nothing semantics, but the usage counters are undone
    from a journal; the other collections are small because the bench archives each request's
    rows once it is handled (nothing later reads them: every volunteer came before)."""

    def __enter__(self):
        assert not self.in_transaction, "transactions do not nest"
        self._saved = copy.deepcopy((self.db.requests, self.db.proposals, self.db.outbox, self.db.proposal_docs))
        self.db.usage.journal = {}
        self.in_transaction = True
        return self

    def __exit__(self, *exc_info):
        if self.in_transaction:
            self.db.requests, self.db.proposals, self.db.outbox, self.db.proposal_docs = self._saved
            self.db.usage.rollback()
        self.db.usage.journal = None
        self.in_transaction = False


def run_online(volunteer_data, registered_at, request_items, k, search_pool=50, priorities=frozenset()):
    db = FakeDatabase()
    db.usage = JournaledDict()
    uow = BenchUnitOfWork(db)
    clock = {"today": REGISTRATION_DAY}
    index = VolunteerIndex()
    follower = IndexFollower(index, FakeVolunteers(db), margin_s=0.0)
    search = Search(index=index, today=lambda: clock["today"], fresh_since=follower.fresh_since,
                    weights=RankingWeights.from_env(os.environ), pool=search_pool, priorities=priorities)
    t0 = time.perf_counter()
    for data in volunteer_data:
        event = new_event("fr.vitawin.volunteer.registered.v1", "/vitawin/actors", data["volunteer_id"], data)
        handlers.on_volunteer_registered(event, uow, k=k, search=search)
    loaded = follower.load()
    t_volunteers = time.perf_counter() - t0

    def offer_of(doc):
        return db.volunteers[doc["volunteer_id"]].offer(doc["action_type"])

    log = []  # ("proposal", proposal, day) | ("accept", proposal_id) | ("decline", proposal_id)
    proposals = {}
    capacity_refusals = 0
    t0 = time.perf_counter()
    for created_at, data in request_items:
        clock["today"] = created_at.date()
        now = created_at
        event = new_event("fr.vitawin.request.created.v2", "/vitawin/requests", data["request_id"], data)
        handlers.on_request_created(event, uow, k=k, search=search)
        rid, wanted = data["request_id"], data["professionals_wanted"]
        tried: set[str] = set()
        accepted = 0
        while accepted < wanted:
            mine = sorted((p for p in db.proposals.values() if p.request_id == rid), key=lambda p: p.rank)
            for p in mine:
                if p.proposal_id not in proposals:
                    proposals[p.proposal_id] = p
                    log.append(("proposal", p, clock["today"]))
            todo = [p for p in mine if p.proposal_id not in tried
                    and db.proposal_docs[p.proposal_id]["state"].status == PENDING]
            if not todo:
                break
            p = todo[0]
            tried.add(p.proposal_id)
            now += timedelta(hours=1)
            try:
                answers.answer(uow, p.proposal_id, VOLUNTEER, True, now=now, offer_of=offer_of)
                if data["requester_kind"] == "pupil":
                    answers.answer(uow, p.proposal_id, REQUESTER, True, now=now, offer_of=offer_of)
                accepted += 1
                log.append(("accept", p.proposal_id))
            except answers.CapacityReached:
                capacity_refusals += 1
                answers.answer(uow, p.proposal_id, VOLUNTEER, False, now=now)
                log.append(("decline", p.proposal_id))
                handlers.on_proposal_freed(SimpleNamespace(data={"request_id": rid, "proposal_id": p.proposal_id}),
                                           uow, k=k, search=search)
        for p in sorted((p for p in db.proposals.values() if p.request_id == rid), key=lambda p: p.rank):
            if p.proposal_id not in proposals:  # proposed after the last acceptance (none expected)
                proposals[p.proposal_id] = p
                log.append(("proposal", p, clock["today"]))
        # archive the handled request (see BenchUnitOfWork)
        db.requests.pop(rid, None)
        db.proposals.clear()
        db.proposal_docs.clear()
        db.outbox.clear()
    t_requests = time.perf_counter() - t0
    return SimpleNamespace(db=db, index=index, loaded=loaded, log=log, proposals=proposals,
                           capacity_refusals=capacity_refusals, t_volunteers=t_volunteers, t_requests=t_requests)


def recheck(online, volunteers, requests, k):
    """rules.check on every proposal and every acceptance of the online log, with the counters
    rebuilt from the log itself. Returns (proposal violations, acceptance violations) by rule,
    and the accepted pairs."""
    accepted_by_week = Counter()  # (volunteer, week) -> internship placements
    accepted_total = Counter()  # (volunteer, action)
    proposed = Counter()  # (volunteer, action, week)
    outstanding = Counter()  # request -> pending + accepted
    at_proposal = {}
    bad_proposals, bad_accepts = Counter(), Counter()
    pairs = []
    for entry in online.log:
        if entry[0] == "proposal":
            p, day = entry[1], entry[2]
            request, volunteer = requests[p.request_id], volunteers[p.volunteer_id]
            week = rules.iso_week(day)
            usage = rules.Usage(accepted_by_week={w: accepted_by_week[(p.volunteer_id, w)] for w in request.period},
                                accepted_total=accepted_total[(p.volunteer_id, p.action_type)],
                                proposed_by_week={week: proposed[(p.volunteer_id, p.action_type, week)]},
                                request_outstanding=outstanding[p.request_id])
            for broken in rules.check(request, volunteer, usage, day, extra=k - 1):
                bad_proposals[broken.rule] += 1
            at_proposal[p.proposal_id] = (day, usage)
            proposed[(p.volunteer_id, p.action_type, week)] += 1
            outstanding[p.request_id] += 1
        elif entry[0] == "decline":
            outstanding[online.proposals[entry[1]].request_id] -= 1
        else:
            p = online.proposals[entry[1]]
            request, volunteer = requests[p.request_id], volunteers[p.volunteer_id]
            day, then = at_proposal[p.proposal_id]
            usage = rules.Usage(accepted_by_week={w: accepted_by_week[(p.volunteer_id, w)] for w in request.period},
                                accepted_total=accepted_total[(p.volunteer_id, p.action_type)],
                                proposed_by_week=then.proposed_by_week,
                                request_outstanding=then.request_outstanding)
            for broken in rules.check(request, volunteer, usage, day, extra=k - 1):
                bad_accepts[broken.rule] += 1
            if p.action_type == INTERNSHIP:
                for w in request.period:
                    accepted_by_week[(p.volunteer_id, w)] += 1
            accepted_total[(p.volunteer_id, p.action_type)] += 1
            pairs.append((p.request_id, p.volunteer_id, distance_km(request.location, volunteer.location)))
    return bad_proposals, bad_accepts, pairs


# --- optima: min-cost flow -------------------------------------------------------------------------
class StaticScore:
    """The ranking's score of a pair with the dynamic criteria at their initial value
    (VolunteerStats(): reactivity at its prior 1/2, load 1): ranking.rank itself, cached."""

    def __init__(self, requests, volunteers, weights: RankingWeights, priorities):
        self.requests, self.volunteers, self.weights, self.priorities = requests, volunteers, weights, priorities
        self.cache: dict[tuple[str, str], float] = {}

    def __call__(self, rid: str, vid: str) -> float:
        key = (rid, vid)
        value = self.cache.get(key)
        if value is None:
            request, volunteer = self.requests[rid], self.volunteers[vid]
            value = self.cache[key] = rank(request, volunteer, distance_km(request.location, volunteer.location),
                                           VolunteerStats(), self.priorities, self.weights).score
        return value

    def bound(self, request: Request, distance: float) -> float:
        """An upper bound of the static score of any located offer at `distance` km or more: the
        distance criterion is at most 1 - distance / (the request's limit), the ROME share 1, the
        period 1 for internships and job fairs (else neutral), priority the request's own."""
        w = self.weights
        period = 1.0 if request.action_type in (INTERNSHIP, "job_fair") else NEUTRAL
        priority = 1.0 if (request.school_uai in self.priorities or request.town in self.priorities) else 0.0
        dist = max(0.0, 1 - distance / request.max_distance_km) if request.max_distance_km > 0 else 0.0
        total = (w.distance * dist + w.rome + w.period * period + w.reactivity * 0.5 + w.load
                 + w.priority * priority)
        return min(1.0, total / w.total)

    def offer_bound(self, request: Request, volunteer: Volunteer, distance: float) -> float:
        """An upper bound of the pair's static score, cheaper than rank(): the distance and ROME
        criteria exact, the period at its largest for the request's action."""
        w = self.weights
        offer = volunteer.offer(request.action_type)
        if offer is None:
            return 0.0  # not pledged: not eligible either
        if offer.modality == REMOTE:
            dist = NEUTRAL
        else:
            limit = min(request.max_distance_km, offer.limit_km(volunteer))
            dist = min(1.0, max(0.0, 1 - distance / limit)) if limit > 0 else 0.0
        codes = request.rome_codes
        rome = sum(1 for c in codes if c in offer.rome_codes) / len(codes) if codes else NEUTRAL
        period = 1.0 if request.action_type in (INTERNSHIP, "job_fair") else NEUTRAL
        priority = 1.0 if (request.school_uai in self.priorities or request.town in self.priorities) else 0.0
        total = (w.distance * dist + w.rome * rome + w.period * period + w.reactivity * 0.5 + w.load
                 + w.priority * priority)
        return min(1.0, total / w.total)


def candidates(requests, created_day, index, pool, internship_pool, mode, score=None, vid_order=None):
    """Per request, the eligible offers an optimum may use, as (volunteer_id, km, volunteer):
    mode "nearest": the `pool` nearest eligible located offers plus as many eligible remote ones
    (the service's own candidate pool when `pool` is its MATCHING_POOL); mode "best": the `pool`
    eligible offers of best static score (then lower volunteer id) among all those in reach.
    Returns the lists and how many requests were cut (internship or not)."""
    found_by, cut = {}, Counter()
    remote_by_action = {a: [(vid, v) for vid, v in index.remote(a)] for a in ACTION_WEIGHTS}
    for rid, request in requests.items():
        day = created_day[rid]

        def eligible(volunteer_id, distance, volunteer, request=request, day=day):
            return not rules.check(request, volunteer, rules.Usage(), day, distance=distance)
        limit = internship_pool if request.action_type == INTERNSHIP else pool
        remote_ok = rules.kind_of(request) in REMOTE_OK
        if mode == "nearest":
            found = index.nearest(request.action_type, request.location.lat, request.location.lon,
                                  request.max_distance_km, limit, accept=eligible)
            was_cut = len(found) >= limit
            if remote_ok:
                remote = 0
                for vid, v in remote_by_action[request.action_type]:
                    if remote >= limit:
                        was_cut = True
                        break
                    if eligible(vid, None, v):
                        found.append((vid, distance_km(request.location, v.location), v))
                        remote += 1
            if was_cut:
                cut[request.action_type == INTERNSHIP] += 1
        else:
            heap: list = []  # the `limit` best so far; heap[0] the worst of them: (score, -order, ...)
            seen = [0, False]  # eligible offers met; whether some offer was left out unchecked

            def offer(vid, d, v):
                if len(heap) >= limit and score.offer_bound(request, v, d) < heap[0][0] - 1e-12:
                    seen[1] = True  # cannot enter: neither the rules nor rank() needed
                    return
                if not eligible(vid, d, v):
                    return
                seen[0] += 1
                item = (score(rid, vid), -vid_order[vid], vid, d, v)
                if len(heap) < limit:
                    heapq.heappush(heap, item)
                elif item > heap[0]:
                    heapq.heapreplace(heap, item)
            if remote_ok:
                for vid, v in remote_by_action[request.action_type]:
                    offer(vid, distance_km(request.location, v.location), v)
            for vid, d, v in index.iter_nearby(request.action_type, request.location.lat, request.location.lon,
                                               request.max_distance_km, batch=256):
                if len(heap) >= limit and score.bound(request, d) < heap[0][0] - 1e-12:
                    seen[1] = True
                    break  # nearest first: no farther offer can enter
                offer(vid, d, v)
            if seen[0] > limit or seen[1]:  # an upper count: what was left unchecked may be ineligible
                cut[request.action_type == INTERNSHIP] += 1
            found = [(vid, d, v) for _, _, vid, d, v in sorted(heap, reverse=True)]
        found_by[rid] = found
    return found_by, cut


def build_graph(requests, created_day, found_by, cost_of):
    """Arcs (request, volunteer, [capacity rows], integer cost, km) and the capacity rows' limits.
    The rows of a pair: internship: (volunteer, period) at capacity_per_period AND (volunteer,
    internship, week of the request's creation) at weekly_contact_cap (rules 6 and 7 both hold for
    internships); other actions: (volunteer, action, week) at weekly_contact_cap. A row with no
    more arcs than its limit cannot bind and is left out. cost_of(request_id, [(volunteer_id, km,
    volunteer)]) -> the arcs' costs."""
    arcs, cap_of, row_of = [], [], {}
    for rid, found in found_by.items():
        request = requests[rid]
        week = rules.iso_week(created_day[rid])
        for (vid, d, v), cost in zip(found, cost_of(rid, found)):
            offer = v.offer(request.action_type)
            keys = [(("w", vid, request.action_type, week), offer.weekly_contact_cap)]
            if request.action_type == INTERNSHIP:
                keys.append((("i", vid, request.period), offer.capacity_per_period))
            rows = []
            for key, cap in keys:
                row = row_of.get(key)
                if row is None:
                    row = row_of[key] = len(cap_of)
                    cap_of.append(cap)
                rows.append(row)
            arcs.append((rid, vid, rows, cost, d))
    used = Counter(row for arc in arcs for row in arc[2])
    keep = {row: i for i, row in enumerate(r for r in range(len(cap_of)) if used[r] > cap_of[r])}
    arcs = [(rid, vid, [keep[r] for r in rows if r in keep], cost, d) for rid, vid, rows, cost, d in arcs]
    node_cap = [cap_of[r] for r in sorted(keep, key=keep.get)]
    return arcs, node_cap


SCORE_UNIT = 1_000_000  # the ranking optimum's cost: (1 - score) in units of 1e-6...


def ranking_costs(score, found_by):
    """...times T, plus the volunteer's rank by id among the request's arcs (< T, the same T for
    every request): the score first, then the service's tie-break (lower id first). Integer
    costs (networkx needs them). Returns cost_of and T."""
    t = max((len(found) for found in found_by.values()), default=0) + 1

    def cost_of(rid, found):
        by_id = {vid: i for i, vid in enumerate(sorted(vid for vid, _, _ in found))}
        return [int(round((1 - score(rid, vid)) * SCORE_UNIT)) * t + by_id[vid] for vid, _, _ in found]
    return cost_of, t


def distance_costs(rid, found):
    return [int(round(d * 1000)) for _, d, _ in found]


def solve_lp(arcs, node_cap, requests):
    """Maximum flow, then minimum cost at that flow: two LPs (scipy HiGHS dual simplex). When every
    arc has at most one capacity row the matrix is a network matrix and the vertex is integral;
    an internship arc may have two (period and weekly cap), so integrality is checked, and a
    stage whose LP vertex is fractional is solved again as a MILP (scipy.optimize.milp, HiGHS)."""
    rids = list(requests)
    row_of = {rid: i for i, rid in enumerate(rids)}
    n_arcs = len(arcs)
    cols = np.arange(n_arcs)
    req_rows = np.fromiter((row_of[a[0]] for a in arcs), dtype=np.int64, count=n_arcs)
    node_rows = np.fromiter((r for a in arcs for r in a[2]), dtype=np.int64)
    node_cols = np.fromiter((j for j, a in enumerate(arcs) for _ in a[2]), dtype=np.int64)
    cost = np.fromiter((a[3] for a in arcs), dtype=np.float64, count=n_arcs)
    ones = np.ones(n_arcs)
    a_req = csr_matrix((ones, (req_rows, cols)), shape=(len(rids), n_arcs))
    a_node = csr_matrix((np.ones(len(node_rows)), (node_rows, node_cols)), shape=(len(node_cap), n_arcs))
    a_ub = vstack([a_req, a_node]).tocsr()
    b_ub = np.concatenate([[requests[r].professionals_wanted for r in rids], node_cap]).astype(float)
    milps = []

    def far(x):
        return float(np.max(np.abs(x - np.round(x)))) if len(x) else 0.0

    def solve(c, a_eq=None, b_eq=None):
        result = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=(0, 1), method="highs-ds")
        assert result.status == 0, result.message
        if far(result.x) <= 1e-6:
            return result.x, result.fun, far(result.x)
        fractional = far(result.x)
        constraints = [LinearConstraint(a_ub, -np.inf, b_ub)]
        if a_eq is not None:
            constraints.append(LinearConstraint(a_eq, b_eq, b_eq))
        mip = milp(c, constraints=constraints, integrality=np.ones(n_arcs), bounds=Bounds(0, 1))
        assert mip.status == 0, mip.message
        milps.append(fractional)
        return mip.x, mip.fun, far(mip.x)

    x, fun, _ = solve(-ones)
    flow = int(round(-fun))
    x, fun, fractional = solve(cost, csr_matrix(ones), [flow])
    chosen = np.flatnonzero(np.round(x) > 0.5)
    return flow, int(round(fun)), chosen, fractional, milps


def solve_networkx(arcs, node_cap, requests):
    """The same problem as a network (only when every arc has at most one capacity row)."""
    import networkx as nx
    graph = nx.DiGraph()
    for rid, request in requests.items():
        graph.add_edge("s", ("r", rid), capacity=request.professionals_wanted, weight=0)
    for node, cap in enumerate(node_cap):
        graph.add_edge(("v", node), "t", capacity=cap, weight=0)
    for j, (rid, _, rows, cost, _) in enumerate(arcs):
        if rows:
            graph.add_edge(("r", rid), ("v", rows[0]), capacity=1, weight=cost)
        else:  # no row can bind: straight to the sink, through the arc's own node
            graph.add_edge(("r", rid), ("a", j), capacity=1, weight=cost)
            graph.add_edge(("a", j), "t", capacity=1, weight=0)
    flow = nx.max_flow_min_cost(graph, "s", "t")
    value = sum(flow["s"].values())
    return value, nx.cost_of_flow(graph, flow)


# --- figures -------------------------------------------------------------------------------------
def p95(values):
    return float(np.percentile(values, 95)) if len(values) else float("nan")


def figures(pairs, requests, volunteers, received, score):
    """pairs: (request_id, volunteer_id, km) of the placements; received: proposals (or
    assignments) per volunteer; score(request_id, volunteer_id): the pair's static score."""
    placed = Counter(rid for rid, _, _ in pairs)
    wanted = {rid: r.professionals_wanted for rid, r in requests.items()}
    full = sum(1 for rid, w in wanted.items() if placed[rid] >= w)
    by_kind_full = Counter(requests[rid].kind for rid, w in wanted.items() if placed[rid] >= w)
    distances = [d for _, _, d in pairs]
    load = Counter()
    for rid, vid, _ in pairs:
        request = requests[rid]
        if request.action_type == INTERNSHIP:
            load[(vid, request.period)] += 1
    ratios = [n / volunteers[vid].offer(INTERNSHIP).capacity_per_period for (vid, _), n in load.items()]
    over = sum(1 for r in ratios if r > 1 + 1e-9)
    counts = list(received.values())
    rome = sum(1 for rid, vid, _ in pairs
               if set(requests[rid].rome_codes) & set(volunteers[vid].offer(requests[rid].action_type).rome_codes))
    scores = [score(rid, vid) for rid, vid, _ in pairs]
    located = [d for rid, vid, d in pairs if volunteers[vid].offer(requests[rid].action_type).modality != REMOTE]
    return {"rome_share": rome / max(1, len(pairs)), "requests": len(wanted), "full": full, "full_share": full / max(1, len(wanted)),
            "placed": len(pairs), "wanted": sum(wanted.values()),
            "placed_share": len(pairs) / max(1, sum(wanted.values())),
            "mean_km": float(np.mean(distances)) if distances else float("nan"), "p95_km": p95(distances),
            "remote": len(pairs) - len(located),
            "located_mean_km": float(np.mean(located)) if located else float("nan"), "located_p95_km": p95(located),
            "score_total": float(np.sum(scores)), "score_mean": float(np.mean(scores)) if scores else float("nan"),
            "load_mean": float(np.mean(ratios)) if ratios else float("nan"),
            "load_max": max(ratios) if ratios else float("nan"), "over_capacity": over,
            "per_volunteer_mean": float(np.mean(counts)) if counts else 0.0,
            "per_volunteer_max": max(counts) if counts else 0, "volunteers_used": len(counts),
            "by_kind_full": by_kind_full}


def recheck_assignment(pairs, requests, volunteers, created_day, order, k):
    """rules.check on every pair of an optimum's assignment, taken in the requests' creation
    order, each pair a proposal made on the request's creation day and accepted at once; the
    counters are the assignment's own earlier pairs. Returns the violations by rule."""
    accepted_by_week = Counter()  # (volunteer, week) -> internship placements
    accepted_total = Counter()  # (volunteer, action)
    proposed = Counter()  # (volunteer, action, week)
    outstanding = Counter()  # request -> pairs so far
    bad = Counter()
    for rid, vid, _ in sorted(pairs, key=lambda pair: (order[pair[0]], pair[1])):
        request, volunteer = requests[rid], volunteers[vid]
        day = created_day[rid]
        week = rules.iso_week(day)
        usage = rules.Usage(accepted_by_week={w: accepted_by_week[(vid, w)] for w in request.period},
                            accepted_total=accepted_total[(vid, request.action_type)],
                            proposed_by_week={week: proposed[(vid, request.action_type, week)]},
                            request_outstanding=outstanding[rid])
        for broken in rules.check(request, volunteer, usage, day, extra=k - 1):
            bad[broken.rule] += 1
        if request.action_type == INTERNSHIP:
            for w in request.period:
                accepted_by_week[(vid, w)] += 1
        accepted_total[(vid, request.action_type)] += 1
        proposed[(vid, request.action_type, week)] += 1
        outstanding[rid] += 1
    duplicates = sum(n - 1 for n in Counter((rid, vid) for rid, vid, _ in pairs).values() if n > 1)
    if duplicates:
        bad["duplicate_pair"] += duplicates
    return bad


UNLIMITED = 1_000_000


def objective_weights(spec: str) -> RankingWeights:
    if spec == "service":
        return RankingWeights.from_env(os.environ)
    if spec == "default":
        return RankingWeights()
    values = {}
    for item in spec.split(","):
        name, _, value = item.partition("=")
        values[name.strip()] = float(value)
    return RankingWeights(**values)


def machine() -> str:
    model = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{platform.platform()}; {model}; {os.cpu_count()} CPUs; Python {platform.python_version()}, "
            f"numpy {np.__version__}, scipy {scipy.__version__}")


def solve_optimum(name, requests, volunteers, created_day, order, found_by, cut, cost_of, score, args):
    t0 = time.perf_counter()
    arcs, node_cap = build_graph(requests, created_day, found_by, cost_of)
    t_graph = time.perf_counter() - t0
    t0 = time.perf_counter()
    flow, cost, chosen, fractional, milps = solve_lp(arcs, node_cap, requests)
    t_lp = time.perf_counter() - t0
    pairs = [(arcs[j][0], arcs[j][1], arcs[j][4]) for j in chosen]
    fig = figures(pairs, requests, volunteers, Counter(vid for _, vid, _ in pairs), score)
    bad = recheck_assignment(pairs, requests, volunteers, created_day, order, args.k)
    double = sum(1 for a in arcs if len(a[2]) > 1)
    print(f"Optimum ({name}): {len(arcs)} arcs, {len(node_cap)} capacity rows that can bind "
          f"({double} internship arcs under two of them), {len(requests)} requests "
          f"(arcs cut: {cut[False]} other requests at --pool {args.pool}, {cut[True]} internship requests at "
          f"--internship-pool {args.internship_pool}); flow {flow}, cost {cost}, "
          f"{sum(d for _, _, d in pairs):.1f} km, static score {fig['score_total']:.2f}; "
          + (f"LP vertex fractional in {len(milps)} stage(s) (up to {max(milps):.2f}): solved as MILP; "
             if milps else "LP vertices integral; ")
          + f"largest distance of the solution from an integer: {fractional:.1e}; "
          f"graph {t_graph:.1f} s, solve {t_lp:.1f} s (scipy HiGHS)")
    use_nx = double == 0 and (args.networkx == "yes" or (args.networkx == "auto" and len(arcs) <= 60000))
    if use_nx:
        t0 = time.perf_counter()
        nx_flow, nx_cost = solve_networkx(arcs, node_cap, requests)
        print(f"  networkx.max_flow_min_cost on the same graph: flow {nx_flow}, cost {nx_cost} "
              f"({'same as' if (nx_flow, nx_cost) == (flow, cost) else 'DIFFERENT FROM'} the LP) "
              f"in {time.perf_counter() - t0:.1f} s")
    elif double:
        print("  networkx cross-check not applicable (an arc under two capacity rows is not a network)")
    else:
        print(f"  networkx cross-check skipped ({len(arcs)} arcs > 60,000; --networkx yes to force)")
    return SimpleNamespace(fig=fig, bad=bad, pairs=pairs, time=t_graph + t_lp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--actors", type=int, default=60000)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--k", type=int, default=K_DEFAULT, help="handlers' k (slots = wanted + k - 1)")
    parser.add_argument("--search-pool", type=int, default=50,
                        help="online: Search.pool, the candidates ranked per request (MATCHING_POOL, 50)")
    parser.add_argument("--pool", type=int, default=100, help="optima: eligible offers kept per request")
    parser.add_argument("--internship-pool", type=int, default=1000,
                        help="optima: eligible offers kept per internship request (capacity binds there)")
    parser.add_argument("--objective", choices=("ranking", "distance", "both"), default="both",
                        help="which optima: the ranking's static objective, distance only, or both")
    parser.add_argument("--ranking-candidates", choices=("best", "nearest"), default="best",
                        help="ranking optimum's arcs: best static score among all eligible offers in reach, "
                             "or the nearest eligible ones")
    parser.add_argument("--objective-weights", default="service",
                        help="weights of the optimum's objective: service (MATCHING_WEIGHT_*, as online), "
                             "default (RankingWeights()), or NAME=W,... over the defaults")
    parser.add_argument("--unlimited-capacity", action="store_true",
                        help="sanity check: capacity_per_period and weekly_contact_cap of every offer set to "
                             f"{UNLIMITED:,}")
    parser.add_argument("--networkx", choices=("auto", "yes", "no"), default="auto",
                        help="cross-check the optima with networkx.max_flow_min_cost (auto: <= 60,000 arcs)")
    parser.add_argument("--no-validate", action="store_true", help="skip the contract validation of the events")
    args = parser.parse_args()
    started = time.perf_counter()
    weights = objective_weights(args.objective_weights)
    priorities = frozenset(item.strip() for item in os.environ.get("MATCHING_PRIORITIES", "").split(",")
                           if item.strip())
    print(f"# Matching quality — {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"Machine: {machine()}")
    print(f"Parameters: --actors {args.actors} --requests {args.requests} --seed {args.seed} --k {args.k} "
          f"--pool {args.pool} --internship-pool {args.internship_pool} --search-pool {args.search_pool} "
          f"--objective {args.objective} --ranking-candidates {args.ranking_candidates}"
          f"{' --unlimited-capacity' if args.unlimited_capacity else ''}; "
          f"online ranking weights {RankingWeights.from_env(os.environ)} (MATCHING_WEIGHT_*); "
          f"objective weights ({args.objective_weights}) {weights}; priorities {sorted(priorities) or 'none'}")

    territory = load_territory(TERRITORY_FILE)
    t0 = time.perf_counter()
    volunteer_data, registered_at, request_items, schools = generate(args, territory)
    if not args.no_validate:
        contracts = load_contracts(ROOT / "contracts")
        for data in volunteer_data:
            contracts.validate("fr.vitawin.volunteer.registered.v1", data)
        for _, data in request_items:
            contracts.validate("fr.vitawin.request.created.v2", data)
    if args.unlimited_capacity:
        for data in volunteer_data:
            for action, settings in data["actions"].items():
                settings["weekly_contact_cap"] = UNLIMITED
                if action == INTERNSHIP:
                    settings["capacity_per_period"] = UNLIMITED
    volunteers = {d["volunteer_id"]: Volunteer.from_event(d) for d in volunteer_data}
    requests = {d["request_id"]: Request.from_event(d) for _, d in request_items}
    created_day = {d["request_id"]: c.date() for c, d in request_items}
    order = {d["request_id"]: i for i, (_, d) in enumerate(request_items)}
    t_generate = time.perf_counter() - t0
    kinds = Counter(r.kind for r in requests.values())
    actions = Counter(a for v in volunteers.values() for a in v.action_types)
    print(f"Instance: {len(volunteers)} pledges ({PLEDGE_SHARE:.0%} of {args.actors} actors; offers "
          + ", ".join(f"{a} {n}" for a, n in sorted(actions.items())) + f"), {len(schools)} schools, "
          f"{len(requests)} requests (" + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
          + f"), {sum(r.professionals_wanted for r in requests.values())} professionals wanted; "
          f"events {'validated against' if not args.no_validate else 'not validated against'} their contracts"
          f"{'; capacities and weekly caps set to ' + format(UNLIMITED, ',') if args.unlimited_capacity else ''}; "
          f"generated in {t_generate:.1f} s")

    online = run_online(volunteer_data, registered_at, request_items, args.k, args.search_pool, priorities)
    score = StaticScore(requests, volunteers, weights, priorities)
    bad_proposals, bad_accepts, online_pairs = recheck(online, volunteers, requests, args.k)
    received = Counter(p.volunteer_id for p in online.proposals.values())
    on = figures(online_pairs, requests, volunteers, received, score)
    on_assigned = Counter(vid for _, vid, _ in online_pairs)
    weekly = Counter((p.volunteer_id, p.action_type, rules.iso_week(e[2])) for e in online.log if e[0] == "proposal"
                     for p in [e[1]])
    cap_full = sum(1 for (vid, a, _), n in weekly.items() if n >= volunteers[vid].offer(a).weekly_contact_cap)
    print(f"Online: {len(online.proposals)} proposals, {len(online_pairs)} acceptances, "
          f"{online.capacity_refusals} acceptances refused for capacity; index {online.loaded} volunteers; "
          f"volunteers handled in {online.t_volunteers:.1f} s, requests in {online.t_requests:.1f} s "
          f"({1000 * online.t_requests / max(1, len(requests)):.1f} ms per request, acceptances included); "
          f"{cap_full} (volunteer, action, week) weekly caps reached")

    vid_order = {vid: i for i, vid in enumerate(sorted(volunteers))}
    optima = []  # (column title, result)
    if args.objective in ("ranking", "both"):
        t0 = time.perf_counter()
        found_by, cut = candidates(requests, created_day, online.index, args.pool, args.internship_pool,
                                   args.ranking_candidates, score, vid_order)
        t_cand = time.perf_counter() - t0
        cost_of, t = ranking_costs(score, found_by)
        print(f"Ranking optimum: arcs = the {args.ranking_candidates} eligible offers per request, found in "
              f"{t_cand:.1f} s; cost = round((1 - static score) x {SCORE_UNIT:,}) x {t} + rank of the volunteer id")
        optima.append(("optimum (ranking's objective)",
                       solve_optimum("ranking's objective", requests, volunteers, created_day, order, found_by, cut,
                                     cost_of, score, args)))
    if args.objective in ("distance", "both"):
        t0 = time.perf_counter()
        found_by, cut = candidates(requests, created_day, online.index, args.pool, args.internship_pool, "nearest")
        print(f"Distance optimum: arcs = the nearest eligible offers per request, found in "
              f"{time.perf_counter() - t0:.1f} s; cost = metres")
        optima.append(("optimum (distance only)",
                       solve_optimum("distance only", requests, volunteers, created_day, order, found_by, cut,
                                     distance_costs, score, args)))

    def ratio(a, b):
        return f"{a / b:.3f}" if b else "n/a"

    def violations(bad):
        return str(sum(bad.values())) + (f" ({dict(bad)})" if bad else "")

    def row(label, online_text, opt_text, ratio_of=None, target=""):
        """opt_text(fig, result) -> text; ratio_of(fig) -> (online value, optimum value)."""
        return ([label, online_text] + [opt_text(o.fig, o) for _, o in optima]
                + [ratio(*ratio_of(o.fig)) if ratio_of else "" for _, o in optima] + [target])

    rows = [
        row("requests fully served", f"{on['full']} / {on['requests']} ({on['full_share']:.1%})",
            lambda f, o: f"{f['full']} / {f['requests']} ({f['full_share']:.1%})",
            lambda f: (on["full"], f["full"]), ">= 0.98"),
        row("professionals placed / wanted", f"{on['placed']} / {on['wanted']} ({on['placed_share']:.1%})",
            lambda f, o: f"{f['placed']} / {f['wanted']} ({f['placed_share']:.1%})",
            lambda f: (on["placed"], f["placed"])),
        row("distance of placements, mean (km)", f"{on['mean_km']:.2f}", lambda f, o: f"{f['mean_km']:.2f}",
            lambda f: (on["mean_km"], f["mean_km"]), "<= 1.10"),
        row("distance of placements, p95 (km)", f"{on['p95_km']:.2f}", lambda f, o: f"{f['p95_km']:.2f}",
            lambda f: (on["p95_km"], f["p95_km"])),
        row("remote placements (their distance: between the two places)", f"{on['remote']}",
            lambda f, o: f"{f['remote']}"),
        row("distance of located (not remote) placements, mean / p95 (km)",
            f"{on['located_mean_km']:.2f} / {on['located_p95_km']:.2f}",
            lambda f, o: f"{f['located_mean_km']:.2f} / {f['located_p95_km']:.2f}",
            lambda f: (on["located_mean_km"], f["located_mean_km"])),
        row("placements whose offer has the request's ROME code", f"{on['rome_share']:.1%}",
            lambda f, o: f"{f['rome_share']:.1%}", lambda f: (on["rome_share"], f["rome_share"])),
        row("static score of placements, total (ranking's objective)", f"{on['score_total']:.2f}",
            lambda f, o: f"{f['score_total']:.2f}", lambda f: (on["score_total"], f["score_total"])),
        row("static score of placements, mean", f"{on['score_mean']:.4f}", lambda f, o: f"{f['score_mean']:.4f}",
            lambda f: (on["score_mean"], f["score_mean"])),
        row("internship load (placed / capacity per period), mean over used", f"{on['load_mean']:.2f}",
            lambda f, o: f"{f['load_mean']:.2f}"),
        row("internship load, max", f"{on['load_max']:.2f}", lambda f, o: f"{f['load_max']:.2f}", target="<= 1"),
        row("proposals received per volunteer proposed to, mean / max",
            f"{on['per_volunteer_mean']:.2f} / {on['per_volunteer_max']} ({on['volunteers_used']} volunteers)",
            lambda f, o: "(one per placement)"),
        row("placements per volunteer placed, mean / max",
            f"{np.mean(list(on_assigned.values())):.2f} / {max(on_assigned.values(), default=0)} "
            f"({len(on_assigned)} volunteers)",
            lambda f, o: f"{f['per_volunteer_mean']:.2f} / {f['per_volunteer_max']} ({f['volunteers_used']} volunteers)"),
        row("placements the same as online (request, volunteer)", f"{len(online_pairs)}",
            lambda f, o: f"{len({(r, v) for r, v, _ in o.pairs} & {(r, v) for r, v, _ in online_pairs})}"),
        row("hard-rule violations, accepted pairs (rules.check)", violations(bad_accepts),
            lambda f, o: violations(o.bad), target="0"),
        row("hard-rule violations, all proposals (rules.check)", violations(bad_proposals),
            lambda f, o: violations(o.bad) + " (a pair is its own proposal)", target="0"),
    ]
    for kind, _ in KINDS:
        n = sum(1 for r in requests.values() if r.kind == kind)
        rows.append(row(f"fully served: {kind} ({n})", f"{on['by_kind_full'][kind]}",
                        lambda f, o, kind=kind: f"{f['by_kind_full'][kind]}",
                        lambda f, kind=kind: (on["by_kind_full"][kind], f["by_kind_full"][kind])))
    header = (["figure", "online (handlers)"] + [title for title, _ in optima]
              + [f"online / {title}" for title, _ in optima] + ["target"])
    print()
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for cells in rows:
        print("| " + " | ".join(cells) + " |")
    print()
    print(f"Total time {time.perf_counter() - started:.0f} s.")


if __name__ == "__main__":
    main()
