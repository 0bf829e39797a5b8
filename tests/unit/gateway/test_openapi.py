"""The merged OpenAPI document: paths of every upstream, schema conflicts, missing services, cache."""
from __future__ import annotations

import logging

import marshmallow as ma
import pytest
from flask import Flask

from gateway_fakes import (ACCOUNTS, ACTORS, MATCHING, NOTIFY, REQUESTS, ROUTES, ROUTES_WITH_ACCOUNTS, FakeSession,
                           smorest_app)
from vitawin_gateway.app import create_app
from vitawin_gateway.openapi import MergedDocument, merge_documents

PLEDGE = {"volunteer_id": ma.fields.String(dump_only=True), "town": ma.fields.String(required=True)}


def upstreams(**overrides):
    apps = {
        ACTORS: smorest_app("actors", "/api/v1/volunteers", "Pledge", PLEDGE),
        REQUESTS: smorest_app("requests", "/api/v1/requests", "Request",
                              {"request_id": ma.fields.String(dump_only=True),
                               "max_distance_km": ma.fields.Float(required=True)}),
        MATCHING: smorest_app("matching", "/api/v1/proposals", "Proposal",
                              {"proposal_id": ma.fields.String()}),
        NOTIFY: smorest_app("notify", "/api/v1/notifications", "Notification",
                            {"notification_id": ma.fields.String()}),
    }
    apps.update(overrides)
    return FakeSession(apps)


def document(session, **kwargs):
    return create_app(routes=ROUTES, session=session, **kwargs).test_client().get("/api/v1/openapi.json")


def test_paths_of_every_upstream_are_merged_into_one_document():
    answer = document(upstreams())
    assert answer.status_code == 200
    doc = answer.get_json()
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["title"] == "API Vitawin"
    assert doc["servers"] == [{"url": "/"}]
    assert doc["x-missing-services"] == []
    assert set(doc["paths"]) == {
        "/api/v1/volunteers", "/api/v1/volunteers/{item_id}", "/api/v1/requests",
        "/api/v1/requests/{item_id}", "/api/v1/proposals", "/api/v1/proposals/{item_id}",
        "/api/v1/notifications", "/api/v1/notifications/{item_id}"}
    schemas = doc["components"]["schemas"]
    assert {"Pledge", "Request", "Proposal", "Notification"} <= set(schemas)
    # flask-smorest's own Error schema is the same in every service: kept once, no prefixed copy.
    assert "Error" in schemas and not any(name.endswith("_Error") for name in schemas)
    assert {tag["name"] for tag in doc["tags"]} == {"actors", "requests", "matching", "notify"}


def test_the_accounts_service_document_is_merged_like_the_others():
    session = upstreams(**{ACCOUNTS: smorest_app("accounts", "/api/v1/auth/api-keys", "ApiKey",
                                                 {"key_id": ma.fields.String(dump_only=True),
                                                  "label": ma.fields.String(required=True)})})
    doc = create_app(routes=ROUTES_WITH_ACCOUNTS, session=session).test_client().get(
        "/api/v1/openapi.json").get_json()
    assert doc["x-missing-services"] == []
    assert {"/api/v1/auth/api-keys", "/api/v1/auth/api-keys/{item_id}"} <= set(doc["paths"])
    assert "ApiKey" in doc["components"]["schemas"]
    assert "accounts" in {tag["name"] for tag in doc["tags"]}


