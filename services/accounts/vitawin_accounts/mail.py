"""The sign-in e-mail: French text and HTML (Jinja2 templates in vitawin_accounts/templates),
and how it is sent (a `Mailer`: vitawin_common.mail.SmtpRelay in production, an in-memory one in
tests).

The message carries a secret (the link's token): it is never logged, and the relay's errors
(vitawin_common.mail.MailError) never carry the relay's text, which often quotes the recipient's
address."""
from __future__ import annotations

import os
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import formatdate, make_msgid, parseaddr
from typing import Protocol

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from vitawin_accounts.domain import Membership

SUBJECT = "Votre lien de connexion à Vitawin"
DEFAULT_SENDER = "Vitawin <no-reply@vitawin.fr>"

_templates = Environment(
    loader=PackageLoader("vitawin_accounts", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True, default=False),
    undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
)


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Hand `message` to the relay; raise vitawin_common.mail.MailError when it could not."""


def sign_in_email(to: str, url: str, memberships: list[Membership], *, minutes: int,
                  sender: str = DEFAULT_SENDER) -> EmailMessage:
    """The sign-in link to `to`, in text and HTML. Says how long the link lasts, that nobody from
    Vitawin will ask for it, and, for a pupil's membership, that it is the pupil's link sent to
    the guardian (pupils have no e-mail address in Vitawin)."""
    pupils = [m for m in memberships if m.role == "pupil"]
    others = [m for m in memberships if m.role != "pupil"]
    context = {"subject": SUBJECT, "url": url, "minutes": minutes, "pupils": pupils, "others": others}
    # Lines of up to 998 characters (RFC 5322), so that the link is never folded.
    message = EmailMessage(policy=default_policy.clone(max_line_length=998))
    message["From"] = sender
    message["To"] = Address(addr_spec=to)
    message["Subject"] = SUBJECT
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or "vitawin.fr")
    message["Auto-Submitted"] = "auto-generated"
    message["X-Vitawin-Template"] = "sign_in_link"
    message.set_content(_templates.get_template("sign_in_link.txt").render(context), cte="quoted-printable")
    message.add_alternative(_templates.get_template("sign_in_link.html").render(context), subtype="html",
                            cte="quoted-printable")
    return message


def sender_from_env(env=os.environ) -> str:
    """MAIL_FROM, else SMTP_FROM (the stack's one sender, notify's setting), else
    "Vitawin <no-reply@vitawin.fr>"."""
    return env.get("MAIL_FROM") or env.get("SMTP_FROM") or DEFAULT_SENDER
