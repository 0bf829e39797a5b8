"""Wires the real dependencies of the actors service in one place. Clients are made lazily, in
the process that uses them (gunicorn forks)."""
from __future__ import annotations

import os
from functools import partial
from typing import Callable, Mapping

from vitawin_common import mongo, territory as territory_data
from vitawin_common.config import Settings
from vitawin_common.territory import Territory

from vitawin_actors.adapters import MongoUnitOfWork, load_rome_reference
from vitawin_actors.domain import MapSettings, RomeReference
from vitawin_actors.map_follower import DEFAULT_MARGIN_S, DEFAULT_REBUILD_S, MapIndexFollower

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


def map_settings(env: Mapping[str, str] = os.environ) -> MapSettings:
    """When the map clusters: ACTORS_MAP_MAX_POINTS (1,500: more actors in the box are clustered),
    ACTORS_MAP_CLUSTER_BELOW_ZOOM (12: below this zoom the map is always clustered),
    ACTORS_MAP_CELL_PX (80: the clusters' cells, in screen pixels)."""
    defaults = MapSettings()
    return MapSettings(max_points=int(env.get("ACTORS_MAP_MAX_POINTS", defaults.max_points)),
                       cluster_below_zoom=int(env.get("ACTORS_MAP_CLUSTER_BELOW_ZOOM", defaults.cluster_below_zoom)),
                       cell_px=int(env.get("ACTORS_MAP_CELL_PX", defaults.cell_px)))


def map_follower(uow_factory: Callable, env: Mapping[str, str] = os.environ) -> MapIndexFollower:
    """The process's in-memory map index, read from the actors collection (vitawin_actors.map_follower):
    ACTORS_MAP_SYNC_MARGIN_S (15: the overlap of its catch-ups, for clocks apart and late
    commits), ACTORS_MAP_REBUILD_S (3600: the full rescan's period; 0: never)."""
    return MapIndexFollower(lambda: uow_factory().actors,
                            margin_s=float(env.get("ACTORS_MAP_SYNC_MARGIN_S", DEFAULT_MARGIN_S)),
                            rebuild_s=float(env.get("ACTORS_MAP_REBUILD_S", DEFAULT_REBUILD_S)))
