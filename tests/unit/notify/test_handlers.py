"""Notify's service layer (handlers.Notify) with the real Deliverer, over in-memory repositories
with store.py's semantics, a mailer that renders the real templates, fake links and a clock
(conftest.NotifyHarness). Events come from contracts/examples and are checked against their
contract first, as the consumer loop does."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage

import pytest

from vitawin_common.consumer import PoisonEvent

from vitawin_notify import delivery
from vitawin_notify.adapters import TransientMailError
from vitawin_notify.domain import RecipientRejected, delivery_key, recipient_hash

VOLUNTEER = "contact@boulangerie-vignerons.example.fr"  # the pledge's contact; also the company's
SCHOOL = "referent@college-saint-exupery.example.fr"  # the school's request's contact
REFERENT = "referente.stages@lycee-berlioz.example.fr"  # contact.registered school.json
GUARDIAN = "responsable.legal@example.fr"
PUPIL = "eleve.mineure@famille.example.fr"
PUPIL_UAI = "0940120V"  # the school of school.json
PID = "prop-3b1f0e6a9d2c4e55"  # proposal.created basic.json
PUPIL_PID = "prop-1794725dc0ee84c2d4b0"  # proposal.created pupil_without_email.json
COMPANY_ID = "act-0b7c1d2e3f40516273849a0b1c2d3e4f"
SCHOOL_ID = "act-2b3c4d5e6f708192a3b4c5d6e7f8091a"
PUPIL_ID = "act-1a2b3c4d5e6f708192a3b4c5d6e7f809"
SENDER_ADDRESS = "ne-pas-repondre@vitawin.fr"
ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()


def addresses_in(message: EmailMessage) -> set[str]:
    """Every address a reader could see: headers (the Message-ID is no address), text and HTML
    bodies (decoded)."""
    headers = " ".join(str(value) for name, value in message.items() if name != "Message-ID")
    seen = " ".join((headers, text_of(message), html_of(message)))
    return set(ADDRESS.findall(seen))


def pupil_proposal(h, **changes):
    """The pupil example of proposal.created, with the pupil's school (request.school_uai)."""
    return h.example("proposal.created.v1", "pupil_without_email", request__school_uai=PUPIL_UAI, **changes)


def register_referent(h, **changes):
    h.handle(h.example("contact.registered.v1", "school", **changes))


def only(mailer, template):
    found = [pair for pair in mailer.outbox if pair[0].template == template]
    assert len(found) == 1, mailer.sent()
    return found[0]


# --- the examples --------------------------------------------------------------------------------
EXAMPLES = [("proposal.created.v1", "basic"), ("proposal.created.v1", "pupil_without_email"),
            ("proposal.confirmation_requested.v1", "basic"), ("proposal.accepted.v1", "basic"),
            ("proposal.declined.v1", "basic"), ("proposal.expired.v1", "basic"),
            ("request.created.v2", "class_testimony"), ("request.created.v2", "pupil_discovery_internship"),
            ("request.created.v2", "pupil_job_information"), ("volunteer.registered.v1", "basic"),
            ("volunteer.registered.v1", "with-actions"), ("contact.registered.v1", "basic"),
            ("contact.registered.v1", "school"), ("contact.registered.v1", "territory_manager"),
            ("contact.registered.v1", "pupil_with_guardian"), ("actor.erased.v1", "basic")]


@pytest.mark.parametrize("name, example", EXAMPLES)
def test_every_example_notify_reads_satisfies_its_contract_and_is_handled(name, example, harness, contracts):
    event = harness.example(name, example)
    contracts.validate(event.type, event.data)
    assert event.type in harness.notify.handlers()
    harness.handle(event)  # does not fail, even with nothing remembered


