"""The territory's dashboard page (/tableau-de-bord) the gateway serves: French HTML under the strict
policy, its module (dashboard-page.js), the filters (town, months from/to) with labels and hints,
the refusal section that links to /connexion, the navigation link, and every element the script
looks up by id. Flask's test client, no browser (tests/e2e/test_dashboard.py drives one)."""
from __future__ import annotations

import re

from tests.unit.gateway.test_web_app import APP_DIR, Page, client

PATH = "/tableau-de-bord"


def page():
    answer = client().get(PATH)
    return answer, Page(answer.get_data(as_text=True))


def test_the_dashboard_is_a_french_page_with_one_heading_and_its_module():
    answer, html = page()
    assert answer.status_code == 200
    assert answer.content_type == "text/html; charset=utf-8"
    text = answer.get_data(as_text=True)
    assert '<html lang="fr">' in text
    assert "<title>Tableau de bord du territoire — Vitawin</title>" in text
    assert len(html.all("h1")) == 1 and html.text_by_id["titre-page"].startswith("Tableau de bord du territoire")
    modules = [attributes["src"] for attributes, _ in html.scripts if attributes.get("type") == "module"]
    assert len(modules) == 1 and re.fullmatch(r"/static/app/js/dashboard-page\.js\?v=\w+", modules[0])
    assert answer.headers["Cache-Control"] == "no-cache"


def test_no_inline_script_or_style_under_the_strict_policy():
    answer, html = page()
    text = answer.get_data(as_text=True)
    assert all(body.strip() == "" for _, body in html.scripts)
    assert "<style" not in text and not any("style" in attributes for _, attributes in html.elements)
    assert not any(name.startswith("on") for _, attributes in html.elements for name in attributes)
    csp = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_the_filters_are_labelled_with_every_town_and_a_month_hint():
    answer, html = page()
    assert html.by_id("tdb-filtres")[0] == "form"
    text = answer.get_data(as_text=True)
    for control, name in (("tdb-commune", "Commune"), ("tdb-du", "Du mois"), ("tdb-au", "Au mois (inclus)")):
        assert f'<label for="{control}">{name}</label>' in text
    for month in ("tdb-du", "tdb-au"):
        tag, attributes = html.by_id(month)
        assert tag == "input" and attributes["type"] == "month"
        assert "tdb-aide-mois" in attributes["aria-describedby"].split()
    assert "AAAA-MM" in html.text_by_id["tdb-aide-mois"]
    assert '<option value="">Toutes les communes</option>' in text
    assert '<option value="94080">Vincennes</option>' in text
    assert html.text_by_id["tdb-csv-tout"] == "Tout télécharger (CSV)"


def test_the_refusal_section_is_hidden_until_the_script_shows_it_and_links_to_sign_in():
    _, html = page()
    assert "hidden" in html.by_id("tdb-refus")[1] and "hidden" in html.by_id("tdb-contenu")[1]
    assert html.by_id("tdb-lien-connexion")[1]["href"] == "/connexion"
    status = html.by_id("tdb-statut")[1]
    assert status["role"] == "status" and status["aria-live"] == "polite"


def test_the_navigation_links_to_the_dashboard_and_marks_it_current_there():
    _, html = page()
    assert html.by_id("nav-tableau-de-bord")[1]["href"] == PATH
    assert [a["id"] for a in html.all("a") if a.get("aria-current") == "page"] == ["nav-tableau-de-bord"]
    home = Page(client().get("/").get_data(as_text=True))
    assert "aria-current" not in home.by_id("nav-tableau-de-bord")[1]


def test_every_element_the_script_looks_up_is_on_the_page():
    _, html = page()
    ids = set(html.ids())
    source = (APP_DIR / "static" / "js" / "dashboard-page.js").read_text(encoding="utf-8")
    wanted = set(re.findall(r'(?:\$|getElementById)\("([\w-]+)"\)', source))
    assert wanted and not wanted - ids, sorted(wanted - ids)


def test_the_dashboard_modules_are_served():
    app = client()
    for name in ("dashboard-page.js", "csv.js"):
        answer = app.get(f"/static/app/js/{name}")
        assert answer.status_code == 200 and answer.mimetype == "text/javascript"
        answer.close()
