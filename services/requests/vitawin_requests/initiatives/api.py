"""/api/v1/initiatives: co-built initiatives and calls for projects (publish, read, list, map, edit,
close, join or apply, leave; moderation: hide, show again, report).

Wiring: register `blueprint` on the service's flask-smorest Api and put an `InitiativeDependencies`
in `app.extensions[EXTENSION]` (`uow_factory`: a callable returning a unit of work with an
`initiatives` repository; `territory`; `today`: a callable returning the territory's date).
Callers are read with `vitawin_common.identity` (the app needs `identity.init_app`, which
`vitawin_common.web.init_app` does)."""
from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Callable

from flask import current_app, jsonify, url_for
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from vitawin_common import identity
from vitawin_common.territory import InvalidBoundingBox, InvalidPlace, Location, Territory

from vitawin_requests.initiatives import handlers
from vitawin_requests.initiatives.domain import (CLOSE_REASONS, DESCRIPTION_MAX, KINDS, MESSAGE_MAX, PARTICIPANT_ROLES,
                                                 PARTNER_KINDS, PUBLISHER_ROLES, STATUSES, TITLE_MAX, TITLE_MIN,
                                                 BoundingBox, ConcurrentChange, Initiative, InitiativeConflict,
                                                 InitiativeFilter, InvalidInitiative, NotAllowed,
                                                 ParticipationNotFound, Party, PublishInitiative, TERRITORY_MANAGER,
                                                 check_partner_kinds, check_rules, feature_collection,
                                                 today_in_territory)
from vitawin_requests.moderation import AlreadyReported, Moderator, Report, has_reported
from vitawin_requests.moderation_api import (HideSchema, ModeratedItemSchema, ReportReceiptSchema, ReportSchema,
                                             body_doc, load_body, reported_field)

EXTENSION = "vitawin_requests.initiatives"
GEOJSON = "application/geo+json"
NOT_FOUND = "Initiative introuvable."

__all__ = ["EXTENSION", "InitiativeDependencies", "blueprint"]


@dataclass(frozen=True)
class InitiativeDependencies:
    uow_factory: Callable
    territory: Territory
    today: Callable[[], date] = today_in_territory


def _deps() -> InitiativeDependencies:
    return current_app.extensions[EXTENSION]


def _choices(labels: Mapping[str, str]) -> str:
    return ", ".join(f"{code} ({label})" for code, label in labels.items())


def _one_of(labels: Mapping[str, str], unknown: str) -> validate.OneOf:
    return validate.OneOf(labels, error=f"{unknown} ; valeurs possibles : {_choices(labels)}.")


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
        _deps().territory.town(code)
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
        "description": f"Types de partenaires recherchés (au moins un) : {_choices(PARTNER_KINDS)}",
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
    errors = check_rules(values, _deps().territory, _deps().today())
    given = original if isinstance(original, Mapping) else {}
    return {name: reasons for name, reasons in errors.items() if not (name in given and name not in data)}


class InitiativeSchema(ModeratedItemSchema):
    """An initiative or a call for projects, as published (POST body) and as read (with its
    moderation: the hidden flag, and the reports for territory managers)."""
    initiative_id = fields.String(dump_only=True, metadata={"example": "ini-0b7c1d2e3f40516273849a0b1c2d3e4f"})
    kind = fields.String(required=True, validate=KIND, metadata={"description": f"Type : {_choices(KINDS)}"})
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
    status = fields.String(dump_only=True, metadata={"description": f"Statut : {_choices(STATUSES)}"})
    participants = fields.List(fields.Nested(InitiativeParticipantSchema), dump_only=True, metadata={
        "description": "Acteurs qui ont rejoint l'initiative ou candidaté à l'appel à projets"})
    participant_count = fields.Integer(dump_only=True)
    version = fields.Integer(dump_only=True, metadata={
        "description": "Version : 1 à la publication, + 1 à chaque changement"})
    created_at = fields.DateTime(dump_only=True, metadata={"description": "Date de publication"})
    updated_at = fields.DateTime(dump_only=True)
    closed_at = fields.DateTime(dump_only=True)
    close_reason = fields.String(dump_only=True, metadata={"description": f"Motif de clôture : {_choices(CLOSE_REASONS)}"})

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
    kind = fields.String(validate=KIND, metadata={"description": f"Type : {_choices(KINDS)}"})
    town = _town()
    partner_kind = fields.String(validate=PARTNER_KIND, metadata={
        "description": "Type de partenaire recherché"})
    status = fields.String(validate=STATUS, metadata={"description": f"Statut : {_choices(STATUSES)} (par défaut, tous)"})
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
    kind = fields.String(validate=KIND, metadata={"description": f"Type : {_choices(KINDS)}"})
    town = _town()
    partner_kind = fields.String(validate=PARTNER_KIND, metadata={"description": "Type de partenaire recherché"})
    bbox = BoundingBoxField(metadata={"description": "Emprise min_lon,min_lat,max_lon,max_lat (degrés décimaux WGS 84)",
                                      "example": "2.40,48.79,2.56,48.86"})


