"""The gateway's protections: access tokens checked at the door, rate limits per client, CORS,
request size, security headers."""
from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone

import pytest
from flask import Flask, Response

from gateway_fakes import ACTORS, NOTIFY, ROUTES_WITH_ACCOUNTS, echo_session
from vitawin_common import identity
from vitawin_gateway.app import create_app
from vitawin_gateway.security import SecuritySettings

PRIVATE_KEY, PUBLIC_KEY = identity.generate_keys()
ISSUER = identity.TokenIssuer(PRIVATE_KEY)
VERIFIER = identity.TokenVerifier(PUBLIC_KEY)
APP_ORIGIN = "https://app.vitawin.example"

EXPIRED_MESSAGE = "Jeton d'accès expiré : reconnectez-vous."
INVALID_MESSAGE = "Jeton d'accès invalide."
INVALID_TOKEN_CHALLENGE = 'Bearer realm="vitawin", error="invalid_token"'


def token(subject: str = "acc-1", role: str = "professional", **kwargs) -> str:
    return ISSUER.issue(subject, role, **kwargs)


def bearer(value: str) -> dict:
    return {"Authorization": f"Bearer {value}"}


@pytest.fixture
def session():
    return echo_session()


def gateway(session, **settings):
    """A gateway on the fake upstreams; settings default to a verifier and the allowed origin."""
    settings.setdefault("verifier", VERIFIER)
    settings.setdefault("cors_origins", (APP_ORIGIN,))
    return create_app(routes=ROUTES_WITH_ACCOUNTS, session=session,
                      security_settings=SecuritySettings(**settings)).test_client()


# --- Access tokens --------------------------------------------------------------------------------
def expired_token() -> str:
    issuer = identity.TokenIssuer(PRIVATE_KEY, ttl=timedelta(minutes=15))
    return issuer.issue("acc-1", "professional", now=datetime.now(timezone.utc) - timedelta(hours=1))


def tampered_token() -> str:
    header, payload, signature = token().split(".")
    flipped = ("A" if signature[5] != "A" else "B")
    return ".".join((header, payload, signature[:5] + flipped + signature[6:]))


def foreign_key_token() -> str:
    other_private, _ = identity.generate_keys()
    return identity.TokenIssuer(other_private).issue("acc-1", "professional")


def wrong_audience_token() -> str:
    now = datetime.now(timezone.utc)
    return identity.sign_claims({"iss": identity.ISSUER, "aud": "another-platform", "sub": "acc-1",
                                 "role": "professional", "iat": now, "exp": now + timedelta(minutes=5)},
                                PRIVATE_KEY)


@pytest.mark.parametrize("make, message", [
    (expired_token, EXPIRED_MESSAGE),
    (tampered_token, INVALID_MESSAGE),
    (foreign_key_token, INVALID_MESSAGE),
    (wrong_audience_token, INVALID_MESSAGE),
], ids=["expired", "tampered", "signed-by-another-key", "wrong-audience"])
def test_a_token_that_does_not_verify_is_a_french_401_and_is_not_forwarded(session, make, message):
    answer = gateway(session).get("/api/v1/volunteers/vol-1", headers=bearer(make()))
    assert answer.status_code == 401
    assert answer.content_type == "application/json"
    body = answer.get_json()
    assert (body["code"], body["message"]) == (401, message)
    assert body["correlation_id"] == answer.headers["X-Correlation-ID"]
    assert answer.headers["WWW-Authenticate"] == INVALID_TOKEN_CHALLENGE
    assert session.calls == [], "the upstream saw nothing"


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "Token abc.def.ghi"])
def test_a_malformed_authorization_header_is_a_french_401_and_is_not_forwarded(session, header):
    answer = gateway(session).post("/api/v1/requests", json={}, headers={"Authorization": header})
    assert answer.status_code == 401
    assert answer.get_json()["message"] == "En-tête Authorization invalide : « Bearer <jeton> » attendu."
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="vitawin"'
    assert session.calls == []


