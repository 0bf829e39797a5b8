"""The web app the gateway serves (vitawin_gateway.webapp): its French pages, /app-config.json, the
app's static files and the vendored libraries (allowlist, content types, caching), and what
happens when the libraries or the app are missing. Flask's test client, no browser."""
from __future__ import annotations

import json
import logging
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from vitawin_common import config
from vitawin_gateway import webapp
from vitawin_gateway.app import create_app
from vitawin_gateway.security import SecuritySettings

ROOT = Path(__file__).resolve().parents[3]
APP_DIR = ROOT / "web" / "app"
VENDOR_DIR = ROOT / "web" / "node_modules"
PAGES = {"/": "map-page.js", "/connexion": "sign-in-page.js", "/mon-espace": "my-space-page.js",
         "/inscription": "register-page.js", "/engagement": "pledge-page.js", "/demande": "request-page.js"}
ROME_FILE = ROOT / "contracts" / "reference" / "rome.json"
needs_vendor = pytest.mark.skipif(not (VENDOR_DIR / "leaflet" / "dist" / "leaflet.js").is_file(),
                                  reason="web/node_modules not installed (npm ci --prefix web)")


def settings(**overrides) -> webapp.WebSettings:
    values = dict(app_dir=APP_DIR, vendor_dir=VENDOR_DIR, territory_file=config.territory_file(), rome_file=ROME_FILE)
    values.update(overrides)
    return webapp.WebSettings(**values)


def client(**overrides):
    return create_app(routes=[], session=object(), web_settings=settings(**overrides)).test_client()


@pytest.fixture(scope="module")
def territory() -> dict:
    return json.loads(config.territory_file().read_text(encoding="utf-8"))


