"""Wires the real dependencies in one place. Nothing here runs at import time: clients are made per
process, when the worker or a gunicorn worker calls these functions."""
from __future__ import annotations

import os
from functools import partial

from vitawin_common import kafka, mongo
from vitawin_common.config import Settings
from vitawin_common.consumer import ConsumerLoop
from vitawin_common.contracts import load
from vitawin_common.events import Event
from vitawin_common.outbox import Outbox, OutboxRelay

from vitawin_matching import handlers
from vitawin_matching.adapters import MongoProposals, MongoUnitOfWork, ensure_indexes
from vitawin_matching.domain import DEFAULT_TOP_K

SERVICE = "matching"
GROUP_ID = "matching"
CONSUMED_CHANNELS = ("volunteers", "requests")
DEAD_LETTER_CHANNEL = "matchingDeadLetter"


def settings() -> Settings:
    return Settings.from_env(SERVICE)


def top_k() -> int:
    k = int(os.environ.get("MATCHING_TOP_K", DEFAULT_TOP_K))
    if k < 1:
        raise ValueError("MATCHING_TOP_K must be at least 1")
    return k


def unit_of_work_factory(config: Settings):
    client, db = mongo.client(config), mongo.database(config)
    outbox = Outbox(db, load(config.contracts_dir))
    return lambda: MongoUnitOfWork(client, db, outbox)


def consumer_loop(config: Settings, producer) -> ConsumerLoop:
    contracts = load(config.contracts_dir)
    new_uow, k = unit_of_work_factory(config), top_k()

    def with_new_uow(handler):
        def handle(event: Event) -> None:
            handler(event, new_uow(), k=k)  # one unit of work per message
        return handle

    return ConsumerLoop(
        service=SERVICE,
        consumer=kafka.consumer(config, GROUP_ID, [contracts.topic(c) for c in CONSUMED_CHANNELS]),
        producer=producer, contracts=contracts, group_id=GROUP_ID,
        handlers=event_handlers(with_new_uow),
        dead_letter_channel=DEAD_LETTER_CHANNEL, dead_letter_limit=config.dead_letter_limit,
    )


def event_handlers(wrap) -> dict:
    """The events matching reads, each with its handler (wrapped by `wrap`). The consumer loop
    checks each event against its contract before the handler: a type whose schema is missing
    from contracts/schemas is dead-lettered, not ignored."""
    return {"fr.vitawin.volunteer.registered.v1": wrap(handlers.on_volunteer_registered),
            "fr.vitawin.volunteer.updated.v1": wrap(handlers.on_volunteer_updated),
            "fr.vitawin.volunteer.withdrawn.v1": wrap(handlers.on_volunteer_withdrawn),
            "fr.vitawin.request.created.v1": wrap(handlers.on_request_created),  # still on the topic
            "fr.vitawin.request.created.v2": wrap(handlers.on_request_created),
            "fr.vitawin.request.updated.v1": wrap(handlers.on_request_updated),
            **{event_type: wrap(handlers.on_request_closed) for event_type in handlers.REQUEST_CLOSING_EVENTS},
            "fr.vitawin.request.hidden.v1": wrap(handlers.on_request_hidden),
            "fr.vitawin.request.unhidden.v1": wrap(handlers.on_request_unhidden)}


def outbox_relay(config: Settings, producer) -> OutboxRelay:
    return OutboxRelay(mongo.database(config), producer, SERVICE)


def prepare_database(config: Settings) -> None:
    db = mongo.database(config)
    ensure_indexes(db, Outbox(db, load(config.contracts_dir)))


def proposals(config: Settings) -> MongoProposals:
    return MongoProposals(mongo.database(config))


def ready(config: Settings):
    return partial(mongo.ping, config)