# --- proposal.created ------------------------------------------------------------------------------
def test_a_schools_proposal_gives_the_professional_answer_links_and_tells_the_school(harness):
    h = harness
    event = h.example("proposal.created.v1", deadline="2026-12-03T22:59:00Z")
    h.handle(event)

    assert h.mailer.sent() == [("proposal_to_volunteer", VOLUNTEER), ("proposal_to_requester", SCHOOL)]
    deadline = datetime(2026, 12, 3, 22, 59, tzinfo=timezone.utc)
    assert h.links.answers == [(PID, "volunteer", "accept", deadline), (PID, "volunteer", "decline", deadline)]
    (to_volunteer, volunteer_message), (to_school, school_message) = h.mailer.outbox
    assert (to_volunteer.role, to_volunteer.category, to_volunteer.subject_id) == ("volunteer", "proposals", PID)
    assert volunteer_message["Subject"] == "Vitawin : une demande de témoignage métier près de chez vous"
    text, html = text_of(volunteer_message), html_of(volunteer_message)
    for url in (to_volunteer.context["accept_url"], to_volunteer.context["decline_url"]):
        assert url.startswith("https://vitawin.example.fr/liens/" + PID + "/volunteer/")
        assert url in text and url in html
    assert "Accepter la proposition" in text and "Refuser la proposition" in text
    for words in ("Fontenay-sous-Bois", "Vincennes", "2,8 km", PID, "Paris Est Marne et Bois"):
        assert words in text
    assert "jeudi 3 décembre 2026 à 23 h 59" in text  # the deadline, read in Paris
    assert SCHOOL in text  # a school's contact may be given to the professional
    assert volunteer_message["List-Unsubscribe"] == f"<{to_volunteer.unsubscribe_url}>"
    assert volunteer_message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    assert (to_school.role, to_school.category) == ("requester", "proposals")
    assert school_message["Subject"] == "Vitawin : un professionnel peut répondre à votre demande"
    school_text = text_of(school_message)
    assert "Boulangerie des Vignerons" in school_text and "/liens/" not in school_text
    assert VOLUNTEER not in school_text + html_of(school_message)  # not before the professional accepts

    assert h.published_types() == [(delivery.NOTIFICATION_SENT, "notifications")] * 2
    assert "@" not in repr([event.data for event, _ in h.published])
    docs = list(h.deliveries.docs.values())
    assert sorted((d["template"], d["status"], d["subject_id"]) for d in docs) == [
        ("proposal_to_requester", "sent", PID), ("proposal_to_volunteer", "sent", PID)]
    assert "@" not in repr(docs)


def test_the_proposal_is_remembered_pending_until_the_events_deadline(harness):
    h = harness
    h.handle(h.example("proposal.created.v1", deadline="2026-12-03T22:59:00Z"))

    remembered = h.proposals.get(PID)
    assert remembered["status"] == "pending" and remembered["reminded_at"] is None
    assert remembered["deadline_at"] == datetime(2026, 12, 3, 22, 59, tzinfo=timezone.utc)
    assert remembered["created_at"] == h.clock()
    assert (remembered["volunteer_email"], remembered["requester_email"]) == (VOLUNTEER, SCHOOL)
    assert remembered["volunteer_email_sha256"] == recipient_hash(VOLUNTEER)
    assert remembered["requester_email_sha256"] == recipient_hash(SCHOOL)


def test_without_a_deadline_in_the_event_the_proposal_runs_for_matchings_answer_delay(harness):
    h = harness
    event = h.example("proposal.created.v1")
    assert "deadline" not in event.data
    h.handle(event)
    assert h.proposals.get(PID)["deadline_at"] == event.time + timedelta(days=7)
    assert {answer[3] for answer in h.links.answers} == {event.time + timedelta(days=7)}


def test_a_pupils_proposal_tells_the_schools_referent_and_the_professional_sees_no_other_address(harness):
    h = harness
    register_referent(h)
    h.mailer.outbox.clear()
    h.handle(pupil_proposal(h))

    assert h.mailer.sent() == [("proposal_to_volunteer", VOLUNTEER), ("proposal_to_referent", REFERENT)]
    to_volunteer, volunteer_message = only(h.mailer, "proposal_to_volunteer")
    assert addresses_in(volunteer_message) == {VOLUNTEER, SENDER_ADDRESS}
    assert "ses coordonnées ne vous sont pas communiquées" in text_of(volunteer_message)
    assert to_volunteer.context["accept_url"] in text_of(volunteer_message)
    to_referent, referent_message = only(h.mailer, "proposal_to_referent")
    assert (to_referent.role, to_referent.category, to_referent.subject_id) == ("referent", "proposals", PUPIL_PID)
    assert "Il ne reçoit ni le nom ni les coordonnées de l'élève" in text_of(referent_message)
    assert "/liens/" not in text_of(referent_message)  # the school confirms after the professional accepts
    assert VOLUNTEER not in text_of(referent_message)
    remembered = h.proposals.get(PUPIL_PID)
    assert (remembered["requester_kind"], remembered["requester_email"]) == ("pupil", REFERENT)
    assert remembered["school_uai"] == PUPIL_UAI


