"""Speed of one matching request against the volunteer index (issue 5, "Benchmarks", "Speed").

    .venv/bin/python bench/matching_speed.py [--sizes 60000 1000000] [--queries 2000] [--seed 1]
                                             [--answers k [all]] [--k 5 50] [--radius 10]
                                             [--updates 50000] [--pool 50] [--top-k 3]
                                             [--no-gc-freeze]

For each size (a number of pledges, i.e. volunteers), it generates the pledges as the service's
domain objects (vitawin_matching.domain.Volunteer, one ActionOffer per pledged action type),
loads them into vitawin_matching.index.VolunteerIndex with bulk_load (the entries of
search.index_offers, the domain Volunteer as payload, as IndexFollower.load does), then answers
the same random requests (domain Request objects) three ways in the same run, request after
request, one pass each:
- "index": VolunteerIndex.nearest (or .nearby for "all") with, as its `accept` predicate, the
  service's own: `not rules.check(request, volunteer, usage, today, distance=distance)`, as
  search.Search builds it, except that `usage` is the pair's real counters (a rules.Usage built
  from in-memory counters, `Counters` below, standing in for MongoDB's) where the service passes
  an empty Usage and reads the counters afterwards. So every hard rule of rules.check applies;
- "scan of all offers (issue's reference)": one numpy table of every located offer of every
  action type (about 1.45 million rows at 1,000,000 pledges), a vectorised haversine over all of
  it, the hard rules as numpy masks (the action type being one more mask: hard rule 1), then the
  same order (distance, volunteer id). This is the issue's reference (a scan of every pledge);
- "scan of the action type's offers": the same, over a table pre-partitioned by action type
  (only the request's action type's offers, about 490,000 rows for internships at 1,000,000):
  a stronger baseline than the issue's; the action-type mask is then not needed.
All three give the same answer (ids and distances, checked on every request). Kinds of answers:
- "k" (default, --k 5 50): the k nearest eligible located offers, the pool a ranking scores;
- "all" (--answers all, slow: every offer within the radius, up to 200,000 at 1,000,000 pledges,
  becomes a Python object and is judged by rules.check; on 2026-11-27, on the shared 2-vCPU
  machine, p50 1.2 s and p99 11 s a request at 1,000,000 pledges, so 2,000 requests take about an
  hour): every eligible located offer within the request's radius.
Remote offers have no distance: they are not in these answers (the index lists them apart).

Each pass records, per request, the wall-clock latency and the CPU time of the thread (which
leaves out the time spent waiting for a CPU that other processes hold: on a shared machine the
wall-clock p99 is mostly that wait).

A fourth row per size times the service's own path per request: search.candidates_for(uow,
request, Search(index=...), needed=request.slots(extra=k - 1)) with k = --top-k (3, as
handlers.propose_volunteers calls it before writing any proposal): the --pool (50, MATCHING_POOL)
nearest located offers that pass rules.check without counters, plus the remote offers when the
request's kind accepts remote, the counters read in one call (`Counters.counts_many`, the
in-memory stand-in of MongoUsage.counts_many), rules.check again with the counters, the ranking
(ranking.rank, with priority towns) and the sort; widening fourfold when fewer than needed pass.
Every candidate it returns is checked again with rules.check and the full counters.

It also measures the start-up load (bulk_load), the memory it takes (what a second, untimed load
of the same entries allocates and keeps, by tracemalloc, plus the trees' C++ nodes), the
rebuild of the largest tree, a stream of updates (upsert/remove, with the rebuilds they trigger)
per change, and the "k" latency while updates stream in from another thread.

Hard rules, and how each is a numpy mask in the scans (docs/matching.md, rules.py):
1. action: the action type is pledged (scan of all offers: `action == code`; per-action table
   and index: by construction) and the volunteer is active (`active` column; 2 % of the loaded
   pledges are paused, as an index that has not caught up yet would hold them);
2. audience: offer open to all or to the request's audience (none: all); internships: every level
   asked is among the offer's levels (bit masks over the contract's 9 levels; none: any);
3. availability: internship: every week of the period among the offer's weeks (bit mask over the
   6 weeks used; none: any); job fair: on request, or the date among the offer's (bit mask over
   the 8 fair days); apprenticeship: the diploma among the offer's (bit mask over the contract's
   10; none: any);
4. modality: the offer's modality is one the request's kind accepts (rules.MODALITIES_BY_KIND;
   located offers are on_site or in_class, so at most one equality mask);
5. distance: distance <= the request's limit and <= the offer's (its own, else the pledge's);
6. capacity: internship: accepted placements below capacity_per_period in each week of the
   period (one column per week); apprenticeship (places), mentoring (mentees): accepted in
   total below capacity; other actions: none;
7. weekly cap: proposals made this week (today: 2027-01-18, ISO week 2027-W03) below the offer's
   weekly_contact_cap;
8. request open: open, not hidden, outstanding proposals below its slots: a property of the
   request, not of an offer (a scalar checked once, not a mask); every generated request passes
   it (the service returns nothing before searching when it fails).
All these masks are exact: the bit masks are over closed vocabularies (the contract's enums for
levels and diplomas; for weeks and dates, the lists the generator draws from: an offer outside
them stops the build of the table, a request outside them its scan, with a ValueError). What a
numpy mask could not express this way: periods and dates drawn from an open set (any ISO week,
any day) would need a per-request recoding of the table or another layout; here they are closed
by construction. Request-side inputs (kind, audience, level, period, date, diploma) are decoded
once per request in Python, which is what the scans' time includes besides the numpy work.

The data (seeded): pledges spread over Ile-de-France roughly like its establishments: 40 % in
Paris (within 5.5 km of Notre-Dame), 30 % in the inner suburbs (5.5-13 km, where the territory
is), 30 % further out (13-60 km), uniform in area within each ring; 2 % paused. Each pledge has 1
to 3 of the 6 action types (weights of deploy/local/demo_territory.py), one point, a limit of 5 to
30 km, and per offer: 30 % its own limit (5 to 30 km); an audience (college 40 %, lycee 35 %, all
25 %); a modality (testimony, intervention: in class 60 %, on site 25 %, remote 15 %; job fair:
in class 85 %, on site 5 %, remote 10 %; internship, apprenticeship: on site 85 %, in class 8 %,
remote 7 %; mentoring: on site 50 %, in class 25 %, remote 25 %); 0 to 2 ROME codes of 12; a
weekly contact cap of 1 to 10 with 0 proposals this week (70 %) or 1 to the cap (30 %);
internship: 1 to 3 interns per period, levels (half any, else a random part of the audience's
levels), weeks (30 % any, else a random part of the 6); apprenticeship: 1 to 3 places, diplomas
(half any, else a random part of the 10); mentoring: 1 to 3 mentees; job fair: on request (60 %)
or some of the 8 fair days (each 20 %, one at least); accepted placements per internship week, and in total for
apprenticeship and mentoring: 0 (60 %) or 1 to the capacity (40 %); answers received and given
(ranking). Requests: a point uniform over the territory's box (48.76-48.87 N, 2.38-2.60 E), a
limit of --radius km, an action type with the pledges' weights, then by action type: testimony:
class_testimony (60 %, in class or remote) or job_information (a pupil's, any modality);
intervention: class_intervention; job fair: job_fair (in class only) on one of the 8 fair days,
audience college 40 %, lycee 40 %, all 20 %; internship: internship_hosting (40 %) or
discovery_internship, level 3e (70 %; one of the weeks 2026-W50, 2027-W03, 2027-W05 or W05+W06)
or 2nde (2027-W24+W25); apprenticeship: apprenticeship_search, a lycee level and one of the 10
diplomas; mentoring: a v1 request (no kind: any modality; no audience: offers open to all); other
single-level kinds: college or lycee (half each); half of the requests ask for one ROME code.

It is a benchmark, not a test: it prints figures."""
from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import sys
import threading
import time
import tracemalloc
from datetime import date, datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import scipy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services" / "matching"))  # when the package is not installed

