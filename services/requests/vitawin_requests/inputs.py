"""The input schemas of the requests API: one per kind of request, each with its own fields and
rules, French messages that name the field. An input schema needs the caller's school
(`LoadContext`): its place, the levels it teaches and its internship weeks per level; it loads as a
`RequestSpec`."""
from __future__ import annotations

import re
from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates, validates_schema

from vitawin_common.territory import Location

from vitawin_requests.domain import RequestSpec, wanted_error
from vitawin_requests.fieldtypes import (LEVEL, LoadContext, Month, SchoolDay, TimeOfDay, choices,
                                         count_field, deps, distinct, kind_field, known_town, level_field,
                                         max_distance_field, period_field, rome_codes_field, text_field)
from vitawin_requests.kinds import (AROUND, DIPLOMAS, KEYWORDS_LENGTH, KINDS, LEVELS, LYCEE_LEVELS, MAX_CLASS_SIZE,
                                    MAX_PUPILS, PROFESSIONALS_WANTED, TOPIC_LENGTH)

PUPIL_REFUSED_FIELDS = ("contact_email", "email", "name", "first_name", "last_name", "address", "location",
                        "phone")
PUPIL_REFUSED = ("Champ refusé : une demande d'élève ne porte ni nom, ni adresse e-mail, ni adresse, ni "
                 "position ; sa position est celle de l'établissement ou du centre de la commune.")
PERSONAL_IN_TEXT = re.compile(r"\S+@\S+|(?:\+33|\b0)\s*[1-9](?:[\s.-]*\d{2}){4}\b")


class RequestInputSchema(Schema):
    """What every kind of request has; each kind adds its fields. Unknown fields are refused."""
    kind_name: ClassVar[str] = ""

    def __init__(self, ctx: LoadContext | None = None, **kwargs):
        super().__init__(**kwargs)
        self.ctx = ctx

    @property
    def school(self) -> dict:
        return self.ctx.school

    @validates_schema(skip_on_field_errors=False)
    def levels_taught(self, data, **kwargs) -> None:
        taught = self.school.get("levels") or []
        given = data.get("levels") or ([data["level"]] if "level" in data else [])
        outside = [level for level in given if level not in taught]
        if taught and outside:
            field = "levels" if "levels" in data else "level"
            raise ValidationError(f"Niveau non enseigné dans l'établissement : {', '.join(outside)} (niveaux "
                                  f"enseignés : {', '.join(taught)}).", field)

    def place(self, data: dict) -> tuple[str, Location]:
        """The request's town and location: the school's."""
        location = self.school["location"]
        return self.school["town"], Location(float(location["lat"]), float(location["lon"]))

    @post_load
    def to_spec(self, data, **kwargs) -> RequestSpec:
        data = dict(data)
        data.pop("kind")
        levels = data.pop("levels", None) or [data.pop("level")]
        rome_jobs = data.pop("rome_codes", [])
        town, location = self.place(data)
        data.pop("town", None)
        return RequestSpec(kind=self.kind_name, school_uai=self.school["uai"], town=town, location=location,
                           levels=levels, rome_jobs=rome_jobs, **data)


def _period_errors(data: dict, school: dict) -> dict:
    """The calendar's reasons against the weeks of `period`, by index, the school's internship
    weeks for the level being the only ones allowed."""
    if "period" not in data:
        return {}
    allowed = None
    if "level" in data:
        allowed = (school.get("internship_periods") or {}).get(data["level"], [])
    reasons = deps().calendar.check_period(data["period"], allowed_weeks=allowed)
    return {"period": {index: [reason] for index, reason in reasons.items()}} if reasons else {}


# --- from a school (posted by its referent) ------------------------------------------------------------

class SchoolRequestSchema(RequestInputSchema):
    rome_codes = rome_codes_field(load_default=list)
    max_distance_km = max_distance_field("school")
    contact_email = fields.Email(required=True, validate=validate.Length(max=254), metadata={
        "description": "Adresse e-mail professionnelle du référent, pour les professionnels retenus (visible "
                       "seulement des référents de l'établissement et des gestionnaires de territoire)"})

    @validates_schema(skip_on_field_errors=False)
    def more_than_accepted(self, data, **kwargs) -> None:
        name = "pupils" if self.kind_name == "internship_hosting" else "professionals_wanted"
        if name in data:
            reason = wanted_error(self.kind_name, data[name], self.ctx.accepted_count)
            if reason:
                raise ValidationError(reason, name)


