"""HTTP API of the actors service: professionals pledge to act for pupils of the territory
(/api/v1/volunteers), and the directory of actors, the "Vitawiners" (/api/v1/actors).

`create_app` is the entry point (gunicorn: `vitawin_actors.api:create_app()`). The modules:
`fields` (what the schemas share, and the request's `Dependencies`), `actions` (each action's
settings in a pledge), `pledges` (/api/v1/volunteers), `directory` (/api/v1/actors and its map),
`stats` (/api/v1/actors/stats, the territory's dashboard)."""
from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Callable

from flask import Flask
from flask_smorest import Api

from vitawin_common import web
from vitawin_common.config import Settings
from vitawin_common.territory import Territory

from vitawin_actors import bootstrap
from vitawin_actors.api.directory import _document_by_kind, actors_blp
from vitawin_actors.api.fields import Dependencies
from vitawin_actors.api.pledges import blp
from vitawin_actors.api.stats import stats_blp
from vitawin_actors.domain import MapSettings, RomeReference
from vitawin_actors.map_follower import MapIndexFollower

__all__ = ["DESCRIPTION", "Dependencies", "create_app"]

DESCRIPTION = (
    "Engagements des professionnels du territoire Paris Est Marne et Bois : témoignage métier, "
    "intervention en classe, stage, alternance, mentorat, forum des métiers. Annuaire des acteurs "
    "(« Vitawiners ») : organisations, établissements scolaires, élèves, gestionnaires de territoire. "
    "Modifier, mettre en pause, reprendre ou retirer un engagement demande une connexion (en-tête "
    "« Authorization: Bearer <jeton> ») : celle du professionnel de l'organisation de l'engagement, ou "
    "d'un gestionnaire de territoire."
)


def create_app(settings: Settings | None = None, uow_factory: Callable | None = None,
               territory: Territory | None = None, rome: RomeReference | None = None,
               today: Callable[[], date] | None = None, map_follower: MapIndexFollower | None = None,
               map_settings: MapSettings | None = None) -> Flask:
    """The app; given nothing, wired to the real dependencies. The map's in-memory index
    (`map_follower`) starts loading in the background when the app is wired to MongoDB (no
    `uow_factory` given); with a given unit of work, its first map query loads it."""
    settings = settings or bootstrap.settings()
    app = Flask(__name__)
    app.config.update(web.openapi_settings("Vitawin actors", DESCRIPTION))
    real_store = uow_factory is None
    uow_factory = uow_factory or bootstrap.unit_of_work_factory(settings)
    if map_follower is None:
        map_follower = bootstrap.map_follower(uow_factory)
        if real_store:
            map_follower.start()  # gunicorn calls create_app in each worker, after the fork
    dependencies = Dependencies(uow_factory, territory or bootstrap.territory(), rome or bootstrap.rome(),
                                map_follower=map_follower, map_settings=map_settings or bootstrap.map_settings())
    app.extensions[bootstrap.SERVICE] = dependencies if today is None else replace(dependencies, today=today)
    api = Api(app)
    api.register_blueprint(blp)
    api.register_blueprint(actors_blp)
    api.register_blueprint(stats_blp)  # /api/v1/actors/stats (territory managers' dashboard)
    _document_by_kind(api)
    return web.init_app(app, bootstrap.SERVICE, ready=bootstrap.ready(settings))
