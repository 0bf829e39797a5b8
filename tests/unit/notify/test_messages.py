"""The emails each event calls for (vitawin_notify.messages): recipients, roles, categories,
subjects, the French words and links of each, and what never appears in them (a pupil's data)."""
from __future__ import annotations

import copy
import html as html_module
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from vitawin_common import territory as reference

from vitawin_notify import domain, messages
from vitawin_notify.adapters import compose
from vitawin_notify.domain import Email, InvalidAddress
from vitawin_notify.messages import Territory

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "contracts" / "examples"
SENDER = "Vitawin <ne-pas-repondre@vitawin.fr>"
VOLUNTEER = "contact@boulangerie-vignerons.example.fr"
SCHOOL = "referent@college-saint-exupery.example.fr"
REFERENT = "referente.stages@college-jean-moulin.example.fr"
PUPIL = "eleve.mineur@famille.example.fr"
DEADLINE = datetime(2026, 12, 4, 9, 30, tzinfo=timezone.utc)  # 10 h 30 in Paris
APP = "https://vitawin.example.fr"


class FakeLinks:
    """Stands in for vitawin_notify.links: readable URLs, and a log of what was asked."""

    def __init__(self):
        self.answers: list[tuple[str, str, str, datetime]] = []
        self.unsubscribes: list[tuple[str, str]] = []

    def answer_url(self, proposal_id, side, answer, expires_at):
        self.answers.append((proposal_id, side, answer, expires_at))
        return f"https://vitawin.example.fr/liens/{proposal_id}/{side}/{answer}?jusqua={expires_at:%Y%m%d%H%M}"

    def unsubscribe_url(self, address, category):
        self.unsubscribes.append((address, category))
        return f"https://vitawin.example.fr/desinscription/{category}/{domain.recipient_hash(address)[:12]}"


def example(event_type: str, name: str = "basic") -> dict:
    return copy.deepcopy(json.loads((EXAMPLES / event_type / f"{name}.json").read_text(encoding="utf-8"))["data"])


def created(**request) -> dict:
    """The contract's proposal.created.v1 example, with reasons and a score, `request` merged in."""
    data = example("fr.vitawin.proposal.created.v1")
    data["reasons"] = ["à 2,8 km", "métier : Boulanger / Boulangère (D1102)"]
    data["score"] = 0.8712
    data["request"].update(request)
    return data


def pupil_created(**request) -> dict:
    data = created()
    data["action_type"] = "internship"
    data["request"] = {"requester_kind": "pupil", "town": "94033", "school_uai": "0940585A",
                       "kind": "discovery_internship", "level": "3e", "period": ["2027-W05"], **request}
    return data


def rendered(email: Email) -> tuple[str, str]:
    """The text part, and the HTML part with its entities read back (d&#39;un -> d'un)."""
    message = compose(email, SENDER)
    html = message.get_body(("html",)).get_content()
    return message.get_body(("plain",)).get_content(), html_module.unescape(html)


def everything(email: Email) -> str:
    return compose(email, SENDER).as_string() + "".join(rendered(email))


@pytest.fixture
def territory():
    return Territory.from_reference(reference.load())


@pytest.fixture
def links():
    return FakeLinks()


@pytest.fixture
def school_proposal():
    return messages.remember(created(), deadline=DEADLINE)


@pytest.fixture
def pupil_proposal():
    return messages.remember(pupil_created(), deadline=DEADLINE, referent_email=REFERENT)


# --- the territory and French words --------------------------------------------------------------
def test_the_territory_gives_its_display_name_and_town_names(territory):
    assert territory.name == "Paris Est Marne et Bois"
    assert territory.town("94080") == "Vincennes" and territory.town("75056") == "75056"


@pytest.mark.parametrize("day, text", [(date(2027, 2, 1), "lundi 1er février 2027"),
                                       (date(2027, 1, 12), "mardi 12 janvier 2027"),
                                       (date(2026, 8, 15), "samedi 15 août 2026")])
def test_dates_are_written_in_french(day, text):
    assert messages.french_date(day) == text


def test_moments_are_read_in_paris_time_winter_and_summer():
    assert messages.french_datetime(DEADLINE) == "vendredi 4 décembre 2026 à 10 h 30"
    assert messages.french_datetime(datetime(2027, 6, 1, 7, 0, tzinfo=timezone.utc)) == "mardi 1er juin 2027 à 9 h"