def test_a_v1_pupils_own_address_never_reaches_the_professional(harness):
    h = harness
    register_referent(h)
    h.mailer.outbox.clear()
    h.handle(pupil_proposal(h, request__contact_email=PUPIL))

    assert sorted(h.mailer.sent()) == sorted([("proposal_to_volunteer", VOLUNTEER),
                                              ("proposal_to_requester", PUPIL), ("proposal_to_referent", REFERENT)])
    _, volunteer_message = only(h.mailer, "proposal_to_volunteer")
    assert addresses_in(volunteer_message) == {VOLUNTEER, SENDER_ADDRESS}


def test_the_latest_referent_registered_for_the_school_is_told(harness):
    h = harness
    register_referent(h, registered_at="2026-11-27T09:35:00.000Z")
    newer = "nouveau.referent@lycee-berlioz.example.fr"
    h.handle(h.example("contact.registered.v1", "school", event_id="evt-new-referent",
                       actor_id="act-3c4d5e6f708192a3b4c5d6e7f8091a2b", email=newer,
                       registered_at="2026-11-28T10:00:00.000Z"))
    h.mailer.outbox.clear()
    h.handle(pupil_proposal(h))
    assert ("proposal_to_referent", newer) in h.mailer.sent()
    assert ("proposal_to_referent", REFERENT) not in h.mailer.sent()


def test_a_pupils_proposal_without_a_known_referent_goes_to_the_professional_only(harness):
    h = harness
    register_referent(h, school_uai="0940585A")  # another school's referent
    h.mailer.outbox.clear()
    h.handle(pupil_proposal(h))
    h.handle(h.example("proposal.created.v1", "pupil_without_email", event_id="evt-no-uai",
                       proposal_id="prop-no-uai"))  # no school_uai at all

    assert h.mailer.sent() == [("proposal_to_volunteer", VOLUNTEER)] * 2
    assert h.proposals.get(PUPIL_PID)["requester_email"] is None
    assert h.proposals.get(PUPIL_PID)["status"] == "pending"


# --- confirmation_requested ------------------------------------------------------------------------
def test_confirmation_requested_asks_the_referent_with_the_schools_links(harness):
    h = harness
    register_referent(h)
    h.handle(pupil_proposal(h))
    h.mailer.outbox.clear()
    h.links.answers.clear()
    h.handle(h.example("proposal.confirmation_requested.v1", proposal_id=PUPIL_PID, request_id="req-8c2e4f71"))

    assert h.mailer.sent() == [("proposal_to_confirm", REFERENT)]
    to_referent, message = h.mailer.outbox[0]
    expires = datetime(2026, 12, 11, 10, 0, tzinfo=timezone.utc)  # answered_at + 7 days
    assert h.links.answers == [(PUPIL_PID, "requester", "accept", expires),
                               (PUPIL_PID, "requester", "decline", expires)]
    text = text_of(message)
    assert to_referent.context["accept_url"] in text and to_referent.context["decline_url"] in text
    assert "/requester/accept" in to_referent.context["accept_url"]
    assert "vendredi 11 décembre 2026 à 11 h" in text
    assert (to_referent.role, to_referent.subject_id) == ("referent", PUPIL_PID)
    assert h.proposals.get(PUPIL_PID)["status"] == "awaiting_confirmation"


def test_confirmation_requested_without_a_referent_sends_nothing_but_records_the_state(harness):
    h = harness
    h.handle(pupil_proposal(h))
    h.mailer.outbox.clear()
    h.handle(h.example("proposal.confirmation_requested.v1", proposal_id=PUPIL_PID))
    assert h.mailer.sent() == []
    assert h.proposals.get(PUPIL_PID)["status"] == "awaiting_confirmation"


# --- outcomes ----------------------------------------------------------------------------------------
OUTCOMES = [
    ("proposal.accepted.v1", {}, "accepted", ("proposal_accepted_volunteer", "proposal_accepted_requester")),
    ("proposal.declined.v1", {}, "declined", ("proposal_declined_volunteer", "proposal_declined_requester")),
    ("proposal.declined.v1", {"reason": "declined_by_requester"}, "declined",
     ("proposal_declined_volunteer", "proposal_declined_requester")),
    ("proposal.expired.v1", {}, "expired", ("proposal_expired_volunteer", "proposal_expired_requester")),
]


@pytest.mark.parametrize("name, changes, status, templates", OUTCOMES)
def test_an_outcome_tells_both_parties_and_settles_the_proposal(name, changes, status, templates, harness):
    h = harness
    h.handle(h.example("proposal.created.v1"))
    h.mailer.outbox.clear()
    h.clock.advance(hours=20)
    h.handle(h.example(name, **changes))

    assert h.mailer.sent() == [(templates[0], VOLUNTEER), (templates[1], SCHOOL)]
    assert [e.role for e in h.mailer.emails] == ["volunteer", "requester"]
    assert all(e.subject_id == PID and e.category == "proposals" for e in h.mailer.emails)
    remembered = h.proposals.get(PID)
    assert (remembered["status"], remembered["settled_at"]) == (status, h.clock())


