"""The bodies and query strings of /api/v1/initiatives (marshmallow schemas: French messages naming
the field, OpenAPI descriptions), and the dependencies their validators read from the app
(`app.extensions[EXTENSION]`: the territory, today's date; the views read the unit of work there
too)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Callable

from flask import current_app
from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from vitawin_common.territory import BoundingBox, InvalidBoundingBox, InvalidPlace, Location, Territory

from vitawin_requests.initiatives.domain import PublishInitiative
from vitawin_requests.initiatives.rules import (CLOSE_REASONS, DESCRIPTION_MAX, KINDS, MESSAGE_MAX, PARTNER_KINDS,
                                                STATUSES, TITLE_MAX, TITLE_MIN, check_partner_kinds, check_rules,
                                                choices, today_in_territory)
from vitawin_requests.moderation_api import ModeratedItemSchema, reported_field

EXTENSION = "vitawin_requests.initiatives"


@dataclass(frozen=True)
class InitiativeDependencies:
    uow_factory: Callable
    territory: Territory
    today: Callable[[], date] = today_in_territory


def dependencies() -> InitiativeDependencies:
    return current_app.extensions[EXTENSION]


def _one_of(labels: Mapping[str, str], unknown: str) -> validate.OneOf:
    return validate.OneOf(labels, error=f"{unknown} ; valeurs possibles : {choices(labels)}.")


KIND = _one_of(KINDS, "Type inconnu")
PARTNER_KIND = _one_of(PARTNER_KINDS, "Type de partenaire inconnu")
STATUS = _one_of(STATUSES, "Statut inconnu")
NUMBER = {"invalid": "Nombre attendu.", "special": "Nombre fini attendu."}
INTEGER = {"invalid": "Nombre entier attendu."}


# --- fields ---------------------------------------------------------------------------------------
class Text(fields.String):
    """A string without its surrounding spaces (a title of spaces is an empty title)."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()


class IsoDate(fields.Date):
    default_error_messages = {"invalid": "Date invalide : format attendu AAAA-MM-JJ (ex. 2027-03-18).",
                              "format": "Date invalide : format attendu AAAA-MM-JJ (ex. 2027-03-18)."}


class BoundingBoxField(fields.String):
    def _deserialize(self, value, attr, data, **kwargs) -> BoundingBox:
        try:
            return BoundingBox.parse(super()._deserialize(value, attr, data, **kwargs))
        except InvalidBoundingBox as exc:
            raise ValidationError(str(exc)) from exc


def _known_town(code: str) -> None:
    try:
        dependencies().territory.town(code)
    except InvalidPlace as exc:
        raise ValidationError(str(exc)) from exc


def _partner_kinds(values: list) -> None:
    reason = check_partner_kinds(values)
    if reason:
        raise ValidationError(reason)


def _title(**kwargs) -> Text:
    return Text(validate=validate.Length(TITLE_MIN, TITLE_MAX, error=(
        f"Le titre doit compter entre {TITLE_MIN} et {TITLE_MAX} caractères.")),
        metadata={"description": f"Titre ({TITLE_MIN} à {TITLE_MAX} caractères)",
                  "example": "Forum des métiers du bâtiment"}, **kwargs)


def _description(**kwargs) -> Text:
    return Text(validate=validate.Length(max=DESCRIPTION_MAX, error=(
        f"La description doit compter au plus {DESCRIPTION_MAX} caractères.")),
        metadata={"description": f"Description ({DESCRIPTION_MAX} caractères au plus)"}, **kwargs)


def _partner_kinds_field(**kwargs) -> fields.List:
    return fields.List(fields.String(validate=PARTNER_KIND), validate=_partner_kinds, metadata={
        "description": f"Types de partenaires recherchés (au moins un) : {choices(PARTNER_KINDS)}",
        "example": ["company", "craftsman"]}, **kwargs)


def _date(description: str, **kwargs) -> IsoDate:
    return IsoDate(metadata={"description": description, "example": "2027-03-18"}, **kwargs)


def _town(**kwargs) -> fields.String:
    return fields.String(validate=_known_town, metadata={
        "description": "Code INSEE d'une commune du territoire", "example": "94033"}, **kwargs)


def _email(**kwargs) -> fields.Email:
    return fields.Email(validate=validate.Length(max=254, error="Adresse e-mail trop longue (254 caractères au plus)."),
                        error_messages={"invalid": "Adresse e-mail invalide."}, metadata={
        "description": "Adresse e-mail de contact de l'acteur qui publie : montrée seulement à lui et aux "
                       "participants, jamais publiée ailleurs"}, **kwargs)


