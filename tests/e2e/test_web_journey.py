"""The web app's forms in a real browser (the machine's Chromium, driven by playwright) against the
real stack through the gateway, the whole journey through the pages only: an organisation registers
on /inscription, its contact signs in with the link emailed to it and pledges on /engagement; a
school registers on /inscription, its referent signs in with its own link and publishes on
/demande a request that matches the pledge (same place, same action); the professional sees the
proposal appear in "Mon espace" and accepts it. A form sent with a bad value shows the French
message beside the field, in the error summary, and creates nothing. axe-core finds no serious or
critical violation on the three forms (as they first show, then with their errors), on a
phone-sized and a desktop-sized screen. Screenshots go to var/test-artifacts/web/journey-*.png."""
from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from e2e.browser import (DESKTOP, PHONE, ask_for_a_link, open_link, serious_violations, session_context, shooter,
                         sign_in_links)
from support import (eventually, next_school_day, register_organisation, register_school, token, unique_email,
                     unique_uai)

pytestmark = pytest.mark.integration

# Nogent-sur-Marne, by the town's centre: no other browser test goes there, and the request asks
# for professionals within 1 km only.
SPOT = {"lat": 48.8372, "lon": 2.4830}
TOWN = "94052"
expect.set_options(timeout=15_000)  # the machine's two cores are shared: pages may take a few seconds
shot = shooter("journey-")


def french(value: float) -> str:
    return str(value).replace(".", ",")


def next_saturday(after_days: int = 14) -> date:
    day = date.today() + timedelta(days=after_days)
    return day + timedelta(days=(5 - day.weekday()) % 7)


def sign_in(page, stack, email: str) -> None:
    """What a person does after registering: ask for a link on /connexion (again if none came: the
    account is made from the registration a moment later), open it, press "Me connecter"."""
    def link():
        before = len(sign_in_links(stack.maildir, email))
        ask_for_a_link(page, email)
        try:
            return eventually(lambda: sign_in_links(stack.maildir, email)[before:], timeout=8)[0]
        except AssertionError:
            return None

    open_link(page, eventually(link, timeout=90, interval=0.5, message=f"a sign-in link for {email}"))


def field_error(page, control_id: str):
    return page.locator(f"#erreur-{control_id}")