def test_a_valid_token_is_forwarded_unchanged(session):
    access = token("acc-7", "school_referent", actor_id="act-1", school_uai="0941234A")
    answer = gateway(session).post("/api/v1/requests", json={"kind": "stage"}, headers=bearer(access))
    assert answer.status_code == 200
    assert answer.get_json()["headers"]["Authorization"] == f"Bearer {access}"
    assert session.calls[-1]["headers"]["Authorization"] == f"Bearer {access}"


def test_the_bearer_scheme_is_case_insensitive(session):
    answer = gateway(session).get("/api/v1/volunteers", headers={"Authorization": f"bearer {token()}"})
    assert answer.status_code == 200


def test_anonymous_requests_pass(session):
    answer = gateway(session).get("/api/v1/volunteers")
    assert answer.status_code == 200
    assert "Authorization" not in session.calls[-1]["headers"]


def test_without_a_public_key_the_gateway_forwards_tokens_as_before(session):
    answer = gateway(session, verifier=None).get("/api/v1/volunteers", headers=bearer("not.a.token"))
    assert answer.status_code == 200
    assert session.calls[-1]["headers"]["Authorization"] == "Bearer not.a.token"


def test_the_public_key_comes_from_the_environment(tmp_path):
    (tmp_path / "public.pem").write_bytes(PUBLIC_KEY)
    settings = SecuritySettings.from_env({"AUTH_PUBLIC_KEY_FILE": str(tmp_path / "public.pem")})
    assert settings.verifier.verify(token("acc-3")).subject == "acc-3"
    assert SecuritySettings.from_env({}).verifier is None


def test_pages_and_health_ignore_the_authorization_header(session):
    client = gateway(session)
    assert client.get("/", headers=bearer("garbage")).status_code == 200
    assert client.get("/healthz", headers=bearer("garbage")).status_code == 200


# --- Rate limits ----------------------------------------------------------------------------------
def assert_too_many(answer):
    assert answer.status_code == 429
    assert answer.content_type == "application/json"
    body = answer.get_json()
    assert body["code"] == 429
    assert body["message"].startswith("Trop de requêtes : réessayez dans ")
    assert body["correlation_id"] == answer.headers["X-Correlation-ID"]
    retry_after = answer.headers["Retry-After"]
    assert retry_after.isdigit() and 1 <= int(retry_after) <= 60
    assert f"dans {retry_after} seconde" in body["message"]


def test_over_the_limit_a_client_gets_a_french_429_with_retry_after_and_nothing_is_forwarded(session):
    client = gateway(session, rate_limit="3 per minute")
    for remaining in (2, 1, 0):
        answer = client.get("/api/v1/volunteers", headers=bearer(token("acc-1")))
        assert answer.status_code == 200
        assert answer.headers["X-RateLimit-Limit"] == "3"
        assert answer.headers["X-RateLimit-Remaining"] == str(remaining)
        assert int(answer.headers["X-RateLimit-Reset"]) > 0
        assert "Retry-After" not in answer.headers, "only a refusal says when to come back"
    answer = client.get("/api/v1/requests", headers=bearer(token("acc-1")))
    assert_too_many(answer)
    assert answer.headers["X-RateLimit-Remaining"] == "0"
    assert len(session.calls) == 3


def test_each_token_subject_has_its_own_budget(session):
    client = gateway(session, rate_limit="2 per minute")
    for _ in range(2):
        assert client.get("/api/v1/volunteers", headers=bearer(token("acc-1"))).status_code == 200
    assert_too_many(client.get("/api/v1/volunteers", headers=bearer(token("acc-1"))))
    # Another subject from the same address, and an anonymous client, are not affected.
    assert client.get("/api/v1/volunteers", headers=bearer(token("acc-2"))).status_code == 200
    assert client.get("/api/v1/volunteers").status_code == 200
    # A new token of the first subject shares its budget.
    assert_too_many(client.get("/api/v1/volunteers", headers=bearer(token("acc-1", "pupil"))))


def test_anonymous_clients_are_counted_by_ip_address(session):
    client = gateway(session, rate_limit="2 per minute")
    first = {"REMOTE_ADDR": "203.0.113.1"}
    for _ in range(2):
        assert client.get("/api/v1/volunteers", environ_base=first).status_code == 200
    assert_too_many(client.get("/api/v1/volunteers", environ_base=first))
    assert client.get("/api/v1/volunteers", environ_base={"REMOTE_ADDR": "203.0.113.2"}).status_code == 200


