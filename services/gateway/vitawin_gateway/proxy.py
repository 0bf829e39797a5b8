"""Forwarding one client request to its upstream service and shaping the answer."""
from __future__ import annotations

import logging
import os
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import quote

import requests
from flask import Request, Response
from werkzeug.exceptions import RequestEntityTooLarge

from vitawin_common import correlation
from vitawin_common.web import error_response
from vitawin_gateway.routing import Route

log = logging.getLogger(__name__)

# Request headers passed on to the upstream; everything else (cookies of other sites, Host,
# hop-by-hop headers) stays at the gateway. Authorization carries the access token that each
# service verifies itself (vitawin_common.identity) to apply its object-level rules.
FORWARDED_REQUEST_HEADERS = ("Content-Type", "Accept", "Accept-Language", "Authorization", "Idempotency-Key",
                             "If-Match", "If-None-Match")

# RFC 9110 section 7.6.1, plus the old names still seen in the wild.
HOP_BY_HOP = frozenset(h.lower() for h in (
    "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection",
    "TE", "Trailer", "Trailers", "Transfer-Encoding", "Upgrade",
))
# Recomputed by the gateway's own server: the body was already decoded by `requests`.
RECOMPUTED = frozenset(("content-length", "content-encoding", "server", "date",
                        correlation.HEADER.lower()))
# CORS is the gateway's (vitawin_gateway.security): an upstream's Access-Control-* headers would
# otherwise be taken as the answer (flask-cors leaves a response that has one untouched).
GATEWAY_OWNED_PREFIXES = ("access-control-",)

MSG_UNREACHABLE = "Service indisponible, réessayez dans quelques instants."
MSG_TIMEOUT = "Service indisponible : il n'a pas répondu à temps, réessayez dans quelques instants."
MSG_NOT_FOUND = "Ressource introuvable : aucun service de l'API ne répond à cette adresse."


def new_session() -> requests.Session:
    """A session for one process: connection pooling, no cookie memory shared between clients,
    no proxy from the environment (upstreams are on the internal network)."""
    session = requests.Session()
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    session.trust_env = False
    return session


def timeouts_from_env() -> tuple[float, float]:
    return (float(os.environ.get("GATEWAY_CONNECT_TIMEOUT", "3")),
            float(os.environ.get("GATEWAY_READ_TIMEOUT", "15")))


def has_dot_segment(path: str) -> bool:
    """`..` or `.` segments would let a client reach upstream paths outside the routed prefix."""
    return any(segment in (".", "..") for segment in path.split("/"))


def upstream_url(route: Route, request: Request) -> str:
    url = route.base_url + quote(request.path, safe="/:@!$&'()*+,;=-._~")
    if request.query_string:
        # As the client sent it; only bytes that may not appear raw in a URL get escaped.
        url += "?" + quote(request.query_string, safe="/?:@!$&'()*+,;=%-._~[]")
    return url


def request_headers(request: Request) -> dict[str, str]:
    headers = {name: request.headers[name] for name in FORWARDED_REQUEST_HEADERS if name in request.headers}
    # The id set by vitawin_common.web: the client's when sane, a fresh one otherwise.
    headers[correlation.HEADER] = correlation.get() or correlation.new_id()
    forwarded_for = request.headers.get("X-Forwarded-For")
    # Behind trusted proxies (GATEWAY_TRUSTED_PROXIES, werkzeug's ProxyFix) remote_addr is already
    # the client, taken from X-Forwarded-For: the hop to append is the proxy that connected.
    proxy_fix_orig = request.environ.get("werkzeug.proxy_fix.orig") or {}
    remote = proxy_fix_orig.get("REMOTE_ADDR") or request.remote_addr or ""
    headers["X-Forwarded-For"] = f"{forwarded_for}, {remote}" if forwarded_for else remote
    headers["X-Forwarded-Proto"] = request.scheme
    headers["X-Forwarded-Host"] = request.host
    return headers


def read_body(request: Request) -> bytes:
    """The request body, read through werkzeug's input stream, which enforces MAX_CONTENT_LENGTH
    (GATEWAY_MAX_BODY_BYTES): a larger Content-Length raises RequestEntityTooLarge (a French 413)
    before anything is read. A chunked body has no Content-Length: werkzeug then stops reading at
    the limit without telling whether the client sent more, so one byte more is asked of the
    server's own stream; if there is one, the body is too large, not merely cut."""
    body = request.get_data()
    limit = request.max_content_length
    if (limit is not None and len(body) >= limit and request.content_length is None
            and request.environ.get("wsgi.input_terminated")):
        if request.environ["wsgi.input"].read(1):
            raise RequestEntityTooLarge()
    return body


def _upstream_header_items(upstream) -> list[tuple[str, str]]:
    # urllib3 keeps repeated headers (Set-Cookie) apart; requests' dict joins them with commas.
    raw_headers = getattr(getattr(upstream, "raw", None), "headers", None)
    if raw_headers is not None and hasattr(raw_headers, "getlist"):
        return [(name, value) for name in raw_headers.keys() for value in raw_headers.getlist(name)]
    return list(upstream.headers.items())


def response_headers(upstream, route: Route) -> list[tuple[str, str]]:
    items = _upstream_header_items(upstream)
    connection_listed = {token.strip().lower() for name, value in items if name.lower() == "connection"
                         for token in value.split(",")}
    result = []
    for name, value in items:
        lower = name.lower()
        if (lower in HOP_BY_HOP or lower in connection_listed or lower in RECOMPUTED
                or lower.startswith(GATEWAY_OWNED_PREFIXES)):
            continue
        if lower == "location" and value.startswith(route.base_url):
            value = value[len(route.base_url):] or "/"  # the client only knows the gateway
        result.append((name, value))
    return result


def forward(session, route: Route, request: Request, timeout) -> Response:
    url = upstream_url(route, request)
    body = read_body(request)  # before anything reaches the upstream: a body too large is a 413
    try:
        upstream = session.request(request.method, url, headers=request_headers(request),
                                   data=body or None, timeout=timeout, allow_redirects=False)
    except requests.exceptions.Timeout:
        log.warning("upstream timed out", extra={"upstream": route.service, "method": request.method})
        return error_response(504, MSG_TIMEOUT)
    except requests.exceptions.RequestException as exc:
        log.warning("upstream unreachable", extra={"upstream": route.service, "method": request.method,
                                                   "error": type(exc).__name__})
        return error_response(502, MSG_UNREACHABLE)
    response = Response(upstream.content, status=upstream.status_code)
    response.headers.clear()
    for name, value in response_headers(upstream, route):
        response.headers.add(name, value)
    if "Content-Type" not in response.headers and upstream.content:
        response.headers["Content-Type"] = "application/octet-stream"
    return response
