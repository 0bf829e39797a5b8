"""What every service's Flask app has: the correlation id, JSON logs and errors in French,
/healthz /readyz /metrics, and HTTP metrics. Call `init_app` at the end of `create_app`: it also
configures JSON logging for the service (gunicorn imports the app, not the worker's `main`)."""
from __future__ import annotations

import logging
import re
import time
from typing import Callable

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from vitawin_common import correlation, identity, logs, metrics

log = logging.getLogger(__name__)

STATUS_FR = {
    400: "Requête invalide.", 401: "Authentification requise.", 403: "Accès refusé.",
    404: "Ressource introuvable.", 405: "Méthode non autorisée.", 409: "Conflit avec l'état actuel.",
    413: "Requête trop volumineuse.", 415: "Type de contenu non pris en charge.",
    422: "Les données envoyées sont invalides.", 429: "Trop de requêtes, réessayez plus tard.",
    500: "Erreur interne, réessayez plus tard.", 502: "Service indisponible.", 503: "Service indisponible.",
}

# marshmallow/webargs speak English; a person reading the error should not have to.
_MESSAGES_FR = [
    (r"^Missing data for required field\.$", "Champ obligatoire."),
    (r"^Field may not be null\.$", "Ce champ ne peut pas être vide."),
    (r"^Not a valid email address\.$", "Adresse e-mail invalide."),
    (r"^Not a valid string\.$", "Texte attendu."),
    (r"^Not a valid number\.$", "Nombre attendu."),
    (r"^Not a valid integer\.$", "Nombre entier attendu."),
    (r"^Not a valid boolean\.$", "Booléen attendu."),
    (r"^Not a valid list\.$", "Liste attendue."),
    (r"^Not a valid mapping type\.$", "Objet attendu."),
    (r"^Invalid input type\.$", "Type de donnée invalide."),
    (r"^Unknown field\.$", "Champ inconnu."),
    (r"^Invalid JSON body\.$", "Corps JSON invalide."),
    (r"^Must be one of: (.*)\.$", r"Valeur non autorisée ; valeurs possibles : \1."),
    (r"^Must be greater than or equal to (\S+) and less than or equal to (\S+)\.$", r"Doit être compris entre \1 et \2."),
    (r"^Must be greater than or equal to (\S+)\.$", r"Doit être supérieur ou égal à \1."),
    (r"^Must be less than or equal to (\S+)\.$", r"Doit être inférieur ou égal à \1."),
    (r"^Shorter than minimum length (\d+)\.$", r"Trop court (au moins \1)."),
    (r"^Longer than maximum length (\d+)\.$", r"Trop long (au plus \1)."),
    (r"^Length must be between (\d+) and (\d+)\.$", r"La longueur doit être comprise entre \1 et \2."),
]
_MESSAGES_FR = [(re.compile(pattern), repl) for pattern, repl in _MESSAGES_FR]


def to_french(messages):
    if isinstance(messages, dict):
        return {key: to_french(value) for key, value in messages.items()}
    if isinstance(messages, list):
        return [to_french(value) for value in messages]
    if isinstance(messages, str):
        for pattern, repl in _MESSAGES_FR:
            if pattern.match(messages):
                return pattern.sub(repl, messages)
    return messages


def error_response(status: int, message: str | None = None, errors=None) -> Response:
    body = {"code": status, "message": message or STATUS_FR.get(status, "Erreur.")}
    if errors:
        body["errors"] = to_french(errors)
    body["correlation_id"] = correlation.get()
    response = jsonify(body)
    response.status_code = status
    return response


def _transient(exc: Exception) -> bool:
    """A MongoDB transaction that lost a write conflict (label TransientTransactionError): nothing
    was written, the same request again will see the other writer's result."""
    has_label = getattr(exc, "has_error_label", None)
    return callable(has_label) and has_label("TransientTransactionError")


def openapi_settings(title: str, description: str | None = None) -> dict:
    """The flask-smorest settings of every service API: OpenAPI 3.0.3 served at `/openapi.json`,
    where the gateway reads it to merge the documents. `app.config.update(openapi_settings(...))`."""
    settings = {"API_TITLE": title, "API_VERSION": "1.0.0", "OPENAPI_VERSION": "3.0.3",
                "OPENAPI_URL_PREFIX": "/", "OPENAPI_JSON_PATH": "openapi.json"}
    if description:
        settings["API_SPEC_OPTIONS"] = {"info": {"description": description}}
    return settings


def init_app(app: Flask, service: str, ready: Callable[[], bool] = lambda: True, *,
             configure_logging: bool = True) -> Flask:
    """`configure_logging=False` leaves the process's logging as it is (a test that wants it)."""
    if configure_logging:
        logs.configure(service)
    app.config.setdefault("MAX_CONTENT_LENGTH", 256 * 1024)
    if identity.EXTENSION not in app.extensions:  # a test may have set its own verifier
        identity.init_app(app, identity.verifier_from_env())

    @app.before_request
    def _begin():
        g.correlation_token = correlation.set(correlation.accept(request.headers.get(correlation.HEADER)))
        g.started = time.perf_counter()

    @app.after_request
    def _end(response: Response):
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        if not endpoint.startswith(("/metrics", "/healthz", "/readyz")):
            elapsed = time.perf_counter() - g.get("started", time.perf_counter())
            metrics.HTTP_REQUESTS.labels(service, request.method, endpoint, str(response.status_code)).inc()
            metrics.HTTP_LATENCY.labels(service, request.method, endpoint).observe(elapsed)
            log.info("http request", extra={"method": request.method, "endpoint": endpoint,
                                            "status": response.status_code, "duration_ms": round(elapsed * 1000, 1)})
        response.headers[correlation.HEADER] = correlation.get() or ""
        return response

    @app.teardown_request
    def _reset(exc):
        token = g.pop("correlation_token", None)
        if token is not None:
            correlation.reset(token)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        data = getattr(exc, "data", None) or {}
        errors = data.get("messages") or data.get("errors")
        message = data.get("message") if isinstance(data.get("message"), str) else None
        response = error_response(exc.code or 500, message, errors)
        for key, value in (data.get("headers") or {}).items():
            response.headers[key] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if _transient(exc):  # two writers met on one document: the client may simply try again
            log.info("write conflict answered with 409", extra={"error": type(exc).__name__})
            return error_response(409, "Modifié en même temps par une autre demande : réessayez.")
        log.exception("unhandled error")
        return error_response(500)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz():
        ok = ready()
        return ({"status": "ready"}, 200) if ok else ({"status": "not ready"}, 503)

    @app.get("/metrics")
    def metrics_endpoint():
        body, content_type = metrics.exposition()
        return Response(body, content_type=content_type)

    return app
