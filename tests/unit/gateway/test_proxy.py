"""Forwarding: method, path, query, body, headers, status, correlation id, errors."""
from __future__ import annotations

import json

import pytest
from flask import Flask, Response

from gateway_fakes import ACCOUNTS, ACTORS, MATCHING, REQUESTS, ROUTES, FakeSession, echo_session
from vitawin_gateway.app import create_app
from vitawin_gateway.routing import Route, resolve, routes_from_env, upstreams


@pytest.fixture
def session():
    return echo_session()


@pytest.fixture
def client(session):
    return create_app(routes=ROUTES, session=session, timeout=(1, 2)).test_client()


def test_forwards_method_path_query_and_body_and_returns_status_body_and_content_type(client, session):
    body = json.dumps({"organisation_name": "Boulangerie", "town": "94080"})
    answer = client.post("/api/v1/volunteers/sub/path?status=201&town=94080&q=caf%C3%A9", data=body,
                         content_type="application/json")
    assert answer.status_code == 201
    assert answer.content_type == "application/json"
    seen = answer.get_json()
    assert seen["service"] == "actors"
    assert seen["method"] == "POST"
    assert seen["path"] == "/api/v1/volunteers/sub/path"
    assert seen["query"] == "status=201&town=94080&q=caf%C3%A9"
    assert json.loads(seen["body"]) == {"organisation_name": "Boulangerie", "town": "94080"}
    [call] = session.calls
    assert call["url"].startswith(f"{ACTORS}/api/v1/volunteers/sub/path?")
    assert call["allow_redirects"] is False, "a redirect is the client's to follow"
    assert call["timeout"] == (1, 2)


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_forwards_every_method(client, method):
    answer = client.open("/api/v1/requests/req-1", method=method)
    assert answer.status_code == 200
    assert answer.get_json()["method"] == method
    assert answer.get_json()["service"] == "requests"


def test_head_is_forwarded_as_head(client, session):
    assert client.head("/api/v1/proposals?request_id=r1").status_code == 200
    assert session.calls[-1]["method"] == "HEAD"
    assert session.calls[-1]["url"] == f"{MATCHING}/api/v1/proposals?request_id=r1"


def test_each_prefix_goes_to_its_service(client):
    for path, service in (("/api/v1/volunteers", "actors"), ("/api/v1/requests", "requests"),
                          ("/api/v1/proposals", "matching"), ("/api/v1/notifications/x", "notify")):
        assert client.get(path).get_json()["service"] == service


def test_upstream_error_status_and_body_are_passed_through(session):
    upstream = Flask("requests")

    @upstream.post("/api/v1/requests")
    def refuse():
        return {"code": 422, "message": "Les données envoyées sont invalides.",
                "errors": {"json": {"town": ["Commune hors du territoire."]}}}, 422

    session.apps[REQUESTS] = upstream
    answer = create_app(routes=ROUTES, session=session).test_client().post(
        "/api/v1/requests", json={"town": "75056"})
    assert answer.status_code == 422
    assert answer.get_json()["errors"]["json"]["town"] == ["Commune hors du territoire."]


def test_only_the_headers_that_matter_are_forwarded(client, session):
    client.post("/api/v1/volunteers", data="{}", headers={
        "Content-Type": "application/json", "Accept": "application/json",
        "Accept-Language": "fr-FR", "Idempotency-Key": "key-123", "Authorization": "Bearer abc.def.ghi",
        "Cookie": "session=secret", "Connection": "keep-alive, X-Private", "X-Private": "p",
        "Host": "evil.example"})
    headers = session.calls[-1]["headers"]
    assert headers["Content-Type"] == "application/json"
    assert headers["Accept"] == "application/json"
    assert headers["Accept-Language"] == "fr-FR"
    assert headers["Idempotency-Key"] == "key-123"
    assert headers["Authorization"] == "Bearer abc.def.ghi", "services verify the access token themselves"
    lowered = {name.lower() for name in headers}
    assert not {"cookie", "connection", "x-private", "host"} & lowered


def test_correlation_id_is_created_when_the_client_sent_none_and_forwarded(client, session):
    answer = client.get("/api/v1/volunteers/vol-1")
    made = answer.headers["X-Correlation-ID"]
    assert made
    assert session.calls[-1]["headers"]["X-Correlation-ID"] == made
    assert answer.get_json()["headers"]["X-Correlation-Id"] == made  # what the upstream received
    other = client.get("/api/v1/volunteers/vol-1").headers["X-Correlation-ID"]
    assert other != made, "each request gets its own id"


def test_the_clients_correlation_id_is_kept(client, session):
    answer = client.get("/api/v1/requests", headers={"X-Correlation-ID": "client-abc.123"})
    assert answer.headers["X-Correlation-ID"] == "client-abc.123"
    assert session.calls[-1]["headers"]["X-Correlation-ID"] == "client-abc.123"


def test_an_unsafe_correlation_id_is_replaced(client, session):
    answer = client.get("/api/v1/requests", headers={"X-Correlation-ID": "bad id\twith spaces"})
    assert answer.headers["X-Correlation-ID"] != "bad id\twith spaces"
    assert session.calls[-1]["headers"]["X-Correlation-ID"] == answer.headers["X-Correlation-ID"]


@pytest.mark.parametrize("path", ["/api/v1", "/api/v1/", "/api/v1/unknown", "/api/v1/volunteersX",
                                  "/api/v1/volunteers/../../metrics"])
def test_unknown_api_path_is_a_french_404_and_reaches_no_upstream(client, session, path):
    answer = client.get(path)
    assert answer.status_code == 404
    assert answer.content_type == "application/json"
    body = answer.get_json()
    assert body["code"] == 404
    assert "introuvable" in body["message"].lower()
    assert body["correlation_id"] == answer.headers["X-Correlation-ID"]
    assert session.calls == []


