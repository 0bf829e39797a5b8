"""HTTP API over the proposals: read them (ids, state and deadline, never contact data: the
e-mails travel only on the internal `proposals` stream, to the notify service), and answer them.
The professional of the proposal (role professional, the token's actor_id = the organisation of
the pledge) accepts or declines; for a pupil's request, the school's referent (role
school_referent of that school) then confirms or declines. Anyone else: 404 (a proposal's
existence is not shown to those it does not concern).

The same answers come from the links of notify's emails: `POST /<id>/link-answers` {token} with the
token of the link, signed by notify (audience `vitawin-answer-link`, issuer `vitawin-notify`) and
verified here with notify's public key (NOTIFY_LINK_PUBLIC_KEY(_FILE)). It says "the party of this
proposal clicked the link notify sent them", nothing more: the answer of the token's side, applied
exactly as the authenticated endpoints do (a replay of an applied answer changes nothing)."""
from __future__ import annotations

from typing import Callable, Protocol

from flask import Flask, current_app
from flask.views import MethodView
from flask_smorest import Api, Blueprint, abort
from marshmallow import Schema, fields, validate

from vitawin_common import identity, web

from vitawin_matching import answers, bootstrap
from vitawin_matching.domain import Proposal
from vitawin_matching.handlers import ConcurrentAnswer
from vitawin_matching.stats_api import ProposalStatsSource, stats_blp
from vitawin_matching.workflow import REQUESTER, STATUSES, VOLUNTEER, ProposalConflict

MAX_LIMIT = 200


class ProposalQueries(Protocol):
    # scope: equalities on the stored proposal that the caller may see (visible_scope); {} = all
    def get(self, proposal_id: str, scope: dict | None = None) -> Proposal | None: ...
    def list(self, request_id: str | None, volunteer_id: str | None, limit: int,
             scope: dict | None = None) -> list[Proposal]: ...


READERS = ("professional", "school_referent", "territory_manager")


def visible_scope(caller: identity.Caller) -> dict | None:
    """What `caller` may read of the proposals: a professional those of its organisation's
    pledges, a school's referent those of the school's requests (its pupils' included), a
    territory manager all ({}); None for anyone else (a pupil sees where its request stands in
    the requests service; partners get public events, never proposals)."""
    if caller.role == "territory_manager":
        return {}
    if caller.role == "professional" and caller.actor_id:
        return {"volunteer_actor_id": caller.actor_id}
    if caller.role == "school_referent" and caller.school_uai:
        return {"school_uai": caller.school_uai}
    return None


class ProposalSchema(Schema):
    proposal_id = fields.String()
    request_id = fields.String()
    volunteer_id = fields.String()
    action_type = fields.String()
    distance_km = fields.Float()
    rank = fields.Integer()
    created_at = fields.DateTime()
    score = fields.Float(allow_none=True, metadata={"description": "Adéquation, de 0 à 1 (1 : la meilleure)"})
    reasons = fields.List(fields.String(), metadata={"description": "Raisons de la proposition, en français",
                                                     "example": ["à 1,2 km", "métier : Boulanger / Boulangère (D1102)"]})
    status = fields.String(metadata={"description": "État de la proposition"})
    deadline = fields.DateTime(allow_none=True, metadata={"description": "Date limite de réponse du professionnel"})


class ProposalStateSchema(Schema):
    proposal_id = fields.String()
    request_id = fields.String()
    volunteer_id = fields.String()
    status = fields.String(metadata={"description": "État : " + ", ".join(f"{k} ({v})" for k, v in STATUSES.items())})
    deadline = fields.DateTime(metadata={"description": "Date limite de réponse du professionnel"})
    version = fields.Integer()


class LinkAnswerSchema(Schema):
    token = fields.String(required=True, validate=validate.Length(1, 4096, error="Jeton invalide."),
                          error_messages={"required": "Indiquez le jeton du lien (token)."},
                          metadata={"description": "Jeton du lien de réponse envoyé par e-mail (service notify)"})


