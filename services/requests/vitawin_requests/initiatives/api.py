"""/api/v1/initiatives: co-built initiatives and calls for projects (publish, read, list, map, edit,
close, join or apply, leave; moderation: hide, show again, report).

Wiring: register `blueprint` on the service's flask-smorest Api and put an `InitiativeDependencies`
in `app.extensions[EXTENSION]` (`uow_factory`: a callable returning a unit of work with an
`initiatives` repository; `territory`; `today`: a callable returning the territory's date).
Callers are read with `vitawin_common.identity` (the app needs `identity.init_app`, which
`vitawin_common.web.init_app` does)."""
from __future__ import annotations

import functools
from typing import Callable

from flask import jsonify, url_for
from flask.views import MethodView
from flask_smorest import Blueprint, abort

from vitawin_common import identity

from vitawin_requests.initiatives import handlers
from vitawin_requests.initiatives.domain import Initiative, Party, PublishInitiative
from vitawin_requests.initiatives.filters import InitiativeFilter, feature_collection
from vitawin_requests.initiatives.rules import (PARTICIPANT_ROLES, PUBLISHER_ROLES, TERRITORY_MANAGER, ConcurrentChange,
                                                InitiativeConflict, InvalidInitiative, NotAllowed,
                                                ParticipationNotFound)
from vitawin_requests.initiatives.schemas import (EXTENSION, InitiativeDependencies, InitiativeJoinSchema,
                                                  InitiativeMapQuerySchema, InitiativeMapSchema, InitiativePageSchema,
                                                  InitiativePatchSchema, InitiativeQuerySchema, InitiativeSchema,
                                                  dependencies)
from vitawin_requests.moderation import AlreadyReported, Moderator, Report, has_reported
from vitawin_requests.moderation_api import HideSchema, ReportReceiptSchema, ReportSchema, body_doc, load_body

GEOJSON = "application/geo+json"
NOT_FOUND = "Initiative introuvable."

__all__ = ["EXTENSION", "InitiativeDependencies", "blueprint"]


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
    doc = dependencies().uow_factory().initiatives.get(initiative_id)
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
        items, total = dependencies().uow_factory().initiatives.page(flt, page=query["page"], page_size=query["page_size"])
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
        deps = dependencies()
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
        response = jsonify(feature_collection(dependencies().uow_factory().initiatives.on_map(flt)))
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
        deps = dependencies()
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
        return _run(lambda: handlers.close_initiative(initiative_id, _party(), dependencies().uow_factory())).view(_party())


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
        deps = dependencies()
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
        deps = dependencies()
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
        return _run(lambda: handlers.hide_initiative(initiative_id, reason, moderator, dependencies().uow_factory())
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
        return _run(lambda: handlers.unhide_initiative(initiative_id, moderator, dependencies().uow_factory())
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
            handlers.report_initiative(initiative_id, report, dependencies().uow_factory())
        except handlers.InitiativeNotFound:
            abort(404, message=NOT_FOUND)
        except AlreadyReported:
            abort(409, message=ALREADY_REPORTED)
        receipt = {"category": report.category, "at": report.at}
        if report.comment:
            receipt["comment"] = report.comment
        return receipt