class InitiativeMapPointSchema(Schema):
    type = fields.String(metadata={"example": "Point"})
    coordinates = fields.List(fields.Float(), metadata={"description": "[longitude, latitude]"})


class InitiativeMapPropertiesSchema(Schema):
    initiative_id = fields.String()
    kind = fields.String(metadata={"description": f"Type : {_choices(KINDS)}"})
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


# --- who is calling -------------------------------------------------------------------------------
def _party() -> Party | None:
    caller = identity.current_caller()
    return Party(caller.role, caller.actor_id) if caller is not None else None


def _acting(roles, no_actor: str | None = None):
    """The view needs an authenticated caller with one of `roles` (401, 403 in French), checked
    before the body is read; with `no_actor`, also an actor it acts for (403 with that message)."""
    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            caller = identity.require_caller(roles)
            if no_actor and not caller.actor_id:
                abort(403, message=no_actor)
            return view(*args, **kwargs)
        return wrapper
    return decorator


NO_ACTOR_TO_PUBLISH = ("Votre compte n'agit pour aucun acteur (organisation ou établissement) : il ne peut pas "
                       "publier d'initiative.")
NO_ACTOR_TO_EDIT = ("Votre compte n'agit pour aucun acteur (organisation ou établissement) : il ne peut pas "
                    "modifier d'initiative.")
NO_ACTOR_TO_JOIN = ("Votre compte n'agit pour aucun acteur (organisation ou établissement) : il ne peut pas "
                    "rejoindre une initiative ni candidater.")


NOT_A_MODERATOR = "Seul un gestionnaire de territoire peut masquer une initiative ou l'afficher de nouveau."
ALREADY_REPORTED = "Vous avez déjà signalé cette initiative."


def _visible(initiative_id: str) -> dict:
    """The stored initiative, or 404 when there is none or the caller may not see it (hidden)."""
    doc = _deps().uow_factory().initiatives.get(initiative_id)
    if doc is None or not Initiative.from_document(doc).can_see(_party()):
        abort(404, message=NOT_FOUND)
    return doc


def _moderating(initiative_id: str) -> tuple[dict, Moderator]:
    """For a hide or an unhide: the caller (401), the initiative (404 if they may not see it), the
    right to moderate it (403)."""
    caller = identity.require_caller()
    doc = _visible(initiative_id)
    if caller.role != TERRITORY_MANAGER:
        abort(403, message=NOT_A_MODERATOR)
    return doc, Moderator(caller.role, caller.subject)


def _run(action: Callable[[], Initiative]) -> Initiative:
    """The domain's refusals as French HTTP errors."""
    try:
        return action()
    except handlers.InitiativeNotFound:
        abort(404, message=NOT_FOUND)
    except ParticipationNotFound:
        abort(404, message="Participation introuvable : cet acteur ne participe pas à cette initiative.")
    except NotAllowed as exc:
        abort(403, message=str(exc))
    except InitiativeConflict as exc:
        abort(409, message=str(exc))
    except ConcurrentChange:
        abort(409, message="L'initiative a été modifiée entre-temps : relisez-la puis recommencez.")
    except InvalidInitiative as exc:
        abort(422, errors={"json": exc.errors})


# --- routes ---------------------------------------------------------------------------------------
blueprint = Blueprint("initiatives", __name__, url_prefix="/api/v1/initiatives",
                      description="Initiatives co-construites et appels à projets : une organisation les publie, "
                                  "d'autres acteurs les rejoignent ou y candidatent")


