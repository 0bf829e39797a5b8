"""The territory's dashboard (/tableau-de-bord) in a real browser (the machine's Chromium, driven by
playwright) against the real stack through the gateway.

Data: through the API, in Saint-Maurice (94069, a town the other browser tests leave alone) this
month: three companies with a pledge each next to a school, the school's testimony request, an
initiative; an association with a pledge in Maisons-Alfort (94046); a territory manager. Matching
proposes the three pledges for the request; one professional declines, another accepts, the third
leaves it pending. The three aggregate endpoints are read before and after (tokens signed with the
stack's private key): their figures grew by exactly what was registered.

The browser: the territory manager signs in with the emailed link (the real flow, as
tests/e2e/test_web.py does), opens the dashboard, chooses Saint-Maurice and this month in the
filters, and finds the endpoints' figures in the key figures and the tables; downloads the town
table and the whole dashboard as CSV (";", UTF-8 byte order mark, decimal comma) and checks their
content. A professional (a session stored in the tab with a token signed with the stack's key) and
an anonymous visitor get the French refusal with its link to /connexion. axe-core finds no serious
or critical violation on the dashboard and on the refusal, at 390 and 1280 px. Screenshots go to
var/test-artifacts/web/."""
from __future__ import annotations

import json
import re
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from playwright.sync_api import expect

from e2e.browser import DESKTOP, PHONE, SESSION_KEY, serious_violations, session_context, shooter, sign_in
from support import (bearer, eventually, next_school_day, post_pledge, register_organisation, register_school, token,
                     unique_email)

pytestmark = pytest.mark.integration

TOWN, OTHER_TOWN = "94069", "94046"  # Saint-Maurice, Maisons-Alfort
SCHOOL_SPOT = {"lat": 48.8190, "lon": 2.4235}
PLEDGE_SPOTS = [{"lat": 48.8186, "lon": 2.4226}, {"lat": 48.8195, "lon": 2.4241}, {"lat": 48.8181, "lon": 2.4244}]
ENDPOINTS = {"actors": "/api/v1/actors/stats", "requests": "/api/v1/requests/stats",
             "proposals": "/api/v1/proposals/stats"}
shot = shooter()


def this_month() -> str:
    return datetime.now(ZoneInfo("Europe/Paris")).strftime("%Y-%m")


def stats(stack, **query) -> dict:
    """The three endpoints' answers, as a territory manager."""
    headers = bearer(stack.env, "territory_manager")
    answers = {}
    for name, path in ENDPOINTS.items():
        answer = requests.get(f"{stack.gateway_url}{path}", params=query, headers=headers, timeout=60)
        assert answer.status_code == 200, answer.text
        answers[name] = answer.json()
    return answers


def figures(body: dict) -> dict:
    """What the tests compare: the counts the dashboard shows, by town and kind."""
    actors, requests_, proposals = body["actors"], body["requests"], body["proposals"]["proposals"]
    return {
        "actors": actors["actors"]["total"], "organisations": actors["sectors"]["total"],
        "sectors": {r["section"]: r["count"] for r in actors["sectors"]["rows"]},
        "kinds": _sum(actors["actors"]["rows"], lambda r: (r["kind"], r["town"])),
        "pledges": actors["pledges"]["total"], "pledges_by_town": {r["town"]: r["count"] for r in actors["pledges"]["by_town"]},
        "requests": requests_["requests"]["total"],
        "requests_by_status": requests_["requests"]["by_status"],
        "initiatives": requests_["initiatives"]["total"], "proposals": proposals["total"],
        "proposal_statuses": proposals["by_status"],
    }


def _sum(rows, key) -> dict:
    found: dict = {}
    for row in rows:
        found[key(row)] = found.get(key(row), 0) + row["count"]
    return found


def grew(before: dict, after: dict) -> dict:
    """after - before, for the numbers and the dicts of numbers of `figures` (zeros left out)."""
    def minus(a, b):
        if isinstance(a, dict):
            keys = set(a) | set(b)
            return {k: d for k in keys if (d := minus(a.get(k, 0), b.get(k, 0)))}
        return a - b
    return {name: minus(after[name], before[name]) for name in after}


def stable_stats(stack, **query) -> dict:
    """The endpoints' answers once two readings a second apart agree (matching and the requests
    service have caught up with the answers)."""
    last = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = stats(stack, **query)
        if now == last:
            return now
        last = now
        time.sleep(1.0)
    raise AssertionError("the dashboard's figures kept changing")