class ProposalQuerySchema(Schema):
    request_id = fields.String(validate=validate.Length(1, 64, error="Identifiant invalide (1 à 64 caractères)."))
    volunteer_id = fields.String(validate=validate.Length(1, 64, error="Identifiant invalide (1 à 64 caractères)."))
    limit = fields.Integer(load_default=50, validate=validate.Range(
        1, MAX_LIMIT, error=f"Doit être compris entre 1 et {MAX_LIMIT}."))


blp = Blueprint("proposals", __name__, url_prefix="/api/v1/proposals",
                description="Propositions de bénévoles pour les demandes des établissements et des élèves.")


@blp.route("")
class ProposalList(MethodView):
    @blp.arguments(ProposalQuerySchema, location="query")
    @blp.response(200, ProposalSchema(many=True))
    @blp.alt_response(401, description="Connexion requise.")
    @blp.alt_response(403, description="Rôle sans accès aux propositions (élève, partenaire).")
    def get(self, args):
        """Liste des propositions, filtrées par demande ou par bénévole

        Le professionnel voit les propositions faites à son organisation, le référent celles des
        demandes de son établissement, le gestionnaire de territoire toutes."""
        scope = visible_scope(identity.require_caller(READERS))
        if scope is None:
            abort(403, message="Vous ne pouvez pas consulter ces propositions.")
        return _queries().list(args.get("request_id"), args.get("volunteer_id"), args["limit"], scope=scope)


@blp.route("/<string:proposal_id>")
class ProposalItem(MethodView):
    @blp.response(200, ProposalSchema)
    @blp.alt_response(404, description="Proposition introuvable.")
    def get(self, proposal_id):
        """Une proposition (de votre organisation, ou d'une demande de votre établissement)."""
        scope = visible_scope(identity.require_caller())
        proposal = _queries().get(proposal_id, scope=scope) if scope is not None else None
        if proposal is None:  # absent, or not the caller's: its existence is not shown
            abort(404, message="Proposition introuvable.")
        return proposal


def _answer(proposal_id: str, accept: bool):
    caller = identity.require_caller(["professional", "school_referent"])
    deps = current_app.extensions["vitawin_matching"]
    uow = deps["uow_factory"]()
    loaded = uow.proposals.load(proposal_id)
    side = _side(caller, loaded[1]) if loaded else None
    if side is None:
        abort(404, message="Proposition introuvable.")
    return _apply(uow, proposal_id, side, accept)


def _apply(uow, proposal_id: str, side: str, accept: bool):
    """`side`'s answer through answers.answer, its failures as French 404 and 409."""
    deps = current_app.extensions["vitawin_matching"]
    try:
        return answers.answer(uow, proposal_id, side, accept, offer_of=deps.get("offer_of"))
    except answers.ProposalNotFound:
        abort(404, message="Proposition introuvable.")
    except ProposalConflict as exc:
        abort(409, message=str(exc))
    except ConcurrentAnswer:
        abort(409, message="La proposition a changé entre-temps : rechargez-la et recommencez.")


def _side(caller: identity.Caller, doc: dict) -> str | None:
    """The side the caller answers for, or None when the proposal does not concern them."""
    if caller.role == "professional" and caller.actor_id and caller.actor_id == doc.get("volunteer_actor_id"):
        return VOLUNTEER
    if caller.role == "school_referent" and caller.school_uai and caller.school_uai == doc.get("school_uai"):
        return REQUESTER
    return None


@blp.route("/<string:proposal_id>/accept")
class ProposalAccept(MethodView):
    @blp.response(200, ProposalStateSchema)
    @blp.alt_response(404, description="Proposition introuvable, ou qui ne vous concerne pas.")
    @blp.alt_response(409, description="Déjà refusée ou expirée, ou capacité d'accueil atteinte.")
    def post(self, proposal_id):
        """Accepter une proposition

        Le professionnel accepte ; pour la demande d'un élève, le référent de l'établissement
        confirme ensuite (jusque-là, l'état est awaiting_confirmation). Accepter deux fois ne
        change rien."""
        return _answer(proposal_id, accept=True)


@blp.route("/<string:proposal_id>/decline")
class ProposalDecline(MethodView):
    @blp.response(200, ProposalStateSchema)
    @blp.alt_response(404, description="Proposition introuvable, ou qui ne vous concerne pas.")
    @blp.alt_response(409, description="Déjà acceptée ou expirée.")
    def post(self, proposal_id):
        """Refuser une proposition

        Le professionnel, ou le référent de l'établissement, refuse : un autre professionnel est
        alors proposé pour la demande."""
        return _answer(proposal_id, accept=False)


