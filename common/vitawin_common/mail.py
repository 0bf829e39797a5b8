"""The SMTP relay the services hand their e-mails to: one short SMTP session per message
(STARTTLS and login when the relay asks for them).

Settings (`SmtpRelay.from_env`): SMTP_HOST (127.0.0.1), SMTP_PORT (1025), and for a relay that asks
for them SMTP_USERNAME, SMTP_PASSWORD, SMTP_STARTTLS (1, true, yes or on).

A failed send raises a `MailError` that names the error type and the SMTP codes only, never the
relay's text, which often quotes the recipient's address and would end up in the logs:
`RecipientRefused` when the relay refused every recipient for good (5xx: retrying cannot help),
`MailUnavailable` for anything else (a 4xx, a lost connection, an unreachable relay: try again
later). What a refusal means to a service (a final failure, a retry, the same answer) is the
service's business."""
from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage

from vitawin_common import metrics

TRUE = {"1", "true", "yes", "on"}


class MailError(Exception):
    """The relay did not take the e-mail (the text names the error type and codes, never an
    address)."""


class RecipientRefused(MailError):
    """The relay refused every recipient with a 5xx code: permanent, retrying cannot help."""

    def __init__(self, message: str, codes: tuple[int, ...] = ()):
        super().__init__(message)
        self.codes = codes


class MailUnavailable(MailError):
    """The relay could not take the e-mail now (4xx, connection, timeout...): transient."""


@dataclass
class SmtpRelay:
    """Where the e-mails go. Its repr leaves the password out."""

    host: str = "127.0.0.1"
    port: int = 1025
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    timeout: float = 10.0

    @classmethod
    def from_env(cls, env=os.environ) -> "SmtpRelay":
        return cls(host=env.get("SMTP_HOST", "127.0.0.1"), port=int(env.get("SMTP_PORT", "1025")),
                   username=env.get("SMTP_USERNAME") or None, password=env.get("SMTP_PASSWORD") or None,
                   starttls=env.get("SMTP_STARTTLS", "").strip().lower() in TRUE)

    def send(self, message: EmailMessage) -> None:
        """Hand `message` to the relay on its own session; RecipientRefused or MailUnavailable
        (raised `from None`: the smtplib error and its text are not chained) when it could not.
        Each outcome is counted in `vitawin_emails_total`, by the message's X-Vitawin-Template."""
        template = str(message.get("X-Vitawin-Template") or "unknown")[:60]
        try:
            self._send(message)
        except RecipientRefused:
            metrics.EMAILS.labels(template, "refused").inc()
            raise
        except MailUnavailable:
            metrics.EMAILS.labels(template, "unavailable").inc()
            raise
        metrics.EMAILS.labels(template, "sent").inc()

    def _send(self, message: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted(code for code, _ in exc.recipients.values())
            if codes and all(500 <= code < 600 for code in codes):
                raise RecipientRefused(f"recipient refused by the relay ({codes})", tuple(codes)) from None
            raise MailUnavailable(f"recipient deferred by the relay ({codes})") from None
        except smtplib.SMTPResponseException as exc:
            raise MailUnavailable(f"{type(exc).__name__} {exc.smtp_code}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise MailUnavailable(type(exc).__name__) from None