@pytest.fixture(scope="module")
def territory(stack, mongo):
    """What the test registers, and the endpoints' figures before and after."""
    api, env, month = f"{stack.gateway_url}/api/v1", stack.env, this_month()
    before = stats(stack, **{"from": month, "to": month})
    before_town = stats(stack, **{"from": month, "to": month, "town": TOWN})

    manager_email = unique_email("dashboard-manager")
    answer = requests.post(f"{api}/actors", json={"kind": "territory_manager", "name": "Camille Gestion",
                                                  "contact_email": manager_email,
                                                  "organisation_name": "Paris Est Marne et Bois"},
                           headers=bearer(env, "territory_manager"))  # only a manager registers one
    assert answer.status_code == 201, answer.text
    organisations = [register_organisation(stack.gateway_url, f"Entreprise Saint-Maurice {n}", town=TOWN,
                                           location=spot, naf_code=naf)
                     for n, (spot, naf) in enumerate(zip(PLEDGE_SPOTS, ("56.10A", "10.71C", "62.01Z")), 1)]
    association = requests.post(f"{api}/actors", json={
        "kind": "association", "name": "Association de Maisons-Alfort", "contact_email": unique_email("asso"),
        "siret": "73282932000074", "naf_code": "94.99Z", "address": {"street": "2 rue Jean Jaurès", "postcode": "94700"},
        "town": OTHER_TOWN, "location": {"lat": 48.8062, "lon": 2.4381}})
    assert association.status_code == 201, association.text
    pledges = []
    for n, (actor_id, spot) in enumerate(zip(organisations, PLEDGE_SPOTS), 1):
        pledge = post_pledge(f"{api}/volunteers", env, {
            "organisation_name": f"Entreprise Saint-Maurice {n}", "contact_email": unique_email("pro"),
            "actor_id": actor_id, "town": TOWN, "location": spot,
            "action_types": ["testimony", "internship"] if n == 1 else ["testimony"], "max_distance_km": 2})
        assert pledge.status_code == 201, pledge.text
        pledges.append(pledge.json()["volunteer_id"])
    far = post_pledge(f"{api}/volunteers", env, {
        "organisation_name": "Association de Maisons-Alfort", "contact_email": unique_email("asso-pro"),
        "actor_id": association.json()["actor_id"], "town": OTHER_TOWN, "location": {"lat": 48.8062, "lon": 2.4381},
        "action_types": ["mentoring"], "max_distance_km": 1})
    assert far.status_code == 201, far.text

    school = register_school(stack.gateway_url, mongo, town=TOWN, location=SCHOOL_SPOT)
    referent = bearer(env, "school_referent", actor_id=school["actor_id"], school_uai=school["uai"])
    asked = requests.post(f"{api}/requests", headers=referent, json={
        "kind": "class_testimony", "date": next_school_day(20).isoformat(), "level": "3e",
        "professionals_wanted": 1, "contact_email": unique_email("dashboard-referent"), "max_distance_km": 2})
    assert asked.status_code == 201, asked.text
    request_id = asked.json()["request_id"]
    published = requests.post(f"{api}/initiatives", headers=bearer(env, "professional", actor_id=organisations[0]),
                              json={"kind": "initiative", "title": "Forum des métiers de Saint-Maurice",
                                    "partner_kinds_sought": ["school"], "town": TOWN,
                                    "contact_email": unique_email("initiative")})
    assert published.status_code == 201, published.text

    # Matching proposes the three pledges; the second professional declines, the first accepts.
    manager = bearer(env, "territory_manager")

    def proposals():
        answer = requests.get(f"{api}/proposals", params={"request_id": request_id}, headers=manager)
        found = {p["volunteer_id"]: p for p in answer.json()} if answer.status_code == 200 else {}
        return found if all(v in found for v in pledges) else None
    made = eventually(proposals, timeout=60, message="the three proposals")
    declined = requests.post(f"{api}/proposals/{made[pledges[1]]['proposal_id']}/decline",
                             headers=bearer(env, "professional", actor_id=organisations[1]))
    assert declined.status_code == 200, declined.text
    accepted = requests.post(f"{api}/proposals/{made[pledges[0]]['proposal_id']}/accept",
                             headers=bearer(env, "professional", actor_id=organisations[0]))
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted", accepted.text
    eventually(lambda: requests.get(f"{api}/requests/{request_id}", headers=manager).json().get("status")
               == "fulfilled", timeout=60, message="the request fulfilled")
    eventually(lambda: mongo.vitawin_accounts.accounts.find_one({"email": manager_email}),
               message="the manager's account")
    after_town = stable_stats(stack, **{"from": month, "to": month, "town": TOWN})
    after = stats(stack, **{"from": month, "to": month})
    return {"month": month, "manager_email": manager_email, "organisations": organisations,
            "before": before, "after": after, "before_town": before_town, "after_town": after_town}