class Page(HTMLParser):
    """What the tests look at in a page: elements with their attributes, scripts' bodies, text."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.scripts: list[tuple[dict, str]] = []
        self._script: dict | None = None
        self._body: list[str] = []
        self.text_by_id: dict[str, str] = {}
        self._open: list[tuple[str, str | None, list[str]]] = []
        self.feed(html)

    VOID = {"meta", "link", "input", "br", "img", "hr", "source", "area", "base", "col", "embed", "wbr"}

    def handle_starttag(self, tag, attrs):
        attributes = {name: (value if value is not None else "") for name, value in attrs}
        self.elements.append((tag, attributes))
        if tag == "script":
            self._script, self._body = attributes, []
        if tag not in self.VOID:
            self._open.append((tag, attributes.get("id"), []))

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._body)))
            self._script = None
        while self._open:
            name, element_id, text = self._open.pop()
            content = " ".join("".join(text).split())
            if element_id:
                self.text_by_id[element_id] = content
            if self._open:
                self._open[-1][2].append("".join(text))
            if name == tag:
                break

    def handle_data(self, data):
        if self._script is not None:
            self._body.append(data)
        if self._open:
            self._open[-1][2].append(data)

    def all(self, tag: str) -> list[dict]:
        return [attributes for name, attributes in self.elements if name == tag]

    def by_id(self, element_id: str) -> tuple[str, dict]:
        found = [(name, attributes) for name, attributes in self.elements if attributes.get("id") == element_id]
        assert len(found) == 1, f"#{element_id}: {len(found)} elements"
        return found[0]

    def ids(self) -> list[str]:
        return [attributes["id"] for _, attributes in self.elements if "id" in attributes]


def page(path: str, **overrides) -> tuple[object, Page]:
    answer = client(**overrides).get(path)
    return answer, Page(answer.get_data(as_text=True))


# --- the pages --------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", list(PAGES))
def test_each_page_is_french_html_with_landmarks_a_heading_and_a_skip_link(path):
    answer, html = page(path)
    assert answer.status_code == 200
    assert answer.content_type == "text/html; charset=utf-8"
    text = answer.get_data(as_text=True)
    assert text.startswith("<!DOCTYPE html>")
    assert '<html lang="fr">' in text
    assert len(html.all("main")) == 1 and html.all("main")[0]["id"] == "contenu"
    assert len(html.all("h1")) == 1
    assert html.all("header") and html.all("footer")
    assert html.all("nav")[0]["aria-label"] == "Navigation principale"
    first_link = html.all("a")[0]
    assert first_link["href"] == "#contenu" and "skip-link" in first_link["class"]
    assert html.text_by_id["lien-evitement"] == "Aller au contenu"
    assert "Vitawin" in html.text_by_id["nom-du-site"]
    assert html.all("title") and "Vitawin" in text[text.index("<title>"):text.index("</title>")]
    ids = html.ids()
    assert len(ids) == len(set(ids)), "ids must be unique"
    for label in html.all("label"):
        assert label["for"] in ids, f"label for #{label['for']}"
    for attributes in html.all("input") + html.all("select"):
        assert any(label["for"] == attributes["id"] for label in html.all("label")), attributes["id"]
    for _, attributes in html.elements:
        for name in ("aria-labelledby", "aria-describedby"):
            for ref in attributes.get(name, "").split():
                assert ref in ids, f"{name}={ref}"


@pytest.mark.parametrize("path", list(PAGES))
def test_pages_have_no_inline_script_nor_style_and_a_strict_policy(path):
    answer, html = page(path)
    text = answer.get_data(as_text=True)
    for attributes, body in html.scripts:
        assert attributes.get("src", "").startswith("/static/"), attributes
        assert body.strip() == ""
    assert "<style" not in text
    assert not any("style" in attributes for _, attributes in html.elements)
    assert not any(name.startswith("on") for _, attributes in html.elements for name in attributes)
    assert "javascript:" not in text
    csp = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert answer.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize("path, script", PAGES.items())
def test_each_page_loads_its_module_and_the_app_stylesheet(path, script):
    _, html = page(path)
    modules = [attributes["src"] for attributes, _ in html.scripts if attributes.get("type") == "module"]
    assert len(modules) == 1 and re.fullmatch(rf"/static/app/js/{re.escape(script)}\?v=\w+", modules[0])
    styles = [link["href"] for link in html.all("link") if link.get("rel") == "stylesheet"]
    assert any(re.fullmatch(r"/static/app/css/app\.css\?v=\w+", href) for href in styles)
    assert html.all("body")[0]["data-config-url"] == "/app-config.json"


@pytest.mark.parametrize("path, current", [("/", "nav-carte"), ("/connexion", "nav-connexion"),
                                           ("/mon-espace", "nav-mon-espace")])
def test_the_layout_navigation_and_footer(path, current, territory):
    _, html = page(path)
    assert html.by_id("nav-carte")[1]["href"] == "/"
    assert html.by_id("nav-mon-espace")[1]["href"] == "/mon-espace"
    assert html.by_id("nav-connexion")[1]["href"] == "/connexion"
    assert html.text_by_id["nav-carte"] == "Carte" and html.text_by_id["nav-connexion"] == "Connexion"
    assert [a["id"] for a in html.all("a") if a.get("aria-current") == "page"] == [current]
    assert html.by_id("lien-doc-api")[1]["href"] == "/api/v1/docs"
    assert f"territoire {territory['name']}" in answer_text(path)


def answer_text(path: str) -> str:
    return client().get(path).get_data(as_text=True)


def test_the_home_page_keeps_a_link_to_the_api_documents_and_loads_nothing_from_outside():
    text = answer_text("/")
    assert 'href="/api/v1/docs"' in text and 'href="/api/v1/openapi.json"' in text
    assert "http://" not in text and "https://" not in text


@needs_vendor
def test_the_map_page_has_its_filters_list_and_the_vendored_libraries(territory):
    answer, html = page("/")
    assert html.by_id("filtres")[0] == "form"
    for control, label in (("filtre-type-acteur", "Type d'acteur"), ("filtre-type-action", "Type d'action"),
                           ("filtre-commune", "Commune")):
        assert html.by_id(control)[0] == "select"
        assert [lab for lab in html.all("label") if lab["for"] == control]
    for layer in ("actors", "requests", "initiatives"):
        tag, attributes = html.by_id(f"couche-{layer}")
        assert tag == "input" and attributes["type"] == "checkbox" and "checked" in attributes
    text = answer.get_data(as_text=True)
    for town in territory["towns"]:
        assert f'<option value="{town["insee"]}">{town["name"]}</option>' in text
    assert '<option value="school">Établissement scolaire</option>' in text
    assert '<option value="testimony">Témoignage métier</option>' in text
    assert html.by_id("liste-resultats")[0] == "ul"
    assert html.by_id("liste-compte")[1]["role"] == "status"
    assert html.by_id("carte")[1]["data-map-library"] == "present"
    assert "hidden" in html.by_id("carte-message")[1]
    scripts = [attributes["src"] for attributes, _ in html.scripts if "defer" in attributes]
    assert scripts == ["/static/vendor/leaflet/dist/leaflet.js?v=1.9.4",
                       "/static/vendor/leaflet.markercluster/dist/leaflet.markercluster.js?v=1.5.3"]
    styles = [link["href"] for link in html.all("link") if link.get("rel") == "stylesheet"]
    assert "/static/vendor/leaflet/dist/leaflet.css?v=1.9.4" in styles
    assert "/static/vendor/leaflet.markercluster/dist/MarkerCluster.css?v=1.5.3" in styles


def test_the_sign_in_page_has_the_form_the_magic_link_button_and_live_statuses():
    _, html = page("/connexion")
    tag, email = html.by_id("champ-email")
    assert tag == "input" and email["type"] == "email" and email["autocomplete"] == "email"
    assert [lab for lab in html.all("label") if lab["for"] == "champ-email"]
    assert html.text_by_id["formulaire-connexion"].startswith("Adresse e-mail")
    assert html.text_by_id["bouton-recevoir-lien"] == "Recevoir un lien de connexion"
    assert html.by_id("bouton-recevoir-lien")[1]["type"] == "submit"
    assert html.text_by_id["bouton-me-connecter"] == "Me connecter"
    assert html.by_id("bouton-me-connecter")[1]["type"] == "button"
    assert "hidden" in html.by_id("section-lien")[1]  # shown by the script for #jeton=... only
    for status in ("statut-connexion", "statut-lien"):
        attributes = html.by_id(status)[1]
        assert attributes["role"] == "status" and attributes["aria-live"] == "polite"


def test_my_space_page_has_its_sections_and_a_way_to_sign_in():
    _, html = page("/mon-espace")
    assert html.by_id("lien-se-connecter")[1]["href"] == "/connexion"
    assert html.text_by_id["bouton-deconnexion"] == "Se déconnecter"
    assert html.by_id("liste-propositions")[0] == "ul"
    assert html.by_id("propositions-statut")[1]["role"] == "status"
    for section in ("espace-anonyme", "espace-compte", "espace-propositions"):
        assert "hidden" in html.by_id(section)[1]


@pytest.mark.parametrize("path, script", PAGES.items())
def test_every_element_a_page_script_looks_up_is_on_its_page(path, script):
    """The scripts find their elements by id ($("...") or getElementById): a renamed id in a
    template must not break a page silently."""
    _, html = page(path)
    ids = set(html.ids())
    for name in (script, "layout.js"):
        source = (APP_DIR / "static" / "js" / name).read_text(encoding="utf-8")
        wanted = set(re.findall(r'(?:\$|getElementById)\("([\w-]+)"\)', source))
        if name == "layout.js":
            wanted -= {"nav-deconnexion"}  # made by the script
        missing = wanted - ids
        assert not missing, f"{name}: {sorted(missing)}"


def test_every_module_the_scripts_import_is_served():
    app = client()
    for path in (APP_DIR / "static" / "js").glob("*.js"):
        for target in re.findall(r'from "\./([\w.-]+\.js)"', path.read_text(encoding="utf-8")):
            answer = app.get(f"/static/app/js/{target}")
            assert answer.status_code == 200, f"{path.name} imports {target}"
            answer.close()


# --- /app-config.json -----------------------------------------------------------------------------------
def test_app_config_gives_the_tiles_the_territory_and_the_labels(territory):
    answer = client().get("/app-config.json")
    assert answer.status_code == 200
    assert answer.mimetype == "application/json"
    body = answer.get_json()
    assert body["tile_url"] == "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    assert "©" in body["tile_attribution"] and "OpenStreetMap" in body["tile_attribution"]
    assert "contributeurs" in body["tile_attribution"]
    place = body["territory"]
    assert place["name"] == territory["name"]
    assert place["centre"] == {"lat": territory["map_centre"]["lat"], "lon": territory["map_centre"]["lon"]}
    assert place["zoom"] == territory["map_centre"]["zoom"]
    assert [(t["insee"], t["name"], t["centre"]) for t in place["towns"]] == [
        (t["insee"], t["name"], t["centre"]) for t in territory["towns"]]
    min_lon, min_lat, max_lon, max_lat = place["bbox"]
    for town in place["towns"]:
        assert min_lon < town["centre"]["lon"] < max_lon and min_lat < town["centre"]["lat"] < max_lat
    assert body["labels"]["roles"] == {"pupil": "élève", "school_referent": "référent d'établissement",
                                       "professional": "professionnel",
                                       "territory_manager": "gestionnaire de territoire", "partner": "partenaire"}
    assert body["labels"]["action_types"]["job_fair"] == "Forum des métiers"
    assert body["map_library"] is (VENDOR_DIR / "leaflet" / "dist" / "leaflet.js").is_file()
    assert answer.headers["Cache-Control"] == "no-cache"
    again = client().get("/app-config.json", headers={"If-None-Match": answer.headers["ETag"]})
    assert again.status_code == 304


def test_app_config_tiles_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("GATEWAY_TILE_URL", "https://tiles.example.fr/{z}/{x}/{y}.png")
    monkeypatch.setenv("GATEWAY_TILE_ATTRIBUTION", "© Exemple, © les contributeurs d’OpenStreetMap")
    web = webapp.WebSettings.from_env()
    assert web.tile_url == "https://tiles.example.fr/{z}/{x}/{y}.png"
    body = create_app(routes=[], session=object(), web_settings=web).test_client().get("/app-config.json").get_json()
    assert body["tile_url"] == "https://tiles.example.fr/{z}/{x}/{y}.png"
    assert body["tile_attribution"] == "© Exemple, © les contributeurs d’OpenStreetMap"


def test_a_tile_server_the_policy_does_not_allow_is_logged_at_start(caplog):
    with caplog.at_level(logging.WARNING, logger="vitawin_gateway.webapp"):
        client(tile_url="https://tiles.example.fr/{z}/{x}/{y}.png")
    assert any("GATEWAY_TILE_ORIGINS" in record.getMessage() for record in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vitawin_gateway.webapp"):
        create_app(routes=[], session=object(),
                   web_settings=settings(tile_url="https://tiles.example.fr/{z}/{x}/{y}.png"),
                   security_settings=SecuritySettings(tile_origins="https://tiles.example.fr"))
    assert not any("GATEWAY_TILE_ORIGINS" in record.getMessage() for record in caplog.records)
    assert webapp._tile_origin_allowed("https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png",
                                       "https://tile.openstreetmap.org https://*.tile.openstreetmap.org")


def test_without_a_territory_file_app_config_says_so_in_french(tmp_path):
    answer = client(territory_file=tmp_path / "absent.json").get("/app-config.json")
    assert answer.status_code == 503
    assert answer.get_json()["message"].startswith("Territoire non configuré")
    assert client(territory_file=tmp_path / "absent.json").get("/").status_code == 200


def test_the_territory_view_works_without_boundaries():
    view = webapp.territory_view({"name": "T", "map_centre": {"lat": 48.8, "lon": 2.4, "zoom": 11},
                                  "towns": [{"insee": "94080", "name": "Vincennes",
                                             "centre": {"lat": 48.85, "lon": 2.43}}]})
    assert view["towns"] == [{"insee": "94080", "name": "Vincennes", "centre": {"lat": 48.85, "lon": 2.43}}]
    assert view["bbox"] == [2.42, 48.84, 2.44, 48.86]
    assert (view["centre"], view["zoom"]) == ({"lat": 48.8, "lon": 2.4}, 11)


# --- static files -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("path, mimetype", [("/static/app/js/map-page.js", "text/javascript"),
                                            ("/static/app/js/session.js", "text/javascript"),
                                            ("/static/app/css/app.css", "text/css")])
def test_the_app_files_are_served_with_their_type_and_revalidated(path, mimetype):
    answer = client().get(path)
    assert answer.status_code == 200
    assert answer.content_type == f"{mimetype}; charset=utf-8"
    assert answer.headers["Cache-Control"] == "no-cache"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    etag = answer.headers["ETag"]
    answer.close()
    again = client().get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    again.close()


@pytest.mark.parametrize("path", ["/static/app/../templates/layout.html", "/static/app/../labels.json",
                                  "/static/app/templates/layout.html", "/static/app/js/absent.js",
                                  "/static/app/%2e%2e/labels.json", "/static/app/js/../../templates/carte.html"])
def test_only_the_app_static_folder_is_served(path):
    assert client().get(path).status_code == 404


@needs_vendor
@pytest.mark.parametrize("path, mimetype, start", [
    ("/static/vendor/leaflet/dist/leaflet.js", "text/javascript; charset=utf-8", b"/* @preserve\n * Leaflet 1.9.4"),
    ("/static/vendor/leaflet/dist/leaflet.css", "text/css; charset=utf-8", b""),
    ("/static/vendor/leaflet/dist/images/layers.png", "image/png", b"\x89PNG"),
    ("/static/vendor/leaflet.markercluster/dist/leaflet.markercluster.js", "text/javascript; charset=utf-8", b""),
    ("/static/vendor/leaflet.markercluster/dist/MarkerCluster.css", "text/css; charset=utf-8", b""),
    ("/static/vendor/leaflet.markercluster/dist/MarkerCluster.Default.css", "text/css; charset=utf-8", b""),
])
def test_the_vendored_files_are_served_with_their_type(path, mimetype, start):
    answer = client().get(path)
    assert answer.status_code == 200
    assert answer.content_type == mimetype
    assert answer.get_data().startswith(start)
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Cache-Control"] == "public, max-age=86400"
    answer.close()


@needs_vendor
def test_vendored_files_asked_with_their_version_are_cached_for_a_year():
    app = client()
    answer = app.get("/static/vendor/leaflet/dist/leaflet.js?v=1.9.4")
    assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    answer.close()
    answer = app.get("/static/vendor/leaflet/dist/leaflet.js?v=0.7")  # another version: not for a year
    assert answer.headers["Cache-Control"] == "public, max-age=86400"
    answer.close()


@needs_vendor
@pytest.mark.parametrize("path", [
    "/static/vendor/../../etc/passwd",
    "/static/vendor/leaflet/../../../etc/passwd",
    "/static/vendor/leaflet/dist/../package.json",
    "/static/vendor/leaflet/%2e%2e/package.json",
    "/static/vendor/leaflet/package.json",
    "/static/vendor/leaflet/src/Leaflet.js",
    "/static/vendor/leaflet.markercluster/src/MarkerClusterGroup.js",
    "/static/vendor/leaflet.markercluster/dist/WhereAreTheJavascriptFiles.txt",
    "/static/vendor/axe-core/axe.js",
    "/static/vendor/leaflet/dist//leaflet.js",
    "/static/vendor/leaflet/dist/absent.js",
    "/static/vendor/leaflet",
    "/static/vendor/",
])
def test_the_vendor_allowlist_is_enforced(path):
    answer = client().get(path)
    assert answer.status_code == 404
    assert answer.mimetype == "application/json"


def test_a_symbolic_link_out_of_a_dist_folder_is_not_followed(tmp_path):
    secret = tmp_path / "secret.js"
    secret.write_text("secret")
    dist = tmp_path / "node_modules" / "leaflet" / "dist"
    dist.mkdir(parents=True)
    (dist / "leaflet.js").write_text("/* leaflet */")
    (dist / "evil.js").symlink_to(secret)
    app = client(vendor_dir=tmp_path / "node_modules")
    assert app.get("/static/vendor/leaflet/dist/leaflet.js").status_code == 200
    assert app.get("/static/vendor/leaflet/dist/evil.js").status_code == 404


def test_the_vendor_folder_comes_from_web_vendor_dir(tmp_path, monkeypatch):
    dist = tmp_path / "leaflet" / "dist"
    dist.mkdir(parents=True)
    (dist / "leaflet.js").write_text("/* leaflet d'essai */")
    monkeypatch.setenv("WEB_VENDOR_DIR", str(tmp_path))
    web = webapp.WebSettings.from_env()
    assert web.vendor_dir == tmp_path
    app = create_app(routes=[], session=object(), web_settings=web).test_client()
    assert app.get("/static/vendor/leaflet/dist/leaflet.js").get_data(as_text=True) == "/* leaflet d'essai */"


def test_by_default_the_folders_are_found_in_the_repository(monkeypatch):
    for name in ("WEB_APP_DIR", "WEB_VENDOR_DIR"):
        monkeypatch.delenv(name, raising=False)
    web = webapp.WebSettings.from_env()
    assert web.app_dir.resolve() == APP_DIR.resolve()
    assert web.vendor_dir.resolve() == VENDOR_DIR.resolve()


# --- what is missing --------------------------------------------------------------------------------------
def test_without_the_vendored_libraries_the_map_page_shows_its_list_and_says_why(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="vitawin_gateway.webapp"):
        app = client(vendor_dir=tmp_path / "node_modules")
    assert any("map libraries missing" in record.getMessage() for record in caplog.records)
    answer = app.get("/")
    assert answer.status_code == 200
    html = Page(answer.get_data(as_text=True))
    assert "bibliothèque de carte (Leaflet) n'est pas installée" in html.text_by_id["carte-message"]
    assert "hidden" not in html.by_id("carte-message")[1]
    assert html.by_id("carte")[1]["data-map-library"] == "missing"
    assert "hidden" in html.by_id("carte-conteneur")[1]
    assert html.by_id("liste-resultats")[0] == "ul"
    assert not [attributes for attributes, _ in html.scripts if "/static/vendor/" in attributes.get("src", "")]
    assert not [link for link in html.all("link") if "/static/vendor/" in link["href"]]
    assert [attributes for attributes, _ in html.scripts if attributes.get("type") == "module"]
    assert app.get("/app-config.json").get_json()["map_library"] is False
    assert app.get("/static/vendor/leaflet/dist/leaflet.js").status_code == 404


def test_without_a_vendor_folder_at_all_the_pages_still_render(caplog):
    with caplog.at_level(logging.WARNING, logger="vitawin_gateway.webapp"):
        app = client(vendor_dir=None)
    assert any("map libraries missing" in record.getMessage() for record in caplog.records)
    assert app.get("/").status_code == 200
    assert app.get("/static/vendor/leaflet/dist/leaflet.js").status_code == 404


def test_other_pages_do_not_load_the_map_libraries():
    for path in ("/connexion", "/mon-espace"):
        assert "/static/vendor/" not in answer_text(path)


def test_without_the_app_the_pages_answer_503_in_french_and_the_api_documents_remain(tmp_path, caplog):
    with caplog.at_level(logging.ERROR, logger="vitawin_gateway.webapp"):
        app = client(app_dir=tmp_path / "absent")
    assert any("web app not found" in record.getMessage() for record in caplog.records)
    for path in PAGES:
        answer = app.get(path)
        assert answer.status_code == 503
        text = answer.get_data(as_text=True)
        html = Page(text)
        assert '<html lang="fr">' in text and len(html.all("main")) == 1 and len(html.all("h1")) == 1
        assert "n'est pas installé" in text and 'href="/api/v1/docs"' in text
        assert "<script" not in text
    assert app.get("/static/app/js/map-page.js").status_code == 404


# --- the forms (/inscription, /engagement, /demande) and the job list they offer ------------------------
FORMS = {"/inscription": ("formulaire-inscription", "nav-inscription", "Inscription"),
         "/engagement": ("formulaire-engagement", "nav-engagement", "Proposer un engagement"),
         "/demande": ("formulaire-demande", "nav-demande", "Publier une demande")}


@pytest.mark.parametrize("path, form_id, nav_id, title", [(path, *values) for path, values in FORMS.items()])
def test_each_form_page_has_its_title_its_current_link_and_a_form_checked_by_its_script(path, form_id, nav_id, title):
    answer, html = page(path)
    text = answer.get_data(as_text=True)
    assert f"<title>{title} — Vitawin</title>" in text
    assert [a["id"] for a in html.all("a") if a.get("aria-current") == "page"] == [nav_id]
    assert html.by_id(nav_id)[1]["href"] == path
    tag, form = html.by_id(form_id)
    assert tag == "form" and "novalidate" in form  # the script checks it and says why in French
    assert [b for b in html.all("button") if b.get("type") == "submit"]
    for attributes in html.all("input") + html.all("select") + html.all("textarea"):
        if attributes.get("type") not in ("checkbox", "radio"):
            assert "data-field" in attributes or "data-job-input" in attributes or attributes["id"] == "dem-periode-texte", \
                attributes["id"]  # each control's errors come back beside it
    statuses = [attributes for _, attributes in html.elements if attributes.get("role") == "status"]
    assert statuses and all(attributes.get("aria-live") == "polite" for attributes in statuses)


def test_the_pages_link_to_the_forms():
    _, layout = page("/")
    for nav_id, path in (("nav-inscription", "/inscription"), ("nav-engagement", "/engagement"),
                         ("nav-demande", "/demande")):
        assert layout.by_id(nav_id)[1]["href"] == path
    assert layout.by_id("carte-lien-inscription")[1]["href"] == "/inscription"
    _, sign_in = page("/connexion")
    assert sign_in.by_id("lien-inscription")[1]["href"] == "/inscription"


def options(html: Page, select_id: str) -> list[str]:
    """The values of a <select>'s options, in order (the parser keeps elements in document order)."""
    values, inside = [], False
    for tag, attributes in html.elements:
        if tag == "select":
            inside = attributes.get("id") == select_id
        elif tag == "option" and inside:
            values.append(attributes["value"])
    return values


