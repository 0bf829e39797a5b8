"""Wires the real dependencies of the requests service in one place. Clients are made lazily, in
the process that uses them (gunicorn forks)."""
from __future__ import annotations

import json
from functools import partial
from typing import Callable

from vitawin_common import config, mongo, territory as territory_data
from vitawin_common.config import Settings
from vitawin_common.territory import Territory

from vitawin_requests.adapters import MongoUnitOfWork, load_rome_reference
from vitawin_requests.kinds import RomeReference

SERVICE = "requests"


def settings() -> Settings:
    return Settings.from_env(SERVICE)


def territory() -> Territory:
    return territory_data.load()


def school_holiday_zone() -> str:
    """The school-holiday zone ("A", "B" or "C") of the territory file's `school_holiday_zone`."""
    return json.loads(config.territory_file().read_text(encoding="utf-8"))["school_holiday_zone"]


def rome(settings: Settings) -> RomeReference:
    """The ROME reference of contracts/reference/rome.json (read once per process)."""
    return load_rome_reference(settings.contracts_dir / "reference" / "rome.json")


def unit_of_work_factory(settings: Settings) -> Callable[[], MongoUnitOfWork]:
    """One unit of work per request."""
    return partial(MongoUnitOfWork.from_settings, settings)


def ensure_indexes(settings: Settings) -> None:
    MongoUnitOfWork.from_settings(settings).ensure_indexes()


def ready(settings: Settings) -> Callable[[], bool]:
    return lambda: mongo.ping(settings)