class InitiativeLocationSchema(Schema):
    lat = fields.Float(required=True, validate=validate.Range(-90, 90, error="Latitude entre -90 et 90 attendue."),
                       error_messages=NUMBER, metadata={"description": "Latitude (WGS 84)", "example": 48.8517})
    lon = fields.Float(required=True, validate=validate.Range(-180, 180, error="Longitude entre -180 et 180 attendue."),
                       error_messages=NUMBER, metadata={"description": "Longitude (WGS 84)", "example": 2.4769})

    @post_load
    def to_location(self, data, **kwargs) -> Location:
        return Location(**data)


class InitiativePublisherSchema(Schema):
    actor_id = fields.String(metadata={"description": "Acteur (organisation, établissement) qui a publié"})
    role = fields.String(metadata={"description": "Rôle du compte qui a publié"})


class InitiativeParticipantSchema(Schema):
    actor_id = fields.String()
    role = fields.String(metadata={"description": "Rôle du compte qui a rejoint ou candidaté"})
    joined_at = fields.DateTime()
    message = fields.String(metadata={"description": "Message joint : visible seulement par l'acteur qui a publié "
                                                     "et par les participants"})


def _rule_errors(data: dict, original) -> dict:
    """The domain's rules across fields, except on a field that already failed on its own."""
    values = {name: data.get(name) for name in ("kind", "town", "location", "start_date", "end_date", "deadline")}
    if not isinstance(values["location"], Location):  # a location with a field error comes as a partial dict
        values["location"] = None
    errors = check_rules(values, dependencies().territory, dependencies().today())
    given = original if isinstance(original, Mapping) else {}
    return {name: reasons for name, reasons in errors.items() if not (name in given and name not in data)}


class InitiativeSchema(ModeratedItemSchema):
    """An initiative or a call for projects, as published (POST body) and as read (with its
    moderation: the hidden flag, and the reports for territory managers)."""
    initiative_id = fields.String(dump_only=True, metadata={"example": "ini-0b7c1d2e3f40516273849a0b1c2d3e4f"})
    kind = fields.String(required=True, validate=KIND, metadata={"description": f"Type : {choices(KINDS)}"})
    title = _title(required=True)
    description = _description(load_default="")
    partner_kinds_sought = _partner_kinds_field(required=True)
    start_date = _date("Date de début (facultative)")
    end_date = _date("Date de fin (facultative), le jour de début ou après")
    deadline = _date("Date limite de candidature d'un appel à projets (obligatoire pour un appel à projets, "
                     "absente pour une initiative) : dernier jour où l'on peut candidater, après aujourd'hui")
    town = _town(required=True)
    location = fields.Nested(InitiativeLocationSchema, metadata={
        "description": "Lieu, à 5 km au plus du centre de la commune ; par défaut, le centre de la commune"})
    contact_email = _email(required=True)
    publisher = fields.Nested(InitiativePublisherSchema, dump_only=True)
    status = fields.String(dump_only=True, metadata={"description": f"Statut : {choices(STATUSES)}"})
    participants = fields.List(fields.Nested(InitiativeParticipantSchema), dump_only=True, metadata={
        "description": "Acteurs qui ont rejoint l'initiative ou candidaté à l'appel à projets"})
    participant_count = fields.Integer(dump_only=True)
    participating = fields.Boolean(dump_only=True, metadata={
        "description": "Si l'acteur pour lequel agit le compte connecté participe (false sans connexion)"})
    version = fields.Integer(dump_only=True, metadata={
        "description": "Version : 1 à la publication, + 1 à chaque changement"})
    created_at = fields.DateTime(dump_only=True, metadata={"description": "Date de publication"})
    updated_at = fields.DateTime(dump_only=True)
    closed_at = fields.DateTime(dump_only=True)
    close_reason = fields.String(dump_only=True, metadata={"description": f"Motif de clôture : {choices(CLOSE_REASONS)}"})

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def rules_across_fields(self, data, original, **kwargs) -> None:
        errors = _rule_errors(data, original)
        if errors:
            raise ValidationError(errors)

    @post_load
    def to_command(self, data, **kwargs) -> PublishInitiative:
        return PublishInitiative(**data)


class InitiativeSummarySchema(InitiativeSchema):
    """An initiative in a list: public fields, the number of participants, no contact."""

    class Meta:
        exclude = ("participants", "contact_email")


KIND_IS_FIXED = ("Le type ne se modifie pas : pour passer d'une initiative à un appel à projets (ou "
                 "l'inverse), clôturez celle-ci et publiez-en une nouvelle.")


