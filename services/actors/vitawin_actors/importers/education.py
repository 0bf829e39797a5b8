"""Import of collèges and lycées from the "Annuaire de l'éducation" of the Education nationale
(dataset fr-en-annuaire-education, data.education.gouv.fr and data.gouv.fr), as exported in CSV:
`;` delimiter, UTF-8, one establishment a line, about 70 columns. The column names are matched
without regard to case (the CSV export writes `Code_commune`, the API `code_commune`).

Columns read (the others, such as Telephone, Restauration, Section_europeenne or
Appartenance_Education_Prioritaire, are ignored):
- Identifiant_de_l_etablissement: the UAI, 7 digits and the check letter (`normalise_uai`);
- Nom_etablissement: the name;
- Type_etablissement: "Collège" and "Lycée" are imported; "Ecole", "Médico-social",
  "Information et orientation", "Service Administratif", "EREA"... are counted and passed over;
- etat: "OUVERT" is imported ("A FERMER" too); "FERME" and "A OUVRIR" are counted and passed over;
- Voie_generale, Voie_technologique, Voie_professionnelle ("1" or "0") and libelle_nature: the
  school type of a lycée (see `school_type`);
- Code_commune (INSEE code, a town of the territory), Nom_commune (not read: the territory file
  names the town), Adresse_1, Code_postal: the place;
- latitude, longitude (WGS 84): the position, within 5 km of the town's centre; without one,
  the school is placed at its town's centre and the report says so;
- Mail: the school's address (ce.<uai>@ac-<académie>.fr for a public one), stored as the
  contact (never public: it goes only on the internal `contacts` channel, so that notify can
  write to the school); a line without one, or a longer one than 254 characters, is skipped;
- Statut_public_prive ("Public", "Privé"): read by nobody yet (both kinds are imported).

School type and levels (the directory's `SCHOOL_TYPES` and `LEVELS`):
- Collège: `college`, 6e 5e 4e 3e;
- Lycée with a general or technological track (Voie_generale or Voie_technologique = 1):
  `lycee_general_technologique`, 2nde 1re Tle, plus CAP1 CAP2 when it also has a vocational
  track (a "lycée polyvalent");
- Lycée with only a vocational track (Voie_professionnelle = 1), or without track columns but a
  libelle_nature saying "PROFESSIONNEL": `lycee_professionnel`, 2nde 1re Tle CAP1 CAP2;
- any other lycée: `lycee_general_technologique`, 2nde 1re Tle."""
from __future__ import annotations

import re
import unicodedata
from functools import partial
from pathlib import Path

from vitawin_common.territory import InvalidPlace, Location, Territory

from vitawin_actors.domain import INSEE_CODE, Address, InvalidValue, RegisterSchool, check_place, normalise_uai
from vitawin_actors.importers.reading import Filtered, ImportReport, RowError
from vitawin_actors.importers.registration import import_actor_file, prepared_actor
from vitawin_actors.importers.sirene import OUTSIDE
from vitawin_actors.importers.writing import DEFAULT_BATCH_SIZE, Prepared, derived_id

UAI_COLUMN = "identifiant_de_l_etablissement"
REQUIRED = (UAI_COLUMN, "nom_etablissement", "type_etablissement", "code_commune")
NAME_MAX = 200
EMAIL_MAX = 254  # the API's limit and the contract's (fr.vitawin.contact.registered.v1)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
COLLEGE_LEVELS = ["6e", "5e", "4e", "3e"]
LYCEE_LEVELS = ["2nde", "1re", "Tle"]
CAP_LEVELS = ["CAP1", "CAP2"]
NOT_SECONDARY = "ni collège ni lycée"
CLOSED = "établissement fermé ou pas encore ouvert"


