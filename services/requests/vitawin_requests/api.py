"""The Flask app of the requests service (`create_app`): the blueprints of /api/v1/requests
(`routes`), /api/v1/initiatives (`initiatives.api`) and /api/v1/requests/stats (`stats_api`, the
territory's dashboard), their dependencies, the OpenAPI document
(with the input schema of each kind of request) and the common web setup
(`vitawin_common.web.init_app`)."""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Callable

from flask import Flask
from flask_smorest import Api

from vitawin_common import identity, web
from vitawin_common.config import Settings
from vitawin_common.identity import TokenVerifier
from vitawin_common.territory import Territory

from vitawin_requests import bootstrap
from vitawin_requests.calendar import SchoolCalendar
from vitawin_requests.domain import PARIS
from vitawin_requests.fieldtypes import Dependencies
from vitawin_requests.initiatives import api as initiatives_api
from vitawin_requests.inputs import INPUT_SCHEMAS
from vitawin_requests.kinds import RomeReference
from vitawin_requests.routes import blp
from vitawin_requests.schemas import CancelSchema
from vitawin_requests.stats_api import stats_blp

DESCRIPTION = (
    "Demandes des établissements scolaires et des élèves du territoire Paris Est Marne et Bois : "
    "témoignage métier en classe, intervention ou sensibilisation sur un thème, forum des métiers, "
    "offres de stage pour les élèves d'un établissement (déposées par le référent de "
    "l'établissement) ; information sur un métier, stage de découverte ou d'observation, recherche "
    "d'alternance (déposées par un élève). Une demande d'élève n'est visible que de l'élève, des "
    "référents de son établissement et des gestionnaires de territoire ; elle ne porte ni nom, ni "
    "adresse e-mail, et sa position est celle de l'établissement ou du centre de la commune, jamais "
    "celle du domicile. Modération : les gestionnaires de territoire et les référents d'un établissement "
    "masquent une demande (avec une raison) et l'affichent de nouveau ; toute personne qui peut lire une "
    "demande peut la signaler. Appels authentifiés : en-tête « Authorization: Bearer <jeton> »."
)


def _document_inputs(api: Api) -> None:
    """The input schemas in the OpenAPI components: one per kind, their oneOf with a discriminator
    on `kind` (RequestInput), the PATCH body (RequestPatch) and the cancellation body (Cancel)."""
    components = api.spec.components
    mapping, refs = {}, []
    for kind, schema in INPUT_SCHEMAS.items():
        name = schema.__name__.removesuffix("Schema") + "Input"
        components.schema(name, schema=schema)
        mapping[kind] = f"#/components/schemas/{name}"
        refs.append({"$ref": mapping[kind]})
    components.schema("RequestInput", {"oneOf": refs, "discriminator": {"propertyName": "kind", "mapping": mapping},
                                       "description": "Une demande, selon son type (kind)."})
    components.schema("RequestPatch", {"type": "object", "minProperties": 1, "description": (
        "Des champs du type de la demande (voir RequestInput), sans `kind` ; null retire un champ facultatif. "
        "La demande modifiée est vérifiée en entier, comme au dépôt.")})
    components.schema("Cancel", schema=CancelSchema)


def create_app(settings: Settings | None = None, uow_factory: Callable | None = None,
               territory: Territory | None = None, *, rome: RomeReference | None = None,
               verifier: TokenVerifier | None = None, today: date | Callable[[], date] | None = None,
               now: Callable[[], datetime] | None = None, zone: str | None = None) -> Flask:
    """The requests API. Tests give their fakes: `uow_factory`, `territory`, `rome`, a token
    `verifier`, the clock (`today`: a date or a callable; `now`: a callable returning an aware
    datetime) and the school-holiday `zone` (the territory file's otherwise)."""
    settings = settings or bootstrap.settings()
    app = Flask(__name__)
    app.config.update(web.openapi_settings("Vitawin requests", DESCRIPTION))
    clock = now or (lambda: datetime.now(timezone.utc))
    if today is None:
        today_of: Callable[[], date] = lambda: clock().astimezone(PARIS).date()
    elif isinstance(today, date):
        today_of = lambda: today  # noqa: E731
    else:
        today_of = today
    calendar = SchoolCalendar(zone or bootstrap.school_holiday_zone(), today_of)
    app.extensions[bootstrap.SERVICE] = Dependencies(
        uow_factory=uow_factory or bootstrap.unit_of_work_factory(settings),
        territory=territory or bootstrap.territory(), rome=rome or bootstrap.rome(settings), calendar=calendar,
        today=today_of, now=clock)
    if verifier is not None:
        identity.init_app(app, verifier)
    deps = app.extensions[bootstrap.SERVICE]
    app.extensions[initiatives_api.EXTENSION] = initiatives_api.InitiativeDependencies(
        deps.uow_factory, deps.territory, today_of)
    api = Api(app)
    api.register_blueprint(blp)
    api.register_blueprint(initiatives_api.blueprint)
    api.register_blueprint(stats_blp)  # /api/v1/requests/stats (territory managers' dashboard)
    _document_inputs(api)
    return web.init_app(app, bootstrap.SERVICE, ready=bootstrap.ready(settings))
