"""The initiatives page (/initiatives) and the parts of "Mon espace" that its modules fill (the
choice of membership, the school's or pupil's requests, the e-mail preferences), as the gateway
renders them: French, one h1, every control labelled, no inline script or style, and every element
the page's modules look up by id present. Flask's test client, no browser (tests/e2e/test_web_space.py
drives them in Chromium)."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from vitawin_common import config
from vitawin_gateway import webapp
from vitawin_gateway.app import create_app

ROOT = Path(__file__).resolve().parents[3]
APP_DIR = ROOT / "web" / "app"
JS = APP_DIR / "static" / "js"
# page -> the modules of the app that look elements up by id on it
MODULES = {"/initiatives": ("initiatives-page.js", "layout.js"),
           "/mon-espace": ("my-space-page.js", "space-membership.js", "space-preferences.js", "space-requests.js")}
MADE_BY_SCRIPTS = {"nav-deconnexion"}


class Elements(HTMLParser):
    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, {name: value if value is not None else "" for name, value in attrs}))

    def all(self, tag: str) -> list[dict]:
        return [attributes for name, attributes in self.elements if name == tag]

    def by_id(self, wanted: str) -> tuple[str, dict]:
        return next((tag, a) for tag, a in self.elements if a.get("id") == wanted)

    def ids(self) -> list[str]:
        return [a["id"] for _, a in self.elements if "id" in a]


@pytest.fixture(scope="module")
def app():
    settings = webapp.WebSettings(app_dir=APP_DIR, vendor_dir=ROOT / "web" / "node_modules",
                                  territory_file=config.territory_file())
    return create_app(routes=[], session=object(), web_settings=settings).test_client()


def render(app, path) -> tuple[str, Elements]:
    answer = app.get(path)
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    return text, Elements(text)


def test_the_initiatives_page_is_french_with_one_heading_labelled_controls_and_no_inline_code(app):
    text, html = render(app, "/initiatives")
    assert '<html lang="fr">' in text and len(html.all("h1")) == 1 and len(html.all("main")) == 1
    ids = html.ids()
    assert len(ids) == len(set(ids)), "ids must be unique"
    labelled = {label["for"] for label in html.all("label")}
    for control in html.all("input") + html.all("select") + html.all("textarea"):
        assert control["id"] in labelled, control["id"]
    for _, attributes in html.elements:
        assert "style" not in attributes and not any(name.startswith("on") for name in attributes)
        for name in ("aria-labelledby", "aria-describedby"):
            for ref in attributes.get(name, "").split():
                assert ref in ids, f"{name}={ref}"
    modules = [a["src"] for a in html.all("script") if a.get("type") == "module"]
    assert len(modules) == 1 and re.fullmatch(r"/static/app/js/initiatives-page\.js\?v=\w+", modules[0])
    assert "<style" not in text


def test_the_publish_form_asks_what_the_api_takes(app):
    _, html = render(app, "/initiatives")
    fields = {a["data-field"] for _, a in html.elements if "data-field" in a}
    assert fields == {"kind", "title", "description", "partner_kinds_sought", "town", "start_date", "end_date",
                      "deadline", "contact_email"}
    kinds = [a["value"] for a in html.all("input") if a.get("name") == "ini-type"]
    assert kinds == ["initiative", "call_for_projects"]
    partners = [a["value"] for a in html.all("input") if a.get("name") == "ini-partenaires"]
    assert partners == ["company", "craftsman", "local_authority", "association", "public_institution",
                        "partner_organisation", "school"]  # the API's PARTNER_KINDS
    assert html.by_id("formulaire-initiative")[1].get("novalidate") == ""
    assert html.by_id("publier-statut")[1]["role"] == "status"


@pytest.mark.parametrize("path", list(MODULES))
def test_every_element_the_modules_look_up_is_on_the_page(app, path):
    _, html = render(app, path)
    ids = set(html.ids())
    for name in MODULES[path]:
        source = (JS / name).read_text(encoding="utf-8")
        wanted = set(re.findall(r'(?:\$|getElementById)\("([\w-]+)"\)', source)) - MADE_BY_SCRIPTS
        assert wanted, name
        assert not wanted - ids, f"{name}: {sorted(wanted - ids)}"


def test_every_module_of_these_pages_imports_only_served_modules(app):
    for name in {module for modules in MODULES.values() for module in modules}:
        for target in re.findall(r'from "\./([\w.-]+\.js)"', (JS / name).read_text(encoding="utf-8")):
            answer = app.get(f"/static/app/js/{target}")
            assert answer.status_code == 200, f"{name} imports {target}"
            answer.close()


@pytest.mark.parametrize("path", ["/", "/initiatives", "/mon-espace"])
def test_the_navigation_leads_to_the_initiatives_and_marks_the_current_page(app, path):
    _, html = render(app, path)
    assert html.by_id("nav-initiatives")[1]["href"] == "/initiatives"
    current = html.by_id("nav-initiatives")[1].get("aria-current")
    assert (current == "page") is (path == "/initiatives")


def test_my_space_has_the_membership_choice_the_requests_and_the_preferences_hidden_until_signed_in(app):
    _, html = render(app, "/mon-espace")
    for section in ("rattachement", "espace-demandes", "espace-preferences", "formulaire-preferences"):
        assert "hidden" in html.by_id(section)[1], section
    assert html.by_id("choix-rattachement")[0] == "select"
    assert html.by_id("bouton-rattachement")[1]["type"] == "submit"  # a button acts, not the select
    for name in ("pref-propositions", "pref-demandes"):
        assert [a["value"] for a in html.all("input") if a.get("name") == name] == ["immediate", "daily", "weekly",
                                                                                    "off"]
    assert html.by_id("pref-rappels")[1]["type"] == "checkbox"
    for status in ("rattachement-statut", "demandes-statut", "preferences-statut"):
        assert html.by_id(status)[1]["role"] == "status"
    labelled = {label["for"] for label in html.all("label")}
    for control in html.all("input") + html.all("select"):
        assert control["id"] in labelled, control["id"]