def test_an_acceptance_gives_each_party_the_others_address(harness):
    h = harness
    h.handle(h.example("proposal.created.v1"))
    h.mailer.outbox.clear()
    h.handle(h.example("proposal.accepted.v1"))
    _, to_volunteer = only(h.mailer, "proposal_accepted_volunteer")
    _, to_school = only(h.mailer, "proposal_accepted_requester")
    assert SCHOOL in text_of(to_volunteer)
    assert VOLUNTEER in text_of(to_school)


def test_a_pupils_confirmed_placement_tells_the_professional_and_the_referent(harness):
    h = harness
    register_referent(h)
    h.handle(pupil_proposal(h))
    h.handle(h.example("proposal.confirmation_requested.v1", proposal_id=PUPIL_PID))
    h.mailer.outbox.clear()
    h.handle(h.example("proposal.accepted.v1", proposal_id=PUPIL_PID))

    assert h.mailer.sent() == [("proposal_accepted_volunteer", VOLUNTEER), ("proposal_accepted_requester", REFERENT)]
    assert h.mailer.emails[1].role == "referent"
    assert h.mailer.emails[1].subject == "Vitawin : la mise en relation pour votre élève est confirmée"
    assert h.proposals.get(PUPIL_PID)["status"] == "accepted"


def test_an_outcome_of_a_pupils_proposal_without_a_referent_goes_to_the_professional_only(harness):
    h = harness
    h.handle(pupil_proposal(h))
    h.mailer.outbox.clear()
    h.handle(h.example("proposal.expired.v1", proposal_id=PUPIL_PID))
    assert h.mailer.sent() == [("proposal_expired_volunteer", VOLUNTEER)]


@pytest.mark.parametrize("name", ["proposal.confirmation_requested.v1", "proposal.accepted.v1",
                                  "proposal.declined.v1", "proposal.expired.v1"])
def test_news_of_an_unknown_proposal_sends_nothing_and_does_not_fail(name, harness, caplog):
    h = harness
    with caplog.at_level("INFO", logger="vitawin_notify.handlers"):
        h.handle(h.example(name))
    assert h.mailer.sent() == [] and h.published == [] and h.proposals.docs == {}
    [told] = [r for r in caplog.records if "not remembered" in r.getMessage()]
    assert told.proposal_id == PID


# --- request.created.v2 ------------------------------------------------------------------------------
@pytest.mark.parametrize("example", ["pupil_discovery_internship", "pupil_job_information"])
def test_a_pupils_request_is_told_to_the_schools_referent(example, harness):
    h = harness
    register_referent(h, school_uai="0940585A")  # the examples' school
    h.mailer.outbox.clear()
    event = h.example("request.created.v2", example)
    h.handle(event)

    assert h.mailer.sent() == [("pupil_request_to_referent", REFERENT)]
    email, message = h.mailer.outbox[0]
    request_id = event.data["request_id"]
    assert (email.role, email.category, email.subject_id) == ("referent", "requests", request_id)
    assert f"https://vitawin.example.fr/demandes/{request_id}" in text_of(message)
    assert addresses_in(message) == {REFERENT, SENDER_ADDRESS}
    assert message["List-Unsubscribe"] == f"<{email.unsubscribe_url}>"
    assert email.unsubscribe_url.startswith("https://vitawin.example.fr/desinscription/requests/")


def test_a_schools_own_request_and_a_pupils_without_a_referent_send_nothing(harness):
    h = harness
    register_referent(h, school_uai="0940585A")
    h.mailer.outbox.clear()
    h.published.clear()
    h.handle(h.example("request.created.v2", "class_testimony"))  # the school's referent wrote it
    h.handle(h.example("request.created.v2", "pupil_job_information", school_uai="0941301D"))  # nobody known
    assert h.mailer.sent() == [] and h.published == []


# --- volunteers, contacts, erasure ---------------------------------------------------------------
@pytest.mark.parametrize("example", ["basic", "with-actions"])
def test_a_pledge_is_confirmed_to_its_contact_without_unsubscribe_link(example, harness):
    h = harness
    event = h.example("volunteer.registered.v1", example)
    h.handle(event)
    assert h.mailer.sent() == [("pledge_confirmation", VOLUNTEER)]
    email, message = h.mailer.outbox[0]
    assert (email.category, email.role, email.subject_id) == ("account", "volunteer", event.data["volunteer_id"])
    assert message["List-Unsubscribe"] is None
    assert f"https://vitawin.example.fr/engagements/{event.data['volunteer_id']}" in text_of(message)


