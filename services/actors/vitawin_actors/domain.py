"""The actors domain: a professional's pledge (a volunteer), the directory of actors (organisations,
schools, pupils, territory managers) and the rules their town and location must meet within the
territory. Plain Python, no I/O."""
from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timezone
from typing import Any

from stdnum import exceptions as stdnum_exceptions
from stdnum.fr import siret as stdnum_siret

from vitawin_common.territory import InvalidPlace, Location, Territory, Town, check_near_centre

ACTION_TYPES = {
    "testimony": "témoignage métier",
    "intervention": "intervention en classe",
    "internship": "stage",
    "apprenticeship": "alternance",
    "mentoring": "mentorat",
    "job_fair": "forum des métiers",
}
TOWN_RADIUS_KM = 5.0  # a location must lie this close to its town's centre
DEFAULT_MAX_DISTANCE_KM = 10.0
MAX_DISTANCE_KM = 200.0


def check_location(town: Town, location: Location) -> None:
    """A location must lie within TOWN_RADIUS_KM of the centre of its town (territory.InvalidPlace
    naming `location` otherwise)."""
    check_near_centre(town, location, TOWN_RADIUS_KM, field="location")


@dataclass(frozen=True)
class RegisterVolunteer:
    """Command: a professional pledges to act (input already validated)."""
    organisation_name: str
    contact_email: str
    town: str
    location: Location
    action_types: list[str]
    max_distance_km: float = DEFAULT_MAX_DISTANCE_KM
    actor_id: str | None = None  # the registered organisation in the directory, if any
    actions: Mapping[str, "ActionSettings"] = field(default_factory=dict)  # per action type; see Pledge


@dataclass(frozen=True)
class Volunteer:
    volunteer_id: str
    organisation_name: str
    contact_email: str
    town: str
    location: Location
    action_types: tuple[str, ...]
    max_distance_km: float
    created_at: datetime

    @classmethod
    def register(cls, command: RegisterVolunteer, now: datetime | None = None) -> "Volunteer":
        now = now or datetime.now(timezone.utc)
        return cls(
            volunteer_id=f"vol-{uuid.uuid4().hex}",
            organisation_name=command.organisation_name,
            contact_email=command.contact_email,
            town=command.town,
            location=command.location,
            action_types=tuple(command.action_types),
            max_distance_km=float(command.max_distance_km),
            created_at=now.replace(microsecond=now.microsecond // 1000 * 1000),  # MongoDB keeps ms
        )

    def event_data(self) -> dict:
        """The fields every volunteer event carries about the professional (the data of
        fr.vitawin.volunteer.registered.v1 before pledges had per-action settings; `Pledge` adds
        actor_id, actions, status and version)."""
        return {
            "volunteer_id": self.volunteer_id,
            "organisation_name": self.organisation_name,
            "contact_email": self.contact_email,
            "town": self.town,
            "location": {"lat": self.location.lat, "lon": self.location.lon},
            "action_types": list(self.action_types),
            "max_distance_km": self.max_distance_km,
        }

    def to_document(self) -> dict:
        return {**self.event_data(), "created_at": self.created_at}


# --- The directory of actors ("Vitawiners") ------------------------------------------------------
# Organisations, schools, pupils and territory managers. What an actor is stored with differs by
# kind; what may leave the service (the event, the map, the directory list) is `PUBLIC_FIELDS`
# of its kind, chosen so that no contact e-mail and nothing that identifies a pupil ever does.

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
    "school": ("actor_id", "kind", "name", "town", "location", "uai", "school_type"),
    "pupil": ("actor_id", "kind", "level", "school_uai", "town"),
    "territory_manager": ("actor_id", "kind", "organisation_name"),
}


class InvalidValue(ValueError):
    """A value that breaks a rule of its own (SIRET, NAF, UAI, ISO week...); the message is in
    French, for the person who typed it, and never repeats the value when it may be personal."""


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
        now = now or datetime.now(timezone.utc)
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


# --- Erasure (GDPR, right to erasure) --------------------------------------------------------------
# An erased actor leaves a tombstone: its id, its kind, when and that it was erased; nothing else.
ERASED = "erased"
TOMBSTONE_FIELDS = ("actor_id", "kind", "erased_at", "status")
PLEDGE_PERSONAL_FIELDS = ("organisation_name", "contact_email")  # what an erased pledge loses


def is_erased(doc: Mapping[str, Any]) -> bool:
    return doc.get("status") == ERASED


