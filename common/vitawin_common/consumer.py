"""The consumer loop every worker runs: auto-commit off, offsets committed only after the effect is
durable, poison events dead-lettered with their reason, transient failures retried from the same
offset, and a clean stop on SIGTERM (finish the event in hand, commit, close).

A service may also give a batch handler for some event types: consecutive records of a partition
whose events share one batch handler (and pass their contracts) are then applied together, in one
call, and their offsets committed after it. The events of a batch are those a poll returned (at
most max_poll_records): the loop never waits to fill one. A failure retries the whole batch from
its first offset (the handler is idempotent, as every handler); a PoisonEvent from the batch
handler applies its events one by one with the single-event handler, which dead-letters the
poison one only."""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from kafka.structs import OffsetAndMetadata, TopicPartition

from vitawin_common import correlation, metrics
from vitawin_common.contracts import ContractViolation, Contracts
from vitawin_common.events import Event, UndecodableEvent, from_record

log = logging.getLogger(__name__)

Handler = Callable[[Event], None]
BatchHandler = Callable[[list[Event]], None]


class PoisonEvent(Exception):
    """Raised by a handler for an event that can never succeed: it goes to the dead-letter topic."""


class TooManyDeadLetters(RuntimeError):
    """Stops the worker, so that a bad deploy cannot silently dead-letter a whole stream."""