def test_weeks_and_months_are_written_in_french():
    assert messages.french_week("2027-W05") == "semaine du lundi 1er février 2027"
    assert messages.french_month("2027-09") == "septembre 2027"
    assert messages.french_when("2027-01-12") == "mardi 12 janvier 2027"
    assert messages.french_week("2027-W99") == "2027-W99"  # not a week: shown as is


def test_one_line_removes_every_line_break_and_control_character():
    assert messages.one_line("Boulangerie\r\nBcc: cible@example.fr\u2028\x00 & Fils") == \
        "Boulangerie Bcc: cible@example.fr & Fils"


# --- the email model -----------------------------------------------------------------------------
def test_an_email_has_a_role_a_subject_id_and_a_category_and_keeps_its_delivery_key():
    email = Email("e1", "welcome", "a@example.fr", "Bienvenue", {}, "contact", "act-1", "account")
    assert email.key == domain.delivery_key("e1", "a@example.fr", "welcome")
    assert email.unsubscribe_url is None


@pytest.mark.parametrize("changes", [{"role": "pupil"}, {"category": "news"},
                                     {"category": "account", "unsubscribe_url": "https://x.fr/u"}])
def test_an_email_refuses_an_unknown_role_or_category_and_an_unsubscribe_link_on_account_emails(changes):
    values = dict(event_id="e1", template="welcome", to="a@example.fr", subject="s", context={}, role="contact",
                  subject_id="act-1", category="account")
    with pytest.raises(ValueError):
        Email(**{**values, **changes})


def test_an_email_goes_through_json_and_back_unchanged(territory, links):
    for email in messages.proposal_created("e1", created(), territory, links, deadline=DEADLINE):
        again = Email.from_document(json.loads(json.dumps(email.to_document())))
        assert again == email and again.key == email.key


# --- proposal created ----------------------------------------------------------------------------
def test_a_schools_proposal_goes_to_the_professional_and_to_the_school(territory, links):
    to_volunteer, to_school = messages.proposal_created("e1", created(), territory, links, deadline=DEADLINE)

    assert (to_volunteer.to, to_volunteer.role, to_volunteer.category) == (VOLUNTEER, "volunteer", "proposals")
    assert (to_school.to, to_school.role, to_school.category) == (SCHOOL, "requester", "proposals")
    assert to_volunteer.subject == "Vitawin : une demande de témoignage métier près de chez vous"
    assert to_school.subject == "Vitawin : un professionnel peut répondre à votre demande"
    assert {e.subject_id for e in (to_volunteer, to_school)} == {"prop-3b1f0e6a9d2c4e55"}
    assert to_volunteer.key == domain.delivery_key("e1", VOLUNTEER, "proposal_to_volunteer")


def test_the_professional_gets_the_request_the_reasons_the_deadline_and_two_answer_links(territory, links):
    data = created(kind="class_testimony", level="3e", date="2027-01-12", start_time="09:00", end_time="11:30")
    to_volunteer = messages.proposal_created("e1", data, territory, links, deadline=DEADLINE)[0]

    assert links.answers == [("prop-3b1f0e6a9d2c4e55", "volunteer", "accept", DEADLINE),
                             ("prop-3b1f0e6a9d2c4e55", "volunteer", "decline", DEADLINE)]
    text, html = rendered(to_volunteer)
    for body in (text, html):
        for expected in ("Témoignage métier en classe", "3e", "Fontenay-sous-Bois",
                         "mardi 12 janvier 2027, de 9 h à 11 h 30", "à 2,8 km",
                         "métier : Boulanger / Boulangère (D1102)", "Adéquation estimée : 87 %",
                         "avant le vendredi 4 décembre 2026 à 10 h 30", "Accepter la proposition",
                         "Refuser la proposition", "prop-3b1f0e6a9d2c4e55", "Bonjour Boulangerie des Vignerons,"):
            assert expected in body, expected
    assert "/liens/prop-3b1f0e6a9d2c4e55/volunteer/accept?jusqua=202612040930" in text
    assert 'href="https://vitawin.example.fr/liens/prop-3b1f0e6a9d2c4e55/volunteer/decline?jusqua=202612040930"' in html
    assert SCHOOL in text  # a school's contact may be given to the professional