def test_an_organisation_and_a_school_register_pledge_ask_and_meet_through_the_pages(stack, browser, mongo):
    gateway, maildir = stack.gateway_url, stack.maildir
    organisation = f"Menuiserie des Coteaux {unique_uai()}"
    pro_email = unique_email("journey-pro")

    # 1. The organisation registers; a SIRET with a wrong check digit first.
    pro = browser.new_context(viewport=PHONE, locale="fr-FR").new_page()
    pro.goto(f"{gateway}/")
    pro.locator("#carte-lien-inscription").click()
    pro.wait_for_url(re.compile(r"/inscription$"))
    pro.get_by_label("Une organisation").check()
    pro.get_by_label("Type d'organisation").select_option("company")
    pro.get_by_label("Nom de l'organisation").fill(organisation)
    pro.get_by_label("Adresse e-mail de contact").fill(pro_email)
    pro.get_by_label("Numéro SIRET").fill("732 829 320 00075")
    pro.get_by_label("Code NAF (activité principale)").fill("16.23z")
    pro.locator("#org-rue").fill("3 rue des Coteaux")
    pro.locator("#org-code-postal").fill("94130")
    pro.locator("#org-commune").select_option(TOWN)
    pro.locator("#org-position-lat").fill(french(SPOT["lat"]))
    pro.locator("#org-position-lon").fill(french(SPOT["lon"]))
    pro.get_by_test_id("register-submit").click()

    summary = pro.get_by_test_id("error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Numéro SIRET : SIRET invalide")
    expect(field_error(pro, "org-siret")).to_contain_text("SIRET invalide : la clé de contrôle ne correspond pas")
    expect(pro.locator("#org-siret")).to_have_attribute("aria-invalid", "true")
    assert "erreur-org-siret" in pro.locator("#org-siret").get_attribute("aria-describedby")
    assert pro.title().startswith("Erreur")
    shot(pro, "1-inscription-erreur")
    assert mongo.vitawin_actors.actors.count_documents({"name": organisation}) == 0
    summary.get_by_role("link").first.click()  # the summary's link leads to the field
    expect(pro.locator("#org-siret")).to_be_focused()

    pro.locator("#org-siret").fill("732 829 320 00074")
    pro.get_by_test_id("register-submit").click()
    done = pro.get_by_test_id("register-done")
    expect(done).to_be_visible()
    expect(pro.locator("#inscription-faite-titre")).to_be_focused()
    expect(done).to_contain_text(pro_email)
    expect(summary).to_be_hidden()
    shot(pro, "2-organisation-inscrite")
    assert mongo.vitawin_actors.actors.count_documents({"name": organisation}) == 1

    # 2. Its contact signs in with the emailed link, then pledges.
    pro.get_by_test_id("go-sign-in").click()
    sign_in(pro, stack, pro_email)
    pro.locator("#nav-engagement").click()
    pro.wait_for_url(re.compile(r"/engagement$"))
    expect(pro.get_by_test_id("pledge-form")).to_be_visible()
    expect(pro.get_by_label("Nom de l'organisation")).to_have_value(organisation)
    expect(pro.locator("#eng-commune")).to_have_value(TOWN)
    pro.get_by_label("Témoignage métier").check()
    expect(pro.get_by_test_id("pledge-settings-testimony")).to_be_visible()
    pro.get_by_label("Distance maximale de déplacement, en km").fill("2")
    pro.get_by_test_id("job-input").fill("Menuisier / Menuisière (H2206)")
    pro.get_by_test_id("job-add").click()
    expect(pro.get_by_test_id("chosen-job")).to_have_count(1)
    expect(pro.get_by_test_id("chosen-jobs")).to_contain_text("Menuisier / Menuisière (H2206)")
    shot(pro, "3-engagement-formulaire")
    pro.get_by_test_id("pledge-submit").click()
    pledge = pro.get_by_test_id("pledge-done")
    expect(pledge).to_be_visible()
    expect(pro.get_by_test_id("pledge-status")).to_have_text("Actif")
    expect(pro.get_by_test_id("pledge-jobs")).to_contain_text("Menuisier / Menuisière (H2206)")
    expect(pro.get_by_test_id("pledge-town")).to_have_text("Nogent-sur-Marne")
    shot(pro, "4-engagement-enregistre")

    # 3. The school registers (another browser, another person) and its referent signs in.
    uai, referent_email = unique_uai(), unique_email("journey-referent")
    school_name = f"Collège des Coteaux {uai}"
    school = browser.new_context(viewport=DESKTOP, locale="fr-FR").new_page()
    school.goto(f"{gateway}/inscription")
    school.get_by_label("Un établissement scolaire").check()
    school.get_by_label("Nom de l'établissement").fill(school_name)
    school.get_by_label("Adresse e-mail du professeur référent").fill(referent_email)
    school.get_by_label("Code UAI (ex-RNE)").fill(uai)
    school.get_by_label("Type d'établissement").select_option("college")
    levels = school.locator("#eco-niveaux")
    levels.get_by_label("4e", exact=True).check()
    levels.get_by_label("3e", exact=True).check()
    school.locator("#eco-rue").fill("1 rue de l'École")
    school.locator("#eco-code-postal").fill("94130")
    school.locator("#eco-commune").select_option(TOWN)
    school.locator("#eco-position-lat").fill(french(SPOT["lat"]))
    school.locator("#eco-position-lon").fill(french(SPOT["lon"]))
    school.get_by_test_id("register-submit").click()
    expect(school.get_by_test_id("register-done")).to_be_visible()
    shot(school, "5-etablissement-inscrit")
    school.get_by_test_id("go-sign-in").click()
    sign_in(school, stack, referent_email)
    # the requests service learns of the school from the actors topic: the form needs it
    eventually(lambda: mongo.vitawin_requests.schools.find_one({"_id": uai}), message="the school in requests")

    # 4. The referent publishes the request: on a Saturday first, refused beside the date.
    school.locator("#nav-demande").click()
    school.wait_for_url(re.compile(r"/demande$"))
    form = school.get_by_test_id("request-form")
    expect(form).to_be_visible()
    expect(school.get_by_test_id("request-for")).to_contain_text(school_name)
    school.get_by_label("Témoignage métier en classe").check()
    expect(school.get_by_label("Adresse e-mail du référent")).to_have_value(referent_email)
    school.get_by_label("Date", exact=True).fill(next_saturday().isoformat())
    school.get_by_label("Niveau des élèves").select_option("3e")
    school.get_by_label("Distance maximale jusqu'au professionnel, en km").fill("1")
    school.get_by_test_id("job-input").fill("h2206")
    school.get_by_test_id("job-input").press("Enter")  # adds the job, does not send the form
    expect(school.get_by_test_id("chosen-job")).to_have_count(1)
    school.get_by_test_id("request-submit").click()
    expect(school.get_by_test_id("error-summary")).to_be_focused()
    expect(field_error(school, "dem-date")).to_contain_text("samedi")
    expect(school.locator("#dem-date")).to_have_attribute("aria-invalid", "true")
    shot(school, "6-demande-erreur")
    assert mongo.vitawin_requests.requests.count_documents({"school_uai": uai}) == 0

    school.get_by_label("Date", exact=True).fill(next_school_day(16).isoformat())
    school.get_by_test_id("request-submit").click()
    done = school.get_by_test_id("request-done")
    expect(done).to_be_visible()
    expect(school.get_by_test_id("request-status")).to_have_text("Ouverte")
    expect(school.get_by_test_id("request-jobs")).to_contain_text("Menuisier / Menuisière (H2206)")
    request_id = done.get_attribute("data-request-id")
    assert request_id and request_id.startswith("req-")
    shot(school, "7-demande-publiee")

    # 5. The professional finds the proposal in "Mon espace" and accepts it.
    pro.get_by_test_id("go-my-space").click()
    pro.wait_for_url(re.compile(r"/mon-espace$"))
    row = pro.locator(f'[data-testid="proposal-row"][data-request-id="{request_id}"]')

    def proposal_shown():
        pro.reload()
        expect(pro.get_by_test_id("proposals-status")).not_to_contain_text("Chargement", timeout=15_000)
        expect(pro.get_by_test_id("proposals-status")).not_to_be_empty()
        return row.count() > 0
    eventually(proposal_shown, timeout=60, interval=1, message="the proposal in Mon espace")
    expect(row).to_have_attribute("data-status", "pending")
    proposal_id = row.get_attribute("data-proposal-id")
    shot(pro, "8-proposition-recue")
    row.get_by_test_id("proposal-accept").click()
    expect(row).to_have_attribute("data-status", "accepted")
    shot(pro, "9-proposition-acceptee")
    assert eventually(lambda: mongo.vitawin_matching.proposals.find_one(
        {"request_id": request_id, "status": "accepted"}), message="the acceptance in matching")

    # The referent's "Mon espace" lists the request, and the professional's answer to it.
    school.get_by_test_id("go-my-space").click()
    school.wait_for_url(re.compile(r"/mon-espace$"))
    expect(school.locator(f'[data-testid="request-row"][data-request-id="{request_id}"]')).to_be_visible()
    # (other professionals of the shared test stack may be proposed for the same request too)
    expect(school.locator(f'[data-testid="proposal-row"][data-proposal-id="{proposal_id}"]')).to_have_attribute(
        "data-status", "accepted")
    shot(school, "10-mon-espace-etablissement")
    pro.context.close()
    school.context.close()


