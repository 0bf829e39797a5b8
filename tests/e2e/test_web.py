"""The web app in a real browser (the machine's Chromium, driven by playwright) against the real
stack through the gateway: a professional asks for a sign-in link on the sign-in page, opens the
link the accounts service emailed, signs in, finds the proposal matching made for its pledge in
"Mon espace" and accepts it; the map page lists what was registered; axe-core finds no serious
or critical accessibility violation on any page, on a phone-sized and a desktop-sized screen.
Screenshots of each step go to var/test-artifacts/web/ (kept after the run).

The pledge and the school's request are made through the API here: the web app's forms for them
come next (issue 7)."""
from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from e2e.browser import DESKTOP, PHONE, ask_for_a_link, first_link, serious_violations, session_context, shooter
from support import (bearer, eventually, next_school_day, post_pledge, register_organisation, register_school,
                     unique_email)

pytestmark = pytest.mark.integration

SPOT = {"lat": 48.8525, "lon": 2.4290}  # Vincennes, north-west: no other test goes there
shot = shooter()


@pytest.fixture(scope="module")
def proposal(stack, mongo):
    """An organisation with a pledge and a school's request next to it: the proposal made for them,
    and the professional's contact e-mail."""
    api, env = f"{stack.gateway_url}/api/v1", stack.env
    email = unique_email("web-pro")
    actor_id = register_organisation(stack.gateway_url, "Menuiserie du Château", town="94080", location=SPOT,
                                     email=email, naf_code="16.23Z")
    pledge = post_pledge(f"{api}/volunteers", env, {
        "organisation_name": "Menuiserie du Château", "contact_email": email, "actor_id": actor_id,
        "town": "94080", "location": SPOT, "action_types": ["testimony"], "max_distance_km": 2})
    assert pledge.status_code == 201, pledge.text
    school = register_school(stack.gateway_url, mongo, town="94080", location=SPOT)
    referent = bearer(env, "school_referent", actor_id=school["actor_id"], school_uai=school["uai"])
    asked = requests.post(f"{api}/requests", headers=referent, json={
        "kind": "class_testimony", "date": next_school_day(16).isoformat(), "level": "3e",
        "professionals_wanted": 1, "contact_email": unique_email("web-referent"), "max_distance_km": 2})
    assert asked.status_code == 201, asked.text
    doc = eventually(lambda: mongo.vitawin_matching.proposals.find_one(
        {"request_id": asked.json()["request_id"], "volunteer_actor_id": actor_id}), message="the proposal")
    eventually(lambda: mongo.vitawin_accounts.accounts.find_one({"email": email}), message="the account")
    return {"proposal_id": doc["_id"], "email": email, "actor_id": actor_id}


def test_a_professional_signs_in_from_the_email_and_accepts_its_proposal(stack, browser, proposal, mongo):
    page = browser.new_page(viewport=PHONE, locale="fr-FR")
    page.goto(f"{stack.gateway_url}/connexion")
    ask_for_a_link(page, proposal["email"])
    shot(page, "1-connexion-demandee")

    page.goto(first_link(stack.maildir, proposal["email"]))
    shot(page, "2-lien-ouvert")  # opening the link signs nobody in: a mail scanner may open it too
    page.get_by_test_id("magic-link-submit").click()
    page.wait_for_url(re.compile(r"/mon-espace"))
    assert "#jeton" not in page.url
    row = page.locator(f"#proposition-{proposal['proposal_id']}")
    expect(row).to_be_visible()
    expect(row).to_contain_text("à ")  # its reasons, in French ("à 0,1 km")
    shot(page, "3-mon-espace")

    row.get_by_test_id("proposal-accept").click()
    expect(row).to_have_attribute("data-status", "accepted")
    shot(page, "4-proposition-acceptee")
    page.close()

    assert eventually(lambda: mongo.vitawin_matching.proposals.find_one(
        {"_id": proposal["proposal_id"], "status": "accepted"}), message="the acceptance in matching")


def test_the_map_page_lists_what_is_on_the_map_for_those_who_cannot_use_a_map(stack, browser, proposal):
    page = browser.new_page(viewport=DESKTOP, locale="fr-FR")
    page.goto(f"{stack.gateway_url}/")
    expect(page.locator("main")).to_contain_text("Menuiserie du Château", timeout=15_000)
    shot(page, "5-carte")
    page.close()


@pytest.mark.parametrize("path", ["/", "/connexion", "/mon-espace"])
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_no_serious_accessibility_violation(stack, browser, proposal, path, viewport):
    # axe-core is injected as a script: the app's CSP (script-src 'self') would refuse it, so this
    # context alone bypasses it; the pages themselves run under their real CSP in the tests above.
    context = session_context(browser, viewport, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{stack.gateway_url}{path}")
    page.wait_for_load_state("networkidle")
    serious = serious_violations(page)
    name = "accueil" if path == "/" else path.strip("/")
    shot(page, f"axe-{name}-{viewport['width']}")
    context.close()
    assert serious == [], serious
