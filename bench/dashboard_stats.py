"""The territory dashboard's aggregate endpoints (issue 7) on a realistic volume: the time of
GET /api/v1/actors/stats, /api/v1/requests/stats and /api/v1/proposals/stats, each answered by its
service's real app (create_app, flask test client, a territory manager's token) over SecantusDB,
for an open period, twelve months, twelve months in one town, and one month.

    .venv/bin/python bench/dashboard_stats.py [--actors 60000] [--pledges 20000] [--requests 10000]
                                              [--initiatives 1000] [--proposals 20000] [--runs 5]
                                              [--seed 1] [--port-base 58080] [--mongodb-uri URI]
                                              [--compare-aggregation]

Infrastructure: its own SecantusDB (in memory, `secantusd-py`, as deploy/local/Procfile starts it)
on 127.0.0.1:<port-base + 1017> (59097 by default: apart from `make run`'s 27017, the tests'
18080+ bases and the other benchmarks' 28080 to 48080 bases), stopped by PID at the end; or the
server of --mongodb-uri (its databases vitawin_actors, vitawin_requests and vitawin_matching are
then DROPPED and refilled: never point it at a server whose data matters).

Data (seeded, --seed): documents shaped as each service stores them (the fields its to_document
writes, with plausible names, e-mails, addresses and places), created over the 24 months before
the 1st of this month, in the 13 towns of the territory (a few organisations outside it): actors
of every kind (80 % organisations, 2 % schools, 15 % pupils), NAF codes of every section; pledges
(1 to 3 action types, 85 % active, 5 % paused, 10 % withdrawn); requests of every kind and status;
initiatives; proposals (pending, accepted, declined, expired, awaiting confirmation) with their
answer times, and matching's read model of the requests (their towns). The services' indexes are
made by their own ensure_indexes. Loading takes under a minute on SecantusDB.

Each endpoint and query is answered once to warm up, then --runs times: the table gives the
median and the slowest, in ms, and how many documents the service read. --compare-aggregation also
times, on the same actors, the MongoDB aggregation that would compute the actors' counts on the
server ($group by kind, town and month with $dateToString in Europe/Paris), against the service's
projection scan with the counting in Python: the measure behind that choice."""
from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOWNS = ["94015", "94017", "94018", "94033", "94042", "94046", "94052", "94058", "94067", "94068", "94069",
         "94079", "94080"]
OUTSIDE = ["75112", "93048", "77186"]
NAF = ["01.11Z", "08.12Z", "10.71C", "16.23Z", "25.62B", "35.11Z", "38.11Z", "43.22A", "45.20A", "47.11B",
       "49.41A", "56.10A", "62.01Z", "64.19Z", "68.20A", "71.12B", "78.20Z", "84.11Z", "85.59A", "86.21Z",
       "90.01Z", "94.99Z", "96.02A", "97.00Z", "99.00Z"]
ORGANISATION_KINDS = ["company"] * 12 + ["craftsman"] * 4 + ["association"] * 2 + ["local_authority",
                                                                                 "public_institution",
                                                                                 "partner_organisation"]
ACTIONS = ["testimony", "intervention", "internship", "apprenticeship", "mentoring", "job_fair"]
REQUEST_KINDS = [("class_testimony", "school", "testimony"), ("class_intervention", "school", "intervention"),
                 ("job_fair", "school", "job_fair"), ("internship_hosting", "school", "internship"),
                 ("job_information", "pupil", "testimony"), ("discovery_internship", "pupil", "internship"),
                 ("apprenticeship_search", "pupil", "apprenticeship")]