@blueprint.route("")
class Initiatives(MethodView):
    @blueprint.arguments(InitiativeQuerySchema, location="query")
    @blueprint.response(200, InitiativePageSchema)
    def get(self, query):
        """Lister les initiatives et les appels à projets (les plus récents d'abord), page par page

        Filtres : kind, town, partner_kind, status, bbox. Réponse : {items, page, page_size, total}.
        Chaque élément est public : ni adresse e-mail de contact, ni liste des participants (seulement
        leur nombre). Une initiative masquée par la modération n'y figure que pour l'acteur qui l'a
        publiée et pour les gestionnaires de territoire. `reported=true` (réservé aux gestionnaires
        de territoire : 401 sans connexion, 403 pour un autre rôle) : seulement les initiatives
        signalées, avec leurs signalements."""
        reported = query.get("reported", False)
        if reported and identity.require_caller().role != TERRITORY_MANAGER:
            abort(403, message="Le filtre reported est réservé aux gestionnaires de territoire.")
        viewer = _party()
        flt = InitiativeFilter(kind=query.get("kind"), town=query.get("town"), partner_kind=query.get("partner_kind"),
                               status=query.get("status"), bbox=query.get("bbox"), viewer=viewer, reported=reported)
        items, total = _deps().uow_factory().initiatives.page(flt, page=query["page"], page_size=query["page_size"])
        return {"items": [Initiative.from_document(doc).view(viewer) for doc in items], "page": query["page"],
                "page_size": query["page_size"], "total": total}

    @_acting(PUBLISHER_ROLES, NO_ACTOR_TO_PUBLISH)
    @blueprint.arguments(InitiativeSchema)
    @blueprint.response(201, InitiativeSchema)
    @blueprint.alt_response(401, description="Connexion requise")
    @blueprint.alt_response(403, description="Rôle non autorisé, ou compte rattaché à aucun acteur")
    def post(self, command: PublishInitiative):
        """Publier une initiative ou un appel à projets

        Réservé aux professionnels, aux référents d'établissement et aux gestionnaires de territoire,
        au nom de l'acteur (organisation, établissement) pour lequel leur compte agit. Un appel à
        projets a une date limite de candidature, après aujourd'hui ; une initiative n'en a pas. Sans
        `location`, le lieu est le centre de la commune. L'initiative commence ouverte, en version 1."""
        deps = _deps()
        initiative = _run(lambda: handlers.publish_initiative(command, _party(), deps.uow_factory(), deps.territory,
                                                              deps.today()))
        return initiative.view(_party()), {"Location": url_for(".InitiativeById",
                                                               initiative_id=initiative.initiative_id)}


@blueprint.route("/map.geojson")
class InitiativesMap(MethodView):
    @blueprint.arguments(InitiativeMapQuerySchema, location="query")
    @blueprint.response(200, InitiativeMapSchema, content_type=GEOJSON)
    def get(self, query):
        """Carte des initiatives et appels à projets ouverts (GeoJSON)

        Une FeatureCollection (RFC 7946) : un point par initiative ouverte et non masquée, avec
        initiative_id, kind, title, town et deadline (null pour une initiative). Filtres : kind, town,
        partner_kind, bbox."""
        flt = InitiativeFilter(kind=query.get("kind"), town=query.get("town"), partner_kind=query.get("partner_kind"),
                               status="open", bbox=query.get("bbox"))
        response = jsonify(feature_collection(_deps().uow_factory().initiatives.on_map(flt)))
        response.mimetype = GEOJSON
        return response