class DatedSchoolRequestSchema(SchoolRequestSchema):
    date_subject: ClassVar[str] = "La date"
    start_time = TimeOfDay(metadata={"description": "Heure de début (HH:MM), avec end_time", "example": "10:00"})
    end_time = TimeOfDay(metadata={"description": "Heure de fin (HH:MM), avec start_time", "example": "12:00"})

    @validates_schema(skip_on_field_errors=False)
    def time_slot(self, data, **kwargs) -> None:
        start, end = data.get("start_time"), data.get("end_time")
        if start and not end:
            raise ValidationError("Indiquez aussi l'heure de fin du créneau.", "end_time")
        if end and not start:
            raise ValidationError("Indiquez aussi l'heure de début du créneau.", "start_time")
        if start and end and end <= start:
            raise ValidationError(f"L'heure de fin doit suivre l'heure de début ({start}).", "end_time")


class ClassTestimonySchema(DatedSchoolRequestSchema):
    """Témoignage métier devant une classe."""
    kind_name = "class_testimony"
    kind = kind_field(kind_name)
    date = SchoolDay("La date du témoignage", required=True, metadata={
        "description": "Jour du témoignage (AAAA-MM-JJ) : un jour de classe à venir", "example": "2027-01-13"})
    level = level_field()
    class_size = count_field(1, MAX_CLASS_SIZE, "Effectif de la classe")
    professionals_wanted = count_field(1, PROFESSIONALS_WANTED[kind_name], "Nombre de professionnels souhaités "
                                                                      "(1 par défaut)", load_default=1)


class ClassInterventionSchema(DatedSchoolRequestSchema):
    """Intervention ou séance de sensibilisation en classe, sur un thème."""
    kind_name = "class_intervention"
    kind = kind_field(kind_name)
    topic = text_field(TOPIC_LENGTH, "Thème de l'intervention", required=True)
    date = SchoolDay("La date de l'intervention", required=True, metadata={
        "description": "Jour de l'intervention (AAAA-MM-JJ) : un jour de classe à venir", "example": "2027-01-13"})
    level = level_field()
    class_size = count_field(1, MAX_CLASS_SIZE, "Effectif de la classe")
    professionals_wanted = count_field(1, PROFESSIONALS_WANTED[kind_name], "Nombre de professionnels souhaités "
                                                                      "(1 par défaut)", load_default=1)


class JobFairSchema(DatedSchoolRequestSchema):
    """Forum des métiers : N professionnels un jour donné, sur un créneau."""
    kind_name = "job_fair"
    kind = kind_field(kind_name)
    date = SchoolDay("La date du forum", required=True, metadata={
        "description": "Jour du forum (AAAA-MM-JJ) : un jour de classe à venir", "example": "2027-03-18"})
    start_time = TimeOfDay(required=True, metadata={"description": "Heure de début (HH:MM)", "example": "09:00"})
    end_time = TimeOfDay(required=True, metadata={"description": "Heure de fin (HH:MM)", "example": "12:30"})
    levels = fields.List(fields.String(validate=LEVEL), required=True, validate=[
        validate.Length(min=1, error="Indiquez au moins un niveau."),
        distinct("Chaque niveau ne doit figurer qu'une fois.")], metadata={
        "description": f"Niveaux des élèves attendus : {choices(LEVELS)}"})
    professionals_wanted = count_field(1, PROFESSIONALS_WANTED[kind_name], "Nombre de professionnels attendus",
                                  required=True)


class InternshipHostingSchema(SchoolRequestSchema):
    """Offres de stage recherchées pour les élèves d'un niveau, sur une période de stage de
    l'établissement. Chaque proposition acceptée compte pour une place."""
    kind_name = "internship_hosting"
    kind = kind_field(kind_name)
    level = level_field()
    period = period_field()
    pupils = count_field(1, MAX_PUPILS, "Nombre de places de stage recherchées", required=True)

    @validates_schema(skip_on_field_errors=False)
    def period_of_the_school(self, data, **kwargs) -> None:
        errors = _period_errors(data, self.school)
        if errors:
            raise ValidationError(errors)

    @post_load
    def to_spec(self, data, **kwargs) -> RequestSpec:
        return super().to_spec({**data, "professionals_wanted": data["pupils"]})


# --- from a pupil -----------------------------------------------------------------------------------------

class PupilRequestSchema(RequestInputSchema):
    level = level_field()
    max_distance_km = max_distance_field("pupil")

    def handle_error(self, error: ValidationError, data, **kwargs) -> None:
        if isinstance(error.messages, dict):
            for name in PUPIL_REFUSED_FIELDS:
                if name in error.messages:
                    error.messages[name] = [PUPIL_REFUSED]


