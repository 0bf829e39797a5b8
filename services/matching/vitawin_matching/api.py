"""Read-only HTTP API over the proposals. It shows ids, never contact data: the emails travel only
on the internal `proposals` stream, to the notify service."""
from __future__ import annotations

from typing import Callable, Protocol

from flask import Flask, current_app
from flask.views import MethodView
from flask_smorest import Api, Blueprint, abort
from marshmallow import Schema, fields, validate

from vitawin_common import web

from vitawin_matching import bootstrap
from vitawin_matching.domain import Proposal

MAX_LIMIT = 200


class ProposalQueries(Protocol):
    def get(self, proposal_id: str) -> Proposal | None: ...
    def list(self, request_id: str | None, volunteer_id: str | None, limit: int) -> list[Proposal]: ...


class ProposalSchema(Schema):
    proposal_id = fields.String()
    request_id = fields.String()
    volunteer_id = fields.String()
    action_type = fields.String()
    distance_km = fields.Float()
    rank = fields.Integer()
    created_at = fields.DateTime()


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
    def get(self, args):
        """Liste des propositions, filtrées par demande ou par bénévole."""
        return _queries().list(args.get("request_id"), args.get("volunteer_id"), args["limit"])


@blp.route("/<string:proposal_id>")
class ProposalItem(MethodView):
    @blp.response(200, ProposalSchema)
    @blp.alt_response(404, description="Proposition introuvable.")
    def get(self, proposal_id):
        """Une proposition."""
        proposal = _queries().get(proposal_id)
        if proposal is None:
            abort(404, message="Proposition introuvable.")
        return proposal


def _queries() -> ProposalQueries:
    return current_app.extensions["vitawin_matching"]["proposals"]


def create_app(proposals: ProposalQueries | None = None, ready: Callable[[], bool] | None = None) -> Flask:
    """Real dependencies unless given (tests pass fakes). Called in each gunicorn worker, after the fork."""
    if proposals is None or ready is None:
        config = bootstrap.settings()
        proposals = proposals or bootstrap.proposals(config)
        ready = ready or bootstrap.ready(config)
    app = Flask(__name__)
    app.config.update(web.openapi_settings("Vitawin matching"))
    app.extensions["vitawin_matching"] = {"proposals": proposals}
    api = Api(app)
    api.register_blueprint(blp)
    return web.init_app(app, bootstrap.SERVICE, ready)