@blueprint.route("/<initiative_id>")
class InitiativeById(MethodView):
    @blueprint.response(200, InitiativeSchema)
    @blueprint.alt_response(404, description="Initiative introuvable (ou masquée, pour qui ne peut pas la voir)")
    def get(self, initiative_id: str):
        """Lire une initiative ou un appel à projets

        L'adresse e-mail de contact et les messages des participants ne figurent que pour l'acteur
        qui l'a publiée et pour les participants. Masquée par la modération, elle n'est lisible que
        par l'acteur qui l'a publiée et les gestionnaires de territoire (404 pour les autres), avec
        `hidden` et la raison ; les gestionnaires de territoire y lisent aussi les signalements."""
        return Initiative.from_document(_visible(initiative_id)).view(_party())

    @_acting(PUBLISHER_ROLES, NO_ACTOR_TO_EDIT)
    @blueprint.arguments(InitiativePatchSchema)
    @blueprint.response(200, InitiativeSchema)
    @blueprint.alt_response(401, description="Connexion requise")
    @blueprint.alt_response(403, description="Seul l'acteur qui l'a publiée peut la modifier")
    @blueprint.alt_response(404, description="Initiative introuvable")
    @blueprint.alt_response(409, description="Initiative clôturée, ou modifiée entre-temps")
    def patch(self, changes: dict, initiative_id: str):
        """Modifier une initiative ou un appel à projets

        Réservé à l'acteur qui l'a publiée, tant qu'elle est ouverte. N'importe quel champ modifiable,
        au moins un, vérifié comme à la publication ; le type ne change pas. Chaque modification
        augmente la version de 1."""
        deps = _deps()
        initiative = _run(lambda: handlers.update_initiative(initiative_id, changes, _party(), deps.uow_factory(),
                                                             deps.territory, deps.today()))
        return initiative.view(_party())


@blueprint.route("/<initiative_id>/close")
class InitiativeClose(MethodView):
    @_acting(PUBLISHER_ROLES)
    @blueprint.response(200, InitiativeSchema)
    @blueprint.alt_response(401, description="Connexion requise")
    @blueprint.alt_response(403, description="Ni l'acteur qui l'a publiée, ni un gestionnaire de territoire")
    @blueprint.alt_response(404, description="Initiative introuvable")
    @blueprint.alt_response(409, description="Déjà clôturée")
    def post(self, initiative_id: str):
        """Clôturer une initiative ou un appel à projets

        Par l'acteur qui l'a publiée ou par un gestionnaire de territoire. Une fois clôturée, elle
        n'accepte plus de participants et ne se modifie plus. Un appel à projets se clôt aussi de
        lui-même le lendemain de sa date limite."""
        return _run(lambda: handlers.close_initiative(initiative_id, _party(), _deps().uow_factory())).view(_party())


@blueprint.route("/<initiative_id>/participants")
class InitiativeParticipants(MethodView):
    @_acting(PARTICIPANT_ROLES, NO_ACTOR_TO_JOIN)
    @blueprint.arguments(InitiativeJoinSchema)
    @blueprint.response(201, InitiativeSchema)
    @blueprint.alt_response(401, description="Connexion requise")
    @blueprint.alt_response(403, description="Rôle non autorisé (un élève ne participe pas), ou compte rattaché "
                                             "à aucun acteur")
    @blueprint.alt_response(404, description="Initiative introuvable")
    @blueprint.alt_response(409, description="Déjà participant, sa propre initiative, clôturée, terminée ou date "
                                             "limite passée")
    def post(self, body: dict, initiative_id: str):
        """Rejoindre une initiative ou candidater à un appel à projets

        Au nom de l'acteur pour lequel le compte agit, une fois par acteur, jamais à sa propre
        initiative ; un appel à projets jusqu'à sa date limite incluse. Un message facultatif
        accompagne la demande. La réponse montre l'initiative telle que la voit désormais le
        participant, adresse e-mail de contact comprise. Une initiative masquée n'accepte personne."""
        deps = _deps()
        _visible(initiative_id)
        initiative = _run(lambda: handlers.join_initiative(initiative_id, _party(), body.get("message"),
                                                           deps.uow_factory(), deps.today()))
        return initiative.view(_party())


@blueprint.route("/<initiative_id>/participants/<actor_id>")
class InitiativeParticipant(MethodView):
    @_acting(PARTICIPANT_ROLES)
    @blueprint.response(204)
    @blueprint.alt_response(401, description="Connexion requise")
    @blueprint.alt_response(403, description="Ni l'acteur concerné, ni un gestionnaire de territoire")
    @blueprint.alt_response(404, description="Initiative ou participation introuvable")
    @blueprint.alt_response(409, description="Initiative terminée")
    def delete(self, initiative_id: str, actor_id: str):
        """Quitter une initiative (ou retirer sa candidature)

        Par l'acteur concerné, ou par un gestionnaire de territoire, avant la date de fin de
        l'initiative."""
        deps = _deps()
        _run(lambda: handlers.leave_initiative(initiative_id, actor_id, _party(), deps.uow_factory(), deps.today()))


