"""HTTP API of the actors service: professionals pledge to act for pupils of the territory
(/api/v1/volunteers), and the directory of actors, the "Vitawiners" (/api/v1/actors)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from typing import Callable

from flask import Flask, current_app, jsonify, url_for
from flask.views import MethodView
from flask_smorest import Api, Blueprint, abort
from marshmallow import Schema, ValidationError, fields, missing, post_load, validate, validates_schema

from vitawin_common import web
from vitawin_common.config import Settings
from vitawin_common.territory import InvalidPlace, Location, Territory

from vitawin_actors import bootstrap, handlers
from vitawin_actors.domain import (ACTION_TYPES, ACTOR_KINDS, AUDIENCES, DEFAULT_AUDIENCE, DEFAULT_MAX_DISTANCE_KM,
                                   DEFAULT_MODALITY, DEFAULT_WEEKLY_CONTACT_CAP, DIPLOMAS, INSEE_CODE, LEVELS,
                                   MAX_COUNT, MAX_DISTANCE_KM, MENTORING_MONTHS, MODALITIES, ORGANISATION_KINDS,
                                   PUBLIC_FIELDS, SCHOOL_TYPES, SPECIFIC_DEFAULTS, STATUSES, ActionSettings,
                                   Address, BoundingBox, InvalidValue, PledgeConflict, RegisterOrganisation,
                                   RegisterPupil, RegisterSchool, RegisterTerritoryManager, RegisterVolunteer,
                                   RomeJob, RomeReference, check_internship_periods, check_job_fair_dates,
                                   check_levels_for_audience, check_location, check_organisation_town, check_place,
                                   feature_collection, is_erased,
                                   normalise_iso_week, normalise_naf, normalise_siret, normalise_uai, public_view)

DESCRIPTION = (
    "Engagements des professionnels du territoire Paris Est Marne et Bois : témoignage métier, "
    "intervention en classe, stage, alternance, mentorat, forum des métiers. Annuaire des acteurs "
    "(« Vitawiners ») : organisations, établissements scolaires, élèves, gestionnaires de territoire."
)
ACTION_CHOICES = ", ".join(f"{code} ({label})" for code, label in ACTION_TYPES.items())
ACTION_TYPE = validate.OneOf(ACTION_TYPES, error=f"Type d'action inconnu ; valeurs possibles : {ACTION_CHOICES}.")
NUMBER = {"invalid": "Nombre attendu.", "special": "Nombre fini attendu."}


def _choices(labels: dict) -> str:
    return ", ".join(f"{code} ({label})" for code, label in labels.items())


ACTOR_KIND_ERROR = f"Type d'acteur inconnu ; valeurs possibles : {', '.join(ACTOR_KINDS)}."
LEVEL = validate.OneOf(LEVELS, error=f"Niveau inconnu ; valeurs possibles : {', '.join(LEVELS)}.")
INSEE = validate.Regexp(INSEE_CODE, error="Code INSEE de commune invalide : 5 caractères attendus (ex. 94080).")
GEOJSON = "application/geo+json"
PUPIL_REFUSED_FIELDS = ("last_name", "address", "location")
PUPIL_REFUSED = ("Champ refusé : Vitawin n'enregistre ni le nom de famille, ni l'adresse, ni la position "
                 "d'un élève.")


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


class BoundingBoxField(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return BoundingBox.parse(super()._deserialize(value, attr, data, **kwargs))
        except InvalidValue as exc:
            raise ValidationError(str(exc)) from exc


@dataclass(frozen=True)
class Dependencies:
    uow_factory: Callable
    territory: Territory
    rome: RomeReference
    today: Callable[[], date] = lambda: datetime.now(timezone.utc).date()


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


def _registered_organisation(actor_id: str) -> None:
    actor = _deps().uow_factory().actors.get(actor_id)
    if actor is None:
        raise ValidationError("Acteur inconnu de l'annuaire : inscrivez d'abord l'organisation (/api/v1/actors).")
    if is_erased(actor):
        raise ValidationError("Cet acteur a été effacé de l'annuaire : il ne peut plus être lié à un engagement.")
    if actor["kind"] not in ORGANISATION_KINDS:
        raise ValidationError("L'acteur indiqué n'est pas une organisation (entreprise, artisan, collectivité, "
                              "association, établissement public, organisation partenaire).")


def _not_pledged(action_types, actions) -> dict[str, list[str]]:
    """Settings given for action types the pledge does not offer: {type: [French reason]}."""
    return {key: [f"Action absente de action_types : ajoutez « {key} » à action_types ou retirez ces réglages."]
            for key in actions if key not in action_types}


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
    actor_id = fields.String(validate=[validate.Length(1, 64), _registered_organisation], metadata={
        "description": "Identifiant de l'organisation dans l'annuaire des acteurs, si elle y est inscrite",
        "example": "act-0b7c1d2e3f40516273849a0b1c2d3e4f"})
    actions = fields.Nested(ActionsSchema, metadata={
        "description": "Réglages de chaque action, par type d'action (chaque clé parmi action_types ; une "
                       "action sans réglages prend les valeurs par défaut)"})
    status = fields.String(dump_only=True, metadata={"description": f"Statut : {_choices(STATUSES)}"})
    version = fields.Integer(dump_only=True, metadata={
        "description": "Version de l'engagement : 1 à l'inscription, + 1 à chaque changement"})
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)
    withdrawn_at = fields.DateTime(dump_only=True)

    @validates_schema(skip_on_field_errors=False)
    def location_in_town(self, data, **kwargs) -> None:
        if "town" in data and isinstance(data.get("location"), Location):  # both valid so far
            try:
                check_location(_deps().territory.towns[data["town"]], data["location"])
            except InvalidPlace as exc:
                raise ValidationError(str(exc), field_name=exc.field) from exc

    @validates_schema(skip_on_field_errors=False)
    def actions_are_pledged(self, data, **kwargs) -> None:
        if "action_types" in data and data.get("actions"):
            not_pledged = _not_pledged(data["action_types"], data["actions"])
            if not_pledged:
                raise ValidationError({"actions": not_pledged})

    @post_load
    def to_command(self, data, **kwargs) -> RegisterVolunteer:
        return RegisterVolunteer(**data)


class VolunteerPatchSchema(VolunteerSchema):
    """Any field of a pledge, at least one; each checked as at registration. An entry of `actions`
    replaces that action's settings whole; the other actions keep theirs. `actor_id: null`
    unlinks the organisation."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required, field.load_default = False, missing
        self.fields["actor_id"].allow_none = True

    @validates_schema(pass_original=True)
    def something_to_change(self, data, original, **kwargs) -> None:
        if isinstance(original, Mapping) and not original:
            raise ValidationError("Indiquez au moins un champ à modifier.")

    # The rules across fields need the stored pledge: the view checks them (`_patch_errors`).
    def location_in_town(self, data, **kwargs) -> None: ...
    def actions_are_pledged(self, data, **kwargs) -> None: ...

    @post_load
    def to_command(self, data, **kwargs) -> dict:
        return data