@pytest.mark.parametrize("example, template, address, words", [
    ("basic", "welcome", VOLUNTEER, "Boulangerie des Vignerons fait désormais partie de l'annuaire"),
    ("school", "welcome", REFERENT, "vous en êtes le professeur référent"),
    ("territory_manager", "welcome", "gestion.territoire@pemb.example.fr", "Votre compte de gestion du territoire"),
    ("pupil_with_guardian", "guardian_notice", GUARDIAN, "Votre enfant vient de s'inscrire"),
])
def test_a_new_contact_is_welcomed_and_kept_in_the_contact_book(example, template, address, words, harness):
    h = harness
    event = h.example("contact.registered.v1", example)
    h.handle(event)

    assert h.mailer.sent() == [(template, address)]
    email, message = h.mailer.outbox[0]
    role = "guardian" if template == "guardian_notice" else "contact"
    assert (email.category, email.role, email.subject_id) == ("account", role, event.data["actor_id"])
    assert words in text_of(message)
    assert message["List-Unsubscribe"] is None
    assert h.contacts.get(event.data["actor_id"]) == event.data


def test_an_erasure_is_confirmed_to_the_known_address_then_the_address_is_forgotten(harness):
    h = harness
    h.handle(h.example("contact.registered.v1"))  # the company, same address as the pledge's contact
    h.handle(h.example("proposal.created.v1"))
    h.mailer.outbox.clear()
    h.handle(h.example("actor.erased.v1"))

    assert h.mailer.sent() == [("erasure_confirmation", VOLUNTEER)]
    email, message = h.mailer.outbox[0]
    assert (email.category, email.subject_id) == ("account", COMPANY_ID)
    assert "votre compte Vitawin a été effacé le lundi 1er février 2027" in text_of(message)
    assert h.contacts.get(COMPANY_ID) is None
    remembered = h.proposals.get(PID)
    assert "volunteer_email" not in remembered and VOLUNTEER not in repr(remembered)
    assert remembered["requester_email"] == SCHOOL  # the other party's stays

    h.handle(h.example("actor.erased.v1"))  # redelivered: nothing more
    assert len(h.mailer.outbox) == 1


def test_a_pupils_erasure_is_confirmed_to_the_guardian(harness):
    h = harness
    h.handle(h.example("contact.registered.v1", "pupil_with_guardian"))
    h.mailer.outbox.clear()
    h.handle(h.example("actor.erased.v1", actor_id=PUPIL_ID, kind="pupil"))
    assert h.mailer.sent() == [("erasure_confirmation", GUARDIAN)]
    assert "Le compte Vitawin de votre enfant a été effacé" in text_of(h.mailer.messages[0])
    assert h.contacts.get(PUPIL_ID) is None


def test_an_erased_referent_is_no_longer_told_of_the_schools_pupils(harness):
    h = harness
    register_referent(h)
    h.handle(h.example("actor.erased.v1", actor_id=SCHOOL_ID, kind="school"))
    h.mailer.outbox.clear()
    h.handle(pupil_proposal(h))
    assert h.mailer.sent() == [("proposal_to_volunteer", VOLUNTEER)]


def test_an_erasure_of_an_unknown_actor_sends_nothing(harness):
    h = harness
    h.handle(h.example("actor.erased.v1"))
    assert h.mailer.sent() == [] and h.published == []


def test_news_of_a_proposal_whose_professional_was_erased_still_reaches_the_school(harness):
    """The professional erased their account while a proposal was pending (matching then declines
    or lets it expire): the school is told, the erased address is not written to, and the event
    does not fail (a failing handler is retried from the same offset forever, blocking the
    partition)."""
    h = harness
    h.handle(h.example("contact.registered.v1"))
    h.handle(h.example("proposal.created.v1"))
    h.handle(h.example("actor.erased.v1"))
    h.mailer.outbox.clear()

    h.handle(h.example("proposal.expired.v1"))

    assert h.mailer.sent() == [("proposal_expired_requester", SCHOOL)]
    assert h.proposals.get(PID)["status"] == "expired"


# --- invalid addresses, redelivery, failures -------------------------------------------------------
BAD_ADDRESSES = ["a@b", "x@vitawin.fr\r\nBcc: cible@example.fr", "Nom <nom@example.fr>", "deux@@example.fr",
                 "espace dans@example.fr"]  # all pass the contract's "format: email" (it only wants an @)


