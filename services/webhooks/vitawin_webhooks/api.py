"""HTTP API of the partners' webhooks, under /api/v1/webhooks (through the gateway).

A partner (role partner) registers HTTPS endpoints with the public event types and the towns it
wants, and sees and changes only its own subscriptions (another partner's answer 404, as if they
did not exist); territory managers read every subscription and its deliveries, and change none.
Everyone else: 403 (401 anonymous).

- GET /event-types: the public event types (contracts/partners.asyncapi.yaml);
- POST /subscriptions {url, event_types, towns, label?} -> 201 with the signing secret, shown once;
- GET /subscriptions, GET|PATCH|DELETE /subscriptions/<id> (PATCH: url, event_types, towns, label,
  status active|paused; `active` also resumes a subscription flagged failing);
- GET /subscriptions/<id>/deliveries?status=&limit=;
- POST /subscriptions/<id>/replay {since}: every stored event since then that the subscription
  wants, delivered again (the same webhook-id: a partner that kept it drops it);
- POST /subscriptions/<id>/rotate-secret {grace_hours?}: a new secret, shown once; the old one
  keeps signing alongside it for the grace period (24 h by default)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Callable

from flask import Flask, current_app
from flask.views import MethodView
from flask_smorest import Api, Blueprint, abort
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from vitawin_common import identity, territory, web

from vitawin_webhooks import bootstrap, domain, handlers, public

MAX_LIMIT = 200
MAX_REPLAY = 10_000
REPLAY_WINDOW = timedelta(days=30)
EXTENSION = "vitawin_webhooks"


@lru_cache(maxsize=1)
def _territory_towns() -> frozenset[str]:
    return frozenset(territory.load().towns)


def _check_town(value: str) -> None:
    if value not in current_app.extensions[EXTENSION]["towns"]():
        raise ValidationError(f"Commune inconnue du territoire : {value} (code INSEE attendu).")


EVENT_TYPE = fields.String(validate=validate.OneOf(sorted(public.TYPES), error="Type d'événement inconnu : {input}."))
TOWN = fields.String(validate=_check_town, metadata={"description": "Code INSEE d'une commune du territoire"})


class SubscriptionCreateSchema(Schema):
    url = fields.String(required=True, error_messages={"required": "Indiquez l'adresse HTTPS qui recevra les événements."},
                        metadata={"description": "Adresse HTTPS qui recevra les événements (POST)",
                                  "example": "https://partenaire.example/vitawin/webhooks"})
    event_types = fields.List(EVENT_TYPE, required=True, validate=validate.Length(
        1, len(public.TYPES), error="Choisissez au moins un type d'événement."),
        error_messages={"required": "Choisissez au moins un type d'événement."},
        metadata={"description": "Types d'événements publics voulus"})
    towns = fields.List(TOWN, required=True, validate=validate.Length(1, 200, error="Choisissez au moins une commune."),
                        error_messages={"required": "Choisissez au moins une commune."},
                        metadata={"description": "Communes voulues (codes INSEE)"})
    label = fields.String(validate=validate.Length(1, 100, error="Libellé de 1 à 100 caractères."),
                          metadata={"description": "Libellé libre, pour vous y retrouver"})


class SubscriptionPatchSchema(Schema):
    url = fields.String(metadata={"description": "Nouvelle adresse HTTPS"})
    event_types = fields.List(EVENT_TYPE, validate=validate.Length(
        1, len(public.TYPES), error="Choisissez au moins un type d'événement."))
    towns = fields.List(TOWN, validate=validate.Length(1, 200, error="Choisissez au moins une commune."))
    label = fields.String(validate=validate.Length(1, 100, error="Libellé de 1 à 100 caractères."))
    status = fields.String(validate=validate.OneOf(
        [domain.ACTIVE, domain.PAUSED], error="Statut possible : active (reprendre) ou paused (mettre en pause)."),
        metadata={"description": "active : reprendre (aussi après un échec) ; paused : mettre en pause"})

    @validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ValidationError("Indiquez au moins un champ à modifier.")


class SubscriptionSchema(Schema):
    subscription_id = fields.String()
    owner = fields.String(metadata={"description": "Le partenaire (son organisation, ou sa clé d'API)"})
    url = fields.String()
    label = fields.String()
    event_types = fields.List(fields.String())
    towns = fields.List(fields.String())
    status = fields.String(metadata={"description": "État : " + ", ".join(
        f"{k} ({v})" for k, v in domain.SUBSCRIPTION_STATUSES.items())})
    failing_since = fields.DateTime(metadata={"description": "Depuis quand une livraison a été abandonnée"})
    previous_secret_expires_at = fields.DateTime(
        metadata={"description": "Fin de validité de l'ancien secret, après une rotation"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class SecretSchema(SubscriptionSchema):
    secret = fields.String(metadata={"description": "Secret de signature (whsec_…), affiché cette fois seulement"})


class DeliverySchema(Schema):
    delivery_id = fields.String()
    event_id = fields.String(metadata={"description": "Identifiant de l'événement (en-tête webhook-id)"})
    event_type = fields.String()
    town = fields.String()
    status = fields.String(metadata={"description": "État : " + ", ".join(
        f"{k} ({v})" for k, v in domain.DELIVERY_STATUSES.items())})
    attempts = fields.Integer()
    replay = fields.Boolean()
    created_at = fields.DateTime()
    next_attempt_at = fields.DateTime(allow_none=True)
    last_attempt_at = fields.DateTime(allow_none=True)
    last_status_code = fields.Integer(allow_none=True, metadata={"description": "Statut HTTP de la dernière réponse"})
    last_error = fields.String(allow_none=True, metadata={
        "description": "Dernière erreur : timeout, connection, tls, http_status, redirect, other"})
    delivered_at = fields.DateTime(allow_none=True)
    dead_at = fields.DateTime(allow_none=True)


class DeliveryQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(list(domain.DELIVERY_STATUSES),
                                                   error="Statut possible : {choices}."))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, MAX_LIMIT, error=f"Doit être compris entre 1 et {MAX_LIMIT}."))


class SubscriptionQuerySchema(Schema):
    owner = fields.String(validate=validate.Length(1, 64, error="Identifiant invalide (1 à 64 caractères)."),
                          metadata={"description": "Gestionnaires de territoire : les abonnements d'un partenaire"})
    limit = fields.Integer(load_default=50, validate=validate.Range(1, MAX_LIMIT, error=f"Doit être compris entre 1 et {MAX_LIMIT}."))


class ReplaySchema(Schema):
    since = fields.AwareDateTime(required=True, default_timezone=timezone.utc,
                                 error_messages={"required": "Indiquez la date à partir de laquelle renvoyer (since).",
                                                 "invalid": "Date invalide (ISO 8601 attendu)."},
                                 metadata={"description": "Renvoyer les événements publiés depuis cette date (30 jours au plus)"})


class ReplayedSchema(Schema):
    replayed = fields.Integer(metadata={"description": "Nombre d'événements remis en livraison"})


class RotateSchema(Schema):
    grace_hours = fields.Integer(load_default=24, validate=validate.Range(0, 168, error="Doit être compris entre 0 et 168."),
                                 metadata={"description": "Heures pendant lesquelles l'ancien secret signe encore"})


class EventTypeSchema(Schema):
    type = fields.String()
    topic = fields.String(metadata={"description": "Topic Kafka public qui porte ce type"})
    description = fields.String()


blp = Blueprint("webhooks", __name__, url_prefix="/api/v1/webhooks",
                description="Événements publics pour les partenaires : abonnements webhooks signés (Standard Webhooks).")


def _deps() -> dict:
    return current_app.extensions[EXTENSION]


def _view(doc: dict) -> dict:
    """A subscription as the API shows it: never its secrets."""
    shown = {k: v for k, v in doc.items() if k not in ("secret", "previous_secrets")}
    previous = doc.get("previous_secrets") or []
    if previous:
        shown["previous_secret_expires_at"] = max(p["expires_at"] for p in previous)
    return shown


def _check_url(url: str) -> None:
    problem = domain.endpoint_problem(url, _deps()["allow_local"])
    if problem:
        abort(422, message="Les données envoyées sont invalides.", errors={"json": {"url": [problem]}})


def _subscription(subscription_id: str, caller: identity.Caller, *, change: bool = False) -> dict:
    """The subscription if `caller` may see it (or change it): its partner, or a territory manager
    for reading; 404 otherwise, whether it exists or not."""
    doc = _deps()["uow_factory"]().subscriptions.get(subscription_id)
    if doc is not None:
        if caller.role == "partner" and doc["owner"] == domain.owner_of(caller):
            return doc
        if caller.role == "territory_manager" and not change:
            return doc
    abort(404, message="Abonnement introuvable.")


@blp.route("/event-types")
class EventTypes(MethodView):
    @identity.roles_required("partner", "territory_manager")
    @blp.response(200, EventTypeSchema(many=True))
    def get(self):
        """Types d'événements publics

        Les événements publics ne contiennent aucune donnée personnelle (contrat :
        contracts/partners.asyncapi.yaml)."""
        contracts = _deps()["topics"]()
        return [{"type": type_, "topic": contracts.topic(channel), "description": label}
                for type_, (channel, label) in public.TYPES.items()]


@blp.route("/subscriptions")
class SubscriptionList(MethodView):
    @identity.roles_required("partner")
    @blp.arguments(SubscriptionCreateSchema)
    @blp.response(201, SecretSchema)
    @blp.alt_response(409, description="Nombre maximal d'abonnements atteint.")
    def post(self, body):
        """S'abonner : une adresse HTTPS, des types d'événements, des communes

        Chaque événement est envoyé en POST (CloudEvent, application/cloudevents+json), signé selon
        Standard Webhooks (en-têtes webhook-id, webhook-timestamp, webhook-signature) avec le secret
        renvoyé ici, une seule fois : vérifiez-le avec le paquet standardwebhooks."""
        caller = identity.current_caller()
        _check_url(body["url"])
        try:
            doc = _deps()["subscriptions"].create(domain.owner_of(caller), body["url"], body["event_types"],
                                                  body["towns"], body.get("label"))
        except handlers.TooManySubscriptions:
            abort(409, message=f"Nombre maximal d'abonnements atteint ({domain.MAX_SUBSCRIPTIONS_PER_OWNER}).")
        return {**_view(doc), "secret": doc["secret"]}

    @identity.roles_required("partner", "territory_manager")
    @blp.arguments(SubscriptionQuerySchema, location="query")
    @blp.response(200, SubscriptionSchema(many=True))
    def get(self, args):
        """Vos abonnements (tous, pour un gestionnaire de territoire)"""
        caller = identity.current_caller()
        owner = domain.owner_of(caller) if caller.role == "partner" else args.get("owner")
        return [_view(doc) for doc in _deps()["uow_factory"]().subscriptions.list(owner, args["limit"])]


@blp.route("/subscriptions/<string:subscription_id>")
class SubscriptionItem(MethodView):
    @identity.roles_required("partner", "territory_manager")
    @blp.response(200, SubscriptionSchema)
    @blp.alt_response(404, description="Abonnement introuvable.")
    def get(self, subscription_id):
        """Un abonnement"""
        return _view(_subscription(subscription_id, identity.current_caller()))

    @identity.roles_required("partner")
    @blp.arguments(SubscriptionPatchSchema)
    @blp.response(200, SubscriptionSchema)
    @blp.alt_response(404, description="Abonnement introuvable.")
    def patch(self, body, subscription_id):
        """Modifier un abonnement, le mettre en pause ou le reprendre

        Reprendre (status active) vaut aussi après un échec ; les événements manqués se
        récupèrent avec « replay »."""
        doc = _subscription(subscription_id, identity.current_caller(), change=True)
        if "url" in body:
            _check_url(body["url"])
        return _view(_deps()["subscriptions"].change(doc, body))

    @identity.roles_required("partner")
    @blp.response(204)
    @blp.alt_response(404, description="Abonnement introuvable.")
    def delete(self, subscription_id):
        """Supprimer un abonnement (et ses livraisons)"""
        _deps()["subscriptions"].delete(_subscription(subscription_id, identity.current_caller(), change=True))


@blp.route("/subscriptions/<string:subscription_id>/deliveries")
class DeliveryList(MethodView):
    @identity.roles_required("partner", "territory_manager")
    @blp.arguments(DeliveryQuerySchema, location="query")
    @blp.response(200, DeliverySchema(many=True))
    @blp.alt_response(404, description="Abonnement introuvable.")
    def get(self, args, subscription_id):
        """Livraisons d'un abonnement, les plus récentes d'abord"""
        doc = _subscription(subscription_id, identity.current_caller())
        return _deps()["uow_factory"]().deliveries.list(doc["subscription_id"], args.get("status"), args["limit"])


@blp.route("/subscriptions/<string:subscription_id>/replay")
class Replay(MethodView):
    @identity.roles_required("partner")
    @blp.arguments(ReplaySchema)
    @blp.response(202, ReplayedSchema)
    @blp.alt_response(404, description="Abonnement introuvable.")
    def post(self, body, subscription_id):
        """Renvoyer les événements depuis une date (30 jours au plus)

        Les événements sont renvoyés avec leur identifiant d'origine (webhook-id)."""
        doc = _subscription(subscription_id, identity.current_caller(), change=True)
        now = _deps()["clock"]()
        since = body["since"]
        if since > now:
            abort(422, message="Les données envoyées sont invalides.",
                  errors={"json": {"since": ["La date ne peut pas être dans le futur."]}})
        if since < now - REPLAY_WINDOW:
            abort(422, message="Les données envoyées sont invalides.", errors={"json": {"since": [
                "Au plus 30 jours en arrière : les événements plus anciens ne sont plus conservés."]}})
        try:
            return {"replayed": _deps()["subscriptions"].replay(doc, since, MAX_REPLAY)}
        except handlers.TooManyEvents:
            abort(422, message="Les données envoyées sont invalides.", errors={"json": {"since": [
                f"Plus de {MAX_REPLAY} événements depuis cette date : choisissez une date plus récente."]}})


