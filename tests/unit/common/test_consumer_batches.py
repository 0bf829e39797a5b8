"""ConsumerLoop.run with batch handlers, over a stand-in for kafka-python's consumer: consecutive
records of a partition for one batch handler are applied in one call; a record that is invalid,
of another type or alone goes the single-event way; a poison batch is applied one by one (the
poison event dead-lettered, the others applied); a failure retries the batch from its first
offset; offsets are committed after the effect."""
from __future__ import annotations

import json
import threading
from collections import namedtuple
from pathlib import Path

from kafka.structs import TopicPartition

from vitawin_common.consumer import ConsumerLoop, PoisonEvent
from vitawin_common.testing import ProducerStandIn
from vitawin_common.contracts import load
from vitawin_common.events import Event, to_record

CONTRACTS = load(Path(__file__).resolve().parents[3] / "contracts")
Record = namedtuple("Record", "topic partition offset key value headers")
VOLUNTEER = json.loads((CONTRACTS.folder / "examples" / "fr.vitawin.volunteer.registered.v1" / "basic.json").read_text())

TP = TopicPartition("vitawin.volunteers", 0)
REGISTERED = "fr.vitawin.volunteer.registered.v1"
WITHDRAWN = "fr.vitawin.volunteer.withdrawn.v1"




class FakeConsumer:
    """Gives `polls` one after the other (each {TopicPartition: records}), then stops the loop;
    records seeks and commits. A seek makes the next poll give the records from that offset."""

    def __init__(self, records: list, stop: threading.Event, polls: int = 3):
        self.records, self.stop, self.polls = records, stop, polls
        self.position_ = 0
        self.commits: list[int] = []
        self.seeks: list[int] = []

    def poll(self, timeout_ms=0):
        self.polls -= 1
        if self.polls < 0:
            self.stop.set()
            return {}
        remaining = [r for r in self.records if r.offset >= self.position_]
        self.position_ = self.records[-1].offset + 1
        return {TP: remaining} if remaining else {}

    def seek(self, tp, offset):
        self.seeks.append(offset)
        self.position_ = offset

    def commit(self, offsets):
        self.commits.append(offsets[TP].offset)

    def assignment(self):
        return set()

    def close(self, autocommit=False):
        pass


def record(event: Event, offset: int) -> Record:
    key, value, headers = to_record(event)
    return Record("vitawin.volunteers", 0, offset, key, value, headers)


def volunteer_event(**changes) -> Event:
    return Event(type=REGISTERED, source="/vitawin/actors", subject=changes.get("volunteer_id", "vol-1"),
                 data={**VOLUNTEER["data"], **changes}, correlation_id="corr-1")


def registered(n: int) -> Event:
    return volunteer_event(volunteer_id=f"vol-{n}")


def withdrawn(n: int) -> Event:
    return Event(type=WITHDRAWN, source="/vitawin/actors", subject=f"vol-{n}",
                 data={"volunteer_id": f"vol-{n}", "version": 2, "withdrawn_at": "2026-11-27T10:00:00Z"})


def run(records, handlers, batch_handlers, polls=3):
    stop = threading.Event()
    consumer = ConsumerLoop(service="test", consumer=FakeConsumer(records, stop, polls), producer=ProducerStandIn(),
                            contracts=CONTRACTS, handlers=handlers, dead_letter_channel="matchingDeadLetter",
                            group_id="g", batch_handlers=batch_handlers)
    consumer.run(stop)
    return consumer


def test_consecutive_records_for_a_batch_handler_are_applied_together():
    calls = []
    records = [record(registered(1), 0), record(registered(2), 1), record(registered(3), 2),
               record(volunteer_event(volunteer_id="vol-4", action_types=["juggling"]), 3),  # invalid
               record(withdrawn(5), 4),  # another type: single path
               record(registered(6), 5), record(registered(7), 6),
               record(withdrawn(8), 7), record(registered(9), 8)]  # alone: single path
    consumer = run(records,
                   {REGISTERED: lambda e: calls.append(("one", e.data["volunteer_id"])),
                    WITHDRAWN: lambda e: calls.append(("one", e.data["volunteer_id"]))},
                   {REGISTERED: lambda events: calls.append(("batch", [e.data["volunteer_id"] for e in events]))})
    assert calls == [("batch", ["vol-1", "vol-2", "vol-3"]), ("one", "vol-5"), ("batch", ["vol-6", "vol-7"]),
                     ("one", "vol-8"), ("one", "vol-9")]
    [(topic, _, value, headers)] = consumer.producer.sent  # the invalid one, dead-lettered
    assert topic == "vitawin.matching.dlq" and dict(headers)["dlq_offset"] == b"3"
    assert consumer.consumer.commits[-1] == 9 and consumer.consumer.seeks == []


def test_a_poison_batch_is_applied_one_by_one_and_only_the_poison_event_dead_lettered():
    applied = []

    def one(event):
        if event.data["volunteer_id"] == "vol-2":
            raise PoisonEvent("volunteer outside the territory")
        applied.append(event.data["volunteer_id"])

    def batch(events):
        if any(e.data["volunteer_id"] == "vol-2" for e in events):
            raise PoisonEvent("one of them is poison")
        applied.extend(e.data["volunteer_id"] for e in events)

    consumer = run([record(registered(n), n) for n in range(4)], {REGISTERED: one}, {REGISTERED: batch})
    assert applied == ["vol-0", "vol-1", "vol-3"]
    [(_, _, _, headers)] = consumer.producer.sent
    assert dict(headers)["dlq_offset"] == b"2"
    assert consumer.consumer.commits[-1] == 4


def test_a_failed_batch_is_retried_from_its_first_offset_and_committed_after_its_effect():
    attempts = []

    def batch(events):
        attempts.append([e.data["volunteer_id"] for e in events])
        if len(attempts) == 1:
            raise ConnectionError("database away")

    records = [record(withdrawn(0), 0), record(registered(1), 1), record(registered(2), 2)]
    consumer = run(records, {REGISTERED: lambda e: None, WITHDRAWN: lambda e: None}, {REGISTERED: batch})
    assert attempts == [["vol-1", "vol-2"], ["vol-1", "vol-2"]]
    assert consumer.consumer.seeks == [1]
    assert consumer.consumer.commits[0] == 1  # the withdrawal's offset, before the failed batch
    assert consumer.consumer.commits[-1] == 3


def test_a_batch_handler_needs_its_single_event_handler():
    try:
        ConsumerLoop(service="test", consumer=None, producer=ProducerStandIn(), contracts=CONTRACTS, handlers={},
                     dead_letter_channel="matchingDeadLetter", group_id="g",
                     batch_handlers={REGISTERED: lambda events: None})
    except ValueError as exc:
        assert REGISTERED in str(exc)
    else:
        raise AssertionError("a batch handler without a single-event handler was accepted")
