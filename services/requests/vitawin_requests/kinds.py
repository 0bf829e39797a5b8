"""What schools and pupils of the territory can ask for: the kinds of requests and the fields of
each, school levels and audiences, diplomas, and the ROME reference the jobs are checked against.
Plain Python, no I/O (the adapters read the ROME file)."""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

ACTION_TYPES = {  # the matching vocabulary, shared with the pledges of professionals
    "testimony": "témoignage métier",
    "intervention": "intervention en classe",
    "internship": "stage",
    "apprenticeship": "alternance",
    "mentoring": "mentorat",
    "job_fair": "forum des métiers",
}
REQUESTER_KINDS = {"school": "établissement scolaire", "pupil": "élève"}


@dataclass(frozen=True)
class KindRule:
    """What a kind of request is: who asks (`requester_kind`), the action it is matched against,
    its input fields besides `kind` (what POST takes and PATCH may change), how it is dated
    ("date", "period" or "none") and when it expires ("date": the end of its date; "period": the
    Monday of its first week; "days": `expiry_days` after its creation)."""
    requester_kind: str
    action_type: str
    label: str
    fields: tuple[str, ...]
    timing: str
    expiry_days: int | None = None

    @property
    def single_level(self) -> bool:
        return "level" in self.fields


_SCHOOL = ("rome_codes", "max_distance_km", "contact_email")
_PUPIL = ("rome_codes", "max_distance_km")
KINDS: dict[str, KindRule] = {
    "class_testimony": KindRule(
        "school", "testimony", "témoignage métier en classe",
        ("date", "start_time", "end_time", "level", "class_size", "professionals_wanted", *_SCHOOL), "date"),
    "class_intervention": KindRule(
        "school", "intervention", "intervention ou sensibilisation en classe sur un thème",
        ("topic", "date", "start_time", "end_time", "level", "class_size", "professionals_wanted", *_SCHOOL),
        "date"),
    "job_fair": KindRule(
        "school", "job_fair", "forum des métiers",
        ("date", "start_time", "end_time", "levels", "professionals_wanted", *_SCHOOL), "date"),
    "internship_hosting": KindRule(
        "school", "internship", "offres de stage pour les élèves de l'établissement",
        ("level", "period", "pupils", *_SCHOOL), "period"),
    "job_information": KindRule(
        "pupil", "testimony", "information sur un métier",
        ("level", "keywords", *_PUPIL), "none", expiry_days=90),
    "discovery_internship": KindRule(
        "pupil", "internship", "stage de découverte ou d'observation",
        ("level", "period", "around", "town", *_PUPIL), "period"),
    "apprenticeship_search": KindRule(
        "pupil", "apprenticeship", "recherche d'alternance",
        ("level", "diploma", "start", *_PUPIL), "none", expiry_days=180),
}
SCHOOL_KINDS = tuple(kind for kind, rule in KINDS.items() if rule.requester_kind == "school")
PUPIL_KINDS = tuple(kind for kind, rule in KINDS.items() if rule.requester_kind == "pupil")

LEVELS = {
    "6e": "sixième", "5e": "cinquième", "4e": "quatrième", "3e": "troisième",
    "2nde": "seconde", "1re": "première", "Tle": "terminale",
    "CAP1": "1re année de CAP", "CAP2": "2e année de CAP",
}
COLLEGE_LEVELS = ("6e", "5e", "4e", "3e")
LYCEE_LEVELS = ("2nde", "1re", "Tle", "CAP1", "CAP2")
AUDIENCES = {"college": "collège", "lycee": "lycée", "all": "collège et lycée"}
DIPLOMAS = {  # the diplomas an apprenticeship prepares (the actors service offers the same)
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
AROUND = {"school": "autour de l'établissement", "town": "autour de la commune de l'élève"}
DEFAULT_MAX_DISTANCE_KM = 10.0
MAX_DISTANCE_KM = {"school": 100.0, "pupil": 30.0}  # a pupil travels; for a school, the professional
PROFESSIONALS_WANTED = {"class_testimony": 5, "class_intervention": 5, "job_fair": 50}  # most per kind
MAX_PUPILS = 200
MAX_CLASS_SIZE = 40
TOPIC_LENGTH = 120
KEYWORDS_LENGTH = 200
MAX_ROME_CODES = 10


def audience_of(levels: Iterable[str]) -> str:
    """"college" when every level is a collège one, "lycee" when every one is a lycée one, else "all"."""
    levels = set(levels)
    if levels and levels <= set(COLLEGE_LEVELS):
        return "college"
    if levels and levels <= set(LYCEE_LEVELS):
        return "lycee"
    return "all"


class InvalidValue(ValueError):
    """A value that breaks a rule of its own (ROME code, month, bounding box...); the message is in
    French, for the person who typed it, and never repeats a value that may be personal."""


ROME_CODE = re.compile(r"^[A-N][0-9]{4}$")


@dataclass(frozen=True)
class RomeJob:
    code: str
    label: str


class RomeReference:
    """The ROME job sheets of France Travail: code → French label (contracts/reference/rome.json)."""

    def __init__(self, labels: Mapping[str, str], source: str = ""):
        self.labels = dict(labels)
        self.source = source

    def __len__(self) -> int:
        return len(self.labels)

    def job(self, value: str) -> RomeJob:
        """The job of a ROME code ("d1102 " is read as "D1102"); InvalidValue (French) if the code
        is malformed or not in the reference (the rule of the actors service)."""
        code = value.strip().upper()
        if not ROME_CODE.match(code):
            raise InvalidValue("Code ROME invalide : une lettre de A à N suivie de 4 chiffres attendue "
                               "(ex. D1102).")
        if code not in self.labels:
            raise InvalidValue(f"Code ROME inconnu du référentiel ROME : {code}.")
        return RomeJob(code, self.labels[code])