from vitawin_common.territory import EARTH_RADIUS_KM, Location  # noqa: E402
from vitawin_matching import rules  # noqa: E402
from vitawin_matching.domain import (ACTIVE, ALL, APPRENTICESHIP, IN_CLASS, INTERNSHIP, INTERVENTION,  # noqa: E402
                                     JOB_FAIR, MENTORING, ON_SITE, PAUSED, REMOTE, TESTIMONY, ActionOffer,
                                     Request, Volunteer)
from vitawin_matching.index import VolunteerIndex  # noqa: E402
from vitawin_matching.search import Search, candidates_for, index_offers  # noqa: E402

ACTIONS = (INTERNSHIP, TESTIMONY, APPRENTICESHIP, JOB_FAIR, INTERVENTION, MENTORING)
ACTION_CODE = {a: i for i, a in enumerate(ACTIONS)}
ACTION_WEIGHTS = np.array([35, 25, 15, 10, 8, 7]) / 100
LIMITS_KM = np.array([5, 8, 10, 15, 20, 30])
LIMIT_WEIGHTS = np.array([20, 20, 25, 15, 12, 8]) / 100
AUDIENCES = ("college", "lycee", ALL)
AUDIENCE_CODE = {a: i for i, a in enumerate(AUDIENCES)}
OFFER_AUDIENCE_WEIGHTS = np.array([40, 35, 25]) / 100
MODALITIES = (ON_SITE, IN_CLASS, REMOTE)
MODALITY_CODE = {m: i for i, m in enumerate(MODALITIES)}
MODALITY_WEIGHTS = {TESTIMONY: (25, 60, 15), INTERVENTION: (25, 60, 15), JOB_FAIR: (5, 85, 10),
                    INTERNSHIP: (85, 8, 7), APPRENTICESHIP: (85, 8, 7), MENTORING: (50, 25, 25)}
LEVELS = ("6e", "5e", "4e", "3e", "2nde", "1re", "Tle", "CAP1", "CAP2")  # the contract's enum
LEVEL_POOLS = {"college": LEVELS[:4], "lycee": LEVELS[4:], ALL: LEVELS}
DIPLOMAS = ("CAP", "BP", "MC", "Bac pro", "BTS", "BUT", "Licence pro", "Titre pro", "Diplôme d'ingénieur",
            "Master")  # the contract's enum
WEEKS = ("2026-W50", "2027-W03", "2027-W05", "2027-W06", "2027-W24", "2027-W25")
COLLEGE_PERIODS = (("2026-W50",), ("2027-W03",), ("2027-W05",), ("2027-W05", "2027-W06"))
LYCEE_PERIOD = ("2027-W24", "2027-W25")
FAIR_DAYS = tuple(date.fromisoformat(d) for d in ("2027-01-21", "2027-01-28", "2027-02-04", "2027-03-11",
                                                  "2027-03-18", "2027-03-25", "2027-04-01", "2027-05-20"))
ROME_CODES = ("D1102", "D1106", "F1703", "G1602", "H2903", "I1304", "J1501", "K2204", "M1607", "M1805",
              "N1103", "N4101")
TOWNS = ("94015", "94017", "94018", "94033", "94042", "94046", "94052", "94058", "94067", "94068", "94069",
         "94079", "94080")
PRIORITIES = frozenset({"94017", "94079"})  # Champigny, Villiers: the ranking's priority criterion
TODAY = date(2027, 1, 18)  # a Monday: the weekly cap counts the proposals of ISO week 2027-W03
TODAY_WEEK = rules.iso_week(TODAY)
PAUSED_SHARE = 0.02
PARIS = (48.8530, 2.3499)  # Notre-Dame
RINGS_KM = ((0.0, 5.5, 0.40), (5.5, 13.0, 0.30), (13.0, 60.0, 0.30))
TERRITORY = ((48.76, 48.87), (2.38, 2.60))
KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180
EMPTY: dict = {}

RULES_INDEX = ("rules.check, all 8 hard rules (1 action + active, 2 audience + levels, 3 availability, "
               "4 modality, 5 distance, 6 capacity, 7 weekly cap, 8 request open), as the `accept` "
               "predicate of VolunteerIndex.nearest/.nearby, with the pair's counters (rules.Usage from "
               "in-memory counters)")
RULES_SCAN = ("numpy masks, exact equivalents of rules 1-7 (action type [scan of all offers only; "
              "the per-action table holds one action type], active, audience + internship levels, "
              "availability: internship weeks / job-fair dates or on request / apprenticeship diplomas, "
              "modality, distance within both limits, capacity per week or in total, weekly cap); rule 8 "
              "(request open) is a scalar per request, not a mask")
RULES_SERVICE = ("search.candidates_for as handlers.propose_volunteers calls it: index pool of the "
                 "--pool nearest located offers passing rules.check without counters, + remote offers "
                 "when the kind accepts remote, counters in one counts_many call, rules.check with them, "
                 "ranking.rank (6 criteria), sort; widening x4 while fewer than needed")


