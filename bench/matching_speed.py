"""Speed of one matching request against the volunteer index (issue 5, "Benchmarks", "Speed").

    .venv/bin/python bench/matching_speed.py [--sizes 60000 1000000] [--queries 2000] [--seed 1]
                                             [--k 5] [--radius 10] [--updates 20000]

For each size (a number of pledges, i.e. volunteers), it generates the pledges, loads them into
vitawin_matching.index.VolunteerIndex with bulk_load, then answers the same random requests twice
in the same run, request after request:
- with the index: the index finds the candidates, then the hard rules are applied to them;
- with a scan: a vectorised numpy haversine over every offer of the request's action type, the
  same hard rules as numpy masks, then the same ordering (distance, volunteer id).
Both give the same answer (checked on every request), and their latencies are compared (p50,
p99, ratio of the p99s). Two kinds of answers are measured:
- "all": every eligible offer within the request's radius (`VolunteerIndex.nearby`);
- "k": the k nearest eligible offers (`VolunteerIndex.nearest` with the rules as its predicate),
  the candidate pool a ranking would score.
It also measures the start-up load (bulk_load), the memory it takes, the rebuild of the largest
tree, and a stream of updates (upsert/remove, with the rebuilds they trigger) per change.

The data (seeded): pledges spread over Île-de-France roughly like its establishments: 40 % in
Paris (within 5.5 km of Notre-Dame), 30 % in the inner suburbs (5.5-13 km, where the territory
is), 30 % further out (13-60 km), uniform in area within each ring. Each pledge has 1 to 3 of the
6 action types (weights of deploy/local/demo_territory.py), one point, and per offer: a limit of
5 to 30 km, 10 % remote, an audience (collège 40 %, lycée 35 %, all 25 %), a capacity of 1 to 4
and 0 to capacity places used. Requests: a point uniform over the territory's box
(48.76-48.87 N, 2.38-2.60 E), an action type with the same weights, an audience (collège 45 %,
lycée 45 %, all 10 %), a maximum distance of --radius km.

Hard rules: a stand-in (audience, distance within both limits, remaining capacity), printed as
such, until the lead plugs vitawin_matching.rules.check in. It is a benchmark, not a test: it
prints figures."""
from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import scipy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services" / "matching"))  # when the package is not installed

from vitawin_common.territory import EARTH_RADIUS_KM  # noqa: E402
from vitawin_matching.index import Offer, VolunteerIndex  # noqa: E402

ACTIONS = ("internship", "testimony", "apprenticeship", "job_fair", "intervention", "mentoring")
ACTION_WEIGHTS = np.array([35, 25, 15, 10, 8, 7]) / 100
LIMITS_KM = np.array([5, 8, 10, 15, 20, 30])
LIMIT_WEIGHTS = np.array([20, 20, 25, 15, 12, 8]) / 100
AUDIENCES = ("college", "lycee", "all")
OFFER_AUDIENCE_WEIGHTS = np.array([40, 35, 25]) / 100
REQUEST_AUDIENCE_WEIGHTS = np.array([45, 45, 10]) / 100
PARIS = (48.8530, 2.3499)  # Notre-Dame
RINGS_KM = ((0.0, 5.5, 0.40), (5.5, 13.0, 0.30), (13.0, 60.0, 0.30))
TERRITORY = ((48.76, 48.87), (2.38, 2.60))
KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180
RULES = "stand-in (audience + distance within both limits + remaining capacity)"


class Terms:
    """What the stand-in rules read from a volunteer's offer for one action type."""
    __slots__ = ("audience", "capacity", "used", "limit_km")

    def __init__(self, audience: str, capacity: int, used: int, limit_km: float):
        self.audience, self.capacity, self.used, self.limit_km = audience, capacity, used, limit_km


class Pledge:
    """The payload stored in the index (the lead stores the domain Volunteer there)."""
    __slots__ = ("volunteer_id", "offers")

    def __init__(self, volunteer_id: str, offers: dict[str, Terms]):
        self.volunteer_id, self.offers = volunteer_id, offers


