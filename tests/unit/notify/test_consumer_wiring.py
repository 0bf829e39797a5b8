"""bootstrap.consumer_loop and bootstrap.retry_consumer with fake Kafka clients (vitawin_common.kafka.consumer
monkeypatched): the topics notify subscribes to, every event type it handles, records applied
through vitawin_common's ConsumerLoop, invalid addresses dead-lettered."""
from __future__ import annotations

import threading
from datetime import timedelta
from types import SimpleNamespace

import pytest
from kafka.structs import TopicPartition

from vitawin_common import kafka
from vitawin_common.config import Settings
from vitawin_common.events import to_record

from vitawin_notify import bootstrap, delivery, handlers
from vitawin_notify.adapters import TransientMailError

VOLUNTEER = "contact@boulangerie-vignerons.example.fr"
SCHOOL = "referent@college-saint-exupery.example.fr"
REFERENT = "referente.stages@lycee-berlioz.example.fr"
TOPICS = ["vitawin.proposals", "vitawin.requests", "vitawin.volunteers", "vitawin.contacts", "vitawin.actors",
          "vitawin.requesters"]
HANDLED = {handlers.PROPOSAL_CREATED, handlers.PROPOSAL_CONFIRMATION_REQUESTED, handlers.PROPOSAL_ACCEPTED,
           handlers.PROPOSAL_DECLINED, handlers.PROPOSAL_EXPIRED, handlers.REQUEST_CREATED,
           handlers.VOLUNTEER_REGISTERED, handlers.CONTACT_REGISTERED, handlers.ACTOR_ERASED,
           handlers.REQUEST_REQUESTER, *handlers.REQUEST_CLOSED}


class FakeProducer:
    def __init__(self):
        self.sent = []

    def send(self, topic, key=None, value=None, headers=None):
        self.sent.append((topic, key, dict(headers)))
        return SimpleNamespace(get=lambda timeout=None: None)


class FakeKafkaConsumer:
    """Gives `batches` one poll at a time, then sets `stop`; records commits."""

    def __init__(self, batches=(), stop: threading.Event | None = None):
        self.batches = list(batches)
        self.stop = stop
        self.committed: list[dict] = []
        self.seeks: list = []
        self.closed = False

    def poll(self, timeout_ms=0):
        if self.batches:
            return self.batches.pop(0)
        if self.stop is not None:
            self.stop.set()
        return {}

    def commit(self, offsets):
        self.committed.append({tp: meta.offset for tp, meta in offsets.items()})

    def seek(self, tp, offset):
        self.seeks.append((tp, offset))

    def assignment(self):
        return set()

    def close(self, autocommit=True):
        self.closed = True


@pytest.fixture
def consumers(monkeypatch):
    """Every consumer bootstrap asks vitawin_common.kafka for: (group, topics, the fake)."""
    made = []

    def consumer(settings, group_id, topics):
        fake = FakeKafkaConsumer()
        made.append((group_id, list(topics), fake))
        return fake
    monkeypatch.setattr(kafka, "consumer", consumer)
    return made


@pytest.fixture
def config():
    return Settings(service_name="notify")


def record_of(event, topic, offset=7):
    key, value, headers = to_record(event)
    return SimpleNamespace(key=key, value=value, headers=headers, topic=topic, partition=0, offset=offset)


def channel_messages(contracts):
    """AsyncAPI: topic -> the event types its channel carries."""
    spec = contracts.asyncapi
    names = {name: message["name"] for name, message in spec["components"]["messages"].items()}
    out = {}
    for channel in spec["channels"].values():
        refs = (m["$ref"].rsplit("/", 1)[-1] for m in (channel.get("messages") or {}).values())
        out[channel["address"]] = {names[ref] for ref in refs}
    return out


