"""The metrics the alerts read (deploy/prometheus/rules): e-mails counted by template and outcome,
a consumer's lag gauge that forgets the partitions it lost, an outbox backlog that only the relay
holding the lease reports."""
from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path

import pytest
from kafka.structs import TopicPartition
from prometheus_client import REGISTRY

from vitawin_common import mail
from vitawin_common.consumer import ConsumerLoop
from vitawin_common.contracts import load
from vitawin_common.mail import MailUnavailable, RecipientRefused, SmtpRelay
from vitawin_common.outbox import OutboxRelay
from vitawin_common.testing import ProducerStandIn

CONTRACTS = load(Path(__file__).resolve().parents[3] / "contracts")


def sample(name: str, **labels) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


# --- e-mails -------------------------------------------------------------------------------------

class Smtp:
    """Stands in for smtplib.SMTP: raises `failure` from send_message when set."""
    failure: Exception | None = None

    def __init__(self, host, port, timeout):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def send_message(self, message):
        if Smtp.failure is not None:
            raise Smtp.failure


@pytest.fixture
def smtp(monkeypatch):
    monkeypatch.setattr(mail.smtplib, "SMTP", Smtp)
    Smtp.failure = None
    yield Smtp
    Smtp.failure = None


def message(template: str | None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "no-reply@vitawin.fr", "contact@example.fr", "Essai"
    if template:
        msg["X-Vitawin-Template"] = template
    msg.set_content("Bonjour")
    return msg


def emails(template: str, outcome: str) -> float:
    return sample("vitawin_emails_total", template=template, outcome=outcome) or 0.0


def test_each_email_handed_to_the_relay_is_counted_by_template_and_outcome(smtp):
    before = {o: emails("ops_test_template", o) for o in ("sent", "refused", "unavailable")}
    SmtpRelay().send(message("ops_test_template"))
    smtp.failure = smtplib.SMTPRecipientsRefused({"contact@example.fr": (550, b"no such user")})
    with pytest.raises(RecipientRefused):
        SmtpRelay().send(message("ops_test_template"))
    smtp.failure = smtplib.SMTPServerDisconnected("gone")
    with pytest.raises(MailUnavailable):
        SmtpRelay().send(message("ops_test_template"))
    with pytest.raises(MailUnavailable):
        SmtpRelay().send(message("ops_test_template"))
    after = {o: emails("ops_test_template", o) for o in ("sent", "refused", "unavailable")}
    assert {o: after[o] - before[o] for o in after} == {"sent": 1, "refused": 1, "unavailable": 2}


def test_an_email_without_template_header_counts_as_unknown(smtp):
    before = emails("unknown", "sent")
    SmtpRelay().send(message(None))
    assert emails("unknown", "sent") == before + 1


# --- consumer lag --------------------------------------------------------------------------------

class Consumer:
    """The part of KafkaConsumer the lag report reads."""

    def __init__(self, assigned: dict[TopicPartition, tuple[int, int]]):
        self.assigned = assigned  # partition -> (highwater, position)

    def assignment(self):
        return set(self.assigned)

    def highwater(self, tp):
        return self.assigned[tp][0]

    def position(self, tp):
        return self.assigned[tp][1]


def lag(topic: str, partition: int) -> float | None:
    return sample("vitawin_consumer_lag", service="ops-test", topic=topic, partition=str(partition))


def test_the_lag_gauge_reports_held_partitions_and_forgets_those_lost_in_a_rebalance():
    p0, p1, p2 = (TopicPartition("ops.test", p) for p in range(3))
    consumer = Consumer({p0: (10, 4), p1: (7, 7), p2: (5, 1)})
    loop = ConsumerLoop(service="ops-test", consumer=consumer, producer=ProducerStandIn(), contracts=CONTRACTS,
                        handlers={}, dead_letter_channel="matchingDeadLetter", group_id="g")
    loop._report_lag()
    assert (lag("ops.test", 0), lag("ops.test", 1), lag("ops.test", 2)) == (6, 0, 4)
    consumer.assigned = {p1: (9, 8)}  # another worker joined and took partitions 0 and 2
    loop._report_lag()
    assert (lag("ops.test", 0), lag("ops.test", 1), lag("ops.test", 2)) == (None, 1, None)
    consumer.assigned = {p1: (9, 8), p2: (None, 0)}  # given back, no fetch answered yet: no figure
    loop._report_lag()
    assert lag("ops.test", 2) is None
    consumer.assigned = {}
    loop._report_lag()
    assert lag("ops.test", 1) is None


# --- outbox backlog ------------------------------------------------------------------------------

class Collection:
    def __init__(self, pending: int = 0):
        self.pending = pending

    def find(self, query):
        return self

    def sort(self, keys):
        return self

    def limit(self, n):
        return []

    def count_documents(self, query):
        return self.pending


def test_only_the_relay_holding_the_lease_reports_the_outbox_backlog(monkeypatch):
    relay = OutboxRelay({"outbox": Collection(), "outbox_lease": Collection()}, ProducerStandIn(), "ops-test")
    held = [True]
    monkeypatch.setattr(relay, "_hold_lease", lambda: held[0])
    relay.relay_once()
    assert sample("vitawin_outbox_backlog", service="ops-test") == 0
    held[0] = False  # another worker took the lease over
    relay.relay_once()
    assert sample("vitawin_outbox_backlog", service="ops-test") is None
    held[0] = True
    relay.relay_once()
    assert sample("vitawin_outbox_backlog", service="ops-test") == 0

