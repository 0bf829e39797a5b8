"""Wires the real dependencies of the webhooks service in one place. Nothing here runs at import
time: Kafka and MongoDB clients are made in the process that uses them.

Environment (defaults in brackets): WEBHOOKS_PSEUDONYM_KEY [a fixed development key: production
sets its own, once, and never changes it, or every pledge's public id changes];
WEBHOOKS_ALLOW_LOCAL_HTTP [off: local and test stacks only]; WEBHOOKS_RETRY_INITIAL_S [30],
WEBHOOKS_RETRY_MAX_S [10800], WEBHOOKS_RETRY_JITTER_S [60], WEBHOOKS_GIVE_UP_AFTER_S [86400];
WEBHOOKS_SLOTS [16] and WEBHOOKS_PER_SUBSCRIPTION [2] (concurrent sends in all and per
subscription); WEBHOOKS_CONNECT_TIMEOUT_S [3.05], WEBHOOKS_READ_TIMEOUT_S [10]."""
from __future__ import annotations

import os
from datetime import timedelta

from vitawin_common import kafka, mongo, worker
from vitawin_common.config import Settings
from vitawin_common.consumer import ConsumerLoop
from vitawin_common.outbox import OutboxRelay

from vitawin_webhooks import dispatch, domain, handlers, topics
from vitawin_webhooks.store import WebhooksUnitOfWork

SERVICE = "webhooks"
GROUP_ID = "webhooks"
# Internal channels the translator reads: never `contacts` nor `requesters` (personal data).
INTERNAL_CHANNELS = ("requests", "volunteers", "proposals", "initiatives", "actors")
DEAD_LETTER_CHANNEL = "webhooksDeadLetter"
DEV_PSEUDONYM_KEY = "vitawin-development-pseudonym-key"


def settings() -> Settings:
    return Settings.from_env(SERVICE)


def contracts(config: Settings) -> topics.PartnerContracts:
    return topics.load(config.contracts_dir)


def unit_of_work_factory(config: Settings):
    return lambda: WebhooksUnitOfWork.from_settings(config)


def prepare_database(config: Settings) -> None:
    WebhooksUnitOfWork.from_settings(config).ensure_indexes()


def pseudonym_key(env=os.environ) -> bytes:
    return env.get("WEBHOOKS_PSEUDONYM_KEY", DEV_PSEUDONYM_KEY).encode()


def policy(env=os.environ) -> domain.RetryPolicy:
    return domain.RetryPolicy.from_env(env)


def consumer_loop(config: Settings, producer, env=os.environ) -> ConsumerLoop:
    """One loop, one group: the internal channels (translated) and the public ones (recorded)."""
    partner_contracts = contracts(config)
    uow_factory = unit_of_work_factory(config)
    translator = handlers.Translator(uow_factory, pseudonym_key(env))
    recorder = handlers.Recorder(uow_factory, policy(env))
    addresses = [partner_contracts.topic(c) for c in INTERNAL_CHANNELS]
    addresses += [t.address for t in partner_contracts.public_topics()]
    return ConsumerLoop(service=SERVICE, consumer=kafka.consumer(config, GROUP_ID, addresses), producer=producer,
                        contracts=partner_contracts, handlers={**translator.handlers(), **recorder.handlers()},
                        dead_letter_channel=DEAD_LETTER_CHANNEL, group_id=GROUP_ID,
                        dead_letter_limit=config.dead_letter_limit)


def dispatcher(config: Settings, env=os.environ) -> dispatch.Dispatcher:
    sender = dispatch.HttpSender(connect_timeout_s=float(env.get("WEBHOOKS_CONNECT_TIMEOUT_S", "3.05")),
                                 read_timeout_s=float(env.get("WEBHOOKS_READ_TIMEOUT_S", "10")),
                                 allow_local=domain.allow_local_http(env))
    return dispatch.Dispatcher(unit_of_work_factory(config), sender, policy=policy(env),
                               per_subscription=int(env.get("WEBHOOKS_PER_SUBSCRIPTION", "2")),
                               slots=int(env.get("WEBHOOKS_SLOTS", "16")))


def housekeeping(config: Settings, dispatcher_: dispatch.Dispatcher):
    """Every 30 s: claims of a dead dispatcher back to pending; public events past the public
    topics' retention (30 days) forgotten."""
    retention = timedelta(milliseconds=min(t.retention_ms for t in contracts(config).public_topics()))

    def task() -> None:
        dispatcher_.release_stale()
        WebhooksUnitOfWork.from_settings(config).events.purge_before(handlers.utcnow() - retention)
    return worker.periodic(task, 30.0, "webhooks housekeeping")


def outbox_relay(config: Settings, producer) -> OutboxRelay:
    return OutboxRelay(mongo.database(config), producer, SERVICE)


def ready(config: Settings):
    return lambda: mongo.ping(config)


def subscriptions_service(config: Settings, env=os.environ) -> handlers.Subscriptions:
    return handlers.Subscriptions(unit_of_work_factory(config), policy(env))