def _patch_errors(changes: dict, stored: dict) -> dict:
    """The rules across fields, on the pledge as it would be after `changes`."""
    errors: dict = {}
    if "town" in changes or "location" in changes:
        town = changes.get("town", stored["town"])
        location = changes.get("location") or Location(stored["location"]["lat"], stored["location"]["lon"])
        try:
            check_location(_deps().territory.towns[town], location)
        except InvalidPlace as exc:
            errors[exc.field if "location" in changes else "town"] = [str(exc)]
    not_pledged = _not_pledged(changes.get("action_types", stored["action_types"]), changes.get("actions") or {})
    if not_pledged:
        errors["actions"] = not_pledged
    return errors


class VolunteerQuerySchema(Schema):
    town = fields.String(validate=_known_town, metadata={"description": "Code INSEE de la commune"})
    action_type = fields.String(validate=ACTION_TYPE)
    status = fields.String(validate=_choice(STATUSES, "Statut inconnu"), metadata={
        "description": f"Statut : {_choices(STATUSES)} (par défaut, tous)"})
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
        """Enregistrer l'engagement d'un professionnel

        Un engagement par professionnel, avec plusieurs actions : `action_types` les liste, `actions`
        donne les réglages de chacune (métiers ROME, public, modalité, distance, plafond de mises
        en relation par semaine, puis ceux propres au type d'action). Une action sans réglages
        prend les valeurs par défaut. L'engagement commence actif, en version 1."""
        pledge = handlers.register_volunteer(command, _deps().uow_factory())
        return pledge.to_document(), {"Location": url_for(".VolunteerById", volunteer_id=pledge.volunteer_id)}


