"""/api/v1/volunteers: professionals pledge to act for pupils of the territory (register, list,
read, edit, pause, resume, withdraw).

Who may do what (the rules are `vitawin_actors.access`; tokens are checked with
`vitawin_common.identity`):
- listing and reading pledges is public;
- registering a pledge (POST) is for a professional whose token names its organisation, for that
  organisation only (the pledge's `actor_id` is the token's: taken from the token when the body
  gives none, 403 when the body gives another), and for territory managers (any `actor_id`, or
  none: imports, moderation); anonymous callers get a 401, everyone else a 403 in French;
- editing (PATCH), pausing, resuming and withdrawing (DELETE) a pledge are for the professional of
  its organisation (token `actor_id` = the pledge's `actor_id`) and for territory managers; moving a
  pledge to another organisation or unlinking it (`actor_id` in a PATCH) for territory managers
  only.

Registering checks the caller (401 when anonymous, with WWW-Authenticate; then 403, reading the
body's `actor_id` as sent) before the body is validated (422): a refused registration stores and
publishes nothing, and its body is not even validated. When the organisation comes from the token,
it is checked as a sent `actor_id` is (422 on `actor_id` if the directory does not hold it as an
organisation, or erased it).

The four changes check, in this order, as the requests service does: the caller (401 when
anonymous, with WWW-Authenticate), the pledge (404 when it does not exist: pledges are public, so
this tells nobody anything), the caller's right to change it (403 in French; for a PATCH, also the
right to change `actor_id`, read from the body as sent), the pledge's state (409 once withdrawn),
and only then the body (422). A refused caller changes nothing, and the body of a refused PATCH is
not even validated. The change is then made only if the pledge is still at the version the caller
was authorised on (409 otherwise: it changed in between)."""
from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Callable

from flask import request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, ValidationError, fields, missing, post_load, validate, validates_schema

from vitawin_common import identity
from vitawin_common.territory import InvalidPlace, Location

from vitawin_actors import access, handlers
from vitawin_actors.api.actions import ActionsSchema
from vitawin_actors.api.fields import (ACTION_CHOICES, ACTION_TYPE, BBOX_DESCRIPTION, BBOX_EXAMPLE, NUMBER,
                                       BoundingBoxField, RomeCode, VolunteerLocationSchema, _choice, _choices, _deps,
                                       _known_town, _page_number, _page_size)
from vitawin_actors.domain import (AUDIENCES, DEFAULT_MAX_DISTANCE_KM, MAX_DISTANCE_KM, ORGANISATION_KINDS, STATUSES,
                                   PledgeConflict, PledgeFilter, RegisterVolunteer, check_location, is_erased)


def _unique(values: list) -> None:
    if len(set(values)) != len(values):
        raise ValidationError("Chaque type d'action ne doit figurer qu'une fois.")


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


AUDIENCE_FILTER = ("Public d'une action : college (actions ouvertes aux collégiens : public college ou all), "
                   "lycee (ouvertes aux lycéens : lycee ou all), all (ouvertes aux deux : public all "
                   "seulement) ; sans ce paramètre, tous les publics")


class VolunteerQuerySchema(Schema):
    """The filters of the list (a domain.PledgeFilter once loaded, with the page asked for)."""
    town = fields.String(validate=_known_town, metadata={
        "description": "Code INSEE d'une commune du territoire", "example": "94080"})
    action_type = fields.String(validate=ACTION_TYPE, metadata={
        "description": f"Type d'action proposée : {ACTION_CHOICES} ; rome et audience portent alors sur "
                       f"cette action"})
    rome = RomeCode(metadata={"description": "Code ROME d'un métier d'une action (référentiel ROME de "
                                             "France Travail)", "example": "D1102"})
    audience = fields.String(validate=_choice(AUDIENCES, "Public inconnu"), metadata={"description": AUDIENCE_FILTER})
    status = fields.String(validate=_choice(STATUSES, "Statut inconnu"), metadata={
        "description": f"Statut : {_choices(STATUSES)} (par défaut, tous)"})
    bbox = BoundingBoxField(metadata={"description": f"{BBOX_DESCRIPTION} : seuls les engagements dont le lieu "
                                                     f"d'accueil est dedans", "example": BBOX_EXAMPLE})
    page = _page_number()
    page_size = _page_size("Engagements")

    @post_load
    def to_filter(self, data, **kwargs) -> dict:
        page, page_size, rome = data.pop("page"), data.pop("page_size"), data.pop("rome", None)
        return {"where": PledgeFilter(rome=rome.code if rome else None, **data), "page": page,
                "page_size": page_size}


class VolunteerPageSchema(Schema):
    items = fields.List(fields.Nested(VolunteerSchema), metadata={"description": "Les plus récents d'abord"})
    page = fields.Integer()
    page_size = fields.Integer()
    total = fields.Integer(metadata={"description": "Nombre d'engagements correspondant aux filtres, toutes pages"})


