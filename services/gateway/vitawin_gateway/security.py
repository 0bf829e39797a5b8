"""The gateway's protections, in front of every service: access tokens checked at the door, rate
limits per client, CORS, a cap on request bodies and security headers on every answer.

Access tokens. A request under /api with `Authorization: Bearer <token>` whose token does not
verify (bad signature, expired, another audience or issuer) is answered 401 by the gateway itself,
in French, with `WWW-Authenticate: Bearer realm="vitawin", error="invalid_token"`, and is never
forwarded; so is an Authorization header that is not "Bearer <token>". A valid token is forwarded
unchanged: each service still verifies it and applies its own object-level rules. Anonymous
requests pass. Without AUTH_PUBLIC_KEY_FILE (or AUTH_PUBLIC_KEY) the gateway cannot verify
anything: it then forwards every request as it comes (the services refuse the tokens themselves)
and limits every client by IP address.

Rate limits (flask-limiter), per client: the `sub` of a verified token ("sub:<sub>"), otherwise
the client's IP address. Over a limit: 429 in French with Retry-After (whole seconds).
X-RateLimit-Limit, -Remaining and -Reset (epoch seconds) go on every limited answer.

Environment (read by `SecuritySettings.from_env`; the defaults in brackets):

- GATEWAY_RATE_LIMIT ["600 per minute"]: every request under /api, per client. Health, readiness,
  metrics, the home page, static files and CORS preflights are not limited.
- GATEWAY_AUTH_RATE_LIMIT ["20 per minute"]: POST /api/v1/auth/sign-in and POST /api/v1/auth/token,
  per IP address whatever the token (password and key guessing), on top of the first limit.
- GATEWAY_RATELIMIT_STORAGE_URI ["memory://"]: where the counters live. Memory is per process: with
  gunicorn's N workers, and N gateways, each counts apart and a client gets up to N times the
  limit. Production sets a store shared by all of them, e.g. "redis://host:6379" or
  "mongodb://host:27017" (the matching client library must be installed). If that store fails,
  requests go through (logged) rather than the whole API going down.
- GATEWAY_TRUSTED_PROXIES [0]: how many reverse proxies in front of the gateway append to
  X-Forwarded-For and set X-Forwarded-Proto (1 for one load balancer). Only then are those headers
  believed (werkzeug's ProxyFix): the client IP of the rate limits comes from X-Forwarded-For and
  https from X-Forwarded-Proto. Left at 0 when clients connect directly, or anyone could pick
  the IP address they are limited by.
- GATEWAY_CORS_ORIGINS [the origin of APP_URL when set, else none]: comma-separated origins
  (scheme://host[:port]) whose pages may call /api from a browser; "*" allows any origin (no
  credentials are ever allowed: tokens travel in Authorization, not in cookies).
- GATEWAY_MAX_BODY_BYTES [1048576]: larger request bodies get a French 413 and are not forwarded.
- GATEWAY_TILE_ORIGINS ["https://tile.openstreetmap.org https://*.tile.openstreetmap.org"]:
  where HTML pages may load map tiles from (img-src of their Content-Security-Policy).
- GATEWAY_HSTS [0]: 1 sends Strict-Transport-Security on every answer; otherwise only on answers
  to https requests (request.is_secure, after ProxyFix).

Security headers, on every answer of the gateway (its pages, forwarded answers, errors):
X-Content-Type-Options, X-Frame-Options, Referrer-Policy, Permissions-Policy,
Cross-Origin-Opener-Policy, Content-Security-Policy (strict for HTML, none at all allowed for the
rest), HSTS as above. The gateway's values replace an upstream's, with two exceptions: an
upstream's own Content-Security-Policy is kept (the service knows its page: notify's e-mail link
pages send a stricter one, default-src 'none', that allows their inline style), and an upstream's
`Referrer-Policy: no-referrer` is kept (stricter; those pages carry a token in their address)."""
from __future__ import annotations

import logging
import math
import os
import re
import time
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlsplit

import limits
from flask import Flask, Response, g, request
from flask_cors import CORS
from flask_limiter import ApplicationLimit, Limiter, RateLimitExceeded
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from vitawin_common import identity
from vitawin_common.identity import InvalidToken, TokenVerifier
from vitawin_common.web import error_response
from vitawin_gateway.routing import API_PREFIX

log = logging.getLogger(__name__)

DEFAULT_RATE_LIMIT = "600 per minute"
DEFAULT_AUTH_RATE_LIMIT = "20 per minute"
DEFAULT_STORAGE_URI = "memory://"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_TILE_ORIGINS = "https://tile.openstreetmap.org https://*.tile.openstreetmap.org"
# Password and key guessing: limited per IP address, whatever the token.
AUTH_LIMITED_PATHS = (f"{API_PREFIX}/auth/sign-in", f"{API_PREFIX}/auth/token")

