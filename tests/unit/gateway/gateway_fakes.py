"""Fakes for the gateway's unit tests: upstream services are small WSGI apps called in-process
through a fake `requests.Session`; no socket is opened. Imported by the tests (conftest.py puts
this folder on sys.path)."""
from __future__ import annotations

import json
from urllib.parse import urlsplit

import marshmallow as ma
import requests
from flask import Flask, Response, request
from flask_smorest import Api, Blueprint
from requests.structures import CaseInsensitiveDict
from werkzeug.test import Client

from vitawin_gateway.routing import Route

ACTORS = "http://actors.test:8081"
REQUESTS = "http://requests.test:8082"
MATCHING = "http://matching.test:8083"
NOTIFY = "http://notify.test:8084"
ACCOUNTS = "http://accounts.test:8085"

ROUTES = [
    Route("/api/v1/volunteers", "actors", ACTORS),
    Route("/api/v1/requests", "requests", REQUESTS),
    Route("/api/v1/proposals", "matching", MATCHING),
    Route("/api/v1/notifications", "notify", NOTIFY),
]
ROUTES_WITH_ACCOUNTS = [*ROUTES, Route("/api/v1/auth", "accounts", ACCOUNTS)]


class FakeSession:
    """Speaks like requests.Session; dispatches to in-process WSGI apps keyed by base URL."""

    def __init__(self, apps: dict[str, object]):
        self.apps = dict(apps)
        self.down: set[str] = set()  # base URLs that refuse connections
        self.slow: set[str] = set()  # base URLs that time out
        self.calls: list[dict] = []

    def request(self, method, url, headers=None, data=None, timeout=None, allow_redirects=True, **_):
        self.calls.append({"method": method, "url": url, "headers": dict(headers or {}), "data": data,
                           "timeout": timeout, "allow_redirects": allow_redirects})
        parts = urlsplit(url)
        base = f"{parts.scheme}://{parts.netloc}"
        if base in self.slow:
            raise requests.exceptions.ReadTimeout("read timed out")
        if base in self.down or base not in self.apps:
            raise requests.exceptions.ConnectionError("connection refused")
        answer = Client(self.apps[base]).open(parts.path, method=method, query_string=parts.query,
                                              headers=list((headers or {}).items()), data=data)
        response = requests.Response()
        response.status_code = answer.status_code
        response._content = answer.get_data()
        response.headers = CaseInsensitiveDict()
        for name, value in answer.headers.items():
            if name in response.headers:  # requests joins repeated headers
                response.headers[name] = f"{response.headers[name]}, {value}"
            else:
                response.headers[name] = value
        response.url = url
        return response

    def get(self, url, **kwargs):
        return self.request("GET", url, **kwargs)


def echo_app(name: str) -> Flask:
    """An upstream that answers what it received; the status comes from ?status=."""
    app = Flask(name)

    @app.route("/<path:path>", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
    def echo(path):
        body = {"service": name, "method": request.method, "path": request.path,
                "query": request.query_string.decode(), "body": request.get_data(as_text=True),
                "headers": dict(request.headers)}
        status = int(request.args.get("status", 200))
        return Response(json.dumps(body), status=status, content_type="application/json")

    @app.get("/readyz")
    def readyz():
        return {"status": "ready"}

    return app


def smorest_app(title: str, prefix: str, schema_name: str, fields: dict) -> Flask:
    """An upstream documented by flask-smorest, as the real services are: POST on the collection,
    GET on an item, both with the schema `schema_name`."""
    app = Flask(title)
    app.config.update(API_TITLE=title, API_VERSION="1.0.0", OPENAPI_VERSION="3.0.3",
                      OPENAPI_URL_PREFIX="/", OPENAPI_JSON_PATH="openapi.json")
    api = Api(app)
    schema = ma.Schema.from_dict(fields, name=schema_name)
    blp = Blueprint(title, title, url_prefix=prefix)

    @blp.route("", methods=["POST"])
    @blp.arguments(schema)
    @blp.response(201, schema)
    def create(data):
        """Créer"""
        return data

    @blp.route("/<item_id>", methods=["GET"])
    @blp.response(200, schema)
    def read(item_id):
        """Lire"""
        return {}

    api.register_blueprint(blp)
    return app


def echo_session() -> FakeSession:
    return FakeSession({ACTORS: echo_app("actors"), REQUESTS: echo_app("requests"),
                        MATCHING: echo_app("matching"), NOTIFY: echo_app("notify"),
                        ACCOUNTS: echo_app("accounts")})
