"""Guardians' copies (issue 6): a proposal for a pupil's request goes to the school's referent and,
when the school asks for it (`guardian_copies` of its fr.vitawin.contact.registered.v1), to the
pupil's guardian; so does its acceptance. Notify learns which pupil made the request from
fr.vitawin.request.requester.v1 (internal `requesters` channel), and the guardian's address from the
pupil's contact. The link may arrive after the proposal (another topic): that copy is then not
sent, the acceptance's still is. Erasing the pupil forgets the link. The professional never gets
the guardian's address, and no notification event or log line names the pupil.

Over conftest.NotifyHarness: the real handlers and Deliverer, in-memory repositories, the real
templates; events from contracts/examples, checked against their contract first."""
from __future__ import annotations

import json
import logging
import re
from email.message import EmailMessage
from html import unescape

import pytest

from vitawin_notify.domain import delivery_key, recipient_hash

VOLUNTEER = "contact@boulangerie-vignerons.example.fr"
REFERENT = "referente.stages@lycee-berlioz.example.fr"  # contact.registered school.json
GUARDIAN = "responsable.legal@example.fr"  # contact.registered pupil_with_guardian.json
PUPIL_ID = "act-1a2b3c4d5e6f708192a3b4c5d6e7f809"
OTHER_PUPIL_ID = "act-" + "5e" * 16
PUPIL_UAI = "0940120V"
REQUEST_ID = "req-8c2e4f71"  # request.requester pupil.json, proposal.created pupil_without_email.json
PUPIL_PID = "prop-1794725dc0ee84c2d4b0"
SENDER_ADDRESS = "ne-pas-repondre@vitawin.fr"
ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()


def addresses_in(message: EmailMessage) -> set[str]:
    headers = " ".join(str(value) for name, value in message.items() if name != "Message-ID")
    return set(ADDRESS.findall(" ".join((headers, text_of(message), html_of(message)))))


def school(h, asks=True, **changes):
    return h.example("contact.registered.v1", "school", guardian_copies=asks, **changes)


def pupil(h, **changes):
    return h.example("contact.registered.v1", "pupil_with_guardian", **changes)


def requester(h, **changes):
    return h.example("request.requester.v1", "pupil", **changes)


def proposal(h, **changes):
    return h.example("proposal.created.v1", "pupil_without_email", request__school_uai=PUPIL_UAI, **changes)


def accepted(h, **changes):
    return h.example("proposal.accepted.v1", proposal_id=PUPIL_PID, request_id=REQUEST_ID, **changes)


def story(h):
    """The school (asking for copies), its pupil, the pupil's request, a proposal, its confirmation."""
    return [school(h), pupil(h), requester(h), proposal(h),
            h.example("proposal.confirmation_requested.v1", proposal_id=PUPIL_PID, request_id=REQUEST_ID),
            accepted(h)]


def handle_all(h, events):
    for event in events:
        h.handle(event)


def to_guardian(h):
    return [(email, message) for email, message in h.mailer.outbox if email.to == GUARDIAN
            and email.template != "guardian_notice"]  # the welcome notice of the pupil's registration


# --- the copies ------------------------------------------------------------------------------------
def test_the_guardian_gets_a_copy_of_the_proposal_and_of_its_confirmation_when_the_school_asks(harness):
    h = harness
    handle_all(h, story(h))

    [(copy, message), (confirmed, confirmed_message)] = to_guardian(h)
    assert (copy.template, confirmed.template) == ("guardian_proposal", "guardian_accepted")
    for email in (copy, confirmed):
        assert (email.role, email.category, email.subject_id) == ("guardian", "proposals", PUPIL_PID)
        assert email.unsubscribe_url and message["List-Unsubscribe"] is not None
    text = text_of(message)
    assert copy.subject == "Vitawin : un professionnel est proposé pour la demande de votre enfant"
    for words in ("Boulangerie des Vignerons", "Vincennes", "3,4 km", "Fontenay-sous-Bois", "Stage",
                  "c'est l'établissement qui confirme ou refuse la mise en relation"):
        assert words in text and words in unescape(html_of(message))
    assert "/liens/" not in text and "Accepter" not in text  # no answer links: the school confirms
    assert addresses_in(message) == {GUARDIAN, SENDER_ADDRESS}
    assert confirmed.subject == "Vitawin : la mise en relation pour la demande de votre enfant est confirmée"
    assert "L'établissement a confirmé la mise en relation" in text_of(confirmed_message)
    assert addresses_in(confirmed_message) == {GUARDIAN, SENDER_ADDRESS}  # neither the professional's nor the school's
    # the parties are told as before
    assert ("proposal_to_volunteer", VOLUNTEER) in h.mailer.sent()
    assert ("proposal_to_referent", REFERENT) in h.mailer.sent()
    assert ("proposal_accepted_requester", REFERENT) in h.mailer.sent()