CORS_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
CORS_ALLOWED_HEADERS = ("Authorization", "Content-Type", "X-Correlation-Id", "Idempotency-Key")
CORS_EXPOSED_HEADERS = ("Retry-After", "X-Correlation-Id", "X-RateLimit-Limit", "X-RateLimit-Remaining",
                        "X-RateLimit-Reset")
CORS_MAX_AGE = 600

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "geolocation=(self), camera=(), microphone=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
CSP_HTML = ("default-src 'self'; img-src 'self' data:{tiles}; style-src 'self'; script-src 'self'; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
CSP_OTHER = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000; includeSubDomains"

CHALLENGE = 'Bearer realm="vitawin"'
MSG_MALFORMED = "En-tête Authorization invalide : « Bearer <jeton> » attendu."


@dataclass(frozen=True)
class SecuritySettings:
    """What `install` needs; tests build one directly, `from_env` reads the environment."""

    verifier: TokenVerifier | None = None  # None: tokens are not checked at the gateway
    rate_limit: str = DEFAULT_RATE_LIMIT
    auth_rate_limit: str = DEFAULT_AUTH_RATE_LIMIT
    ratelimit_storage_uri: str = DEFAULT_STORAGE_URI
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    tile_origins: str = DEFAULT_TILE_ORIGINS
    hsts: bool = False
    trusted_proxies: int = 0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "SecuritySettings":
        env = os.environ if env is None else env
        if "GATEWAY_CORS_ORIGINS" in env:
            origins = parse_origins(env["GATEWAY_CORS_ORIGINS"])
        else:
            origins = parse_origins(env.get("APP_URL", ""))
        return cls(
            verifier=identity.verifier_from_env(env),
            rate_limit=env.get("GATEWAY_RATE_LIMIT", DEFAULT_RATE_LIMIT),
            auth_rate_limit=env.get("GATEWAY_AUTH_RATE_LIMIT", DEFAULT_AUTH_RATE_LIMIT),
            ratelimit_storage_uri=env.get("GATEWAY_RATELIMIT_STORAGE_URI", DEFAULT_STORAGE_URI),
            cors_origins=origins,
            max_body_bytes=int(env.get("GATEWAY_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)),
            tile_origins=env.get("GATEWAY_TILE_ORIGINS", DEFAULT_TILE_ORIGINS),
            hsts=env.get("GATEWAY_HSTS", "0").strip().lower() in ("1", "true", "yes", "on"),
            trusted_proxies=int(env.get("GATEWAY_TRUSTED_PROXIES", "0") or 0),
        )


def parse_origins(value: str) -> tuple[str, ...]:
    """Comma-separated URLs -> their origins (scheme://host[:port], lower case); "*" kept as is."""
    origins = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        if item == "*":
            origins.append(item)
            continue
        parts = urlsplit(item)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not an origin (scheme://host[:port]): {item!r}")
        origins.append(f"{parts.scheme}://{parts.netloc}".lower())
    return tuple(dict.fromkeys(origins))


def html_csp(tile_origins: str) -> str:
    sources = tile_origins.replace(",", " ").split()
    for source in sources:
        if re.search(r"[;'\"]", source):
            raise ValueError(f"not a CSP source: {source!r}")
    return CSP_HTML.format(tiles="".join(f" {source}" for source in sources))


def is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def _is_preflight() -> bool:
    return (request.method == "OPTIONS" and "Origin" in request.headers
            and "Access-Control-Request-Method" in request.headers and is_api(request.path))


def _is_auth_endpoint() -> bool:
    path = re.sub("/{2,}", "/", request.path).rstrip("/")
    return request.method == "POST" and path in AUTH_LIMITED_PATHS


def client_ip() -> str:
    return request.remote_addr or "unknown"


def client_key() -> str:
    """The verified token's subject, else the client's IP address."""
    caller = g.get("gateway_caller")
    return f"sub:{caller.subject}" if caller is not None else client_ip()


def _size(count: int) -> str:
    if count >= 1024 * 1024 and count % (1024 * 1024) == 0:
        return f"{count // (1024 * 1024)} Mio"
    if count >= 1024 and count % 1024 == 0:
        return f"{count // 1024} Kio"
    return f"{count} octets"


def _seconds(count: int) -> str:
    return f"{count} seconde" + ("s" if count > 1 else "")


def install(app: Flask, settings: SecuritySettings) -> Limiter:
    """Wire the protections into `app`. Call it after vitawin_common.web.init_app (its hooks set the
    correlation id that the gateway's own errors carry). Returns the limiter."""
    for limit in (settings.rate_limit, settings.auth_rate_limit):
        limits.parse_many(limit)  # a typo fails at start-up, not silently at the first request
    page_csp = html_csp(settings.tile_origins)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    if settings.trusted_proxies > 0:
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    limiter = Limiter(
        client_key,
        application_limits=[
            ApplicationLimit(settings.rate_limit, key_function=client_key, scope="api"),
            ApplicationLimit(settings.auth_rate_limit, key_function=client_ip, scope="auth",
                             methods=["POST"], exempt_when=lambda: not _is_auth_endpoint()),
        ],
        storage_uri=settings.ratelimit_storage_uri,
        strategy="sliding-window-counter",
        # Headers are set below: flask-limiter's headers_enabled would put Retry-After on every
        # answer, 200s included, and overwrite an upstream's own Retry-After.
        headers_enabled=False,
        swallow_errors=True,  # the shared store down: let requests through rather than fail them all
    )
    limiter.request_filter(lambda: not is_api(request.path) or _is_preflight())

    # after_request hooks run in the reverse order of registration: these two run after CORS's,
    # the security headers last of all.
    @app.after_request
    def security_headers(response: Response) -> Response:
        upstream_referrer = response.headers.get("Referrer-Policy", "").strip().lower()
        for name, value in SECURITY_HEADERS.items():
            response.headers[name] = value
        if upstream_referrer == "no-referrer":
            response.headers["Referrer-Policy"] = "no-referrer"
        if "Content-Security-Policy" not in response.headers:
            is_html = response.mimetype == "text/html"
            response.headers["Content-Security-Policy"] = page_csp if is_html else CSP_OTHER
        if settings.hsts or request.is_secure:
            response.headers["Strict-Transport-Security"] = HSTS
        return response

    @app.after_request
    def rate_limit_headers(response: Response) -> Response:
        current = limiter.current_limit
        if current is not None:
            try:
                response.headers["X-RateLimit-Limit"] = str(current.limit.amount)
                response.headers["X-RateLimit-Remaining"] = str(max(current.remaining, 0))
                response.headers["X-RateLimit-Reset"] = str(current.reset_at)
            except Exception as exc:  # the shared store down: the answer goes out without them
                log.warning("rate limit headers unavailable", extra={"error": type(exc).__name__})
        return response

    CORS(app, resources=r"/api/.*",
         # Exact matches (an escaped pattern, case-insensitive): a plain string that looks like a
         # regular expression to flask-cors would be taken as one.
         origins=[origin if origin == "*" else re.compile(re.escape(origin) + r"\Z", re.IGNORECASE)
                  for origin in settings.cors_origins],
         methods=list(CORS_METHODS), allow_headers=list(CORS_ALLOWED_HEADERS),
         expose_headers=list(CORS_EXPOSED_HEADERS), max_age=CORS_MAX_AGE, supports_credentials=False,
         always_send=False, automatic_options=False)

    # before_request hooks run in the order of registration, after init_app's (correlation id).
    @app.before_request
    def answer_preflight():
        """A CORS preflight is the gateway's to answer (CORS adds its headers on the way out): it
        is neither forwarded nor counted."""
        if _is_preflight():
            return Response(status=204)
        return None

    @app.before_request
    def authenticate():
        """Verify the access token, if any, before the rate limits (they count by its subject);
        a bad one is refused after them, so that a flood of bad tokens is limited by IP too."""
        g.gateway_caller = None
        if settings.verifier is None or not is_api(request.path):
            return None
        header = request.headers.get("Authorization", "")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            g.gateway_refusal = (MSG_MALFORMED, CHALLENGE)
            return None
        try:
            g.gateway_caller = settings.verifier.verify(token)
        except InvalidToken as exc:
            g.gateway_refusal = (str(exc), f'{CHALLENGE}, error="invalid_token"')
        return None

    limiter.init_app(app)  # its before_request hook: between authenticate and refuse_bad_token

    @app.before_request
    def refuse_bad_token():
        refusal = g.pop("gateway_refusal", None)
        if refusal is None:
            return None
        message, challenge = refusal
        log.info("access token refused at the gateway", extra={"path": request.path, "reason": message})
        response = error_response(401, message)
        response.headers["WWW-Authenticate"] = challenge
        return response

    @app.errorhandler(RateLimitExceeded)
    def too_many_requests(exc: RateLimitExceeded):
        retry_after = exc.limit.limit.get_expiry()
        current = limiter.current_limit
        if current is not None:
            try:
                retry_after = max(1, math.ceil(current.window.reset_time - time.time()))
            except Exception:  # the shared store down: the window's length will do
                pass
        log.warning("rate limit exceeded", extra={"path": request.path, "limit": str(exc.limit.limit)})
        response = error_response(429, f"Trop de requêtes : réessayez dans {_seconds(retry_after)}.")
        response.headers["Retry-After"] = str(retry_after)
        return response

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge):
        return error_response(413, f"Requête trop volumineuse : {_size(settings.max_body_bytes)} au plus.")

    return limiter
