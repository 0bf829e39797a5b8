import json
import logging
from pathlib import Path
from email.message import EmailMessage

import pytest

from vitawin_common.consumer import PoisonEvent
from vitawin_common.events import Event

from vitawin_notify.adapters import TransientMailError
from vitawin_notify.domain import RecipientRejected, delivery_key
from vitawin_notify.handlers import on_proposal_created

VOLUNTEER = "contact@boulangerie-vignerons.example.fr"
EXAMPLES = Path(__file__).resolve().parents[3] / "contracts" / "examples" / "fr.vitawin.proposal.created.v1"
SCHOOL = "referent@college-saint-exupery.example.fr"


def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()


def test_the_example_event_satisfies_its_contract(contracts, event_factory):
    event = event_factory()
    contracts.validate(event.type, event.data)


def test_a_proposal_sends_two_emails_to_the_right_people_in_french(event_factory, uow, mailer, towns):
    on_proposal_created(event_factory(), uow, mailer, towns)

    assert [m["To"] for m in mailer.sent] == [VOLUNTEER, SCHOOL]
    to_volunteer, to_requester = mailer.sent
    assert to_volunteer["Subject"] == "Vitawin : une demande de témoignage métier près de chez vous"
    assert to_requester["Subject"] == "Vitawin : un professionnel peut répondre à votre demande"
    volunteer_text = text_of(to_volunteer)
    for expected in ("2,8 km", "Fontenay-sous-Bois", "Vincennes", "prop-3b1f0e6a9d2c4e55", "témoignage métier"):
        assert expected in volunteer_text
    assert SCHOOL in volunteer_text  # a school's contact may be given to the professional
    requester_text = text_of(to_requester)
    for expected in ("Boulangerie des Vignerons", "2,8 km", "Vincennes", "prop-3b1f0e6a9d2c4e55"):
        assert expected in requester_text
    assert VOLUNTEER not in requester_text


@pytest.mark.parametrize("action, subject", [
    ("testimony", "Vitawin : une demande de témoignage métier près de chez vous"),
    ("intervention", "Vitawin : une demande d'intervention en classe près de chez vous"),
    ("internship", "Vitawin : une demande de stage près de chez vous"),
    ("apprenticeship", "Vitawin : une demande d'alternance près de chez vous"),
    ("mentoring", "Vitawin : une demande de mentorat près de chez vous"),
    ("job_fair", "Vitawin : une demande de forum des métiers près de chez vous"),
])
def test_the_professional_subject_names_the_action_in_french(action, subject, event_factory, uow, mailer, towns):
    on_proposal_created(event_factory(action_type=action), uow, mailer, towns)
    assert mailer.sent[0]["Subject"] == subject


def test_a_pupils_address_never_reaches_the_professional(event_factory, uow, mailer, towns):
    pupil = "eleve.mineur@famille.example.fr"
    event = event_factory(request__requester_kind="pupil", request__contact_email=pupil)

    on_proposal_created(event, uow, mailer, towns)

    to_volunteer, to_requester = mailer.sent
    assert to_volunteer["To"] == VOLUNTEER
    assert pupil not in to_volunteer.as_string()
    assert pupil not in text_of(to_volunteer) and pupil not in html_of(to_volunteer)
    assert "après votre acceptation" in text_of(to_volunteer)
    assert to_requester["To"] == pupil


def test_a_redelivered_event_sends_nothing(event_factory, uow, mailer, towns):
    on_proposal_created(event_factory(), uow, mailer, towns)
    on_proposal_created(event_factory(), uow, mailer, towns)

    assert len(mailer.sent) == 2
    assert len(uow.deliveries.docs) == 2


def test_when_the_second_email_fails_a_retry_sends_only_the_second(event_factory, uow, mailer, towns):
    mailer.failures = [None, TransientMailError("ConnectionRefusedError")]
    with pytest.raises(TransientMailError):  # not a PoisonEvent: the loop retries the offset
        on_proposal_created(event_factory(), uow, mailer, towns)
    assert [m["To"] for m in mailer.sent] == [VOLUNTEER]

    on_proposal_created(event_factory(), uow, mailer, towns)

    assert [m["To"] for m in mailer.sent] == [VOLUNTEER, SCHOOL]


def test_deliveries_are_recorded_without_any_address(event_factory, uow, mailer, towns):
    on_proposal_created(event_factory(), uow, mailer, towns)

    docs = list(uow.deliveries.docs.values())
    assert sorted(d["template"] for d in docs) == ["proposal_to_requester", "proposal_to_volunteer"]
    assert all(d["status"] == "sent" and d["proposal_id"] == "prop-3b1f0e6a9d2c4e55" for d in docs)
    assert all(d["sent_at"].tzinfo is not None for d in docs)
    stored = repr(uow.deliveries.docs)
    assert VOLUNTEER not in stored and SCHOOL not in stored