# --- data ------------------------------------------------------------------------------------------
def points(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    ring = rng.choice(len(RINGS_KM), size=n, p=[share for _, _, share in RINGS_KM])
    inner = np.array([r[0] for r in RINGS_KM])[ring]
    outer = np.array([r[1] for r in RINGS_KM])[ring]
    radius = np.sqrt(rng.uniform(inner ** 2, outer ** 2))
    angle = rng.uniform(0, 2 * math.pi, n)
    lat = PARIS[0] + radius * np.sin(angle) / KM_PER_DEGREE
    lon = PARIS[1] + radius * np.cos(angle) / (KM_PER_DEGREE * math.cos(math.radians(PARIS[0])))
    return lat, lon


def pledges(seed: int, n: int) -> list[tuple[str, int, list[Offer], Pledge]]:
    rng = np.random.default_rng(seed)
    lat, lon = points(rng, n)
    draws = rng.choice([1, 1, 2, 2, 2, 3], size=n)
    actions = rng.choice(len(ACTIONS), size=(n, 3), p=ACTION_WEIGHTS)
    limits = rng.choice(LIMITS_KM, size=(n, 3), p=LIMIT_WEIGHTS).astype(float)
    remote = rng.random((n, 3)) < 0.10
    audience = rng.choice(len(AUDIENCES), size=(n, 3), p=OFFER_AUDIENCE_WEIGHTS)
    capacity = rng.integers(1, 5, size=(n, 3))
    used = np.floor(rng.random((n, 3)) * (capacity + 1)).astype(int)
    rows = []
    lat_l, lon_l, draws_l = lat.tolist(), lon.tolist(), draws.tolist()
    actions_l, limits_l, remote_l = actions.tolist(), limits.tolist(), remote.tolist()
    audience_l, capacity_l, used_l = audience.tolist(), capacity.tolist(), used.tolist()
    for i in range(n):
        volunteer_id = f"vol-{i:07d}"
        offers, terms = [], {}
        for j in range(draws_l[i]):
            action = ACTIONS[actions_l[i][j]]
            if action in terms:
                continue
            terms[action] = Terms(AUDIENCES[audience_l[i][j]], capacity_l[i][j], used_l[i][j], limits_l[i][j])
            offers.append(Offer(action, lat_l[i], lon_l[i], limits_l[i][j], remote=remote_l[i][j]))
        rows.append((volunteer_id, 1, offers, Pledge(volunteer_id, terms)))
    return rows


def requests(seed: int, n: int, radius_km: float) -> list[tuple[str, float, float, str, float]]:
    rng = np.random.default_rng(seed + 1)
    lat = rng.uniform(*TERRITORY[0], n)
    lon = rng.uniform(*TERRITORY[1], n)
    action = rng.choice(len(ACTIONS), size=n, p=ACTION_WEIGHTS)
    audience = rng.choice(len(AUDIENCES), size=n, p=REQUEST_AUDIENCE_WEIGHTS)
    return [(ACTIONS[a], la, lo, AUDIENCES[au], radius_km)
            for a, la, lo, au in zip(action.tolist(), lat.tolist(), lon.tolist(), audience.tolist())]


# --- the two ways of answering ---------------------------------------------------------------------
def stand_in_rules(action: str, audience: str, max_km: float):
    """The stand-in hard rules as a predicate on an index hit (volunteer_id, distance, payload)."""
    accepted = (audience, "all")

    def eligible(volunteer_id: str, distance: float, pledge: Pledge) -> bool:
        terms = pledge.offers[action]
        return (terms.audience in accepted and distance <= max_km and distance <= terms.limit_km
                and terms.used < terms.capacity)
    return eligible


def index_all(index: VolunteerIndex, request) -> list[tuple[str, float]]:
    action, lat, lon, audience, max_km = request
    eligible = stand_in_rules(action, audience, max_km)
    return [(hit[0], hit[1]) for hit in index.nearby(action, lat, lon, max_km) if eligible(*hit)]


def index_k(index: VolunteerIndex, request, k: int) -> list[tuple[str, float]]:
    action, lat, lon, audience, max_km = request
    return [(hit[0], hit[1]) for hit in index.nearest(action, lat, lon, max_km, k,
                                                      stand_in_rules(action, audience, max_km))]


class Scan:
    """Every located offer of each action type as numpy columns, scanned whole for each request."""

    def __init__(self, rows):
        columns: dict[str, dict[str, list]] = {a: {name: [] for name in
                                                    ("ids", "lat", "lon", "limit", "audience", "capacity", "used")}
                                               for a in ACTIONS}
        for volunteer_id, _, offers, pledge in rows:
            for offer in offers:
                if offer.remote:
                    continue
                terms = pledge.offers[offer.action_type]
                c = columns[offer.action_type]
                c["ids"].append(volunteer_id)
                c["lat"].append(offer.lat)
                c["lon"].append(offer.lon)
                c["limit"].append(offer.limit_km)
                c["audience"].append(AUDIENCES.index(terms.audience))
                c["capacity"].append(terms.capacity)
                c["used"].append(terms.used)
        self.actions = {}
        for action, c in columns.items():
            ids = np.array(c["ids"], dtype=object)
            lat = np.radians(np.array(c["lat"]))
            self.actions[action] = {
                "ids": ids, "rank": np.argsort(np.argsort(ids)),  # id order, for ties
                "lat": lat, "lon": np.array(c["lon"]), "cos_lat": np.cos(lat), "limit": np.array(c["limit"]),
                "audience": np.array(c["audience"], dtype=np.int8),
                "free": np.array(c["used"]) < np.array(c["capacity"])}

    def eligible(self, request) -> tuple[dict, np.ndarray, np.ndarray]:
        action, lat, lon, audience, max_km = request
        c = self.actions[action]
        lat1 = math.radians(lat)
        s_lat = np.sin((c["lat"] - lat1) / 2)
        s_lon = np.sin(np.radians(c["lon"] - lon) / 2)
        h = s_lat * s_lat + math.cos(lat1) * c["cos_lat"] * (s_lon * s_lon)
        distance = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))
        code = AUDIENCES.index(audience)
        mask = (distance <= max_km) & (distance <= c["limit"]) & c["free"] & (
            (c["audience"] == 2) | (c["audience"] == code))
        rows = np.flatnonzero(mask)
        return c, rows, distance[rows]

    def all(self, request) -> list[tuple[str, float]]:
        c, rows, distance = self.eligible(request)
        order = np.lexsort((c["rank"][rows], distance))
        return list(zip(c["ids"][rows[order]].tolist(), distance[order].tolist()))

    def k(self, request, k: int) -> list[tuple[str, float]]:
        c, rows, distance = self.eligible(request)
        if len(rows) > k:
            kth = np.partition(distance, k - 1)[k - 1]
            near = distance <= kth  # every tie of the k-th, then sorted with the ids
            rows, distance = rows[near], distance[near]
        order = np.lexsort((c["rank"][rows], distance))[:k]
        return list(zip(c["ids"][rows[order]].tolist(), distance[order].tolist()))