def test_the_school_is_told_who_was_proposed_without_the_professionals_address_or_links(territory, links):
    to_school = messages.proposal_created("e1", created(), territory, links, deadline=DEADLINE)[1]
    text, html = rendered(to_school)
    for body in (text, html):
        assert "Boulangerie des Vignerons" in body and "2,8 km" in body and "Vincennes" in body
        assert "jusqu'au vendredi 4 décembre 2026 à 10 h 30" in body
        assert VOLUNTEER not in body and "/liens/" not in body


def test_a_pupils_proposal_informs_the_referent_without_answer_links(territory, links):
    data = pupil_created()
    to_volunteer, to_referent = messages.proposal_created("e1", data, territory, links, deadline=DEADLINE,
                                                          referent_email=REFERENT)

    assert (to_referent.to, to_referent.role, to_referent.category) == (REFERENT, "referent", "proposals")
    assert to_referent.template == "proposal_to_referent"
    assert [side for _, side, _, _ in links.answers] == ["volunteer", "volunteer"]  # none for the school yet
    text, html = rendered(to_referent)
    for body in (text, html):
        assert "élève de votre établissement" in body and "Boulangerie des Vignerons" in body
        assert "Stage de découverte ou d'observation" in body and "semaine du lundi 1er février 2027" in body
        assert "/liens/" not in body and "Confirmer" not in body and "Accepter" not in body
        assert VOLUNTEER not in body


def test_the_professional_never_gets_a_pupils_or_the_referents_address_at_creation(territory, links):
    data = pupil_created(contact_email=PUPIL)  # a v1-era pupil's request still carries one
    emails = messages.proposal_created("e1", data, territory, links, deadline=DEADLINE, referent_email=REFERENT)

    assert [(e.template, e.to) for e in emails] == [("proposal_to_volunteer", VOLUNTEER),
                                                    ("proposal_to_requester", PUPIL),
                                                    ("proposal_to_referent", REFERENT)]
    to_volunteer = everything(emails[0])
    assert PUPIL not in to_volunteer and REFERENT not in to_volunteer and "0940585A" not in to_volunteer
    assert "après votre acceptation" in rendered(emails[0])[0]


def test_a_pupils_proposal_without_a_known_referent_goes_to_the_professional_only(territory, links):
    emails = messages.proposal_created("e1", pupil_created(), territory, links, deadline=DEADLINE)
    assert [e.to for e in emails] == [VOLUNTEER]


@pytest.mark.parametrize("where, kwargs", [
    ("volunteer", {}), ("request", {}), ("referent", {"referent_email": "x@vitawin.fr\r\nBcc: cible@example.fr"})])
def test_a_bad_address_raises_invalid_address(where, kwargs, territory, links):
    data = pupil_created() if where == "referent" else created()
    if where == "volunteer":
        data["volunteer"]["contact_email"] = "Nom <nom@example.fr>"
    elif where == "request":
        data["request"]["contact_email"] = "deux@@example.fr"
    with pytest.raises(InvalidAddress) as raised:
        messages.proposal_created("e1", data, territory, links, deadline=DEADLINE, **kwargs)
    assert "@" not in str(raised.value)


def test_the_school_of_a_proposal_or_a_request_is_read_when_sent():
    assert messages.school_of(pupil_created()) == "0940585A"
    assert messages.school_of(created()) is None  # proposal.created.v1 does not carry it yet
    assert messages.school_of(example("fr.vitawin.request.created.v2", "pupil_discovery_internship")) == "0940585A"


def test_the_answer_deadline_is_the_events_when_sent_else_the_answer_delay_after_the_event():
    made = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)
    assert messages.answer_deadline(created(), made) == made + timedelta(days=7)
    assert messages.answer_deadline(created(), made, answer_days=3) == made + timedelta(days=3)
    assert messages.answer_deadline(dict(created(), deadline="2026-12-01T08:00:00Z"), made) == \
        datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)


def test_the_remembered_proposal_is_plain_json_with_what_the_next_emails_need(pupil_proposal):
    assert json.loads(json.dumps(pupil_proposal)) == pupil_proposal
    assert pupil_proposal == {
        "proposal_id": "prop-3b1f0e6a9d2c4e55", "request_id": "req-5f3a9c10", "volunteer_id": "vol-0b7c1d2e",
        "action_type": "internship", "organisation_name": "Boulangerie des Vignerons",
        "volunteer_email": VOLUNTEER, "volunteer_town": "94080", "requester_kind": "pupil",
        "requester_email": REFERENT, "school_uai": "0940585A", "request_town": "94033",
        "request": {"kind": "discovery_internship", "level": "3e", "period": ["2027-W05"]},
        "distance_km": 2.8, "reasons": ["à 2,8 km", "métier : Boulanger / Boulangère (D1102)"],
        "score": 0.8712, "deadline": "2026-12-04T09:30:00Z"}