NOT_FOUND = "Engagement introuvable."


def _lifecycle(change: Callable, volunteer_id: str):
    try:
        return change(volunteer_id, _deps().uow_factory()).to_document()
    except handlers.VolunteerNotFound:
        abort(404, message=NOT_FOUND)
    except PledgeConflict as exc:
        abort(409, message=str(exc))
    except handlers.ConcurrentChange:
        abort(409, message="L'engagement a été modifié entre-temps : relisez-le puis recommencez.")


@blp.route("/<volunteer_id>")
class VolunteerById(MethodView):
    @blp.response(200, VolunteerSchema)
    @blp.alt_response(404, description="Engagement introuvable")
    def get(self, volunteer_id: str):
        """Lire un engagement (avec son statut : active, paused ou withdrawn)"""
        volunteer = _deps().uow_factory().volunteers.get(volunteer_id)
        if volunteer is None:
            abort(404, message=NOT_FOUND)
        return volunteer

    @blp.arguments(VolunteerPatchSchema)
    @blp.response(200, VolunteerSchema)
    @blp.alt_response(404, description="Engagement introuvable")
    @blp.alt_response(409, description="Engagement retiré, ou modifié entre-temps")
    def patch(self, changes: dict, volunteer_id: str):
        """Modifier un engagement

        N'importe quel champ, au moins un, vérifié comme à l'inscription. Une entrée de `actions`
        remplace tous les réglages de cette action ; les autres actions gardent les leurs. Un
        type d'action retiré de `action_types` perd ses réglages. Chaque modification augmente
        la version de 1 ; un engagement retiré ne se modifie plus (409)."""
        stored = _deps().uow_factory().volunteers.get(volunteer_id)
        if stored is None:
            abort(404, message=NOT_FOUND)
        if stored.get("status") == "withdrawn":
            abort(409, message="L'engagement a été retiré : il ne peut plus être modifié.")
        errors = _patch_errors(changes, stored)
        if errors:
            abort(422, errors={"json": errors})
        return _lifecycle(lambda vid, uow: handlers.update_volunteer(vid, changes, uow), volunteer_id)

    @blp.response(204)
    @blp.alt_response(404, description="Engagement introuvable")
    @blp.alt_response(409, description="Engagement déjà retiré")
    def delete(self, volunteer_id: str):
        """Retirer un engagement

        Définitif : l'engagement passe au statut withdrawn, reste lisible pour l'historique et
        n'est plus proposé. Un second retrait répond 409."""
        _lifecycle(handlers.withdraw_volunteer, volunteer_id)


@blp.route("/<volunteer_id>/pause")
class VolunteerPause(MethodView):
    @blp.response(200, VolunteerSchema)
    @blp.alt_response(404, description="Engagement introuvable")
    @blp.alt_response(409, description="Engagement déjà en pause, ou retiré")
    def post(self, volunteer_id: str):
        """Mettre un engagement en pause (il n'est plus proposé jusqu'à sa reprise)"""
        return _lifecycle(handlers.pause_volunteer, volunteer_id)


@blp.route("/<volunteer_id>/resume")
class VolunteerResume(MethodView):
    @blp.response(200, VolunteerSchema)
    @blp.alt_response(404, description="Engagement introuvable")
    @blp.alt_response(409, description="Engagement déjà actif, ou retiré")
    def post(self, volunteer_id: str):
        """Reprendre un engagement en pause"""
        return _lifecycle(handlers.resume_volunteer, volunteer_id)


# --- The directory of actors ("Vitawiners") ------------------------------------------------------

class ActorLocationSchema(VolunteerLocationSchema):
    """A place (WGS 84)."""


class ActorAddressSchema(Schema):
    street = fields.String(required=True, validate=validate.Length(1, 200),
                           metadata={"description": "Numéro et voie", "example": "12 rue de Fontenay"})
    postcode = fields.String(required=True, validate=validate.Regexp(
        r"^[0-9]{5}$", error="Code postal invalide : 5 chiffres attendus."), metadata={"example": "94300"})

    @post_load
    def to_address(self, data, **kwargs) -> Address:
        return Address(**data)