def tombstone(doc: Mapping[str, Any], now: datetime | None = None) -> dict:
    """What is kept of an erased actor: every personal datum is gone."""
    return {"actor_id": doc["actor_id"], "kind": doc["kind"],
            "erased_at": _ms(now or datetime.now(timezone.utc)), "status": ERASED}


def erased_event_data(tomb: Mapping[str, Any]) -> dict:
    """The data of fr.vitawin.actor.erased.v1: ids only."""
    return {"actor_id": tomb["actor_id"], "kind": tomb["kind"], "erased_at": _iso(tomb["erased_at"])}


def purge_pledge_document(doc: Mapping[str, Any]) -> dict:
    """A stored pledge without the personal data of its professional (kept for history: ids,
    status, version, place and actions)."""
    return {name: value for name, value in doc.items() if name not in PLEDGE_PERSONAL_FIELDS}


@dataclass(frozen=True)
class BoundingBox:
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    MESSAGE = ("Emprise invalide : format attendu bbox=min_lon,min_lat,max_lon,max_lat en degrés "
               "décimaux (WGS 84), par exemple 2.40,48.79,2.56,48.86.")

    @classmethod
    def parse(cls, text: str) -> "BoundingBox":
        """From "min_lon,min_lat,max_lon,max_lat"; InvalidValue (French) when malformed, out of
        range or upside down (boxes across the antimeridian are not supported)."""
        try:
            values = [float(part) for part in text.split(",")]
        except ValueError as exc:
            raise InvalidValue(cls.MESSAGE) from exc
        if len(values) != 4 or not all(math.isfinite(v) for v in values):
            raise InvalidValue(cls.MESSAGE)
        box = cls(*values)
        if not (-180 <= box.min_lon <= 180 and -180 <= box.max_lon <= 180
                and -90 <= box.min_lat <= 90 and -90 <= box.max_lat <= 90):
            raise InvalidValue("Emprise invalide : longitudes entre -180 et 180, latitudes entre -90 et 90.")
        if box.min_lon > box.max_lon or box.min_lat > box.max_lat:
            raise InvalidValue("Emprise invalide : le minimum doit précéder le maximum "
                               "(min_lon,min_lat,max_lon,max_lat).")
        return box

    def contains(self, location: dict) -> bool:
        return (self.min_lon <= location["lon"] <= self.max_lon
                and self.min_lat <= location["lat"] <= self.max_lat)


def to_feature(doc: dict) -> dict:
    """A GeoJSON Feature for an organisation or a school (RFC 7946: [lon, lat])."""
    if doc["kind"] not in MAPPED_KINDS:
        raise ValueError(f"{doc['kind']} actors are not on the map")
    return {
        "type": "Feature",
        "id": doc["actor_id"],
        "geometry": {"type": "Point", "coordinates": [doc["location"]["lon"], doc["location"]["lat"]]},
        "properties": {name: doc[name] for name in ("actor_id", "kind", "name", "town")},
    }


def feature_collection(docs) -> dict:
    return {"type": "FeatureCollection", "features": [to_feature(doc) for doc in docs]}


# --- Pledges: per-action settings and lifecycle ----------------------------------------------------
# A pledge is one profile per professional (a `Volunteer`) with one `ActionSettings` per action
# type it offers, a status (active, paused, withdrawn) and a version that grows by one with each
# change and travels in every volunteer event, so that a consumer can drop a stale update.

AUDIENCES = {"college": "collège", "lycee": "lycée", "all": "collège et lycée"}
MODALITIES = {"on_site": "chez le professionnel", "in_class": "dans l'établissement scolaire",
              "remote": "à distance"}
DEFAULT_AUDIENCE = "all"
DEFAULT_MODALITY = {"testimony": "in_class", "intervention": "in_class", "internship": "on_site",
                    "apprenticeship": "on_site", "mentoring": "on_site", "job_fair": "in_class"}
