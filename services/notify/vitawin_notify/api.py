"""Notify's HTTP side: the pages behind the links of the emails, the preferences, and the
operator's view of what was sent.

Pages (French HTML; opening a link never changes anything, mail scanners prefetch links: GET
shows what the link does and one button, its POST does it):
- `GET|POST /api/v1/notifications/links/answer?token=...`: accept or decline a proposal. The POST
  marks the link's jti used (atomically: a second click gets "lien déjà utilisé", 409), then
  forwards the token to matching (`POST {MATCHING_URL}/api/v1/proposals/<id>/link-answers`), which
  verifies it and applies the answer. Matching's answer decides the page:
    200: done; 409 (already declined, capacity reached...): matching's French message, and the
        link stays used (the proposal's state refused this answer: the same link would be refused
        again; the person can still answer differently with the other link of the email or from
        their space); 404: "proposition introuvable", link stays used;
    unreachable, too slow or anything else: 503 "réessayez dans quelques minutes", and the link is
        un-marked, so that the same link works again.
  Bad token: 400 "lien invalide"; past the proposal's deadline: 410 "lien expiré".
- `GET|POST /api/v1/notifications/unsubscribe?token=...`: unsubscribe from one category. The POST
  is the page's button or the RFC 8058 one-click POST of a mail client (body
  `List-Unsubscribe=One-Click`, whatever its content type; the token in the URL or in the form).
  At once and idempotent: 200 each time.

JSON API (flask-smorest, French errors):
- `GET|PUT /api/v1/notifications/preferences`: {proposals, requests} (each immediate|daily|weekly|
  off) and {reminders} (on|off). Whose: with `?token=<unsubscribe link token>`, the recipient of
  the link (401 when it does not verify); without, the signed-in account (Bearer access token): the
  address notify's contact book holds for the token's actor (the organisation's or school's
  contact, a pupil's guardian), 404 when it holds none; API keys are refused (403).
- `GET /api/v1/notifications/deliveries?proposal_id=...|email=...`: territory managers only
  (401/403): templates, statuses, dates, attempts and subject ids, never an address."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, Response, render_template, request
from flask.views import MethodView
from flask_smorest import Api, Blueprint, abort
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from pymongo.errors import PyMongoError

from vitawin_common import identity, mongo, web

from vitawin_notify import bootstrap
from vitawin_notify.domain import recipient_hash
from vitawin_notify.preferences import ON, SWITCH_CHOICES
from vitawin_notify.links import LinkExpired, LinkInvalid, MatchingUnavailable
from vitawin_notify.preferences import CHOICES

log = logging.getLogger(__name__)

OPERATORS = ["territory_manager"]
EXTENSION = "vitawin_notify"

# --- Words of the pages ----------------------------------------------------------------------------
ANSWER_TEXTS = {  # (side, answer) -> (title, what the button does, button)
    ("volunteer", "accept"): (
        "Accepter la proposition",
        "Vous acceptez de répondre à cette demande. L'établissement en sera informé par e-mail.",
        "J'accepte la proposition"),
    ("volunteer", "decline"): (
        "Refuser la proposition",
        "Vous refusez cette proposition : un autre professionnel sera proposé pour la demande.",
        "Je refuse la proposition"),
    ("requester", "accept"): (
        "Confirmer la proposition",
        "Vous confirmez que le professionnel proposé peut répondre à la demande de votre établissement. "
        "Il en sera informé par e-mail.",
        "Je confirme la proposition"),
    ("requester", "decline"): (
        "Refuser la proposition",
        "Vous refusez ce professionnel : un autre sera proposé pour la demande.",
        "Je refuse la proposition"),
}
DONE_TEXTS = {  # matching's new status -> (title, text)
    "accepted": ("Proposition acceptée",
                 "Merci : votre réponse est enregistrée. Chacun est informé par e-mail de la suite."),
    "awaiting_confirmation": ("Proposition acceptée",
                              "Merci : votre accord est enregistré. L'établissement doit encore confirmer ; "
                              "vous serez informé par e-mail."),
    "declined": ("Proposition refusée",
                 "Votre refus est enregistré. Un autre professionnel sera proposé pour la demande."),
}
DONE_DEFAULT = ("Réponse enregistrée", "Merci : votre réponse est enregistrée.")
CATEGORY_TEXTS = {
    "proposals": "les propositions de mise en relation et leurs suites (réponses, rappels)",
    "requests": "les nouvelles demandes des élèves de votre établissement et leurs récapitulatifs",
}
PAGE_INVALID = (400, "Lien invalide", [
    "Ce lien est invalide ou incomplet : il n'a rien changé.",
    "Vérifiez que vous avez copié l'adresse complète reçue par e-mail, ou répondez depuis votre espace Vitawin."])
PAGE_EXPIRED = (410, "Lien expiré", [
    "Le délai de réponse à cette proposition est passé : ce lien ne fonctionne plus."])
PAGE_USED = (409, "Lien déjà utilisé", [
    "Ce lien a déjà servi : la réponse a été transmise lors de sa première utilisation. "
    "Chaque lien ne sert qu'une fois."])
PAGE_NOT_FOUND = (404, "Proposition introuvable", [
    "Cette proposition n'existe pas ou plus : aucune réponse n'a été enregistrée."])
PAGE_UNAVAILABLE = (503, "Service momentanément indisponible", [
    "Votre réponse n'a pas pu être enregistrée pour le moment.",
    "Réessayez dans quelques minutes : ce lien fonctionne toujours."])
PAGE_NOT_CONFIGURED = (503, "Service momentanément indisponible", [
    "Les liens des e-mails ne peuvent pas être traités pour le moment. Réessayez dans quelques minutes."])
MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
          "novembre", "décembre")
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token is in the page's URL
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "base-uri 'none'; frame-ancestors 'none'",
}


def _paris(moment: datetime) -> str:
    """« 12 février 2027 à 10 h 00 » in Paris time."""
    try:
        local = moment.astimezone(ZoneInfo("Europe/Paris"))
        zone = ""
    except ZoneInfoNotFoundError:  # no tz database on this host
        local, zone = moment.astimezone(timezone.utc), " (UTC)"
    return f"{local.day} {MONTHS[local.month - 1]} {local.year} à {local.hour} h {local.minute:02d}{zone}"


def _page(template: str, status: int = 200, **context) -> Response:
    response = Response(render_template(template, **context), status=status, content_type="text/html; charset=utf-8")
    response.headers.update(PAGE_HEADERS)
    return response


def _message(page: tuple[int, str, list[str]], paragraphs: list[str] | None = None) -> Response:
    status, title, default = page
    return _page("pages/message.html", status, title=title, paragraphs=paragraphs or default)


# --- Schemas ---------------------------------------------------------------------------------------
_CHOICE = validate.OneOf(CHOICES, error="Valeur non autorisée : immediate (tout de suite), daily (un "
                                        "récapitulatif par jour), weekly (un par semaine) ou off (aucun e-mail).")


class PreferencesSchema(Schema):
    proposals = fields.String(validate=_CHOICE, metadata={
        "description": "Propositions et leurs suites : immediate, daily, weekly ou off", "example": "immediate"})
    requests = fields.String(validate=_CHOICE, metadata={
        "description": "Demandes des élèves de l'établissement : immediate, daily, weekly ou off",
        "example": "weekly"})
    reminders = fields.String(validate=validate.OneOf(SWITCH_CHOICES, error=(
        "Valeur non autorisée : on (recevoir les rappels) ou off (aucun rappel).")), metadata={
        "description": "Rappels d'une proposition encore sans réponse : on (par défaut) ou off", "example": ON})


class TokenQuery(Schema):
    token = fields.String(validate=validate.Length(min=1, max=4096, error="Jeton invalide."),
                          metadata={"description": "Jeton d'un lien de désabonnement reçu par e-mail ; sans "
                                                   "lui, les préférences du compte connecté (jeton d'accès)"})


class DeliveriesQuery(Schema):
    proposal_id = fields.String(
        validate=validate.Length(min=1, max=64, error="Entre 1 et 64 caractères."),
        metadata={"description": "Identifiant de la proposition"},
    )
    email = fields.Email(
        validate=validate.Length(max=254, error="Adresse trop longue (254 caractères au plus)."),
        metadata={"description": "Adresse du destinataire (seule son empreinte est cherchée)"},
    )

    @validates_schema
    def one_criterion(self, data, **kwargs):
        if "proposal_id" in data and "email" in data:
            raise ValidationError("Un seul critère à la fois : proposal_id ou email.", "email")
        if "proposal_id" not in data and "email" not in data:
            raise ValidationError("Indiquez l'identifiant de la proposition (proposal_id) ou l'adresse du "
                                  "destinataire (email).", "proposal_id")


class DeliverySchema(Schema):
    template = fields.String(metadata={"example": "proposal_to_volunteer"})
    status = fields.String(metadata={"example": "sent"})
    sent_at = fields.DateTime(allow_none=True)
    attempts = fields.Integer(metadata={"description": "Envois tentés"})
    subject_id = fields.String(metadata={"description": "Proposition, demande ou acteur concerné"})


NO_WAY_TO_KNOW_YOU = ("Connexion requise : connectez-vous, ou utilisez le lien de désabonnement reçu par "
                      "e-mail (token).")

# Territory managers only, checked before the query (401 anonymous, 403 another role).
operators_only = identity.roles_required(*OPERATORS)


# --- The app ---------------------------------------------------------------------------------------
def _provider(given, make: Callable):
    """`given`, or what `make()` builds on first use (in the gunicorn worker, after the fork)."""
    if given is not None:
        return lambda: given
    made: list = []

    def get():
        if not made:
            made.append(make())
        return made[0]
    return get


def create_app(deliveries=None, ready: Callable[[], bool] | None = None, *, link_verifier=None,
               matching: Callable | None = None, preferences=None, used_links=None,
               recipient_deliveries=None, clock: Callable[[], datetime] | None = None, contacts=None) -> Flask:
    """Real dependencies unless given (tests pass fakes), each made lazily so that every gunicorn
    worker has its own clients:
    `deliveries` (for_proposal(proposal_id)); `ready`; `link_verifier` (links.LinkVerifier, from
    NOTIFY_LINK_PUBLIC_KEY(_FILE)); `matching(proposal_id, token) -> links.MatchingReply` (raises
    MatchingUnavailable; links.MatchingAnswers over MATCHING_URL); `preferences` (get, unsubscribe,
    choose); `used_links` (is_used, mark_used, release); `recipient_deliveries` (for_recipient);
    `clock()`; `contacts` (get(actor_id): the contact book, for the signed-in preferences)."""
    app = Flask(__name__)
    app.config.update(web.openapi_settings("Vitawin notify"))
    config = _provider(None, bootstrap.settings)
    deps = {
        "deliveries": _provider(deliveries, lambda: bootstrap.deliveries(config())),
        "link_verifier": _provider(link_verifier, bootstrap.link_verifier),
        "matching": _provider(matching, bootstrap.matching_answers),
        "preferences": _provider(preferences, lambda: bootstrap.preferences_store(config())),
        "used_links": _provider(used_links, lambda: bootstrap.used_links(config())),
        "recipient_deliveries": _provider(recipient_deliveries, lambda: bootstrap.recipient_deliveries(config())),
        "contacts": _provider(contacts, lambda: bootstrap.contact_book(config())),
        "clock": clock or (lambda: datetime.now(timezone.utc)),
    }
    app.extensions[EXTENSION] = deps

    blp = Blueprint("notifications", __name__, url_prefix="/api/v1/notifications",
                    description="E-mails de Vitawin : liens de réponse, désabonnement, préférences, suivi des envois.")

    # --- answer links ---------------------------------------------------------------------------
    @blp.route("/links/answer")
    class AnswerLink(MethodView):
        def get(self):
            """Page d'un lien de réponse (accepter ou refuser une proposition)

            Affiche ce que fait le lien et un bouton ; ouvrir la page ne change rien."""
            verifier = deps["link_verifier"]()
            if verifier is None:
                return _message(PAGE_NOT_CONFIGURED)
            token = request.args.get("token", "")
            try:
                claims = verifier.answer(token)
            except LinkExpired:
                return _message(PAGE_EXPIRED)
            except LinkInvalid:
                return _message(PAGE_INVALID)
            try:
                if deps["used_links"]().is_used(claims.jti):
                    return _message(PAGE_USED)
            except PyMongoError:
                log.exception("used links unreadable")
                return _message(PAGE_UNAVAILABLE)
            title, explanation, button = ANSWER_TEXTS[(claims.side, claims.answer)]
            return _page("pages/answer.html", title=title, explanation=explanation, button=button,
                         proposal_id=claims.proposal_id, until=_paris(claims.exp), token=token,
                         action=request.path)

        def post(self):
            """Valider un lien de réponse (formulaire : token)

            Le lien ne sert qu'une fois ; la réponse est appliquée par le service matching."""
            verifier = deps["link_verifier"]()
            if verifier is None:
                return _message(PAGE_NOT_CONFIGURED)
            token = request.form.get("token") or request.args.get("token", "")
            try:
                claims = verifier.answer(token)
            except LinkExpired:
                return _message(PAGE_EXPIRED)
            except LinkInvalid:
                return _message(PAGE_INVALID)
            used = deps["used_links"]()
            try:
                if not used.mark_used(claims.jti, claims.proposal_id, deps["clock"](), claims.exp):
                    return _message(PAGE_USED)
            except PyMongoError:
                log.exception("used links unwritable")
                return _message(PAGE_UNAVAILABLE)
            try:
                reply = deps["matching"]()(claims.proposal_id, token)
            except MatchingUnavailable:
                return _release_and_apologise(used, claims)
            log.info("link answer forwarded", extra={"proposal_id": claims.proposal_id, "side": claims.side,
                                                     "answer": claims.answer, "status": reply.status})
            if reply.status == 200:
                title, text = DONE_TEXTS.get(reply.body.get("status"), DONE_DEFAULT)
                return _message((200, title, [text]))
            if reply.status == 404:
                return _message(PAGE_NOT_FOUND)
            # 409: the proposal's state refused this answer; the link stays used (see the module doc).
            return _message((409, "Réponse impossible", [
                reply.message or "Cette proposition ne peut plus recevoir cette réponse.",
                "Votre réponse n'a pas été enregistrée."]))

    def _release_and_apologise(used, claims) -> Response:
        try:
            used.release(claims.jti)
        except PyMongoError:
            log.exception("used link not released", extra={"proposal_id": claims.proposal_id})
        return _message(PAGE_UNAVAILABLE)

    # --- unsubscribe ------------------------------------------------------------------------------
    @blp.route("/unsubscribe")
    class Unsubscribe(MethodView):
        def get(self):
            """Page d'un lien de désabonnement

            Affiche la catégorie d'e-mails concernée et un bouton ; ouvrir la page ne change rien."""
            verifier = deps["link_verifier"]()
            if verifier is None:
                return _message(PAGE_NOT_CONFIGURED)
            token = request.args.get("token", "")
            try:
                claims = verifier.unsubscribe(token)
            except LinkInvalid:
                return _message(PAGE_INVALID)
            return _page("pages/unsubscribe.html", title="Se désabonner", what=CATEGORY_TEXTS[claims.category],
                         token=token, action=request.path)

        def post(self):
            """Se désabonner (bouton de la page, ou désabonnement en un clic RFC 8058)

            Corps `List-Unsubscribe=One-Click` (tout type de contenu) ; le jeton dans l'adresse ou
            le formulaire. Immédiat et idempotent."""
            verifier = deps["link_verifier"]()
            if verifier is None:
                return _message(PAGE_NOT_CONFIGURED)
            token = request.args.get("token") or _form_token()
            try:
                claims = verifier.unsubscribe(token)
            except LinkInvalid:
                return _message(PAGE_INVALID)
            try:
                deps["preferences"]().unsubscribe(claims.rcpt, claims.category, deps["clock"]())
            except PyMongoError:
                log.exception("unsubscribe not recorded")
                return _message(PAGE_UNAVAILABLE, ["Votre désabonnement n'a pas pu être enregistré pour le moment.",
                                                   "Réessayez dans quelques minutes."])
            log.info("unsubscribed", extra={"category": claims.category})
            return _message((200, "Désabonnement confirmé", [
                f"Vous ne recevrez plus d'e-mails concernant {CATEGORY_TEXTS[claims.category]}.",
                "Les e-mails liés à votre compte (bienvenue, confirmation d'engagement, suppression) restent "
                "envoyés."]))

    # --- preferences ------------------------------------------------------------------------------
    def _recipient(query) -> str:
        """The address hash whose preferences are read: the link's recipient, else the signed-in
        account's (its actor's address in the contact book)."""
        if query.get("token") is None:
            return _signed_in_recipient()
        verifier = deps["link_verifier"]()
        if verifier is None:
            abort(503, message="Les préférences ne sont pas disponibles pour le moment : réessayez plus tard.")
        try:
            return verifier.unsubscribe(query["token"]).rcpt
        except LinkInvalid:
            abort(401, message="Lien invalide : utilisez le lien de désabonnement reçu par e-mail.")

    def _signed_in_recipient() -> str:
        caller = identity.current_caller()  # a bad access token: 401 in French
        if caller is None:
            abort(401, message=NO_WAY_TO_KNOW_YOU)
        if caller.subject.startswith("key-") or not caller.actor_id:
            abort(403, message="Les préférences d'e-mail sont celles d'un compte rattaché à une organisation, un "
                               "établissement ou un élève : une clé d'API n'en a pas.")
        try:
            contact = deps["contacts"]().get(caller.actor_id) or {}
        except PyMongoError:
            log.exception("contact book unreadable")
            abort(503, message="Les préférences ne sont pas disponibles pour le moment : réessayez plus tard.")
        address = contact.get("email") or contact.get("guardian_email")
        if not address:
            abort(404, message="Aucune adresse e-mail n'est connue pour ce compte : Vitawin ne vous écrit pas "
                               "encore. Réessayez dans quelques minutes après votre inscription.")
        return recipient_hash(address)

    @blp.route("/preferences")
    class PreferencesResource(MethodView):
        @blp.arguments(TokenQuery, location="query")
        @blp.response(200, PreferencesSchema)
        @blp.alt_response(401, description="Lien invalide, ou ni lien ni connexion.")
        @blp.alt_response(403, description="Clé d'API, ou compte rattaché à aucun acteur.")
        @blp.alt_response(404, description="Aucune adresse e-mail connue pour le compte connecté.")
        def get(self, query):
            """Préférences d'e-mail : du destinataire du lien, ou du compte connecté

            Avec `token` (lien de désabonnement reçu par e-mail) : celles de son destinataire. Sans
            lui, avec un jeton d'accès : celles de l'adresse de contact de l'acteur pour lequel le
            compte agit (organisation, établissement ; pour un élève, son responsable légal)."""
            return deps["preferences"]().get(_recipient(query)).choices()

        @blp.arguments(TokenQuery, location="query")
        @blp.arguments(PreferencesSchema)
        @blp.response(200, PreferencesSchema)
        @blp.alt_response(401, description="Lien invalide, ou ni lien ni connexion.")
        @blp.alt_response(403, description="Clé d'API, ou compte rattaché à aucun acteur.")
        @blp.alt_response(404, description="Aucune adresse e-mail connue pour le compte connecté.")
        def put(self, query, choices):
            """Changer ses préférences d'e-mail (lien reçu par e-mail, ou compte connecté)

            Pour chaque catégorie : immediate (tout de suite), daily ou weekly (récapitulatif),
            off (aucun e-mail) ; `reminders` : on ou off (les rappels d'une proposition encore sans
            réponse). Une catégorie absente ne change pas. Les e-mails liés au compte (bienvenue,
            confirmation d'engagement, suppression) sont toujours envoyés."""
            recipient = _recipient(query)
            return deps["preferences"]().choose(recipient, choices, deps["clock"]()).choices()

    # --- operator's view --------------------------------------------------------------------------
    @blp.route("/deliveries")
    class Deliveries(MethodView):
        @operators_only
        @blp.arguments(DeliveriesQuery, location="query")
        @blp.response(200, DeliverySchema(many=True))
        @blp.alt_response(401, description="Connexion requise.")
        @blp.alt_response(403, description="Réservé aux gestionnaires de territoire.")
        def get(self, query):
            """E-mails envoyés pour une proposition, ou à une adresse (gestionnaires de territoire)

            Modèles, états, dates, tentatives : jamais d'adresse. Une adresse n'est cherchée que
            par son empreinte."""
            if "email" in query:
                return deps["recipient_deliveries"]().for_recipient(recipient_hash(query["email"]))
            repository = deps["deliveries"]()
            by_proposal = getattr(repository, "for_proposal", None) or repository.for_subject
            return by_proposal(query["proposal_id"])

    Api(app).register_blueprint(blp)
    return web.init_app(app, bootstrap.SERVICE, ready or (lambda: mongo.ping(config())))


def _form_token() -> str:
    """The token of a form body (the page's button); a one-click body carries none."""
    try:
        return request.form.get("token", "")
    except Exception:  # a body that is no form at all
        return ""

