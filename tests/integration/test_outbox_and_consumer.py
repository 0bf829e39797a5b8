"""The common outbox relay and consumer loop on the real broker and database."""
from __future__ import annotations

import json
import threading
import uuid

import pytest
from kafka.admin import KafkaAdminClient, NewTopic
from pymongo import MongoClient

from support import eventually, headers, read_topic
from vitawin_common import kafka as vkafka
from vitawin_common.config import Settings
from vitawin_common.consumer import ConsumerLoop
from vitawin_common.contracts import Contracts
from vitawin_common.events import from_record, new_event, to_record
from vitawin_common.outbox import Outbox, OutboxRelay

pytestmark = pytest.mark.integration


@pytest.fixture
def world(infrastructure, tmp_path):
    """A throw-away contract (one channel and its dead-letter channel), topics and database."""
    suffix = uuid.uuid4().hex[:8]
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "test.thing.happened.v1.json").write_text(json.dumps({
        "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
        "required": ["n"], "properties": {"n": {"type": "integer"}}}))
    (tmp_path / "asyncapi.yaml").write_text(
        "asyncapi: 3.0.0\nchannels:\n"
        f"  things: {{address: it.things.{suffix}, x-partitions: 2}}\n"
        f"  thingsDeadLetter: {{address: it.things.{suffix}.dlq, x-partitions: 1}}\n")
    settings = Settings.from_env("it", kafka_bootstrap_servers=infrastructure.env["KAFKA_BOOTSTRAP_SERVERS"],
                                 mongodb_uri=infrastructure.env["MONGODB_URI"], contracts_dir=tmp_path,
                                 mongodb_database=f"it_{suffix}")
    vkafka.ensure_topics(settings)
    client = MongoClient(settings.mongodb_uri, tz_aware=True)
    yield settings, Contracts(tmp_path), client, client[settings.mongodb_database]
    client.drop_database(settings.mongodb_database)
    client.close()


def test_outbox_publishes_committed_events_once_and_aborted_ones_never(world):
    settings, contracts, client, db = world
    outbox = Outbox(db, contracts)
    outbox.ensure_indexes()
    kept = [new_event("test.thing.happened.v1", "/it", f"thing-{n}", {"n": n}) for n in range(3)]
    with client.start_session() as session, session.start_transaction():
        for event in kept:
            db.things.insert_one({"_id": event.subject}, session=session)
            outbox.add(event, "things", session=session)
    lost = new_event("test.thing.happened.v1", "/it", "thing-lost", {"n": 99})
    with pytest.raises(RuntimeError):
        with client.start_session() as session, session.start_transaction():
            db.things.insert_one({"_id": lost.subject}, session=session)
            outbox.add(lost, "things", session=session)
            raise RuntimeError("crash before commit")
    assert outbox.pending_count() == 3

    producer = vkafka.producer(settings)
    relay, rival = OutboxRelay(db, producer, "it"), OutboxRelay(db, producer, "it")
    assert relay.relay_once() == 3
    assert rival.relay_once() == 0, "a second relay must wait for the lease"
    assert relay.relay_once() == 0, "sent entries are not published again"
    producer.close()

    topic = contracts.topic("things")
    records = read_topic(settings.kafka_bootstrap_servers, topic, stop=lambda r: len(r) >= 3, timeout=15)
    events = [from_record(r.key, r.value, r.headers) for r in read_topic(
        settings.kafka_bootstrap_servers, topic, timeout=2)]
    assert sorted(e.id for e in events) == sorted(e.id for e in kept)
    assert all(r.key.decode() == headers(r)["ce_subject"] for r in records)
    assert {e.correlation_id for e in events} == {e.correlation_id for e in kept}
    assert db.things.count_documents({}) == 3


def test_consumer_applies_each_event_once_dead_letters_poison_and_retries_failures(world):
    settings, contracts, client, db = world
    topic = contracts.topic("things")
    producer = vkafka.producer(settings)
    good = [new_event("test.thing.happened.v1", "/it", f"t{n}", {"n": n}) for n in range(6)]
    invalid = new_event("test.thing.happened.v1", "/it", "bad", {"n": "not a number"})
    for event in good[:3] + [invalid]:
        key, value, hdrs = to_record(event)
        producer.send(topic, key=key, value=value, headers=hdrs)
    producer.send(topic, key=b"garbage", value=b"\x00not json", headers=[])
    for event in good[3:]:
        key, value, hdrs = to_record(event)
        producer.send(topic, key=key, value=value, headers=hdrs)
    producer.flush()

    calls: list[str] = []
    failed_once: set[str] = set()

    def handler(event):
        calls.append(event.id)
        if event.subject == "t2" and "t2" not in failed_once:
            failed_once.add("t2")
            raise ConnectionError("database briefly away")  # transient: retried from the offset
        db.applied.update_one({"_id": event.id}, {"$inc": {"times": 1}}, upsert=True)

    def run_loop(stop):
        loop = ConsumerLoop(service="it", consumer=vkafka.consumer(settings, "it-group", [topic]),
                            producer=producer, contracts=contracts,
                            handlers={"test.thing.happened.v1": handler},
                            dead_letter_channel="thingsDeadLetter", group_id="it-group")
        loop.run(stop)

    stop = threading.Event()
    thread = threading.Thread(target=run_loop, args=(stop,))
    thread.start()
    try:
        eventually(lambda: db.applied.count_documents({}) == 6, timeout=40, message="6 events applied")
    finally:
        stop.set()
        thread.join(timeout=20)
    assert [d["times"] for d in db.applied.find()] == [1] * 6
    assert failed_once == {"t2"}

    dead = read_topic(settings.kafka_bootstrap_servers, contracts.topic("thingsDeadLetter"),
                      stop=lambda r: len(r) >= 2, timeout=15)
    reasons = sorted(headers(r)["dlq_reason"] for r in dead)
    assert len(dead) == 2
    assert any("not a CloudEvent" in reason for reason in reasons)
    assert any("n: breaks type='integer'" in reason for reason in reasons)
    assert not any("not a number" in reason for reason in reasons), "values never go to dead-letter headers"
    assert all(headers(r)["dlq_topic"] == topic for r in dead)

    # Offsets were committed after the effects: the same group starts after the last event.
    calls.clear()
    stop = threading.Event()
    thread = threading.Thread(target=run_loop, args=(stop,))
    thread.start()
    try:
        extra = new_event("test.thing.happened.v1", "/it", "t-extra", {"n": 7})
        key, value, hdrs = to_record(extra)
        producer.send(topic, key=key, value=value, headers=hdrs).get(timeout=10)
        eventually(lambda: db.applied.count_documents({}) == 7, timeout=40, message="new event applied")
    finally:
        stop.set()
        thread.join(timeout=20)
        producer.close()
    assert calls == [extra.id], "only the new event is delivered to the restarted group"
