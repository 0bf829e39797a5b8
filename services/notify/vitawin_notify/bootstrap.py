"""Wires the real dependencies of notify in one place. Nothing here runs at import time: Kafka and
MongoDB clients are made in the process that uses them."""
from __future__ import annotations

import os
import threading
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from vitawin_common import contracts, kafka, mongo, territory, worker
from vitawin_common.config import Settings
from vitawin_common.consumer import ConsumerLoop
from vitawin_common.outbox import OutboxRelay

from vitawin_notify import delivery, handlers, messages
from vitawin_notify.adapters import SmtpMailer, load_towns
from vitawin_notify.store import MongoDeliveries, NotifyUnitOfWork

SERVICE = "notify"
GROUP_ID = "notify"
RETRY_GROUP_ID = "notify-retry"
CHANNELS = ("proposals", "requests", "volunteers", "contacts", "actors", "requesters")
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


def unit_of_work(config: Settings) -> NotifyUnitOfWork:
    from vitawin_notify.preferences import MongoPreferences
    return NotifyUnitOfWork.from_settings(config, preferences_factory=MongoPreferences)


def deliveries(config: Settings) -> MongoDeliveries:
    return MongoDeliveries(mongo.database(config))


def prepare_database(config: Settings) -> None:
    unit_of_work(config).ensure_indexes()
    prepare_link_stores(config)


def notify_settings(env=os.environ) -> handlers.Settings:
    """NOTIFY_REMINDER_HOURS (72), NOTIFY_CONFIRMATION_DAYS (7), NOTIFY_DIGEST_HOUR (8, Paris
    time), NOTIFY_DIGEST_WEEKDAY (0 = Monday), APP_URL (the gateway's public address)."""
    return handlers.Settings(
        territory=messages.Territory.from_reference(territory.load()),
        links=link_signer(env),
        app_url=env.get("APP_URL", "http://127.0.0.1:8080"),
        reminder_after=timedelta(hours=float(env.get("NOTIFY_REMINDER_HOURS", "72"))),
        confirmation_days=int(env.get("NOTIFY_CONFIRMATION_DAYS", "7")),
        digest_hour=int(env.get("NOTIFY_DIGEST_HOUR", "8")),
        digest_weekday=int(env.get("NOTIFY_DIGEST_WEEKDAY", "0")),
    )


def clock_from_env(env=os.environ):
    """The real time, or - for tests of the schedule on a live stack only - the time read from
    the file NOTIFY_CLOCK_FILE (an ISO date-time) each time it is asked."""
    path = env.get("NOTIFY_CLOCK_FILE", "")
    if not path:
        return delivery.utcnow

    def now() -> datetime:
        try:
            with open(path, encoding="utf-8") as f:
                return datetime.fromisoformat(f.read().strip().replace("Z", "+00:00")).astimezone(timezone.utc)
        except (OSError, ValueError):
            return delivery.utcnow()
    return now


def notify(config: Settings, env=os.environ) -> handlers.Notify:
    clock = clock_from_env(env)
    deliverer = delivery.Deliverer(lambda: unit_of_work(config), mailer_from_env(env),
                                   delivery.RetryPolicy.from_env(env), clock=clock)
    return handlers.Notify(lambda: unit_of_work(config), deliverer, notify_settings(env), clock=clock)


def consumer_loop(config: Settings, producer, notify_: handlers.Notify) -> ConsumerLoop:
    event_contracts = contracts.load(config.contracts_dir)
    return ConsumerLoop(
        service=SERVICE,
        consumer=kafka.consumer(config, GROUP_ID, [event_contracts.topic(c) for c in CHANNELS]),
        producer=producer,
        contracts=event_contracts,
        handlers=notify_.handlers(),
        dead_letter_channel=DEAD_LETTER_CHANNEL,
        group_id=GROUP_ID,
        dead_letter_limit=config.dead_letter_limit,
    )


class Stopping(Exception):
    """The worker stops while a retry waits: the message is read again after the restart."""


def retry_consumer(config: Settings, producer, deliverer: delivery.Deliverer):
    """A background task: the retry channel's consumer, in its own group. Each message waits until
    it is due (never longer than the consumer's poll interval allows: waits are capped by
    NOTIFY_RETRY_MAX_S, 120 s by default, well under kafka-python's 300 s)."""
    def run(stop: threading.Event) -> None:
        def wait_until(moment: datetime) -> None:
            remaining = (moment - deliverer.clock()).total_seconds()
            if remaining > 0 and stop.wait(remaining):
                raise Stopping()

        event_contracts = contracts.load(config.contracts_dir)
        loop = ConsumerLoop(
            service=SERVICE,
            consumer=kafka.consumer(config, RETRY_GROUP_ID, [event_contracts.topic(delivery.RETRY_CHANNEL)]),
            producer=producer, contracts=event_contracts,
            handlers={delivery.NOTIFICATION_RETRY: lambda event: delivery.on_retry(event, deliverer, wait_until)},
            dead_letter_channel=DEAD_LETTER_CHANNEL, group_id=RETRY_GROUP_ID,
            dead_letter_limit=config.dead_letter_limit)
        loop.run(stop)
    run.__name__ = "retry_consumer"
    return run


def outbox_relay(config: Settings, producer) -> OutboxRelay:
    return OutboxRelay(mongo.database(config), producer, SERVICE)


def clock(notify_: handlers.Notify, env=os.environ):
    return worker.periodic(notify_.tick, float(env.get("NOTIFY_TICK_S", "60")), "notify clock")


def ready(config: Settings):
    return lambda: mongo.ping(config)


# --- Links, preferences and the operator's view (vitawin_notify.links, .preferences, .api) ---------
def link_signer(env=os.environ):
    """Signs the links of the emails: NOTIFY_LINK_PRIVATE_KEY(_FILE), APP_URL (the gateway)."""
    from vitawin_notify import links
    return links.signer_from_env(env)


def link_verifier(env=os.environ):
    """Checks the links' tokens (the API's pages): NOTIFY_LINK_PUBLIC_KEY(_FILE), or the public half
    of NOTIFY_LINK_PRIVATE_KEY(_FILE); None when no key is set."""
    from vitawin_notify import links
    return links.verifier_from_env(env)


def matching_answers(env=os.environ):
    """Forwards answer links to matching (MATCHING_URL)."""
    from vitawin_notify import links
    return links.matching_from_env(env)


def preferences_store(config: Settings):
    from vitawin_notify.preferences import MongoPreferences
    return MongoPreferences(mongo.database(config))


def contact_book(config: Settings):
    """The contact book (actor id -> address), read by the signed-in preferences."""
    from vitawin_notify.store import MongoContacts
    return MongoContacts(mongo.database(config))


def used_links(config: Settings):
    from vitawin_notify.preferences import MongoUsedLinks
    return MongoUsedLinks(mongo.database(config))


def recipient_deliveries(config: Settings):
    from vitawin_notify.preferences import MongoRecipientDeliveries
    return MongoRecipientDeliveries(mongo.database(config))


def prepare_link_stores(config: Settings) -> None:
    """The indexes of used_links (TTL) and of deliveries by recipient; the worker calls it at start."""
    from vitawin_notify import preferences
    preferences.prepare(mongo.database(config))