def test_the_registration_form_offers_organisations_schools_and_pupils_but_not_territory_managers():
    from vitawin_actors.domain import LEVELS, ORGANISATION_KINDS, SCHOOL_TYPES

    _, html = page("/inscription")
    assert [attributes["value"] for attributes in html.all("input") if attributes.get("name") == "type-inscription"] \
        == ["organisation", "school", "pupil"]
    assert options(html, "org-type") == ["", *ORGANISATION_KINDS]
    assert options(html, "eco-type") == ["", *SCHOOL_TYPES]
    assert options(html, "eleve-niveau") == ["", *LEVELS]
    assert "territory_manager" not in answer_text("/inscription")
    for part in ("partie-organisation", "partie-etablissement", "partie-eleve"):
        attributes = html.by_id(part)[1]
        assert "hidden" in attributes and "disabled" in attributes  # nothing of it sent until chosen
    assert html.by_id("org-email")[1]["type"] == "email" and html.by_id("org-email")[1]["data-field"] == "contact_email"
    assert html.by_id("org-position-lat")[1]["data-field"] == "location.lat location"
    assert html.by_id("eleve-email-responsable")[1]["data-field"] == "guardian_contact_email"
    periods = [attributes["data-field"] for attributes in html.all("input")
               if attributes.get("data-field", "").startswith("internship_periods.")]
    assert periods == [f"internship_periods.{level}" for level in LEVELS]


