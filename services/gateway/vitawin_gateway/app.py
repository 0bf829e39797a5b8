"""The gateway: the single entry point for clients. It forwards `/api/v1/...` to the service that
owns the path, serves the merged OpenAPI document and its French documentation (/api/v1/docs,
interactive with Swagger UI; /api/v1/docs/liste, a plain list without JavaScript), serves the
web app (vitawin_gateway.webapp: the pages /, /connexion, /mon-espace, /app-config.json, the app's
and the vendored libraries' static files), and guards the door (vitawin_gateway.security: access
tokens, rate limits, CORS, body size, security headers).

Run: `gunicorn -c python:vitawin_common.gunicorn_conf 'vitawin_gateway.app:create_app()'` with
BIND set; upstreams from ACTORS_URL, REQUESTS_URL, MATCHING_URL, NOTIFY_URL, ACCOUNTS_URL; the
protections from AUTH_PUBLIC_KEY_FILE and the GATEWAY_* variables listed in security.py; the web
app from WEB_APP_DIR, WEB_VENDOR_DIR, GATEWAY_TILE_URL... listed in webapp.py."""
from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from flask import Flask, Response, jsonify, request

from vitawin_common import identity
from vitawin_common.web import error_response, init_app
from vitawin_gateway import pages, proxy, security, webapp
from vitawin_gateway.openapi import MergedDocument
from vitawin_gateway.routing import API_PREFIX, normalize, resolve, upstreams

log = logging.getLogger(__name__)

PROXY_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class _SessionPerProcess:
    """One requests.Session per process (and made after gunicorn's fork), shared by its threads."""

    def __init__(self):
        self._sessions: dict[int, object] = {}
        self._lock = threading.Lock()

    def __call__(self):
        pid = os.getpid()
        session = self._sessions.get(pid)
        if session is None:
            with self._lock:
                session = self._sessions.setdefault(pid, proxy.new_session())
        return session


def create_app(routes=None, session=None, *, timeout=None, openapi_ttl: float | None = None,
               ready_timeout: float | None = None, configure_logging: bool | None = None,
               security_settings: security.SecuritySettings | None = None,
               web_settings: webapp.WebSettings | None = None) -> Flask:
    """`routes`: None (from the environment), a list of Route, or a mapping prefix -> base URL.
    `session`: anything with requests.Session's `request` and `get` (tests pass a fake).
    `security_settings`: the token verifier, rate limits, CORS origins... (None: from the
    environment, see vitawin_gateway.security).
    `web_settings`: where the web app's files, the vendored libraries and the territory are, and the
    map tiles (None: from the environment, see vitawin_gateway.webapp).
    Logging is configured as JSON only for the real wiring (no routes nor session given)."""
    settings = security_settings if security_settings is not None else security.SecuritySettings.from_env()
    if configure_logging is None:
        configure_logging = routes is None and session is None
    table = normalize(routes)
    get_session = (lambda: session) if session is not None else _SessionPerProcess()
    timeout = timeout if timeout is not None else proxy.timeouts_from_env()
    ready_timeout = ready_timeout if ready_timeout is not None else float(os.environ.get("GATEWAY_READY_TIMEOUT", "2"))
    ttl = openapi_ttl if openapi_ttl is not None else float(os.environ.get("OPENAPI_CACHE_SECONDS", "30"))
    document = MergedDocument(table, get=lambda *a, **kw: get_session().get(*a, **kw), ttl=ttl,
                              ttl_incomplete=min(ttl, 5.0))

    app = Flask("vitawin_gateway")
    app.json.ensure_ascii = False
    app.json.sort_keys = False  # keep the order of the merged document
    app.extensions["vitawin_gateway"] = {"routes": table, "openapi": document}
    identity.init_app(app, settings.verifier)  # init_app below then keeps it (one verifier)

    web = webapp.install(app, web_settings if web_settings is not None else webapp.WebSettings.from_env(),
                         settings.tile_origins, pages.unavailable)

    @app.get(f"{API_PREFIX}/openapi.json")
    def openapi_json():
        return jsonify(document.get_document())

    @app.get(f"{API_PREFIX}/docs")
    def docs():
        return Response(pages.docs(document.get_document(), web.swagger_ui()),
                        content_type="text/html; charset=utf-8")

    @app.get(pages.LIST_URL)
    def docs_list():
        return Response(pages.operations_list(document.get_document()), content_type="text/html; charset=utf-8")

    def forward(rest: str = ""):
        route = None if proxy.has_dot_segment(request.path) else resolve(table, request.path)
        if route is None:
            return error_response(404, proxy.MSG_NOT_FOUND)
        return proxy.forward(get_session(), route, request, timeout)

    for rule in (API_PREFIX, f"{API_PREFIX}/", f"{API_PREFIX}/<path:rest>"):
        app.add_url_rule(rule, endpoint=f"forward:{rule}", view_func=forward, methods=PROXY_METHODS,
                         provide_automatic_options=False)

    services = upstreams(table)

    def upstream_ready(base_url: str) -> bool:
        try:
            return get_session().get(f"{base_url}/readyz", timeout=ready_timeout).status_code == 200
        except Exception:
            return False

    def ready() -> bool:
        with ThreadPoolExecutor(max_workers=max(len(services), 1)) as pool:
            answers = list(pool.map(upstream_ready, services.values()))
        for service, ok in zip(services, answers):
            if not ok:
                log.warning("upstream not ready", extra={"upstream": service})
        return all(answers)

    init_app(app, "gateway", ready, configure_logging=configure_logging)
    # After init_app: its hooks set the correlation id first, which the gateway's refusals carry.
    app.extensions["vitawin_gateway"]["limiter"] = security.install(app, settings)
    return app
