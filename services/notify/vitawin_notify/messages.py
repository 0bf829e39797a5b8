"""What each event means for the people it concerns: which emails, to whom, with what French words.
Plain Python, no I/O: the handler looks up what notify keeps (the contact book, the remembered
proposal) and passes it in, and the links are signed elsewhere (`Links`, see vitawin_notify.links).

Every function returns a list of `domain.Email` (empty when there is nobody to write to) and raises
`domain.InvalidAddress` for an address that cannot be sent to. A pupil is never named and a pupil's
address never reaches a professional: the streams carry none, and nothing here asks for one.

The remembered proposal (`remember`) is what notify keeps of a proposal.created.v1 for the emails
that follow it (outcome, reminder, confirmation by the school): ids, the two addresses, the
organisation's name, the request's words, the deadline. Plain JSON values, so it can be stored
as a MongoDB document as is."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Mapping, Protocol, Sequence, TypedDict
from urllib.parse import quote
from zoneinfo import ZoneInfo

from vitawin_notify.domain import (ACTION_LABELS, PROPOSAL_TO_REQUESTER, PROPOSAL_TO_VOLUNTEER, REQUESTER_LABELS,
                                   Email, check_address, french_km, of)

# --- templates (templates/<name>.txt and .html) ----------------------------------------------------
PROPOSAL_TO_REFERENT = "proposal_to_referent"
PROPOSAL_REMINDER = "proposal_reminder"
PROPOSAL_TO_CONFIRM = "proposal_to_confirm"
PROPOSAL_ACCEPTED_VOLUNTEER = "proposal_accepted_volunteer"
PROPOSAL_ACCEPTED_REQUESTER = "proposal_accepted_requester"
PROPOSAL_DECLINED_VOLUNTEER = "proposal_declined_volunteer"
PROPOSAL_DECLINED_REQUESTER = "proposal_declined_requester"
PROPOSAL_EXPIRED_VOLUNTEER = "proposal_expired_volunteer"
PROPOSAL_EXPIRED_REQUESTER = "proposal_expired_requester"
PUPIL_REQUEST = "pupil_request_to_referent"
PLEDGE_CONFIRMATION = "pledge_confirmation"
WELCOME = "welcome"
GUARDIAN_NOTICE = "guardian_notice"
GUARDIAN_PROPOSAL = "guardian_proposal"
GUARDIAN_ACCEPTED = "guardian_accepted"
ERASURE_CONFIRMATION = "erasure_confirmation"
DIGEST = "digest"
TEMPLATES = (PROPOSAL_TO_VOLUNTEER, PROPOSAL_TO_REQUESTER, PROPOSAL_TO_REFERENT, PROPOSAL_REMINDER,
             PROPOSAL_TO_CONFIRM, PROPOSAL_ACCEPTED_VOLUNTEER, PROPOSAL_ACCEPTED_REQUESTER,
             PROPOSAL_DECLINED_VOLUNTEER, PROPOSAL_DECLINED_REQUESTER, PROPOSAL_EXPIRED_VOLUNTEER,
             PROPOSAL_EXPIRED_REQUESTER, PUPIL_REQUEST, PLEDGE_CONFIRMATION, WELCOME, GUARDIAN_NOTICE,
             GUARDIAN_PROPOSAL, GUARDIAN_ACCEPTED, ERASURE_CONFIRMATION, DIGEST)

# --- roles, categories, link sides ---------------------------------------------------------------
VOLUNTEER, REQUESTER, REFERENT, CONTACT, GUARDIAN = "volunteer", "requester", "referent", "contact", "guardian"
PROPOSALS, REQUESTS, ACCOUNT = "proposals", "requests", "account"
ACCEPT, DECLINE = "accept", "decline"
DECLINED_BY_VOLUNTEER, DECLINED_BY_REQUESTER = "declined_by_volunteer", "declined_by_requester"
DEFAULT_ANSWER_DAYS = 7  # matching's MATCHING_ANSWER_DAYS default

# Pages of the platform the emails link to, under `app_url` (the web front end's base URL).
REQUEST_PAGE = "/demandes/{request_id}"
PLEDGE_PAGE = "/engagements/{volunteer_id}"
NEW_PLEDGE_PAGE = "/engagement"  # the web app's pledge form
REQUESTS_PAGE = "/demande"  # the web app's request form
TERRITORY_PAGE = "/tableau-de-bord"  # the territory dashboard
MY_SPACE_PAGE = "/mon-espace"

# --- French words --------------------------------------------------------------------------------
KIND_LABELS = {
    "class_testimony": "témoignage métier en classe",
    "class_intervention": "intervention en classe",
    "job_fair": "forum des métiers",
    "internship_hosting": "accueil d'élèves en stage",
    "job_information": "information sur un métier",
    "discovery_internship": "stage de découverte ou d'observation",
    "apprenticeship_search": "recherche d'alternance",
}
LEVEL_LABELS = {"6e": "6e", "5e": "5e", "4e": "4e", "3e": "3e", "2nde": "seconde", "1re": "première",
                "Tle": "terminale", "CAP1": "CAP, 1re année", "CAP2": "CAP, 2e année"}
PLEDGE_LABELS = {
    "testimony": "témoignage métier",
    "intervention": "intervention en classe ou sensibilisation",
    "internship": "accueil de stagiaires",
    "apprenticeship": "accueil d'alternants",
    "mentoring": "mentorat",
    "job_fair": "participation à des forums des métiers",
}
MODALITY_LABELS = {"on_site": "dans vos locaux", "in_class": "en classe", "remote": "à distance"}
AUDIENCE_LABELS = {"college": "collégiens", "lycee": "lycéens", "all": "collégiens et lycéens"}
AROUND_LABELS = {"school": "autour de l'établissement", "town": "autour de sa commune"}
ORGANISATION_KINDS = frozenset({"company", "craftsman", "local_authority", "association", "public_institution",
                                "partner_organisation"})
FREQUENCY_LABELS = {"daily": "quotidien", "weekly": "hebdomadaire"}
_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre")
PARIS = ZoneInfo("Europe/Paris")

_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
_WEEK = re.compile(r"([0-9]{4})-W([0-9]{2})")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME = re.compile(r"([0-9]{2}):([0-9]{2})")


class Links(Protocol):
    """Signed links (implemented by vitawin_notify.links)."""

    def answer_url(self, proposal_id: str, side: str, answer: str, expires_at: datetime) -> str:
        """A one-click answer link: side "volunteer" or "requester", answer "accept" or "decline"."""

    def unsubscribe_url(self, address: str, category: str) -> str:
        """The link that stops `category` emails for `address` (it also leads to the preferences)."""


@dataclass(frozen=True)
class Territory:
    """The territory's display name and its town names (INSEE code -> name), from the territory
    file: `Territory.from_reference(vitawin_common.territory.load())`."""
    name: str
    towns: Mapping[str, str] = field(default_factory=dict, hash=False)

    @classmethod
    def from_reference(cls, reference: Any) -> "Territory":
        return cls(reference.name, {code: town.name for code, town in reference.towns.items()})

    def town(self, code: str) -> str:
        """The town's name; its code when it is not one of the territory's."""
        return self.towns.get(code, code)


class DigestItem(TypedDict, total=False):
    """One line of a digest. kind: a request kind (class_testimony...) or an action type
    (testimony...), shown by its French label; town: INSEE code; url: where to see it; when: an
    ISO date, an ISO week (2027-W05) or a month (2027-09); level: a school level; status: a short
    French note ("proposition en attente de réponse")."""
    kind: str  # required
    town: str  # required
    url: str  # required
    when: str
    level: str
    status: str


# --- small French helpers ------------------------------------------------------------------------
def one_line(text: Any) -> str:
    """User input made fit for a subject line or a list item: control characters (CR, LF...)
    become spaces, so a name can never add a header or a fake line to an email."""
    return " ".join(_CONTROL.sub(" ", str(text)).split())


def capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def french_date(day: date) -> str:
    """date(2027, 2, 1) -> "lundi 1er février 2027"."""
    number = "1er" if day.day == 1 else str(day.day)
    return f"{_DAYS[day.weekday()]} {number} {_MONTHS[day.month - 1]} {day.year}"


def french_time(hour: int, minute: int) -> str:
    """9, 0 -> "9 h"; 9, 30 -> "9 h 30"."""
    return f"{hour} h" + (f" {minute:02d}" if minute else "")


def french_datetime(moment: datetime) -> str:
    """A moment as read in Paris: "vendredi 4 décembre 2026 à 10 h 30" (a naive moment is UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    local = moment.astimezone(PARIS)
    return f"{french_date(local.date())} à {french_time(local.hour, local.minute)}"


def french_week(week: str) -> str:
    """"2027-W05" -> "semaine du lundi 1er février 2027" (the text as is when it is no ISO week)."""
    found = _WEEK.fullmatch(week)
    if not found:
        return week
    try:
        monday = date.fromisocalendar(int(found[1]), int(found[2]), 1)
    except ValueError:
        return week
    return f"semaine du {french_date(monday)}"


def french_month(month: str) -> str:
    """"2027-09" -> "septembre 2027"."""
    found = _MONTH.fullmatch(month)
    if not found or not 1 <= int(found[2]) <= 12:
        return month
    return f"{_MONTHS[int(found[2]) - 1]} {found[1]}"


def french_when(value: str) -> str:
    """An ISO date, ISO week or month, in French."""
    if _DAY.fullmatch(value):
        try:
            return french_date(date.fromisoformat(value))
        except ValueError:
            return value
    if _WEEK.fullmatch(value):
        return french_week(value)
    return french_month(value)


def round_km(distance: float) -> str:
    """10 -> "10 km", 2.5 -> "2,5 km"."""
    return f"{distance:g}".replace(".", ",") + " km" if float(distance).is_integer() else french_km(distance)


def parse_moment(value: str | datetime) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def iso(moment: datetime) -> str:
    return parse_moment(moment).astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _hours(start: str | None, end: str | None) -> str | None:
    """"09:00", "11:30" -> "de 9 h à 11 h 30"."""
    times = [_TIME.fullmatch(t) for t in (start, end) if t]
    if not times or not all(times):
        return None
    first, *last = (french_time(int(found[1]), int(found[2])) for found in times)
    return f"de {first} à {last[0]}" if last else f"à partir de {first}"


def page_url(app_url: str, path: str, **ids: str) -> str:
    return app_url.rstrip("/") + path.format(**{k: quote(v, safe="") for k, v in ids.items()})


def _item(label: str, value: str) -> dict[str, str]:
    return {"label": label, "value": value}


def request_details(request: Mapping[str, Any], action_type: str, territory: Territory) -> list[dict[str, str]]:
    """What the request is, as label/value lines: its kind (or the action), level, topic, town,
    date and hours, internship weeks, apprenticeship start, jobs. Never who asked."""
    kind = request.get("kind")
    label = KIND_LABELS.get(kind) if kind else None
    lines = [_item("Demande", capitalise(label or ACTION_LABELS.get(action_type, action_type)))]
    level = request.get("level")
    if level:
        lines.append(_item("Niveau", LEVEL_LABELS.get(level, level)))
    elif request.get("levels"):
        lines.append(_item("Niveaux", ", ".join(LEVEL_LABELS.get(lv, lv) for lv in request["levels"])))
    if request.get("topic"):
        lines.append(_item("Thème", one_line(request["topic"])))
    if request.get("rome_jobs"):
        jobs = ", ".join(f"{one_line(job['label'])} ({job['code']})" for job in request["rome_jobs"])
        lines.append(_item("Métiers", jobs))
    lines.append(_item("Commune", territory.town(request["town"])))
    if request.get("around") in AROUND_LABELS:
        lines.append(_item("Recherche", AROUND_LABELS[request["around"]]))
    if request.get("date"):
        when = french_when(request["date"])
        hours = _hours(request.get("start_time"), request.get("end_time"))
        lines.append(_item("Date", f"{when}, {hours}" if hours else when))
    if request.get("period"):
        lines.append(_item("Période", ", ".join(french_week(week) for week in request["period"])))
    if request.get("start"):
        lines.append(_item("Début souhaité", french_month(request["start"])))
    return lines


# --- proposals: what notify remembers ------------------------------------------------------------
_REQUEST_WORDS = ("kind", "level", "levels", "topic", "rome_jobs", "date", "start_time", "end_time", "period",
                  "start", "around")


def school_of(data: Mapping[str, Any]) -> str | None:
    """The UAI of the school concerned: `request.school_uai` of a proposal.created.v1 (an optional
    field matching is asked to add), or `school_uai` of a request.created.v2. None when unknown."""
    request = data.get("request")
    if isinstance(request, Mapping) and request.get("school_uai"):
        return request["school_uai"]
    return data.get("school_uai") or None


def answer_deadline(data: Mapping[str, Any], created_at: datetime,
                    answer_days: int = DEFAULT_ANSWER_DAYS) -> datetime:
    """When the professional must have answered: the event's `deadline` when matching sends it,
    else the event's time plus matching's answer delay."""
    if data.get("deadline"):
        return parse_moment(data["deadline"])
    return parse_moment(created_at) + timedelta(days=answer_days)


def remember(data: Mapping[str, Any], *, deadline: datetime | None,
             referent_email: str | None = None) -> dict[str, Any]:
    """What notify keeps of a proposal.created.v1 (see the module's docstring). requester_email is
    the school's contact for a school's request and the school's referent (from the contact book)
    for a pupil's; None when there is none. Addresses are checked (InvalidAddress)."""
    volunteer, request = data["volunteer"], data["request"]
    kind = request["requester_kind"]
    if kind == "school":
        requester_email = (check_address(request["contact_email"], "request.contact_email")
                           if "contact_email" in request else None)
    else:
        requester_email = (check_address(referent_email, "referent_email")
                           if referent_email is not None else None)
    return {
        "proposal_id": data["proposal_id"],
        "request_id": data["request_id"],
        "volunteer_id": data["volunteer_id"],
        "action_type": data["action_type"],
        "organisation_name": one_line(volunteer["organisation_name"]),
        "volunteer_email": check_address(volunteer.get("contact_email"), "volunteer.contact_email"),
        "volunteer_town": volunteer["town"],
        "requester_kind": kind,
        "requester_email": requester_email,
        "school_uai": school_of(data),
        "request_town": request["town"],
        "request": {key: request[key] for key in _REQUEST_WORDS if request.get(key) is not None},
        "distance_km": float(data["distance_km"]),
        "reasons": [one_line(reason) for reason in data.get("reasons") or ()],
        "score": data.get("score"),
        "deadline": iso(deadline) if deadline is not None else None,
    }


def _proposal_words(proposal: Mapping[str, Any], territory: Territory) -> dict[str, Any]:
    """The words every proposal email shares."""
    label = ACTION_LABELS[proposal["action_type"]]
    request = dict(proposal.get("request") or {}, town=proposal["request_town"])
    deadline = proposal.get("deadline")
    score = proposal.get("score")
    return {
        "proposal_id": proposal["proposal_id"],
        "action_label": label,
        "action_of": of(label),
        "distance": french_km(float(proposal["distance_km"])),
        "volunteer_town": territory.town(proposal["volunteer_town"]),
        "request_town": territory.town(proposal["request_town"]),
        "organisation_name": proposal["organisation_name"],
        "requester_kind": proposal["requester_kind"],
        "requester_label": REQUESTER_LABELS[proposal["requester_kind"]],
        "your_request": (f"la demande {of(label)} d'un ou d'une élève de votre établissement"
                         if proposal["requester_kind"] == "pupil" else f"votre demande {of(label)}"),
        "details": request_details(request, proposal["action_type"], territory),
        "reasons": list(proposal.get("reasons") or ()),
        "score_percent": round(100 * float(score)) if score is not None else None,
        "deadline_text": french_datetime(parse_moment(deadline)) if deadline else None,
        "territory_name": territory.name,
    }


def _email(event_id: str, template: str, to: str, subject: str, context: dict[str, Any], *, role: str,
           subject_id: str, category: str, links: Links | None) -> Email:
    unsubscribe = links.unsubscribe_url(to, category) if links is not None and category != ACCOUNT else None
    return Email(event_id, template, to, one_line(subject), context, role, subject_id, category, unsubscribe)


def _answer_links(proposal: Mapping[str, Any], side: str, expires_at: datetime | None,
                  links: Links | None) -> dict[str, str | None]:
    if links is None or expires_at is None:
        return {"accept_url": None, "decline_url": None}
    return {"accept_url": links.answer_url(proposal["proposal_id"], side, ACCEPT, expires_at),
            "decline_url": links.answer_url(proposal["proposal_id"], side, DECLINE, expires_at)}


def _to_volunteer(event_id: str, proposal: Mapping[str, Any], territory: Territory, links: Links | None, *,
                  template: str, subject: str) -> Email:
    words = _proposal_words(proposal, territory)
    deadline = parse_moment(proposal["deadline"]) if proposal.get("deadline") else None
    # An address notify forgot (its owner erased their account) is simply absent.
    school_contact = proposal.get("requester_email") if proposal["requester_kind"] == "school" else None
    context = dict(words, greeting_name=proposal["organisation_name"], school_contact=school_contact,
                   **_answer_links(proposal, VOLUNTEER, deadline, links))
    return _email(event_id, template, proposal["volunteer_email"], subject, context, role=VOLUNTEER,
                  subject_id=proposal["proposal_id"], category=PROPOSALS, links=links)


# --- proposals: the emails -----------------------------------------------------------------------
def proposal_created(event_id: str, data: Mapping[str, Any], territory: Territory, links: Links, *,
                     deadline: datetime, referent_email: str | None = None) -> list[Email]:
    """A new proposal (proposal.created.v1): the professional gets the request, the reasons of the
    match and the Accepter / Refuser links (side volunteer, valid until `deadline`, see
    `answer_deadline`); the requester is told too: a school's request its contact e-mail, a
    pupil's request the school's referent (`referent_email`, looked up by the handler in the
    contact book with `school_of(data)`; informational: the referent confirms only after the
    professional accepted, see `confirmation_request`). A pupil's request of the v1 era may still
    carry the pupil's own contact e-mail: it gets the requester's email, as before."""
    return _proposal_created(event_id, data, territory, links, deadline, referent_email)


def _proposal_created(event_id: str, data: Mapping[str, Any], territory: Territory, links: Links | None,
                      deadline: datetime | None, referent_email: str | None) -> list[Email]:
    proposal = remember(data, deadline=deadline, referent_email=referent_email)
    label = ACTION_LABELS[proposal["action_type"]]
    emails = [_to_volunteer(event_id, proposal, territory, links, template=PROPOSAL_TO_VOLUNTEER,
                            subject=f"Vitawin : une demande {of(label)} près de chez vous")]
    words = _proposal_words(proposal, territory)
    request, kind = data["request"], proposal["requester_kind"]
    requester_to = proposal["requester_email"] if kind == "school" else (
        check_address(request["contact_email"], "request.contact_email") if "contact_email" in request else None)
    if requester_to is not None:  # a school's contact, or a v1-era pupil's own address
        emails.append(_email(event_id, PROPOSAL_TO_REQUESTER, requester_to,
                             "Vitawin : un professionnel peut répondre à votre demande",
                             dict(words, greeting_name=None), role=REQUESTER, subject_id=proposal["proposal_id"],
                             category=PROPOSALS, links=links))
    if kind == "pupil" and proposal["requester_email"] is not None:
        emails.append(_email(event_id, PROPOSAL_TO_REFERENT, proposal["requester_email"],
                             "Vitawin : un professionnel est proposé à un élève de votre établissement",
                             dict(words, greeting_name=None), role=REFERENT, subject_id=proposal["proposal_id"],
                             category=PROPOSALS, links=links))
    return emails


def reminder(event_id: str, proposal: Mapping[str, Any], territory: Territory, links: Links) -> list[Email]:
    """The professional has not answered yet: the same request and links, "Rappel : ...".
    `event_id`: a stable id of this reminder (e.g. "reminder:<proposal_id>"), so it is sent once."""
    label = ACTION_LABELS[proposal["action_type"]]
    if not proposal.get("volunteer_email"):
        return []  # the professional erased their account: nobody to remind
    return [_to_volunteer(event_id, proposal, territory, links, template=PROPOSAL_REMINDER,
                          subject=f"Rappel : une demande {of(label)} attend votre réponse")]


def confirmation_request(event_id: str, proposal: Mapping[str, Any], territory: Territory, links: Links, *,
                         expires_at: datetime, is_reminder: bool = False) -> list[Email]:
    """A pupil's request the professional accepted waits for the school: the referent gets the
    Confirmer / Refuser links (side requester, valid until `expires_at`). Nothing when no referent
    is known. `is_reminder` for the reminder of the same (another event_id)."""
    to = proposal.get("requester_email")
    if proposal["requester_kind"] != "pupil" or to is None:
        return []
    words = _proposal_words(proposal, territory)
    context = dict(words, greeting_name=None, is_reminder=is_reminder, links_deadline_text=french_datetime(expires_at),
                   **_answer_links(proposal, REQUESTER, expires_at, links))
    subject = ("Rappel : " if is_reminder else "Vitawin : ") + \
        "confirmez la mise en relation d'un élève de votre établissement"
    return [_email(event_id, PROPOSAL_TO_CONFIRM, check_address(to, "requester_email"), subject, context,
                   role=REFERENT, subject_id=proposal["proposal_id"], category=PROPOSALS, links=links)]


def _requester_role(proposal: Mapping[str, Any]) -> str:
    return REQUESTER if proposal["requester_kind"] == "school" else REFERENT


def _both(event_id: str, proposal: Mapping[str, Any], territory: Territory, links: Links, *,
          templates: tuple[str, str], subjects: tuple[str, str], extra: Mapping[str, Any]) -> list[Email]:
    """Both parties, each when notify still has their address (an erased person's is forgotten)."""
    words = dict(_proposal_words(proposal, territory), **extra)
    emails = []
    if proposal.get("volunteer_email") is not None:
        volunteer_to = check_address(proposal["volunteer_email"], "volunteer_email")
        emails.append(_email(event_id, templates[0], volunteer_to, subjects[0],
                             dict(words, greeting_name=proposal["organisation_name"]), role=VOLUNTEER,
                             subject_id=proposal["proposal_id"], category=PROPOSALS, links=links))
    if proposal.get("requester_email") is not None:
        emails.append(_email(event_id, templates[1], check_address(proposal["requester_email"], "requester_email"),
                             subjects[1], dict(words, greeting_name=None), role=_requester_role(proposal),
                             subject_id=proposal["proposal_id"], category=PROPOSALS, links=links))
    return emails


def proposal_accepted(event_id: str, proposal: Mapping[str, Any], territory: Territory,
                      links: Links) -> list[Email]:
    """proposal.accepted.v1 (final: for a pupil's request, the referent confirmed): each party gets
    the other's contact: the professional the school's address, the school the organisation and
    the professional's address."""
    label = ACTION_LABELS[proposal["action_type"]]
    pupil = proposal["requester_kind"] == "pupil"
    return _both(event_id, proposal, territory, links,
                 templates=(PROPOSAL_ACCEPTED_VOLUNTEER, PROPOSAL_ACCEPTED_REQUESTER),
                 subjects=(f"Vitawin : la mise en relation pour la demande {of(label)} est confirmée",
                           "Vitawin : la mise en relation pour votre élève est confirmée" if pupil else
                           f"Vitawin : {proposal['organisation_name']} a accepté votre demande {of(label)}"),
                 extra={"school_contact": proposal.get("requester_email"),
                        "volunteer_contact": proposal.get("volunteer_email")})


def proposal_declined(event_id: str, proposal: Mapping[str, Any], territory: Territory, links: Links, *,
                      reason: str) -> list[Email]:
    """proposal.declined.v1 (`reason`: its declined_by_volunteer | declined_by_requester): neutral
    words to both; the requester learns that another professional will be proposed."""
    if reason not in (DECLINED_BY_VOLUNTEER, DECLINED_BY_REQUESTER):
        raise ValueError(f"unknown reason {reason!r}")
    by_volunteer = reason == DECLINED_BY_VOLUNTEER
    return _both(event_id, proposal, territory, links,
                 templates=(PROPOSAL_DECLINED_VOLUNTEER, PROPOSAL_DECLINED_REQUESTER),
                 subjects=("Vitawin : votre réponse est enregistrée" if by_volunteer else
                           "Vitawin : la proposition ne sera pas poursuivie",
                           "Vitawin : un autre professionnel va être proposé"),
                 extra={"declined_by_volunteer": by_volunteer})


def proposal_expired(event_id: str, proposal: Mapping[str, Any], territory: Territory,
                     links: Links) -> list[Email]:
    """proposal.expired.v1: the professional learns the proposal expired, the requester that
    another professional will be proposed."""
    return _both(event_id, proposal, territory, links,
                 templates=(PROPOSAL_EXPIRED_VOLUNTEER, PROPOSAL_EXPIRED_REQUESTER),
                 subjects=("Vitawin : la proposition a expiré", "Vitawin : un autre professionnel va être proposé"),
                 extra={})


# --- proposals: the guardian's copies (issue 6) --------------------------------------------------
# What a guardian's copy shows: what was proposed and by whom, never anybody's address.
_GUARDIAN_WORDS = ("proposal_id", "action_label", "action_of", "organisation_name", "volunteer_town", "request_town",
                   "distance", "details", "territory_name")


def _to_guardian(event_id: str, proposal: Mapping[str, Any], guardian_email: str, territory: Territory,
                 links: Links, *, template: str, subject: str) -> list[Email]:
    if proposal["requester_kind"] != "pupil":
        return []
    to = check_address(guardian_email, "guardian_email")
    words = _proposal_words(proposal, territory)
    context = dict({name: words[name] for name in _GUARDIAN_WORDS}, greeting_name=None)
    return [_email(event_id, template, to, subject, context, role=GUARDIAN, subject_id=proposal["proposal_id"],
                   category=PROPOSALS, links=links)]


def guardian_proposal(event_id: str, proposal: Mapping[str, Any], guardian_email: str, territory: Territory,
                      links: Links) -> list[Email]:
    """proposal.created.v1 of a pupil's request, when the pupil's school asks for guardian copies:
    a copy for the pupil's guardian (`guardian_email`, found by the handler from the link request
    -> pupil and the contact book): what was proposed (the request, the organisation, its town, the
    distance) and that the school confirms each placement. No answer links, no address of anyone;
    the professional is never told the guardian's address. Nothing for a school's request."""
    return _to_guardian(event_id, proposal, guardian_email, territory, links, template=GUARDIAN_PROPOSAL,
                        subject="Vitawin : un professionnel est proposé pour la demande de votre enfant")


def guardian_accepted(event_id: str, proposal: Mapping[str, Any], guardian_email: str, territory: Territory,
                      links: Links) -> list[Email]:
    """proposal.accepted.v1 of a pupil's request (the school confirmed it), when the pupil's school
    asks for guardian copies: a copy for the guardian, with the same words as `guardian_proposal`
    and no address of anyone (the school's referent makes the link with the professional)."""
    return _to_guardian(event_id, proposal, guardian_email, territory, links, template=GUARDIAN_ACCEPTED,
                        subject="Vitawin : la mise en relation pour la demande de votre enfant est confirmée")


# --- requests ------------------------------------------------------------------------------------
def pupil_request(event_id: str, data: Mapping[str, Any], referent_email: str, territory: Territory,
                  links: Links, *, app_url: str) -> list[Email]:
    """request.created.v2 of a pupil: the school's referent (looked up by `school_of(data)`) learns
    what was asked (kind, level, town, dates), never by whom, with a link to the request."""
    if data.get("requester_kind") != "pupil":
        return []
    to = check_address(referent_email, "referent_email")
    context = {"details": request_details(data, data["action_type"], territory),
               "request_url": page_url(app_url, REQUEST_PAGE, request_id=data["request_id"]),
               "greeting_name": None, "territory_name": territory.name}
    return [_email(event_id, PUPIL_REQUEST, to, "Vitawin : nouvelle demande d'un élève de votre établissement",
                   context, role=REFERENT, subject_id=data["request_id"], category=REQUESTS, links=links)]


def digest(event_id: str, to: str, items: Sequence[DigestItem], territory: Territory, links: Links, *,
           role: str, category: str, frequency: str, subject_id: str,
           greeting_name: str | None = None) -> list[Email]:
    """One email listing `items` (daily or weekly, instead of one email each); nothing when there
    are none. `event_id`: a stable id of this digest (e.g. "digest:<recipient hash>:<date>");
    `subject_id`: whom it is for (actor id or school UAI)."""
    if not items:
        return []
    if frequency not in FREQUENCY_LABELS:
        raise ValueError(f"unknown frequency {frequency!r}")
    lines = []
    for item in items:
        label = KIND_LABELS.get(item["kind"]) or ACTION_LABELS.get(item["kind"], item["kind"])
        parts = [territory.town(item["town"])]
        if item.get("level"):
            parts.append(LEVEL_LABELS.get(item["level"], item["level"]))
        if item.get("when"):
            parts.append(french_when(item["when"]))
        if item.get("status"):
            parts.append(one_line(item["status"]))
        lines.append({"title": capitalise(label), "summary": ", ".join(parts), "url": item["url"]})
    count = len(lines)
    context = {"items": lines, "frequency_label": FREQUENCY_LABELS[frequency],
               "greeting_name": one_line(greeting_name) if greeting_name else None, "territory_name": territory.name}
    subject = (f"Vitawin : votre résumé {FREQUENCY_LABELS[frequency]} "
               f"({count} élément{'s' if count > 1 else ''})")
    return [_email(event_id, DIGEST, check_address(to, "to"), subject, context, role=role, subject_id=subject_id,
                   category=category, links=links)]


def digest_of_emails(event_id: str, to: str, emails: Sequence[Email], territory: Territory, links: Links, *,
                     app_url: str, frequency: str, subject_id: str) -> list[Email]:
    """One digest email for the emails a person chose to get together (their preferences): each
    line is an email's subject with the links that email carried (answer links included, so a
    professional can still answer from the digest). Nothing when there are none."""
    if not emails:
        return []
    if frequency not in FREQUENCY_LABELS:
        raise ValueError(f"unknown frequency {frequency!r}")
    lines = []
    for email in emails:
        context = email.context
        title = one_line(email.subject).removeprefix("Vitawin : ")
        url = next((context[k] for k in ("request_url", "pledge_url", "accept_url") if context.get(k)),
                   page_url(app_url, MY_SPACE_PAGE))
        extra = [{"text": "Refuser", "url": context["decline_url"]}] if context.get("decline_url") and url == context.get("accept_url") else []
        summary_parts = [context[k] for k in ("request_town", "distance") if context.get(k)]
        lines.append({"title": capitalise(title), "summary": ", ".join(str(p) for p in summary_parts) or "voir le détail",
                      "url": url, "extra_links": extra,
                      "link_text": "Accepter" if url == context.get("accept_url") else None})
    count = len(lines)
    category = emails[0].category
    context = {"items": lines, "frequency_label": FREQUENCY_LABELS[frequency], "greeting_name": None,
               "territory_name": territory.name}
    subject = (f"Vitawin : votre résumé {FREQUENCY_LABELS[frequency]} "
               f"({count} élément{'s' if count > 1 else ''})")
    return [_email(event_id, DIGEST, check_address(to, "to"), subject, context, role=emails[0].role,
                   subject_id=subject_id, category=category, links=links)]


# --- account -------------------------------------------------------------------------------------
def pledge_confirmation(event_id: str, data: Mapping[str, Any], territory: Territory, *,
                        app_url: str) -> list[Email]:
    """volunteer.registered.v1: the pledge's contact gets what was pledged, how far, and how to
    pause or withdraw it."""
    to = check_address(data.get("contact_email"), "contact_email")
    settings = data.get("actions") or {}
    pledge_km = float(data["max_distance_km"])
    actions = []
    for action in data["action_types"]:
        own = settings.get(action) or {}
        notes = []
        if own.get("modality") in MODALITY_LABELS:
            notes.append(MODALITY_LABELS[own["modality"]])
        if own.get("audience") in AUDIENCE_LABELS:
            notes.append(f"pour des {AUDIENCE_LABELS[own['audience']]}")
        if own.get("max_distance_km") is not None and float(own["max_distance_km"]) != pledge_km:
            notes.append(f"jusqu'à {round_km(float(own['max_distance_km']))}")
        actions.append({"label": capitalise(PLEDGE_LABELS.get(action, action)), "notes": ", ".join(notes)})
    name = one_line(data["organisation_name"])
    context = {"organisation_name": name, "greeting_name": name, "actions": actions,
               "max_distance": round_km(pledge_km), "town": territory.town(data["town"]),
               "pledge_url": page_url(app_url, PLEDGE_PAGE, volunteer_id=data["volunteer_id"]),
               "territory_name": territory.name}
    return [_email(event_id, PLEDGE_CONFIRMATION, to, "Vitawin : votre engagement est enregistré", context,
                   role=VOLUNTEER, subject_id=data["volunteer_id"], category=ACCOUNT, links=None)]


def welcome(event_id: str, data: Mapping[str, Any], territory: Territory, *, app_url: str) -> list[Email]:
    """contact.registered.v1: a welcome to `email` by kind (organisation, school referent,
    territory manager); for a pupil, a notice to the guardian (`guardian_email`) that their child
    registered (the pupil's name is on no stream: "votre enfant")."""
    kind, actor_id = data["kind"], data["actor_id"]
    emails = []
    if data.get("email") is not None and kind != "pupil":
        to = check_address(data["email"], "email")
        name = one_line(data.get("display_name") or "") or None
        if kind == "school":
            audience, greeting, start = "school", None, (REQUESTS_PAGE, "Publier une demande pour vos classes")
        elif kind == "territory_manager":
            audience, greeting, start = "territory_manager", name, (TERRITORY_PAGE, "Ouvrir l'espace du territoire")
        elif kind in ORGANISATION_KINDS:
            audience, greeting, start = "organisation", name, (NEW_PLEDGE_PAGE, "Proposer un engagement")
        else:
            raise ValueError(f"unknown kind {kind!r}")
        context = {"audience": audience, "display_name": name, "greeting_name": greeting,
                   "organisation_name": one_line(data["organisation_name"]) if data.get("organisation_name") else None,
                   "start_url": page_url(app_url, start[0]), "start_label": start[1],
                   "territory_name": territory.name}
        emails.append(_email(event_id, WELCOME, to, "Bienvenue sur Vitawin", context, role=CONTACT,
                             subject_id=actor_id, category=ACCOUNT, links=None))
    if kind == "pupil" and data.get("guardian_email") is not None:
        to = check_address(data["guardian_email"], "guardian_email")
        emails.append(_email(event_id, GUARDIAN_NOTICE, to, "Vitawin : inscription de votre enfant",
                             {"greeting_name": None, "territory_name": territory.name}, role=GUARDIAN,
                             subject_id=actor_id, category=ACCOUNT, links=None))
    return emails


def erasure_confirmation(event_id: str, data: Mapping[str, Any], address: str,
                         territory: Territory) -> list[Email]:
    """actor.erased.v1: the last email to the address notify still held for this actor (passed in
    by the handler, which forgets it afterwards)."""
    to = check_address(address, "address")
    context = {"pupil": data["kind"] == "pupil", "erased_on": french_date(parse_moment(data["erased_at"])
                                                                          .astimezone(PARIS).date()),
               "greeting_name": None, "territory_name": territory.name}
    return [_email(event_id, ERASURE_CONFIRMATION, to, "Vitawin : les données du compte ont été effacées", context,
                   role=GUARDIAN if data["kind"] == "pupil" else CONTACT, subject_id=data["actor_id"],
                   category=ACCOUNT, links=None)]