def test_the_endpoints_count_what_was_registered(territory):
    growth = grew(figures(territory["before"]), figures(territory["after"]))
    assert {name: growth[name] for name in ("actors", "organisations", "sectors", "kinds", "pledges",
                                            "pledges_by_town", "requests", "requests_by_status", "initiatives")} == {
        "actors": 6, "organisations": 4, "sectors": {"I": 1, "C": 1, "J": 1, "S": 1},
        "kinds": {("company", TOWN): 3, ("association", OTHER_TOWN): 1, ("school", TOWN): 1,
                  ("territory_manager", None): 1},
        "pledges": 4, "pledges_by_town": {TOWN: 3, OTHER_TOWN: 1}, "requests": 1,
        "requests_by_status": {"fulfilled": 1}, "initiatives": 1}
    town = grew(figures(territory["before_town"]), figures(territory["after_town"]))
    assert (town["actors"], town["organisations"], town["pledges"], town["requests"], town["initiatives"]) == (
        4, 3, 3, 1, 1), "the town filter leaves Maisons-Alfort and the territory manager out"
    statuses = town["proposal_statuses"]
    assert statuses.get("accepted") == 1 and statuses.get("declined") == 1 and statuses.get("pending", 0) >= 1
    assert town["proposals"] >= 3


def integer(value: int) -> str:
    return f"{value:,}".replace(",", "\u202f")  # fr-FR groups thousands with a narrow no-break space


def percent(rate) -> str:
    return "sans objet" if rate is None else f"{_one_decimal(rate * 100)} %"


def _one_decimal(value: float) -> str:
    return f"{round(value, 1):.1f}".rstrip("0").rstrip(".").replace(".", ",")


@pytest.fixture(scope="module")
def manager_session(stack, browser, territory):
    """The territory manager signed in through the emailed link, on the dashboard filtered to
    Saint-Maurice and this month; the session the tab stores (for the accessibility checks)."""
    context = browser.new_context(viewport=DESKTOP, locale="fr-FR", accept_downloads=True)
    page = context.new_page()
    sign_in(stack, page, territory["manager_email"])
    page.get_by_role("link", name="Tableau de bord").click()
    page.wait_for_url(re.compile(r"/tableau-de-bord"))
    expect(page.get_by_test_id("dashboard-status")).to_contain_text("Tableau de bord à jour", timeout=60_000)
    page.get_by_label("Commune", exact=True).select_option(TOWN)
    page.get_by_label("Du mois", exact=True).fill(territory["month"])
    page.get_by_label("Au mois (inclus)", exact=True).fill(territory["month"])
    page.get_by_test_id("dashboard-apply").click()
    expect(page.get_by_test_id("dashboard-status")).to_contain_text("Saint-Maurice", timeout=60_000)
    expect(page.get_by_test_id("dashboard-status")).to_contain_text("Tableau de bord à jour")
    session = page.evaluate(f"() => window.sessionStorage.getItem({json.dumps(SESSION_KEY)})")
    yield {"page": page, "session": session}
    context.close()