class InitiativePatchSchema(Schema):
    """The fields to change, at least one, each checked as at publication; `start_date` and
    `end_date` may be set to null. The rules across fields are checked on the initiative as it
    would be after the change."""
    title = _title()
    description = _description()
    partner_kinds_sought = _partner_kinds_field()
    start_date = _date("Date de début (null pour la retirer)", allow_none=True)
    end_date = _date("Date de fin (null pour la retirer)", allow_none=True)
    deadline = _date("Date limite de candidature (appel à projets seulement)")
    town = _town()
    location = fields.Nested(InitiativeLocationSchema, metadata={
        "description": "Lieu, à 5 km au plus du centre de la commune ; une nouvelle commune sans lieu place "
                       "l'initiative au centre de cette commune"})
    contact_email = _email()

    @validates_schema(pass_original=True)
    def something_to_change(self, data, original, **kwargs) -> None:
        if isinstance(original, Mapping) and not original:
            raise ValidationError("Indiquez au moins un champ à modifier.")

    def handle_error(self, error: ValidationError, data, **kwargs) -> None:
        if isinstance(error.messages, dict) and "kind" in error.messages:
            error.messages["kind"] = [KIND_IS_FIXED]


class InitiativeJoinSchema(Schema):
    message = Text(allow_none=True, validate=validate.Length(max=MESSAGE_MAX, error=(
        f"Le message doit compter au plus {MESSAGE_MAX} caractères.")), metadata={
        "description": f"Message pour l'acteur qui a publié ({MESSAGE_MAX} caractères au plus) : visible "
                       "seulement par lui et par les participants, jamais publié dans un événement"})


class InitiativeQuerySchema(Schema):
    kind = fields.String(validate=KIND, metadata={"description": f"Type : {choices(KINDS)}"})
    town = _town()
    partner_kind = fields.String(validate=PARTNER_KIND, metadata={
        "description": "Type de partenaire recherché"})
    status = fields.String(validate=STATUS, metadata={"description": f"Statut : {choices(STATUSES)} (par défaut, tous)"})
    reported = reported_field("true : seulement les initiatives signalées, avec leurs signalements (réservé aux "
                              "gestionnaires de territoire)")
    bbox = BoundingBoxField(metadata={"description": "Emprise min_lon,min_lat,max_lon,max_lat (degrés décimaux WGS 84)",
                                      "example": "2.40,48.79,2.56,48.86"})
    page = fields.Integer(load_default=1, error_messages=INTEGER, validate=validate.Range(
        min=1, error="La page doit être un nombre entier à partir de 1."), metadata={"description": "Page, à partir de 1"})
    page_size = fields.Integer(load_default=20, error_messages=INTEGER, validate=validate.Range(
        1, 100, error="Entre 1 et 100 initiatives par page."), metadata={"description": "Initiatives par page (100 au plus)"})


class InitiativePageSchema(Schema):
    items = fields.List(fields.Nested(InitiativeSummarySchema), metadata={"description": "Les plus récentes d'abord"})
    page = fields.Integer()
    page_size = fields.Integer()
    total = fields.Integer(metadata={"description": "Nombre d'initiatives correspondant aux filtres, toutes pages"})


class InitiativeMapQuerySchema(Schema):
    kind = fields.String(validate=KIND, metadata={"description": f"Type : {choices(KINDS)}"})
    town = _town()
    partner_kind = fields.String(validate=PARTNER_KIND, metadata={"description": "Type de partenaire recherché"})
    bbox = BoundingBoxField(metadata={"description": "Emprise min_lon,min_lat,max_lon,max_lat (degrés décimaux WGS 84)",
                                      "example": "2.40,48.79,2.56,48.86"})


class InitiativeMapPointSchema(Schema):
    type = fields.String(metadata={"example": "Point"})
    coordinates = fields.List(fields.Float(), metadata={"description": "[longitude, latitude]"})


class InitiativeMapPropertiesSchema(Schema):
    initiative_id = fields.String()
    kind = fields.String(metadata={"description": f"Type : {choices(KINDS)}"})
    title = fields.String()
    town = fields.String(metadata={"description": "Code INSEE de la commune"})
    deadline = fields.Date(allow_none=True, metadata={"description": "Date limite de candidature (appel à projets), "
                                                                     "sinon null"})


class InitiativeMapFeatureSchema(Schema):
    type = fields.String(metadata={"example": "Feature"})
    id = fields.String()
    geometry = fields.Nested(InitiativeMapPointSchema)
    properties = fields.Nested(InitiativeMapPropertiesSchema)


class InitiativeMapSchema(Schema):
    type = fields.String(metadata={"example": "FeatureCollection"})
    features = fields.List(fields.Nested(InitiativeMapFeatureSchema))