def test_a_conflicting_schema_name_is_logged_and_the_later_one_prefixed_with_refs_rewritten(caplog):
    # requests also calls a schema "Pledge", with other fields.
    session = upstreams(**{REQUESTS: smorest_app("requests", "/api/v1/requests", "Pledge",
                                                 {"request_id": ma.fields.String(),
                                                  "kind": ma.fields.String(required=True)})})
    with caplog.at_level(logging.ERROR, logger="vitawin_gateway.openapi"):
        doc = document(session).get_json()
    schemas = doc["components"]["schemas"]
    assert set(schemas["Pledge"]["properties"]) == {"volunteer_id", "town"}, "the first one keeps its name"
    assert set(schemas["requests_Pledge"]["properties"]) == {"request_id", "kind"}
    post = doc["paths"]["/api/v1/requests"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/requests_Pledge"}
    get = doc["paths"]["/api/v1/requests/{item_id}"]["get"]
    assert get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/requests_Pledge"
    actors_post = doc["paths"]["/api/v1/volunteers"]["post"]
    assert actors_post["requestBody"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Pledge"
    conflicts = [r for r in caplog.records if r.levelno == logging.ERROR and "conflict" in r.getMessage()]
    assert conflicts and conflicts[0].component == "Pledge" and conflicts[0].upstream == "requests"


def test_a_schema_that_refers_to_a_renamed_one_is_renamed_too():
    town = {"type": "object", "properties": {"code": {"type": "string"}}}
    first = {"paths": {"/api/v1/volunteers": {"get": {"responses": {"200": {"description": "OK", "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Place"}}}}}}}},
        "components": {"schemas": {"Town": town,
                                   "Place": {"type": "object", "properties": {"town": {"$ref": "#/components/schemas/Town"}}}}}}
    second = {"paths": {"/api/v1/requests": {"get": {"responses": {"200": {"description": "OK", "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Place"}}}}}}}},
        "components": {"schemas": {"Town": {"type": "string"},
                                   "Place": {"type": "object", "properties": {"town": {"$ref": "#/components/schemas/Town"}}}}}}
    merged = merge_documents([("actors", first), ("requests", second)], ROUTES)
    schemas = merged["components"]["schemas"]
    assert schemas["Town"] == town and schemas["requests_Town"] == {"type": "string"}
    # Place reads the same text in both, but not the same Town: it is a conflict as well.
    assert schemas["requests_Place"]["properties"]["town"] == {"$ref": "#/components/schemas/requests_Town"}
    assert schemas["Place"]["properties"]["town"] == {"$ref": "#/components/schemas/Town"}
    ref = merged["paths"]["/api/v1/requests"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ref == {"$ref": "#/components/schemas/requests_Place"}


def test_identical_components_of_every_kind_are_kept_once():
    shared = {"components": {"responses": {"DEFAULT_ERROR": {"description": "Default error response"}},
                             "schemas": {"Error": {"type": "object"}}}}
    merged = merge_documents([("actors", {"paths": {}, **shared}), ("requests", {"paths": {}, **shared})], ROUTES)
    merged["components"].pop("securitySchemes")  # the gateway's own (test_api_docs.py)
    assert merged["components"] == shared["components"]


def test_a_path_the_gateway_does_not_route_to_that_service_is_left_out():
    doc = {"paths": {"/api/v1/volunteers": {}, "/api/v1/internal/reset": {}, "/api/v1/requests": {}},
           "components": {}}
    merged = merge_documents([("actors", doc)], ROUTES)
    assert list(merged["paths"]) == ["/api/v1/volunteers"]


def test_a_service_that_is_down_is_listed_as_missing_and_the_others_are_still_there():
    session = upstreams()
    session.down.add(MATCHING)
    broken = Flask("notify")
    broken.get("/openapi.json")(lambda: ("<html>oops</html>", 500))
    session.apps[NOTIFY] = broken
    answer = document(session)
    assert answer.status_code == 200
    doc = answer.get_json()
    assert doc["x-missing-services"] == ["matching", "notify"]
    assert "/api/v1/volunteers" in doc["paths"] and "/api/v1/requests" in doc["paths"]
    assert not any(path.startswith(("/api/v1/proposals", "/api/v1/notifications")) for path in doc["paths"])


def test_every_service_down_still_gives_a_document():
    session = FakeSession({})
    doc = document(session).get_json()
    assert doc["paths"] == {}
    assert doc["x-missing-services"] == ["actors", "requests", "matching", "notify"]


def test_the_document_is_cached_for_a_short_time_and_sooner_refreshed_when_incomplete():
    now = [100.0]
    session = upstreams()
    cache = MergedDocument(ROUTES, get=session.get, ttl=30, ttl_incomplete=5, clock=lambda: now[0])
    first = cache.get_document()
    fetches = len(session.calls)
    assert fetches == 4
    now[0] += 29
    assert cache.get_document() is first and len(session.calls) == fetches
    now[0] += 2
    cache.get_document()
    assert len(session.calls) == 2 * fetches

    session.down.add(ACTORS)
    now[0] += 31
    assert cache.get_document()["x-missing-services"] == ["actors"]
    session.down.clear()
    now[0] += 6
    assert cache.get_document()["x-missing-services"] == [], "a missing service comes back soon"


@pytest.mark.parametrize("path", ["/api/v1/docs/liste"])
def test_the_docs_list_lists_the_paths_of_the_merged_document_without_fetching_anything(path):
    session = upstreams()
    session.down.add(NOTIFY)
    answer = create_app(routes=ROUTES, session=session).test_client().get(path)
    assert answer.status_code == 200
    assert answer.content_type.startswith("text/html")
    html = answer.get_data(as_text=True)
    assert '<html lang="fr">' in html and "<title>" in html and "<h1>" in html
    for listed in ("/api/v1/volunteers", "/api/v1/requests/{item_id}", "/api/v1/proposals"):
        assert listed in html
    assert "notify" in html and "indisponible" in html
    assert "<script" not in html and "http://" not in html and "https://" not in html