def test_the_requester_link_is_kept_by_request_id_and_rewritten_on_redelivery(harness):
    h = harness
    h.handle(requester(h))
    h.handle(requester(h))
    assert h.requesters.docs == {REQUEST_ID: {"_id": REQUEST_ID, "request_id": REQUEST_ID,
                                              "requester_actor_id": PUPIL_ID, "school_uai": PUPIL_UAI}}
    assert h.mailer.sent() == [] and h.published == []


@pytest.mark.parametrize("school_event", [
    lambda h: school(h, asks=False),
    lambda h: h.example("contact.registered.v1", "school"),  # an event from before guardian_copies: no
    lambda h: school(h, school_uai="0940585A"),  # another school asks, not the request's
    None,  # the school is not in the contact book
], ids=["asks-not", "older-event", "another-school", "unknown-school"])
def test_no_copy_when_the_requests_school_does_not_ask(school_event, harness):
    h = harness
    events = story(h)
    events[0] = school_event(h) if school_event else h.example("contact.registered.v1", "basic")
    handle_all(h, events)
    assert to_guardian(h) == []
    assert ("proposal_to_volunteer", VOLUNTEER) in h.mailer.sent()


def test_no_copy_without_a_guardians_address(harness):
    h = harness
    handle_all(h, [event for event in story(h) if event.type != "fr.vitawin.contact.registered.v1"
                   or event.data["kind"] != "pupil"])  # a pupil without a guardian publishes no contact
    assert to_guardian(h) == [] and all(email.role != "guardian" for email in h.mailer.emails)
    assert ("proposal_to_referent", REFERENT) in h.mailer.sent()


def test_a_refusal_or_an_expiry_is_not_copied(harness):
    h = harness
    handle_all(h, story(h)[:4])
    h.handle(h.example("proposal.declined.v1", proposal_id=PUPIL_PID, request_id=REQUEST_ID))
    h.handle(h.example("proposal.expired.v1", proposal_id=PUPIL_PID, request_id=REQUEST_ID,
                       event_id="evt-expired"))
    assert [email.template for email, _ in to_guardian(h)] == ["guardian_proposal"]


def test_a_schools_own_request_is_never_copied_to_a_guardian(harness):
    h = harness
    handle_all(h, [school(h), pupil(h), requester(h, request_id="req-5f3a9c10")])  # even with a stray link
    h.handle(h.example("proposal.created.v1"))
    h.handle(h.example("proposal.accepted.v1"))
    assert to_guardian(h) == []


def test_an_unsubscribed_guardian_gets_no_copy(harness):
    h = harness
    h.prefer(GUARDIAN, proposals="off")
    handle_all(h, story(h))
    assert to_guardian(h) == []
    assert h.delivery(proposal(h).id, GUARDIAN, "guardian_proposal")["status"] == "suppressed"


def test_a_bad_guardian_address_skips_the_copy_only(harness):
    h = harness
    handle_all(h, [school(h), requester(h)])
    h.contacts.add({"actor_id": PUPIL_ID, "kind": "pupil", "school_uai": PUPIL_UAI,
                    "guardian_email": "pas une adresse"})
    h.mailer.outbox.clear()
    h.handle(proposal(h))  # not poison: the parties' emails go
    assert h.mailer.sent() == [("proposal_to_volunteer", VOLUNTEER), ("proposal_to_referent", REFERENT)]


# --- arrival order -----------------------------------------------------------------------------------
def test_a_link_read_after_the_proposal_misses_its_copy_but_not_the_confirmations(harness):
    h = harness
    handle_all(h, [school(h), pupil(h), proposal(h)])  # requesters is another topic: read later
    assert to_guardian(h) == []
    assert ("proposal_to_referent", REFERENT) in h.mailer.sent()

    h.handle(requester(h))
    h.handle(accepted(h))
    assert [email.template for email, _ in to_guardian(h)] == ["guardian_accepted"]


