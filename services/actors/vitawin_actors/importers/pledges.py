"""Bulk load of professionals' pledges (volunteers) from a JSON lines file, one pledge a line:

    {"siret": "12345678200010", "organisation_name": "Boulangerie des Vignerons",
     "contact_email": "contact@boulangerie.example.fr", "town": "94080",
     "location": {"lat": 48.8478, "lon": 2.4385}, "action_types": ["testimony", "internship"],
     "max_distance_km": 8}

The fields and rules of POST /api/v1/volunteers (max_distance_km may be left out: 10 km), plus
`siret`, the pledging organisation's SIRET, from which the volunteer id is derived: one pledge
per establishment, and loading the same file again adds nothing. When the directory holds the
establishment (imported from SIRENE, so with an id derived from the same SIRET), the pledge is
linked to it (`actor_id`); otherwise it is stored without the link and the report says so.
Other fields are ignored (`actions` too: the format has no per-action settings), so each action
gets its default settings. Each pledge is the `Pledge` the API makes (`Pledge.register`: version 1,
status active, `actions` with the settings of each action type), stored as
`handlers.register_volunteer` stores it, with its `fr.vitawin.volunteer.registered.v1` outbox
entry, 500 a transaction."""
from __future__ import annotations

import math
from dataclasses import replace
from functools import partial
from pathlib import Path

from marshmallow import ValidationError, validate

from vitawin_common.territory import InvalidPlace, Location, Territory

from vitawin_actors import handlers
from vitawin_actors.domain import (ACTION_TYPES, DEFAULT_MAX_DISTANCE_KM, MAX_DISTANCE_KM, InvalidValue,
                                   RegisterVolunteer, check_location, normalise_siret)
from vitawin_actors.importers import sirene
from vitawin_actors.importers.reading import ImportReport, Progress, RowError, open_jsonl
from vitawin_actors.importers.registration import prepared_volunteer
from vitawin_actors.importers.writing import DEFAULT_BATCH_SIZE, Prepared, derived_id, run_import

_EMAIL = validate.Email()
REQUIRED = ("siret", "organisation_name", "contact_email", "town", "location", "action_types")


def volunteer_id(siret: str) -> str:
    return derived_id("vol", f"pledge:siret:{siret}")


def _number(value, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RowError(field, "Nombre attendu.")
    return float(value)


def pledge(record: dict, territory: Territory) -> RegisterVolunteer:
    """The registration command of one pledge line; RowError naming the field otherwise."""
    missing = [name for name in REQUIRED if name not in record]
    if missing:
        raise RowError(missing[0], "Champ obligatoire.")
    try:
        siret = normalise_siret(str(record["siret"]))
    except InvalidValue as exc:
        raise RowError("siret", str(exc)) from exc
    try:
        return _pledge(record, territory)
    except RowError as exc:
        exc.key = siret
        raise


def _pledge(record: dict, territory: Territory) -> RegisterVolunteer:
    name = record["organisation_name"]
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 200:
        raise RowError("organisation_name", "Nom de 1 à 200 caractères attendu.")
    email = record["contact_email"]
    try:
        if not isinstance(email, str) or len(email) > 254:
            raise ValidationError("")
        _EMAIL(email)
    except ValidationError as exc:
        raise RowError("contact_email", "Adresse e-mail invalide.") from exc
    try:
        town = territory.town(str(record["town"]))
    except InvalidPlace as exc:
        raise RowError("town", str(exc)) from exc
    place = record["location"]
    if not isinstance(place, dict) or "lat" not in place or "lon" not in place:
        raise RowError("location", "Objet {\"lat\": ..., \"lon\": ...} attendu.")
    location = Location(lat=_number(place["lat"], "location.lat"), lon=_number(place["lon"], "location.lon"))
    try:
        check_location(town, location)
    except InvalidPlace as exc:
        raise RowError(exc.field, str(exc)) from exc
    actions = record["action_types"]
    if not isinstance(actions, list) or not actions:
        raise RowError("action_types", "Indiquez au moins un type d'action.")
    unknown = [a for a in actions if a not in ACTION_TYPES]
    if unknown:
        raise RowError("action_types", f"Type d'action inconnu ; valeurs possibles : {', '.join(ACTION_TYPES)}.")
    if len(set(actions)) != len(actions):
        raise RowError("action_types", "Chaque type d'action ne doit figurer qu'une fois.")
    distance = _number(record.get("max_distance_km", DEFAULT_MAX_DISTANCE_KM), "max_distance_km")
    if not 0 < distance <= MAX_DISTANCE_KM:
        raise RowError("max_distance_km", f"Doit être supérieur à 0 et au plus {MAX_DISTANCE_KM:g} km.")
    return RegisterVolunteer(organisation_name=name.strip(), contact_email=email, town=town.insee,
                             location=location, action_types=list(actions), max_distance_km=distance)


def prepare(line: int, record: dict, *, territory: Territory, actors: set[str] | frozenset = frozenset()) -> Prepared:
    """A pledge line as the volunteer document and event the API would make, linked to the
    establishment's actor when `actors` (the ids in the directory) holds it."""
    command = pledge(record, territory)
    siret = normalise_siret(str(record["siret"]))
    actor_id = sirene.actor_id(siret)
    notes = []
    if actor_id in actors:
        command = replace(command, actor_id=actor_id)
    else:
        notes.append(("siret", "Établissement absent de l'annuaire : engagement enregistré sans lien vers "
                               "un acteur (importez d'abord le fichier SIRENE)."))
    return prepared_volunteer(line, siret, volunteer_id(siret), command, notes)


def import_file(path: str | Path, uow, territory: Territory, *,
                report_path: str | Path | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                encoding: str = "utf-8", show_progress: bool = False) -> ImportReport:
    report = ImportReport("engagements")
    with open_jsonl(path, encoding=encoding) as file, report.open_file(report_path):
        progress = Progress(Path(path), "Engagements", enabled=show_progress)
        actors = uow.known_ids("actors")
        run_import(file.records(progress), partial(prepare, territory=territory, actors=actors), uow,
                   collection="volunteers", channel=handlers.CHANNEL,
                   report=report, batch_size=batch_size, progress=progress)
    return report