def test_the_pledge_form_offers_each_action_type_with_its_settings_and_defaults():
    from vitawin_actors.domain import ACTION_TYPES, DEFAULT_MODALITY, MODALITIES

    _, html = page("/engagement")
    assert [attributes["value"] for attributes in html.all("input") if attributes.get("name") == "eng-actions"] \
        == list(ACTION_TYPES)
    for code in ACTION_TYPES:
        attributes = html.by_id(f"reglages-{code}")[1]
        assert "hidden" in attributes and "disabled" in attributes
        assert sorted(options(html, f"eng-{code}-modalite")) == sorted(MODALITIES)
        assert html.by_id(f"eng-{code}-modalite")[1]["data-field"] == f"actions.{code}.modality"
    text = answer_text("/engagement")
    for code, modality in DEFAULT_MODALITY.items():  # each action's modality selected as the API's default
        block = text[text.index(f'id="eng-{code}-modalite"'):]
        block = block[:block.index("</select>")]
        assert f'<option value="{modality}" selected>' in block
    job_input = html.by_id("eng-metiers-saisie")[1]
    assert job_input["list"] == "eng-metiers-suggestions" and html.by_id("eng-metiers-suggestions")[0] == "datalist"
    assert set(job_input["data-field"].split()) == {"rome_codes", *(f"actions.{code}.rome_codes" for code in ACTION_TYPES)}


