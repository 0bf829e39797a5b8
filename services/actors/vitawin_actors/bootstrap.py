"""Wires the real dependencies of the actors service in one place. Clients are made lazily, in
the process that uses them (gunicorn forks)."""
from __future__ import annotations

from functools import partial
from typing import Callable

from vitawin_common import mongo, territory as territory_data
from vitawin_common.config import Settings
from vitawin_common.territory import Territory

from vitawin_actors.adapters import MongoUnitOfWork, load_rome_reference
from vitawin_actors.domain import RomeReference

SERVICE = "actors"


def settings() -> Settings:
    return Settings.from_env(SERVICE)


def territory() -> Territory:
    return territory_data.load()


def unit_of_work_factory(settings: Settings) -> Callable[[], MongoUnitOfWork]:
    """One unit of work per request."""
    return partial(MongoUnitOfWork.from_settings, settings)


def ensure_indexes(settings: Settings) -> None:
    MongoUnitOfWork.from_settings(settings).ensure_indexes()


def ready(settings: Settings) -> Callable[[], bool]:
    return lambda: mongo.ping(settings)


def rome() -> RomeReference:
    """The ROME reference of contracts/reference/rome.json (read once per process)."""
    return load_rome_reference(settings().contracts_dir / "reference" / "rome.json")
