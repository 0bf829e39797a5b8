"""The handler inside vitawin_common's ConsumerLoop, with fake Kafka clients: a good proposal is
applied, an invalid address goes to the notify dead-letter topic."""
from types import SimpleNamespace

from vitawin_common.consumer import ConsumerLoop
from vitawin_common.events import to_record

from vitawin_notify import handlers


class FakeProducer:
    def __init__(self):
        self.sent = []

    def send(self, topic, key=None, value=None, headers=None):
        self.sent.append((topic, key, dict(headers)))
        return SimpleNamespace(get=lambda timeout=None: None)


def loop_for(contracts, uow, mailer, towns, producer):
    return ConsumerLoop(
        service="notify", consumer=None, producer=producer, contracts=contracts,
        handlers={handlers.PROPOSAL_CREATED: lambda e: handlers.on_proposal_created(e, uow, mailer, towns)},
        dead_letter_channel="notifyDeadLetter", group_id="notify")


def record_of(event):
    key, value, headers = to_record(event)
    return SimpleNamespace(key=key, value=value, headers=headers, topic="vitawin.proposals",
                           partition=0, offset=7)


def test_a_proposal_is_applied_and_an_invalid_address_is_dead_lettered(
        contracts, event_factory, uow, mailer, towns):
    producer = FakeProducer()
    loop = loop_for(contracts, uow, mailer, towns, producer)

    assert loop.handle_record(record_of(event_factory())) == "applied"
    assert len(mailer.sent) == 2 and producer.sent == []

    bad = event_factory(request__contact_email="x@vitawin.fr\r\nBcc: cible@example.fr")
    assert loop.handle_record(record_of(bad)) == "dead_lettered"
    (topic, _, headers), = producer.sent
    assert topic == "vitawin.notify.dlq"
    assert headers["dlq_reason"] == b"request.contact_email: invalid email address"
    assert len(mailer.sent) == 2


def test_a_proposal_without_requester_email_is_applied_with_one_email(contracts, event_factory, uow, mailer,
                                                                      towns):
    producer = FakeProducer()
    loop = loop_for(contracts, uow, mailer, towns, producer)
    event = event_factory(request__requester_kind="pupil")
    del event.data["request"]["contact_email"]

    assert loop.handle_record(record_of(event)) == "applied"
    assert len(mailer.sent) == 1 and producer.sent == []