# --- measures ---------------------------------------------------------------------------------------
def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def percentile_ms(values_ns: list[int], q: float) -> float:
    return float(np.percentile(np.array(values_ns), q)) / 1e6


def same(a: list[tuple[str, float]], b: list[tuple[str, float]]) -> bool:
    return [x[0] for x in a] == [x[0] for x in b] and all(abs(x[1] - y[1]) <= 1e-9 for x, y in zip(a, b))


def timed(answer, reqs) -> tuple[list[int], list]:
    """Each request's latency (ns) and answer."""
    for request in reqs[:20]:  # warm-up
        answer(request)
    latencies, answers = [], []
    for request in reqs:
        started = time.perf_counter_ns()
        got = answer(request)
        latencies.append(time.perf_counter_ns() - started)
        answers.append(got)
    return latencies, answers


def changes(index: VolunteerIndex, rows, fresh, picks, first_version: int) -> None:
    """Moves and new terms (upsert), one in ten a withdrawal (remove), of random loaded volunteers."""
    for i, pick in enumerate(picks):
        volunteer_id = rows[pick][0]
        if i % 10 == 9:
            index.remove(volunteer_id, first_version + i)
        else:
            index.upsert(volunteer_id, first_version + i, fresh[i][2], fresh[i][3])


def measure(size: int, args) -> dict:
    print(f"\n== {size:,} pledges: generating...", flush=True)
    rows = pledges(args.seed, size)
    offers = sum(len(r[2]) for r in rows)
    located = sum(1 for r in rows for o in r[2] if not o.remote)

    gc.collect()
    index = VolunteerIndex()
    before = rss_bytes()
    started = time.perf_counter()
    index.bulk_load(rows)
    load_s = time.perf_counter() - started
    gc.collect()
    index_bytes = rss_bytes() - before
    stats = index.stats()
    largest = max(stats, key=lambda a: stats[a]["tree"])
    print(f"   bulk_load of {offers:,} offers ({located:,} located): {load_s:.2f} s", flush=True)
    if args.gc_freeze:  # what a worker does after its start-up load: the loaded objects leave the GC's scans
        gc.freeze()

    started = time.perf_counter()
    index.rebuild(largest)
    rebuild_s = time.perf_counter() - started

    scan = Scan(rows)
    reqs = requests(args.seed, args.queries, args.radius)
    result = {"size": size, "offers": offers, "located": located, "load_s": load_s,
              "bytes_per_offer": index_bytes / offers, "largest": largest,
              "largest_n": stats[largest]["tree"], "rebuild_s": rebuild_s, "modes": {}}
    modes = [("all", lambda r: index_all(index, r), scan.all)]
    modes += [(f"k={k}", lambda r, k=k: index_k(index, r, k), lambda r, k=k: scan.k(r, k)) for k in args.k]
    for name, by_index, by_scan in modes:
        # One pass with the index, then one with the scan, over the same requests.
        index_ns, got = timed(by_index, reqs)
        scan_ns, expected = timed(by_scan, reqs)
        m = result["modes"][name] = {
            "index_p50": percentile_ms(index_ns, 50), "index_p99": percentile_ms(index_ns, 99),
            "scan_p50": percentile_ms(scan_ns, 50), "scan_p99": percentile_ms(scan_ns, 99),
            "eligible_p50": float(np.median([len(a) for a in got])),
            "differ": sum(not same(a, b) for a, b in zip(got, expected))}
        print(f"   {name}: index p99 {m['index_p99']:.3f} ms, scan p99 {m['scan_p99']:.3f} ms, "
              f"{m['differ']} answers differ", flush=True)

    # A stream of changes alone, then another one while a second thread answers "k" requests.
    rng = np.random.default_rng(args.seed + 2)
    fresh = pledges(args.seed + 3, args.updates)
    picks = rng.integers(0, size, args.updates).tolist()
    rebuilds_before = index.rebuilds
    started = time.perf_counter()
    changes(index, rows, fresh, picks, 2)
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
            index_k(index, request, k)
            latencies.append(time.perf_counter_ns() - started_ns)
            i += 1

    reader = threading.Thread(target=read)
    rebuilds_before = index.rebuilds
    reader.start()
    changes(index, rows, fresh, picks, 2 + args.updates)
    writing.clear()
    reader.join()
    result["concurrent"] = {"k": k, "requests": len(latencies), "rebuilds": index.rebuilds - rebuilds_before,
                            "p50": percentile_ms(latencies, 50), "p99": percentile_ms(latencies, 99),
                            "max": max(latencies) / 1e6}
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
    parser.add_argument("--k", type=int, nargs="+", default=[5, 50],
                        help="eligible offers wanted in the 'k' answers (the first one for the concurrent test)")
    parser.add_argument("--radius", type=float, default=10.0, help="the requests' maximum distance (km)")
    parser.add_argument("--updates", type=int, default=50_000, help="upserts/removes timed after the queries")
    parser.add_argument("--no-gc-freeze", dest="gc_freeze", action="store_false",
                        help="do not call gc.freeze() after the load (full GC passes then land in the latencies)")
    args = parser.parse_args()

    started = datetime.now(timezone.utc)
    results = [measure(size, args) for size in args.sizes]

    print(f"\nMatching speed: {started:%Y-%m-%d %H:%M} UTC; {machine()}")
    print(f"Hard rules: {RULES}; {args.queries} requests per size and answer, radius {args.radius:g} km, "
          f"seed {args.seed}; latency = index search + rules, per request, one thread; "
          f"gc.freeze() after the load: {'yes' if args.gc_freeze else 'no'}.")
    print("Targets (issue 5): p99 < 2 ms at 1,000,000 pledges and >= 100x faster than the scan.\n")
    header = ("| pledges | offers (located) | answer | eligible p50 | index p50 ms | index p99 ms | "
              "scan p50 ms | scan p99 ms | p50 ratio | p99 ratio | answers differ |")
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for r in results:
        for name, m in r["modes"].items():
            print(f"| {r['size']:,} | {r['offers']:,} ({r['located']:,}) | {name} | {m['eligible_p50']:,.0f} | "
                  f"{m['index_p50']:.3f} | {m['index_p99']:.3f} | {m['scan_p50']:.3f} | {m['scan_p99']:.3f} | "
                  f"{ratio(m['scan_p50'], m['index_p50'])} | {ratio(m['scan_p99'], m['index_p99'])} | {m['differ']} |")
    print()
    print("| pledges | bulk_load s | memory per offer (RSS) | largest tree | its rebuild s | "
          f"µs per change ({args.updates:,} changes) | rebuilds in them |")
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