# --- reminder and the school's confirmation ------------------------------------------------------
def test_a_reminder_repeats_the_request_and_the_links_to_the_professional(school_proposal, territory, links):
    [email] = messages.reminder("reminder:prop-3b1f0e6a9d2c4e55", school_proposal, territory, links)

    assert (email.to, email.role, email.category, email.template) == (VOLUNTEER, "volunteer", "proposals",
                                                                      "proposal_reminder")
    assert email.subject == "Rappel : une demande de témoignage métier attend votre réponse"
    text, html = rendered(email)
    for body in (text, html):
        assert "Rappel : une demande de témoignage métier à Fontenay-sous-Bois attend toujours" in body
        assert "Accepter la proposition" in body and "à 2,8 km" in body
    assert [(side, answer, at) for _, side, answer, at in links.answers] == [("volunteer", "accept", DEADLINE),
                                                                             ("volunteer", "decline", DEADLINE)]


def test_the_referent_confirms_a_pupils_placement_with_links_of_the_requester_side(pupil_proposal, territory,
                                                                                   links):
    until = DEADLINE + timedelta(days=7)
    [email] = messages.confirmation_request("confirm:p1", pupil_proposal, territory, links, expires_at=until)

    assert (email.to, email.role, email.category) == (REFERENT, "referent", "proposals")
    assert email.subject == "Vitawin : confirmez la mise en relation d'un élève de votre établissement"
    assert links.answers == [("prop-3b1f0e6a9d2c4e55", "requester", "accept", until),
                             ("prop-3b1f0e6a9d2c4e55", "requester", "decline", until)]
    text, html = rendered(email)
    for body in (text, html):
        assert "Confirmer la mise en relation" in body and "Refuser la mise en relation" in body
        assert "Boulangerie des Vignerons a accepté" in body and "vendredi 11 décembre 2026 à 10 h 30" in body
        assert VOLUNTEER not in body
    [again] = messages.confirmation_request("confirm:p1:rappel", pupil_proposal, territory, links, expires_at=until,
                                            is_reminder=True)
    assert again.subject.startswith("Rappel : ") and again.key != email.key


def test_a_schools_request_needs_no_confirmation(school_proposal, territory, links):
    assert messages.confirmation_request("c", school_proposal, territory, links, expires_at=DEADLINE) == []


# --- outcomes -------------------------------------------------------------------------------------
def test_an_accepted_proposal_gives_each_party_the_others_contact(school_proposal, territory, links):
    to_volunteer, to_school = messages.proposal_accepted("a1", school_proposal, territory, links)

    assert [(e.to, e.role, e.category) for e in (to_volunteer, to_school)] == [
        (VOLUNTEER, "volunteer", "proposals"), (SCHOOL, "requester", "proposals")]
    assert to_school.subject == "Vitawin : Boulangerie des Vignerons a accepté votre demande de témoignage métier"
    for body in rendered(to_volunteer):
        assert SCHOOL in body and "est confirmée" in body
    for body in rendered(to_school):
        assert VOLUNTEER in body and "Boulangerie des Vignerons" in body
    assert links.answers == []


def test_a_confirmed_pupils_placement_gives_the_referents_address_never_a_pupils(pupil_proposal, territory,
                                                                                 links):
    to_volunteer, to_referent = messages.proposal_accepted("a1", pupil_proposal, territory, links)

    assert to_referent.role == "referent" and to_referent.to == REFERENT
    volunteer_text, _ = rendered(to_volunteer)
    assert REFERENT in volunteer_text and "professeur référent de l'élève" in volunteer_text
    assert VOLUNTEER in rendered(to_referent)[0]


@pytest.mark.parametrize("reason, volunteer_words, requester_words", [
    ("declined_by_volunteer", "Votre refus de la proposition", "n'est pas disponible cette fois"),
    ("declined_by_requester", "L'établissement ne donne pas suite", "Votre refus de la proposition"),
])
def test_a_declined_proposal_is_told_neutrally_and_another_professional_is_announced(
        reason, volunteer_words, requester_words, school_proposal, territory, links):
    to_volunteer, to_school = messages.proposal_declined("d1", school_proposal, territory, links, reason=reason)

    assert to_school.subject == "Vitawin : un autre professionnel va être proposé"
    for body in rendered(to_volunteer):
        assert volunteer_words in body and SCHOOL not in body
    for body in rendered(to_school):
        assert requester_words in body and "Un autre professionnel va être proposé" in body
        assert VOLUNTEER not in body