# --- data ------------------------------------------------------------------------------------------
class Counters:
    """The usage counters of every (volunteer, action type) in memory, standing in for MongoDB's
    `usage` collection: proposals made this week, accepted placements (per internship week, and
    in total), proposals received and answered (ranking). Read as a rules.Usage (`usage`, for the
    index's predicate) or as MongoUsage.counts_many answers (`counts_many`, for search.py).
    Rows are the volunteers' numbers (volunteer id "vol-0001234" -> 1234)."""

    def __init__(self, n: int):
        self.proposed = np.zeros((n, len(ACTIONS)), dtype=np.int16)
        self.accepted = np.zeros((n, len(ACTIONS)), dtype=np.int16)
        self.received = np.zeros((n, len(ACTIONS)), dtype=np.int16)
        self.answered = np.zeros((n, len(ACTIONS)), dtype=np.int16)
        self.weeks: list[dict[str, int]] = [EMPTY] * n  # internship: accepted placements per ISO week

    def usage(self, volunteer_id: str, action_type: str) -> rules.Usage:
        i, a = int(volunteer_id[4:]), ACTION_CODE[action_type]
        return rules.Usage(accepted_by_week=self.weeks[i] if action_type == INTERNSHIP else EMPTY,
                           accepted_total=self.accepted.item(i, a),
                           proposed_by_week={TODAY_WEEK: self.proposed.item(i, a)})

    def counts_many(self, volunteer_ids, action_type: str, buckets) -> dict[str, dict[str, int]]:
        """MongoUsage.counts_many: {volunteer_id: {bucket: count}} for the volunteers that have any."""
        a = ACTION_CODE[action_type]
        columns, weeks = [], []
        for bucket in buckets:
            if bucket == f"proposed:{TODAY_WEEK}":
                columns.append((bucket, self.proposed))
            elif bucket == "accepted:total":
                columns.append((bucket, self.accepted))
            elif bucket == "stats:received":
                columns.append((bucket, self.received))
            elif bucket == "stats:answered":
                columns.append((bucket, self.answered))
            elif bucket.startswith("accepted:") and action_type == INTERNSHIP:
                weeks.append((bucket, bucket.split(":", 1)[1]))
        found: dict[str, dict[str, int]] = {}
        for volunteer_id in volunteer_ids:
            i = int(volunteer_id[4:])
            got = {}
            for bucket, column in columns:
                value = column.item(i, a)
                if value:
                    got[bucket] = value
            held = self.weeks[i]
            for bucket, week in weeks:
                value = held.get(week, 0)
                if value:
                    got[bucket] = value
            if got:
                found[volunteer_id] = got
        return found