# --- accessibility -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sessions(stack, mongo) -> dict:
    """A session for each signed-in form (tokens of the stack's key, as the accounts service would
    issue them): a professional of a registered organisation, a referent of a registered school."""
    actor_id = register_organisation(stack.gateway_url, "Ébénisterie de l'Axe", town=TOWN, location=SPOT)
    school = register_school(stack.gateway_url, mongo, town=TOWN, location=SPOT)

    def session(role: str, **claims) -> str:
        return json.dumps({"access_token": token(stack.env, role, **claims), "refresh_token": "unused-in-this-test",
                           "expires_at": 4102444800000, "role": role, "memberships": [],
                           "actor_id": claims.get("actor_id"), "school_uai": claims.get("school_uai")})
    return {"/engagement": session("professional", actor_id=actor_id),
            "/demande": session("school_referent", actor_id=school["actor_id"], school_uai=school["uai"])}


@pytest.mark.parametrize("path, first_choice, emptied", [
    ("/inscription", "Une organisation", ()),
    ("/engagement", "Témoignage métier", ("#eng-nom", "#eng-email")),  # filled from the organisation's record
    ("/demande", "Témoignage métier en classe", ("#dem-email",))])
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_no_serious_accessibility_violation_on_the_forms_and_their_errors(stack, browser, sessions, path,
                                                                         first_choice, emptied, viewport):
    # axe-core is injected as a script: the app's CSP would refuse it, so this context alone
    # bypasses it; the pages run under their real CSP in the journey above.
    context = session_context(browser, viewport, sessions.get(path), bypass_csp=True)
    page = context.new_page()
    page.goto(f"{stack.gateway_url}{path}")
    form = page.locator("form.form")
    expect(form).to_be_visible()
    page.wait_for_load_state("networkidle")
    page.get_by_label(first_choice).check()  # the fields of that choice appear
    as_shown = serious_violations(page)
    for selector in emptied:
        page.locator(selector).fill("")
    form.locator("button[type=submit]").click()  # required fields left empty: in error
    expect(page.get_by_test_id("error-summary")).to_be_focused()
    with_errors = serious_violations(page)
    name = path.strip("/")
    shot(page, f"axe-{name}-{viewport['width']}")
    context.close()
    assert (as_shown, with_errors) == ([], [])