def test_a_decline_with_an_unknown_reason_is_refused(school_proposal, territory, links):
    with pytest.raises(ValueError):
        messages.proposal_declined("d1", school_proposal, territory, links, reason="no")


def test_an_expired_proposal_tells_the_professional_and_announces_another_to_the_requester(
        pupil_proposal, territory, links):
    to_volunteer, to_referent = messages.proposal_expired("x1", pupil_proposal, territory, links)

    assert to_volunteer.subject == "Vitawin : la proposition a expiré"
    for body in rendered(to_volunteer):
        assert "La proposition de stage à Fontenay-sous-Bois a expiré" in body and REFERENT not in body
    for body in rendered(to_referent):
        assert "Un autre professionnel va être proposé" in body and "d'un ou d'une élève" in body


def test_an_outcome_without_a_requester_address_goes_to_the_professional_only(territory, links):
    proposal = messages.remember(pupil_created(), deadline=DEADLINE)  # no referent known
    for emails in (messages.proposal_accepted("a", proposal, territory, links),
                   messages.proposal_declined("d", proposal, territory, links, reason="declined_by_volunteer"),
                   messages.proposal_expired("x", proposal, territory, links)):
        assert [e.to for e in emails] == [VOLUNTEER]


def test_every_proposal_email_can_be_unsubscribed_from_in_its_category(school_proposal, territory, links):
    emails = (messages.proposal_created("e1", created(), territory, links, deadline=DEADLINE)
              + messages.proposal_accepted("a", school_proposal, territory, links))
    assert all(e.unsubscribe_url == links.unsubscribe_url(e.to, "proposals") for e in emails)


# --- requests, digests ----------------------------------------------------------------------------
def test_a_pupils_new_request_tells_the_referent_what_not_who(territory, links, contracts):
    data = example("fr.vitawin.request.created.v2", "pupil_discovery_internship")
    contracts.validate("fr.vitawin.request.created.v2", data)

    [email] = messages.pupil_request("e9", data, REFERENT, territory, links, app_url=APP + "/")

    assert (email.to, email.role, email.category, email.subject_id) == (REFERENT, "referent", "requests",
                                                                        data["request_id"])
    assert email.subject == "Vitawin : nouvelle demande d'un élève de votre établissement"
    assert email.unsubscribe_url == links.unsubscribe_url(REFERENT, "requests")
    text, html = rendered(email)
    for body in (text, html):
        for expected in ("Stage de découverte ou d'observation", "3e", "Fontenay-sous-Bois",
                         "semaine du lundi 1er février 2027", "Boulanger / Boulangère (D1102)",
                         f"{APP}/demandes/{data['request_id']}"):
            assert expected in body, expected
    assert ">Voir la demande sur Vitawin</a>" in html


def test_a_schools_own_request_is_not_announced_to_the_referent(territory, links):
    data = example("fr.vitawin.request.created.v2", "class_testimony")
    assert messages.pupil_request("e9", data, REFERENT, territory, links, app_url=APP) == []


def test_a_digest_lists_its_items_in_one_email_of_their_category(territory, links):
    items = [{"kind": "discovery_internship", "town": "94033", "url": f"{APP}/demandes/1", "when": "2027-W05",
              "level": "3e", "status": "proposition en attente de réponse"},
             {"kind": "testimony", "town": "94080", "url": f"{APP}/demandes/2", "when": "2027-01-12"}]
    [email] = messages.digest("digest:abc:2027-01-11", REFERENT, items, territory, links, role="referent",
                              category="requests", frequency="weekly", subject_id="0940585A")

    assert email.subject == "Vitawin : votre résumé hebdomadaire (2 éléments)"
    assert (email.category, email.role, email.unsubscribe_url) == (
        "requests", "referent", links.unsubscribe_url(REFERENT, "requests"))
    text, html = rendered(email)
    for body in (text, html):
        assert "Stage de découverte ou d'observation : Fontenay-sous-Bois, 3e, semaine du lundi 1er février 2027, " \
               "proposition en attente de réponse" in body
        assert "Témoignage métier : Vincennes, mardi 12 janvier 2027" in body
        assert f"{APP}/demandes/2" in body