def points(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    ring = rng.choice(len(RINGS_KM), size=n, p=[share for _, _, share in RINGS_KM])
    inner = np.array([r[0] for r in RINGS_KM])[ring]
    outer = np.array([r[1] for r in RINGS_KM])[ring]
    radius = np.sqrt(rng.uniform(inner ** 2, outer ** 2))
    angle = rng.uniform(0, 2 * math.pi, n)
    lat = PARIS[0] + radius * np.sin(angle) / KM_PER_DEGREE
    lon = PARIS[1] + radius * np.cos(angle) / (KM_PER_DEGREE * math.cos(math.radians(PARIS[0])))
    return lat, lon


def _bits(chosen: np.ndarray) -> np.ndarray:
    """Boolean (..., m) -> integer bit masks (bit j: item j chosen)."""
    return (chosen.astype(np.int64) << np.arange(chosen.shape[-1])).sum(axis=-1)


def _subsets(items: tuple) -> list[tuple]:
    """The tuple of items of each bit mask, by mask."""
    return [tuple(item for j, item in enumerate(items) if mask >> j & 1) for mask in range(1 << len(items))]


def pledges(seed: int, n: int, ids: list[str] | None = None) -> tuple[list[Volunteer], Counters]:
    """`n` domain Volunteers (ids "vol-0000000"... unless given) and their counters."""
    rng = np.random.default_rng(seed)
    lat, lon = points(rng, n)
    paused = rng.random(n) < PAUSED_SHARE
    pledge_limit = rng.choice(LIMITS_KM, size=n, p=LIMIT_WEIGHTS).astype(float)
    draws = rng.choice([1, 1, 2, 2, 2, 3], size=n)
    actions = rng.choice(len(ACTIONS), size=(n, 3), p=ACTION_WEIGHTS)
    kept = np.zeros((n, 3), dtype=bool)  # the first draw of each action type, within the pledge's draws
    kept[:, 0] = True
    kept[:, 1] = (draws > 1) & (actions[:, 1] != actions[:, 0])
    kept[:, 2] = (draws > 2) & (actions[:, 2] != actions[:, 0]) & (actions[:, 2] != actions[:, 1])
    own_limit = np.where(rng.random((n, 3)) < 0.30, rng.choice(LIMITS_KM, size=(n, 3), p=LIMIT_WEIGHTS), 0)
    audience = rng.choice(len(AUDIENCES), size=(n, 3), p=OFFER_AUDIENCE_WEIGHTS)
    cumulative = np.array([np.cumsum(MODALITY_WEIGHTS[a]) / 100 for a in ACTIONS])  # (actions, 3)
    modality = (rng.random((n, 3))[..., None] > cumulative[actions]).sum(axis=-1).clip(0, 2)
    rome_count = rng.integers(0, 3, size=(n, 3))
    rome = rng.integers(0, len(ROME_CODES), size=(n, 3, 2))
    weekly_cap = rng.integers(1, 11, size=(n, 3))
    proposed = np.where(rng.random((n, 3)) < 0.70, 0, rng.integers(1, weekly_cap + 1))
    capacity = rng.integers(1, 4, size=(n, 3))
    accepted = np.where(rng.random((n, 3)) < 0.60, 0, rng.integers(1, capacity + 1))
    accepted_week = np.where(rng.random((n, 3, len(WEEKS))) < 0.60, 0,
                             rng.integers(1, capacity[..., None] + 1, size=(n, 3, len(WEEKS))))
    level_pool = np.array([_bits(np.array([level in LEVEL_POOLS[a] for level in LEVELS])) for a in AUDIENCES])
    levels = np.where(rng.random((n, 3)) < 0.5, 0,
                      _bits(rng.random((n, 3, len(LEVELS))) < 0.6) & level_pool[audience])  # 0: any
    periods = np.where(rng.random((n, 3)) < 0.3, 0, _bits(rng.random((n, 3, len(WEEKS))) < 0.5))
    on_request = rng.random((n, 3)) < 0.6
    dates = _bits(rng.random((n, 3, len(FAIR_DAYS))) < 0.2)
    dates = np.where(dates == 0, 1 << rng.integers(0, len(FAIR_DAYS), size=(n, 3)), dates)  # 1 date at least
    diplomas = np.where(rng.random((n, 3)) < 0.5, 0, _bits(rng.random((n, 3, len(DIPLOMAS))) < 0.25))
    received = rng.integers(0, 11, size=(n, 3))
    answered = np.floor(rng.random((n, 3)) * (received + 1)).astype(int)

    counters = Counters(n)
    rows, slots = np.nonzero(kept)
    codes = actions[rows, slots]
    for name, values in (("proposed", proposed), ("received", received), ("answered", answered)):
        getattr(counters, name)[rows, codes] = values[rows, slots]
    takes_total = (codes == ACTION_CODE[APPRENTICESHIP]) | (codes == ACTION_CODE[MENTORING])
    counters.accepted[rows[takes_total], codes[takes_total]] = accepted[rows[takes_total], slots[takes_total]]

    # The settings of each kept offer as flat lists (row after row), so that the loop below makes
    # no nested Python lists (at 1,000,000 pledges they would leave a gigabyte of freed memory
    # that the index's load then reuses, hiding its own footprint).
    rome_bits = (np.where(rome_count >= 1, 1 << rome[..., 0], 0) | np.where(rome_count >= 2, 1 << rome[..., 1], 0))
    flat = [x[rows, slots].tolist() for x in (actions, own_limit, audience, modality, rome_bits, weekly_cap, capacity,
                                                levels, periods, on_request, dates, diplomas)]
    internship_weeks: dict[int, dict[str, int]] = {}  # position in the flat lists -> accepted per week
    for p in np.flatnonzero(codes == ACTION_CODE[INTERNSHIP]).tolist():
        held = accepted_week[rows[p], slots[p]].tolist()
        if any(held):
            internship_weeks[p] = {WEEKS[w]: c for w, c in enumerate(held) if c}
    level_sets, week_sets, date_sets, diploma_sets, rome_sets = (
        _subsets(LEVELS), _subsets(WEEKS), _subsets(FAIR_DAYS), _subsets(DIPLOMAS), _subsets(ROME_CODES))
    lat_l, lon_l, limit_l, paused_l = lat.tolist(), lon.tolist(), pledge_limit.tolist(), paused.tolist()
    per_row = kept.sum(axis=1).tolist()
    offers: dict[tuple, ActionOffer] = {}  # equal settings share one ActionOffer (it is immutable)
    volunteers = []
    start = 0
    for i in range(n):
        settings = {}
        stop = start + per_row[i]
        for p in range(start, stop):
            key = a, own, aud, mod, rome_set, cap, places, lev, per, on_req, dat, dip = tuple(f[p] for f in flat)
            action = ACTIONS[a]
            if action == INTERNSHIP:
                key = key[:9]
                extra = {"capacity_per_period": places, "levels": level_sets[lev], "periods": week_sets[per]}
                weeks = internship_weeks.get(p)
                if weeks:
                    counters.weeks[i] = weeks
                    counters.accepted[i, a] = sum(weeks.values())
            elif action == APPRENTICESHIP:
                key = key[:7] + (dip,)
                extra = {"places": places, "diplomas": diploma_sets[dip]}
            elif action == MENTORING:
                key = key[:7]
                extra = {"mentees": places, "duration_months": 6}
            elif action == JOB_FAIR:
                key = key[:6] + (on_req, dat)
                extra = {"on_request": on_req, "dates": () if on_req else date_sets[dat]}
            else:
                key = key[:6]
                extra = {"topics": ("orientation",)} if action == INTERVENTION else {}
            offer = offers.get(key)
            if offer is None:
                offer = offers[key] = ActionOffer(
                    action, audience=AUDIENCES[aud], modality=MODALITIES[mod], rome_codes=rome_sets[rome_set],
                    max_distance_km=float(own) if own else None, weekly_contact_cap=cap, **extra)
            settings[action] = offer
        start = stop
        volunteers.append(Volunteer(
            volunteer_id=ids[i] if ids is not None else f"vol-{i:07d}", organisation_name="Entreprise",
            contact_email="contact@example.fr", town="94068", location=Location(lat_l[i], lon_l[i]),
            action_types=tuple(settings), max_distance_km=limit_l[i], status=PAUSED if paused_l[i] else ACTIVE,
            actions=settings))
    return volunteers, counters


def requests(seed: int, n: int, radius_km: float) -> list[Request]:
    rng = np.random.default_rng(seed + 1)
    lat = rng.uniform(*TERRITORY[0], n).tolist()
    lon = rng.uniform(*TERRITORY[1], n).tolist()
    action = rng.choice(len(ACTIONS), size=n, p=ACTION_WEIGHTS).tolist()
    u = rng.random((n, 6)).tolist()
    town = rng.integers(0, len(TOWNS), size=n).tolist()
    found = []
    for i in range(n):
        action_type = ACTIONS[action[i]]
        x = u[i]
        rome_codes = (ROME_CODES[int(x[5] * 2 * len(ROME_CODES)) % len(ROME_CODES)],) if x[5] < 0.5 else ()
        single = "college" if x[1] < 0.5 else "lycee"
        fields: dict = {"requester_kind": "school", "audience": single, "professionals_wanted": 1 + int(x[2] * 3),
                        "level": "3e" if single == "college" else "2nde"}
        if action_type == TESTIMONY:
            fields["kind"] = "class_testimony" if x[0] < 0.6 else "job_information"
            if fields["kind"] == "job_information":
                fields.update(requester_kind="pupil", professionals_wanted=1)
            else:
                fields["date"] = FAIR_DAYS[int(x[3] * len(FAIR_DAYS))]
        elif action_type == INTERVENTION:
            fields.update(kind="class_intervention", date=FAIR_DAYS[int(x[3] * len(FAIR_DAYS))])
        elif action_type == JOB_FAIR:
            audience = "college" if x[1] < 0.4 else "lycee" if x[1] < 0.8 else ALL
            fields.update(kind="job_fair", audience=audience, level=None, date=FAIR_DAYS[int(x[3] * len(FAIR_DAYS))],
                          levels={"college": ("4e", "3e"), "lycee": ("2nde", "1re"), ALL: ("3e", "2nde")}[audience],
                          professionals_wanted=3 + int(x[2] * 8))
        elif action_type == INTERNSHIP:
            hosting = x[0] < 0.4
            college = x[1] < 0.7
            fields.update(kind="internship_hosting" if hosting else "discovery_internship",
                          requester_kind="school" if hosting else "pupil",
                          audience="college" if college else "lycee", level="3e" if college else "2nde",
                          period=COLLEGE_PERIODS[int(x[3] * len(COLLEGE_PERIODS))] if college else LYCEE_PERIOD,
                          professionals_wanted=1 + int(x[2] * 4) if hosting else 1)
            fields["pupils"] = fields["professionals_wanted"]
        elif action_type == APPRENTICESHIP:
            fields.update(kind="apprenticeship_search", requester_kind="pupil", audience="lycee",
                          level=LEVELS[4 + int(x[1] * 5)], diploma=DIPLOMAS[int(x[3] * len(DIPLOMAS))],
                          start="2027-09", professionals_wanted=1)
        else:  # mentoring: a v1 request (no kind, level or audience)
            fields.update(requester_kind="pupil", audience=None, level=None, professionals_wanted=None)
        if fields.get("level") and not fields.get("levels"):
            fields["levels"] = (fields["level"],)
        found.append(Request(
            request_id=f"req-{i:06d}", contact_email="referent@college.example.fr"
            if fields["requester_kind"] == "school" else None, action_type=action_type, town=TOWNS[town[i]],
            location=Location(lat[i], lon[i]), max_distance_km=radius_km, school_uai="0941234X",
            rome_codes=rome_codes, **fields))
    return found


# --- answering with the index ----------------------------------------------------------------------
def service_predicate(request: Request, counters: Counters):
    """search._volunteer_pool's `eligible`, with the pair's counters instead of an empty Usage."""
    action_type = request.action_type

    def accept(volunteer_id: str, distance: float, volunteer: Volunteer) -> bool:
        return not rules.check(request, volunteer, counters.usage(volunteer_id, action_type), TODAY,
                               distance=distance)
    return accept


def index_all(index: VolunteerIndex, counters: Counters, request: Request) -> list[tuple[str, float]]:
    accept = service_predicate(request, counters)
    loc = request.location
    return [(hit[0], hit[1]) for hit in index.nearby(request.action_type, loc.lat, loc.lon, request.max_distance_km)
            if accept(*hit)]


def index_k(index: VolunteerIndex, counters: Counters, request: Request, k: int,
            accept=None) -> list[tuple[str, float]]:
    loc = request.location
    return [(hit[0], hit[1]) for hit in index.nearest(request.action_type, loc.lat, loc.lon, request.max_distance_km,
                                                      k, accept or service_predicate(request, counters))]


# --- answering with a numpy scan -------------------------------------------------------------------
def _mask_of(values, vocabulary: tuple) -> int:
    """Bit mask of `values` over a closed vocabulary (ValueError outside it: the masks would not be exact)."""
    mask = 0
    for value in values:
        mask |= 1 << vocabulary.index(value)
    return mask


class Table:
    """Located offers as numpy columns (one row per offer), read by the masks of `Scan.eligible`."""
    COLUMNS = ("vol", "action", "lat", "lon", "cos_lat", "limit", "active", "audience", "modality", "levels",
               "periods", "on_request", "dates", "diplomas", "capacity", "accepted", "cap", "proposed")

    def __init__(self, ids: np.ndarray, columns: dict[str, np.ndarray], weeks: np.ndarray):
        self.ids = ids  # volunteer ids (object)
        self.weeks = weeks  # (len(WEEKS), rows) accepted placements per internship week
        for name in self.COLUMNS:
            setattr(self, name, columns[name])

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def build(cls, volunteers: list[Volunteer], counters: Counters) -> "Table":
        ids, values = [], []
        codes: dict[int, tuple] = {}  # id(offer) -> its codes (offers are shared and alive meanwhile)
        no_weeks = (0,) * len(WEEKS)
        for i, volunteer in enumerate(volunteers):
            active = volunteer.status == ACTIVE
            location = volunteer.location
            for action_type, offer in volunteer.actions.items():
                if offer.modality == REMOTE:
                    continue
                code = codes.get(id(offer))
                if code is None:
                    capacity = offer.capacity
                    code = codes[id(offer)] = (
                        AUDIENCE_CODE[offer.audience], MODALITY_CODE[offer.modality], _mask_of(offer.levels, LEVELS),
                        _mask_of(offer.periods, WEEKS), offer.on_request, _mask_of(offer.dates, FAIR_DAYS),
                        _mask_of(offer.diplomas, DIPLOMAS), -1 if capacity is None else capacity,
                        offer.weekly_contact_cap)
                usage = counters.usage(volunteer.volunteer_id, action_type)
                held = usage.accepted_by_week
                ids.append(volunteer.volunteer_id)
                # in the order of COLUMNS (cos_lat computed below), then the accepted placements per week
                values.append((i, ACTION_CODE[action_type], location.lat, location.lon, 0.0, offer.limit_km(volunteer),
                               active, *code[:8], usage.accepted_total, code[8], usage.proposed_in_week_of(TODAY),
                               *([held.get(week, 0) for week in WEEKS] if held else no_weeks)))
        dtypes = {"vol": np.int32, "action": np.int8, "lat": np.float64, "lon": np.float64, "cos_lat": np.float64,
                  "limit": np.float64, "active": bool, "audience": np.int8, "modality": np.int8,
                  "levels": np.int32, "periods": np.int32, "on_request": bool, "dates": np.int32,
                  "diplomas": np.int32, "capacity": np.int16, "accepted": np.int16, "cap": np.int16,
                  "proposed": np.int16}
        matrix = np.array(values, dtype=np.float64).reshape(-1, len(cls.COLUMNS) + len(WEEKS))  # exact: small ints
        del values
        columns = {name: np.ascontiguousarray(matrix[:, j]).astype(dtypes[name])
                   for j, name in enumerate(cls.COLUMNS)}
        columns["lat"] = np.radians(columns["lat"])  # as the index holds it
        columns["cos_lat"] = np.cos(columns["lat"])
        weeks = np.ascontiguousarray(matrix[:, len(cls.COLUMNS):].T).astype(np.int16)
        id_array = np.empty(len(ids), dtype=object)
        id_array[:] = ids
        return cls(id_array, columns, weeks)

    def take(self, rows: np.ndarray) -> "Table":
        return Table(self.ids[rows], {name: getattr(self, name)[rows] for name in self.COLUMNS},
                     np.ascontiguousarray(self.weeks[:, rows]))


class Scan:
    """A vectorised haversine over a whole Table and the hard rules as numpy masks, per request.
    `everything`: every located offer of every action type (the issue's reference: the action type
    is one more mask); `by_action`: one table per action type (the action-type mask not needed)."""

    def __init__(self, volunteers: list[Volunteer], counters: Counters):
        self.everything = Table.build(volunteers, counters)
        self.by_action = {a: self.everything.take(np.flatnonzero(self.everything.action == ACTION_CODE[a]))
                          for a in ACTIONS}

    @staticmethod
    def eligible(t: Table, request: Request, action_mask: bool) -> tuple[np.ndarray, np.ndarray]:
        """Rows of `t` that pass every hard rule, and their distances."""
        # 8. request open: a property of the request, a scalar (usage.request_outstanding is 0 here,
        # as in the service's predicate)
        if not request.is_open or request.hidden or request.slots() <= 0:
            return np.zeros(0, dtype=np.intp), np.zeros(0)
        lat1 = math.radians(request.location.lat)
        s_lat = np.sin((t.lat - lat1) / 2)
        s_lon = np.sin(np.radians(t.lon - request.location.lon) / 2)
        h = s_lat * s_lat + math.cos(lat1) * t.cos_lat * (s_lon * s_lon)
        distance = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))
        # 5. distance (located offers only: remote ones are not in the table)
        mask = (distance <= request.max_distance_km) & (distance <= t.limit)
        # 1. action type pledged (the per-action tables hold one action type) and volunteer active
        action = request.action_type
        if action_mask:
            mask &= t.action == ACTION_CODE[action]
        mask &= t.active
        # 2. audience (none: all), and the internship's levels
        audience = request.audience or ALL
        if audience == ALL:
            mask &= t.audience == AUDIENCE_CODE[ALL]
        else:
            mask &= (t.audience == AUDIENCE_CODE[ALL]) | (t.audience == AUDIENCE_CODE[audience])
        # 4. modality: located offers are on_site or in_class
        accepted = rules.MODALITIES_BY_KIND.get(rules.kind_of(request), rules.ANY_MODALITY)
        if ON_SITE not in accepted and IN_CLASS not in accepted:
            mask[:] = False
        elif ON_SITE not in accepted:
            mask &= t.modality == MODALITY_CODE[IN_CLASS]
        elif IN_CLASS not in accepted:
            mask &= t.modality == MODALITY_CODE[ON_SITE]
        # 7. weekly contact cap
        mask &= t.proposed < t.cap
        # 2 (levels), 3. availability and 6. capacity, by action type
        if action == INTERNSHIP:
            asked = _mask_of((request.level,) if request.level else request.levels, LEVELS)
            mask &= ((t.levels == 0) | ((t.levels & asked) == asked)) if asked else (t.levels == 0)
            period = _mask_of(request.period, WEEKS)
            mask &= ((t.periods == 0) | ((t.periods & period) == period)) if period else (t.periods == 0)
            if request.period:
                for week in request.period:
                    mask &= (t.capacity < 0) | (t.weeks[WEEKS.index(week)] < t.capacity)
            else:
                mask &= (t.capacity < 0) | (t.accepted < t.capacity)
        elif action == JOB_FAIR:
            if request.date is None:
                mask &= t.on_request
            else:
                mask &= t.on_request | ((t.dates & _mask_of((request.date,), FAIR_DAYS)) != 0)
        elif action == APPRENTICESHIP:
            if request.diploma is None:
                mask &= t.diplomas == 0
            else:
                mask &= (t.diplomas == 0) | ((t.diplomas & _mask_of((request.diploma,), DIPLOMAS)) != 0)
        if action in (APPRENTICESHIP, MENTORING):
            mask &= (t.capacity < 0) | (t.accepted < t.capacity)
        rows = np.flatnonzero(mask)
        return rows, distance[rows]

    def table(self, request: Request, everything: bool) -> Table:
        return self.everything if everything else self.by_action[request.action_type]

    def all(self, request: Request, everything: bool) -> list[tuple[str, float]]:
        t = self.table(request, everything)
        rows, distance = self.eligible(t, request, everything)
        order = np.lexsort((t.vol[rows], distance))
        return list(zip(t.ids[rows[order]].tolist(), distance[order].tolist()))

    def k(self, request: Request, k: int, everything: bool) -> list[tuple[str, float]]:
        t = self.table(request, everything)
        rows, distance = self.eligible(t, request, everything)
        if len(rows) > k:
            kth = np.partition(distance, k - 1)[k - 1]
            near = distance <= kth  # every tie of the k-th, then sorted with the ids
            rows, distance = rows[near], distance[near]
        order = np.lexsort((t.vol[rows], distance))[:k]
        return list(zip(t.ids[rows[order]].tolist(), distance[order].tolist()))


