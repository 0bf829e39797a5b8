"""Transactional outbox. A service writes its document and the event in one MongoDB transaction;
the relay publishes pending entries in order and marks them sent. A crash between write and
publish loses nothing; a crash between publish and mark publishes again, with the same CloudEvent
id, which consumers drop (they are idempotent)."""
from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

from pymongo import ASCENDING, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from vitawin_common import metrics
from vitawin_common.contracts import Contracts
from vitawin_common.events import Event, to_record

log = logging.getLogger(__name__)


_last_seq = 0
_seq_lock = threading.Lock()


def next_seq() -> int:
    """The relay's order: wall-clock nanoseconds, strictly increasing within a process. An ObjectId
    would not do: across the processes of one service (gunicorn workers) it orders by a per-process
    random part within the same second, so two changes of one entity a few milliseconds apart
    could be relayed in the wrong order. A second change of an entity is written after the first
    committed (it reads it), so its timestamp is later on any host whose clock is in sync."""
    global _last_seq
    with _seq_lock:
        _last_seq = max(time.time_ns(), _last_seq + 1)
        return _last_seq


def entry(event: Event, topic: str) -> dict:
    """An outbox entry, as `Outbox.add` writes it (bulk writers insert the same shape)."""
    return {"_id": event.id, "seq": next_seq(), "topic": topic, "event": event.to_document(), "sent_at": None}


class Outbox:
    def __init__(self, db: Database, contracts: Contracts):
        self.entries = db["outbox"]
        self.contracts = contracts

    def ensure_indexes(self) -> None:
        self.entries.create_index([("sent_at", ASCENDING), ("seq", ASCENDING)])

    def add(self, event: Event, channel: str, session=None) -> None:
        """Record `event` for publication on `channel`, inside the caller's transaction. The data
        is checked against its contract here, so an invalid event never reaches the bus."""
        self.contracts.validate(event.type, event.data)
        self.entries.insert_one(entry(event, self.contracts.topic(channel)), session=session)

    def add_many(self, events: list[Event], channel: str, session=None) -> None:
        """`add` for several events in one insert (their relay order is the list's)."""
        for event in events:
            self.contracts.validate(event.type, event.data)
        if events:
            topic = self.contracts.topic(channel)
            self.entries.insert_many([entry(event, topic) for event in events], ordered=True, session=session)

    def pending_count(self) -> int:
        return self.entries.count_documents({"sent_at": None})


MARK_CHUNK = 50


class OutboxRelay:
    """Publishes the outbox. Only the holder of a lease relays, so scaled workers keep the order."""

    def __init__(self, db: Database, producer, service: str, lease_seconds: float = 10.0,
                 batch_size: int = 500):
        self.entries = db["outbox"]
        self.leases = db["outbox_lease"]
        self.producer = producer
        self.service = service
        self.owner = f"{service}-{uuid.uuid4().hex[:8]}"
        self.lease = timedelta(seconds=lease_seconds)
        self.batch_size = batch_size
        self._last_count = float("-inf")
        self._renew_after = float("-inf")
        self._reporting = False

    def _hold_lease(self) -> bool:
        """Hold the lease, renewing it only once half of it has passed: one write every few
        seconds rather than one per round (each is a retryable write that SecantusDB keeps)."""
        if time.monotonic() < self._renew_after:
            return True
        now = datetime.now(timezone.utc)
        started = time.monotonic()
        try:
            doc = self.leases.find_one_and_update(
                {"_id": "relay", "$or": [{"owner": self.owner}, {"expires_at": {"$lt": now}}]},
                {"$set": {"owner": self.owner, "expires_at": now + self.lease}},
                upsert=True, return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return False  # another relay holds a live lease
        held = doc is not None and doc["owner"] == self.owner
        # Counted from before the write: the lease is ours for at least that long.
        self._renew_after = started + self.lease.total_seconds() / 2 if held else float("-inf")
        return held

    def release(self) -> None:
        self._renew_after = float("-inf")
        self.leases.delete_one({"_id": "relay", "owner": self.owner})

    def _stop_reporting_backlog(self) -> None:
        """A standby relay (another worker holds the lease) says nothing about the backlog: a
        figure left from when it held the lease would stay on its /metrics and mislead the
        outbox alert (`max by (service)` over the workers)."""
        if self._reporting:
            self._reporting = False
            self._last_count = float("-inf")
            try:
                metrics.OUTBOX_BACKLOG.remove(self.service)
            except KeyError:
                pass

    def _report_backlog(self, batch_length: int) -> None:
        """A short batch means the backlog is empty once it is sent. Counting a long backlog is
        slow (about 6 s on SecantusDB at 65,000 entries), so it is counted at most every 15 s."""
        now = time.monotonic()
        self._reporting = True
        if batch_length < self.batch_size:
            metrics.OUTBOX_BACKLOG.labels(self.service).set(0)
        elif now - self._last_count >= 15:
            self._last_count = now
            metrics.OUTBOX_BACKLOG.labels(self.service).set(self.entries.count_documents({"sent_at": None}))

    def relay_once(self) -> int:
        """Publish one batch; return how many entries were published."""
        if not self._hold_lease():
            self._stop_reporting_backlog()
            return 0
        batch = list(self.entries.find({"sent_at": None}).sort([("seq", ASCENDING), ("_id", ASCENDING)]).limit(self.batch_size))
        self._report_backlog(len(batch))
        if not batch:
            return 0
        futures = []
        for entry in batch:
            key, value, headers = to_record(Event.from_document(entry["event"]))
            futures.append(self.producer.send(entry["topic"], key=key, value=value, headers=headers))
        self.producer.flush()
        for future, entry in zip(futures, batch):
            future.get(timeout=10)  # raises if the broker refused it: the entry stays pending
            metrics.EVENTS_PUBLISHED.labels(self.service, entry["topic"]).inc()
        sent_at, ids = datetime.now(timezone.utc), [e["_id"] for e in batch]
        for start in range(0, len(ids), MARK_CHUNK):  # SecantusDB: 380 ids in one $in took 764 ms
            self.entries.update_many({"_id": {"$in": ids[start:start + MARK_CHUNK]}}, {"$set": {"sent_at": sent_at}})
        return len(batch)

    def run(self, stop: threading.Event, idle_interval: float = 0.1) -> None:
        while not stop.is_set():
            try:
                if self.relay_once() == 0:
                    stop.wait(idle_interval)
            except Exception:
                log.exception("outbox relay failed; retrying")
                stop.wait(1.0)
        self.release()