blp = Blueprint("volunteers", __name__, url_prefix="/api/v1/volunteers",
                description="Engagements des professionnels volontaires")

UNAUTHORISED = "Connexion requise"
REGISTRATION_REFUSED = ("L'appelant n'est ni un professionnel dont le jeton d'accès nomme l'organisation (et "
                        "actor_id, s'il est donné, est celui du jeton), ni un gestionnaire de territoire")


def _registration_guarded(view):
    """The POST view behind its caller checks (401 anonymous, 403 as access.registration_refused
    says, reading the body's actor_id as sent): runs before the body is parsed and validated, so it
    must be the outermost decorator (functools.wraps keeps flask-smorest's documentation)."""
    @functools.wraps(view)
    def checked(*args, **kwargs):
        refused = access.registration_refused(identity.require_caller(), request.get_json(silent=True))
        if refused is not None:
            abort(403, message=refused)
        return view(*args, **kwargs)
    return checked


def _organisation_of_token(command: RegisterVolunteer) -> RegisterVolunteer:
    """`command` with the organisation of the caller's token when the body named none and the caller
    is a professional (checked as a sent actor_id is: 422 on actor_id otherwise)."""
    caller = identity.require_caller()  # already checked: the caller of this request
    if command.actor_id is not None or caller.role != access.PROFESSIONAL:
        return command
    try:
        _registered_organisation(caller.actor_id)
    except ValidationError as exc:
        abort(422, errors={"json": {"actor_id": [f"Organisation du jeton d'accès : {message}"
                                                 for message in exc.messages]}})
    return dataclasses.replace(command, actor_id=caller.actor_id)


@blp.route("")
class Volunteers(MethodView):
    @blp.arguments(VolunteerQuerySchema, location="query")
    @blp.response(200, VolunteerPageSchema)
    def get(self, query):
        """Lister les engagements (les plus récents d'abord), page par page

        Réponse : {items, page, page_size, total}. Les filtres se cumulent. `rome` et `audience`
        portent sur une même action de l'engagement : celle de `action_type` s'il est donné ;
        sinon, l'une au moins de ses actions doit remplir à elle seule ces deux conditions (celles
        qui sont données). Un engagement enregistré sans statut est actif ; une action sans
        réglages a le public all et aucun code ROME."""
        items, total = _deps().uow_factory().volunteers.page(query["where"], page=query["page"],
                                                              page_size=query["page_size"])
        return {"items": items, "page": query["page"], "page_size": query["page_size"], "total": total}

    @_registration_guarded
    @blp.arguments(VolunteerSchema)
    @blp.response(201, VolunteerSchema)
    @blp.alt_response(401, description=UNAUTHORISED)
    @blp.alt_response(403, description=REGISTRATION_REFUSED)
    def post(self, command: RegisterVolunteer):
        """Enregistrer l'engagement d'un professionnel

        Par un professionnel connecté, pour sa propre organisation : celle que nomme son jeton
        d'accès (actor_id). Si le corps ne donne pas `actor_id`, l'engagement est lié à cette
        organisation ; s'il en donne une autre, l'appel est refusé (403). Un gestionnaire de
        territoire enregistre un engagement pour n'importe quelle organisation, ou pour aucune
        (imports, modération). L'appelant est vérifié avant le corps : un appel refusé n'enregistre
        rien.

        Un engagement par professionnel, avec plusieurs actions : `action_types` les liste, `actions`
        donne les réglages de chacune (métiers ROME, public, modalité, distance, plafond de mises
        en relation par semaine, puis ceux propres au type d'action). Une action sans réglages
        prend les valeurs par défaut. L'engagement commence actif, en version 1."""
        command = _organisation_of_token(command)
        pledge = handlers.register_volunteer(command, _deps().uow_factory())
        return pledge.to_document(), {"Location": url_for(".VolunteerById", volunteer_id=pledge.volunteer_id)}


NOT_FOUND = "Engagement introuvable."
WITHDRAWN = "L'engagement a été retiré : il ne peut plus être modifié."


def _guarded(operation: str):
    """The view of `operation` (a key of access.OPERATIONS) on /<volunteer_id>, behind its checks:
    401 anonymous, 404 unknown pledge, 403 when the caller may not change it (for "edit": nor
    change its actor_id as the body asks; then 409 once withdrawn). Runs before the body is parsed
    and validated, so it must be the outermost decorator (functools.wraps keeps flask-smorest's
    documentation). The view gets the pledge as checked: `pledge` (the stored document)."""
    def decorate(view):
        @functools.wraps(view)
        def checked(self, *args, volunteer_id: str, **kwargs):
            caller = identity.require_caller()
            pledge = _deps().uow_factory().volunteers.get(volunteer_id)
            if pledge is None:
                abort(404, message=NOT_FOUND)
            refused = access.change_refused(pledge, caller, operation)
            if refused is None and operation == "edit":
                refused = access.relink_refused(pledge, caller, request.get_json(silent=True))
            if refused is not None:
                abort(403, message=refused)
            if operation == "edit" and pledge.get("status") == "withdrawn":
                abort(409, message=WITHDRAWN)
            return view(self, *args, volunteer_id=volunteer_id, pledge=pledge, **kwargs)
        return checked
    return decorate