class ActorBaseSchema(Schema):
    """What every actor record has; each kind adds its fields. Unknown fields are refused."""
    actor_id = fields.String(dump_only=True, metadata={"example": "act-0b7c1d2e3f40516273849a0b1c2d3e4f"})
    created_at = fields.DateTime(dump_only=True)


def _kind(kinds) -> fields.String:
    return fields.String(required=True, validate=validate.OneOf(kinds, error=ACTOR_KIND_ERROR),
                         metadata={"description": f"Type d'acteur : {_choices({k: ACTOR_KINDS[k] for k in kinds})}"})


class OrganisationSchema(ActorBaseSchema):
    kind = _kind(ORGANISATION_KINDS)
    name = fields.String(required=True, validate=validate.Length(1, 200),
                         metadata={"description": "Raison sociale ou nom d'usage"})
    contact_email = fields.Email(required=True, validate=validate.Length(max=254),
                                 metadata={"description": "Adresse e-mail de contact (jamais publiée)"})
    siret = Normalised(normalise_siret, required=True, metadata={
        "description": "SIRET, 14 chiffres (les espaces sont acceptés et retirés)", "example": "12345678200010"})
    naf_code = Normalised(normalise_naf, required=True, metadata={
        "description": "Code NAF rév. 2 de l'activité principale", "example": "56.10A"})
    address = fields.Nested(ActorAddressSchema, required=True)
    town = fields.String(required=True, validate=INSEE, metadata={
        "description": "Code INSEE de la commune : une commune du territoire, sauf si "
                       "serves_territory_from_outside est vrai", "example": "94080"})
    location = fields.Nested(ActorLocationSchema, required=True, metadata={
        "description": "Position, à 5 km au plus du centre de la commune quand elle est dans le territoire"})
    serves_territory_from_outside = fields.Boolean(load_default=False, metadata={
        "description": "Vrai pour une organisation située hors du territoire qui y intervient "
                       "(la commune peut alors être hors du territoire)"})

    @validates_schema(skip_on_field_errors=False)
    def place_in_territory(self, data, **kwargs) -> None:
        if "town" in data:
            location = data.get("location") if isinstance(data.get("location"), Location) else None
            try:
                check_organisation_town(_deps().territory, data["town"], location,
                                        data.get("serves_territory_from_outside", False))
            except InvalidPlace as exc:
                raise _place_error(exc) from exc

    @post_load
    def to_command(self, data, **kwargs) -> RegisterOrganisation:
        return RegisterOrganisation(**data)


class SchoolSchema(ActorBaseSchema):
    kind = _kind(["school"])
    name = fields.String(required=True, validate=validate.Length(1, 200))
    contact_email = fields.Email(required=True, validate=validate.Length(max=254), metadata={
        "description": "Adresse e-mail du professeur référent (jamais publiée)"})
    uai = Normalised(normalise_uai, required=True, metadata={
        "description": "Code UAI (ex-RNE) : 7 chiffres et une lettre de contrôle", "example": "0940120V"})
    school_type = fields.String(required=True, validate=validate.OneOf(
        SCHOOL_TYPES, error=f"Type d'établissement inconnu ; valeurs possibles : {', '.join(SCHOOL_TYPES)}."),
        metadata={"description": f"Type d'établissement : {_choices(SCHOOL_TYPES)}"})
    levels = fields.List(fields.String(validate=LEVEL), required=True, validate=[
        validate.Length(min=1, error="Indiquez au moins un niveau."),
        _distinct("Chaque niveau ne doit figurer qu'une fois.")],
        metadata={"description": f"Niveaux enseignés : {_choices(LEVELS)}"})
    internship_periods = fields.Dict(
        keys=fields.String(validate=LEVEL),
        values=fields.List(Normalised(normalise_iso_week), validate=validate.Length(
            min=1, error="Indiquez au moins une semaine.")),
        load_default=dict,
        metadata={"description": "Périodes de stage : niveau → semaines ISO (« 2027-W24 »), pour des "
                                 "niveaux enseignés", "example": {"3e": ["2027-W24", "2027-W25"]}})
    address = fields.Nested(ActorAddressSchema, required=True)
    town = fields.String(required=True, validate=_known_town, metadata={
        "description": "Code INSEE d'une commune du territoire", "example": "94080"})
    location = fields.Nested(ActorLocationSchema, required=True, metadata={
        "description": "Position, à 5 km au plus du centre de la commune"})

    @validates_schema(skip_on_field_errors=False)
    def rules_across_fields(self, data, **kwargs) -> None:
        errors = {}
        if "town" in data and isinstance(data.get("location"), Location):
            try:
                check_place(_deps().territory, data["town"], data["location"])
            except InvalidPlace as exc:
                errors[exc.field] = [str(exc)]
        if "levels" in data and data.get("internship_periods"):
            not_taught = check_internship_periods(data["levels"], data["internship_periods"])
            if not_taught:
                errors["internship_periods"] = {level: [reason] for level, reason in not_taught.items()}
        if errors:
            raise ValidationError(errors)

    @post_load
    def to_command(self, data, **kwargs) -> RegisterSchool:
        return RegisterSchool(**data)


