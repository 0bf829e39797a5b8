"""The API's documentation at the gateway: the interactive page /api/v1/docs (Swagger UI, vendored
from npm, started by our module /static/api-docs.js under the strict CSP), its plain list without
JavaScript (/api/v1/docs/liste), Swagger UI's files served from the vendor allowlist, and the
Bearer scheme the merged document declares so that "Authorize" works. Flask's test client, no
browser (tests/e2e/test_api_docs.py drives the page in Chromium)."""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import marshmallow as ma
import pytest

from gateway_fakes import ACTORS, MATCHING, NOTIFY, REQUESTS, ROUTES, FakeSession, smorest_app
from vitawin_common import config
from vitawin_gateway import webapp
from vitawin_gateway.app import create_app
from vitawin_gateway.openapi import merge_documents

ROOT = Path(__file__).resolve().parents[3]
STATIC = ROOT / "services" / "gateway" / "vitawin_gateway" / "static"
SWAGGER_VERSION = "5.35.0"
SWAGGER_FILES = {"swagger-ui-bundle.js": "/* swagger-ui-bundle d'essai */", "swagger-ui.css": "/* css */",
                 # in the package, never served:
                 "swagger-ui.js": "x", "swagger-ui-bundle.js.map": "{}", "index.html": "<html></html>",
                 "swagger-initializer.js": "x", "oauth2-redirect.html": "<html></html>", "favicon-32x32.png": "x"}


