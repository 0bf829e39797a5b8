"""The home page (the web app's map, tested in test_web_app.py), and forwarding through a real
requests.Session to a WSGI server on loopback."""
from __future__ import annotations

import json
import socket
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from gateway_fakes import echo_app
from vitawin_gateway.app import create_app
from vitawin_gateway.routing import Route


def test_home_page_is_french_accessible_html_with_links_to_the_api_documents():
    answer = create_app(routes=[], session=object()).test_client().get("/")
    assert answer.status_code == 200
    assert answer.content_type == "text/html; charset=utf-8"
    html = answer.get_data(as_text=True)
    assert '<html lang="fr">' in html
    assert "<title>" in html and '<p class="site-name"><a href="/" id="nom-du-site">Vitawin</a></p>' in html
    assert "<h1" in html and "Carte des acteurs" in html
    assert 'href="/api/v1/openapi.json"' in html and 'href="/api/v1/docs"' in html
    assert "http://" not in html and "https://" not in html


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def loopback_upstream():
    server = make_server("127.0.0.1", 0, echo_app("actors"), handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_forwarding_through_a_real_session_to_a_loopback_upstream(loopback_upstream):
    routes = [Route("/api/v1/volunteers", "actors", loopback_upstream)]
    client = create_app(routes=routes, timeout=(2, 5), configure_logging=False).test_client()
    answer = client.put("/api/v1/volunteers/vol-1?status=202&a=1", data=json.dumps({"x": 1}),
                        content_type="application/json", headers={"X-Correlation-ID": "loop-1"})
    assert answer.status_code == 202
    seen = answer.get_json()
    assert (seen["method"], seen["path"], seen["query"]) == ("PUT", "/api/v1/volunteers/vol-1", "status=202&a=1")
    assert json.loads(seen["body"]) == {"x": 1}
    assert seen["headers"]["X-Correlation-Id"] == "loop-1"
    assert answer.headers["X-Correlation-ID"] == "loop-1"


def test_a_real_session_to_a_closed_port_gives_502():
    routes = [Route("/api/v1/volunteers", "actors", f"http://127.0.0.1:{_closed_port()}")]
    client = create_app(routes=routes, timeout=(1, 1), configure_logging=False).test_client()
    answer = client.get("/api/v1/volunteers")
    assert answer.status_code == 502
    assert answer.get_json()["message"].startswith("Service indisponible")
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["x-missing-services"] == ["actors"]
