import smtplib

import pytest

from vitawin_notify import adapters, domain
from tests.unit.notify.conftest import emails_for_proposal

ADDRESS = "contact@boulangerie-vignerons.example.fr"


class RefusingSMTP:
    """Stands in for smtplib.SMTP: the relay refuses the recipient with `code`, quoting it."""
    code = 550

    def __init__(self, *args, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def send_message(self, message):
        raise smtplib.SMTPRecipientsRefused({ADDRESS: (self.code, f"<{ADDRESS}>: unknown user".encode())})


def an_email(event_factory, towns):
    return emails_for_proposal("e1", event_factory().data, towns)[0]


def test_a_permanent_refusal_says_retrying_cannot_help_without_quoting_the_address(
        monkeypatch, event_factory, towns):
    monkeypatch.setattr(adapters.smtplib, "SMTP", RefusingSMTP)
    with pytest.raises(domain.RecipientRejected) as raised:
        adapters.SmtpMailer().send(an_email(event_factory, towns))
    assert ADDRESS not in str(raised.value) and raised.value.__suppress_context__


def test_a_temporary_refusal_is_transient(monkeypatch, event_factory, towns):
    monkeypatch.setattr(RefusingSMTP, "code", 450)
    monkeypatch.setattr(adapters.smtplib, "SMTP", RefusingSMTP)
    with pytest.raises(adapters.TransientMailError):
        adapters.SmtpMailer().send(an_email(event_factory, towns))


def test_an_unreachable_relay_is_transient(monkeypatch, event_factory, towns):
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(adapters.smtplib, "SMTP", refuse)
    with pytest.raises(adapters.TransientMailError):
        adapters.SmtpMailer().send(an_email(event_factory, towns))
