"""The vocabulary and the rules of initiatives and calls for projects (plain Python, no I/O): kinds,
kinds of partners, statuses, roles and limits; the refusals a change raises; the days of the
territory (deadlines are dates in its time zone); and the rules across fields that a publication
and an edit keep (`check_rules`)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from vitawin_common.territory import InvalidPlace, Territory, check_near_centre

KINDS = {"initiative": "initiative", "call_for_projects": "appel à projets"}
PARTNER_KINDS = {
    "company": "entreprise",
    "craftsman": "artisan",
    "local_authority": "collectivité territoriale",
    "association": "association",
    "public_institution": "établissement public",
    "partner_organisation": "organisation partenaire",
    "school": "établissement scolaire",
}
STATUSES = {"open": "ouverte", "closed": "clôturée"}
CLOSE_REASONS = {
    "deadline_passed": "date limite de candidature passée",
    "closed_by_publisher": "clôturée par l'acteur qui l'a publiée",
    "closed_by_territory_manager": "clôturée par un gestionnaire de territoire",
}
PUBLISHER_ROLES = ("professional", "school_referent", "territory_manager")
PARTICIPANT_ROLES = ("professional", "school_referent", "territory_manager", "partner")
TERRITORY_MANAGER = "territory_manager"
EDITABLE_FIELDS = ("title", "description", "partner_kinds_sought", "start_date", "end_date", "deadline", "town",
                   "location", "contact_email")

TITLE_MIN, TITLE_MAX = 3, 120
DESCRIPTION_MAX = 2000
MESSAGE_MAX = 500
TOWN_RADIUS_KM = 5.0
TIMEZONE = ZoneInfo("Europe/Paris")  # deadlines and "today" are days of the territory
ID_PREFIX = "ini-"
# French words that agree with the kind (an initiative is feminine, a call for projects masculine).
WORDS = {
    "initiative": {"this": "cette initiative", "This": "Cette initiative", "e": "e", "it": "elle",
                   "newcomers": "participants", "join_own": "la rejoindre",
                   "already": "participe déjà à cette initiative"},
    "call_for_projects": {"this": "cet appel à projets", "This": "Cet appel à projets", "e": "", "it": "il",
                          "newcomers": "candidatures", "join_own": "y candidater",
                          "already": "a déjà candidaté à cet appel à projets"},
}


# --- errors ----------------------------------------------------------------------------------------
class InvalidInitiative(ValueError):
    """Values that break a rule: `errors` maps each field to its French reasons (a 422)."""

    def __init__(self, errors: Mapping[str, list[str]]):
        super().__init__("; ".join(f"{name}: {' '.join(reasons)}" for name, reasons in errors.items()))
        self.errors = {name: list(reasons) for name, reasons in errors.items()}


class NotAllowed(PermissionError):
    """The caller may not do this (French message, a 403)."""


class InitiativeConflict(Exception):
    """The initiative's state forbids the change (French message, a 409)."""


class ParticipationNotFound(LookupError):
    """This actor does not take part in the initiative (a 404)."""


class ConcurrentChange(Exception):
    """The initiative changed between its read and its write (another request came first): nothing
    was written; the caller may read it again and retry (a 409)."""


# --- time ------------------------------------------------------------------------------------------
def utc(moment: datetime) -> datetime:
    """UTC, to the millisecond MongoDB keeps (a naive datetime is taken as UTC, as BSON gives it)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def iso_time(moment: datetime) -> str:
    return utc(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def local_date(moment: datetime) -> date:
    """The day `moment` falls on in the territory (Europe/Paris)."""
    return utc(moment).astimezone(TIMEZONE).date()


def today_in_territory() -> date:
    return local_date(datetime.now(timezone.utc))


def utc_now() -> datetime:
    return utc(datetime.now(timezone.utc))


def french_day(day: date) -> str:
    return f"{day:%d/%m/%Y}"


def as_day(value) -> date | None:
    """A date from a document (ISO string) or as it is."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def choices(labels: Mapping[str, str]) -> str:
    return ", ".join(f"{code} ({label})" for code, label in labels.items())


# --- rules ----------------------------------------------------------------------------------------
def check_partner_kinds(values: Iterable[str]) -> str | None:
    """A French reason when the kinds of partners sought are empty, unknown or repeated."""
    values = list(values)
    if not values:
        return "Indiquez au moins un type de partenaire recherché."
    if any(value not in PARTNER_KINDS for value in values):
        return f"Type de partenaire inconnu ; valeurs possibles : {choices(PARTNER_KINDS)}."
    if len(set(values)) != len(values):
        return "Chaque type de partenaire ne doit figurer qu'une fois."
    return None


def check_rules(values: Mapping[str, Any], territory: Territory, today: date,
                changed: Iterable[str] | None = None) -> dict[str, list[str]]:
    """The rules across fields of an initiative as it would be stored (`values`: kind, town,
    location, start_date, end_date, deadline, partner_kinds_sought; a missing value is not
    checked, except the deadline of a call for projects). `changed` names the fields given by the
    caller (None: all of them, at publication): a date already stored is not checked against
    today again. {field: [French reason]}, empty when all is well."""
    changed = set(values) if changed is None else set(changed)
    errors: dict[str, list[str]] = {}

    def add(name: str, reason: str) -> None:
        errors.setdefault(name, []).append(reason)

    town = None
    if values.get("town") is not None:
        try:
            town = territory.town(values["town"])
        except InvalidPlace as exc:
            add(exc.field, str(exc))
    location = values.get("location")
    if town is not None and location is not None and ({"town", "location"} & changed):
        try:
            check_near_centre(town, location, TOWN_RADIUS_KM, field="location")
        except InvalidPlace as exc:
            add(exc.field if "location" in changed else "town", str(exc))
    if values.get("partner_kinds_sought") is not None and "partner_kinds_sought" in changed:
        reason = check_partner_kinds(values["partner_kinds_sought"])
        if reason:
            add("partner_kinds_sought", reason)

    start, end, deadline = (as_day(values.get(name)) for name in ("start_date", "end_date", "deadline"))
    if start and end and end < start and {"start_date", "end_date"} & changed:
        add("end_date", f"La date de fin doit être le {french_day(start)} (date de début) ou après.")
    if end and end < today and "end_date" in changed:
        add("end_date", f"La date de fin est déjà passée (nous sommes le {french_day(today)}).")
    kind = values.get("kind")
    if kind == "call_for_projects":
        if deadline is None:
            add("deadline", "Champ obligatoire pour un appel à projets : la date limite de candidature.")
        else:
            if deadline <= today and "deadline" in changed:
                add("deadline", f"La date limite doit être dans le futur (après le {french_day(today)}).")
            if end and deadline > end and {"deadline", "end_date"} & changed:
                add("deadline", f"La date limite doit être le {french_day(end)} (date de fin) ou avant.")
    elif kind == "initiative" and deadline is not None:
        add("deadline", "Seul un appel à projets a une date limite de candidature : retirez ce champ "
                        "ou choisissez kind=call_for_projects.")
    return errors