def test_the_request_form_offers_each_kind_to_its_requester():
    from vitawin_requests.kinds import KINDS

    _, html = page("/demande")
    radios = [attributes["value"] for attributes in html.all("input") if attributes.get("name") == "dem-type"]
    assert radios == list(KINDS)
    wrappers = {attributes["data-requester"] for attributes in html.all("div") if "data-requester" in attributes}
    assert wrappers == {"school", "pupil"}
    text = answer_text("/demande")
    for kind, rule in KINDS.items():
        wrapper = text[:text.index(f'id="dem-type-{kind}"')].rsplit("<div data-requester=", 1)[1]
        assert wrapper.startswith(f'"{rule.requester_kind}"'), kind
    kinds_with_fields = " ".join(attributes["data-kinds"] for _, attributes in html.elements if "data-kinds" in attributes)
    for kind, rule in KINDS.items():  # each kind shows at least one field of its own
        assert kind in kinds_with_fields.split(), kind


def test_the_labels_name_every_code_the_forms_show():
    from vitawin_actors.domain import ACTION_TYPES, AUDIENCES, DIPLOMAS, LEVELS, MODALITIES, SCHOOL_TYPES, STATUSES
    from vitawin_requests.domain import STATUSES as REQUEST_STATUSES
    from vitawin_requests.kinds import AROUND, KINDS

    labels = json.loads((APP_DIR / "labels.json").read_text(encoding="utf-8"))
    for group, codes in (("action_types", ACTION_TYPES), ("audiences", AUDIENCES), ("diplomas", DIPLOMAS),
                         ("levels", LEVELS), ("modalities", MODALITIES), ("school_types", SCHOOL_TYPES),
                         ("pledge_statuses", STATUSES), ("request_statuses", REQUEST_STATUSES),
                         ("request_kinds", KINDS), ("around", AROUND)):
        assert set(labels[group]) == set(codes), group


