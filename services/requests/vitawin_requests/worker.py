"""`python -m vitawin_requests.worker`: what the requests service does in the background.

- consumes `actors` (group "requests") to keep its read model of the territory's schools
  (vitawin_requests.schools), and `proposals` to count each accepted proposal towards its
  request (partly matched, then fulfilled), with the common consumer loop: manual commits after
  the effect, idempotent handlers, poison events to the `requestsDeadLetter` topic;
- expires the requests whose date has passed and closes the calls for projects past their
  deadline, every REQUESTS_EXPIRY_INTERVAL_S seconds (60 by default), one transaction and one
  event per request or call;
- relays its outbox to Kafka;
- serves /metrics /healthz /readyz on METRICS_PORT."""
from __future__ import annotations

import logging
import os
import threading
from datetime import datetime, timezone
from typing import Callable

from vitawin_common import kafka, logs, mongo, worker
from vitawin_common.config import Settings
from vitawin_common.consumer import ConsumerLoop
from vitawin_common.contracts import load
from vitawin_common.events import Event
from vitawin_common.outbox import OutboxRelay

from vitawin_requests import bootstrap, handlers, schools
from vitawin_requests.initiatives import handlers as initiatives

log = logging.getLogger(__name__)

GROUP_ID = "requests"
CONSUMED_CHANNELS = ("actors", "proposals")
PROPOSAL_ACCEPTED = "fr.vitawin.proposal.accepted.v1"
DEAD_LETTER_CHANNEL = "requestsDeadLetter"
DEFAULT_EXPIRY_INTERVAL_S = 60.0


def on_proposal_accepted(event: Event, uow) -> None:
    """Count the accepted proposal towards its request, once per proposal id (a redelivery or a
    replay changes nothing). A write that races another change of the request raises
    ConcurrentChange: the consumer loop retries the event from the same offset."""
    handlers.record_acceptance(uow, event.data["request_id"], event.data["proposal_id"])


def event_handlers(new_uow: Callable) -> dict[str, Callable[[Event], None]]:
    """The events the requests worker reads, each applied in a new unit of work; the others
    (proposals created or declined, other actors' events) are ignored."""
    return {schools.ACTOR_REGISTERED: lambda event: schools.on_actor_registered(event, new_uow()),
            schools.ACTOR_ERASED: lambda event: schools.on_actor_erased(event, new_uow()),
            PROPOSAL_ACCEPTED: lambda event: on_proposal_accepted(event, new_uow())}


def consumer_loop(settings: Settings, producer, new_uow: Callable) -> ConsumerLoop:
    contracts = load(settings.contracts_dir)
    return ConsumerLoop(
        service=bootstrap.SERVICE,
        consumer=kafka.consumer(settings, GROUP_ID, [contracts.topic(c) for c in CONSUMED_CHANNELS]),
        producer=producer, contracts=contracts, group_id=GROUP_ID, handlers=event_handlers(new_uow),
        dead_letter_channel=DEAD_LETTER_CHANNEL, dead_letter_limit=settings.dead_letter_limit)


def expiry_timer(new_uow: Callable, interval_s: float,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> Callable[[threading.Event], None]:
    """A background task: expire the requests and close the calls for projects that are due, at
    start, then every `interval_s` until `stop`. A failed round is logged and tried again at the
    next tick (it sees the same documents: expiring and closing are idempotent)."""
    def expire_requests() -> None:
        moment = now()
        expired = handlers.expire_due(new_uow(), moment)
        closed = initiatives.close_due(new_uow(), moment)
        if expired or closed:
            log.info("expiry round", extra={"requests_expired": expired, "calls_closed": len(closed)})
    return worker.periodic(expire_requests, interval_s, "expiry round")


def main() -> None:
    logs.configure(bootstrap.SERVICE)
    settings = bootstrap.settings()
    kafka.ensure_topics(settings)
    bootstrap.ensure_indexes(settings)
    new_uow = bootstrap.unit_of_work_factory(settings)
    producer = kafka.producer(settings)
    relay = OutboxRelay(mongo.database(settings), producer, bootstrap.SERVICE)
    interval = float(os.environ.get("REQUESTS_EXPIRY_INTERVAL_S", DEFAULT_EXPIRY_INTERVAL_S))
    try:
        worker.run(consume=consumer_loop(settings, producer, new_uow).run,
                   background=[relay.run, expiry_timer(new_uow, interval)], ready=bootstrap.ready(settings))
    finally:
        producer.close(timeout=10)


if __name__ == "__main__":
    main()
