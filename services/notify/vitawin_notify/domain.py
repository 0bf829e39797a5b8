"""What a proposal means for the people involved: which emails it calls for, with what words.
Plain Python, no I/O."""
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


@dataclass(frozen=True)
class Email:
    event_id: str
    template: str
    to: str
    subject: str
    context: dict[str, Any] = field(hash=False)

    @property
    def key(self) -> str:
        return delivery_key(self.event_id, self.to, self.template)


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


def emails_for_proposal(event_id: str, data: Mapping[str, Any], towns: Mapping[str, str]) -> list[Email]:
    """The emails a new proposal calls for: one to the professional, and one to the requester when
    the request has a contact e-mail (a pupil's request from fr.vitawin.request.created.v2 on has
    none: `request.contact_email` is then absent, and only the professional is told). A pupil's
    address is never given to the professional; a school's contact may be."""
    volunteer, request = data["volunteer"], data["request"]
    volunteer_to = check_address(volunteer.get("contact_email"), "volunteer.contact_email")
    requester_to = (check_address(request["contact_email"], "request.contact_email")
                    if "contact_email" in request else None)  # present but null is invalid, as in the contract
    label = ACTION_LABELS[data["action_type"]]
    kind = request["requester_kind"]
    common = {
        "proposal_id": data["proposal_id"],
        "action_label": label,
        "action_of": of(label),
        "distance": french_km(float(data["distance_km"])),
        "volunteer_town": towns.get(volunteer["town"], volunteer["town"]),
        "request_town": towns.get(request["town"], request["town"]),
        "organisation_name": volunteer["organisation_name"],
        "requester_kind": kind,
    }
    to_volunteer = dict(common, requester_label=REQUESTER_LABELS[kind],
                        school_contact=requester_to if kind == "school" else None)
    emails = [Email(event_id, PROPOSAL_TO_VOLUNTEER, volunteer_to,
                    f"Vitawin : une demande {of(label)} près de chez vous", to_volunteer)]
    if requester_to is not None:
        emails.append(Email(event_id, PROPOSAL_TO_REQUESTER, requester_to,
                            "Vitawin : un professionnel peut répondre à votre demande", dict(common)))
    return emails