@pytest.mark.parametrize("field", ["volunteer__contact_email", "request__contact_email"])
@pytest.mark.parametrize("address", [
    "pas-une-adresse",
    "a@b",
    "x@vitawin.fr\r\nBcc: cible@example.fr",
    "Nom <nom@example.fr>",
    "deux@@example.fr",
    "espace dans@example.fr",
])
def test_an_invalid_address_is_a_poison_event(field, address, event_factory, uow, mailer, towns):
    with pytest.raises(PoisonEvent) as raised:
        on_proposal_created(event_factory(**{field: address}), uow, mailer, towns)

    assert address not in str(raised.value)
    assert mailer.sent == [] and uow.deliveries.docs == {}


def test_a_recipient_refused_for_good_is_a_poison_event(event_factory, uow, mailer, towns):
    mailer.failures = [None, RecipientRejected("recipient refused by the relay ([550])")]
    with pytest.raises(PoisonEvent):
        on_proposal_created(event_factory(), uow, mailer, towns)
    assert len(uow.deliveries.docs) == 1  # the first email stays recorded as sent


def without_requester_email(event, requester_kind="pupil"):
    """The proposal for a request that carries no contact e-mail (a pupil's, from request.created.v2 on)."""
    del event.data["request"]["contact_email"]
    event.data["request"]["requester_kind"] = requester_kind
    return event


def test_without_a_requester_email_only_the_professional_is_emailed(event_factory, uow, mailer, towns,
                                                                     contracts, caplog):
    event = without_requester_email(event_factory())
    contracts.validate(event.type, event.data)

    with caplog.at_level(logging.INFO, logger="vitawin_notify.handlers"):
        on_proposal_created(event, uow, mailer, towns)  # does not fail

    [to_volunteer] = mailer.sent
    assert to_volunteer["To"] == VOLUNTEER
    assert "Cette demande vient d'un ou d'une élève" in text_of(to_volunteer)  # no address given
    [(key, delivery)] = uow.deliveries.docs.items()
    assert key == delivery_key(event.id, VOLUNTEER, "proposal_to_volunteer")
    assert (delivery["template"], delivery["proposal_id"]) == ("proposal_to_volunteer", "prop-3b1f0e6a9d2c4e55")
    [told] = [r for r in caplog.records if "only the professional" in r.getMessage()]
    assert (told.proposal_id, told.event_id) == ("prop-3b1f0e6a9d2c4e55", event.id)
    assert all("@" not in r.getMessage() and "@" not in str(r.__dict__) for r in caplog.records)


def test_without_a_requester_email_a_redelivered_event_sends_nothing(event_factory, uow, mailer, towns):
    for _ in range(2):
        on_proposal_created(without_requester_email(event_factory()), uow, mailer, towns)
    assert [m["To"] for m in mailer.sent] == [VOLUNTEER] and len(uow.deliveries.docs) == 1


def test_the_pupil_example_of_the_contract_emails_the_professional_only(uow, mailer, towns, contracts):
    envelope = json.loads((EXAMPLES / "pupil_without_email.json").read_text(encoding="utf-8"))
    contracts.validate(envelope["type"], envelope["data"])
    event = Event(type=envelope["type"], source=envelope["source"], subject=envelope["subject"],
                  data=envelope["data"], id=envelope["id"], correlation_id=envelope["correlationid"])
    on_proposal_created(event, uow, mailer, towns)
    assert [m["To"] for m in mailer.sent] == [VOLUNTEER]


def test_a_school_request_without_email_is_not_described_as_a_pupils(event_factory, uow, mailer, towns):
    on_proposal_created(without_requester_email(event_factory(), requester_kind="school"), uow, mailer, towns)
    [to_volunteer] = mailer.sent
    text = text_of(to_volunteer)
    assert "L'établissement n'a pas indiqué d'adresse de contact" in text and "élève" not in text
    assert "L'établissement n'a pas indiqué d'adresse de contact" in html_of(to_volunteer)


def test_a_null_requester_email_is_a_poison_event_not_an_absent_one(event_factory, uow, mailer, towns):
    with pytest.raises(PoisonEvent):
        on_proposal_created(event_factory(request__contact_email=None), uow, mailer, towns)
    assert mailer.sent == [] and uow.deliveries.docs == {}