DEFAULT_WEEKLY_CONTACT_CAP = 5
MAX_COUNT = 100  # upper bound of every count a pledge gives (contacts a week, places, mentees...)
COLLEGE_LEVELS = ("6e", "5e", "4e", "3e")
LYCEE_LEVELS = ("2nde", "1re", "Tle", "CAP1", "CAP2")
DIPLOMAS = {
    "CAP": "certificat d'aptitude professionnelle",
    "BP": "brevet professionnel",
    "MC": "mention complémentaire",
    "Bac pro": "baccalauréat professionnel",
    "BTS": "brevet de technicien supérieur",
    "BUT": "bachelor universitaire de technologie",
    "Licence pro": "licence professionnelle",
    "Titre pro": "titre professionnel",
    "Diplôme d'ingénieur": "diplôme d'ingénieur",
    "Master": "master",
}
MENTORING_MONTHS = (1, 24)
# What each action type has besides the common settings, with its defaults (an action type in
# action_types that the pledge gives no settings for gets all of these).
SPECIFIC_DEFAULTS: dict[str, dict[str, Any]] = {
    "testimony": {},
    "intervention": {"topics": []},
    "internship": {"capacity_per_period": 1, "levels": [], "periods": []},
    "apprenticeship": {"diplomas": [], "places": 1},
    "mentoring": {"duration_months": 6, "mentees": 1},
    "job_fair": {"dates": [], "on_request": True},
}
STATUSES = {"active": "actif", "paused": "en pause", "withdrawn": "retiré"}
ROME_CODE = re.compile(r"^[A-N][0-9]{4}$")


class PledgeConflict(Exception):
    """A lifecycle change the pledge's status forbids (French message, for a 409)."""


@dataclass(frozen=True)
class RomeJob:
    code: str
    label: str


class RomeReference:
    """The ROME job sheets: code → French label (loaded by the adapters from data/rome.json)."""

    def __init__(self, labels: Mapping[str, str], source: str = ""):
        self.labels = dict(labels)
        self.source = source

    def __len__(self) -> int:
        return len(self.labels)

    def job(self, value: str) -> RomeJob:
        """The job of a ROME code ("d1102 " is read as "D1102"); InvalidValue (French) if the code
        is malformed or not in the reference."""
        code = value.strip().upper()
        if not ROME_CODE.match(code):
            raise InvalidValue("Code ROME invalide : une lettre de A à N suivie de 4 chiffres attendue "
                               "(ex. D1102).")
        if code not in self.labels:
            raise InvalidValue(f"Code ROME inconnu du référentiel ROME : {code}.")
        return RomeJob(code, self.labels[code])


def check_levels_for_audience(levels, audience: str) -> str | None:
    """French reason when internship levels do not belong to the action's audience, else None."""
    allowed = {"college": COLLEGE_LEVELS, "lycee": LYCEE_LEVELS}.get(audience)
    if allowed is None:
        return None
    outside = [level for level in levels if level not in allowed]
    if outside:
        return (f"Niveaux hors du public choisi ({AUDIENCES[audience]}) : {', '.join(outside)} ; "
                f"niveaux possibles : {', '.join(allowed)}.")
    return None


def check_job_fair_dates(dates, today: date) -> dict[int, str]:
    """Job fair dates that are not in the future: {index: French reason}."""
    return {i: f"La date doit être dans le futur (après le {today:%d/%m/%Y})."
            for i, day in enumerate(dates) if day <= today}


def _copy(value):
    return list(value) if isinstance(value, (list, tuple)) else value


