"""What a pledge offers, action by action: the action types, each action's settings
(`ActionSettings`: ROME jobs, audience, modality, distance, weekly cap, then the settings of its
type) with their defaults, and the ROME reference the jobs are checked against."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from vitawin_actors.domain.places import InvalidValue

ACTION_TYPES = {
    "testimony": "témoignage métier",
    "intervention": "intervention en classe",
    "internship": "stage",
    "apprenticeship": "alternance",
    "mentoring": "mentorat",
    "job_fair": "forum des métiers",
}

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
ROME_CODE = re.compile(r"^[A-N][0-9]{4}$")

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