class PupilSchema(ActorBaseSchema):
    """A pupil, usually a minor: a first name only; no last name, address or position (refused)."""
    kind = _kind(["pupil"])
    first_name = fields.String(required=True, validate=validate.Length(1, 100), metadata={
        "description": "Prénom (jamais publié)"})
    level = fields.String(required=True, validate=LEVEL, metadata={"description": f"Niveau : {_choices(LEVELS)}"})
    school_uai = Normalised(normalise_uai, required=True, metadata={
        "description": "Code UAI de l'établissement de l'élève", "example": "0940120V"})
    town = fields.String(required=True, validate=_known_town, metadata={
        "description": "Code INSEE de la commune (du territoire) où vit l'élève", "example": "94080"})
    is_minor = fields.Boolean(load_default=True, metadata={"description": "Vrai (par défaut) pour un élève mineur"})
    guardian_contact_email = fields.Email(validate=validate.Length(max=254), metadata={
        "description": "Adresse e-mail d'un responsable légal, obligatoire pour un élève mineur (jamais publiée)"})

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def guardian_for_a_minor(self, data, original, **kwargs) -> None:
        if data.get("is_minor", True) and isinstance(original, Mapping) and "guardian_contact_email" not in original:
            raise ValidationError("Champ obligatoire pour un élève mineur : l'adresse e-mail d'un "
                                  "responsable légal.", "guardian_contact_email")

    def handle_error(self, error: ValidationError, data, **kwargs) -> None:
        if isinstance(error.messages, dict):
            for name in PUPIL_REFUSED_FIELDS:
                if name in error.messages:
                    error.messages[name] = [PUPIL_REFUSED]

    @post_load
    def to_command(self, data, **kwargs) -> RegisterPupil:
        return RegisterPupil(**data)


class TerritoryManagerSchema(ActorBaseSchema):
    kind = _kind(["territory_manager"])
    name = fields.String(required=True, validate=validate.Length(1, 200), metadata={
        "description": "Nom de la personne (jamais publié)"})
    contact_email = fields.Email(required=True, validate=validate.Length(max=254))
    organisation_name = fields.String(required=True, validate=validate.Length(1, 200), metadata={
        "description": "Organisme employeur (collectivité, établissement public territorial...)"})

    @post_load
    def to_command(self, data, **kwargs) -> RegisterTerritoryManager:
        return RegisterTerritoryManager(**data)


def _summary(schema: type[Schema], kind: str) -> type[Schema]:
    """The public view of a kind (its PUBLIC_FIELDS and created_at): what the directory lists."""
    meta = type("Meta", (), {"fields": (*PUBLIC_FIELDS[kind], "created_at")})
    return type(schema.__name__.replace("Schema", "SummarySchema"), (schema,), {"Meta": meta})


OrganisationSummarySchema = _summary(OrganisationSchema, "company")
SchoolSummarySchema = _summary(SchoolSchema, "school")
PupilSummarySchema = _summary(PupilSchema, "pupil")
TerritoryManagerSummarySchema = _summary(TerritoryManagerSchema, "territory_manager")


class ByKind(Schema):
    """Stands for one schema per actor kind, chosen by the `kind` field, to load and to dump. Its
    OpenAPI component is a oneOf with a discriminator (`_document_by_kind`)."""
    schemas: dict[str, type[Schema]] = {}

    def load(self, data, *, many=None, partial=None, unknown=None):
        if not isinstance(data, Mapping):
            raise ValidationError({"_schema": ["Objet JSON attendu."]})
        if "kind" not in data:
            raise ValidationError({"kind": ["Champ obligatoire."]})
        kind = data["kind"]
        if not isinstance(kind, str) or kind not in self.schemas:
            raise ValidationError({"kind": [ACTOR_KIND_ERROR]})
        return self.schemas[kind]().load(data, partial=partial, unknown=unknown)

    def dump(self, obj, *, many=None):
        if self.many if many is None else many:
            return [self.dump(item, many=False) for item in obj]
        return self.schemas[obj["kind"]]().dump(obj)


