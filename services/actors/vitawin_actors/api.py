"""HTTP API of the actors service: professionals pledge to act for pupils of the territory."""
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

from vitawin_actors import bootstrap, handlers
from vitawin_actors.domain import (ACTION_TYPES, DEFAULT_MAX_DISTANCE_KM, MAX_DISTANCE_KM, RegisterVolunteer,
                                   check_location)

DESCRIPTION = (
    "Engagements des professionnels du territoire Paris Est Marne et Bois : témoignage métier, "
    "intervention en classe, stage, alternance, mentorat, forum des métiers."
)
ACTION_CHOICES = ", ".join(f"{code} ({label})" for code, label in ACTION_TYPES.items())
ACTION_TYPE = validate.OneOf(ACTION_TYPES, error=f"Type d'action inconnu ; valeurs possibles : {ACTION_CHOICES}.")
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


def _unique(values: list) -> None:
    if len(set(values)) != len(values):
        raise ValidationError("Chaque type d'action ne doit figurer qu'une fois.")


class VolunteerLocationSchema(Schema):
    lat = fields.Float(required=True, validate=validate.Range(-90, 90), error_messages=NUMBER,
                       metadata={"description": "Latitude (WGS 84)", "example": 48.8475})
    lon = fields.Float(required=True, validate=validate.Range(-180, 180), error_messages=NUMBER,
                       metadata={"description": "Longitude (WGS 84)", "example": 2.4392})

    @post_load
    def to_location(self, data, **kwargs) -> Location:
        return Location(**data)


class VolunteerSchema(Schema):
    volunteer_id = fields.String(dump_only=True, metadata={"example": "vol-0b7c1d2e"})
    organisation_name = fields.String(required=True, validate=validate.Length(1, 200),
                                      metadata={"description": "Nom de l'entreprise ou de l'organisme"})
    contact_email = fields.Email(required=True, validate=validate.Length(max=254),
                                 metadata={"description": "Adresse e-mail de contact"})
    town = fields.String(required=True, validate=_known_town,
                         metadata={"description": "Code INSEE d'une commune du territoire", "example": "94080"})
    location = fields.Nested(VolunteerLocationSchema, required=True, metadata={
        "description": "Lieu d'accueil, à 5 km au plus du centre de la commune indiquée"})
    action_types = fields.List(
        fields.String(validate=ACTION_TYPE), required=True,
        validate=[validate.Length(min=1, error="Indiquez au moins un type d'action."), _unique],
        metadata={"description": f"Actions proposées : {ACTION_CHOICES}"})
    max_distance_km = fields.Float(
        load_default=DEFAULT_MAX_DISTANCE_KM, error_messages=NUMBER,
        validate=validate.Range(0, MAX_DISTANCE_KM, min_inclusive=False,
                                error=f"Doit être supérieur à 0 et au plus {MAX_DISTANCE_KM:g} km."),
        metadata={"description": "Distance maximale de déplacement, en km"})
    created_at = fields.DateTime(dump_only=True)

    @validates_schema(skip_on_field_errors=False)
    def location_in_town(self, data, **kwargs) -> None:
        if "town" in data and isinstance(data.get("location"), Location):  # both valid so far
            try:
                check_location(_deps().territory.towns[data["town"]], data["location"])
            except InvalidPlace as exc:
                raise ValidationError(str(exc), field_name=exc.field) from exc

    @post_load
    def to_command(self, data, **kwargs) -> RegisterVolunteer:
        return RegisterVolunteer(**data)


class VolunteerQuerySchema(Schema):
    town = fields.String(validate=_known_town, metadata={"description": "Code INSEE de la commune"})
    action_type = fields.String(validate=ACTION_TYPE)
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))


blp = Blueprint("volunteers", __name__, url_prefix="/api/v1/volunteers",
                description="Engagements des professionnels volontaires")


@blp.route("")
class Volunteers(MethodView):
    @blp.arguments(VolunteerQuerySchema, location="query")
    @blp.response(200, VolunteerSchema(many=True))
    def get(self, query):
        """Lister les engagements (les plus récents d'abord)"""
        return _deps().uow_factory().volunteers.list(**query)

    @blp.arguments(VolunteerSchema)
    @blp.response(201, VolunteerSchema)
    def post(self, command: RegisterVolunteer):
        """Enregistrer l'engagement d'un professionnel"""
        volunteer = handlers.register_volunteer(command, _deps().uow_factory())
        return volunteer, {"Location": url_for(".VolunteerById", volunteer_id=volunteer.volunteer_id)}


@blp.route("/<volunteer_id>")
class VolunteerById(MethodView):
    @blp.response(200, VolunteerSchema)
    @blp.alt_response(404, description="Engagement introuvable")
    def get(self, volunteer_id: str):
        """Lire un engagement"""
        volunteer = _deps().uow_factory().volunteers.get(volunteer_id)
        if volunteer is None:
            abort(404, message="Engagement introuvable.")
        return volunteer


def create_app(settings: Settings | None = None, uow_factory: Callable | None = None,
               territory: Territory | None = None) -> Flask:
    settings = settings or bootstrap.settings()
    app = Flask(__name__)
    app.config.update(web.openapi_settings("Vitawin actors", DESCRIPTION))
    app.extensions[bootstrap.SERVICE] = Dependencies(
        uow_factory or bootstrap.unit_of_work_factory(settings), territory or bootstrap.territory())
    Api(app).register_blueprint(blp)
    return web.init_app(app, bootstrap.SERVICE, ready=bootstrap.ready(settings))
