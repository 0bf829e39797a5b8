"""The /api/v1/requests blueprint: what schools and pupils of the territory ask for, with the
object-level rules of `access` (the app is assembled in `api.create_app`).

Writes check, in this order: the caller (401 anonymous, 403 wrong role), the request (404 when it
does not exist or the caller may not see it: a pupil's request never leaks, nor a hidden one), the
right to change it (403), its state (409 once closed, hidden twice...), then the body (422, French
messages naming the field).

Moderation: territory managers and the referents of a request's school hide it (with a reason)
and show it again; anyone who may read a request reports it, anonymous callers included (the
gateway is to rate-limit reports); moderators see the reports and list the reported requests."""
from __future__ import annotations

from typing import Callable

from flask import jsonify, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import ValidationError

from vitawin_common import identity

from vitawin_requests import handlers
from vitawin_requests.access import (ANONYMOUS, RequestFilter, Viewer, can_cancel, can_edit, can_moderate, can_read,
                                     feature_collection, view)
from vitawin_requests.domain import ACTIVE, STATUSES, RequestConflict, Requester, input_form
from vitawin_requests.fieldtypes import KIND_ERROR, LoadContext, deps
from vitawin_requests.inputs import load_request
from vitawin_requests.kinds import KINDS
from vitawin_requests.moderation import AlreadyReported, Moderator, Report, has_reported
from vitawin_requests.moderation_api import (REPORTED_ONLY_ROLES, HideSchema, ReportReceiptSchema, ReportSchema,
                                             body_doc, load_body)
from vitawin_requests.schemas import (CancelSchema, RequestListQuerySchema, RequestMapSchema, RequestPageSchema,
                                      RequestQuerySchema, RequestSchema)

GEOJSON = "application/geo+json"
NOT_FOUND = "Demande introuvable."
ROLE_OF = {"school": "school_referent", "pupil": "pupil"}
WRONG_ROLE = {
    "school_referent": "Seul le référent d'un établissement scolaire peut déposer une demande de ce type ({kind}).",
    "pupil": "Seul un élève peut déposer une demande de ce type ({kind}).",
}
NOT_A_MODERATOR = ("Seuls les gestionnaires de territoire et les référents de l'établissement de la demande "
                   "peuvent la masquer ou l'afficher de nouveau.")
ALREADY_REPORTED = "Vous avez déjà signalé cette demande."
REPORTED_FILTER_REFUSED = ("Le filtre reported est réservé aux gestionnaires de territoire et aux référents "
                           "d'établissement.")
INCOMPLETE_TOKEN = {
    "school_referent": "Jeton d'accès incomplet : le code UAI de l'établissement du référent manque.",
    "pupil": "Jeton d'accès incomplet : l'identifiant de l'élève et le code UAI de son établissement manquent.",
}

blp = Blueprint("requests", __name__, url_prefix="/api/v1/requests",
                description="Demandes des établissements scolaires et des élèves")


def _invalid(errors: dict):
    abort(422, errors={"json": errors})


def _json_object(optional: bool = False) -> dict:
    if optional and not request.get_data():
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        _invalid({"_schema": ["Corps JSON invalide : un objet JSON est attendu."]})
    return body


def _school(uai: str) -> dict | None:
    return deps().uow_factory().schools.get(uai)


def _unknown_school(uai: str):
    _invalid({"school_uai": [f"Établissement inconnu : {uai} n'est pas un établissement scolaire inscrit dans le "
                             f"territoire. Il doit d'abord s'inscrire dans l'annuaire des acteurs."]})


def _load(kind: str, body: dict, ctx: LoadContext):
    try:
        return load_request(kind, body, ctx)
    except ValidationError as exc:
        _invalid(exc.messages)


def _readable(request_id: str, viewer: Viewer) -> dict:
    """The stored request, or 404 when it does not exist or `viewer` may not see it."""
    doc = deps().uow_factory().requests.get(request_id)
    if doc is None or not can_read(doc, viewer):
        abort(404, message=NOT_FOUND)
    return doc


def _lifecycle(change: Callable[[], object]):
    try:
        return change()
    except handlers.RequestNotFound:
        abort(404, message=NOT_FOUND)
    except RequestConflict as exc:
        abort(409, message=str(exc))
    except handlers.ConcurrentChange:
        abort(409, message="La demande a été modifiée entre-temps : relisez-la puis recommencez.")


def _body_doc(ref: str, description: str) -> dict:
    return {"requestBody": {"required": True, "description": description,
                            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}}