def test_the_loop_subscribes_to_the_six_channels_and_maps_every_event_notify_reads(
        consumers, config, harness, contracts):
    producer = FakeProducer()
    loop = bootstrap.consumer_loop(config, producer, harness.notify)

    [(group, topics, fake)] = consumers
    assert (group, topics) == ("notify", TOPICS)
    assert loop.consumer is fake and loop.producer is producer
    assert (loop.group_id, loop.dead_letter_topic, loop.service) == ("notify", "vitawin.notify.dlq", "notify")
    assert set(loop.handlers) == HANDLED
    carried = channel_messages(contracts)
    for event_type in HANDLED:
        assert contracts.knows(event_type)
        assert [t for t in TOPICS if event_type in carried[t]], f"{event_type} travels on no subscribed topic"
    for topic in TOPICS:  # and no subscribed channel is read for nothing
        assert carried[topic] & HANDLED, topic


def test_the_retry_consumer_has_its_own_group_and_topic(consumers, config, harness):
    stop = threading.Event()
    stop.set()
    bootstrap.retry_consumer(config, FakeProducer(), harness.deliverer)(stop)
    [(group, topics, fake)] = consumers
    assert (group, topics) == ("notify-retry", ["vitawin.notify.retry"])
    assert fake.closed


ROUTES = [("contact.registered.v1", "school", {}, "vitawin.contacts", [("welcome", REFERENT)]),
          ("volunteer.registered.v1", "basic", {}, "vitawin.volunteers", [("pledge_confirmation", VOLUNTEER)]),
          ("request.created.v2", "pupil_discovery_internship", {"school_uai": "0940120V"}, "vitawin.requests",
           [("pupil_request_to_referent", REFERENT)]),
          ("proposal.created.v1", "basic", {}, "vitawin.proposals",
           [("proposal_to_volunteer", VOLUNTEER), ("proposal_to_requester", SCHOOL)]),
          ("proposal.accepted.v1", "basic", {}, "vitawin.proposals",
           [("proposal_accepted_volunteer", VOLUNTEER), ("proposal_accepted_requester", SCHOOL)]),
          ("actor.erased.v1", "basic", {}, "vitawin.actors", []),
          ("contact.registered.v1", "basic", {}, "vitawin.contacts", [("welcome", VOLUNTEER)]),
          ("actor.erased.v1", "basic", {}, "vitawin.actors", [("erasure_confirmation", VOLUNTEER)])]


def test_records_of_every_channel_are_applied_through_the_loop(consumers, config, harness):
    h = harness
    producer = FakeProducer()
    loop = bootstrap.consumer_loop(config, producer, h.notify)
    for offset, (name, example, changes, topic, expected) in enumerate(ROUTES):
        before = len(h.mailer.outbox)
        event = h.example(name, example, **changes)
        assert loop.handle_record(record_of(event, topic, offset)) == "applied", name
        assert h.mailer.sent()[before:] == expected, name
    assert producer.sent == []


@pytest.mark.parametrize("name, example, topic", [("request.updated.v1", "edited", "vitawin.requests"),
                                                   ("volunteer.withdrawn.v1", "basic", "vitawin.volunteers")])
def test_an_event_notify_does_not_read_is_ignored(name, example, topic, consumers, config, harness):
    h = harness
    loop = bootstrap.consumer_loop(config, FakeProducer(), h.notify)
    assert loop.handle_record(record_of(h.example(name, example), topic)) == "ignored"
    assert h.mailer.tries == 0 and h.published == []


def test_an_invalid_address_is_dead_lettered_naming_the_field_only(consumers, config, harness):
    h = harness
    producer = FakeProducer()
    loop = bootstrap.consumer_loop(config, producer, h.notify)
    bad = h.example("proposal.created.v1", request__contact_email="x@vitawin.fr\r\nBcc: cible@example.fr")

    assert loop.handle_record(record_of(bad, "vitawin.proposals")) == "dead_lettered"

    [(topic, key, headers)] = producer.sent
    assert topic == "vitawin.notify.dlq" and key == bad.subject.encode()
    assert headers["dlq_reason"] == b"request.contact_email: invalid email address"
    assert (headers["dlq_topic"], headers["dlq_group"]) == (b"vitawin.proposals", b"notify")
    assert h.mailer.tries == 0 and h.proposals.docs == {}


