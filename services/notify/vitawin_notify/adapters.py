"""The outside world of notify: the email templates, the SMTP relay, and the territory file (town
names). What notify keeps in MongoDB is in `store`."""
from __future__ import annotations

from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from vitawin_common import territory
from vitawin_common.mail import MailUnavailable, RecipientRefused, SmtpRelay

from vitawin_notify.domain import Email, RecipientRejected


_templates = Environment(
    loader=PackageLoader("vitawin_notify", "templates"),
    # every .html template (layout and macros too) escaped: organisation names and topics are user
    # input; .txt templates are plain text
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True, default=False),
    undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
)


def compose(email: Email, sender: str) -> EmailMessage:
    """Render `email` as plain text with an HTML alternative.

    No header can be injected: the addresses were checked by the domain, the message functions
    make every subject one line (`messages.one_line`), and EmailMessage refuses CR/LF in any header
    value anyway (ValueError: a bug, never sent). With an unsubscribe link: `List-Unsubscribe`
    and, for an https link, `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058). Lines
    of up to 998 characters (RFC 5322), so that the signed link is never folded or encoded."""
    from email.policy import default as default_policy

    from vitawin_notify.domain import CATEGORY_LABELS

    message = EmailMessage(policy=default_policy.clone(max_line_length=998))
    message["From"] = sender
    message["To"] = Address(addr_spec=email.to)
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    # Derived from the delivery key: a copy resent after a crash carries the same Message-ID.
    domain = parseaddr(sender)[1].rpartition("@")[2] or "vitawin.fr"
    message["Message-ID"] = f"<{email.key[:40]}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message["X-Vitawin-Template"] = email.template  # which email it is (ops, tests, mail filters): no personal data
    url = email.unsubscribe_url
    if url is not None:
        if not url.startswith(("https://", "http://")) or any(c.isspace() or c in '<>"' for c in url):
            raise ValueError("unsubscribe_url: not a plain http(s) URL")
        message["List-Unsubscribe"] = f"<{url}>"
        if url.startswith("https://"):  # RFC 8058 one-click needs https (http: local stacks only)
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    layout = {"subject": email.subject, "unsubscribe_url": url,
              "category_label": CATEGORY_LABELS.get(email.category, email.category)}
    text = _templates.get_template(f"{email.template}.txt").render(email.context, **layout)
    html = _templates.get_template(f"{email.template}.html").render(email.context, **layout)
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    return message


class TransientMailError(Exception):
    """The relay could not take the email now; the event will be retried."""


class SmtpMailer:
    """Composes each email and hands it to the relay (vitawin_common.mail.SmtpRelay: its own short
    SMTP session, errors without the relay's text, which often quotes the recipient's address and
    would end up in the logs). A recipient refused for good (5xx) is RecipientRejected; anything
    else, TransientMailError."""

    def __init__(self, host: str = "127.0.0.1", port: int = 1025,
                 sender: str = "Vitawin <ne-pas-repondre@vitawin.fr>", username: str | None = None,
                 password: str | None = None, starttls: bool = False, timeout: float = 10.0):
        self.sender = sender
        self.relay = SmtpRelay(host, port, username=username, password=password, starttls=starttls,
                               timeout=timeout)

    def send(self, email: Email) -> None:
        message = compose(email, self.sender)
        try:
            self.relay.send(message)
        except RecipientRefused as exc:
            raise RecipientRejected(str(exc)) from None
        except MailUnavailable as exc:
            raise TransientMailError(str(exc)) from None


def load_towns(path: Path | None = None) -> dict[str, str]:
    """INSEE code -> town name, from the territory file (this deployment's unless `path`)."""
    return {code: town.name for code, town in territory.load(path).towns.items()}