class ConsumerLoop:
    def __init__(self, *, service: str, consumer, producer, contracts: Contracts,
                 handlers: dict[str, Handler], dead_letter_channel: str, group_id: str,
                 dead_letter_limit: int = 1000, batch_handlers: dict[str, BatchHandler] | None = None):
        self.service = service
        self.consumer = consumer
        self.producer = producer
        self.contracts = contracts
        self.handlers = handlers
        self.dead_letter_topic = contracts.topic(dead_letter_channel)
        self.group_id = group_id
        self.dead_letter_limit = dead_letter_limit
        self.dead_lettered = 0
        self._lag_reported: set[TopicPartition] = set()
        self.batch_handlers = batch_handlers or {}
        missing = set(self.batch_handlers) - set(handlers)
        if missing:  # a poison batch falls back to the single-event handlers
            raise ValueError(f"batch handlers without a single-event handler: {sorted(missing)}")

    # One record: decode, check the contract, apply. Returns the outcome for metrics and tests.
    def handle_record(self, record) -> str:
        try:
            event = from_record(record.key, record.value, record.headers)
        except UndecodableEvent as exc:
            self.dead_letter(record, str(exc))
            return "dead_lettered"
        handler = self.handlers.get(event.type)
        if handler is None:
            metrics.EVENTS_HANDLED.labels(self.service, event.type, "ignored").inc()
            return "ignored"  # another consumer's event, or a newer version we do not read yet
        try:
            self.contracts.validate(event.type, event.data)
        except ContractViolation as exc:
            self.dead_letter(record, str(exc), event.type)
            return "dead_lettered"
        token = correlation.set(event.correlation_id)
        try:
            handler(event)
        except PoisonEvent as exc:
            self.dead_letter(record, str(exc), event.type)
            return "dead_lettered"
        finally:
            correlation.reset(token)
        metrics.EVENTS_HANDLED.labels(self.service, event.type, "applied").inc()
        return "applied"

    def batch_from(self, records: list, start: int) -> list[tuple]:
        """The (record, event) pairs of the batch that starts at records[start]: it and the
        records after it whose events decode, pass their contracts and share its batch handler.
        Empty when records[start] is not for a batch handler (or undecodable, or invalid: the
        single path then dead-letters it). Reads only: nothing is dead-lettered here."""
        group = []
        handler = None
        for record in records[start:]:
            try:
                event = from_record(record.key, record.value, record.headers)
                this = self.batch_handlers.get(event.type)
                if this is None or (handler is not None and this is not handler):
                    break
                self.contracts.validate(event.type, event.data)
            except (UndecodableEvent, ContractViolation):
                break
            handler = this
            group.append((record, event))
        return group if len(group) > 1 else []

    def handle_batch(self, group: list[tuple]) -> None:
        """Apply a batch from `batch_from` with its batch handler; a PoisonEvent applies its events
        one by one instead (the poison one is dead-lettered there)."""
        events = [event for _, event in group]
        try:
            self.batch_handlers[events[0].type](events)
        except PoisonEvent:
            log.warning("a batch holds a poison event: applying its events one by one",
                        extra={"topic": group[0][0].topic, "partition": group[0][0].partition,
                               "offset": group[0][0].offset})
            for record, _ in group:
                self.handle_record(record)
            return
        for event in events:
            metrics.EVENTS_HANDLED.labels(self.service, event.type, "applied").inc()

    def dead_letter(self, record, reason: str, event_type: str = "unknown") -> None:
        headers = [(k, v) for k, v in (record.headers or []) if not k.startswith("dlq_")]
        headers += [("dlq_reason", reason[:1000].encode()), ("dlq_topic", record.topic.encode()),
                    ("dlq_partition", str(record.partition).encode()),
                    ("dlq_offset", str(record.offset).encode()), ("dlq_group", self.group_id.encode())]
        # Synchronous: the dead letter must be durable before the offset is committed.
        self.producer.send(self.dead_letter_topic, key=record.key, value=record.value,
                           headers=headers).get(timeout=10)
        self.dead_lettered += 1
        kind = reason.split(":", 1)[0][:60]
        metrics.EVENTS_DEAD_LETTERED.labels(self.service, record.topic, kind).inc()
        metrics.EVENTS_HANDLED.labels(self.service, event_type, "dead_lettered").inc()
        log.warning("event dead-lettered", extra={"topic": record.topic, "partition": record.partition,
                                                  "offset": record.offset, "event_type": event_type})
        if self.dead_letter_limit and self.dead_lettered > self.dead_letter_limit:
            raise TooManyDeadLetters(f"{self.dead_lettered} events dead-lettered; stopping")

    def _commit(self, done: dict[TopicPartition, int]) -> None:
        if done:
            self.consumer.commit({tp: OffsetAndMetadata(offset, "", -1) for tp, offset in done.items()})
            done.clear()

    def _report_lag(self) -> None:
        """The lag of each partition this consumer holds. A partition it lost in a rebalance is
        dropped from the gauge: its new holder reports it, and a stale figure here would keep a
        lag alert firing (or hide one) after the scale-out that fixed it."""
        assignment = set(self.consumer.assignment())
        for tp in self._lag_reported - assignment:
            try:
                metrics.CONSUMER_LAG.remove(self.service, tp.topic, str(tp.partition))
            except KeyError:
                pass
        self._lag_reported &= assignment
        for tp in assignment:
            high = self.consumer.highwater(tp)
            if high is not None:
                lag = max(high - self.consumer.position(tp), 0)
                metrics.CONSUMER_LAG.labels(self.service, tp.topic, str(tp.partition)).set(lag)
                self._lag_reported.add(tp)

    def run(self, stop: threading.Event) -> None:
        failures = 0
        done: dict[TopicPartition, int] = {}
        try:
            while not stop.is_set():
                batches = self.consumer.poll(timeout_ms=500)
                for tp, records in batches.items():
                    position = 0
                    while position < len(records) and not stop.is_set():
                        record = records[position]
                        try:
                            group = self.batch_from(records, position) if self.batch_handlers else []
                            if group:
                                self.handle_batch(group)
                            else:
                                self.handle_record(record)
                        except TooManyDeadLetters:
                            raise
                        except Exception:
                            failures += 1
                            log.exception("event handling failed; retrying from the same offset",
                                          extra={"topic": tp.topic, "partition": tp.partition,
                                                 "offset": record.offset})
                            self.consumer.seek(tp, record.offset)
                            self._commit(done)
                            # Short cap: a transaction left open by a crashed worker blocks the
                            # same documents until the server expires it (60 s on MongoDB), and
                            # the partition should resume within seconds of that, not minutes.
                            stop.wait(min(0.25 * 2 ** min(failures, 5), 5))
                            break
                        failures = 0
                        position += max(len(group), 1)
                        done[tp] = records[position - 1].offset + 1
                    self._commit(done)
                self._report_lag()
        finally:
            try:
                self._commit(done)
            finally:
                self.consumer.close(autocommit=False)
