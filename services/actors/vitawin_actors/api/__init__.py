"""HTTP API of the actors service: professionals pledge to act for pupils of the territory
(/api/v1/volunteers), and the directory of actors, the "Vitawiners" (/api/v1/actors).

`create_app` is the entry point (gunicorn: `vitawin_actors.api:create_app()`). The modules:
`fields` (what the schemas share, and the request's `Dependencies`), `actions` (each action's
settings in a pledge), `pledges` (/api/v1/volunteers), `directory` (/api/v1/actors and its map)."""
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
from vitawin_actors.domain import RomeReference

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
               today: Callable[[], date] | None = None) -> Flask:
    settings = settings or bootstrap.settings()
    app = Flask(__name__)
    app.config.update(web.openapi_settings("Vitawin actors", DESCRIPTION))
    dependencies = Dependencies(uow_factory or bootstrap.unit_of_work_factory(settings),
                                territory or bootstrap.territory(), rome or bootstrap.rome())
    app.extensions[bootstrap.SERVICE] = dependencies if today is None else replace(dependencies, today=today)
    api = Api(app)
    api.register_blueprint(blp)
    api.register_blueprint(actors_blp)
    _document_by_kind(api)
    return web.init_app(app, bootstrap.SERVICE, ready=bootstrap.ready(settings))
