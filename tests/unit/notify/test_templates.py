from vitawin_notify import domain
from vitawin_notify.adapters import compose

SENDER = "Vitawin <ne-pas-repondre@vitawin.fr>"


def test_each_email_renders_as_text_with_an_html_alternative(event_factory, towns):
    for email in emails_for_proposal("e1", event_factory().data, towns):
        message = compose(email, SENDER)

        assert message.get_content_type() == "multipart/alternative"
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        for body in (text, html):
            assert "2,8 km" in body and "Vincennes" in body and "prop-3b1f0e6a9d2c4e55" in body
        assert html.lstrip().startswith("<!DOCTYPE html>") and 'lang="fr"' in html
        assert message["From"] == SENDER and message["To"] == email.to
        assert message["Message-ID"].endswith("@vitawin.fr>") and message["Date"]


def test_the_same_delivery_keeps_the_same_message_id(event_factory, towns):
    first = compose(emails_for_proposal("e1", event_factory().data, towns)[0], SENDER)
    again = compose(emails_for_proposal("e1", event_factory().data, towns)[0], SENDER)
    other = compose(emails_for_proposal("e2", event_factory().data, towns)[0], SENDER)
    assert first["Message-ID"] == again["Message-ID"] != other["Message-ID"]


def test_the_html_part_escapes_what_people_typed(event_factory, towns):
    data = event_factory(volunteer__organisation_name='<script>alert("x")</script> & Fils').data
    to_requester = compose(emails_for_proposal("e1", data, towns)[1], SENDER)

    html = to_requester.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp; Fils" in html


# --- every email of issue 6: accessible French HTML, footer, unsubscribe headers -------------------
import json  # noqa: E402
import re  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from email import message_from_bytes, policy  # noqa: E402
from html.parser import HTMLParser  # noqa: E402
from importlib import resources  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from vitawin_common import territory as reference  # noqa: E402

from vitawin_notify import messages  # noqa: E402
from vitawin_notify.domain import Email  # noqa: E402
from tests.unit.notify.conftest import emails_for_proposal

EXAMPLES = Path(__file__).resolve().parents[3] / "contracts" / "examples"
DEADLINE = datetime(2026, 12, 4, 9, 30, tzinfo=timezone.utc)
REFERENT = "referente.stages@college-jean-moulin.example.fr"
GUARDIAN = "responsable.legal@example.fr"
APP = "https://vitawin.example.fr"
EVIL = '<script>alert("x")</script> & Fils'


class Links:
    def __init__(self, base="https://vitawin.example.fr"):
        self.base = base

    def answer_url(self, proposal_id, side, answer, expires_at):
        return f"{self.base}/liens/{proposal_id}/{side}/{answer}?a=1&b={expires_at:%Y%m%d}"

    def unsubscribe_url(self, address, category):
        return f"{self.base}/desinscription/{category}?jeton={domain.recipient_hash(address)}"


def data_of(event_type, name="basic"):
    return json.loads((EXAMPLES / event_type / f"{name}.json").read_text(encoding="utf-8"))["data"]


def proposal_data(organisation_name="Boulangerie des Vignerons", pupil=False):
    data = data_of("fr.vitawin.proposal.created.v1")
    data["volunteer"]["organisation_name"] = organisation_name
    data["reasons"], data["score"] = ["à 2,8 km", "métier : Boulanger / Boulangère (D1102)"], 0.8
    if pupil:
        data["action_type"] = "internship"
        data["request"] = {"requester_kind": "pupil", "town": "94033", "school_uai": "0940585A",
                           "kind": "discovery_internship", "level": "3e", "period": ["2027-W05"]}
    return data


