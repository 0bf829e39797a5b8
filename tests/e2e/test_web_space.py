"""The web app's initiatives page and "Mon espace" in a real browser (the machine's Chromium, driven
by playwright) against the real stack through the gateway.

One person's address is the contact of a carpentry and of a school in Maisons-Alfort, 1.2 km
apart: their account has two memberships. The school asks for a testimony; matching proposes the
carpentry's pledge. Signed in from the emailed link (as the carpentry, the older membership), the
person sees the proposal titled by its request (kind, day, school, town) with its real distance,
changes their e-mail preferences (stored by notify), publishes an initiative (a server refusal
first, shown beside its field and in the summary), then switches to the school's membership: Mon
espace shows the school's request with its status and proposal, and the school joins the
initiative, then leaves it. axe-core finds no serious or critical violation on /initiatives and
/mon-espace (anonymous and signed in), on a phone-sized and a desktop-sized screen. Screenshots go
to var/test-artifacts/web/space-*.png (kept after the run)."""
from __future__ import annotations

import re
import uuid

import pytest
import requests
from playwright.sync_api import expect

from e2e.browser import DESKTOP, PHONE, SESSION_KEY, serious_violations, session_context, shooter, sign_in
from support import bearer, eventually, next_school_day, next_school_weeks, post_pledge, unique_email, unique_uai

pytestmark = pytest.mark.integration

TOWN = "94046"  # Maisons-Alfort: no other browser test goes there
SCHOOL_SPOT = {"lat": 48.8000, "lon": 2.4300}
WORKSHOP_SPOT = {"lat": 48.8108, "lon": 2.4300}  # 1.2 km north of the school
LOADED = 20_000  # ms: a page's first answers, on a machine the other tests keep busy
shot = shooter("space-")


def account_memberships(mongo, email: str) -> list[dict]:
    account = mongo.vitawin_accounts.accounts.find_one({"email": email}) or {}
    return account.get("memberships", [])


@pytest.fixture(scope="module")
def world(stack, mongo):
    """The carpentry (with its pledge) and the school, one contact address; the school's request;
    the proposal matching made; the account with both memberships, the carpentry's first."""
    api, env = f"{stack.gateway_url}/api/v1", stack.env
    email = unique_email("web-space")
    suffix = uuid.uuid4().hex[:6]
    workshop = requests.post(f"{api}/actors", json={
        "kind": "craftsman", "name": f"Atelier Bois du Fort {suffix}", "contact_email": email,
        "siret": "73282932000074", "naf_code": "16.23Z", "address": {"street": "2 rue du Fort", "postcode": "94700"},
        "town": TOWN, "location": WORKSHOP_SPOT})
    assert workshop.status_code == 201, workshop.text
    workshop_id = workshop.json()["actor_id"]
    eventually(lambda: len(account_memberships(mongo, email)) == 1, message="the carpentry's membership")

    uai = unique_uai()
    school_name = f"Collège du Fort {suffix}"
    school = requests.post(f"{api}/actors", json={
        "kind": "school", "name": school_name, "contact_email": email, "uai": uai, "school_type": "college",
        "levels": ["4e", "3e"], "internship_periods": {"3e": next_school_weeks()},
        "address": {"street": "1 avenue de l'École", "postcode": "94700"}, "town": TOWN, "location": SCHOOL_SPOT})
    assert school.status_code == 201, school.text
    school_id = school.json()["actor_id"]
    eventually(lambda: mongo.vitawin_requests.schools.find_one({"_id": uai}), message="the school in requests")
    eventually(lambda: len(account_memberships(mongo, email)) == 2, message="the school's membership")

    pledge = post_pledge(f"{api}/volunteers", env, {
        "organisation_name": f"Atelier Bois du Fort {suffix}", "contact_email": email, "actor_id": workshop_id,
        "town": TOWN, "location": WORKSHOP_SPOT, "action_types": ["testimony"], "max_distance_km": 2})
    assert pledge.status_code == 201, pledge.text
    day = next_school_day(16)
    referent = bearer(env, "school_referent", actor_id=school_id, school_uai=uai)
    asked = requests.post(f"{api}/requests", headers=referent, json={
        "kind": "class_testimony", "date": day.isoformat(), "level": "3e", "professionals_wanted": 1,
        "contact_email": unique_email("web-space-referent"), "max_distance_km": 2})
    assert asked.status_code == 201, asked.text
    request_id = asked.json()["request_id"]
    proposal = eventually(lambda: mongo.vitawin_matching.proposals.find_one(
        {"request_id": request_id, "volunteer_actor_id": workshop_id}), message="the proposal")
    # notify's contact book holds the address (the signed-in preferences are found through it)
    for actor_id in (workshop_id, school_id):
        eventually(lambda: mongo.vitawin_notify.contacts.find_one({"_id": actor_id}), message="notify's contact")
    return {"email": email, "workshop_id": workshop_id, "school_id": school_id, "uai": uai,
            "school_name": school_name, "request_id": request_id, "proposal_id": proposal["_id"],
            "distance_km": proposal["distance_km"], "day": day}