@dataclass(frozen=True)
class ActionSettings:
    """What a volunteer sets for one action: the common settings, then those of its type
    (`specific`, keys of SPECIFIC_DEFAULTS[action_type]). Build it with `build`, which fills the
    defaults; `max_distance_km` None means the pledge's own."""
    action_type: str
    rome_jobs: tuple[RomeJob, ...]
    audience: str
    modality: str
    max_distance_km: float | None
    weekly_contact_cap: int
    specific: Mapping[str, Any]

    @classmethod
    def build(cls, action_type: str, *, rome_jobs=(), audience: str | None = None, modality: str | None = None,
              max_distance_km: float | None = None, weekly_contact_cap: int | None = None,
              **specific) -> "ActionSettings":
        if action_type not in SPECIFIC_DEFAULTS:
            raise ValueError(f"unknown action type {action_type!r}")
        unknown = set(specific) - set(SPECIFIC_DEFAULTS[action_type])
        if unknown:
            raise ValueError(f"{action_type} has no setting {sorted(unknown)}")
        values = {key: _copy(value) for key, value in SPECIFIC_DEFAULTS[action_type].items()}
        values.update({key: _copy(value) for key, value in specific.items()})
        if action_type == "job_fair":
            if values["dates"] and "on_request" not in specific:
                values["on_request"] = False  # dates given: the fair is on those dates
            values["dates"] = sorted({day if isinstance(day, str) else day.isoformat() for day in values["dates"]})
        if action_type == "internship":
            values["periods"] = sorted(values["periods"])
        return cls(action_type=action_type, rome_jobs=tuple(rome_jobs),
                   audience=audience or DEFAULT_AUDIENCE, modality=modality or DEFAULT_MODALITY[action_type],
                   max_distance_km=None if max_distance_km is None else float(max_distance_km),
                   weekly_contact_cap=DEFAULT_WEEKLY_CONTACT_CAP if weekly_contact_cap is None else weekly_contact_cap,
                   specific=values)

    @property
    def rome_codes(self) -> tuple[str, ...]:
        return tuple(job.code for job in self.rome_jobs)

    def to_plain(self) -> dict:
        """The stored and published form (JSON and BSON friendly): the ROME codes, their labels,
        the common settings (max_distance_km only when the action has its own), then the
        settings of its type."""
        plain = {"rome_codes": list(self.rome_codes),
                 "rome_jobs": [{"code": job.code, "label": job.label} for job in self.rome_jobs],
                 "audience": self.audience, "modality": self.modality}
        if self.max_distance_km is not None:
            plain["max_distance_km"] = self.max_distance_km
        plain["weekly_contact_cap"] = self.weekly_contact_cap
        return {**plain, **{key: _copy(value) for key, value in self.specific.items()}}

    @classmethod
    def from_plain(cls, action_type: str, plain: Mapping[str, Any]) -> "ActionSettings":
        labels = {job["code"]: job["label"] for job in plain.get("rome_jobs", [])}
        settings = {key: value for key, value in plain.items() if key not in ("rome_codes", "rome_jobs")}
        return cls.build(action_type, rome_jobs=[RomeJob(code, labels.get(code, code))
                                                 for code in plain.get("rome_codes", [])], **settings)


def complete_actions(action_types, given: Mapping[str, ActionSettings]) -> dict[str, ActionSettings]:
    """One ActionSettings per action type, in the order of action_types: the given one, or the
    defaults. Settings for a type that is not in action_types are an error (the API refuses them
    first, in French, naming the field)."""
    extra = set(given) - set(action_types)
    if extra:
        raise ValueError(f"settings for action types not pledged: {sorted(extra)}")
    return {action_type: given.get(action_type) or ActionSettings.build(action_type)
            for action_type in action_types}


