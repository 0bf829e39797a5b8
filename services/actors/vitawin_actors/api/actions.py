"""The schemas of each action's settings in a pledge (`actions` of /api/v1/volunteers): the
settings every action has, then those of its type."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from vitawin_actors.api.fields import (LEVEL, NUMBER, FutureDate, Normalised, RomeCode, _choice, _choices, _count,
                                       _list_of)
from vitawin_actors.domain import (ACTION_TYPES, AUDIENCES, DEFAULT_AUDIENCE, DEFAULT_MODALITY,
                                   DEFAULT_WEEKLY_CONTACT_CAP, DIPLOMAS, LEVELS, MAX_DISTANCE_KM, MENTORING_MONTHS,
                                   MODALITIES, SPECIFIC_DEFAULTS, ActionSettings, check_levels_for_audience,
                                   normalise_iso_week)

class RomeJobSchema(Schema):
    code = fields.String(metadata={"example": "D1102"})
    label = fields.String(metadata={"description": "Intitulé ROME, en français", "example": "Boulanger / Boulangère"})


class ActionSettingsSchema(Schema):
    """Settings every action has. Each action type's schema adds its own; an omitted setting takes
    its default. Unknown settings are refused."""
    action_type: str = ""

    rome_codes = _list_of(RomeCode(), 20, "codes ROME", "code ROME", metadata={
        "description": "Métiers concernés : codes du référentiel ROME de France Travail", "example": ["D1102"]})
    rome_jobs = fields.List(fields.Nested(RomeJobSchema), dump_only=True, metadata={
        "description": "Les codes ROME avec leur intitulé en français"})
    audience = fields.String(validate=_choice(AUDIENCES, "Public inconnu"), metadata={
        "description": f"Public : {_choices(AUDIENCES)} ; par défaut {DEFAULT_AUDIENCE}"})
    modality = fields.String(validate=_choice(MODALITIES, "Modalité inconnue"), metadata={
        "description": f"Modalité : {_choices(MODALITIES)} ; par défaut selon l'action : "
                       f"{', '.join(f'{k} → {v}' for k, v in DEFAULT_MODALITY.items())}"})
    max_distance_km = fields.Float(
        error_messages=NUMBER,
        validate=validate.Range(0, MAX_DISTANCE_KM, min_inclusive=False,
                                error=f"Doit être supérieur à 0 et au plus {MAX_DISTANCE_KM:g} km."),
        metadata={"description": "Distance maximale pour cette action (remplace celle de l'engagement)"})
    weekly_contact_cap = _count(f"Nombre maximal de mises en relation par semaine (par défaut "
                                f"{DEFAULT_WEEKLY_CONTACT_CAP})")

    @post_load
    def to_settings(self, data, **kwargs) -> ActionSettings:
        return ActionSettings.build(self.action_type, rome_jobs=data.pop("rome_codes", ()), **data)


class TestimonySettingsSchema(ActionSettingsSchema):
    """Témoignage métier : les réglages communs seulement."""
    action_type = "testimony"


class InterventionSettingsSchema(ActionSettingsSchema):
    """Intervention en classe."""
    action_type = "intervention"
    topics = _list_of(fields.String(validate=validate.Length(1, 100)), 20, "thèmes", "thème", metadata={
        "description": "Thèmes proposés", "example": ["métiers de bouche", "hygiène alimentaire"]})


class InternshipSettingsSchema(ActionSettingsSchema):
    """Stage."""
    action_type = "internship"
    capacity_per_period = _count("Stagiaires accueillis par période (par défaut 1)")
    levels = _list_of(fields.String(validate=LEVEL), len(LEVELS), "niveaux", "niveau", metadata={
        "description": f"Niveaux accueillis : {_choices(LEVELS)} ; aucun = tous", "example": ["3e", "2nde"]})
    periods = _list_of(Normalised(normalise_iso_week), 104, "semaines", "semaine", metadata={
        "description": "Semaines ISO d'accueil (« 2027-W24 »)", "example": ["2027-W24", "2027-W25"]})

    @validates_schema(skip_on_field_errors=True)
    def levels_of_the_audience(self, data, **kwargs) -> None:
        reason = check_levels_for_audience(data.get("levels", []), data.get("audience", DEFAULT_AUDIENCE))
        if reason:
            raise ValidationError(reason, "levels")


class ApprenticeshipSettingsSchema(ActionSettingsSchema):
    """Alternance."""
    action_type = "apprenticeship"
    diplomas = _list_of(fields.String(validate=_choice(DIPLOMAS, "Diplôme inconnu")), len(DIPLOMAS), "diplômes", "diplôme", metadata={
        "description": f"Diplômes préparés : {_choices(DIPLOMAS)}", "example": ["CAP", "Bac pro"]})
    places = _count("Places en alternance (par défaut 1)")


class MentoringSettingsSchema(ActionSettingsSchema):
    """Mentorat."""
    action_type = "mentoring"
    duration_months = fields.Integer(strict=True, validate=validate.Range(
        *MENTORING_MONTHS, error=f"Nombre de mois entre {MENTORING_MONTHS[0]} et {MENTORING_MONTHS[1]} attendu."),
        error_messages={"invalid": "Nombre entier attendu."},
        metadata={"description": "Durée du mentorat en mois, de 1 à 24 (par défaut 6)"})
    mentees = _count("Élèves mentorés en même temps (par défaut 1)")


class JobFairSettingsSchema(ActionSettingsSchema):
    """Forum des métiers : des dates, ou une participation sur demande (l'un ou l'autre)."""
    action_type = "job_fair"
    dates = _list_of(FutureDate(), 20, "dates", "date", metadata={
        "description": "Dates de participation (AAAA-MM-JJ, dans le futur)", "example": ["2027-03-18"]})
    on_request = fields.Boolean(metadata={
        "description": "Vrai : participe aux forums sur demande, sans date fixée (par défaut, sans dates)"})

    @validates_schema(skip_on_field_errors=True)
    def dates_or_on_request(self, data, **kwargs) -> None:
        dates, on_request = data.get("dates"), data.get("on_request")
        if dates and on_request:
            raise ValidationError("Indiquez soit des dates, soit on_request: true, pas les deux.", "on_request")
        if not dates and on_request is not True and (dates is not None or on_request is False):
            raise ValidationError("Indiquez au moins une date, ou on_request: true.", "dates")


ACTION_SETTINGS_SCHEMAS: dict[str, type[ActionSettingsSchema]] = {
    schema.action_type: schema for schema in (
        TestimonySettingsSchema, InterventionSettingsSchema, InternshipSettingsSchema,
        ApprenticeshipSettingsSchema, MentoringSettingsSchema, JobFairSettingsSchema)}
assert set(ACTION_SETTINGS_SCHEMAS) == set(ACTION_TYPES) == set(SPECIFIC_DEFAULTS)


class ActionsSchema(Schema):
    """The settings of each action, keyed by action type (each key among action_types; an
    action type without an entry gets the defaults)."""
    error_messages = {"unknown": f"Type d'action inconnu ; valeurs possibles : {', '.join(ACTION_TYPES)}."}
    testimony = fields.Nested(TestimonySettingsSchema, metadata={"description": ACTION_TYPES["testimony"]})
    intervention = fields.Nested(InterventionSettingsSchema, metadata={"description": ACTION_TYPES["intervention"]})
    internship = fields.Nested(InternshipSettingsSchema, metadata={"description": ACTION_TYPES["internship"]})
    apprenticeship = fields.Nested(ApprenticeshipSettingsSchema,
                                   metadata={"description": ACTION_TYPES["apprenticeship"]})
    mentoring = fields.Nested(MentoringSettingsSchema, metadata={"description": ACTION_TYPES["mentoring"]})
    job_fair = fields.Nested(JobFairSettingsSchema, metadata={"description": ACTION_TYPES["job_fair"]})

    @post_load
    def by_type(self, data, **kwargs) -> dict[str, ActionSettings]:
        return dict(data)
