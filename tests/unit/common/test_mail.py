"""The SMTP relay (vitawin_common.mail): one session per message, STARTTLS and login when asked,
typed errors that never carry the relay's text (it often quotes the recipient's address)."""
import smtplib
import ssl
from email.message import EmailMessage

import pytest

from vitawin_common import mail
from vitawin_common.mail import MailError, MailUnavailable, RecipientRefused, SmtpRelay

ADDRESS = "contact@boulangerie-vignerons.example.fr"


class Session:
    """Stands in for smtplib.SMTP (the class and its session): records what the relay does and
    raises `failure` from send_message when set."""

    def __init__(self):
        self.calls: list[tuple] = []
        self.failure: Exception | None = None

    def __call__(self, host, port, timeout):
        self.calls.append(("connect", host, port, timeout))
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.calls.append(("quit",))
        return False

    def starttls(self, context):
        self.calls.append(("starttls", isinstance(context, ssl.SSLContext)))

    def login(self, user, password):
        self.calls.append(("login", user, password))

    def send_message(self, message):
        self.calls.append(("send", message["To"]))
        if self.failure is not None:
            raise self.failure


@pytest.fixture
def smtp(monkeypatch):
    session = Session()
    monkeypatch.setattr(mail.smtplib, "SMTP", session)
    return session


def a_message() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Vitawin <no-reply@vitawin.fr>"
    message["To"] = ADDRESS
    message["Subject"] = "Essai"
    message.set_content("Bonjour")
    return message


def test_a_message_goes_on_its_own_session_with_starttls_and_login_when_asked(smtp):
    SmtpRelay("relais.example.fr", 2525, username="vitawin", password="secret", starttls=True,
              timeout=3.0).send(a_message())

    assert smtp.calls == [("connect", "relais.example.fr", 2525, 3.0), ("starttls", True),
                          ("login", "vitawin", "secret"), ("send", ADDRESS), ("quit",)]


def test_a_plain_relay_gets_neither_starttls_nor_login(smtp):
    SmtpRelay().send(a_message())

    assert smtp.calls == [("connect", "127.0.0.1", 1025, 10.0), ("send", ADDRESS), ("quit",)]


def test_a_username_without_a_password_logs_in_with_an_empty_one(smtp):
    SmtpRelay(username="vitawin").send(a_message())

    assert ("login", "vitawin", "") in smtp.calls


def test_every_recipient_refused_for_good_is_a_permanent_refusal_without_the_relays_text(smtp):
    smtp.failure = smtplib.SMTPRecipientsRefused({ADDRESS: (550, f"<{ADDRESS}>: unknown user".encode())})

    with pytest.raises(RecipientRefused) as raised:
        SmtpRelay().send(a_message())

    assert isinstance(raised.value, MailError) and raised.value.codes == (550,)
    assert str(raised.value) == "recipient refused by the relay ([550])"
    assert raised.value.__suppress_context__ and raised.value.__cause__ is None


@pytest.mark.parametrize("failure, text", [
    (smtplib.SMTPRecipientsRefused({ADDRESS: (450, f"<{ADDRESS}>: mailbox busy".encode())}),
     "recipient deferred by the relay ([450])"),
    (smtplib.SMTPRecipientsRefused({ADDRESS: (550, b"unknown"), "autre@example.fr": (451, b"later")}),
     "recipient deferred by the relay ([451, 550])"),
    (smtplib.SMTPRecipientsRefused({}), "recipient deferred by the relay ([])"),
    (smtplib.SMTPSenderRefused(550, f"<{ADDRESS}> refused".encode(), ADDRESS), "SMTPSenderRefused 550"),
    (smtplib.SMTPDataError(554, f"message for {ADDRESS} rejected".encode()), "SMTPDataError 554"),
    (smtplib.SMTPServerDisconnected(f"lost while sending to {ADDRESS}"), "SMTPServerDisconnected"),
    (TimeoutError(f"timed out ({ADDRESS})"), "TimeoutError"),
])
def test_anything_else_is_transient_and_names_the_error_type_and_codes_only(smtp, failure, text):
    smtp.failure = failure

    with pytest.raises(MailUnavailable) as raised:
        SmtpRelay().send(a_message())

    assert isinstance(raised.value, MailError) and not isinstance(raised.value, RecipientRefused)
    assert str(raised.value) == text and ADDRESS not in str(raised.value)
    assert raised.value.__suppress_context__ and raised.value.__cause__ is None


def test_an_unreachable_relay_is_transient(monkeypatch):
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(mail.smtplib, "SMTP", refuse)

    with pytest.raises(MailUnavailable, match="^ConnectionRefusedError$"):
        SmtpRelay().send(a_message())


def test_the_relay_comes_from_the_environment():
    assert SmtpRelay.from_env({}) == SmtpRelay("127.0.0.1", 1025)
    relay = SmtpRelay.from_env({"SMTP_HOST": "relais.example.fr", "SMTP_PORT": "2525", "SMTP_USERNAME": "vitawin",
                                "SMTP_PASSWORD": "secret", "SMTP_STARTTLS": " True "})
    assert relay == SmtpRelay("relais.example.fr", 2525, username="vitawin", password="secret", starttls=True)
    assert SmtpRelay.from_env({"SMTP_USERNAME": "", "SMTP_PASSWORD": ""}).username is None


@pytest.mark.parametrize("value, starttls", [("1", True), ("yes", True), ("ON", True), ("0", False),
                                             ("false", False), ("", False)])
def test_starttls_is_on_for_the_usual_words_of_yes(value, starttls):
    assert SmtpRelay.from_env({"SMTP_STARTTLS": value}).starttls is starttls


def test_the_relays_repr_leaves_the_password_out():
    assert "secret" not in repr(SmtpRelay(username="vitawin", password="secret"))
