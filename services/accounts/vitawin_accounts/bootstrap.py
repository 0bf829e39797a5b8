"""Wires the real dependencies of accounts in one place. Nothing here runs at import time: Kafka
and MongoDB clients are made in the process that uses them.

Environment: MONGODB_URI, MONGODB_DATABASE (vitawin_accounts), KAFKA_BOOTSTRAP_SERVERS, CONTRACTS_DIR
(vitawin_common.config.Settings); AUTH_PRIVATE_KEY_FILE or AUTH_PRIVATE_KEY (the key that signs
access tokens), AUTH_PUBLIC_KEY(_FILE) (optional: the public half of the private key otherwise);
APP_URL, AUTH_LINK_MINUTES, AUTH_LINKS_PER_HOUR, AUTH_REFRESH_DAYS (domain.Policy); SMTP_HOST,
SMTP_PORT, SMTP_USERNAME, SMTP_PASSWORD, SMTP_STARTTLS, MAIL_FROM (else SMTP_FROM): the sign-in e-mails."""
from __future__ import annotations

import os

from cryptography.hazmat.primitives import serialization

from vitawin_common import contracts, identity, kafka, mongo
from vitawin_common.config import Settings
from vitawin_common.consumer import ConsumerLoop
from vitawin_common.mail import SmtpRelay

from vitawin_accounts.domain import Policy
from vitawin_accounts.handlers import Memberships
from vitawin_accounts.mail import sender_from_env
from vitawin_accounts.service import AccountsService
from vitawin_accounts.store import Stores

SERVICE = "accounts"
GROUP_ID = "accounts"
CHANNELS = ("contacts", "actors")
DEAD_LETTER_CHANNEL = "accountsDeadLetter"


def settings() -> Settings:
    return Settings.from_env(SERVICE)


def stores(config: Settings) -> Stores:
    return Stores.over(mongo.database(config))


def prepare_database(config: Settings) -> None:
    """The indexes (unique e-mail, TTLs of challenges and refresh tokens...): idempotent."""
    stores(config).ensure_indexes()


def issuer(env=os.environ) -> identity.TokenIssuer:
    return identity.issuer_from_env(env)


def verifier(token_issuer: identity.TokenIssuer, env=os.environ) -> identity.TokenVerifier:
    """AUTH_PUBLIC_KEY(_FILE) when set, else the public half of the issuer's key."""
    configured = identity.verifier_from_env(env)
    if configured is not None:
        return configured
    public = token_issuer.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return identity.TokenVerifier(public)


def service(config: Settings, token_issuer: identity.TokenIssuer, env=os.environ) -> AccountsService:
    return AccountsService(stores(config), token_issuer, SmtpRelay.from_env(env), Policy.from_env(env),
                           sender=sender_from_env(env))


def memberships(config: Settings) -> Memberships:
    return Memberships(stores(config))


def consumer_loop(config: Settings, producer, handlers: Memberships) -> ConsumerLoop:
    event_contracts = contracts.load(config.contracts_dir)
    return ConsumerLoop(
        service=SERVICE,
        consumer=kafka.consumer(config, GROUP_ID, [event_contracts.topic(c) for c in CHANNELS]),
        producer=producer,
        contracts=event_contracts,
        handlers=handlers.handlers(),
        dead_letter_channel=DEAD_LETTER_CHANNEL,
        group_id=GROUP_ID,
        dead_letter_limit=config.dead_letter_limit,
    )


def ready(config: Settings):
    return lambda: mongo.ping(config)
