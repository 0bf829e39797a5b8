"""Helpers for the browser tests (playwright driving the machine's Chromium against the real stack):
screen sizes, screenshots to var/test-artifacts/web/ (kept after the run), the axe-core check, a
context holding the web app's session, and the sign-in through the emailed link. The `browser` and
`mongo` fixtures are in tests/e2e/conftest.py."""
from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.sync_api import expect

from support import eventually, mails_to

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "var" / "test-artifacts" / "web"
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
# As the machine's notes say: without the background-networking flags Chromium keeps trying to
# reach Google's hosts, which this closed network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 800}
LINK = re.compile(r"(http://\S+/connexion#jeton=[A-Za-z0-9_\-]+)")
SESSION_KEY = "vitawin.session"  # where the web app keeps the signed-in session (sessionStorage)


def shooter(prefix: str = ""):
    """shot(page, name): a full-page screenshot to var/test-artifacts/web/<prefix><name>.png."""
    def shot(page, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{prefix}{name}.png"), full_page=True)
    return shot


def session_context(browser, viewport: dict, session: str | None = None, **options):
    """A new context (French, `viewport`, playwright's `options`) whose tabs start with `session`
    (the JSON text the web app stores once signed in) in their sessionStorage, or with none."""
    context = browser.new_context(viewport=viewport, locale="fr-FR", **options)
    if session is not None:
        context.add_init_script(f"window.sessionStorage.setItem({json.dumps(SESSION_KEY)}, {json.dumps(session)});")
    return context


def serious_violations(page, node=lambda n: n["target"]) -> list:
    """axe-core's serious and critical violations on `page`: (rule, impact, `node` of its first five
    nodes). axe-core is added as a <script> when the page lacks it: the app's CSP (script-src 'self')
    would refuse it, so the page's context must bypass the CSP (the pages run under their real CSP in
    the other tests)."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [(v["id"], v["impact"], [node(n) for n in v["nodes"]][:5]) for v in result["violations"]
            if v["impact"] in ("serious", "critical")]


def sign_in_links(maildir, email: str) -> list[str]:
    """The sign-in links the accounts service emailed to `email`, oldest first."""
    links = []
    for message in mails_to(maildir, email):
        if "lien de connexion" in str(message["Subject"]):
            links.append(LINK.search(message.get_body(preferencelist=("plain",)).get_content()).group(1))
    return links


def ask_for_a_link(page, email: str) -> None:
    """On /connexion: ask for a sign-in link for `email`."""
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_test_id("sign-in-submit").click()
    expect(page.get_by_test_id("sign-in-status")).to_contain_text("lien de connexion")


def first_link(maildir, email: str) -> str:
    """The first sign-in link emailed to `email`, once it has come."""
    return eventually(lambda: (sign_in_links(maildir, email) or [None])[0], message="the sign-in email")


def open_link(page, url: str) -> None:
    """Open an emailed sign-in link and press "Me connecter" (opening it alone signs nobody in)."""
    page.goto(url)
    page.get_by_test_id("magic-link-submit").click()
    page.wait_for_url(re.compile(r"/mon-espace"))


def sign_in(stack, page, email: str) -> None:
    """The emailed-link sign-in of the web app, as a person does it."""
    page.goto(f"{stack.gateway_url}/connexion")
    ask_for_a_link(page, email)
    open_link(page, first_link(stack.maildir, email))