def test_bad_tokens_are_counted_by_ip_address_too(session):
    client = gateway(session, rate_limit="2 per minute")
    for _ in range(2):
        assert client.get("/api/v1/volunteers", headers=bearer("bad")).status_code == 401
    assert_too_many(client.get("/api/v1/volunteers", headers=bearer("bad")))
    assert_too_many(client.get("/api/v1/volunteers"))


def test_x_forwarded_for_is_ignored_unless_the_proxies_are_trusted(session):
    client = gateway(session, rate_limit="1 per minute")
    assert client.get("/api/v1/volunteers", headers={"X-Forwarded-For": "198.51.100.1"}).status_code == 200
    forged = client.get("/api/v1/volunteers", headers={"X-Forwarded-For": "198.51.100.2"})
    assert_too_many(forged)  # the same client (127.0.0.1), whatever it claims

    behind_proxy = gateway(session, rate_limit="1 per minute", trusted_proxies=1)
    assert behind_proxy.get("/api/v1/volunteers", headers={"X-Forwarded-For": "198.51.100.1"}).status_code == 200
    assert_too_many(behind_proxy.get("/api/v1/volunteers", headers={"X-Forwarded-For": "198.51.100.1"}))
    assert behind_proxy.get("/api/v1/volunteers", headers={"X-Forwarded-For": "198.51.100.2"}).status_code == 200
    # The upstream gets the chain: the client, then the proxy that connected to the gateway.
    assert session.calls[-1]["headers"]["X-Forwarded-For"] == "198.51.100.2, 127.0.0.1"


def test_sign_in_and_token_endpoints_have_a_stricter_limit_per_ip_address(session):
    client = gateway(session, rate_limit="100 per minute", auth_rate_limit="2 per minute")
    assert client.post("/api/v1/auth/sign-in", json={"email": "a@b.fr", "password": "x"}).status_code == 200
    assert client.post("/api/v1/auth/token", json={"api_key": "k"}).status_code == 200
    answer = client.post("/api/v1/auth/sign-in", json={"email": "a@b.fr", "password": "y"})
    assert_too_many(answer)
    assert answer.headers["X-RateLimit-Limit"] == "2"
    # Per address, whatever the token: a valid token does not open a new budget.
    assert_too_many(client.post("/api/v1/auth/token", json={}, headers=bearer(token("acc-9"))))
    assert_too_many(client.post("/api/v1/auth/sign-in/", json={}))
    assert len(session.calls) == 2
    # Another address may still sign in; the rest of the API, /auth included, is not affected.
    other = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.post("/api/v1/auth/sign-in", json={}, environ_base=other).status_code == 200
    assert client.get("/api/v1/auth/api-keys").status_code == 200
    assert client.post("/api/v1/requests", json={}).status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/", "/static/gateway.css"])
def test_health_metrics_and_pages_are_not_rate_limited(session, path):
    client = gateway(session, rate_limit="1 per minute")
    for _ in range(3):
        answer = client.get(path)
        assert answer.status_code == 200
        assert "X-RateLimit-Limit" not in answer.headers


def test_a_wrong_limit_fails_at_start_up(session):
    with pytest.raises(ValueError):
        gateway(session, rate_limit="lots per minute")


