"""Wires the real dependencies in one place. Nothing here runs at import time: clients are made per
process, when the worker or a gunicorn worker calls these functions."""
from __future__ import annotations

import logging
import os
from datetime import datetime, timezone
from functools import partial

from vitawin_common import kafka, mongo, worker
from vitawin_common.config import Settings
from vitawin_common.consumer import ConsumerLoop
from vitawin_common.contracts import load
from vitawin_common.events import Event
from vitawin_common.outbox import Outbox, OutboxRelay

from vitawin_matching import answers, handlers
from vitawin_matching.adapters import (MongoProposalStats, MongoProposals, MongoUnitOfWork, MongoVolunteers,
                                      ensure_indexes)
from vitawin_matching.index import VolunteerIndex
from vitawin_matching.search import IndexFollower, Search
from vitawin_matching.domain import DEFAULT_TOP_K

log = logging.getLogger(__name__)

SERVICE = "matching"
GROUP_ID = "matching"
CONSUMED_CHANNELS = ("volunteers", "requests", "proposals")  # proposals: its own declines and expiries
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


def volunteer_index(config: Settings) -> IndexFollower:
    """The worker's in-memory index of active volunteers and what keeps it up to date (load() it
    before consuming, run() it in the background)."""
    return IndexFollower(VolunteerIndex(), MongoVolunteers(mongo.database(config)),
                         interval_s=float(os.environ.get("MATCHING_INDEX_INTERVAL_S", "1")))


def consumer_loop(config: Settings, producer, follower: IndexFollower | None = None) -> ConsumerLoop:
    contracts = load(config.contracts_dir)
    new_uow, k = unit_of_work_factory(config), top_k()
    search = Search.from_env(index=follower.index if follower else None,
                             fresh_since=follower.fresh_since if follower else (lambda: None))

    def with_new_uow(handler):
        def handle(event: Event) -> None:
            handler(event, new_uow(), k=k, search=search)  # one unit of work per message
        return handle

    def batch_with_new_uow(handler):
        def handle(events: list[Event]) -> None:
            handler(events, new_uow(), k=k, search=search)  # one unit of work per batch
        return handle

    return ConsumerLoop(
        service=SERVICE,
        consumer=kafka.consumer(config, GROUP_ID, [contracts.topic(c) for c in CONSUMED_CHANNELS]),
        producer=producer, contracts=contracts, group_id=GROUP_ID,
        handlers=event_handlers(with_new_uow), batch_handlers=batch_handlers(batch_with_new_uow),
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
            "fr.vitawin.request.unhidden.v1": wrap(handlers.on_request_unhidden),
            "fr.vitawin.proposal.declined.v1": wrap(handlers.on_proposal_freed),
            "fr.vitawin.proposal.expired.v1": wrap(handlers.on_proposal_freed)}


def batch_handlers(wrap) -> dict:
    """The events matching applies several at a time when a poll gives them one after the other
    (the consumer loop's batches): new requests, whose proposals then share one transaction. One
    handler object for both versions, so that a batch may mix them."""
    created = wrap(handlers.on_requests_created)
    return {"fr.vitawin.request.created.v1": created, "fr.vitawin.request.created.v2": created}


def expiry_timer(config: Settings, now=lambda: datetime.now(timezone.utc)):
    """A background task: expire the unanswered proposals at start, then every
    MATCHING_EXPIRY_INTERVAL_S seconds until `stop`; a failed round is logged and retried at the
    next tick (expiring is idempotent)."""
    new_uow = unit_of_work_factory(config)

    def expire_proposals() -> None:
        expired = answers.expire_due(new_uow(), now())
        if expired:
            log.info("proposals expired", extra={"count": expired})
    return worker.periodic(expire_proposals, float(os.environ.get("MATCHING_EXPIRY_INTERVAL_S", "60")),
                           "proposal expiry round")


def outbox_relay(config: Settings, producer) -> OutboxRelay:
    return OutboxRelay(mongo.database(config), producer, SERVICE)


def prepare_database(config: Settings) -> None:
    db = mongo.database(config)
    ensure_indexes(db, Outbox(db, load(config.contracts_dir)))


def proposals(config: Settings) -> MongoProposals:
    return MongoProposals(mongo.database(config))


def proposal_stats(config: Settings) -> MongoProposalStats:
    """What the dashboard's counts read (GET /api/v1/proposals/stats)."""
    return MongoProposalStats(mongo.database(config))


def offer_of(config: Settings):
    """offer_of(proposal document) -> the professional's offer for its action (its capacity), from
    the volunteers read model; None when unknown (a placement then takes a capacity of 1)."""
    volunteers = MongoVolunteers(mongo.database(config))

    def find(doc: dict):
        volunteer = volunteers.get(doc["volunteer_id"])
        return None if volunteer is None else volunteer.offer(doc["action_type"])
    return find


def ready(config: Settings):
    return partial(mongo.ping, config)


def link_public_key(env=os.environ) -> str | None:
    """Notify's public key for the answer links of its emails (NOTIFY_LINK_PUBLIC_KEY, PEM text, or
    NOTIFY_LINK_PUBLIC_KEY_FILE); None when unset (link answers are then refused with a 503)."""
    from vitawin_common import identity
    return identity.pem_from_env("NOTIFY_LINK_PUBLIC_KEY", env) or None