@pytest.mark.parametrize("address", BAD_ADDRESSES)
@pytest.mark.parametrize("name, example, field", [
    ("proposal.created.v1", "basic", "volunteer__contact_email"),
    ("proposal.created.v1", "basic", "request__contact_email"),
    ("volunteer.registered.v1", "basic", "contact_email"),
    ("contact.registered.v1", "basic", "email"),
    ("contact.registered.v1", "pupil_with_guardian", "guardian_email"),
])
def test_an_invalid_address_makes_the_event_poison_and_nothing_happens(name, example, field, address, harness):
    h = harness
    with pytest.raises(PoisonEvent) as raised:
        h.handle(h.example(name, example, **{field: address}))
    assert address not in str(raised.value)
    assert field.split("__")[-1] in str(raised.value)
    assert h.mailer.tries == 0 and h.published == []
    assert h.deliveries.docs == {} and h.proposals.docs == {} and h.contacts.docs == {}


def test_a_null_request_address_is_poison_not_an_absent_one(harness):
    h = harness
    with pytest.raises(PoisonEvent):
        h.handle(h.example("proposal.created.v1", request__contact_email=None), validate=False)
    assert h.mailer.tries == 0 and h.proposals.docs == {}


def story(h):
    """Every kind of event notify reads, in a plausible order."""
    return [
        h.example("contact.registered.v1", "school"),
        h.example("contact.registered.v1", "basic"),
        h.example("contact.registered.v1", "pupil_with_guardian"),
        h.example("volunteer.registered.v1"),
        h.example("request.created.v2", "pupil_discovery_internship", school_uai=PUPIL_UAI),
        h.example("proposal.created.v1"),
        pupil_proposal(h),
        h.example("proposal.confirmation_requested.v1", proposal_id=PUPIL_PID),
        h.example("proposal.accepted.v1", proposal_id=PUPIL_PID),
        h.example("proposal.declined.v1"),
    ]


def test_redelivering_every_event_sends_nothing_more(harness):
    h = harness
    for event in story(h):
        h.handle(event)
    sent, published, proposals = list(h.mailer.sent()), list(h.published), dict(h.proposals.docs)
    assert len(sent) == 14 and len({e.key for e in h.mailer.emails}) == 14

    for event in story(h):
        h.clock.advance(minutes=5)
        h.handle(event)

    assert h.mailer.sent() == sent and h.published == published

    # a replayed proposal.created reopens nothing; a replayed outcome does not settle it again
    # (the forgetting delay counts from the first)
    assert h.proposals.docs == proposals
    assert h.proposals.get(PID)["status"] == "declined"


def test_a_failure_to_store_leaves_the_event_to_be_read_again(harness):
    h = harness
    h.fail_commits = 1
    with pytest.raises(RuntimeError):  # not poison: the consumer loop reads it again
        h.handle(h.example("proposal.created.v1"))
    assert h.mailer.tries == 0 and h.proposals.docs == {}

    h.handle(h.example("proposal.created.v1"))
    assert h.mailer.sent() == [("proposal_to_volunteer", VOLUNTEER), ("proposal_to_requester", SCHOOL)]


def test_a_transient_smtp_failure_is_retried_through_the_retry_channel_once(harness, contracts):
    h = harness
    h.mailer.failures = [TransientMailError("ConnectionRefusedError")]
    event = h.example("proposal.created.v1")
    h.handle(event)  # does not raise: the consumer never blocks on the relay

    assert h.mailer.sent() == [("proposal_to_requester", SCHOOL)]
    key = delivery_key(event.id, VOLUNTEER, "proposal_to_volunteer")
    [(retry, channel)] = [(e, c) for e, c in h.published if e.type == delivery.NOTIFICATION_RETRY]
    assert channel == "notifyRetry"
    not_before = h.clock() + timedelta(seconds=5)
    assert retry.data == {"delivery_key": key, "template": "proposal_to_volunteer", "attempt": 2,
                          "not_before": not_before.isoformat().replace("+00:00", "Z")}
    assert "@" not in repr(retry)
    contracts.validate(retry.type, retry.data)
    doc = h.deliveries.docs[key]
    assert (doc["status"], doc["attempts"], doc["next_at"]) == ("retrying", 1, not_before)
    assert doc["job"]["to"] == VOLUNTEER  # kept in the database only, to send it again

    h.handle(event)  # the proposal redelivered meanwhile: nothing more
    assert h.mailer.tries == 2

    waited = []
    h.clock.advance(seconds=2)
    assert delivery.on_retry(retry, h.deliverer, lambda moment: (waited.append(moment), h.clock.set(moment)))
    assert waited == [not_before]
    assert h.mailer.sent() == [("proposal_to_requester", SCHOOL), ("proposal_to_volunteer", VOLUNTEER)]
    assert delivery.on_retry(retry, h.deliverer, waited.append) == "stale"
    assert len(h.mailer.outbox) == 2
    doc = h.deliveries.docs[key]
    assert (doc["status"], doc["attempts"], doc["sent_at"]) == ("sent", 2, not_before)
    assert "job" not in doc and "next_at" not in doc
    sent = [e for e, _ in h.published if e.type == delivery.NOTIFICATION_SENT and e.data["delivery_key"] == key]
    assert [e.data["attempts"] for e in sent] == [2]