def test_a_person_with_two_memberships_uses_my_space_and_the_initiatives(stack, browser, world, mongo):
    from vitawin_notify.domain import recipient_hash  # what notify keys preferences by

    page = browser.new_page(viewport=PHONE, locale="fr-FR")
    sign_in(stack, page, world["email"])

    # --- Mon espace as the carpentry: the proposal is titled by its request, at its real distance
    row = page.locator(f"#proposition-{world['proposal_id']}")
    expect(row).to_be_visible(timeout=LOADED)
    expect(row.get_by_test_id("proposal-title")).to_contain_text("Témoignage métier en classe")
    expect(row.get_by_test_id("proposal-title")).to_contain_text(str(world["day"].year))
    assert world["request_id"] not in row.inner_text()
    expect(row.get_by_test_id("proposal-request-school")).to_contain_text(world["school_name"])
    expect(row.get_by_test_id("proposal-request-town")).to_have_text("Maisons-Alfort")
    assert world["distance_km"] == pytest.approx(1.2)
    expect(row.get_by_test_id("proposal-distance")).to_have_text("1,2 km")
    shot(page, "1-mon-espace-professionnel")

    # --- e-mail preferences: a weekly digest of proposals, no reminders; notify stores them
    expect(page.get_by_test_id("preferences-form")).to_be_visible(timeout=LOADED)
    expect(page.locator("#pref-propositions-immediate")).to_be_checked()
    expect(page.get_by_test_id("preferences-requests")).to_be_hidden()  # a referent's category
    page.locator("#pref-propositions-weekly").check()
    page.get_by_label("Recevoir les rappels").uncheck()
    page.get_by_test_id("preferences-submit").click()
    expect(page.get_by_test_id("preferences-status")).to_have_text("Vos préférences sont enregistrées.",
                                                                   timeout=LOADED)
    stored = mongo.vitawin_notify.preferences.find_one({"_id": recipient_hash(world["email"])})
    assert stored["modes"]["proposals"] == "weekly" and "reminders" in stored["unsubscribed"]
    page.reload()
    expect(page.locator("#pref-propositions-weekly")).to_be_checked(timeout=LOADED)
    expect(page.get_by_label("Recevoir les rappels")).not_to_be_checked()
    shot(page, "2-preferences")

    # --- publish an initiative: the server's refusal first, beside its field and in the summary
    page.get_by_role("link", name="Initiatives", exact=True).click()
    page.wait_for_url(re.compile(r"/initiatives"))
    form = page.get_by_test_id("initiative-form")
    expect(form).to_be_visible(timeout=LOADED)
    title = f"Atelier bois au collège {uuid.uuid4().hex[:6]}"
    page.get_by_label("Titre").fill(title)
    page.get_by_label("Description").fill("Fabriquer des nichoirs avec une classe de 4e.")
    form.get_by_label("Établissement scolaire").check()
    form.get_by_label("Commune").select_option(TOWN)
    start = next_school_day(30)
    page.get_by_label("Date de début").fill(start.isoformat())
    page.get_by_label("Date de fin").fill(next_school_day(20).isoformat())  # before the start
    page.get_by_label("Adresse e-mail de contact").fill(world["email"])
    page.get_by_test_id("initiative-submit").click()
    summary = page.get_by_test_id("error-summary")
    expect(summary).to_be_visible(timeout=LOADED)
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("date de fin")
    end_box = page.get_by_label("Date de fin")
    expect(end_box).to_have_attribute("aria-invalid", "true")
    shot(page, "3-initiative-refusee")
    end_box.fill(next_school_day(40).isoformat())
    page.get_by_test_id("initiative-submit").click()
    expect(page.get_by_test_id("initiative-publish-status")).to_contain_text("est publiée", timeout=LOADED)
    expect(summary).to_be_hidden()
    published = page.get_by_test_id("initiative-row").filter(has_text=title)
    expect(published).to_be_visible()
    expect(published).to_contain_text("Vous avez publié cette initiative.")
    expect(published.get_by_test_id("initiative-join")).to_have_count(0)
    initiative = mongo.vitawin_requests.initiatives.find_one({"title": title})
    assert initiative["publisher"]["actor_id"] == world["workshop_id"] and initiative["town"] == TOWN
    shot(page, "4-initiative-publiee")

    # --- switch to the school's membership
    page.get_by_role("link", name="Mon espace").click()
    select = page.get_by_label("Agir pour")
    expect(select).to_be_visible(timeout=LOADED)
    select.select_option(world["school_id"])
    page.get_by_test_id("membership-submit").click()
    expect(page.get_by_test_id("membership-status")).to_contain_text("Vous agissez maintenant pour", timeout=LOADED)
    expect(page.get_by_test_id("who-am-i")).to_contain_text("référent d'établissement")
    expect(page.get_by_test_id("who-am-i")).to_contain_text(world["uai"])
    assert page.evaluate(f"JSON.parse(sessionStorage.getItem('{SESSION_KEY}')).actor_id") == world["school_id"]
    request_row = page.locator(f"#demande-{world['request_id']}")
    expect(request_row).to_be_visible(timeout=LOADED)
    expect(request_row).to_contain_text("Témoignage métier en classe")
    expect(request_row.get_by_test_id("request-status")).to_have_text("Ouverte")
    expect(request_row.get_by_test_id("request-proposals")).to_contain_text("En attente de réponse")
    school_side = page.locator(f"#proposition-{world['proposal_id']}")
    expect(school_side.get_by_test_id("proposal-organisation")).to_contain_text("Atelier Bois du Fort")
    expect(page.get_by_test_id("preferences-requests")).to_be_visible()
    shot(page, "5-mon-espace-etablissement")

    # --- the school joins the carpentry's initiative, then leaves it
    page.get_by_role("link", name="Initiatives", exact=True).click()
    row = page.get_by_test_id("initiative-row").filter(has_text=title)
    join = row.get_by_test_id("initiative-join")
    expect(join).to_be_visible(timeout=LOADED)
    row.get_by_text("Ajouter un message (facultatif)").click()
    row.get_by_label("Message pour l'organisateur").fill("Notre classe de 4e est partante.")
    join.click()
    expect(row).to_have_attribute("data-participating", "true", timeout=LOADED)
    expect(row.get_by_test_id("initiative-message")).to_have_text("Vous participez à cette initiative.")
    expect(row.get_by_test_id("initiative-participants")).to_have_text("1")
    stored = mongo.vitawin_requests.initiatives.find_one({"_id": initiative["_id"]})
    assert [(p["actor_id"], p["role"], p.get("message")) for p in stored["participants"]] == [
        (world["school_id"], "school_referent", "Notre classe de 4e est partante.")]
    shot(page, "6-initiative-rejointe")
    row.get_by_test_id("initiative-leave").click()
    expect(row).to_have_attribute("data-participating", "false", timeout=LOADED)
    expect(row.get_by_test_id("initiative-participants")).to_have_text("0")
    assert mongo.vitawin_requests.initiatives.find_one({"_id": initiative["_id"]})["participants"] == []
    page.reload()  # the list itself says whether the school takes part
    again = page.get_by_test_id("initiative-row").filter(has_text=title)
    expect(again.get_by_test_id("initiative-join")).to_be_visible(timeout=LOADED)
    world["session"] = page.evaluate(f"sessionStorage.getItem('{SESSION_KEY}')")
    page.close()