# --- measures ---------------------------------------------------------------------------------------
def percentile_ms(values_ns: list[int], q: float) -> float:
    return float(np.percentile(np.array(values_ns), q)) / 1e6


def same(a: list[tuple[str, float]], b: list[tuple[str, float]]) -> bool:
    return [x[0] for x in a] == [x[0] for x in b] and all(abs(x[1] - y[1]) <= 1e-9 for x, y in zip(a, b))


def timed(answer, reqs, keep=None) -> tuple[list[int], list[int], list]:
    """Each request's latency (ns, wall clock), the CPU time its thread used (ns: the latency
    without the time spent waiting for a CPU held by another process), and its answer, or what
    keep(request, answer) makes of it, outside the timed part (a service worker keeps no answer:
    thousands of them alive would make the collector's full passes, hence the p99, slower)."""
    for request in reqs[:20]:  # warm-up
        answer(request)
    gc.collect()  # each pass starts from the same heap
    latencies, cpu, answers = [], [], []
    for request in reqs:
        started, started_cpu = time.perf_counter_ns(), time.thread_time_ns()
        got = answer(request)
        latencies.append(time.perf_counter_ns() - started)
        cpu.append(time.thread_time_ns() - started_cpu)
        answers.append(got if keep is None else keep(request, got))
    return latencies, cpu, answers