def _lifecycle(change: Callable, volunteer_id: str, pledge: dict):
    """Apply `change` (a handler) to the pledge, at the version `pledge` (as checked) has."""
    try:
        changed = change(volunteer_id, _deps().uow_factory(), expected_version=int(pledge.get("version", 1)))
        return changed.to_document()
    except handlers.VolunteerNotFound:
        abort(404, message=NOT_FOUND)
    except PledgeConflict as exc:
        abort(409, message=str(exc))
    except handlers.ConcurrentChange:
        abort(409, message="L'engagement a été modifié entre-temps : relisez-le puis recommencez.")


REFUSED = ("L'appelant n'est ni le professionnel de l'organisation de l'engagement, ni un gestionnaire de "
           "territoire")


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

    @_guarded("edit")
    @blp.arguments(VolunteerPatchSchema)
    @blp.response(200, VolunteerSchema)
    @blp.alt_response(401, description=UNAUTHORISED)
    @blp.alt_response(403, description=f"{REFUSED} ; ou il change actor_id sans être gestionnaire de "
                                        f"territoire")
    @blp.alt_response(404, description="Engagement introuvable")
    @blp.alt_response(409, description="Engagement retiré, ou modifié entre-temps")
    def patch(self, changes: dict, volunteer_id: str, pledge: dict):
        """Modifier un engagement

        Par le professionnel de l'organisation de l'engagement (jeton d'accès dont l'actor_id est
        celui de l'engagement) ou un gestionnaire de territoire ; changer `actor_id` (rattacher
        l'engagement à une autre organisation, ou l'en détacher avec null) est réservé aux
        gestionnaires de territoire. N'importe quel champ, au moins un, vérifié comme à
        l'inscription. Une entrée de `actions` remplace tous les réglages de cette action ; les
        autres actions gardent les leurs. Un type d'action retiré de `action_types` perd ses
        réglages. Chaque modification augmente la version de 1 ; un engagement retiré ne se
        modifie plus (409)."""
        errors = _patch_errors(changes, pledge)
        if errors:
            abort(422, errors={"json": errors})
        return _lifecycle(lambda vid, uow, **kw: handlers.update_volunteer(vid, changes, uow, **kw), volunteer_id,
                          pledge)

    @_guarded("withdraw")
    @blp.response(204)
    @blp.alt_response(401, description=UNAUTHORISED)
    @blp.alt_response(403, description=REFUSED)
    @blp.alt_response(404, description="Engagement introuvable")
    @blp.alt_response(409, description="Engagement déjà retiré, ou modifié entre-temps")
    def delete(self, volunteer_id: str, pledge: dict):
        """Retirer un engagement

        Par le professionnel de l'organisation de l'engagement ou un gestionnaire de territoire.
        Définitif : l'engagement passe au statut withdrawn, reste lisible pour l'historique et
        n'est plus proposé. Un second retrait répond 409."""
        _lifecycle(handlers.withdraw_volunteer, volunteer_id, pledge)


@blp.route("/<volunteer_id>/pause")
class VolunteerPause(MethodView):
    @_guarded("pause")
    @blp.response(200, VolunteerSchema)
    @blp.alt_response(401, description=UNAUTHORISED)
    @blp.alt_response(403, description=REFUSED)
    @blp.alt_response(404, description="Engagement introuvable")
    @blp.alt_response(409, description="Engagement déjà en pause, ou retiré, ou modifié entre-temps")
    def post(self, volunteer_id: str, pledge: dict):
        """Mettre un engagement en pause (il n'est plus proposé jusqu'à sa reprise)

        Par le professionnel de l'organisation de l'engagement ou un gestionnaire de territoire."""
        return _lifecycle(handlers.pause_volunteer, volunteer_id, pledge)


@blp.route("/<volunteer_id>/resume")
class VolunteerResume(MethodView):
    @_guarded("resume")
    @blp.response(200, VolunteerSchema)
    @blp.alt_response(401, description=UNAUTHORISED)
    @blp.alt_response(403, description=REFUSED)
    @blp.alt_response(404, description="Engagement introuvable")
    @blp.alt_response(409, description="Engagement déjà actif, ou retiré, ou modifié entre-temps")
    def post(self, volunteer_id: str, pledge: dict):
        """Reprendre un engagement en pause

        Par le professionnel de l'organisation de l'engagement ou un gestionnaire de territoire."""
        return _lifecycle(handlers.resume_volunteer, volunteer_id, pledge)