def _axe(stack, browser, path: str, viewport: dict, session: str | None, ready: str, name: str) -> list:
    # axe-core is injected as a script: the app's CSP (script-src 'self') would refuse it, so this
    # context alone bypasses it; the pages themselves ran under their real CSP above.
    # (a signed-in session is the same tab's: its access token is still valid, no refresh, no rotation)
    context = session_context(browser, viewport, session, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{stack.gateway_url}{path}")
    expect(page.locator(ready)).to_be_visible(timeout=LOADED)
    page.wait_for_load_state("networkidle")
    serious = serious_violations(page)
    shot(page, f"axe-{name}-{viewport['width']}")
    context.close()
    return serious


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("path, signed_in, ready, name", [
    ("/initiatives", False, "[data-testid=initiative-publish-unavailable]", "initiatives"),
    ("/initiatives", True, "[data-testid=initiative-form]", "initiatives-connecte"),
    ("/mon-espace", True, "[data-testid=preferences-form]", "mon-espace-connecte"),
])
def test_no_serious_accessibility_violation(stack, browser, world, path, signed_in, ready, name, viewport):
    session = world.get("session") if signed_in else None
    if signed_in and not session:
        pytest.fail("the signed-in session comes from the first test of this file: run the file as a whole")
    assert _axe(stack, browser, path, viewport, session, ready, name) == []
