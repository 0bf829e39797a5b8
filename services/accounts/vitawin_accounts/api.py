"""The accounts API (flask-smorest, French messages), under /api/v1/auth:

- POST /sign-in {email}: always 202 and the same message (no account enumeration); a sign-in link
  goes to the address when an account has it (AccountsService.sign_in).
- POST /token {grant_type: magic_link | refresh_token | client_credentials, ...}: 200 with the
  access token (and a refresh token, except for an API key), the chosen membership and the list
  of them; 400 {error: invalid_grant | invalid_request | unsupported_grant_type} in the project's
  error shape; 422 for a malformed body. Never cached (Cache-Control: no-store).
- POST /sign-out {refresh_token}: 204, the session's tokens revoked (an unknown token too).
- GET /me: who the access token names, and the account's memberships.
- POST|GET /api-keys, DELETE /api-keys/<client_id>: API keys for partners and mobile apps,
  territory managers only (401 anonymous, 403 another role); a secret is shown once, at creation.

Run by gunicorn: `vitawin_accounts.api:create_app()`. /healthz /readyz /metrics come from
vitawin_common.web."""
from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from flask import Flask, Response
from flask.views import MethodView
from flask_smorest import Api, Blueprint, abort
from marshmallow import Schema, fields, pre_load, validate

from vitawin_common import identity, web

from vitawin_accounts import bootstrap, domain
from vitawin_accounts.domain import GrantError
from vitawin_accounts.service import AccountsService

log = logging.getLogger(__name__)

OPERATORS = ["territory_manager"]
EXTENSION = "vitawin_accounts"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
ACTOR_ID = validate.Regexp(r"^act-[0-9a-f]{32}$",
                           error="Identifiant d'acteur invalide : « act- » suivi de 32 caractères hexadécimaux.")


# --- Schemas ---------------------------------------------------------------------------------------
class SignInSchema(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=254, error="Adresse trop longue (254 caractères au plus)."),
                         error_messages={"required": "Indiquez votre adresse e-mail (email)."},
                         metadata={"description": "Adresse e-mail du compte", "example": "contact@boulangerie.example.fr"})

    @pre_load
    def strip(self, data, **kwargs):
        """A pasted address often comes with spaces around it."""
        if isinstance(data, dict) and isinstance(data.get("email"), str):
            data = {**data, "email": data["email"].strip()}
        return data


class MessageSchema(Schema):
    message = fields.String(metadata={"example": domain.SIGN_IN_ACCEPTED})


class TokenRequestSchema(Schema):
    grant_type = fields.String(required=True, validate=validate.Length(min=1, max=64),
                               error_messages={"required": "Indiquez le type d'autorisation (grant_type)."},
                               metadata={"description": "magic_link, refresh_token ou client_credentials"})
    token = fields.String(validate=validate.Length(min=1, max=512),
                          metadata={"description": "magic_link : le jeton du lien de connexion (après « #jeton= »)"})
    refresh_token = fields.String(validate=validate.Length(min=1, max=512),
                                  metadata={"description": "refresh_token : le jeton de rafraîchissement"})
    actor_id = fields.String(validate=ACTOR_ID, metadata={
        "description": "magic_link, refresh_token : le rattachement pour lequel agir (par défaut le plus ancien)"})
    client_id = fields.String(validate=validate.Length(min=1, max=64),
                              metadata={"description": "client_credentials : identifiant de la clé d'API"})
    client_secret = fields.String(validate=validate.Length(min=1, max=512),
                                  metadata={"description": "client_credentials : secret de la clé d'API"})


class MembershipSchema(Schema):
    role = fields.String(metadata={"example": "professional"})
    actor_id = fields.String(metadata={"example": "act-0f8fad5bd9cb469fa16570867728950e"})
    school_uai = fields.String(allow_none=True, metadata={"example": None})
    display_name = fields.String(metadata={"example": "Boulangerie des Vignerons"})


class TokenSchema(Schema):
    access_token = fields.String()
    token_type = fields.String(metadata={"example": "Bearer"})
    expires_in = fields.Integer(metadata={"description": "Durée de validité du jeton d'accès, en secondes"})
    refresh_token = fields.String(metadata={"description": "Absent pour une clé d'API"})
    role = fields.String()
    actor_id = fields.String(allow_none=True)
    school_uai = fields.String(allow_none=True)
    memberships = fields.List(fields.Nested(MembershipSchema))