def _by_kind(organisation, school, pupil, territory_manager) -> dict[str, type[Schema]]:
    return {**{kind: organisation for kind in ORGANISATION_KINDS}, "school": school, "pupil": pupil,
            "territory_manager": territory_manager}


class ActorSchema(ByKind):
    """An actor, as registered (POST body) and as stored (POST and GET answers)."""
    schemas = _by_kind(OrganisationSchema, SchoolSchema, PupilSchema, TerritoryManagerSchema)


class ActorSummarySchema(ByKind):
    """An actor in the directory list: no contact, nothing that names a pupil."""
    schemas = _by_kind(OrganisationSummarySchema, SchoolSummarySchema, PupilSummarySchema,
                       TerritoryManagerSummarySchema)


class ActorQuerySchema(Schema):
    kind = fields.List(fields.String(validate=validate.OneOf(ACTOR_KINDS, error=ACTOR_KIND_ERROR)), metadata={
        "description": "Types d'acteurs à lister (paramètre répétable : kind=school&kind=company)"})
    town = fields.String(validate=INSEE, metadata={"description": "Code INSEE de la commune"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1),
                          metadata={"description": "Page, à partir de 1"})
    page_size = fields.Integer(load_default=50, validate=validate.Range(1, 200), metadata={
        "description": "Acteurs par page (200 au plus)"})


class ActorPageSchema(Schema):
    items = fields.List(fields.Nested(ActorSummarySchema), metadata={"description": "Les plus récents d'abord"})
    page = fields.Integer()
    page_size = fields.Integer()
    total = fields.Integer(metadata={"description": "Nombre d'acteurs correspondant aux filtres, toutes pages"})


class MapQuerySchema(Schema):
    bbox = BoundingBoxField(metadata={
        "description": "Emprise min_lon,min_lat,max_lon,max_lat (degrés décimaux WGS 84)",
        "example": "2.40,48.79,2.56,48.86"})


class MapPointSchema(Schema):
    type = fields.String(metadata={"example": "Point"})
    coordinates = fields.List(fields.Float(), metadata={"description": "[longitude, latitude]"})


class MapPropertiesSchema(Schema):
    actor_id = fields.String()
    kind = fields.String(metadata={"description": "Type d'acteur (organisation ou établissement scolaire)"})
    name = fields.String()
    town = fields.String(metadata={"description": "Code INSEE de la commune"})


class MapFeatureSchema(Schema):
    type = fields.String(metadata={"example": "Feature"})
    id = fields.String()
    geometry = fields.Nested(MapPointSchema)
    properties = fields.Nested(MapPropertiesSchema)


class MapFeatureCollectionSchema(Schema):
    type = fields.String(metadata={"example": "FeatureCollection"})
    features = fields.List(fields.Nested(MapFeatureSchema))


actors_blp = Blueprint("actors", __name__, url_prefix="/api/v1/actors",
                       description="Annuaire des acteurs (« Vitawiners ») : organisations, établissements "
                                   "scolaires, élèves, gestionnaires de territoire")


@actors_blp.route("")
class Actors(MethodView):
    @actors_blp.arguments(ActorQuerySchema, location="query")
    @actors_blp.response(200, ActorPageSchema)
    def get(self, query):
        """Lister l'annuaire (les plus récents d'abord), page par page

        Réponse : {items, page, page_size, total}. Chaque acteur y figure sous sa forme publique :
        ni adresse e-mail, ni adresse postale, ni SIRET ; pour un élève, seulement son niveau, le
        code UAI de son établissement et sa commune."""
        items, total = _deps().uow_factory().actors.page(
            kinds=query.get("kind"), town=query.get("town"), page=query["page"], page_size=query["page_size"])
        return {"items": [{**public_view(doc), "created_at": doc["created_at"]} for doc in items],
                "page": query["page"], "page_size": query["page_size"], "total": total}

    @actors_blp.arguments(ActorSchema)
    @actors_blp.response(201, ActorSchema)
    def post(self, command):
        """Inscrire un acteur dans l'annuaire

        Les champs attendus dépendent de `kind`. Une organisation située hors du territoire qui y
        intervient s'inscrit avec `serves_territory_from_outside: true`. Un élève s'inscrit sans
        nom de famille, sans adresse et sans position."""
        actor = handlers.register_actor(command, _deps().uow_factory())
        return actor.to_document(), {"Location": url_for(".ActorById", actor_id=actor.actor_id)}