def test_a_recipient_refused_for_good_fails_that_email_only(harness):
    h = harness
    h.mailer.failures = [RecipientRejected("550")]
    event = h.example("proposal.created.v1")
    h.handle(event)  # not poison: the other party is told, the failure is recorded

    assert h.mailer.sent() == [("proposal_to_requester", SCHOOL)]
    assert h.delivery(event.id, VOLUNTEER, "proposal_to_volunteer")["status"] == "failed"
    failed = [(e.data["reason"], c) for e, c in h.published if e.type == delivery.NOTIFICATION_FAILED]
    assert failed == [("rejected", "notifications"), ("rejected", "notifyDeadLetter")]
    h.handle(event)
    assert h.mailer.tries == 2


# --- preferences and digests ------------------------------------------------------------------------
def test_an_unsubscribed_category_is_not_sent_but_account_emails_are(harness):
    h = harness
    h.prefer(VOLUNTEER, proposals="off")
    event = h.example("proposal.created.v1")
    h.handle(event)
    h.handle(h.example("volunteer.registered.v1"))

    assert h.mailer.sent() == [("proposal_to_requester", SCHOOL), ("pledge_confirmation", VOLUNTEER)]
    assert h.delivery(event.id, VOLUNTEER, "proposal_to_volunteer")["status"] == "suppressed"
    assert h.proposals.get(PID)["status"] == "pending"  # remembered all the same


def test_an_unsubscribe_is_honoured_for_the_very_next_email(harness):
    h = harness
    h.handle(h.example("proposal.created.v1"))
    h.prefer(SCHOOL, proposals="off")
    h.mailer.outbox.clear()
    h.handle(h.example("proposal.accepted.v1"))
    assert h.mailer.sent() == [("proposal_accepted_volunteer", VOLUNTEER)]


def second_proposal(h):
    return h.example("proposal.created.v1", event_id="9e0f1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2b",
                     proposal_id="prop-second", request_id="req-second", request__town="94017")


def test_a_daily_digest_gathers_the_days_proposals_into_one_email_at_8_paris_time(harness):
    h = harness  # 2026-11-27 09:30 UTC: Friday 10:30 in Paris
    h.prefer(VOLUNTEER, proposals="daily")
    first, second = h.example("proposal.created.v1"), second_proposal(h)
    h.handle(first)
    h.clock.advance(hours=3)
    h.handle(second)

    assert h.mailer.sent() == [("proposal_to_requester", SCHOOL)] * 2
    assert h.delivery(first.id, VOLUNTEER, "proposal_to_volunteer")["status"] == "queued"
    assert len(h.digests.docs) == 2
    answers = [item["job"]["context"][name] for item in h.digests.docs.values()
               for name in ("accept_url", "decline_url")]
    assert len(answers) == 4 and all(url.startswith("https://vitawin.example.fr/liens/") for url in answers)

    h.clock.set(datetime(2026, 11, 28, 6, 59, tzinfo=timezone.utc))  # Saturday 07:59 Paris
    assert h.notify.tick()["digests"] == 0
    h.clock.set(datetime(2026, 11, 28, 7, 0, tzinfo=timezone.utc))  # Saturday 08:00 Paris
    assert h.notify.tick()["digests"] == 1

    [(digest, message)] = h.mailer.to(VOLUNTEER)
    assert (digest.template, digest.category, digest.role) == ("digest", "proposals", "volunteer")
    assert message["Subject"] == "Vitawin : votre résumé quotidien (2 éléments)"
    text, html = text_of(message), html_of(message)
    for url in answers:
        assert url in text and url in html
    assert text.count("Une demande de témoignage métier près de chez vous") == 2
    assert message["List-Unsubscribe"] == f"<{digest.unsubscribe_url}>"
    assert h.digests.docs == {}
    assert any(e.type == delivery.NOTIFICATION_SENT and e.data["template"] == "digest" for e, _ in h.published)

    h.clock.advance(minutes=1)
    assert h.notify.tick()["digests"] == 0
    h.clock.advance(days=1)
    assert h.notify.tick()["digests"] == 0
    assert len(h.mailer.to(VOLUNTEER)) == 1