def _plain(text: str) -> str:
    """Lower case without accents: "Collège" -> "college"."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().strip()


def _yes(record: dict, column: str) -> bool:
    return record.get(column, "").strip().lower() in ("1", "oui", "true", "o")


def school_type(record: dict) -> tuple[str, list[str]]:
    """(school_type, levels) of a collège or a lycée record; see the module docstring."""
    if _plain(record["type_etablissement"]) == "college":
        return "college", list(COLLEGE_LEVELS)
    general = _yes(record, "voie_generale") or _yes(record, "voie_technologique")
    vocational = _yes(record, "voie_professionnelle")
    if not general and not vocational and "professionnel" in _plain(record.get("libelle_nature", "")):
        vocational = True
    if vocational and not general:
        return "lycee_professionnel", LYCEE_LEVELS + CAP_LEVELS
    return "lycee_general_technologique", LYCEE_LEVELS + (CAP_LEVELS if vocational else [])


def _position(record: dict) -> Location | None:
    lat, lon = record.get("latitude", ""), record.get("longitude", "")
    if not lat or not lon:
        return None
    try:
        location = Location(lat=float(lat.replace(",", ".")), lon=float(lon.replace(",", ".")))
    except ValueError as exc:
        raise RowError("latitude", "Nombre attendu (coordonnée en notation décimale).") from exc
    if not (-90 <= location.lat <= 90 and -180 <= location.lon <= 180):
        raise RowError("latitude", "Coordonnées hors des bornes (latitude -90 à 90, longitude -180 à 180).")
    return location


def school(record: dict, territory: Territory, *,
           outside_is_error: bool = True) -> tuple[RegisterSchool, list[tuple[str, str]]]:
    """The registration command of one annuaire record and the remarks to report. RowError (skip
    and report) or Filtered (count only)."""
    if _plain(record["type_etablissement"]) not in ("college", "lycee"):
        raise Filtered(NOT_SECONDARY)
    if _plain(record.get("etat", "")) not in ("", "ouvert", "a fermer"):
        raise Filtered(CLOSED)
    try:
        uai = normalise_uai(record[UAI_COLUMN])
    except InvalidValue as exc:
        raise RowError("Identifiant_de_l_etablissement", str(exc)) from exc
    try:
        return _school(record, uai, territory, outside_is_error)
    except RowError as exc:
        exc.key = uai
        raise


def _school(record: dict, uai: str, territory: Territory, outside_is_error: bool):
    notes: list[tuple[str, str]] = []
    town_code = record["code_commune"]
    if not INSEE_CODE.match(town_code):
        raise RowError("Code_commune", "Code commune invalide : code INSEE de 5 caractères attendu (ex. 94080).")
    if town_code not in territory.towns:
        if not outside_is_error:
            raise Filtered(OUTSIDE)
        raise RowError("Code_commune", f"Commune hors du territoire {territory.name} : ce code INSEE "
                                       f"n'est pas celui d'une de ses communes.")
    town = territory.towns[town_code]
    name = record["nom_etablissement"]
    if not name:
        raise RowError("Nom_etablissement", "Nom de l'établissement manquant.")
    if len(name) > NAME_MAX:
        notes.append(("Nom_etablissement", f"Nom tronqué à {NAME_MAX} caractères."))
        name = name[:NAME_MAX].rstrip()
    email = record.get("mail", "")
    if not EMAIL.match(email) or len(email) > EMAIL_MAX:
        raise RowError("Mail", "Adresse e-mail de l'établissement manquante ou invalide : elle sert de "
                               "contact (jamais publiée).")
    location = _position(record)
    if location is None:
        location = town.centre
        notes.append(("latitude", f"Pas de coordonnées : établissement placé au centre de {town.name}."))
    try:
        check_place(territory, town_code, location)
    except InvalidPlace as exc:
        raise RowError("latitude", str(exc)) from exc
    postcode = record.get("code_postal", "")
    if not (len(postcode) == 5 and postcode.isdigit()):
        postcode = town.postcodes[0] if town.postcodes else ""
        notes.append(("Code_postal", f"Code postal absent ou invalide : {postcode} retenu."))
    street = record.get("adresse_1", "")
    if not street:
        notes.append(("Adresse_1", "Adresse sans voie."))
    kind, levels = school_type(record)
    command = RegisterSchool(name=name, contact_email=email, uai=uai, school_type=kind, levels=levels,
                             address=Address(street=street, postcode=postcode), town=town_code,
                             location=location)
    return command, notes


def actor_id(uai: str) -> str:
    return derived_id("act", f"uai:{uai}")


def prepare(line: int, record: dict, *, territory: Territory, outside_is_error: bool = True) -> Prepared:
    command, notes = school(record, territory, outside_is_error=outside_is_error)
    return prepared_actor(line, command.uai, actor_id(command.uai), command, notes)


def import_file(path: str | Path, uow, territory: Territory, *,
                report_path: str | Path | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                encoding: str = "utf-8", outside_is_error: bool = True,
                show_progress: bool = False) -> ImportReport:
    return import_actor_file(path, uow, label="Annuaire de l'éducation", required=REQUIRED,
                             prepare=partial(prepare, territory=territory, outside_is_error=outside_is_error),
                             report_path=report_path, batch_size=batch_size, encoding=encoding,
                             show_progress=show_progress)