def examined(index: VolunteerIndex, counters: Counters, reqs, k: int) -> list[int]:
    """How many candidates the index's predicate judged per request (an untimed pass)."""
    counts = []
    for request in reqs:
        accept, calls = service_predicate(request, counters), [0]

        def counting(*hit, accept=accept, calls=calls):
            calls[0] += 1
            return accept(*hit)
        index_k(index, counters, request, k, counting)
        counts.append(calls[0])
    return counts


def changes(index: VolunteerIndex, fresh: list[Volunteer], first_version: int) -> None:
    """Moves and new terms (upsert), one in ten a withdrawal (remove), of random loaded volunteers
    (`fresh` carries their ids)."""
    for i, volunteer in enumerate(fresh):
        if i % 10 == 9:
            index.remove(volunteer.volunteer_id, first_version + i)
        else:
            index.upsert(volunteer.volunteer_id, first_version + i, index_offers(volunteer), volunteer)


def load_average() -> str:
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def measure(size: int, args) -> dict:
    load_before = load_average()
    print(f"\n== {size:,} pledges (load average {load_before}): generating...", flush=True)
    started = time.perf_counter()
    volunteers, counters = pledges(args.seed, size)
    rows = [(v.volunteer_id, v.version, index_offers(v), v) for v in volunteers]
    offers = sum(len(r[2]) for r in rows)
    located = sum(1 for r in rows for o in r[2] if not o.remote)
    print(f"   generated in {time.perf_counter() - started:.1f} s", flush=True)

    gc.collect()
    index = VolunteerIndex()
    started = time.perf_counter()
    index.bulk_load(rows)
    load_s = time.perf_counter() - started
    # Memory: what a second, untimed load of the same entries allocates and keeps (tracemalloc sees
    # Python objects and numpy buffers), plus the trees' C++ nodes (72 bytes each, scipy's
    # ckdtreenode), which it does not see. (The growth of the RSS says little here: the load reuses
    # the memory the generator's temporaries freed.)
    gc.collect()
    tracemalloc.start()
    second = VolunteerIndex()
    second.bulk_load(rows)
    gc.collect()
    index_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    index_bytes += 72 * sum(a.tree.size for a in second._actions.values() if a.tree is not None)  # read only
    del second, rows
    gc.collect()
    stats = index.stats()
    largest = max(stats, key=lambda a: stats[a]["tree"])
    print(f"   bulk_load of {offers:,} offers ({located:,} located): {load_s:.2f} s", flush=True)
    if args.gc_freeze:  # what a worker does after its start-up load: the loaded objects leave the GC's scans
        gc.freeze()

    started = time.perf_counter()
    index.rebuild(largest)
    rebuild_s = time.perf_counter() - started

    started = time.perf_counter()
    scan = Scan(volunteers, counters)
    assert len(scan.everything) == located, "the table holds every located offer"
    reqs = requests(args.seed, args.queries, args.radius)
    if args.gc_freeze:  # the benchmark's own tables too
        gc.collect()
        gc.freeze()
    print(f"   numpy tables: {len(scan.everything):,} rows (all offers), largest action type "
          f"{max(len(t) for t in scan.by_action.values()):,} rows; built in {time.perf_counter() - started:.1f} s",
          flush=True)
    result = {"size": size, "offers": offers, "located": located, "load_s": load_s,
              "bytes_per_offer": index_bytes / offers, "largest": largest,
              "largest_n": stats[largest]["tree"], "rebuild_s": rebuild_s, "modes": {},
              "scan_rows": len(scan.everything)}
    modes = []
    if "all" in args.answers:
        modes.append(("all", None, lambda r: index_all(index, counters, r),
                      lambda r: scan.all(r, True), lambda r: scan.all(r, False)))
    if "k" in args.answers:
        modes += [(f"k={k}", k, lambda r, k=k: index_k(index, counters, r, k),
                   lambda r, k=k: scan.k(r, k, True), lambda r, k=k: scan.k(r, k, False)) for k in args.k]
    for name, k, by_index, by_scan_all, by_scan_action in modes:
        # One pass with the index, then one with each scan, over the same requests.
        index_ns, index_cpu, got = timed(by_index, reqs)
        all_ns, all_cpu, expected_all = timed(by_scan_all, reqs)
        action_ns, action_cpu, expected_action = timed(by_scan_action, reqs)
        judged = examined(index, counters, reqs, k) if k is not None else None
        m = result["modes"][name] = {
            "index_p50": percentile_ms(index_ns, 50), "index_p99": percentile_ms(index_ns, 99),
            "all_p50": percentile_ms(all_ns, 50), "all_p99": percentile_ms(all_ns, 99),
            "action_p50": percentile_ms(action_ns, 50), "action_p99": percentile_ms(action_ns, 99),
            "cpu": {name: (percentile_ms(values, 50), percentile_ms(values, 99))
                    for name, values in (("index", index_cpu), ("all", all_cpu), ("action", action_cpu))},
            "eligible_p50": float(np.median([len(a) for a in got])),
            "examined_p50": float(np.median(judged)) if judged else None,
            "examined_p99": float(np.percentile(judged, 99)) if judged else None,
            "differ_all": sum(not same(a, b) for a, b in zip(got, expected_all)),
            "differ_action": sum(not same(a, b) for a, b in zip(got, expected_action))}
        del got, expected_all, expected_action
        print(f"   {name}: index p99 {m['index_p99']:.3f} ms, scan of all offers p99 {m['all_p99']:.3f} ms, "
              f"scan of the action type's offers p99 {m['action_p99']:.3f} ms; answers differ: "
              f"{m['differ_all']} / {m['differ_action']}", flush=True)

    # The service's own path: Search.candidates_for, as handlers.propose_volunteers calls it.
    search = Search(index=index, priorities=PRIORITIES, today=lambda: TODAY, pool=args.pool)
    uow = SimpleNamespace(usage=counters)
    needed = {r.request_id: r.slots(extra=args.top_k - 1) for r in reqs}

    def summary(request: Request, candidates: list) -> tuple[int, int, int]:
        """How many candidates, how many break a rule (checked again with the full counters), how many remote."""
        broken = sum(1 for c in candidates if rules.check(
            request, c.volunteer, counters.usage(c.volunteer.volunteer_id, request.action_type), TODAY,
            distance=c.distance_km))
        remote = sum(1 for c in candidates if c.volunteer.offer(request.action_type).modality == REMOTE)
        return len(candidates), broken, remote

    service_ns, service_cpu, found = timed(
        lambda r: candidates_for(uow, r, search, needed=needed[r.request_id]), reqs, summary)
    result["service"] = {
        "p50": percentile_ms(service_ns, 50), "p99": percentile_ms(service_ns, 99), "max": max(service_ns) / 1e6,
        "cpu_p50": percentile_ms(service_cpu, 50), "cpu_p99": percentile_ms(service_cpu, 99),
        "found_p50": float(np.median([f[0] for f in found])),
        "short": sum(1 for r, f in zip(reqs, found) if f[0] < needed[r.request_id]),
        "remote_share": sum(f[2] for f in found) / max(1, sum(f[0] for f in found)),
        "violations": sum(f[1] for f in found)}
    s = result["service"]
    print(f"   service path: p50 {s['p50']:.3f} ms, p99 {s['p99']:.3f} ms, {s['violations']} rule violations",
          flush=True)

    # A stream of changes alone, then another one while a second thread answers "k" requests.
    rng = np.random.default_rng(args.seed + 2)
    picks = rng.integers(0, size, args.updates).tolist()
    fresh, _ = pledges(args.seed + 3, args.updates, ids=[f"vol-{p:07d}" for p in picks])
    rebuilds_before = index.rebuilds
    started = time.perf_counter()
    changes(index, fresh, 2)
    result["update_us"] = (time.perf_counter() - started) / args.updates * 1e6
    result["update_rebuilds"] = index.rebuilds - rebuilds_before

    k = args.k[0]
    latencies: list[int] = []
    writing = threading.Event()
    writing.set()

    def read() -> None:
        i = 0
        while writing.is_set():
            request = reqs[i % len(reqs)]
            started_ns = time.perf_counter_ns()
            index_k(index, counters, request, k)
            latencies.append(time.perf_counter_ns() - started_ns)
            i += 1

    reader = threading.Thread(target=read)
    rebuilds_before = index.rebuilds
    reader.start()
    changes(index, fresh, 2 + args.updates)
    writing.clear()
    reader.join()
    result["concurrent"] = {"k": k, "requests": len(latencies), "rebuilds": index.rebuilds - rebuilds_before,
                            "p50": percentile_ms(latencies, 50), "p99": percentile_ms(latencies, 99),
                            "max": max(latencies) / 1e6}
    result["load_average"] = (load_before, load_average())
    if args.gc_freeze:
        gc.unfreeze()
    return result


