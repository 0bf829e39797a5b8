"""The email model of notify, the delivery key and the address rules. Plain Python, no I/O.
Which emails each event calls for, with what words: `vitawin_notify.messages`."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Any, Mapping

PROPOSAL_TO_VOLUNTEER = "proposal_to_volunteer"
PROPOSAL_TO_REQUESTER = "proposal_to_requester"

ACTION_LABELS = {
    "testimony": "témoignage métier",
    "intervention": "intervention en classe",
    "internship": "stage",
    "apprenticeship": "alternance",
    "mentoring": "mentorat",
    "job_fair": "forum des métiers",
}
REQUESTER_LABELS = {"school": "Un établissement scolaire", "pupil": "Un ou une élève"}

# A deliberately plain address: ASCII dot-atoms only, no display name, no quoting, no comments,
# so nothing in it can break out of a header or surprise a relay.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+")


class InvalidAddress(ValueError):
    """An address we will never be able to send to (the message names the field, not the value)."""


class RecipientRejected(Exception):
    """The mail relay refused a recipient for good (5xx): retrying cannot help."""


ROLES = ("volunteer", "requester", "referent", "contact", "guardian")  # whom an email is for (no address)
# What a person can unsubscribe from; "account" emails (welcome, pledge confirmation, erasure) are
# transactional: no unsubscribe link.
CATEGORIES = ("proposals", "requests", "account")
CATEGORY_LABELS = {"proposals": "propositions de mise en relation", "requests": "demandes de votre établissement",
                   "account": "compte"}


@dataclass(frozen=True)
class Email:
    """One email to one address. `context` holds the template's words, JSON-friendly values only
    (str, numbers, bool, None, lists, dicts) so that an email can travel in a retry event.
    `subject_id` is the proposal, request or actor id the email is about; `unsubscribe_url` is the
    one-click link of `category` for this address (None for "account")."""
    event_id: str
    template: str
    to: str
    subject: str
    context: dict[str, Any] = field(hash=False)
    role: str
    subject_id: str
    category: str
    unsubscribe_url: str | None = None

    def __post_init__(self):
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}")
        if self.category not in CATEGORIES:
            raise ValueError(f"unknown category {self.category!r}")
        if self.category == "account" and self.unsubscribe_url is not None:
            raise ValueError("an account email has no unsubscribe link")

    @property
    def key(self) -> str:
        return delivery_key(self.event_id, self.to, self.template)

    def to_document(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "template": self.template, "to": self.to, "subject": self.subject,
                "context": self.context, "role": self.role, "subject_id": self.subject_id,
                "category": self.category, "unsubscribe_url": self.unsubscribe_url}

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> "Email":
        return cls(doc["event_id"], doc["template"], doc["to"], doc["subject"], dict(doc["context"]),
                   doc["role"], doc["subject_id"], doc["category"], doc.get("unsubscribe_url"))


def delivery_key(event_id: str, recipient: str, template: str) -> str:
    """One delivery per (event, recipient, template): the same event delivered again maps to the
    same key, so it is sent once."""
    return hashlib.sha256("\x00".join((event_id, recipient, template)).encode()).hexdigest()


def recipient_hash(address: str) -> str:
    """What we keep of an address: enough to tell two deliveries apart, not to read it back."""
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()


def check_address(address: Any, where: str) -> str:
    if (not isinstance(address, str) or len(address) > 254 or not _ADDRESS.fullmatch(address)
            or parseaddr(address) != ("", address)):
        raise InvalidAddress(f"{where}: invalid email address")
    return address


def french_km(distance: float) -> str:
    """2.8 -> "2,8 km" (French decimal comma)."""
    return f"{distance:.1f}".replace(".", ",") + " km"


def of(label: str) -> str:
    """French "de" with elision: "de stage", "d'alternance"."""
    return ("d'" if label[:1].lower() in "aàâeéèêiîoôuy" else "de ") + label
