"""Notify's SmtpMailer: composes the email, hands it to the common SMTP relay, and maps the relay's
errors to what delivery decides on (the relay's own session and errors: tests/unit/common/test_mail.py)."""
import pytest

from vitawin_common.mail import MailUnavailable, RecipientRefused, SmtpRelay

from vitawin_notify import adapters, domain
from tests.unit.notify.conftest import emails_for_proposal


class Relay:
    """Stands in for vitawin_common.mail.SmtpRelay: keeps the messages, or raises `failure`."""

    def __init__(self, failure: Exception | None = None):
        self.failure, self.sent = failure, []

    def send(self, message):
        if self.failure is not None:
            raise self.failure
        self.sent.append(message)


def an_email(event_factory, towns):
    return emails_for_proposal("e1", event_factory().data, towns)[0]


def mailer_over(relay: Relay) -> adapters.SmtpMailer:
    mailer = adapters.SmtpMailer(sender="Vitawin <ne-pas-repondre@vitawin.fr>")
    mailer.relay = relay
    return mailer


def test_the_mailers_settings_make_its_relay():
    mailer = adapters.SmtpMailer("relais.example.fr", 2525, username="vitawin", password="secret", starttls=True,
                                 timeout=3.0)
    assert mailer.relay == SmtpRelay("relais.example.fr", 2525, username="vitawin", password="secret",
                                     starttls=True, timeout=3.0)
    assert adapters.SmtpMailer().relay == SmtpRelay("127.0.0.1", 1025)


def test_the_composed_email_goes_to_the_relay(event_factory, towns):
    relay, email = Relay(), an_email(event_factory, towns)

    mailer_over(relay).send(email)

    [message] = relay.sent
    assert message["To"] == email.to and message["Subject"] == email.subject
    assert message["From"] == "Vitawin <ne-pas-repondre@vitawin.fr>"
    assert message["X-Vitawin-Template"] == email.template


def test_a_permanent_refusal_says_retrying_cannot_help_without_quoting_the_address(event_factory, towns):
    relay = Relay(RecipientRefused("recipient refused by the relay ([550])", (550,)))

    with pytest.raises(domain.RecipientRejected) as raised:
        mailer_over(relay).send(an_email(event_factory, towns))

    assert str(raised.value) == "recipient refused by the relay ([550])" and raised.value.__suppress_context__


@pytest.mark.parametrize("text", ["recipient deferred by the relay ([450])", "SMTPServerDisconnected",
                                  "ConnectionRefusedError"])
def test_anything_else_is_transient(event_factory, towns, text):
    with pytest.raises(adapters.TransientMailError) as raised:
        mailer_over(Relay(MailUnavailable(text))).send(an_email(event_factory, towns))

    assert str(raised.value) == text and raised.value.__suppress_context__