def test_a_territory_manager_sees_the_figures_of_the_endpoints(territory, manager_session):
    page, body = manager_session["page"], territory["after_town"]
    assert f"town={TOWN}" in page.url and f"from={territory['month']}" in page.url
    rates = body["proposals"]["proposals"]["rates"]
    expected = {
        "actors": integer(body["actors"]["actors"]["total"]),
        "organisations": integer(body["actors"]["sectors"]["total"]),
        "pledges": integer(body["actors"]["pledges"]["total"]),
        "requests": integer(body["requests"]["requests"]["total"]),
        "initiatives": integer(body["requests"]["initiatives"]["total"]),
        "proposals": integer(body["proposals"]["proposals"]["total"]),
        "answer-rate": percent(rates["answer_rate"]), "acceptance-rate": percent(rates["acceptance_rate"]),
    }
    shown = {key: page.get_by_test_id(f"dashboard-kpi-{key}").inner_text().replace("\u00a0", " ")
             for key in expected}
    assert shown == expected
    row = page.get_by_test_id("dashboard-table-communes").locator(f'tr[data-key="{TOWN}"]')
    cells = {column: row.locator(f'[data-column="{column}"]').inner_text()
             for column in ("label", "insee", "actors", "organisations", "schools", "pledges", "requests",
                            "initiatives", "proposals", "accepted")}
    kinds = _sum(body["actors"]["actors"]["rows"], lambda r: r["kind"])
    assert cells == {"label": "Saint-Maurice", "insee": TOWN, "actors": expected["actors"],
                     "organisations": expected["organisations"], "schools": integer(kinds.get("school", 0)),
                     "pledges": expected["pledges"], "requests": expected["requests"],
                     "initiatives": expected["initiatives"], "proposals": expected["proposals"],
                     "accepted": integer(rates["accepted"])}
    assert page.get_by_test_id("dashboard-table-communes").locator("tbody tr").count() == 1
    sectors = page.get_by_test_id("dashboard-table-secteurs")
    for row in body["actors"]["sectors"]["rows"]:
        assert sectors.locator(f'tr[data-key="{row["section"]}"] [data-column="count"]').inner_text() == integer(row["count"])
    expect(sectors.locator("caption")).to_contain_text("NAF rév. 2")
    for chart in ("communes", "taux", "mois", "secteurs", "actions", "types"):
        svg = page.get_by_test_id(f"dashboard-chart-{chart}").locator("svg")
        expect(svg).to_have_attribute("role", "img")
        assert svg.locator("title").text_content().startswith("Graphique en barres")
    # the chart shows the chosen measure: its bars carry the values of the table's column
    page.get_by_test_id("dashboard-measure-communes").select_option("pledges")
    bar = page.get_by_test_id("dashboard-chart-communes").locator("rect[data-value]")
    expect(bar).to_have_attribute("data-value", str(body["actors"]["pledges"]["total"]))
    shot(page, "dashboard-1-saint-maurice-1280")
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)
    shot(page, "dashboard-2-saint-maurice-390")
    page.set_viewport_size(DESKTOP)


def read_download(page, button_test_id: str) -> tuple[str, bytes]:
    with page.expect_download() as info:
        page.get_by_test_id(button_test_id).click()
    download = info.value
    return download.suggested_filename, Path(download.path()).read_bytes()


def test_the_tables_download_as_csv_for_french_excel(territory, manager_session):
    page, body, month = manager_session["page"], territory["after_town"], territory["month"]
    name, data = read_download(page, "dashboard-csv-communes")
    assert name == f"vitawin-tableau-de-bord-communes-{TOWN}-{month}_{month}.csv"
    assert data.startswith(b"\xef\xbb\xbf"), "a UTF-8 byte order mark, for Excel"
    lines = data[3:].decode("utf-8").split("\r\n")
    assert lines[0] == ("Commune;Code INSEE;Acteurs inscrits;Organisations;Établissements scolaires;Élèves;"
                        "Engagements;Demandes;Initiatives;Propositions;Propositions acceptées")
    kinds = _sum(body["actors"]["actors"]["rows"], lambda r: r["kind"])
    counts = [body["actors"]["actors"]["total"], body["actors"]["sectors"]["total"], kinds.get("school", 0),
              kinds.get("pupil", 0), body["actors"]["pledges"]["total"], body["requests"]["requests"]["total"],
              body["requests"]["initiatives"]["total"], body["proposals"]["proposals"]["total"],
              body["proposals"]["proposals"]["rates"]["accepted"]]
    assert lines[1] == ";".join(["Saint-Maurice", TOWN, *map(str, counts)])
    assert lines[2:] == [""]

    _, data = read_download(page, "dashboard-csv-taux")
    rates = body["proposals"]["proposals"]["rates"]
    line = data[3:].decode("utf-8").split("\r\n")[1].split(";")
    assert line[:5] == ["Saint-Maurice", TOWN, str(rates["proposed"]), str(rates["answered"]), str(rates["accepted"])]
    assert line[5:7] == [_one_decimal(rates["answer_rate"] * 100), _one_decimal(rates["acceptance_rate"] * 100)]
    assert "." not in ";".join(line[5:]), "decimal commas"

    name, data = read_download(page, "dashboard-csv-all")
    assert name == f"vitawin-tableau-de-bord-complet-{TOWN}-{month}_{month}.csv"
    text = data.decode("utf-8-sig")
    assert text.startswith("Vitawin — tableau de bord du territoire")
    for caption in ("Chiffres par commune", "Taux de réponse et d'acceptation", "Chiffres par mois",
                    "Organisations inscrites par section de la NAF rév. 2 (INSEE)", "Chiffres par type d'action",
                    "Acteurs inscrits par type", "État aujourd'hui"):
        assert any(line.startswith(caption) for line in text.split("\r\n")), caption
    assert ";".join(["Saint-Maurice", TOWN, *map(str, counts)]) in text.split("\r\n")