def every_email(organisation_name="Boulangerie des Vignerons", links=None) -> list[Email]:
    """At least one email of each template, `organisation_name` wherever a name is shown."""
    place, links = messages.Territory.from_reference(reference.load()), links or Links()
    school = messages.remember(proposal_data(organisation_name), deadline=DEADLINE)
    pupil = messages.remember(proposal_data(organisation_name, pupil=True), deadline=DEADLINE,
                              referent_email=REFERENT)
    pledge = dict(data_of("fr.vitawin.volunteer.registered.v1", "with-actions"), organisation_name=organisation_name)
    company = dict(data_of("fr.vitawin.contact.registered.v1"), display_name=organisation_name)
    items = [{"kind": "job_information", "town": "94080", "url": f"{APP}/demandes/1", "when": "2027-01-12"}]
    return [
        *messages.proposal_created("e1", proposal_data(organisation_name), place, links, deadline=DEADLINE),
        *messages.proposal_created("e2", proposal_data(organisation_name, pupil=True), place, links,
                                   deadline=DEADLINE, referent_email=REFERENT),
        *messages.reminder("r1", school, place, links),
        *messages.confirmation_request("c1", pupil, place, links, expires_at=DEADLINE),
        *messages.proposal_accepted("a1", school, place, links),
        *messages.proposal_accepted("a2", pupil, place, links),
        *messages.guardian_proposal("e2", pupil, GUARDIAN, place, links),
        *messages.guardian_accepted("a2", pupil, GUARDIAN, place, links),
        *messages.proposal_declined("d1", school, place, links, reason="declined_by_volunteer"),
        *messages.proposal_declined("d2", pupil, place, links, reason="declined_by_requester"),
        *messages.proposal_expired("x1", school, place, links),
        *messages.pupil_request("p1", data_of("fr.vitawin.request.created.v2", "pupil_discovery_internship"),
                                REFERENT, place, links, app_url=APP),
        *messages.digest("g1", REFERENT, items, place, links, role="referent", category="requests",
                         frequency="daily", subject_id="0940585A"),
        *messages.pledge_confirmation("v1", pledge, place, app_url=APP),
        *messages.welcome("w1", company, place, app_url=APP),
        *messages.welcome("w2", data_of("fr.vitawin.contact.registered.v1", "school"), place, app_url=APP),
        *messages.welcome("w3", data_of("fr.vitawin.contact.registered.v1", "territory_manager"), place, app_url=APP),
        *messages.welcome("w4", data_of("fr.vitawin.contact.registered.v1", "pupil_with_guardian"), place,
                          app_url=APP),
        *messages.erasure_confirmation("z1", data_of("fr.vitawin.actor.erased.v1"), "ancien@example.fr", place),
    ]


EMAILS = every_email()


class Page(HTMLParser):
    """What an accessibility check needs from an HTML part."""

    def __init__(self, html):
        super().__init__()
        self.lang, self.title, self.links, self.images, self.styles = None, "", [], [], []
        self._in_title, self._link = False, None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("style"):
            self.styles.append(attrs["style"])
        if tag == "html":
            self.lang = attrs.get("lang")
        elif tag == "title":
            self._in_title = True
        elif tag == "a":
            self._link = {"href": attrs.get("href"), "text": ""}
        elif tag == "img":
            self.images.append(attrs)

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        elif tag == "a" and self._link is not None:
            self.links.append(self._link)
            self._link = None

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        if self._link is not None:
            self._link["text"] += data


def parts(message):
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def luminance(colour):
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b):
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_every_template_has_a_text_and_an_html_version_and_every_one_is_used():
    files = {p.name for p in resources.files("vitawin_notify").joinpath("templates").iterdir()}
    for template in messages.TEMPLATES:
        assert {f"{template}.txt", f"{template}.html"} <= files, template
    assert {email.template for email in EMAILS} == set(messages.TEMPLATES)


@pytest.mark.parametrize("email", EMAILS, ids=lambda e: f"{e.template}-{e.role}")
def test_each_email_is_accessible_french_html_with_a_text_twin(email):
    message = compose(email, SENDER)
    text, html = parts(message)
    page = Page(html)

    assert html.lstrip().startswith("<!DOCTYPE html>") and page.lang == "fr"
    assert page.title.strip() == email.subject != ""
    for link in page.links:
        assert link["href"] and link["text"].strip(), link
        assert "cliquez ici" not in link["text"].lower() and link["text"].strip().lower() != "ici"
    assert all(image.get("alt") for image in page.images)
    assert "<" not in text.replace("<https", "") and text.startswith("Bonjour")
    for body in (text, html):
        assert "Paris Est Marne et Bois" in body.split("L'équipe Vitawin")[-1]  # the footer names the territory


@pytest.mark.parametrize("email", EMAILS, ids=lambda e: f"{e.template}-{e.role}")
def test_unsubscribe_footer_and_headers_except_for_account_emails(email):
    message = compose(email, SENDER)
    text, html = parts(message)
    if email.category == "account":
        assert email.unsubscribe_url is None
        assert message["List-Unsubscribe"] is None and message["List-Unsubscribe-Post"] is None
        assert "Ne plus recevoir" not in text and "Ne plus recevoir" not in html
    else:
        url = email.unsubscribe_url
        assert message["List-Unsubscribe"] == f"<{url}>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert f"Ne plus recevoir ces e-mails (« {CATEGORY[email.category]} ») : {url}" in text
        assert "Ne plus recevoir ces e-mails : <a href=" in html and url.replace("&", "&amp;") in html
        assert "résumé quotidien ou hebdomadaire" in text and "résumé quotidien ou hebdomadaire" in html