def test_app_rome_lists_the_jobs_sorted_by_label_and_is_revalidated():
    reference = json.loads(ROME_FILE.read_text(encoding="utf-8"))
    answer = client().get("/app-rome.json")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    body = answer.get_json()
    assert len(body["jobs"]) == len(reference["jobs"])
    assert {"code": "D1102", "label": "Boulanger / Boulangère"} in body["jobs"]
    keys = [webapp._alphabetical(job["label"]) for job in body["jobs"]]
    assert keys == sorted(keys)
    assert body["source"] == reference["name"]
    assert answer.headers["Cache-Control"] == "no-cache"
    assert client().get("/app-rome.json", headers={"If-None-Match": answer.headers["ETag"]}).status_code == 304


def test_the_job_list_sorts_labels_the_french_way():
    view = webapp.rome_view({"name": "ROME", "jobs": {"B2": "Zingueur", "B1": "Électricien", "B3": "Ébéniste",
                                                      "B4": "ambulancier"}})
    assert [job["label"] for job in view["jobs"]] == ["ambulancier", "Ébéniste", "Électricien", "Zingueur"]


def test_without_the_rome_file_app_rome_says_so_in_french_and_the_forms_remain(tmp_path, caplog):
    with caplog.at_level(logging.ERROR, logger="vitawin_gateway.webapp"):
        app = client(rome_file=tmp_path / "absent.json")
    assert any("ROME file unreadable" in record.getMessage() for record in caplog.records)
    answer = app.get("/app-rome.json")
    assert answer.status_code == 503
    assert answer.get_json()["message"].startswith("Liste des métiers (référentiel ROME) indisponible")
    assert app.get("/engagement").status_code == 200


def test_the_rome_file_comes_from_rome_file_or_the_contracts(tmp_path, monkeypatch):
    monkeypatch.delenv("ROME_FILE", raising=False)
    assert webapp.WebSettings.from_env().rome_file.resolve() == ROME_FILE.resolve()
    monkeypatch.setenv("ROME_FILE", str(tmp_path / "rome.json"))
    assert webapp.WebSettings.from_env().rome_file == tmp_path / "rome.json"
