"""Wires the real dependencies of notify in one place. Nothing here runs at import time: Kafka and
MongoDB clients are made in the process that uses them."""
from __future__ import annotations

import os
from functools import lru_cache

from vitawin_common import contracts, kafka, mongo
from vitawin_common.config import Settings
from vitawin_common.consumer import ConsumerLoop

from vitawin_notify import handlers
from vitawin_notify.adapters import MongoDeliveries, MongoUnitOfWork, SmtpMailer, load_towns

SERVICE = "notify"
GROUP_ID = "notify"
CHANNEL = "proposals"
DEAD_LETTER_CHANNEL = "notifyDeadLetter"


def settings() -> Settings:
    return Settings.from_env(SERVICE)


def mailer_from_env(env=os.environ) -> SmtpMailer:
    return SmtpMailer(
        host=env.get("SMTP_HOST", "127.0.0.1"),
        port=int(env.get("SMTP_PORT", "1025")),
        sender=env.get("SMTP_FROM", "Vitawin <ne-pas-repondre@vitawin.fr>"),
        username=env.get("SMTP_USERNAME") or None,
        password=env.get("SMTP_PASSWORD") or None,
        starttls=env.get("SMTP_STARTTLS", "").strip().lower() in {"1", "true", "yes", "on"},
    )


@lru_cache(maxsize=1)
def towns() -> dict[str, str]:
    return load_towns()


def unit_of_work(config: Settings) -> MongoUnitOfWork:
    return MongoUnitOfWork(mongo.database(config))


def deliveries(config: Settings) -> MongoDeliveries:
    return MongoDeliveries(mongo.database(config))


def consumer_loop(config: Settings, producer) -> ConsumerLoop:
    event_contracts = contracts.load(config.contracts_dir)
    mailer, town_names = mailer_from_env(), towns()

    def proposal_created(event) -> None:  # one unit of work per message
        handlers.on_proposal_created(event, unit_of_work(config), mailer, town_names)

    return ConsumerLoop(
        service=SERVICE,
        consumer=kafka.consumer(config, GROUP_ID, [event_contracts.topic(CHANNEL)]),
        producer=producer,
        contracts=event_contracts,
        handlers={handlers.PROPOSAL_CREATED: proposal_created},
        dead_letter_channel=DEAD_LETTER_CHANNEL,
        group_id=GROUP_ID,
        dead_letter_limit=config.dead_letter_limit,
    )