def test_the_link_may_come_before_the_contacts(harness):
    h = harness
    handle_all(h, [requester(h), school(h), pupil(h), proposal(h), accepted(h)])
    assert [email.template for email, _ in to_guardian(h)] == ["guardian_proposal", "guardian_accepted"]


# --- erasure -------------------------------------------------------------------------------------------
def test_erasing_the_pupil_forgets_its_links_and_stops_the_copies(harness):
    h = harness
    handle_all(h, story(h)[:4])
    h.handle(requester(h, request_id="req-other-pupil", requester_actor_id=OTHER_PUPIL_ID))
    h.handle(requester(h, request_id="req-second"))  # another request of the same pupil

    h.handle(h.example("actor.erased.v1", actor_id=PUPIL_ID, kind="pupil"))
    assert set(h.requesters.docs) == {"req-other-pupil"}
    assert h.contacts.get(PUPIL_ID) is None

    h.mailer.outbox.clear()
    h.handle(accepted(h))
    assert to_guardian(h) == []
    assert ("proposal_accepted_volunteer", VOLUNTEER) in h.mailer.sent()


def test_erasing_someone_else_keeps_the_links(harness):
    h = harness
    h.handle(requester(h))
    h.handle(h.example("actor.erased.v1"))  # a company
    assert set(h.requesters.docs) == {REQUEST_ID}


# --- privacy ---------------------------------------------------------------------------------------------
def test_the_professionals_emails_carry_no_guardian_or_pupil_data(harness):
    h = harness
    handle_all(h, story(h))
    to_volunteer = [(email, message) for email, message in h.mailer.outbox if email.role == "volunteer"]
    assert {email.template for email, _ in to_volunteer} == {"proposal_to_volunteer", "proposal_accepted_volunteer"}
    for email, message in to_volunteer:
        everything = json.dumps(email.to_document(), ensure_ascii=False) + message.as_string()
        assert GUARDIAN not in everything and PUPIL_ID not in everything
        assert GUARDIAN not in addresses_in(message)
    assert h.proposals.get(PUPIL_PID)["requester_email"] == REFERENT  # never the guardian's
    assert GUARDIAN not in json.dumps(h.proposals.docs, default=str)


def test_no_notification_event_and_no_log_line_names_the_pupil_or_the_guardian(harness, caplog):
    h = harness
    caplog.set_level(logging.DEBUG)
    handle_all(h, story(h))
    guardian_events = [event for event, _ in h.published if event.data.get("recipient_role") == "guardian"]
    assert {event.data["template"] for event in guardian_events} >= {"guardian_proposal", "guardian_accepted"}
    for event in guardian_events:
        assert event.data["subject_id"] == event.data["delivery_key"] == event.subject
    for event, _ in h.published:
        serialized = json.dumps(event.to_document(), default=str)
        assert PUPIL_ID not in serialized and GUARDIAN not in serialized
    logged = "\n".join(json.dumps(record.__dict__, default=str, ensure_ascii=False) for record in caplog.records)
    assert REQUEST_ID in logged
    assert PUPIL_ID not in logged and GUARDIAN not in logged


def test_redelivering_everything_sends_no_copy_twice(harness):
    h = harness
    handle_all(h, story(h))
    sent, published = list(h.mailer.sent()), list(h.published)
    assert sent.count(("guardian_proposal", GUARDIAN)) == 1 and sent.count(("guardian_accepted", GUARDIAN)) == 1

    for event in story(h):
        h.clock.advance(minutes=5)
        h.handle(event)
    assert h.mailer.sent() == sent and h.published == published
    copy = proposal(h)
    assert h.delivery(copy.id, GUARDIAN, "guardian_proposal")["status"] == "sent"
    assert h.deliveries.docs[delivery_key(copy.id, GUARDIAN, "guardian_proposal")]["recipient_sha256"] == \
        recipient_hash(GUARDIAN)


# --- the contracts' examples -------------------------------------------------------------------------
@pytest.mark.parametrize("name, example", [("request.requester.v1", "pupil"),
                                           ("contact.registered.v1", "school_guardian_copies")])
def test_the_new_examples_satisfy_their_contract_and_are_handled(name, example, harness, contracts):
    event = harness.example(name, example)
    contracts.validate(event.type, event.data)
    harness.handle(event)
    assert event.type in harness.notify.handlers()
