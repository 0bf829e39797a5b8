"""What the actors API's schemas share: French messages and validators, the fields checked by the
domain (normalised identifiers, bounding box, ROME code, future date), the location schema, and
the dependencies of a request (`Dependencies`, read with `_deps()`)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Callable

from flask import current_app
from marshmallow import Schema, ValidationError, fields, post_load, validate

from vitawin_common.territory import InvalidBoundingBox, InvalidPlace, Location, Territory

from vitawin_actors import bootstrap
from vitawin_actors.domain import (ACTION_TYPES, INSEE_CODE, LEVELS, MAX_COUNT, BoundingBox, InvalidValue, MapSettings,
                                   RomeJob, RomeReference, check_job_fair_dates)

ACTION_CHOICES = ", ".join(f"{code} ({label})" for code, label in ACTION_TYPES.items())
ACTION_TYPE = validate.OneOf(ACTION_TYPES, error=f"Type d'action inconnu ; valeurs possibles : {ACTION_CHOICES}.")
NUMBER = {"invalid": "Nombre attendu.", "special": "Nombre fini attendu."}


def _choices(labels: dict) -> str:
    return ", ".join(f"{code} ({label})" for code, label in labels.items())


LEVEL = validate.OneOf(LEVELS, error=f"Niveau inconnu ; valeurs possibles : {', '.join(LEVELS)}.")
INSEE = validate.Regexp(INSEE_CODE, error="Code INSEE de commune invalide : 5 caractères attendus (ex. 94080).")


def _distinct(message: str):
    def check(values: list) -> None:
        if len(set(values)) != len(values):
            raise ValidationError(message)
    return check


def _place_error(exc: InvalidPlace) -> ValidationError:
    return ValidationError(str(exc), field_name=exc.field)


class Normalised(fields.String):
    """A string checked and put in its usual form by a domain function (SIRET, NAF, UAI, ISO week)
    that raises InvalidValue with a French message."""

    def __init__(self, normalise: Callable[[str], str], **kwargs):
        super().__init__(**kwargs)
        self.normalise = normalise

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return self.normalise(text)
        except InvalidValue as exc:
            raise ValidationError(str(exc)) from exc


class StrictBoolean(fields.Boolean):
    """A JSON boolean, true or false, and nothing else (marshmallow's Boolean would also take
    "oui", "1", 1...)."""
    default_error_messages = {"invalid": "Booléen attendu : true ou false."}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class BoundingBoxField(fields.String):
    """A bounding box, "min_lon,min_lat,max_lon,max_lat" (loads as a domain.BoundingBox)."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return BoundingBox.parse(super()._deserialize(value, attr, data, **kwargs))
        except InvalidBoundingBox as exc:
            raise ValidationError(str(exc)) from exc


BBOX_DESCRIPTION = "Emprise min_lon,min_lat,max_lon,max_lat (degrés décimaux WGS 84)"
BBOX_EXAMPLE = "2.40,48.79,2.56,48.86"


def _page_number() -> fields.Integer:
    return fields.Integer(load_default=1, validate=validate.Range(min=1),
                          metadata={"description": "Page, à partir de 1"})


def _page_size(what: str) -> fields.Integer:
    return fields.Integer(load_default=50, validate=validate.Range(1, 200), metadata={
        "description": f"{what} par page (200 au plus)"})


@dataclass(frozen=True)
class Dependencies:
    uow_factory: Callable
    territory: Territory
    rome: RomeReference
    today: Callable[[], date] = lambda: datetime.now(timezone.utc).date()
    map_follower: Any = None  # vitawin_actors.map_follower.MapIndexFollower: the map's in-memory index
    map_settings: MapSettings = MapSettings()


def _deps() -> Dependencies:
    return current_app.extensions[bootstrap.SERVICE]


def _known_town(code: str) -> None:
    try:
        _deps().territory.town(code)
    except InvalidPlace as exc:
        raise ValidationError(str(exc)) from exc


class VolunteerLocationSchema(Schema):
    lat = fields.Float(required=True, validate=validate.Range(-90, 90), error_messages=NUMBER,
                       metadata={"description": "Latitude (WGS 84)", "example": 48.8475})
    lon = fields.Float(required=True, validate=validate.Range(-180, 180), error_messages=NUMBER,
                       metadata={"description": "Longitude (WGS 84)", "example": 2.4392})

    @post_load
    def to_location(self, data, **kwargs) -> Location:
        return Location(**data)


def _choice(labels: dict, unknown: str) -> validate.OneOf:
    """One of `labels`' keys; `unknown` starts the French message ("Public inconnu")."""
    return validate.OneOf(labels, error=f"{unknown} ; valeurs possibles : {_choices(labels)}.")


def _count(description: str, maximum: int = MAX_COUNT, **kwargs) -> fields.Integer:
    """A whole number from 1 to `maximum` (a boolean, a string or 2.5 is refused)."""
    return fields.Integer(strict=True, validate=validate.Range(
        1, maximum, error=f"Nombre entier entre 1 et {maximum} attendu."),
        error_messages={"invalid": "Nombre entier attendu."}, metadata={"description": description}, **kwargs)


def _list_of(field: fields.Field, maximum: int, plural: str, singular: str, **kwargs) -> fields.List:
    """A list of at most `maximum` distinct items."""
    return fields.List(field, validate=[
        validate.Length(max=maximum, error=f"Au plus {maximum} {plural}."),
        _distinct(f"Chaque {singular} ne doit figurer qu'une fois.")], **kwargs)


class RomeCode(fields.String):
    """A ROME code, checked against the reference: loads as a RomeJob (code and French label),
    dumps as its code."""

    def _deserialize(self, value, attr, data, **kwargs) -> RomeJob:
        try:
            return _deps().rome.job(super()._deserialize(value, attr, data, **kwargs))
        except InvalidValue as exc:
            raise ValidationError(str(exc)) from exc

    def _serialize(self, value, attr, obj, **kwargs):
        return value.code if isinstance(value, RomeJob) else value


class FutureDate(fields.Date):
    """An ISO date (AAAA-MM-JJ) after today; dumps a stored ISO string as it is."""
    default_error_messages = {"invalid": "Date invalide : format attendu AAAA-MM-JJ (ex. 2027-03-18)."}

    def _deserialize(self, value, attr, data, **kwargs) -> date:
        day = super()._deserialize(value, attr, data, **kwargs)
        past = check_job_fair_dates([day], _deps().today())
        if past:
            raise ValidationError(past[0])
        return day

    def _serialize(self, value, attr, obj, **kwargs):
        return value if isinstance(value, str) else super()._serialize(value, attr, obj, **kwargs)