def test_upstream_down_is_a_french_502(client, session):
    session.down.add(ACTORS)
    answer = client.post("/api/v1/volunteers", json={})
    assert answer.status_code == 502
    body = answer.get_json()
    assert body["message"].startswith("Service indisponible")
    assert body["correlation_id"] == answer.headers["X-Correlation-ID"]


def test_upstream_timeout_is_a_french_504(client, session):
    session.slow.add(REQUESTS)
    answer = client.get("/api/v1/requests")
    assert answer.status_code == 504
    assert answer.get_json()["message"].startswith("Service indisponible")


def test_hop_by_hop_headers_are_stripped_and_useful_ones_kept(session):
    upstream = Flask("actors")

    @upstream.post("/api/v1/volunteers")
    def created():
        response = Response('{"volunteer_id": "vol-1"}', status=201, content_type="application/json")
        response.headers["Location"] = f"{ACTORS}/api/v1/volunteers/vol-1"
        response.headers["Connection"] = "X-Upstream-Private"
        response.headers["X-Upstream-Private"] = "internal"
        response.headers["Keep-Alive"] = "timeout=5"
        response.headers["Upgrade"] = "h2c"
        response.headers["ETag"] = '"v1"'
        response.headers["X-Correlation-ID"] = "upstream-made-this-up"
        return response

    session.apps[ACTORS] = upstream
    answer = create_app(routes=ROUTES, session=session).test_client().post(
        "/api/v1/volunteers", json={}, headers={"X-Correlation-ID": "client-1"})
    assert answer.status_code == 201
    assert answer.get_json() == {"volunteer_id": "vol-1"}
    assert answer.headers["Location"] == "/api/v1/volunteers/vol-1", "the client only knows the gateway"
    assert answer.headers["ETag"] == '"v1"'
    for hop in ("Connection", "Keep-Alive", "Upgrade", "X-Upstream-Private"):
        assert hop not in answer.headers
    assert answer.headers.getlist("X-Correlation-ID") == ["client-1"]


def test_readiness_is_every_upstream_ready(session):
    app = create_app(routes=ROUTES, session=session, ready_timeout=0.5)
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    assert {c["url"] for c in session.calls} == {f"{base}/readyz" for base in
                                                 (r.base_url for r in ROUTES)}
    assert all(c["timeout"] == 0.5 for c in session.calls)

    not_ready = Flask("matching")
    not_ready.get("/readyz")(lambda: ({"status": "not ready"}, 503))
    session.apps[MATCHING] = not_ready
    assert client.get("/readyz").status_code == 503

    session.apps[MATCHING] = echo_session().apps[MATCHING]
    session.down.add(ACTORS)
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200, "liveness does not depend on upstreams"


def test_routes_come_from_the_environment_by_default(monkeypatch):
    monkeypatch.setenv("ACTORS_URL", "http://actors-api:8081/")
    monkeypatch.setenv("NOTIFY_URL", "http://notify-api:8084")
    monkeypatch.setenv("ACCOUNTS_URL", "http://accounts-api:8085")
    monkeypatch.delenv("REQUESTS_URL", raising=False)
    session = FakeSession({"http://actors-api:8081": echo_session().apps[ACTORS]})
    app = create_app(session=session)
    table = {r.prefix: r.base_url for r in app.extensions["vitawin_gateway"]["routes"]}
    assert table == {"/api/v1/volunteers": "http://actors-api:8081",
                     "/api/v1/actors": "http://actors-api:8081",
                     "/api/v1/requests": "http://127.0.0.1:8082",
                     "/api/v1/initiatives": "http://127.0.0.1:8082",
                     "/api/v1/proposals": "http://127.0.0.1:8083",
                     "/api/v1/notifications": "http://notify-api:8084",
                     "/api/v1/auth": "http://accounts-api:8085",
                     "/api/v1/webhooks": "http://127.0.0.1:8086"}
    assert app.test_client().get("/api/v1/volunteers").get_json()["service"] == "actors"
    assert app.test_client().get("/api/v1/actors/map.geojson").get_json()["service"] == "actors"


def test_partners_webhook_subscriptions_go_to_the_webhooks_service():
    table = routes_from_env({"WEBHOOKS_URL": "http://webhooks-api:8086/"})
    for path in ("/api/v1/webhooks/subscriptions", "/api/v1/webhooks/subscriptions/whs-1/replay"):
        route = resolve(table, path)
        assert (route.service, route.base_url) == ("webhooks", "http://webhooks-api:8086")
    assert resolve(table, "/api/v1/webhooksx") is None


def test_sign_in_tokens_and_api_keys_go_to_the_accounts_service(monkeypatch):
    assert Route("/api/v1/auth", "accounts", "http://127.0.0.1:8085") in routes_from_env({})
    table = routes_from_env({"ACCOUNTS_URL": "http://accounts-api:8085/"})
    for path in ("/api/v1/auth", "/api/v1/auth/sign-in", "/api/v1/auth/token", "/api/v1/auth/api-keys/k1"):
        route = resolve(table, path)
        assert (route.service, route.base_url) == ("accounts", "http://accounts-api:8085")
    assert resolve(table, "/api/v1/authors") is None
    assert upstreams(table)["accounts"] == "http://accounts-api:8085"

    monkeypatch.setenv("ACCOUNTS_URL", ACCOUNTS)
    session = echo_session()
    answer = create_app(session=session).test_client().post("/api/v1/auth/sign-in", json={"email": "a@b.fr"})
    assert answer.status_code == 200
    assert answer.get_json()["service"] == "accounts"
    assert session.calls[-1]["url"] == f"{ACCOUNTS}/api/v1/auth/sign-in"