# --- CORS -----------------------------------------------------------------------------------------
def preflight(client, origin, method="POST", headers="Authorization, Content-Type"):
    return client.options("/api/v1/requests", headers={
        "Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers})


def test_a_preflight_from_an_allowed_origin_is_answered_by_the_gateway(session):
    client = gateway(session, rate_limit="1 per minute")
    for _ in range(3):  # not counted either
        answer = preflight(client, APP_ORIGIN, headers="Authorization, Content-Type, Idempotency-Key")
        assert answer.status_code == 204
        assert answer.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
        assert set(answer.headers["Access-Control-Allow-Methods"].split(", ")) == {
            "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
        assert set(answer.headers["Access-Control-Allow-Headers"].lower().split(", ")) == {
            "authorization", "content-type", "idempotency-key"}
        assert answer.headers["Access-Control-Max-Age"] == "600"
        assert "Access-Control-Allow-Credentials" not in answer.headers
        assert "Origin" in answer.headers.get("Vary", "")
    assert session.calls == []


def test_a_preflight_asking_for_a_header_not_allowed_does_not_get_it(session):
    answer = preflight(gateway(session), APP_ORIGIN, headers="Authorization, X-Secret")
    assert answer.headers["Access-Control-Allow-Headers"] == "Authorization"


@pytest.mark.parametrize("origin", ["https://evil.example", "https://app.vitawin.example.evil.example",
                                    "http://app.vitawin.example"])
def test_a_preflight_from_a_foreign_origin_gets_no_cors_headers(session, origin):
    answer = preflight(gateway(session), origin)
    assert answer.status_code == 204
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert "Access-Control-Allow-Methods" not in answer.headers
    assert session.calls == []


def test_cross_origin_answers_expose_the_useful_headers_to_allowed_origins_only(session):
    client = gateway(session)
    answer = client.get("/api/v1/volunteers", headers={"Origin": APP_ORIGIN})
    assert answer.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert set(answer.headers["Access-Control-Expose-Headers"].split(", ")) == {
        "Retry-After", "X-Correlation-Id", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}
    assert "Access-Control-Allow-Origin" not in client.get(
        "/api/v1/volunteers", headers={"Origin": "https://evil.example"}).headers
    assert "Access-Control-Allow-Origin" not in client.get("/api/v1/volunteers").headers
    # The gateway's refusals carry them too, so that a web page can read the French message.
    refused = client.get("/api/v1/volunteers", headers={"Origin": APP_ORIGIN, **bearer("bad")})
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    limited = gateway(session, rate_limit="1 per minute")
    limited.get("/api/v1/volunteers", headers={"Origin": APP_ORIGIN})
    refused = limited.get("/api/v1/volunteers", headers={"Origin": APP_ORIGIN})
    assert refused.status_code == 429
    assert refused.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "Retry-After" in refused.headers["Access-Control-Expose-Headers"]


def test_cors_is_for_the_api_only(session):
    answer = gateway(session).get("/", headers={"Origin": APP_ORIGIN})
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_an_upstreams_own_cors_headers_are_dropped(session):
    upstream = Flask("actors")

    @upstream.get("/api/v1/volunteers")
    def permissive():
        response = Response("[]", content_type="application/json")
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Credentials"] = "true"
        return response

    session.apps[ACTORS] = upstream
    answer = gateway(session).get("/api/v1/volunteers", headers={"Origin": "https://evil.example"})
    assert answer.status_code == 200
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert "Access-Control-Allow-Credentials" not in answer.headers


def test_an_options_request_that_is_not_a_preflight_is_still_forwarded(session):
    answer = gateway(session).options("/api/v1/requests/req-1")
    assert answer.get_json()["method"] == "OPTIONS"


def test_allowed_origins_come_from_the_environment():
    assert SecuritySettings.from_env({}).cors_origins == ()
    assert SecuritySettings.from_env({"APP_URL": "https://App.Vitawin.example/accueil"}).cors_origins == (
        "https://app.vitawin.example",)
    assert SecuritySettings.from_env({
        "APP_URL": "https://app.vitawin.example",
        "GATEWAY_CORS_ORIGINS": " https://a.example , http://localhost:5173/ ,"}).cors_origins == (
        "https://a.example", "http://localhost:5173")
    assert SecuritySettings.from_env({"APP_URL": "https://app.vitawin.example",
                                      "GATEWAY_CORS_ORIGINS": ""}).cors_origins == ()
    with pytest.raises(ValueError):
        SecuritySettings.from_env({"GATEWAY_CORS_ORIGINS": "app.vitawin.example"})


# --- Request size ---------------------------------------------------------------------------------
def assert_too_large(answer):
    assert answer.status_code == 413
    body = answer.get_json()
    assert body["code"] == 413
    assert body["message"] == "Requête trop volumineuse : 1 Kio au plus."
    assert body["correlation_id"] == answer.headers["X-Correlation-ID"]


def test_a_body_over_the_limit_is_a_french_413_and_is_not_forwarded(session):
    client = gateway(session, max_body_bytes=1024)
    assert_too_large(client.post("/api/v1/requests", data=b"x" * 1025, content_type="application/json"))
    assert session.calls == []
    assert client.post("/api/v1/requests", data=b"x" * 1024, content_type="application/json").status_code == 200
    assert session.calls[-1]["data"] == b"x" * 1024


def chunked(client, body: bytes):
    """A body without Content-Length, as a server that de-chunks it presents it."""
    return client.post("/api/v1/requests", input_stream=io.BytesIO(body), content_type="application/json",
                       headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})


def test_a_chunked_body_over_the_limit_is_a_413_too_not_a_truncated_body(session):
    client = gateway(session, max_body_bytes=1024)
    assert_too_large(chunked(client, b"x" * 1025))
    assert_too_large(chunked(client, b"x" * 5000))
    assert session.calls == []
    assert chunked(client, b"x" * 1024).status_code == 200
    assert session.calls[-1]["data"] == b"x" * 1024
    assert chunked(client, b'{"a": 1}').get_json()["body"] == '{"a": 1}'


def test_the_default_limit_is_one_mebibyte(session):
    client = gateway(session)
    answer = client.post("/api/v1/requests", data=b"x" * (1024 * 1024 + 1), content_type="application/json")
    assert answer.status_code == 413
    assert answer.get_json()["message"] == "Requête trop volumineuse : 1 Mio au plus."
    assert SecuritySettings.from_env({"GATEWAY_MAX_BODY_BYTES": "2048"}).max_body_bytes == 2048


# --- Security headers -----------------------------------------------------------------------------
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "geolocation=(self), camera=(), microphone=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
JSON_CSP = "default-src 'none'; frame-ancestors 'none'"


def assert_security_headers(answer, csp=JSON_CSP):
    for name, value in COMMON_HEADERS.items():
        assert answer.headers.getlist(name) == [value], name
    assert answer.headers.getlist("Content-Security-Policy") == [csp]
    assert "Strict-Transport-Security" not in answer.headers


def test_security_headers_on_a_page_with_a_csp_that_needs_no_unsafe_inline(session):
    answer = gateway(session).get("/")
    csp = answer.headers["Content-Security-Policy"]
    assert_security_headers(answer, csp)
    assert csp == ("default-src 'self'; img-src 'self' data: https://tile.openstreetmap.org "
                   "https://*.tile.openstreetmap.org; style-src 'self'; script-src 'self'; connect-src 'self'; "
                   "frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    html = answer.get_data(as_text=True)
    assert "<style" not in html and "style=" not in html
    assert '<link rel="stylesheet" href="/static/app/css/app.css?v=' in html


def test_the_pages_stylesheet_is_served_by_the_gateway(session):
    answer = gateway(session).get("/static/gateway.css")
    assert answer.status_code == 200
    assert answer.mimetype == "text/css"
    assert "font-family" in answer.get_data(as_text=True)
    assert_security_headers(answer)
    answer.close()


def test_the_docs_page_has_the_html_policy_too(session):
    answer = gateway(session).get("/api/v1/docs")
    assert answer.status_code == 200
    assert answer.headers["Content-Security-Policy"].startswith("default-src 'self'; ")


def test_map_tile_origins_come_from_the_environment(session):
    settings = SecuritySettings.from_env({"GATEWAY_TILE_ORIGINS": "https://tiles.example.fr"})
    csp = create_app(routes=[], session=session, security_settings=settings).test_client().get("/").headers[
        "Content-Security-Policy"]
    assert "img-src 'self' data: https://tiles.example.fr; " in csp
    with pytest.raises(ValueError):
        gateway(session, tile_origins="https://x.example; script-src *")


def test_security_headers_on_a_forwarded_json_answer_win_over_the_upstreams(session):
    upstream = Flask("actors")

    @upstream.get("/api/v1/volunteers/<volunteer_id>")
    def lax(volunteer_id):
        response = Response(json.dumps({"volunteer_id": volunteer_id}), content_type="application/json")
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers["Referrer-Policy"] = "unsafe-url"
        response.headers["ETag"] = '"v1"'
        return response

    session.apps[ACTORS] = upstream
    answer = gateway(session).get("/api/v1/volunteers/vol-1")
    assert answer.get_json() == {"volunteer_id": "vol-1"}
    assert_security_headers(answer)
    assert answer.headers["ETag"] == '"v1"', "other upstream headers are kept"


def test_an_upstream_page_keeps_its_own_stricter_policies(session):
    upstream = Flask("notify")
    page_csp = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

    @upstream.get("/api/v1/notifications/unsubscribe")
    def page():
        response = Response("<!DOCTYPE html><p>Désabonnement</p>", content_type="text/html; charset=utf-8")
        response.headers["Content-Security-Policy"] = page_csp
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    session.apps[NOTIFY] = upstream
    answer = gateway(session).get("/api/v1/notifications/unsubscribe?token=t")
    assert answer.headers.getlist("Content-Security-Policy") == [page_csp]
    assert answer.headers.getlist("Referrer-Policy") == ["no-referrer"]
    assert answer.headers["X-Frame-Options"] == "DENY"


def test_security_headers_on_a_404(session):
    for path in ("/nowhere", "/api/v1/unknown"):
        answer = gateway(session).get(path)
        assert answer.status_code == 404
        assert_security_headers(answer)


def test_security_headers_on_a_429_a_401_and_a_413(session):
    client = gateway(session, rate_limit="1 per minute", max_body_bytes=10)
    assert_security_headers(client.post("/api/v1/requests", data=b"x" * 11))
    answer = client.get("/api/v1/volunteers")
    assert answer.status_code == 429
    assert_security_headers(answer)
    other = {"REMOTE_ADDR": "203.0.113.5"}
    answer = client.get("/api/v1/volunteers", headers=bearer("bad"), environ_base=other)
    assert answer.status_code == 401
    assert_security_headers(answer)


def test_hsts_only_over_https(session):
    hsts = "max-age=31536000; includeSubDomains"
    client = gateway(session)
    assert "Strict-Transport-Security" not in client.get("/").headers
    assert client.get("/", base_url="https://api.vitawin.example").headers["Strict-Transport-Security"] == hsts
    assert client.get("/api/v1/volunteers", base_url="https://api.vitawin.example").headers[
        "Strict-Transport-Security"] == hsts
    # X-Forwarded-Proto counts only from trusted proxies.
    assert "Strict-Transport-Security" not in client.get("/", headers={"X-Forwarded-Proto": "https"}).headers
    behind_proxy = gateway(session, trusted_proxies=1)
    assert behind_proxy.get("/", headers={"X-Forwarded-Proto": "https"}).headers[
        "Strict-Transport-Security"] == hsts
    # GATEWAY_HSTS=1: always (TLS ends before a proxy that does not say so).
    settings = SecuritySettings.from_env({"GATEWAY_HSTS": "1"})
    always = create_app(routes=[], session=session, security_settings=settings).test_client()
    assert always.get("/").headers["Strict-Transport-Security"] == hsts


def test_settings_from_the_environment():
    settings = SecuritySettings.from_env({
        "GATEWAY_RATE_LIMIT": "100 per minute", "GATEWAY_AUTH_RATE_LIMIT": "5 per minute",
        "GATEWAY_RATELIMIT_STORAGE_URI": "redis://cache:6379", "GATEWAY_TRUSTED_PROXIES": "1"})
    assert (settings.rate_limit, settings.auth_rate_limit, settings.ratelimit_storage_uri,
            settings.trusted_proxies) == ("100 per minute", "5 per minute", "redis://cache:6379", 1)
    defaults = SecuritySettings.from_env({})
    assert (defaults.rate_limit, defaults.auth_rate_limit, defaults.ratelimit_storage_uri, defaults.max_body_bytes,
            defaults.trusted_proxies, defaults.hsts) == ("600 per minute", "20 per minute", "memory://", 1024 * 1024,
                                                         0, False)
