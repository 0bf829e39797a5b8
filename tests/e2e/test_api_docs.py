"""The API's interactive documentation (/api/v1/docs) in a real browser (the machine's Chromium,
driven by playwright) through the real stack's gateway: Swagger UI renders the operations of every
service from the merged document; "Authorize" with an access token, then "Try it out" on
GET /api/v1/auth/me, answers 200 through the gateway with that token; the page runs under the
gateway's strict Content-Security-Policy without a single violation; axe-core finds no serious
or critical accessibility violation, on a phone-sized and a desktop-sized screen, on the page, in
the authorisation dialog and after a call. The web app's session of the tab can be used instead
of pasting a token, and a document that misses services or cannot be loaded is told in French.
Screenshots go to var/test-artifacts/web/api-docs-*.png (kept after the run)."""
from __future__ import annotations

import json
import re
import time

import pytest
import requests
from playwright.sync_api import expect

from e2e.browser import AXE, DESKTOP, PHONE, serious_violations, shooter
from support import token
from vitawin_gateway.routing import resolve, routes_from_env

pytestmark = pytest.mark.integration

METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
# Each violation of the page's Content-Security-Policy, kept in the page (the listener is added
# by the browser before any script of the page runs: it is no inline script of the page).
RECORD_CSP = """window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(
  {directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber}));"""
shot = shooter("api-docs-")


@pytest.fixture(scope="module")
def document(stack) -> dict:
    doc = requests.get(f"{stack.gateway_url}/api/v1/openapi.json").json()
    assert doc["x-missing-services"] == []
    return doc


def operations(doc: dict) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in doc["paths"].items() for method in METHODS if method in item}


def open_docs(browser, viewport):
    """A page of /api/v1/docs (not yet loaded) that records CSP violations and console errors."""
    context = browser.new_context(viewport=viewport, locale="fr-FR")
    context.add_init_script(RECORD_CSP)
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    return context, page


def axe_serious(page) -> list:
    # Evaluated through the browser's debugging protocol, not added as a <script>: the page keeps
    # its real Content-Security-Policy while axe-core runs.
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    return serious_violations(page, node=lambda n: (n["target"], n["failureSummary"]))


def operation(page, method: str, path: str):
    return page.locator(f".opblock-{method.lower()}").filter(
        has=page.locator(f'.opblock-summary-path[data-path="{path}"]'))


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_swagger_ui_renders_every_service_and_try_it_out_calls_the_gateway_with_the_token(
        stack, browser, document, viewport):
    width = viewport["width"]
    context, page = open_docs(browser, viewport)
    page.goto(f"{stack.gateway_url}/api/v1/docs")
    expect(page.locator(".opblock").first).to_be_visible(timeout=20_000)
    expect(page).to_have_title("Documentation — API Vitawin")
    expect(page.locator("#doc-etat")).to_be_hidden()  # no service missing

    rendered = set()
    for block in page.locator(".opblock").all():
        method = block.locator(".opblock-summary-method").inner_text().strip()
        rendered.add((method, block.locator(".opblock-summary-path").get_attribute("data-path")))
    assert rendered == operations(document)
    routes = routes_from_env(stack.env)
    services = {resolve(routes, path).service for _, path in rendered}
    assert services == {route.service for route in routes}, "operations of every service"
    serious = {"page": axe_serious(page)}
    shot(page, f"1-page-{width}")

    # Authorize: the Bearer scheme of the merged document, with a token of the stack.
    access = token(stack.env, "school_referent", actor_id="act-api-docs", school_uai="0940001A")
    page.locator(".auth-wrapper .btn.authorize").click()
    dialog = page.locator(".dialog-ux")
    expect(dialog).to_contain_text("jeton")
    dialog.locator("input").first.fill(access)
    serious["dialog"] = axe_serious(page)
    shot(page, f"2-authorize-{width}")
    dialog.get_by_role("button", name="Authorize", exact=True).click()
    expect(dialog.get_by_role("button", name="Logout")).to_be_visible()
    dialog.get_by_role("button", name="Close", exact=True).click()
    expect(dialog).to_have_count(0)

    me = operation(page, "GET", "/api/v1/auth/me")
    me.locator(".opblock-summary-control").click()
    me.get_by_role("button", name="Try it out").click()
    with page.expect_response(lambda r: r.url == f"{stack.gateway_url}/api/v1/auth/me") as answer:
        me.get_by_role("button", name="Execute").click()
    assert answer.value.status == 200
    assert answer.value.request.headers["authorization"] == f"Bearer {access}"
    expect(me.locator(".live-responses-table tr.response .response-col_status").first).to_have_text("200")
    expect(me.locator(".live-responses-table")).to_contain_text("act-api-docs")
    serious["executed"] = axe_serious(page)
    shot(page, f"3-try-it-out-{width}")

    violations = page.evaluate("window.__csp")
    csp_logged = [text for text in page.console_errors if "Content Security Policy" in text]
    context.close()
    assert violations == [] and csp_logged == [], (violations, csp_logged)
    assert serious == {"page": [], "dialog": [], "executed": []}, serious