@blueprint.route("/<initiative_id>/hide")
class InitiativeHide(MethodView):
    @blueprint.doc(**body_doc(HideSchema, "La raison du masquage (3 à 500 caractères)."))
    @blueprint.response(200, InitiativeSchema)
    @blueprint.alt_response(401, description="Connexion requise")
    @blueprint.alt_response(403, description="Pas gestionnaire de territoire")
    @blueprint.alt_response(404, description="Initiative introuvable")
    @blueprint.alt_response(409, description="Déjà masquée, ou modifiée entre-temps")
    @blueprint.alt_response(422, description="Raison manquante ou invalide")
    def post(self, initiative_id: str):
        """Masquer une initiative ou un appel à projets (modération)

        Par un gestionnaire de territoire, avec une raison. Elle garde son statut mais disparaît des
        listes publiques, de la carte et de la lecture publique, et n'accepte plus de participants ;
        l'acteur qui l'a publiée et les gestionnaires de territoire la voient encore, avec la
        raison. La version augmente de 1. Déjà masquée : 409."""
        doc, moderator = _moderating(initiative_id)
        conflict = Initiative.from_document(doc).moderation_conflict(hiding=True)
        if conflict:
            abort(409, message=conflict)
        reason = load_body(HideSchema())["reason"]
        return _run(lambda: handlers.hide_initiative(initiative_id, reason, moderator, _deps().uow_factory())
                    ).view(_party())


@blueprint.route("/<initiative_id>/unhide")
class InitiativeUnhide(MethodView):
    @blueprint.response(200, InitiativeSchema)
    @blueprint.alt_response(401, description="Connexion requise")
    @blueprint.alt_response(403, description="Pas gestionnaire de territoire")
    @blueprint.alt_response(404, description="Initiative introuvable")
    @blueprint.alt_response(409, description="Pas masquée, ou modifiée entre-temps")
    def post(self, initiative_id: str):
        """Afficher de nouveau une initiative masquée (modération)

        Par un gestionnaire de territoire. Elle revient dans les listes publiques et sur la carte
        (si elle est ouverte). La version augmente de 1. Pas masquée : 409. Sans corps."""
        doc, moderator = _moderating(initiative_id)
        conflict = Initiative.from_document(doc).moderation_conflict(hiding=False)
        if conflict:
            abort(409, message=conflict)
        return _run(lambda: handlers.unhide_initiative(initiative_id, moderator, _deps().uow_factory())
                    ).view(_party())


@blueprint.route("/<initiative_id>/report")
class InitiativeReport(MethodView):
    @blueprint.doc(**body_doc(ReportSchema, "La catégorie du signalement et un commentaire facultatif."))
    @blueprint.response(201, ReportReceiptSchema)
    @blueprint.alt_response(401, description="Jeton d'accès invalide (un appel sans jeton est accepté)")
    @blueprint.alt_response(404, description="Initiative introuvable (ou masquée, pour qui ne peut pas la voir)")
    @blueprint.alt_response(409, description="Déjà signalée par ce compte")
    @blueprint.alt_response(422, description="Catégorie ou commentaire invalide")
    def post(self, initiative_id: str):
        """Signaler une initiative ou un appel à projets

        Par toute personne qui peut la lire, connectée ou non. Une catégorie (inappropriate,
        personal_data, spam, other) et un commentaire facultatif (500 caractères au plus), lu par
        les gestionnaires de territoire seulement et jamais publié. Un signalement par compte et par
        initiative (le second : 409) ; les signalements sans connexion ne sont pas dédoublonnés : la
        passerelle en limitera le débit. Un signalement ne modifie pas l'initiative (sa version
        reste la même)."""
        caller = identity.current_caller()  # anonymous reports are welcome: the gateway will rate-limit them
        doc = _visible(initiative_id)
        if caller is not None and has_reported(doc, caller.subject):
            abort(409, message=ALREADY_REPORTED)
        body = load_body(ReportSchema())
        report = Report.make(body["category"], body.get("comment"), caller)
        try:
            handlers.report_initiative(initiative_id, report, _deps().uow_factory())
        except handlers.InitiativeNotFound:
            abort(404, message=NOT_FOUND)
        except AlreadyReported:
            abort(409, message=ALREADY_REPORTED)
        receipt = {"category": report.category, "at": report.at}
        if report.comment:
            receipt["comment"] = report.comment
        return receipt
