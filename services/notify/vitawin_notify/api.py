"""Ops view of what notify sent: `GET /api/v1/notifications/deliveries?proposal_id=...`.
It shows templates, statuses and dates, never an address."""
from __future__ import annotations

from typing import Callable

from flask import Flask
from flask.views import MethodView
from flask_smorest import Api, Blueprint
from marshmallow import Schema, fields, validate

from vitawin_common import mongo, web

from vitawin_notify import bootstrap


class DeliveriesQuery(Schema):
    proposal_id = fields.String(
        required=True, validate=validate.Length(min=1, max=64, error="Entre 1 et 64 caractères."),
        error_messages={"required": "Indiquez l'identifiant de la proposition (proposal_id)."},
        metadata={"description": "Identifiant de la proposition"},
    )


class DeliverySchema(Schema):
    template = fields.String(metadata={"example": "proposal_to_volunteer"})
    status = fields.String(metadata={"example": "sent"})
    sent_at = fields.DateTime()


def create_app(deliveries=None, ready: Callable[[], bool] | None = None) -> Flask:
    """`deliveries` (anything with `for_proposal(proposal_id)`) and `ready` default to MongoDB,
    reached lazily so that each gunicorn worker makes its own client."""
    app = Flask(__name__)
    app.config.update(web.openapi_settings("Vitawin notify"))
    config = bootstrap.settings() if deliveries is None or ready is None else None
    repository = (lambda: deliveries) if deliveries is not None else (lambda: bootstrap.deliveries(config))

    blp = Blueprint("notifications", __name__, url_prefix="/api/v1/notifications",
                    description="Suivi des e-mails envoyés (sans aucune adresse).")

    @blp.route("/deliveries")
    class Deliveries(MethodView):
        @blp.arguments(DeliveriesQuery, location="query")
        @blp.response(200, DeliverySchema(many=True))
        def get(self, query):
            """E-mails envoyés pour une proposition"""
            return repository().for_proposal(query["proposal_id"])

    Api(app).register_blueprint(blp)
    return web.init_app(app, bootstrap.SERVICE, ready or (lambda: mongo.ping(config)))