def test_the_session_of_the_tab_can_be_used_instead_of_a_pasted_token(stack, browser):
    context, page = open_docs(browser, DESKTOP)
    page.goto(f"{stack.gateway_url}/api/v1/docs")
    expect(page.locator("#doc-session")).to_be_hidden()  # no session in this tab yet
    access = token(stack.env, "professional", actor_id="act-api-docs-session")
    session = {"access_token": access, "refresh_token": "r", "expires_at": int(time.time() * 1000) + 600_000}
    page.evaluate("(value) => sessionStorage.setItem('vitawin.session', value)", json.dumps(session))
    page.reload()
    page.get_by_role("button", name="Utiliser ma session").click()
    expect(page.locator("#doc-session-etat")).to_contain_text("Jeton de votre session utilisé")
    me = operation(page, "GET", "/api/v1/auth/me")
    me.locator(".opblock-summary-control").click()
    me.get_by_role("button", name="Try it out").click()
    me.get_by_role("button", name="Execute").click()
    expect(me.locator(".live-responses-table tr.response .response-col_status").first).to_have_text("200")
    expect(me.locator(".live-responses-table")).to_contain_text("act-api-docs-session")
    assert page.evaluate("window.__csp") == []
    context.close()


def test_missing_services_and_a_document_that_cannot_be_loaded_are_told_in_french(stack, browser, document):
    context, page = open_docs(browser, DESKTOP)
    partial = dict(document, paths={path: item for path, item in document["paths"].items()
                                     if not path.startswith("/api/v1/notifications")},
                   **{"x-missing-services": ["notify"]})
    page.route(re.compile(r".*/api/v1/openapi\.json$"),
               lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps(partial)))
    page.goto(f"{stack.gateway_url}/api/v1/docs")
    status = page.locator("#doc-etat")
    expect(status).to_have_text("Services momentanément indisponibles, dont les opérations ne figurent pas "
                                "ci-dessous : notify.")
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator('.opblock-summary-path[data-path^="/api/v1/notifications"]').count() == 0
    shot(page, "4-service-manquant")

    page.unroute(re.compile(r".*/api/v1/openapi\.json$"))
    page.route(re.compile(r".*/api/v1/openapi\.json$"), lambda route: route.fulfill(status=503, body="{}"))
    page.reload()
    expect(status).to_contain_text("La description de l'API n'a pas pu être chargée")
    expect(page.get_by_role("link", name="liste des opérations (sans JavaScript)")).to_be_visible()
    context.close()


def test_the_plain_list_works_without_javascript(stack, browser, document):
    context = browser.new_context(viewport=PHONE, locale="fr-FR", java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{stack.gateway_url}/api/v1/docs")
    link = page.get_by_role("link", name="liste des opérations").first
    expect(link).to_be_visible()  # the <noscript> note
    link.click()
    page.wait_for_url(re.compile(r"/api/v1/docs/liste$"))
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(len(operations(document)))
    shot(page, "5-liste-sans-javascript")
    context.close()
