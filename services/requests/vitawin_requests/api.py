"""HTTP API of the requests service: schools and pupils ask for an action near them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from flask import Flask, current_app, url_for
from flask.views import MethodView
from flask_smorest import Api, Blueprint, abort
from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from vitawin_common import web
from vitawin_common.config import Settings
from vitawin_common.territory import InvalidPlace, Location, Territory

from vitawin_requests import bootstrap, handlers
from vitawin_requests.domain import (ACTION_TYPES, DEFAULT_MAX_DISTANCE_KM, MAX_DISTANCE_KM, REQUESTER_KINDS,
                                     STATUSES, CreateRequest, check_location)

LOCATION_RULE = ("Position de l'établissement scolaire, ou du centre de la commune, à 5 km au plus "
                 "du centre de la commune indiquée. Pour un élève, jamais l'adresse de son domicile.")
DESCRIPTION = (
    "Demandes des établissements scolaires et des élèves du territoire Paris Est Marne et Bois "
    "(témoignage métier, intervention en classe, stage, alternance, mentorat, forum des métiers). "
    "Aucune adresse personnelle : pour un élève, la position donnée est celle de son établissement "
    "ou de sa commune, jamais celle de son domicile, et aucun nom n'est demandé."
)
ACTION_CHOICES = ", ".join(f"{code} ({label})" for code, label in ACTION_TYPES.items())
KIND_CHOICES = ", ".join(f"{code} ({label})" for code, label in REQUESTER_KINDS.items())
ACTION_TYPE = validate.OneOf(ACTION_TYPES, error=f"Type d'action inconnu ; valeurs possibles : {ACTION_CHOICES}.")
REQUESTER_KIND = validate.OneOf(REQUESTER_KINDS, error=f"Type de demandeur inconnu ; valeurs possibles : "
                                                       f"{KIND_CHOICES}.")
NUMBER = {"invalid": "Nombre attendu.", "special": "Nombre fini attendu."}


@dataclass(frozen=True)
class Dependencies:
    uow_factory: Callable
    territory: Territory


def _deps() -> Dependencies:
    return current_app.extensions[bootstrap.SERVICE]


def _known_town(code: str) -> None:
    try:
        _deps().territory.town(code)
    except InvalidPlace as exc:
        raise ValidationError(str(exc)) from exc


class RequestLocationSchema(Schema):
    lat = fields.Float(required=True, validate=validate.Range(-90, 90), error_messages=NUMBER,
                       metadata={"description": "Latitude (WGS 84)", "example": 48.8517})
    lon = fields.Float(required=True, validate=validate.Range(-180, 180), error_messages=NUMBER,
                       metadata={"description": "Longitude (WGS 84)", "example": 2.4769})

    @post_load
    def to_location(self, data, **kwargs) -> Location:
        return Location(**data)


class RequestSchema(Schema):
    request_id = fields.String(dump_only=True, metadata={"example": "req-5f3a9c10"})
    requester_kind = fields.String(required=True, validate=REQUESTER_KIND,
                                   metadata={"description": f"Demandeur : {KIND_CHOICES}"})
    contact_email = fields.Email(required=True, validate=validate.Length(max=254),
                                 metadata={"description": "Adresse e-mail de contact"})
    action_type = fields.String(required=True, validate=ACTION_TYPE,
                                metadata={"description": f"Action demandée : {ACTION_CHOICES}"})
    town = fields.String(required=True, validate=_known_town,
                         metadata={"description": "Code INSEE d'une commune du territoire", "example": "94033"})
    location = fields.Nested(RequestLocationSchema, required=True, metadata={"description": LOCATION_RULE})
    max_distance_km = fields.Float(
        load_default=DEFAULT_MAX_DISTANCE_KM, error_messages=NUMBER,
        validate=validate.Range(0, MAX_DISTANCE_KM, min_inclusive=False,
                                error=f"Doit être supérieur à 0 et au plus {MAX_DISTANCE_KM:g} km."),
        metadata={"description": "Distance maximale acceptée jusqu'au professionnel, en km"})
    status = fields.String(dump_only=True, metadata={"description": "État de la demande : open (ouverte)"})
    created_at = fields.DateTime(dump_only=True)

    @validates_schema(skip_on_field_errors=False)
    def location_in_town(self, data, **kwargs) -> None:
        if "town" in data and isinstance(data.get("location"), Location):  # both valid so far
            try:
                check_location(_deps().territory.towns[data["town"]], data["location"])
            except InvalidPlace as exc:
                raise ValidationError(str(exc), field_name=exc.field) from exc

    @post_load
    def to_command(self, data, **kwargs) -> CreateRequest:
        return CreateRequest(**data)


class RequestQuerySchema(Schema):
    town = fields.String(validate=_known_town, metadata={"description": "Code INSEE de la commune"})
    action_type = fields.String(validate=ACTION_TYPE)
    requester_kind = fields.String(validate=REQUESTER_KIND)
    status = fields.String(validate=validate.OneOf(STATUSES, error="État inconnu ; valeurs possibles : "
                                                                   + ", ".join(STATUSES) + "."))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))


blp = Blueprint("requests", __name__, url_prefix="/api/v1/requests",
                description="Demandes des établissements scolaires et des élèves")


@blp.route("")
class Requests(MethodView):
    @blp.arguments(RequestQuerySchema, location="query")
    @blp.response(200, RequestSchema(many=True))
    def get(self, query):
        """Lister les demandes (les plus récentes d'abord)"""
        return _deps().uow_factory().requests.list(**query)

    @blp.arguments(RequestSchema)
    @blp.response(201, RequestSchema)
    def post(self, command: CreateRequest):
        """Déposer une demande

        Pour un élève, la position est celle de son établissement ou de sa commune, jamais celle
        de son domicile.
        """
        request = handlers.create_request(command, _deps().uow_factory())
        return request, {"Location": url_for(".RequestById", request_id=request.request_id)}


@blp.route("/<request_id>")
class RequestById(MethodView):
    @blp.response(200, RequestSchema)
    @blp.alt_response(404, description="Demande introuvable")
    def get(self, request_id: str):
        """Lire une demande"""
        request = _deps().uow_factory().requests.get(request_id)
        if request is None:
            abort(404, message="Demande introuvable.")
        return request


def create_app(settings: Settings | None = None, uow_factory: Callable | None = None,
               territory: Territory | None = None) -> Flask:
    settings = settings or bootstrap.settings()
    app = Flask(__name__)
    app.config.update(web.openapi_settings("Vitawin requests", DESCRIPTION))
    app.extensions[bootstrap.SERVICE] = Dependencies(
        uow_factory or bootstrap.unit_of_work_factory(settings), territory or bootstrap.territory())
    Api(app).register_blueprint(blp)
    return web.init_app(app, bootstrap.SERVICE, ready=bootstrap.ready(settings))
