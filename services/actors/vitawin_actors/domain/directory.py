"""The directory of actors ("Vitawiners"): organisations, schools, pupils and territory managers.
What an actor is stored with differs by kind; what may leave the service (the event, the map, the
directory list) is `PUBLIC_FIELDS` of its kind, chosen so that no contact e-mail and nothing that
identifies a pupil ever does (one exception: `Actor.contact_data`, for the internal channel
`contacts` only, so that notify can write to people). The checks of their identifiers (SIRET,
NAF, UAI, ISO week) and the territory rule of their place."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, fields
from datetime import date, datetime

from stdnum import exceptions as stdnum_exceptions
from stdnum.fr import siret as stdnum_siret

from vitawin_common.territory import InvalidPlace, Location, Territory

from vitawin_actors.domain.places import InvalidValue, _iso, _now, check_location

ORGANISATION_KINDS = {
    "company": "entreprise",
    "craftsman": "artisan",
    "local_authority": "collectivité territoriale",
    "association": "association",
    "public_institution": "établissement public",
    "partner_organisation": "organisation partenaire",
}
ACTOR_KINDS = {
    **ORGANISATION_KINDS,
    "school": "établissement scolaire",
    "pupil": "élève",
    "territory_manager": "gestionnaire de territoire",
}
MAPPED_KINDS = (*ORGANISATION_KINDS, "school")  # the kinds that have a place on the map
SCHOOL_TYPES = {
    "college": "collège",
    "lycee_general_technologique": "lycée général et technologique",
    "lycee_professionnel": "lycée professionnel",
}
LEVELS = {
    "6e": "sixième", "5e": "cinquième", "4e": "quatrième", "3e": "troisième",
    "2nde": "seconde", "1re": "première", "Tle": "terminale",
    "CAP1": "1re année de CAP", "CAP2": "2e année de CAP",
}
UAI_CHECK_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"  # no I, O, Q
INSEE_CODE = re.compile(r"^(?:[0-9]{2}|2[AB])[0-9]{3}$")  # Corsica: 2A..., 2B...
NAF_CODE = re.compile(r"^[0-9]{2}\.[0-9]{2}[A-Z]$")  # NAF rév. 2 sub-class, e.g. 56.10A
ISO_WEEK = re.compile(r"^([0-9]{4})-W([0-9]{2})$")
UAI = re.compile(r"^([0-9]{7})([A-Z])$")

_ORGANISATION_PUBLIC = ("actor_id", "kind", "name", "town", "location", "naf_code",
                        "serves_territory_from_outside")
PUBLIC_FIELDS: dict[str, tuple[str, ...]] = {
    **{kind: _ORGANISATION_PUBLIC for kind in ORGANISATION_KINDS},
    "school": ("actor_id", "kind", "name", "town", "location", "uai", "school_type", "levels", "internship_periods"),
    "pupil": ("actor_id", "kind", "level", "school_uai", "town"),
    "territory_manager": ("actor_id", "kind", "organisation_name"),
}


def normalise_siret(value: str) -> str:
    """The 14 digits of a valid SIRET (spaces accepted and removed); InvalidValue otherwise."""
    try:
        return stdnum_siret.validate(value)
    except stdnum_exceptions.InvalidChecksum as exc:
        raise InvalidValue("SIRET invalide : la clé de contrôle ne correspond pas ; vérifiez les "
                           "14 chiffres.") from exc
    except stdnum_exceptions.InvalidLength as exc:
        raise InvalidValue("SIRET invalide : il doit compter 14 chiffres.") from exc
    except stdnum_exceptions.ValidationError as exc:
        raise InvalidValue("SIRET invalide : 14 chiffres attendus (les espaces sont acceptés).") from exc


def normalise_naf(value: str) -> str:
    """A NAF rév. 2 code in its usual form, "56.10A" (a lower-case final letter is accepted)."""
    code = value.strip().upper()
    if not NAF_CODE.match(code):
        raise InvalidValue("Code NAF invalide : format attendu « 56.10A » (deux chiffres, un point, "
                           "deux chiffres, une lettre).")
    return code


def normalise_uai(value: str) -> str:
    """A school's UAI: 7 digits and the letter that checks them (a lower-case letter is accepted)."""
    code = value.strip().upper()
    match = UAI.match(code)
    if not match:
        raise InvalidValue("Code UAI invalide : 7 chiffres suivis d'une lettre attendus (ex. 0940120V).")
    if UAI_CHECK_LETTERS[int(match.group(1)) % 23] != match.group(2):
        raise InvalidValue("Code UAI invalide : la lettre ne correspond pas aux 7 chiffres.")
    return code


def normalise_iso_week(value: str) -> str:
    """An ISO 8601 week, "2027-W24", that exists (week 53 only in years that have one)."""
    match = ISO_WEEK.match(value.strip())
    try:
        if not match:
            raise ValueError
        date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
    except ValueError as exc:
        raise InvalidValue(f"Semaine ISO invalide : « {value} » ; format attendu « 2027-W24 », "
                           f"semaine 01 à 52 (53 certaines années).") from exc
    return match.group(0)