def ratio(scan_ms: float, index_ms: float) -> str:
    """How many times faster the index is than the scan (below 1: slower)."""
    value = scan_ms / index_ms
    return f"{value:.0f}x" if value >= 10 else f"{value:.2f}x"


def machine() -> str:
    model = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{platform.platform()}; {model}; {os.cpu_count()} CPUs; Python {platform.python_version()}, "
            f"numpy {np.__version__}, scipy {scipy.__version__}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[60_000, 1_000_000], help="numbers of pledges")
    parser.add_argument("--queries", type=int, default=2000, help="requests per size and kind of answer")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--answers", nargs="+", choices=["k", "all"], default=["k"],
                        help="kinds of answers compared: k nearest eligible (default) and/or all eligible "
                             "within the radius (slow: about an hour for 2,000 requests at 1,000,000 pledges)")
    parser.add_argument("--k", type=int, nargs="+", default=[5, 50],
                        help="eligible offers wanted in the 'k' answers (the first one for the concurrent test)")
    parser.add_argument("--radius", type=float, default=10.0, help="the requests' maximum distance (km)")
    parser.add_argument("--updates", type=int, default=50_000, help="upserts/removes timed after the queries")
    parser.add_argument("--pool", type=int, default=50, help="service path: Search.pool (MATCHING_POOL)")
    parser.add_argument("--top-k", type=int, default=3,
                        help="service path: k of handlers.propose_volunteers (MATCHING_TOP_K): "
                             "needed = professionals_wanted + k - 1")
    parser.add_argument("--no-gc-freeze", dest="gc_freeze", action="store_false",
                        help="do not call gc.freeze() after the load (full GC passes then land in the latencies)")
    args = parser.parse_args()

    started = datetime.now(timezone.utc)
    clock, cpu = time.perf_counter(), os.times()
    results = [measure(size, args) for size in args.sizes]
    run_s = time.perf_counter() - clock
    cpu_s = sum(os.times()[:2]) - sum(cpu[:2])

    print(f"\nMatching speed: {started:%Y-%m-%d %H:%M} UTC; {machine()}; run time {run_s / 60:.1f} min, "
          f"CPU time of this process {cpu_s / 60:.1f} min ({100 * cpu_s / run_s:.0f} % of one CPU: the rest of the "
          "time it waited, mostly on other processes); load average (1/5/15 min) at the start and end of each size: "
          + "; ".join(f"{r['size']:,}: {r['load_average'][0]} -> {r['load_average'][1]}" for r in results))
    print(f"{args.queries} requests per size and answer, radius {args.radius:g} km, seed {args.seed}, today "
          f"{TODAY} ({TODAY_WEEK}); latency per request, one thread; gc.freeze() after the load: "
          f"{'yes' if args.gc_freeze else 'no'}.")
    print("Rules applied:")
    print(f"- index: {RULES_INDEX};")
    print(f"- scan of all offers (issue's reference): every located offer of every action type in one table, "
          f"{RULES_SCAN};")
    print("- scan of the action type's offers: the request's action type's located offers only, the same masks;")
    print(f"- service path: {RULES_SERVICE}.")
    print("Answers: the k nearest eligible located offers, (distance, volunteer id) order; all three must be "
          "equal on every request ('answers differ'). Remote offers are in the service path only.")
    print("Targets (issue 5): p99 < 2 ms at 1,000,000 pledges and >= 100x faster than the scan.\n")
    header = ("| pledges | offers (located: rows of the scan of all offers) | answer | eligible p50 | "
              "candidates judged by the index p50 / p99 | index p50 ms | index p99 ms | "
              "scan of all offers (issue's reference) p50 ms | p99 ms | "
              "scan of the action type's offers p50 ms | p99 ms | answers differ (all offers / action type's) |")
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for r in results:
        for name, m in r["modes"].items():
            judged = "-" if m["examined_p50"] is None else f"{m['examined_p50']:,.0f} / {m['examined_p99']:,.0f}"
            print(f"| {r['size']:,} | {r['offers']:,} ({r['scan_rows']:,}) | {name} | {m['eligible_p50']:,.0f} | "
                  f"{judged} | {m['index_p50']:.3f} | {m['index_p99']:.3f} | {m['all_p50']:.3f} | "
                  f"{m['all_p99']:.3f} | {m['action_p50']:.3f} | {m['action_p99']:.3f} | "
                  f"{m['differ_all']} / {m['differ_action']} |")
    print()
    print("Ratios (scan latency / index latency, same requests, same run):\n")
    header = ("| pledges | answer | vs scan of all offers (issue's reference): p50 ratio | p99 ratio | "
              "vs scan of the action type's offers: p50 ratio | p99 ratio |")
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for r in results:
        for name, m in r["modes"].items():
            print(f"| {r['size']:,} | {name} | {ratio(m['all_p50'], m['index_p50'])} | "
                  f"{ratio(m['all_p99'], m['index_p99'])} | {ratio(m['action_p50'], m['index_p50'])} | "
                  f"{ratio(m['action_p99'], m['index_p99'])} |")
    print()
    print("The same passes in CPU time per request (the thread's CPU time: the latency without the time spent "
          "waiting for a CPU, which other processes on the machine take):\n")
    header = ("| pledges | answer | index CPU p50 ms | p99 ms | scan of all offers (issue's reference) CPU p50 ms | "
              "p99 ms | scan of the action type's offers CPU p50 ms | p99 ms | CPU p99 ratio vs scan of all offers | "
              "vs scan of the action type's offers |")
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for r in results:
        for name, m in r["modes"].items():
            (i50, i99), (a50, a99), (t50, t99) = m["cpu"]["index"], m["cpu"]["all"], m["cpu"]["action"]
            print(f"| {r['size']:,} | {name} | {i50:.3f} | {i99:.3f} | {a50:.3f} | {a99:.3f} | {t50:.3f} | {t99:.3f} | "
                  f"{ratio(a99, i99)} | {ratio(t99, i99)} |")
    print()
    print(f"Service path per request (search.candidates_for, pool {args.pool}, needed = professionals_wanted + "
          f"{args.top_k - 1}; candidates re-checked with rules.check and the full counters):\n")
    print("| pledges | p50 ms | p99 ms | max ms | CPU p50 ms | CPU p99 ms | candidates returned p50 | "
          "requests with fewer than needed | remote share of candidates | rule violations |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        s = r["service"]
        print(f"| {r['size']:,} | {s['p50']:.3f} | {s['p99']:.3f} | {s['max']:.3f} | {s['cpu_p50']:.3f} | "
              f"{s['cpu_p99']:.3f} | {s['found_p50']:.0f} | "
              f"{s['short']:,} | {100 * s['remote_share']:.0f} % | {s['violations']} |")
    print()
    print("| pledges | bulk_load s | memory per offer (second load: tracemalloc + tree nodes) | largest tree | "
          f"its rebuild s | µs per change ({args.updates:,} changes) | rebuilds in them |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['size']:,} | {r['load_s']:.2f} | {r['bytes_per_offer']:.0f} B | {r['largest']} "
              f"({r['largest_n']:,}) | {r['rebuild_s']:.3f} | {r['update_us']:.1f} | {r['update_rebuilds']} |")
    print()
    print(f"| pledges | k | requests during {args.updates:,} changes | rebuilds meanwhile | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        c = r["concurrent"]
        print(f"| {r['size']:,} | {c['k']} | {c['requests']:,} | {c['rebuilds']} | {c['p50']:.3f} | "
              f"{c['p99']:.3f} | {c['max']:.3f} |")


if __name__ == "__main__":
    main()