@blp.route("")
class Requests(MethodView):
    @blp.arguments(RequestListQuerySchema, location="query")
    @blp.response(200, RequestPageSchema)
    def get(self, query):
        """Lister les demandes (les plus récentes d'abord), page par page

        Réponse : {items, page, page_size, total}. `school_uai` : les demandes d'un établissement
        (celles de ses élèves aussi pour son référent). Les demandes des établissements sont publiques
        (sans l'adresse e-mail du référent, sauf pour les référents de l'établissement et les
        gestionnaires de territoire) ; une demande d'élève n'y figure que pour l'élève, les
        référents de son établissement et les gestionnaires de territoire. Une demande masquée par
        la modération n'y figure que pour son auteur et ses modérateurs. `reported=true` (réservé
        aux gestionnaires de territoire et aux référents : 401 sans connexion, 403 pour un autre
        rôle) : seulement les demandes signalées que l'appelant modère, avec leurs signalements."""
        reported = query.get("reported", False)
        if reported and identity.require_caller().role not in REPORTED_ONLY_ROLES:
            abort(403, message=REPORTED_FILTER_REFUSED)
        viewer = Viewer.of(identity.current_caller())
        where = RequestFilter(viewer=viewer, kinds=query.get("kind", ()), town=query.get("town"),
                              level=query.get("level"), week=query.get("week"), rome=query.get("rome"),
                              status=query.get("status"), bbox=query.get("bbox"), reported=reported,
                              school_uai=query.get("school_uai"))
        items, total = deps().uow_factory().requests.page(where, page=query["page"], page_size=query["page_size"])
        return {"items": [view(doc, viewer) for doc in items], "page": query["page"],
                "page_size": query["page_size"], "total": total}

    @blp.doc(**_body_doc("RequestInput", "Les champs dépendent de `kind`."))
    @blp.response(201, RequestSchema)
    @blp.alt_response(401, description="Connexion requise")
    @blp.alt_response(403, description="Rôle qui ne peut pas déposer ce type de demande")
    @blp.alt_response(422, description="Données invalides, ou établissement inconnu")
    def post(self):
        """Déposer une demande

        Un établissement (par son référent) : class_testimony, class_intervention, job_fair,
        internship_hosting ; un élève : job_information, discovery_internship,
        apprenticeship_search. L'établissement est celui du jeton d'accès ; la commune et la
        position sont les siennes (ou, pour un stage autour de la commune de l'élève, le centre de
        cette commune). Les dates sont vérifiées avec le calendrier scolaire de la zone du
        territoire (jours fériés, vacances scolaires) et les semaines de stage de l'établissement.
        La demande commence ouverte (open), en version 1."""
        caller = identity.require_caller(("pupil", "school_referent"))
        body = _json_object()
        kind = body.get("kind")
        if kind is None:
            _invalid({"kind": ["Champ obligatoire."]})
        if not isinstance(kind, str) or kind not in KINDS:
            _invalid({"kind": [KIND_ERROR]})
        role = ROLE_OF[KINDS[kind].requester_kind]
        if caller.role != role:
            abort(403, message=WRONG_ROLE[role].format(kind=kind))
        if not caller.school_uai or (role == "pupil" and not caller.actor_id):
            abort(403, message=INCOMPLETE_TOKEN[role])
        school = _school(caller.school_uai)
        if school is None:
            _unknown_school(caller.school_uai)
        spec = _load(kind, body, LoadContext(school))
        created = handlers.create_request(spec, Requester(caller.actor_id, caller.subject), deps().uow_factory(),
                                          now=deps().now())
        return (view(created.to_document(), Viewer.of(caller)),
                {"Location": url_for(".RequestById", request_id=created.request_id)})


@blp.route("/map.geojson")
class RequestsMap(MethodView):
    @blp.arguments(RequestQuerySchema, location="query")
    @blp.response(200, RequestMapSchema, content_type=GEOJSON)
    def get(self, query):
        """Carte des demandes des établissements encore ouvertes (GeoJSON)

        Une FeatureCollection (RFC 7946) : un point par demande d'établissement ouverte ou en partie
        pourvue (la position de l'établissement), avec request_id, kind, action_type, town, le ou
        les niveaux et la date ou la période. Jamais de demande d'élève, jamais de demande masquée,
        jamais d'adresse e-mail."""
        where = RequestFilter.on_map(ANONYMOUS, kinds=query.get("kind", ()), town=query.get("town"),
                                     level=query.get("level"), week=query.get("week"), rome=query.get("rome"),
                                     bbox=query.get("bbox"))
        docs = deps().uow_factory().requests.on_map(where)
        response = jsonify(RequestMapSchema().dump(feature_collection(docs)))
        response.mimetype = GEOJSON
        return response