def check_place(territory: Territory, town: str, location: Location | None = None, *,
                from_outside: bool = False) -> None:
    """The territory rule of an actor's place. Its town must be a town of the territory, and its
    location (if it has one) within TOWN_RADIUS_KM of that town's centre; an organisation that
    serves the territory from outside (`from_outside`) may give any town, and then its location
    is not checked (there is no centre to check it against). InvalidPlace naming the field."""
    known = territory.towns.get(town)
    if known is None:
        if from_outside:
            return
        territory.town(town)  # raises InvalidPlace("town", ...)
    if location is not None:
        check_location(known, location)


def check_organisation_town(territory: Territory, town: str, location: Location,
                            from_outside: bool) -> None:
    """`check_place` for an organisation, whose French message says how to register from outside."""
    if town not in territory.towns and not from_outside:
        raise InvalidPlace("town", f"Commune hors du territoire {territory.name}. Une organisation "
                                   f"située hors du territoire qui y intervient s'inscrit avec "
                                   f"serves_territory_from_outside = true.")
    check_place(territory, town, location, from_outside=from_outside)


def check_internship_periods(levels: list[str], periods: dict[str, list[str]]) -> dict[str, str]:
    """Levels given internship periods that the school does not teach: {level: French reason}."""
    taught = ", ".join(levels)
    return {level: f"Niveau non enseigné dans cet établissement (niveaux indiqués : {taught})."
            for level in periods if level not in levels}


@dataclass(frozen=True)
class Address:
    street: str
    postcode: str


def _plain(value):
    if isinstance(value, (Location, Address)):
        return dict(vars(value))
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


@dataclass(frozen=True)
class RegisterOrganisation:
    """Command: a company, craftsman, local authority, association, public institution or partner
    organisation joins the directory (input already validated)."""
    kind: str
    name: str
    contact_email: str
    siret: str
    naf_code: str
    address: Address
    town: str
    location: Location
    serves_territory_from_outside: bool = False


@dataclass(frozen=True)
class RegisterSchool:
    name: str
    contact_email: str  # the referent teacher's
    uai: str
    school_type: str
    levels: list[str]
    address: Address
    town: str
    location: Location
    internship_periods: dict[str, list[str]] = field(default_factory=dict)  # level -> ISO weeks
    # Whether the school asks that its pupils' guardians get a copy of the proposals made for their
    # requests (notify sends them). Internal: in the contact event, never in the public view.
    guardian_copies: bool = False
    kind: str = "school"


@dataclass(frozen=True)
class RegisterPupil:
    """A pupil, usually a minor: a first name only, no address and no position."""
    first_name: str
    level: str
    school_uai: str
    town: str
    is_minor: bool = True
    guardian_contact_email: str | None = None
    kind: str = "pupil"


@dataclass(frozen=True)
class RegisterTerritoryManager:
    name: str
    contact_email: str
    organisation_name: str
    kind: str = "territory_manager"


RegisterActor = RegisterOrganisation | RegisterSchool | RegisterPupil | RegisterTerritoryManager


def public_view(doc: dict) -> dict:
    """What may leave the service about a stored actor: the PUBLIC_FIELDS of its kind."""
    return {name: doc[name] for name in PUBLIC_FIELDS[doc["kind"]]}


@dataclass(frozen=True)
class Actor:
    actor_id: str
    profile: RegisterActor
    created_at: datetime

    @property
    def kind(self) -> str:
        return self.profile.kind

    @classmethod
    def register(cls, command: RegisterActor, now: datetime | None = None) -> "Actor":
        now = now or _now()
        return cls(actor_id=f"act-{uuid.uuid4().hex}", profile=command,
                   created_at=now.replace(microsecond=now.microsecond // 1000 * 1000))  # MongoDB keeps ms

    def to_document(self) -> dict:
        """Everything the actors service keeps, contacts included (plain, BSON-friendly)."""
        profile = {f.name: _plain(getattr(self.profile, f.name)) for f in fields(self.profile)}
        if isinstance(self.profile, RegisterPupil) and not profile["guardian_contact_email"]:
            del profile["guardian_contact_email"]
        return {"actor_id": self.actor_id, **profile, "created_at": self.created_at}

    def event_data(self) -> dict:
        """The data of fr.vitawin.actor.registered.v1: no contact, nothing that names a pupil."""
        return public_view(self.to_document())

    def contact_data(self) -> dict | None:
        """The data of fr.vitawin.contact.registered.v1 (internal channel `contacts`, personal data):
        where to write to this actor, or None when there is nowhere (an organisation imported
        without a contact e-mail, a pupil without a guardian's e-mail). A pupil's own first name
        and e-mail never go there: only the guardian's e-mail and the school's UAI. A school's
        always says whether its pupils' guardians get copies (`guardian_copies`). Absent fields
        are left out, never null."""
        profile = self.profile
        data: dict = {"actor_id": self.actor_id, "kind": self.kind}
        if isinstance(profile, RegisterPupil):
            if not profile.guardian_contact_email:
                return None
            data.update(school_uai=profile.school_uai, guardian_email=profile.guardian_contact_email)
        else:
            if not profile.contact_email:
                return None
            data.update(email=profile.contact_email, display_name=profile.name)
            if isinstance(profile, RegisterSchool):
                data.update(school_uai=profile.uai, guardian_copies=bool(profile.guardian_copies))
            elif isinstance(profile, RegisterTerritoryManager):
                data["organisation_name"] = profile.organisation_name
        data["registered_at"] = _iso(self.created_at)
        return data