class SignOutSchema(Schema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=512),
                                  error_messages={"required": "Indiquez le jeton de rafraîchissement (refresh_token)."})


class MeSchema(Schema):
    subject = fields.String(metadata={"description": "Le compte (acc-...) ou la clé d'API (key-...)"})
    role = fields.String()
    actor_id = fields.String(allow_none=True)
    school_uai = fields.String(allow_none=True)
    name = fields.String(allow_none=True, metadata={"description": "Clés d'API : le nom de la clé"})
    memberships = fields.List(fields.Nested(MembershipSchema))


class ApiKeyCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200, error="Entre 1 et 200 caractères."),
                         error_messages={"required": "Nommez la clé (name), par exemple l'application qui l'utilise."})
    role = fields.String(load_default="partner", validate=validate.OneOf(
        domain.API_KEY_ROLES, error="Rôle non autorisé pour une clé d'API : partner uniquement."))
    actor_id = fields.String(validate=ACTOR_ID, metadata={"description": "L'acteur (partenaire) pour lequel la clé agit"})


class ApiKeySchema(Schema):
    client_id = fields.String(metadata={"example": "key-5b1f0c0e6d2a4f5e9a3c1b2d4e6f8a0b"})
    name = fields.String()
    role = fields.String()
    actor_id = fields.String(allow_none=True)
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)


class ApiKeyCreatedSchema(Schema):
    client_id = fields.String()
    client_secret = fields.String(metadata={"description": "Affiché une seule fois : conservez-le"})
    name = fields.String()
    role = fields.String()
    actor_id = fields.String(allow_none=True)
    created_at = fields.DateTime()


class ApiKeyListSchema(Schema):
    items = fields.List(fields.Nested(ApiKeySchema))


# Territory managers only, checked before the body is read (401 anonymous, 403 another role).
operators_only = identity.roles_required(*OPERATORS)


def grant_error(exc: GrantError) -> Response:
    """The project's error shape (vitawin_common.web.error_response) with RFC 6749's `error`."""
    response = web.error_response(400, exc.message)
    body = response.get_json()
    body["error"] = exc.error
    response.set_data(json.dumps(body, ensure_ascii=False))
    response.headers.update(NO_STORE)
    return response


# --- The app ---------------------------------------------------------------------------------------
def _lazy(given, make: Callable):
    """`given`, or what `make()` builds on first use (in the gunicorn worker, after the fork)."""
    made: list = [given] if given is not None else []

    def get():
        if not made:
            made.append(make())
        return made[0]
    return get


def in_background() -> Callable[[Callable[[], None]], None]:
    """Runs a sign-in's work (account lookup, link, e-mail) after the answer is sent: the answer
    then takes the same time whether the address has an account or not (no account enumeration
    by timing). One small pool per process, made after gunicorn's fork; a failure is logged."""
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sign-in")

    def logged(job: Callable[[], None]) -> None:
        try:
            job()
        except Exception:  # noqa: BLE001 - the person was already answered; they ask again
            log.exception("sign-in request failed")
    return lambda job: pool.submit(logged, job) and None