class Page(HTMLParser):
    """The elements of a page with their attributes, and the bodies of its scripts."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.scripts: list[tuple[dict, str]] = []
        self._script: dict | None = None
        self._body: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = {name: (value if value is not None else "") for name, value in attrs}
        self.elements.append((tag, attributes))
        if tag == "script":
            self._script, self._body = attributes, []

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._body)))
            self._script = None

    def handle_data(self, data):
        if self._script is not None:
            self._body.append(data)

    def all(self, tag: str) -> list[dict]:
        return [attributes for name, attributes in self.elements if name == tag]

    def ids(self) -> list[str]:
        return [attributes["id"] for _, attributes in self.elements if "id" in attributes]


@pytest.fixture
def vendor(tmp_path) -> Path:
    """A node_modules with swagger-ui-dist (files of the real package's names, made-up content)."""
    package = tmp_path / "node_modules" / "swagger-ui-dist"
    package.mkdir(parents=True)
    (package / "package.json").write_text(json.dumps({"name": "swagger-ui-dist", "version": SWAGGER_VERSION}))
    for name, content in SWAGGER_FILES.items():
        (package / name).write_text(content)
    return tmp_path / "node_modules"


def upstreams() -> FakeSession:
    return FakeSession({
        ACTORS: smorest_app("actors", "/api/v1/volunteers", "Pledge", {"town": ma.fields.String(required=True)}),
        REQUESTS: smorest_app("requests", "/api/v1/requests", "Request", {"level": ma.fields.String()}),
        MATCHING: smorest_app("matching", "/api/v1/proposals", "Proposal", {"proposal_id": ma.fields.String()}),
        NOTIFY: smorest_app("notify", "/api/v1/notifications", "Notification", {"kind": ma.fields.String()}),
    })


def gateway(vendor_dir: Path | None, session: FakeSession | None = None):
    settings = webapp.WebSettings(app_dir=ROOT / "web" / "app", vendor_dir=vendor_dir,
                                  territory_file=config.territory_file())
    return create_app(routes=ROUTES, session=session or upstreams(), web_settings=settings).test_client()


# --- /api/v1/docs -------------------------------------------------------------------------------------
def test_the_docs_page_is_french_and_explains_how_to_get_a_token_and_use_authorize(vendor):
    answer = gateway(vendor).get("/api/v1/docs")
    assert answer.status_code == 200
    assert answer.content_type == "text/html; charset=utf-8"
    text = answer.get_data(as_text=True)
    html = Page(text)
    assert '<html lang="fr">' in text
    assert "<title>Documentation — API Vitawin</title>" in text
    assert len(html.all("h1")) == 1 and len(html.all("main")) == 1 and html.all("main")[0]["id"] == "contenu"
    assert html.all("a")[0]["href"] == "#contenu"
    links = [a["href"] for a in html.all("a")]
    assert "/connexion" in links, "the sign-in link"
    assert "/api/v1/docs/liste" in links and "/api/v1/openapi.json" in links
    assert "POST /api/v1/auth/token" in text and "client_credentials" in text and "access_token" in text
    assert "« Authorize »" in text and "« Try it out »" in text and "Bearer" in text
    ids = html.ids()
    assert len(ids) == len(set(ids))
    root = next(a for _, a in html.elements if a.get("id") == "swagger-ui")
    assert root["data-openapi-url"] == "/api/v1/openapi.json" and root["data-scheme"] == "jeton"


def test_the_docs_page_loads_swagger_ui_and_our_module_with_no_inline_script_or_style(vendor):
    answer = gateway(vendor).get("/api/v1/docs")
    text = answer.get_data(as_text=True)
    html = Page(text)
    sources = [(attributes.get("src"), attributes.get("type"), "defer" in attributes, body)
               for attributes, body in html.scripts]
    assert sources == [
        (f"/static/vendor/swagger-ui-dist/swagger-ui-bundle.js?v={SWAGGER_VERSION}", None, True, ""),
        ("/static/api-docs.js", "module", False, ""),  # a module runs after the deferred bundle
    ]
    styles = [link["href"] for link in html.all("link") if link.get("rel") == "stylesheet"]
    assert styles == ["/static/gateway.css", f"/static/vendor/swagger-ui-dist/swagger-ui.css?v={SWAGGER_VERSION}",
                      "/static/api-docs.css"]
    assert "<style" not in text and "javascript:" not in text
    assert not any("style" in attributes or any(name.startswith("on") for name in attributes)
                   for _, attributes in html.elements)
    assert "http://" not in text and "https://" not in text
    csp = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "connect-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp


def test_every_element_the_module_looks_up_is_on_the_page(vendor):
    ids = set(Page(gateway(vendor).get("/api/v1/docs").get_data(as_text=True)).ids())
    source = (STATIC / "api-docs.js").read_text(encoding="utf-8")
    wanted = set(re.findall(r'getElementById\("([\w-]+)"\)', source))
    assert wanted and wanted <= ids, sorted(wanted - ids)


def test_the_docs_page_says_in_french_which_services_are_missing(vendor):
    session = upstreams()
    session.down.add(NOTIFY)
    text = gateway(vendor, session).get("/api/v1/docs").get_data(as_text=True)
    assert re.search(r'<p id="doc-etat" class="note" role="status">Services momentanément indisponibles, '
                     r"dont les opérations ne figurent pas ci-dessous : notify\.</p>", text)
    complete = gateway(vendor).get("/api/v1/docs").get_data(as_text=True)
    assert '<p id="doc-etat" class="note" role="status" hidden></p>' in complete
    assert "indisponibles" not in complete


def test_without_swagger_ui_the_docs_page_is_the_plain_list_with_a_french_note(tmp_path):
    answer = gateway(tmp_path).get("/api/v1/docs")  # an empty node_modules
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    assert "La documentation interactive n'est pas installée sur ce serveur" in text
    assert "<script" not in text
    assert "/api/v1/volunteers" in text and "<table>" in text


def test_without_swagger_ui_a_warning_is_logged_at_start(tmp_path, caplog):
    with caplog.at_level("WARNING", logger="vitawin_gateway.webapp"):
        gateway(tmp_path)
    assert any(getattr(record, "package", None) == "swagger-ui-dist" for record in caplog.records)


# --- /api/v1/docs/liste -------------------------------------------------------------------------------
def test_the_plain_list_needs_no_javascript_and_lists_every_service(vendor):
    session = upstreams()
    session.down.add(MATCHING)
    answer = gateway(vendor, session).get("/api/v1/docs/liste")
    assert answer.status_code == 200 and answer.content_type == "text/html; charset=utf-8"
    text = answer.get_data(as_text=True)
    assert '<html lang="fr">' in text and "<h1>Liste des opérations de l'API Vitawin</h1>" in text
    assert "<script" not in text and "style=" not in text
    for path in ("/api/v1/volunteers", "/api/v1/requests/{item_id}", "/api/v1/notifications"):
        assert f"<code>{path}</code>" in text
    assert "/api/v1/proposals" not in text
    assert "Services momentanément indisponibles" in text and ": matching." in text
    assert 'href="/api/v1/docs"' in text


# --- Swagger UI's files and ours ----------------------------------------------------------------------
@pytest.mark.parametrize("name, mimetype", [("swagger-ui-bundle.js", "text/javascript"),
                                            ("swagger-ui.css", "text/css")])
def test_swagger_ui_files_are_served_and_cached_a_year_with_their_version(vendor, name, mimetype):
    app = gateway(vendor)
    answer = app.get(f"/static/vendor/swagger-ui-dist/{name}?v={SWAGGER_VERSION}")
    assert answer.status_code == 200
    assert answer.mimetype == mimetype
    assert answer.get_data(as_text=True) == SWAGGER_FILES[name]
    assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    answer.close()
    other = app.get(f"/static/vendor/swagger-ui-dist/{name}?v=4.0.0")
    assert other.headers["Cache-Control"] == "public, max-age=86400"
    other.close()


@pytest.mark.parametrize("rest", ["swagger-ui.js", "swagger-ui-bundle.js.map", "index.html",
                                  "swagger-initializer.js", "oauth2-redirect.html", "favicon-32x32.png",
                                  "package.json", "dist/swagger-ui-bundle.js", "./swagger-ui-bundle.js",
                                  "../swagger-ui-dist/swagger-ui-bundle.js", "SWAGGER-UI-BUNDLE.JS"])
def test_only_the_needed_swagger_ui_files_are_served(vendor, rest):
    answer = gateway(vendor).get(f"/static/vendor/swagger-ui-dist/{rest}")
    assert answer.status_code == 404


def test_a_swagger_ui_file_linked_out_of_its_package_is_not_served(tmp_path):
    secret = tmp_path / "secret.js"
    secret.write_text("secret")
    package = tmp_path / "node_modules" / "swagger-ui-dist"
    package.mkdir(parents=True)
    (package / "swagger-ui.css").write_text("/* css */")
    (package / "swagger-ui-bundle.js").symlink_to(secret)
    answer = gateway(tmp_path / "node_modules").get("/static/vendor/swagger-ui-dist/swagger-ui-bundle.js")
    assert answer.status_code == 404


@pytest.mark.parametrize("name, mimetype", [("api-docs.js", "text/javascript"), ("api-docs.css", "text/css")])
def test_our_module_and_stylesheet_are_served_by_the_gateway(vendor, name, mimetype):
    answer = gateway(vendor).get(f"/static/{name}")
    assert answer.status_code == 200 and answer.mimetype == mimetype
    assert answer.get_data() == (STATIC / name).read_bytes()
    answer.close()


def test_the_pinned_swagger_ui_is_the_one_the_tests_expect():
    package = json.loads((ROOT / "web" / "package.json").read_text(encoding="utf-8"))
    assert package["dependencies"]["swagger-ui-dist"] == SWAGGER_VERSION, "an exact version"


@pytest.mark.skipif(not (ROOT / "web" / "node_modules" / "swagger-ui-dist" / "swagger-ui-bundle.js").is_file(),
                    reason="web/node_modules not installed (npm ci --prefix web)")
def test_the_installed_swagger_ui_is_served():
    app = gateway(ROOT / "web" / "node_modules")
    answer = app.get(f"/static/vendor/swagger-ui-dist/swagger-ui-bundle.js?v={SWAGGER_VERSION}")
    assert answer.status_code == 200 and b"SwaggerUIBundle" in answer.get_data()
    assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    answer.close()


# --- the Bearer scheme of the merged document ----------------------------------------------------------
def test_the_merged_document_declares_the_bearer_scheme_for_authorize(vendor):
    doc = gateway(vendor).get("/api/v1/openapi.json").get_json()
    scheme = doc["components"]["securitySchemes"]["jeton"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    assert "client_credentials" in scheme["description"] and "/api/v1/auth/token" in scheme["description"]
    # A token or none, on every operation: anonymous calls stay possible, each service decides.
    assert doc["security"] == [{"jeton": []}, {}]
    assert set(doc["components"]["securitySchemes"]) == {"jeton"}


def test_a_service_scheme_of_the_same_name_does_not_replace_the_gateways():
    other = {"type": "apiKey", "in": "header", "name": "X-Key"}
    doc = {"paths": {"/api/v1/volunteers": {}}, "components": {"securitySchemes": {"jeton": other}}}
    merged = merge_documents([("actors", doc)], ROUTES)
    schemes = merged["components"]["securitySchemes"]
    assert schemes["jeton"]["scheme"] == "bearer"
    assert schemes["actors_jeton"] == other
