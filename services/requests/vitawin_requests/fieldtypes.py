"""What the requests API's schemas share: the service's dependencies read from the Flask app
(`deps()`: territory, ROME reference, school calendar, clock), what an input is checked against
(`LoadContext`: the caller's school), and the field types and builders with French messages (ROME
code, school day, time of day, month, ISO week, bounding box, counts, texts)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Callable

from flask import current_app
from marshmallow import ValidationError, fields, validate

from vitawin_common.territory import InvalidBoundingBox, InvalidPlace, Territory

from vitawin_requests.access import BoundingBox
from vitawin_requests.bootstrap import SERVICE
from vitawin_requests.calendar import InvalidWeek, SchoolCalendar, parse_week
from vitawin_requests.kinds import (DEFAULT_MAX_DISTANCE_KM, KINDS, LEVELS, MAX_DISTANCE_KM, MAX_ROME_CODES,
                                    InvalidValue, RomeJob, RomeReference)


@dataclass(frozen=True)
class Dependencies:
    uow_factory: Callable
    territory: Territory
    rome: RomeReference
    calendar: SchoolCalendar
    today: Callable[[], date]
    now: Callable[[], datetime]


def deps() -> Dependencies:
    return current_app.extensions[SERVICE]


@dataclass(frozen=True)
class LoadContext:
    """What an input schema checks a request against: the school (a document of the schools read
    model), and, for an edit, how many proposals were already accepted."""
    school: dict
    accepted_count: int = 0


def choices(labels: dict) -> str:
    return ", ".join(f"{code} ({label})" for code, label in labels.items())


KIND_ERROR = f"Type de demande inconnu ; valeurs possibles : {', '.join(KINDS)}."
LEVEL = validate.OneOf(LEVELS, error=f"Niveau inconnu ; valeurs possibles : {', '.join(LEVELS)}.")
NUMBER = {"invalid": "Nombre attendu.", "special": "Nombre fini attendu."}


def known_town(code: str) -> None:
    try:
        deps().territory.town(code)
    except InvalidPlace as exc:
        raise ValidationError(str(exc)) from exc


def distinct(message: str):
    def check(values: list) -> None:
        if len(set(values)) != len(values):
            raise ValidationError(message)
    return check


def count_field(low: int, high: int, description: str, **kwargs) -> fields.Integer:
    """A whole number from `low` to `high` (a boolean, a string or 2.5 is refused)."""
    return fields.Integer(strict=True, validate=validate.Range(low, high, error=f"Nombre entier entre {low} et "
                                                                                f"{high} attendu."),
                          error_messages={"invalid": "Nombre entier attendu."},
                          metadata={"description": description}, **kwargs)


class Text(fields.String):
    """Text without its surrounding blanks."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        return super()._deserialize(value, attr, data, **kwargs).strip()


def text_field(maximum: int, description: str, **kwargs) -> Text:
    return Text(validate=validate.Length(1, maximum, error=f"Entre 1 et {maximum} caractères attendus."),
                metadata={"description": description}, **kwargs)


class RomeCode(fields.String):
    """A ROME code checked against the reference: loads as a RomeJob (code and French label)."""

    def _deserialize(self, value, attr, data, **kwargs) -> RomeJob:
        try:
            return deps().rome.job(super()._deserialize(value, attr, data, **kwargs))
        except InvalidValue as exc:
            raise ValidationError(str(exc)) from exc


class RomeCodeQuery(RomeCode):
    """A ROME code of a query: loads as the code."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        return super()._deserialize(value, attr, data, **kwargs).code


class SchoolDay(fields.Date):
    """A day in a school: in the future, a weekday, neither a public holiday nor a day of the
    zone's school holidays, in a school year whose calendar is published (calendar.check_day)."""
    default_error_messages = {"invalid": "Date invalide : format attendu AAAA-MM-JJ (ex. 2027-01-13)."}

    def __init__(self, subject: str = "La date", **kwargs):
        super().__init__(**kwargs)
        self.subject = subject

    def _deserialize(self, value, attr, data, **kwargs) -> date:
        day = super()._deserialize(value, attr, data, **kwargs)
        reason = deps().calendar.check_day(day, field=self.subject)
        if reason:
            raise ValidationError(reason)
        return day


class TimeOfDay(fields.String):
    PATTERN = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not self.PATTERN.match(text):
            raise ValidationError("Heure invalide : format attendu HH:MM (ex. 09:30).")
        return text


class Month(fields.String):
    """A month "YYYY-MM", this month or later."""
    PATTERN = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not self.PATTERN.match(text):
            raise ValidationError("Mois invalide : format attendu AAAA-MM (ex. 2027-09).")
        this_month = deps().today().strftime("%Y-%m")
        if text < this_month:
            raise ValidationError(f"Le mois de début doit être à venir : {this_month} ou après.")
        return text


class IsoWeek(fields.String):
    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            parse_week(text)
        except InvalidWeek as exc:
            raise ValidationError(str(exc)) from exc
        return text


class BoundingBoxField(fields.String):
    def _deserialize(self, value, attr, data, **kwargs) -> BoundingBox:
        try:
            return BoundingBox.parse(super()._deserialize(value, attr, data, **kwargs))
        except InvalidBoundingBox as exc:
            raise ValidationError(str(exc)) from exc


def kind_field(kind: str) -> fields.String:
    return fields.String(required=True, validate=validate.OneOf([kind], error=KIND_ERROR),
                         metadata={"description": f"{kind} : {KINDS[kind].label}"})


def max_distance_field(requester_kind: str) -> fields.Float:
    highest = MAX_DISTANCE_KM[requester_kind]
    return fields.Float(load_default=DEFAULT_MAX_DISTANCE_KM, error_messages=NUMBER,
                        validate=validate.Range(1, highest, error=f"Distance entre 1 et {highest:g} km attendue."),
                        metadata={"description": f"Distance maximale jusqu'au professionnel, en km (de 1 à "
                                                 f"{highest:g} ; 10 par défaut)"})


def level_field(**kwargs) -> fields.String:
    return fields.String(required=True, validate=LEVEL, metadata={"description": f"Niveau : {choices(LEVELS)}"},
                         **kwargs)


def rome_codes_field(**kwargs) -> fields.List:
    return fields.List(RomeCode(), validate=[
        validate.Length(max=MAX_ROME_CODES, error=f"Au plus {MAX_ROME_CODES} codes ROME."),
        distinct("Chaque code ROME ne doit figurer qu'une fois.")], metadata={
        "description": "Métiers concernés : codes du référentiel ROME de France Travail", "example": ["D1102"]},
        **kwargs)


def period_field() -> fields.List:
    return fields.List(fields.String(), required=True, validate=validate.Length(
        min=1, error="Indiquez au moins une semaine."), metadata={
        "description": "Semaines ISO de la période de stage (« 2027-W03 ») : des semaines de stage prévues par "
                       "l'établissement pour ce niveau, hors vacances scolaires", "example": ["2027-W03"]})