def create_app(service: AccountsService | None = None, ready: Callable[[], bool] | None = None, *,
               verifier: identity.TokenVerifier | None = None, configure_logging: bool = True,
               run_later: Callable[[Callable[[], None]], None] | None = None) -> Flask:
    """Real dependencies unless given (tests pass an AccountsService over fakes and a verifier).
    Without `service`, the issuer's key is read now (AUTH_PRIVATE_KEY_FILE: the app does not
    start without it) and the MongoDB client is made on first use. Access tokens are checked with
    `verifier`, else AUTH_PUBLIC_KEY(_FILE), else the public half of the issuer's key. Sign-in
    requests run `run_later`: in the background for the real wiring (`in_background`), at once
    when a `service` is given (tests) unless `run_later` says otherwise."""
    app = Flask(__name__)
    app.config.update(web.openapi_settings(
        "Vitawin accounts", "Comptes, liens de connexion, jetons d'accès et clés d'API de Vitawin."))
    if service is None:
        issuer = bootstrap.issuer()
        config = _lazy(None, bootstrap.settings)
        get_service = _lazy(None, lambda: bootstrap.service(config(), issuer))
        verifier = verifier or bootstrap.verifier(issuer)
        ready = ready or (lambda: bootstrap.ready(config())())
    else:
        get_service = _lazy(service, lambda: service)
        verifier = verifier or bootstrap.verifier(service.issuer)
    if run_later is None:
        run_later = in_background() if service is None else (lambda job: job())
    identity.init_app(app, verifier)
    app.extensions[EXTENSION] = get_service

    blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth",
                    description="Connexion par lien envoyé par e-mail, jetons d'accès, clés d'API.")

    @blp.after_request
    def never_cached(response: Response) -> Response:
        response.headers.update(NO_STORE)  # tokens, secrets and who is signed in: never in a cache
        return response

    @blp.route("/sign-in")
    class SignIn(MethodView):
        @blp.arguments(SignInSchema)
        @blp.response(202, MessageSchema)
        def post(self, body):
            """Recevoir un lien de connexion par e-mail

            Réponse identique qu'un compte existe ou non pour cette adresse. Le lien est valable
            15 minutes et ne sert qu'une fois."""
            email = body["email"]
            run_later(lambda: get_service().sign_in(email))  # the same answer, at once, in any case
            return {"message": domain.SIGN_IN_ACCEPTED}

    @blp.route("/token")
    class Token(MethodView):
        @blp.arguments(TokenRequestSchema)
        @blp.response(200, TokenSchema)
        @blp.alt_response(400, description="Autorisation refusée : error = invalid_grant, invalid_request ou "
                                           "unsupported_grant_type.")
        def post(self, body):
            """Obtenir un jeton d'accès

            grant_type : magic_link (token du lien reçu par e-mail), refresh_token (rotation : le
            jeton présenté ne sert plus), client_credentials (client_id et client_secret d'une clé
            d'API). actor_id choisit le rattachement pour lequel agir."""
            try:
                return get_service().token(body).to_json()
            except GrantError as exc:
                return grant_error(exc)

    @blp.route("/sign-out")
    class SignOut(MethodView):
        @blp.arguments(SignOutSchema)
        @blp.response(204)
        def post(self, body):
            """Se déconnecter : la session (le jeton de rafraîchissement et ses successeurs) est révoquée"""
            get_service().sign_out(body["refresh_token"])

    @blp.route("/me")
    class Me(MethodView):
        @blp.response(200, MeSchema)
        @blp.alt_response(401, description="Connexion requise.")
        def get(self):
            """Qui suis-je : le rattachement du jeton d'accès et ceux du compte"""
            return get_service().me(identity.require_caller())

    @blp.route("/api-keys")
    class ApiKeys(MethodView):
        @operators_only
        @blp.arguments(ApiKeyCreateSchema)
        @blp.response(201, ApiKeyCreatedSchema)
        @blp.alt_response(401, description="Connexion requise.")
        @blp.alt_response(403, description="Réservé aux gestionnaires de territoire.")
        def post(self, body):
            """Créer une clé d'API (gestionnaires de territoire)

            Le secret n'est affiché qu'une fois, dans cette réponse."""
            caller = identity.current_caller()
            return get_service().create_api_key(name=body["name"], role=body["role"],
                                                actor_id=body.get("actor_id"), created_by=caller.subject)

        @operators_only
        @blp.response(200, ApiKeyListSchema)
        @blp.alt_response(401, description="Connexion requise.")
        @blp.alt_response(403, description="Réservé aux gestionnaires de territoire.")
        def get(self):
            """Les clés d'API, sans leurs secrets (gestionnaires de territoire)"""
            return {"items": get_service().api_keys()}

    @blp.route("/api-keys/<string:client_id>")
    class ApiKey(MethodView):
        @operators_only
        @blp.response(204)
        @blp.alt_response(404, description="Clé d'API introuvable.")
        def delete(self, client_id):
            """Révoquer une clé d'API : ses demandes de jeton échouent ensuite"""
            caller = identity.current_caller()
            if not get_service().revoke_api_key(client_id, revoked_by=caller.subject):
                abort(404, message="Clé d'API introuvable.")

    Api(app).register_blueprint(blp)
    return web.init_app(app, bootstrap.SERVICE, ready or (lambda: True), configure_logging=configure_logging)