def test_an_empty_digest_sends_nothing_and_a_bad_frequency_is_refused(territory, links):
    kwargs = dict(role="referent", category="requests", subject_id="0940585A")
    assert messages.digest("d", REFERENT, [], territory, links, frequency="daily", **kwargs) == []
    with pytest.raises(ValueError):
        messages.digest("d", REFERENT, [{"kind": "testimony", "town": "94080", "url": APP}], territory, links,
                        frequency="monthly", **kwargs)


# --- account emails -------------------------------------------------------------------------------
def test_a_pledge_is_confirmed_with_its_actions_distance_and_how_to_pause_or_withdraw(territory, contracts):
    data = example("fr.vitawin.volunteer.registered.v1", "with-actions")
    contracts.validate("fr.vitawin.volunteer.registered.v1", data)

    [email] = messages.pledge_confirmation("e5", data, territory, app_url=APP)

    assert (email.to, email.role, email.category, email.unsubscribe_url) == (
        data["contact_email"], "volunteer", "account", None)
    assert email.subject == "Vitawin : votre engagement est enregistré"
    text, html = rendered(email)
    for body in (text, html):
        for expected in ("Témoignage métier", "Accueil de stagiaires", "dans vos locaux",
                         "Distance maximale : 10 km autour de Vincennes", "en pause", "retirer",
                         f"{APP}/engagements/{data['volunteer_id']}"):
            assert expected in body, expected


@pytest.mark.parametrize("name, words, link", [
    ("basic", "fait désormais partie de l'annuaire", "Proposer un engagement"),
    ("school", "vous en êtes le professeur référent", "Publier une demande pour vos classes"),
    ("territory_manager", "Votre compte de gestion du territoire", "Ouvrir l'espace du territoire"),
])
def test_a_new_contact_is_welcomed_by_kind(name, words, link, territory, contracts):
    data = example("fr.vitawin.contact.registered.v1", name)
    contracts.validate("fr.vitawin.contact.registered.v1", data)

    [email] = messages.welcome("e6", data, territory, app_url=APP)

    assert (email.to, email.role, email.category, email.subject_id, email.unsubscribe_url) == (
        data["email"], "contact", "account", data["actor_id"], None)
    assert email.subject == "Bienvenue sur Vitawin"
    text, html = rendered(email)
    assert words in text and words in html and f">{link}</a>" in html and "Paris Est Marne et Bois" in text


def test_a_pupils_guardian_is_told_that_their_child_registered(territory, contracts):
    data = example("fr.vitawin.contact.registered.v1", "pupil_with_guardian")
    contracts.validate("fr.vitawin.contact.registered.v1", data)

    [email] = messages.welcome("e7", data, territory, app_url=APP)

    assert (email.to, email.template, email.category) == (data["guardian_email"], "guardian_notice", "account")
    for body in rendered(email):
        assert "Votre enfant vient de s'inscrire" in body and data["school_uai"] not in body


def test_a_pupil_without_a_guardians_address_gets_nothing(territory):
    data = {"actor_id": "act-" + "1" * 32, "kind": "pupil", "school_uai": "0940585A",
            "registered_at": "2026-11-27T09:30:00.000Z"}
    assert messages.welcome("e7", data, territory, app_url=APP) == []


@pytest.mark.parametrize("kind, words", [("company", "votre compte Vitawin a été effacé le"),
                                         ("pupil", "Le compte Vitawin de votre enfant a été effacé le")])
def test_an_erasure_is_confirmed_to_the_address_notify_still_held(kind, words, territory):
    data = dict(example("fr.vitawin.actor.erased.v1"), kind=kind)

    [email] = messages.erasure_confirmation("e8", data, "ancien@example.fr", territory)

    assert (email.to, email.role, email.category, email.subject_id) == (
        "ancien@example.fr", "guardian" if kind == "pupil" else "contact", "account", data["actor_id"])
    for body in rendered(email):
        assert words in body and "le dernier que vous recevez" in body


def test_account_emails_check_their_address(territory):
    with pytest.raises(InvalidAddress):
        messages.erasure_confirmation("e8", example("fr.vitawin.actor.erased.v1"), "pas-une-adresse", territory)
    data = dict(example("fr.vitawin.contact.registered.v1", "school"), email="a@b")
    with pytest.raises(InvalidAddress):
        messages.welcome("e6", data, territory, app_url=APP)