def _ms(moment: datetime) -> datetime:
    """UTC, to the millisecond (what MongoDB keeps)."""
    if moment.tzinfo is None:  # BSON dates come back naive, in UTC
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _iso(moment: datetime) -> str:
    return _ms(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")


VOLUNTEER_FIELDS = ("organisation_name", "contact_email", "town", "location", "action_types", "max_distance_km")
EDITABLE_FIELDS = (*VOLUNTEER_FIELDS, "actor_id", "actions")


@dataclass(frozen=True)
class Pledge:
    """A volunteer's pledge and its lifecycle: active ⇄ paused, then withdrawn (for good: kept for
    history, never edited again). Each change gives a new Pledge with `version` + 1."""
    volunteer: Volunteer
    actions: Mapping[str, ActionSettings]
    actor_id: str | None = None
    status: str = "active"
    version: int = 1
    updated_at: datetime | None = None
    withdrawn_at: datetime | None = None

    @property
    def volunteer_id(self) -> str:
        return self.volunteer.volunteer_id

    @classmethod
    def register(cls, command: RegisterVolunteer, now: datetime | None = None) -> "Pledge":
        volunteer = Volunteer.register(command, now)
        return cls(volunteer=volunteer, actions=complete_actions(command.action_types, command.actions),
                   actor_id=command.actor_id, updated_at=volunteer.created_at)

    # --- lifecycle -------------------------------------------------------------------------------
    def edit(self, changes: Mapping[str, Any], now: datetime | None = None) -> "Pledge":
        """The pledge with `changes` (any of EDITABLE_FIELDS, already validated) applied. Given
        `actions` entries replace that action's settings whole (what they omit takes its default);
        the other actions keep theirs; an action type removed from action_types loses its
        settings, one added gets the defaults. `actor_id` None unlinks the organisation. Returns
        self when nothing changes (no new version)."""
        self._refuse_if_withdrawn("modifié")
        unknown = set(changes) - set(EDITABLE_FIELDS)
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        core = {name: changes[name] for name in VOLUNTEER_FIELDS if name in changes}
        if "action_types" in core:
            core["action_types"] = tuple(core["action_types"])
        if "max_distance_km" in core:
            core["max_distance_km"] = float(core["max_distance_km"])
        volunteer = replace(self.volunteer, **core)
        kept = {key: value for key, value in self.actions.items() if key in volunteer.action_types}
        actions = complete_actions(volunteer.action_types, {**kept, **dict(changes.get("actions") or {})})
        actor_id = changes["actor_id"] if "actor_id" in changes else self.actor_id
        if (volunteer, actions, actor_id) == (self.volunteer, dict(self.actions), self.actor_id):
            return self
        return self._next(now, volunteer=volunteer, actions=actions, actor_id=actor_id)

    def pause(self, now: datetime | None = None) -> "Pledge":
        self._refuse_if_withdrawn("mis en pause")
        if self.status == "paused":
            raise PledgeConflict("L'engagement est déjà en pause.")
        return self._next(now, status="paused")

    def resume(self, now: datetime | None = None) -> "Pledge":
        self._refuse_if_withdrawn("repris")
        if self.status == "active":
            raise PledgeConflict("L'engagement est déjà actif : seul un engagement en pause peut reprendre.")
        return self._next(now, status="active")

    def withdraw(self, now: datetime | None = None) -> "Pledge":
        if self.status == "withdrawn":
            raise PledgeConflict("L'engagement est déjà retiré.")
        pledge = self._next(now, status="withdrawn")
        return replace(pledge, withdrawn_at=pledge.updated_at)

    def _refuse_if_withdrawn(self, what: str) -> None:
        if self.status == "withdrawn":
            raise PledgeConflict(f"L'engagement a été retiré : il ne peut plus être {what}.")

    def _next(self, now: datetime | None, **changes) -> "Pledge":
        return replace(self, version=self.version + 1, updated_at=_ms(now or datetime.now(timezone.utc)), **changes)

    # --- what is stored and published ----------------------------------------------------------
    def actions_plain(self) -> dict:
        return {action_type: settings.to_plain() for action_type, settings in self.actions.items()}

    def registered_event_data(self) -> dict:
        """The data of fr.vitawin.volunteer.registered.v1: the professional, the organisation
        (if any), each action's settings, and the version (1)."""
        data = self.volunteer.event_data()
        if self.actor_id is not None:
            data["actor_id"] = self.actor_id
        return {**data, "actions": self.actions_plain(), "version": self.version}

    def updated_event_data(self) -> dict:
        """The data of fr.vitawin.volunteer.updated.v1: the whole new state, status included."""
        return {**self.registered_event_data(), "status": self.status}

    def withdrawn_event_data(self) -> dict:
        """The data of fr.vitawin.volunteer.withdrawn.v1."""
        return {"volunteer_id": self.volunteer_id, "withdrawn_at": _iso(self.withdrawn_at), "version": self.version}

    def to_document(self) -> dict:
        doc = {**self.volunteer.to_document()}
        if self.actor_id is not None:
            doc["actor_id"] = self.actor_id
        doc.update(actions=self.actions_plain(), status=self.status, version=self.version,
                   updated_at=self.updated_at or self.volunteer.created_at)
        if self.withdrawn_at is not None:
            doc["withdrawn_at"] = self.withdrawn_at
        return doc

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> "Pledge":
        """A stored pledge. A document stored before pledges had a lifecycle (or by an import that
        writes `Volunteer.to_document()`) is active, version 1, with default action settings."""
        volunteer = Volunteer(
            volunteer_id=doc["volunteer_id"], organisation_name=doc.get("organisation_name", ""),
            contact_email=doc.get("contact_email", ""), town=doc["town"],  # absent once purged (erasure)
            location=Location(float(doc["location"]["lat"]), float(doc["location"]["lon"])),
            action_types=tuple(doc["action_types"]), max_distance_km=float(doc["max_distance_km"]),
            created_at=_ms(doc["created_at"]))
        stored = doc.get("actions") or {}
        actions = complete_actions(volunteer.action_types, {
            action_type: ActionSettings.from_plain(action_type, plain)
            for action_type, plain in stored.items() if action_type in volunteer.action_types})
        withdrawn_at = doc.get("withdrawn_at")
        return cls(volunteer=volunteer, actions=actions, actor_id=doc.get("actor_id"),
                   status=doc.get("status", "active"), version=int(doc.get("version", 1)),
                   updated_at=_ms(doc.get("updated_at") or doc["created_at"]),
                   withdrawn_at=_ms(withdrawn_at) if withdrawn_at else None)