def open_dashboard(stack, browser, viewport, session: dict | None, query: str = ""):
    """A new tab on the dashboard, holding `session` (what the web app stores once signed in) or
    none. The context bypasses the CSP only so that axe-core can be injected."""
    context = session_context(browser, viewport, None if session is None else json.dumps(session), bypass_csp=True)
    page = context.new_page()
    page.goto(f"{stack.gateway_url}/tableau-de-bord{query}")
    return context, page


def professional_session(stack, territory, stored_role: str = "professional") -> dict:
    return {"access_token": token(stack.env, "professional", actor_id=territory["organisations"][0]),
            "refresh_token": "none", "expires_at": int(time.time() * 1000) + 10 * 60 * 1000, "role": stored_role,
            "actor_id": territory["organisations"][0], "school_uai": None, "memberships": []}


@pytest.mark.parametrize("stored_role", ["professional", "territory_manager"],
                         ids=["role-in-the-session", "role-from-the-api-403"])
def test_a_professional_sees_the_refusal_and_a_link_to_sign_in(stack, browser, territory, stored_role):
    context, page = open_dashboard(stack, browser, PHONE, professional_session(stack, territory, stored_role))
    refusal = page.get_by_test_id("dashboard-refusal")
    expect(refusal).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("dashboard-refusal-message")).to_contain_text(
        "réservé aux gestionnaires de territoire")
    expect(page.get_by_test_id("dashboard-sign-in")).to_have_attribute("href", "/connexion")
    expect(page.get_by_test_id("dashboard")).to_be_hidden()
    expect(page.get_by_test_id("dashboard-sign-in")).to_have_text("Se connecter avec un autre compte")
    if stored_role == "professional":
        expect(page.get_by_test_id("dashboard-refusal-message")).to_contain_text("en tant que professionnel")
        shot(page, "dashboard-3-refus-professionnel-390")
    context.close()


def test_an_anonymous_visitor_is_asked_to_sign_in(stack, browser, territory):
    context, page = open_dashboard(stack, browser, DESKTOP, None)
    expect(page.get_by_test_id("dashboard-refusal-message")).to_contain_text("Connectez-vous", timeout=30_000)
    expect(page.get_by_test_id("dashboard-sign-in")).to_have_attribute("href", "/connexion")
    expect(page.get_by_test_id("dashboard-sign-in")).to_have_text("Se connecter")
    shot(page, "dashboard-4-refus-anonyme-1280")
    context.close()


@pytest.mark.parametrize("who", ["manager", "anonymous"])
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_no_serious_accessibility_violation(stack, browser, territory, manager_session, who, viewport):
    # axe-core is injected as a script: the app's CSP (script-src 'self') would refuse it, so this
    # context alone bypasses it; the page runs under its real CSP in the tests above.
    session = json.loads(manager_session["session"]) if who == "manager" else None
    context, page = open_dashboard(stack, browser, viewport, session, f"?from={territory['month']}&to={territory['month']}")
    if who == "manager":
        expect(page.get_by_test_id("dashboard-status")).to_contain_text("Tableau de bord à jour", timeout=60_000)
    else:
        expect(page.get_by_test_id("dashboard-refusal")).to_be_visible(timeout=30_000)
    page.wait_for_load_state("networkidle")
    serious = serious_violations(page)
    shot(page, f"axe-tableau-de-bord-{who}-{viewport['width']}")
    context.close()
    assert serious == [], serious