CATEGORY = {"proposals": "propositions de mise en relation", "requests": "demandes de votre établissement"}


def test_proposal_emails_greet_the_organisation_by_its_name():
    for email in EMAILS:
        if email.role == "volunteer":
            text, html = parts(compose(email, SENDER))
            assert text.startswith("Bonjour Boulangerie des Vignerons,")
            assert "<p>Bonjour Boulangerie des Vignerons,</p>" in html


def test_answer_links_are_buttons_with_explicit_text_and_enough_contrast():
    to_volunteer = next(e for e in EMAILS if e.template == "proposal_to_volunteer")
    page = Page(parts(compose(to_volunteer, SENDER))[1])
    texts = [link["text"].strip() for link in page.links]
    assert "Accepter la proposition" in texts and "Refuser la proposition" in texts
    checked = 0
    for email in EMAILS:
        for style in Page(parts(compose(email, SENDER))[1]).styles:
            colours = dict(re.findall(r"(?<![-\w])(color|background-color):\s*(#[0-9a-fA-F]{6})", style))
            if "color" in colours:
                background = colours.get("background-color", "#ffffff")
                assert contrast(colours["color"], background) >= 4.5, style  # WCAG AA, normal text
                checked += 1
    assert checked > 0


def test_what_people_typed_is_escaped_in_html_and_kept_as_is_in_text():
    named = set()
    for email in every_email(EVIL):
        text, html = parts(compose(email, SENDER))
        assert "<script>" not in html, email.template
        if EVIL in text:  # shown as typed in plain text, escaped in HTML
            assert "&lt;script&gt;" in html and "&amp; Fils" in html, email.template
            named.add(email.template)
    assert {"proposal_to_volunteer", "proposal_to_requester", "proposal_to_referent", "proposal_to_confirm",
            "proposal_accepted_requester", "pledge_confirmation", "welcome"} <= named


def test_a_name_with_line_breaks_cannot_add_a_header():
    name = "Boulangerie\r\nBcc: cible@example.fr\r\n\r\nFaux corps"
    accepted = [e for e in every_email(name) if e.template == "proposal_accepted_requester"][0]

    assert "\r" not in accepted.subject and "\n" not in accepted.subject
    raw = compose(accepted, SENDER).as_bytes()
    received = message_from_bytes(raw, policy=policy.default)
    assert received["Bcc"] is None and "cible@example.fr" in received["Subject"]
    assert received["Subject"] == "Vitawin : Boulangerie Bcc: cible@example.fr Faux corps a accepté votre " \
                                  "demande de témoignage métier"


def test_compose_refuses_a_subject_with_a_line_break_instead_of_sending_it():
    email = Email("e1", "welcome", "a@example.fr", "Bienvenue\r\nBcc: cible@example.fr",
                  {"audience": "organisation", "display_name": "X", "greeting_name": "X", "organisation_name": None,
                   "start_url": APP, "start_label": "Proposer un engagement", "territory_name": "T"},
                  "contact", "act-1", "account")
    with pytest.raises(ValueError):
        compose(email, SENDER)


def test_a_long_unsubscribe_link_stays_whole_on_one_header_line():
    url = "https://vitawin.example.fr/desinscription/" + "eyJhbGciOiJFZERTQSJ9." * 20
    email = Email("e1", "digest", REFERENT, "Vitawin : résumé", {"items": [], "frequency_label": "quotidien",
                  "greeting_name": None, "territory_name": "T"}, "referent", "0940585A", "requests", url)
    raw = compose(email, SENDER).as_string()
    assert f"List-Unsubscribe: <{url}>\n" in raw
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click\n" in raw


def test_an_http_link_of_a_local_stack_has_no_one_click_header_and_a_bad_link_is_refused():
    local = every_email(links=Links("http://127.0.0.1:8084"))
    [email] = [e for e in local if e.template == "proposal_expired_volunteer"]
    message = compose(email, SENDER)
    assert message["List-Unsubscribe"].startswith("<http://127.0.0.1:8084/")
    assert message["List-Unsubscribe-Post"] is None
    for bad in ("javascript:alert(1)", "https://x.fr/a b", "https://x.fr/>, <mailto:x@y.fr"):
        with pytest.raises(ValueError):
            compose(Email(**{**email.to_document(), "unsubscribe_url": bad}), SENDER)