@blp.route("/<request_id>")
class RequestById(MethodView):
    @blp.response(200, RequestSchema)
    @blp.alt_response(404, description="Demande introuvable (ou demande d'élève, ou demande masquée, que "
                                       "l'appelant ne peut pas voir)")
    def get(self, request_id: str):
        """Lire une demande

        Une demande d'élève n'est lisible que par l'élève, les référents de son établissement et
        les gestionnaires de territoire : pour tout autre appelant, elle est introuvable (404). Une
        demande masquée par la modération ne reste lisible que par son auteur (l'élève, les
        référents de l'établissement) et les gestionnaires de territoire, avec `hidden`, la raison,
        le rôle de qui l'a masquée et la date. Les modérateurs (gestionnaires de territoire,
        référents de l'établissement) y lisent aussi les signalements."""
        viewer = Viewer.of(identity.current_caller())
        return view(_readable(request_id, viewer), viewer)

    @blp.doc(**_body_doc("RequestPatch", "Un ou plusieurs champs du type de la demande ; null retire un champ "
                                         "facultatif."))
    @blp.response(200, RequestSchema)
    @blp.alt_response(401, description="Connexion requise")
    @blp.alt_response(403, description="L'appelant ne peut pas modifier cette demande")
    @blp.alt_response(404, description="Demande introuvable")
    @blp.alt_response(409, description="Demande close, ou modifiée entre-temps")
    @blp.alt_response(422, description="Données invalides")
    def patch(self, request_id: str):
        """Modifier une demande ouverte ou en partie pourvue

        Les champs de son type (pas `kind`), au moins un ; la demande est vérifiée de nouveau en
        entier, comme au dépôt. Par l'élève qui l'a déposée ou un référent de son établissement ;
        pour une demande d'établissement, par un référent de cet établissement. La version augmente
        de 1."""
        caller = identity.require_caller()
        viewer = Viewer.of(caller)
        doc = _readable(request_id, viewer)
        if not can_edit(doc, viewer):
            abort(403, message="Seuls l'élève qui a déposé la demande et les référents de son établissement "
                               "peuvent la modifier." if doc["requester_kind"] == "pupil" else
                  "Seuls les référents de l'établissement peuvent modifier cette demande.")
        if doc["status"] not in ACTIVE:
            abort(409, message=f"La demande est {STATUSES[doc['status']]} : elle ne peut plus être modifiée.")
        changes = _json_object()
        if not changes:
            _invalid({"_schema": ["Indiquez au moins un champ à modifier."]})
        if "kind" in changes:
            _invalid({"kind": ["Le type d'une demande ne change pas : annulez-la et déposez-en une autre."]})
        school = _school(doc["school_uai"])
        if school is None:
            abort(409, message="L'établissement de cette demande n'est plus inscrit : elle ne peut plus être "
                               "modifiée, seulement annulée.")
        merged = _merge(doc, changes)
        spec = _load(doc["kind"], merged, LoadContext(school, accepted_count=doc.get("accepted_count", 0)))
        changed = _lifecycle(lambda: handlers.update_request(
            request_id, spec, deps().uow_factory(), expected_version=doc["version"], now=deps().now()))
        return view(changed.to_document(), viewer)


def _merge(doc: dict, changes: dict) -> dict:
    """The request as it would be posted after `changes` (null removes a field). A discovery
    internship that comes back around the school drops the town it had around the pupil's."""
    merged = {"kind": doc["kind"], **input_form(doc)}
    if changes.get("around") == "school" and "town" not in changes:
        merged.pop("town", None)
    for name, value in changes.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