class JobInformationSchema(PupilRequestSchema):
    """Information sur un métier : des codes ROME, des mots-clés, ou les deux."""
    kind_name = "job_information"
    kind = kind_field(kind_name)
    rome_codes = rome_codes_field(load_default=list)
    keywords = text_field(KEYWORDS_LENGTH, "Mots-clés libres (jamais publiés ; sans nom, adresse e-mail ni numéro de "
                                      "téléphone)")

    @validates("keywords")
    def no_contact_in_keywords(self, value: str, **kwargs) -> None:
        if PERSONAL_IN_TEXT.search(value):
            raise ValidationError("Pas d'adresse e-mail ni de numéro de téléphone dans les mots-clés.")

    @validates_schema(skip_on_field_errors=True)
    def rome_or_keywords(self, data, **kwargs) -> None:
        if not data.get("rome_codes") and not data.get("keywords"):
            raise ValidationError("Indiquez au moins un code ROME, ou des mots-clés (keywords).", "rome_codes")


class DiscoveryInternshipSchema(PupilRequestSchema):
    """Stage de découverte ou d'observation sur une période, autour de l'établissement ou de la
    commune de l'élève (jamais de son domicile)."""
    kind_name = "discovery_internship"
    kind = kind_field(kind_name)
    period = period_field()
    around = fields.String(load_default="school", validate=validate.OneOf(
        AROUND, error=f"Valeur inconnue ; valeurs possibles : {choices(AROUND)}."),
        metadata={"description": f"Autour de quoi chercher : {choices(AROUND)} (school par défaut)"})
    town = fields.String(validate=known_town, metadata={
        "description": "Avec around = town : code INSEE de la commune (du territoire) de l'élève ; la position "
                       "est alors le centre de la commune", "example": "94080"})
    rome_codes = rome_codes_field(load_default=list)

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def around_what(self, data, original, **kwargs) -> None:
        errors: dict[str, Any] = _period_errors(data, self.school)
        around = data.get("around")
        if around == "town" and isinstance(original, dict) and "town" not in original:
            errors.setdefault("town", ["Indiquez la commune (code INSEE) de l'élève quand around vaut « town »."])
        if around == "school" and "town" in data:
            errors["town"] = ["Pas de commune quand around vaut « school » : la position est celle de "
                              "l'établissement."]
        if errors:
            raise ValidationError(errors)

    def place(self, data: dict) -> tuple[str, Location]:
        if data.get("around") == "town":
            town = deps().territory.towns[data["town"]]
            return town.insee, town.centre
        return super().place(data)


class ApprenticeshipSearchSchema(PupilRequestSchema):
    """Recherche d'alternance, pour un élève de lycée."""
    kind_name = "apprenticeship_search"
    kind = kind_field(kind_name)
    diploma = fields.String(required=True, validate=validate.OneOf(
        DIPLOMAS, error=f"Diplôme inconnu ; valeurs possibles : {', '.join(DIPLOMAS)}."),
        metadata={"description": f"Diplôme préparé : {choices(DIPLOMAS)}"})
    rome_codes = rome_codes_field(required=True)
    start = Month(required=True, metadata={"description": "Mois de début souhaité (AAAA-MM), ce mois-ci ou après",
                                           "example": "2027-09"})

    @validates("level")
    def lycee_only(self, value: str, **kwargs) -> None:
        if value not in LYCEE_LEVELS:
            raise ValidationError(f"L'alternance est ouverte aux élèves de lycée : niveaux possibles "
                                  f"{', '.join(LYCEE_LEVELS)}.")

    @validates("rome_codes")
    def at_least_one_job(self, value: list, **kwargs) -> None:
        if not value:
            raise ValidationError("Indiquez au moins un code ROME.")


INPUT_SCHEMAS: dict[str, type[RequestInputSchema]] = {schema.kind_name: schema for schema in (
    ClassTestimonySchema, ClassInterventionSchema, JobFairSchema, InternshipHostingSchema,
    JobInformationSchema, DiscoveryInternshipSchema, ApprenticeshipSearchSchema)}
assert set(INPUT_SCHEMAS) == set(KINDS)
assert all(set(schema().fields) == {"kind", *KINDS[kind].fields} for kind, schema in INPUT_SCHEMAS.items())


def load_request(kind: str, data: dict, ctx: LoadContext) -> RequestSpec:
    """The validated request of `kind`; ValidationError (messages by field) otherwise."""
    return INPUT_SCHEMAS[kind](ctx=ctx).load(data)