def test_an_event_breaking_its_contract_is_dead_lettered_before_the_handler(consumers, config, harness):
    h = harness
    producer = FakeProducer()
    loop = bootstrap.consumer_loop(config, producer, h.notify)
    event = h.example("proposal.created.v1", drop=("volunteer__contact_email",))
    assert loop.handle_record(record_of(event, "vitawin.proposals")) == "dead_lettered"
    assert [topic for topic, _, _ in producer.sent] == ["vitawin.notify.dlq"]
    assert h.mailer.tries == 0


def test_the_loop_runs_commits_and_reads_a_failed_event_again(monkeypatch, config, harness):
    h = harness
    stop = threading.Event()
    tp = TopicPartition("vitawin.proposals", 0)
    event = h.example("proposal.created.v1")
    fake = FakeKafkaConsumer([{tp: [record_of(event, tp.topic, 41)]}, {tp: [record_of(event, tp.topic, 41)]}],
                             stop)
    monkeypatch.setattr(kafka, "consumer", lambda settings, group_id, topics: fake)
    monkeypatch.setattr(stop, "wait", lambda timeout=None: stop.is_set())  # no back-off sleep in a test
    loop = bootstrap.consumer_loop(config, FakeProducer(), h.notify)
    h.fail_commits = 1  # the database fails once: the event is read again from the same offset

    loop.run(stop)

    assert fake.seeks == [(tp, 41)]
    assert {tp: 42} in fake.committed
    assert h.mailer.sent() == [("proposal_to_volunteer", VOLUNTEER), ("proposal_to_requester", SCHOOL)]
    assert fake.closed


def test_the_retry_consumer_sends_a_due_retry_once(monkeypatch, config, harness):
    h = harness
    h.mailer.failures = [TransientMailError("ConnectionRefusedError")]
    h.handle(h.example("volunteer.registered.v1"))
    [(retry, channel)] = h.published
    assert (retry.type, channel) == (delivery.NOTIFICATION_RETRY, "notifyRetry")
    h.clock.advance(seconds=6)  # past not_before: no wait

    stop = threading.Event()
    tp = TopicPartition("vitawin.notify.retry", 0)
    record = record_of(retry, tp.topic, 3)
    fake = FakeKafkaConsumer([{tp: [record]}, {tp: [record]}], stop)
    monkeypatch.setattr(kafka, "consumer", lambda settings, group_id, topics: fake)
    bootstrap.retry_consumer(config, FakeProducer(), h.deliverer)(stop)

    assert h.mailer.sent() == [("pledge_confirmation", VOLUNTEER)]
    assert h.mailer.tries == 2
    assert fake.committed[-1] == {tp: 4} and fake.closed
    assert h.deliveries.docs[retry.data["delivery_key"]]["status"] == "sent"


def test_a_retry_not_yet_due_waits_on_the_clock_of_the_deliverer(monkeypatch, config, harness):
    h = harness
    h.mailer.failures = [TransientMailError("x")]
    h.handle(h.example("volunteer.registered.v1"))
    [(retry, _)] = h.published
    h.clock.advance(seconds=2)  # 3 seconds to go

    stop = threading.Event()
    waits = []

    def wait(timeout=None):
        waits.append(timeout)
        h.clock.advance(seconds=timeout or 0)
        return stop.is_set()
    monkeypatch.setattr(stop, "wait", wait)
    tp = TopicPartition("vitawin.notify.retry", 0)
    fake = FakeKafkaConsumer([{tp: [record_of(retry, tp.topic, 0)]}], stop)
    monkeypatch.setattr(kafka, "consumer", lambda settings, group_id, topics: fake)
    bootstrap.retry_consumer(config, FakeProducer(), h.deliverer)(stop)

    assert waits == [pytest.approx(timedelta(seconds=3).total_seconds())]
    assert h.mailer.sent() == [("pledge_confirmation", VOLUNTEER)]