def test_an_email_queued_after_8_waits_for_the_next_days_digest(harness):
    h = harness
    h.prefer(VOLUNTEER, proposals="daily")
    h.clock.set(datetime(2026, 11, 28, 7, 30, tzinfo=timezone.utc))  # Saturday 08:30 Paris
    h.handle(h.example("proposal.created.v1"))
    assert h.notify.tick()["digests"] == 0
    h.clock.set(datetime(2026, 11, 29, 7, 0, tzinfo=timezone.utc))  # Sunday 08:00 Paris
    assert h.notify.tick()["digests"] == 1
    assert [e.template for e in h.mailer.emails if e.to == VOLUNTEER] == ["digest"]


def test_a_weekly_digest_of_the_schools_pupils_requests_goes_out_on_monday(harness):
    h = harness
    register_referent(h)
    h.prefer(REFERENT, requests="weekly")
    h.mailer.outbox.clear()
    event = h.example("request.created.v2", "pupil_discovery_internship", school_uai=PUPIL_UAI)
    h.handle(event)
    assert h.mailer.sent() == []

    h.clock.set(datetime(2026, 11, 29, 20, 0, tzinfo=timezone.utc))  # Sunday evening
    assert h.notify.tick()["school_digests"] == 0
    h.clock.set(datetime(2026, 11, 30, 7, 0, tzinfo=timezone.utc))  # Monday 08:00 Paris
    # The school's weekly digest lists every open pupil request, the new one included: the queued
    # email of that request is not sent again in a second digest.
    assert h.notify.tick() == {"reminders": 0, "digests": 0, "school_digests": 1, "forgotten": 0}
    assert h.digests.docs == {}
    [(digest, message)] = h.mailer.outbox
    assert (digest.to, digest.template, digest.category) == (REFERENT, "digest", "requests")
    assert message["Subject"] == "Vitawin : votre résumé hebdomadaire (1 élément)"
    assert f"https://vitawin.example.fr/demandes/{event.data['request_id']}" in text_of(message)
    assert h.notify.tick()["digests"] == 0


def test_each_category_waits_for_its_own_digest(harness):
    """A referent who wants proposals daily and requests weekly: Saturday's daily digest holds the
    proposal only; the pupil's request waits for Monday's weekly digest."""
    h = harness
    register_referent(h)
    h.prefer(REFERENT, proposals="daily", requests="weekly")
    h.mailer.outbox.clear()
    h.handle(pupil_proposal(h))
    h.handle(h.example("request.created.v2", "pupil_discovery_internship", school_uai=PUPIL_UAI))
    assert [e.to for e in h.mailer.emails] == [VOLUNTEER]

    h.clock.set(datetime(2026, 11, 28, 7, 0, tzinfo=timezone.utc))  # Saturday 08:00 Paris
    h.notify.tick()
    to_referent = [e for e in h.mailer.emails if e.to == REFERENT]
    assert [(e.template, e.category) for e in to_referent] == [("digest", "proposals")]
    assert [d["mode"] for d in h.digests.docs.values()] == ["weekly"]

    h.clock.set(datetime(2026, 11, 30, 7, 0, tzinfo=timezone.utc))  # Monday 08:00 Paris
    h.notify.tick()
    to_referent = [e for e in h.mailer.emails if e.to == REFERENT]
    assert [(e.template, e.category) for e in to_referent] == [("digest", "proposals"), ("digest", "requests")]
    assert to_referent[1].subject_id == PUPIL_UAI  # the school's weekly digest, which covers the queued request


def test_an_erased_persons_queued_emails_are_not_sent_in_a_later_digest(harness):
    """docs/notify.md: after the erasure confirmation notify forgets the address "everywhere";
    emails waiting for a digest hold it too."""
    h = harness
    h.handle(h.example("contact.registered.v1"))
    h.prefer(VOLUNTEER, proposals="daily")
    h.handle(h.example("proposal.created.v1"))
    h.handle(h.example("actor.erased.v1"))
    h.mailer.outbox.clear()

    h.clock.set(datetime(2026, 11, 28, 7, 0, tzinfo=timezone.utc))
    h.notify.tick()

    assert h.mailer.to(VOLUNTEER) == []
    assert VOLUNTEER not in repr(h.digests.docs)