@blp.route("/<request_id>/cancel")
class RequestCancel(MethodView):
    @blp.doc(**{"requestBody": {"required": False, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Cancel"}}}}})
    @blp.response(200, RequestSchema)
    @blp.alt_response(401, description="Connexion requise")
    @blp.alt_response(403, description="L'appelant ne peut pas annuler cette demande")
    @blp.alt_response(404, description="Demande introuvable")
    @blp.alt_response(409, description="Demande déjà close")
    @blp.alt_response(422, description="Raison invalide")
    def post(self, request_id: str):
        """Annuler une demande

        Définitif. Par ceux qui peuvent la modifier, et par les gestionnaires de territoire. Une
        raison facultative (300 caractères au plus) ; pour une demande d'élève, elle reste dans le
        service et n'est jamais publiée. Une demande déjà close (annulée, pourvue, expirée) répond
        409."""
        caller = identity.require_caller()
        viewer = Viewer.of(caller)
        doc = _readable(request_id, viewer)
        if not can_cancel(doc, viewer):
            abort(403, message="Vous ne pouvez pas annuler cette demande.")
        if doc["status"] not in ACTIVE:
            abort(409, message=f"La demande est déjà {STATUSES[doc['status']]} : elle ne peut plus être annulée.")
        try:
            reason = CancelSchema().load(_json_object(optional=True)).get("reason")
        except ValidationError as exc:
            _invalid(exc.messages)
        changed = _lifecycle(lambda: handlers.cancel_request(
            request_id, deps().uow_factory(), reason=reason, expected_version=doc["version"], now=deps().now()))
        return view(changed.to_document(), viewer)


@blp.route("/<request_id>/hide")
class RequestHide(MethodView):
    @blp.doc(**body_doc(HideSchema, "La raison du masquage (3 à 500 caractères)."))
    @blp.response(200, RequestSchema)
    @blp.alt_response(401, description="Connexion requise")
    @blp.alt_response(403, description="Ni gestionnaire de territoire, ni référent de l'établissement de la demande")
    @blp.alt_response(404, description="Demande introuvable")
    @blp.alt_response(409, description="Demande déjà masquée, ou modifiée entre-temps")
    @blp.alt_response(422, description="Raison manquante ou invalide")
    def post(self, request_id: str):
        """Masquer une demande (modération)

        Par un gestionnaire de territoire (toute demande) ou un référent de l'établissement de la
        demande (celles de l'établissement et de ses élèves), avec une raison. La demande garde son
        état (ouverte, en partie pourvue...) mais disparaît des listes publiques, de la carte et de
        la lecture publique, et ne reçoit plus de nouvelles propositions ; son auteur et ses
        modérateurs la voient encore, avec la raison. La version augmente de 1. Déjà masquée : 409."""
        return _moderate(request_id, hiding=True)


@blp.route("/<request_id>/unhide")
class RequestUnhide(MethodView):
    @blp.response(200, RequestSchema)
    @blp.alt_response(401, description="Connexion requise")
    @blp.alt_response(403, description="Ni gestionnaire de territoire, ni référent de l'établissement de la demande")
    @blp.alt_response(404, description="Demande introuvable")
    @blp.alt_response(409, description="Demande qui n'est pas masquée, ou modifiée entre-temps")
    def post(self, request_id: str):
        """Afficher de nouveau une demande masquée (modération)

        Par ceux qui peuvent la masquer. Elle revient dans les listes publiques et, si elle est
        encore ouverte ou en partie pourvue, sur la carte et parmi les demandes qui reçoivent des
        propositions. La version augmente de 1. Pas masquée : 409. Sans corps."""
        return _moderate(request_id, hiding=False)


def _moderate(request_id: str, hiding: bool):
    """Hide or show again, in the order every route answers: 401, 404, 403, 409, then 422."""
    caller = identity.require_caller()
    viewer = Viewer.of(caller)
    doc = _readable(request_id, viewer)
    if not can_moderate(doc, viewer):
        abort(403, message=NOT_A_MODERATOR)
    if hiding == bool(doc.get("hidden")):
        abort(409, message="La demande est déjà masquée." if hiding else "La demande n'est pas masquée.")
    moderator, uow, guard = Moderator(caller.role, caller.subject), deps().uow_factory(), {
        "expected_version": doc["version"], "now": deps().now()}
    if hiding:
        reason = load_body(HideSchema())["reason"]
        changed = _lifecycle(lambda: handlers.hide_request(request_id, reason, moderator, uow, **guard))
    else:
        changed = _lifecycle(lambda: handlers.unhide_request(request_id, moderator, uow, **guard))
    return view(changed.to_document(), viewer)


@blp.route("/<request_id>/report")
class RequestReport(MethodView):
    @blp.doc(**body_doc(ReportSchema, "La catégorie du signalement et un commentaire facultatif."))
    @blp.response(201, ReportReceiptSchema)
    @blp.alt_response(401, description="Jeton d'accès invalide (un appel sans jeton est accepté)")
    @blp.alt_response(404, description="Demande introuvable (ou que l'appelant ne peut pas voir)")
    @blp.alt_response(409, description="Demande déjà signalée par ce compte")
    @blp.alt_response(422, description="Catégorie ou commentaire invalide")
    def post(self, request_id: str):
        """Signaler une demande

        Par toute personne qui peut la lire, connectée ou non. Une catégorie (inappropriate,
        personal_data, spam, other) et un commentaire facultatif (500 caractères au plus), lu par
        les modérateurs seulement et jamais publié. Un signalement par compte et par demande (le
        second : 409) ; les signalements sans connexion ne sont pas dédoublonnés : la passerelle en
        limitera le débit. Un signalement ne modifie pas la demande (sa version reste la même)."""
        caller = identity.current_caller()  # anonymous reports are welcome: the gateway will rate-limit them
        viewer = Viewer.of(caller)
        doc = _readable(request_id, viewer)
        if caller is not None and has_reported(doc, caller.subject):
            abort(409, message=ALREADY_REPORTED)
        body = load_body(ReportSchema())
        report = Report.make(body["category"], body.get("comment"), caller, deps().now())
        try:
            handlers.report_request(request_id, report, deps().uow_factory())
        except handlers.RequestNotFound:
            abort(404, message=NOT_FOUND)
        except AlreadyReported:
            abort(409, message=ALREADY_REPORTED)
        receipt = {"category": report.category, "at": report.at}
        if report.comment:
            receipt["comment"] = report.comment
        return receipt