@actors_blp.route("/map.geojson")
class ActorsMap(MethodView):
    @actors_blp.arguments(MapQuerySchema, location="query")
    @actors_blp.response(200, MapFeatureCollectionSchema, content_type=GEOJSON)
    def get(self, query):
        """Carte des organisations et des établissements scolaires (GeoJSON)

        Une FeatureCollection (RFC 7946) : un point par organisation ou établissement, avec
        actor_id, kind, name et town. Jamais d'élève, jamais d'adresse e-mail."""
        docs = _deps().uow_factory().actors.on_map(query.get("bbox"))
        response = jsonify(MapFeatureCollectionSchema().dump(feature_collection(docs)))
        response.mimetype = GEOJSON
        return response


ACTOR_NOT_FOUND = "Acteur introuvable."


@actors_blp.route("/<actor_id>")
class ActorById(MethodView):
    @actors_blp.response(200, ActorSchema)
    @actors_blp.alt_response(404, description="Acteur introuvable")
    @actors_blp.alt_response(410, description="Acteur effacé")
    def get(self, actor_id: str):
        """Lire la fiche d'un acteur

        La fiche complète d'une organisation ou d'un établissement, contacts compris. Pour un
        élève, seulement son niveau, son établissement et sa commune : son prénom et le contact de
        son responsable légal ne sortent pas du service tant que le contrôle d'accès par fiche
        (avec les comptes utilisateurs) n'existe pas."""
        actor = _deps().uow_factory().actors.get(actor_id)
        if actor is None:
            abort(404, message=ACTOR_NOT_FOUND)
        if is_erased(actor):
            abort(410, message="Acteur effacé.")
        if actor["kind"] == "pupil":  # a minor: nobody is known to need more yet
            return {**public_view(actor), "created_at": actor["created_at"]}
        return actor

    @actors_blp.response(204)
    @actors_blp.alt_response(404, description="Acteur introuvable")
    @actors_blp.alt_response(410, description="Acteur déjà effacé")
    @actors_blp.alt_response(409, description="Un engagement lié modifié entre-temps")
    def delete(self, actor_id: str):
        """Effacer un acteur (droit à l'effacement, RGPD)

        Définitif. Toutes ses données personnelles sont supprimées : il ne reste qu'une trace
        (identifiant, type, date d'effacement, statut erased). Chaque engagement lié à cet acteur
        est retiré et perd lui aussi ses données personnelles (nom de l'organisation, adresse
        e-mail). L'acteur disparaît de l'annuaire et de la carte ; sa fiche répond 410, comme un
        second effacement."""
        try:
            handlers.erase_actor(actor_id, _deps().uow_factory())
        except handlers.ActorNotFound:
            abort(404, message=ACTOR_NOT_FOUND)
        except handlers.ActorErased:
            abort(410, message="Acteur déjà effacé.")
        except handlers.ConcurrentChange:
            abort(409, message="Un engagement de cet acteur a été modifié entre-temps : recommencez.")


def _document_by_kind(api: Api) -> None:
    """Document each ByKind schema as a oneOf of its kinds' schemas, discriminated by `kind`."""
    components = api.spec.components
    for dispatcher in (ActorSchema, ActorSummarySchema):
        mapping, refs = {}, []
        for kind, schema in dispatcher.schemas.items():
            name = schema.__name__.removesuffix("Schema")
            if name not in components.schemas:
                components.schema(name, schema=schema)
            ref = f"#/components/schemas/{name}"
            mapping[kind] = ref
            if {"$ref": ref} not in refs:
                refs.append({"$ref": ref})
        components.schemas[dispatcher.__name__.removesuffix("Schema")] = {
            "oneOf": refs, "discriminator": {"propertyName": "kind", "mapping": mapping},
            "description": (dispatcher.__doc__ or "").strip()}


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