def free_port(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def start_mongodb(port: int) -> subprocess.Popen:
    if not free_port(port):
        sys.exit(f"port {port} is taken: choose another --port-base")
    binary = shutil.which("secantusd-py", path=str(Path(sys.executable).parent)) or "secantusd-py"
    proc = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", str(port), "--storage-path", ":memory:",
                             "--log-level", "WARNING"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while free_port(port):
        if time.monotonic() > deadline or proc.poll() is not None:
            stop(proc)
            sys.exit("SecantusDB did not start")
        time.sleep(0.2)
    return proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# --- data --------------------------------------------------------------------------------------------
def moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    seconds = rng.uniform(0, (end - start).total_seconds())
    value = start + timedelta(seconds=seconds)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def place(rng: random.Random) -> dict:
    return {"lat": round(rng.uniform(48.79, 48.86), 5), "lon": round(rng.uniform(2.40, 2.56), 5)}


def insert(collection, docs, batch: int = 2000) -> None:
    for start in range(0, len(docs), batch):
        collection.insert_many(docs[start:start + batch], ordered=False)


def load(client, args, start: datetime, end: datetime) -> None:
    rng = random.Random(args.seed)
    for name in ("vitawin_actors", "vitawin_requests", "vitawin_matching"):
        client.drop_database(name)
    actors_db, requests_db, matching_db = client.vitawin_actors, client.vitawin_requests, client.vitawin_matching

    actors, organisation_ids = [], []
    for n in range(args.actors):
        draw = rng.random()
        created, actor_id = moment(rng, start, end), f"act-{n:032x}"
        if draw < 0.80:
            kind = rng.choice(ORGANISATION_KINDS)
            outside = rng.random() < 0.02
            doc = {"actor_id": actor_id, "kind": kind, "name": f"Organisation {n}", "contact_email": f"contact{n}@example.fr",
                   "siret": "73282932000074", "naf_code": rng.choice(NAF),
                   "address": {"street": f"{n % 200 + 1} rue de la République", "postcode": "94300"},
                   "town": rng.choice(OUTSIDE if outside else TOWNS), "location": place(rng),
                   "serves_territory_from_outside": outside, "created_at": created}
            organisation_ids.append(actor_id)
        elif draw < 0.82:
            doc = {"actor_id": actor_id, "kind": "school", "name": f"Collège {n}", "contact_email": f"ref{n}@ac.fr",
                   "uai": "0940120V", "school_type": "college", "levels": ["6e", "5e", "4e", "3e"],
                   "address": {"street": "1 rue de l'École", "postcode": "94300"}, "town": rng.choice(TOWNS),
                   "location": place(rng), "internship_periods": {"3e": ["2027-W03"]}, "guardian_copies": False,
                   "created_at": created}
        elif draw < 0.97:
            doc = {"actor_id": actor_id, "kind": "pupil", "first_name": f"Prénom{n}", "level": "3e",
                   "school_uai": "0940120V", "town": rng.choice(TOWNS), "is_minor": True,
                   "guardian_contact_email": f"parent{n}@example.fr", "created_at": created}
        elif draw < 0.98:
            doc = {"actor_id": actor_id, "kind": "territory_manager", "name": f"Gestionnaire {n}",
                   "contact_email": f"gt{n}@example.fr", "organisation_name": "EPT", "created_at": created}
        else:  # an erased actor's tombstone
            doc = {"actor_id": actor_id, "kind": "company", "erased_at": created, "status": "erased"}
        actors.append({"_id": actor_id, **doc})
    insert(actors_db.actors, actors)

    pledges = []
    for n in range(args.pledges):
        created = moment(rng, start, end)
        types = rng.sample(ACTIONS, rng.choice([1, 1, 2, 3]))
        status = rng.choices(["active", "paused", "withdrawn"], [85, 5, 10])[0]
        doc = {"volunteer_id": f"vol-{n:032x}", "organisation_name": f"Organisation {n}",
               "contact_email": f"pro{n}@example.fr", "town": rng.choice(TOWNS), "location": place(rng),
               "action_types": types, "max_distance_km": 10.0, "created_at": created,
               "actor_id": rng.choice(organisation_ids),
               "actions": {t: {"rome_codes": ["D1102"], "audience": "all", "modality": "in_class",
                               "max_distance_km": 10.0, "weekly_contact_cap": 5} for t in types},
               "status": status, "version": 1 if status == "active" else 2, "updated_at": created}
        pledges.append({"_id": doc["volunteer_id"], **doc})
    insert(actors_db.volunteers, pledges)

    requests_, towns_of = [], {}
    for n in range(args.requests):
        created = moment(rng, start, end)
        kind, requester, action = rng.choice(REQUEST_KINDS)
        status = rng.choices(["open", "partly_matched", "fulfilled", "cancelled", "expired"], [30, 10, 35, 10, 15])[0]
        town = rng.choice(TOWNS)
        doc = {"request_id": f"req-{n:032x}", "kind": kind, "requester_kind": requester, "action_type": action,
               "school_uai": "0940120V", "level": "3e", "levels": ["3e"], "audience": "college", "town": town,
               "location": place(rng), "rome_codes": ["D1102"], "rome_jobs": [{"code": "D1102", "label": "Boulanger"}],
               "professionals_wanted": 2, "max_distance_km": 10.0, "requester_actor_id": None,
               "requester_subject": "acc", "status": status, "version": 1, "accepted_proposal_ids": [],
               "accepted_count": 0, "created_at": created, "updated_at": created,
               "expires_at": created + timedelta(days=60), "hidden": rng.random() < 0.01}
        requests_.append({"_id": doc["request_id"], **doc})
        towns_of[doc["request_id"]] = town
    insert(requests_db.requests, requests_)
    initiatives = []
    for n in range(args.initiatives):
        created = moment(rng, start, end)
        doc = {"initiative_id": f"ini-{n:032x}", "kind": rng.choice(["initiative", "call_for_projects"]),
               "title": f"Initiative {n}", "description": "Un projet à construire ensemble.",
               "partner_kinds_sought": ["school"], "town": rng.choice(TOWNS), "location": place(rng),
               "publisher": {"actor_id": rng.choice(organisation_ids), "role": "professional"},
               "contact_email": f"ini{n}@example.fr", "status": rng.choice(["open", "closed"]), "participants": [],
               "version": 1, "created_at": created, "updated_at": created}
        initiatives.append({"_id": doc["initiative_id"], **doc})
    insert(requests_db.initiatives, initiatives)

    read_model = [{"_id": rid, "requester_kind": "school", "action_type": "testimony", "town": town,
                   "location": place(rng), "max_distance_km": 10.0, "status": "open", "request_status": "open",
                   "version": 1, "proposal_count": 3} for rid, town in towns_of.items()]
    insert(matching_db.requests, read_model)
    proposals, request_ids = [], list(towns_of)
    for n in range(args.proposals):
        created = moment(rng, start, end)
        status = rng.choices(["pending", "accepted", "declined", "expired", "awaiting_confirmation"],
                             [15, 35, 25, 20, 5])[0]
        answered = created + timedelta(hours=rng.expovariate(1 / 40))
        doc = {"_id": f"prop-{n:032x}", "request_id": rng.choice(request_ids), "volunteer_id": f"vol-{n:032x}",
               "action_type": rng.choice(ACTIONS), "distance_km": 2.5, "rank": 1, "created_at": created,
               "score": 0.8, "reasons": ["à 2,5 km"], "requester_kind": "school", "school_uai": "0940120V",
               "volunteer_actor_id": rng.choice(organisation_ids), "period": [], "status": status,
               "deadline": created + timedelta(days=7), "version": 2,
               "answered_at": answered if status in ("accepted", "declined", "awaiting_confirmation") else None,
               "closed_at": answered if status in ("accepted", "declined") else (
                   created + timedelta(days=7) if status == "expired" else None), "declined_by": None}
        proposals.append(doc)
    insert(matching_db.proposals, proposals)

    ensure_indexes()


def ensure_indexes() -> None:
    """Each service's own indexes, made by its own code (the dashboard's among them)."""
    from vitawin_common.config import Settings
    from vitawin_actors import bootstrap as actors_bootstrap
    from vitawin_matching import bootstrap as matching_bootstrap
    from vitawin_requests import bootstrap as requests_bootstrap

    actors_bootstrap.ensure_indexes(Settings.from_env("actors"))
    requests_bootstrap.ensure_indexes(Settings.from_env("requests"))
    matching_bootstrap.prepare_database(Settings.from_env("matching"))


# --- measures --------------------------------------------------------------------------------------------
def apps():
    """The three services' apps on the benchmark's database (MONGODB_URI), trusting a token of their own."""
    from vitawin_common import identity, mongo
    from vitawin_common.config import Settings
    from vitawin_actors import bootstrap as actors_bootstrap
    from vitawin_actors.api import create_app as actors_app
    from vitawin_matching.adapters import MongoProposalStats
    from vitawin_matching.api import create_app as matching_app
    from vitawin_requests import bootstrap as requests_bootstrap
    from vitawin_requests.api import create_app as requests_app

    private, public = identity.generate_keys()
    token = identity.TokenIssuer(private).issue("bench", "territory_manager")
    actors_settings, requests_settings = Settings.from_env("actors"), Settings.from_env("requests")
    built = {
        "actors": actors_app(actors_settings, uow_factory=actors_bootstrap.unit_of_work_factory(actors_settings)),
        "requests": requests_app(requests_settings,
                                 uow_factory=requests_bootstrap.unit_of_work_factory(requests_settings)),
        "proposals": matching_app(proposals=object(), ready=lambda: True, uow_factory=lambda: None,
                                  stats=MongoProposalStats(mongo.database(Settings.from_env("matching")))),
    }
    for app in built.values():
        identity.init_app(app, identity.TokenVerifier(public))
    return {name: app.test_client() for name, app in built.items()}, {"Authorization": f"Bearer {token}"}


def month_back(month: str, count: int) -> str:
    year, number = int(month[:4]), int(month[5:]) - count
    while number < 1:
        number += 12
        year -= 1
    return f"{year}-{number:02d}"


def measure(clients, headers, runs: int, last_month: str) -> list[tuple]:
    import logging
    logging.getLogger("vitawin_common.web").setLevel(logging.WARNING)
    queries = {"all time": "", "12 months": f"?from={month_back(last_month, 11)}&to={last_month}",
               "12 months, one town": f"?from={month_back(last_month, 11)}&to={last_month}&town=94080",
               "one month": f"?from={last_month}&to={last_month}"}
    rows = []
    for name, client in clients.items():
        path = f"/api/v1/{name}/stats"
        for label, query in queries.items():
            answer = client.get(path + query, headers=headers)
            assert answer.status_code == 200, answer.get_data(as_text=True)
            body = answer.get_json()
            counted = {"actors": lambda b: b["actors"]["total"] + b["pledges"]["total"],
                       "requests": lambda b: b["requests"]["total"] + b["initiatives"]["total"],
                       "proposals": lambda b: b["proposals"]["total"]}[name](body)
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                answer = client.get(path + query, headers=headers)
                times.append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200
            rows.append((path, label, counted, statistics.median(times), max(times), len(answer.get_data())))
    return rows


def compare_aggregation(client, runs: int) -> tuple[float, float]:
    """The actors' counts per kind, town and month: a server-side $group, against the service's scan."""
    from vitawin_actors.domain.stats import ACTOR_FIELDS, actor_counts
    from vitawin_common.periods import MonthPeriod

    collection = client.vitawin_actors.actors
    pipeline = [{"$match": {"status": {"$ne": "erased"}}},
                {"$group": {"_id": {"kind": "$kind", "town": "$town", "month": {"$dateToString": {
                    "format": "%Y-%m", "date": "$created_at", "timezone": "Europe/Paris"}}}, "count": {"$sum": 1}}}]
    aggregate, scan = [], []
    for _ in range(runs):
        started = time.perf_counter()
        list(collection.aggregate(pipeline))
        aggregate.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        actor_counts(collection.find(MonthPeriod().to_query(), {"_id": False, **dict.fromkeys(ACTOR_FIELDS, True)}))
        scan.append((time.perf_counter() - started) * 1000)
    return statistics.median(aggregate), statistics.median(scan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--actors", type=int, default=60_000)
    parser.add_argument("--pledges", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--initiatives", type=int, default=1_000)
    parser.add_argument("--proposals", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port-base", type=int, default=58080)
    parser.add_argument("--mongodb-uri", default=None)
    parser.add_argument("--compare-aggregation", action="store_true")
    args = parser.parse_args()

    from pymongo import MongoClient

    proc = None
    if args.mongodb_uri:
        uri = args.mongodb_uri
    else:
        port = args.port_base + 1017
        proc = start_mongodb(port)
        uri = f"mongodb://127.0.0.1:{port}/?directConnection=true&retryWrites=false"
    os.environ["MONGODB_URI"] = uri  # the services' Settings.from_env read it
    try:
        client = MongoClient(uri, tz_aware=True)
        first_of_month = datetime.now(timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        start = first_of_month - timedelta(days=730)
        started = time.monotonic()
        load(client, args, start, first_of_month)
        loaded = time.monotonic() - started
        last_month = (first_of_month - timedelta(days=1)).strftime("%Y-%m")
        clients, headers = apps()
        rows = measure(clients, headers, args.runs, last_month)
        comparison = compare_aggregation(client, args.runs) if args.compare_aggregation else None
        client.close()
    finally:
        if proc is not None:
            stop(proc)

    print(f"Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {platform.platform()}; "
          f"{os.cpu_count()} CPUs; Python {platform.python_version()}; load average at the end "
          f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"Data: {args.actors:,} actors, {args.pledges:,} pledges, {args.requests:,} requests, "
          f"{args.initiatives:,} initiatives, {args.proposals:,} proposals over 24 months (seed {args.seed}); "
          f"loaded in {loaded:.0f} s; {args.runs} runs after one warm-up\n")
    print("| endpoint | query | counted | median ms | slowest ms | bytes |")
    print("|---|---|---|---|---|---|")
    for path, label, counted, median, slowest, size in rows:
        print(f"| {path} | {label} | {counted:,} | {median:,.0f} | {slowest:,.0f} | {size:,} |")
    if comparison:
        print(f"\nActors per kind, town and month, all time: server-side $group {comparison[0]:,.0f} ms, "
              f"projection scan + Python counting (the service's) {comparison[1]:,.0f} ms (medians).")


if __name__ == "__main__":
    main()