@blp.route("/subscriptions/<string:subscription_id>/rotate-secret")
class RotateSecret(MethodView):
    @identity.roles_required("partner")
    @blp.arguments(RotateSchema)
    @blp.response(200, SecretSchema)
    @blp.alt_response(404, description="Abonnement introuvable.")
    def post(self, body, subscription_id):
        """Changer le secret de signature

        Le nouveau secret est affiché cette fois seulement ; l'ancien signe encore, à côté du
        nouveau, pendant grace_hours heures (24 par défaut)."""
        doc = _subscription(subscription_id, identity.current_caller(), change=True)
        rotated = _deps()["subscriptions"].rotate(doc, timedelta(hours=body["grace_hours"]))
        return {**_view(rotated), "secret": rotated["secret"]}


def create_app(uow_factory: Callable | None = None, subscriptions: handlers.Subscriptions | None = None,
               ready: Callable[[], bool] | None = None, *, allow_local: bool | None = None,
               towns: Callable[[], frozenset[str]] | None = None,
               clock: Callable[[], datetime] | None = None) -> Flask:
    """Real dependencies unless given (tests pass fakes). Called in each gunicorn worker, after the
    fork. `allow_local`: http://127.0.0.1 endpoints accepted (WEBHOOKS_ALLOW_LOCAL_HTTP)."""
    config = None
    if uow_factory is None or subscriptions is None or ready is None:
        config = bootstrap.settings()
    uow_factory = uow_factory or bootstrap.unit_of_work_factory(config)
    subscriptions = subscriptions or bootstrap.subscriptions_service(config)
    ready = ready or bootstrap.ready(config)
    app = Flask(__name__)
    app.config.update(web.openapi_settings(
        "Vitawin webhooks",
        "Événements publics pour les partenaires (aucune donnée personnelle), livrés par webhooks signés."))
    app.extensions[EXTENSION] = {
        "uow_factory": uow_factory, "subscriptions": subscriptions,
        "allow_local": domain.allow_local_http() if allow_local is None else allow_local,
        "towns": towns or _territory_towns, "clock": clock or handlers.utcnow,
        "topics": lambda: bootstrap.contracts(config or bootstrap.settings()),
    }
    api = Api(app)
    api.register_blueprint(blp)
    return web.init_app(app, bootstrap.SERVICE, ready)