LINK_AUDIENCE = "vitawin-answer-link"
LINK_ISSUER = "vitawin-notify"
LINK_ANSWERS = {"accept": True, "decline": False}


def _link_answer(token: str, proposal_id: str) -> tuple[str, bool]:
    """(side, accept) of an answer link's token for `proposal_id`; 401 in French otherwise."""
    key = current_app.extensions["vitawin_matching"].get("link_key")
    if key is None:
        abort(503, message="Les réponses par lien ne sont pas encore configurées sur ce service.")
    try:
        claims = identity.verify_signed(token, key, audience=LINK_AUDIENCE, issuer=LINK_ISSUER,
                                        require=("iss", "aud", "exp", "jti"))
    except identity.ExpiredToken:
        abort(401, message="Lien expiré : le délai de réponse à cette proposition est passé.")
    except identity.InvalidToken:
        abort(401, message="Lien de réponse invalide.")
    side, answer = claims.get("side"), claims.get("answer")
    if side not in (VOLUNTEER, REQUESTER) or answer not in LINK_ANSWERS:
        abort(401, message="Lien de réponse invalide.")
    if claims.get("proposal_id") != proposal_id:
        abort(401, message="Ce lien de réponse concerne une autre proposition.")
    return side, LINK_ANSWERS[answer]


@blp.route("/<string:proposal_id>/link-answers")
class ProposalLinkAnswer(MethodView):
    @blp.arguments(LinkAnswerSchema)
    @blp.response(200, ProposalStateSchema)
    @blp.alt_response(401, description="Lien invalide, expiré, ou d'une autre proposition.")
    @blp.alt_response(404, description="Proposition introuvable.")
    @blp.alt_response(409, description="Déjà refusée, acceptée ou expirée, ou capacité d'accueil atteinte.")
    def post(self, body, proposal_id):
        """Répondre par le lien d'un e-mail

        Le service notify transmet le jeton du lien cliqué (accepter ou refuser, côté
        professionnel ou établissement) ; la réponse est appliquée comme par l'API authentifiée.
        Le même lien rejoué ne change rien."""
        side, accept = _link_answer(body["token"], proposal_id)
        uow = current_app.extensions["vitawin_matching"]["uow_factory"]()
        return _apply(uow, proposal_id, side, accept)


def _queries() -> ProposalQueries:
    return current_app.extensions["vitawin_matching"]["proposals"]


def create_app(proposals: ProposalQueries | None = None, ready: Callable[[], bool] | None = None,
               uow_factory: Callable | None = None, offer_of: Callable | None = None,
               link_key: bytes | str | None = None, stats: ProposalStatsSource | None = None) -> Flask:
    """Real dependencies unless given (tests pass fakes). Called in each gunicorn worker, after the fork.
    `link_key`: notify's public key for the answer links (PEM), from NOTIFY_LINK_PUBLIC_KEY(_FILE)
    unless given; without one, link answers get a 503. `stats`: what the dashboard's counts read
    (stats_api; the Mongo one, made on first use, unless given)."""
    if proposals is None or ready is None or uow_factory is None:
        config = bootstrap.settings()
        proposals = proposals or bootstrap.proposals(config)
        ready = ready or bootstrap.ready(config)
        uow_factory = uow_factory or bootstrap.unit_of_work_factory(config)
        offer_of = offer_of or bootstrap.offer_of(config)
    app = Flask(__name__)
    app.config.update(web.openapi_settings("Vitawin matching"))
    link_key = link_key or bootstrap.link_public_key()
    app.extensions["vitawin_matching"] = {"proposals": proposals, "uow_factory": uow_factory, "offer_of": offer_of,
                                          "link_key": identity.load_public_key(link_key) if link_key else None,
                                          "stats": stats}
    api = Api(app)
    api.register_blueprint(blp)
    api.register_blueprint(stats_blp)  # /api/v1/proposals/stats (territory managers' dashboard)
    return web.init_app(app, bootstrap.SERVICE, ready)
