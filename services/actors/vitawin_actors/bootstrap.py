"""Wires the real dependencies of the actors service in one place. Clients are made lazily, in
the process that uses them (gunicorn forks)."""
from __future__ import annotations

import json
from typing import Callable

from vitawin_common import config, contracts, kafka, mongo
from vitawin_common.config import Settings
from vitawin_common.outbox import Outbox, OutboxRelay

from vitawin_actors.adapters import MongoUnitOfWork
from vitawin_actors.domain import Territory

SERVICE = "actors"


def settings() -> Settings:
    return Settings.from_env(SERVICE)


def territory() -> Territory:
    return Territory.from_dict(json.loads(config.territory_file().read_text(encoding="utf-8")))


def unit_of_work_factory(settings: Settings) -> Callable[[], MongoUnitOfWork]:
    """One unit of work per request."""
    def make() -> MongoUnitOfWork:
        db = mongo.database(settings)
        return MongoUnitOfWork(mongo.client(settings), db, Outbox(db, contracts.load(settings.contracts_dir)))
    return make


def ensure_indexes(settings: Settings) -> None:
    uow = unit_of_work_factory(settings)()
    uow.outbox.ensure_indexes()
    uow.volunteers.ensure_indexes()


def relay(settings: Settings) -> OutboxRelay:
    return OutboxRelay(mongo.database(settings), kafka.producer(settings), SERVICE)


def ready(settings: Settings) -> Callable[[], bool]:
    return lambda: mongo.ping(settings)
