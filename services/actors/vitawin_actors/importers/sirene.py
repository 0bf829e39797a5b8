"""Import of establishments from the INSEE SIRENE stock file, "StockEtablissement" (base Sirene des
entreprises et de leurs établissements, open data on data.gouv.fr), or any extract of it with the
same columns: CSV, `,` delimiter, UTF-8, one establishment a line.

Columns read (INSEE names; the others, such as dateCreationEtablissement or the second address
columns `...2Etablissement`, are ignored):
- siren, nic, siret: the SIRET must pass its checksum (`normalise_siret`) and be siren + nic;
- etatAdministratifEtablissement: "A" (active) is imported, "F" (closed) counted and passed over;
- statutDiffusionEtablissement: "P" (partially diffusible: a person who refused the publication of
  their address) is counted and passed over, whatever else the line holds;
- codeCommuneEtablissement: the INSEE code of the town, which must be a town of the territory;
- activitePrincipaleEtablissement with nomenclatureActivitePrincipaleEtablissement: a NAF rév. 2
  code ("NAFRev2"), "56.10A" (`normalise_naf`); older nomenclatures are refused;
- activitePrincipaleRegistreMetiersEtablissement: filled only for an establishment registered
  with the Répertoire des métiers; the actor's kind is then `craftsman`, otherwise `company`;
- denominationUsuelleEtablissement, else enseigne1Etablissement, else denominationUniteLegale
  (a column of StockUniteLegale, present in extracts that join the two files): the name;
- numeroVoieEtablissement, indiceRepetitionEtablissement, typeVoieEtablissement (INSEE code:
  RUE, AV, BD...), libelleVoieEtablissement, codePostalEtablissement: the postal address;
- trancheEffectifsEtablissement: read by nobody yet (the directory has no size field).

Position, from the first pair present and filled:
- latitude / longitude: the geolocated stock published by Etalab on data.gouv.fr
  ("StockEtablissement géolocalisé": the INSEE columns, then longitude, latitude, geo_score,
  geo_type, geo_adresse, geo_id, geo_ligne, geo_l4, geo_l5);
- y_latitude / x_longitude: INSEE's "Géolocalisation des établissements du répertoire Sirene pour
  les études statistiques" joined on siret;
- coordonneeLambertAbscisseEtablissement / coordonneeLambertOrdonneeEtablissement: Lambert-93
  metres, in the stock file itself since 2024 (converted by `lambert93`).
"[ND]" (not diffusible) or empty counts as absent. An establishment without a position is placed
at its town's centre, and the report says so. A position more than 5 km from the town's centre is
refused (the API's rule, `check_organisation_town`).

SIRENE publishes no e-mail address: imported organisations have an empty `contact_email` (never
public anyway) until someone of the organisation completes the record, and so no contact event
(fr.vitawin.contact.registered.v1: nowhere to write to)."""
from __future__ import annotations

from functools import partial
from pathlib import Path

from vitawin_common.territory import InvalidPlace, Location, Territory

from vitawin_actors.domain import (INSEE_CODE, Address, InvalidValue, RegisterOrganisation,
                                   check_organisation_town, normalise_naf, normalise_siret)
from vitawin_actors.importers import lambert93
from vitawin_actors.importers.reading import Filtered, ImportReport, RowError
from vitawin_actors.importers.registration import import_actor_file, prepared_actor
from vitawin_actors.importers.writing import DEFAULT_BATCH_SIZE, Prepared, derived_id

REQUIRED = ("siret", "etatadministratifetablissement", "codecommuneetablissement",
            "activiteprincipaleetablissement")
NAME_COLUMNS = ("denominationusuelleetablissement", "enseigne1etablissement", "denominationunitelegale")
POSITION_COLUMNS = (("latitude", "longitude"), ("y_latitude", "x_longitude"))
LAMBERT_COLUMNS = ("coordonneelambertabscisseetablissement", "coordonneelambertordonneeetablissement")
NOT_DIFFUSIBLE = "[ND]"
NAME_MAX = 200

# INSEE's codes of typeVoieEtablissement (the usual ones; another code is written as it is).
STREET_TYPES = {
    "ALL": "allée", "AV": "avenue", "BD": "boulevard", "CAR": "carrefour", "CHE": "chemin",
    "CHS": "chaussée", "CITE": "cité", "COR": "corniche", "CRS": "cours", "DOM": "domaine",
    "DSC": "descente", "ECA": "écart", "ESP": "esplanade", "FG": "faubourg", "GR": "grande rue",
    "HAM": "hameau", "HLE": "halle", "IMP": "impasse", "LD": "lieu-dit", "LOT": "lotissement",
    "MAR": "marché", "MTE": "montée", "PAS": "passage", "PL": "place", "PLN": "plaine",
    "PLT": "plateau", "PRO": "promenade", "PRV": "parvis", "QUA": "quartier", "QUAI": "quai",
    "RES": "résidence", "RLE": "ruelle", "ROC": "rocade", "RPT": "rond-point", "RTE": "route",
    "RUE": "rue", "SEN": "sente", "SQ": "square", "TPL": "terre-plein", "TRA": "traverse",
    "VLA": "villa", "VLGE": "village",
}
REPETITION = {"B": "bis", "T": "ter", "Q": "quater", "C": "quinquies"}

CLOSED = "établissement fermé"
PARTIAL = "diffusion partielle (données non publiables)"
OUTSIDE = "commune hors du territoire"


def _value(record: dict, column: str) -> str:
    value = record.get(column, "")
    return "" if value == NOT_DIFFUSIBLE else value


def street(record: dict) -> str:
    """"12 bis avenue de la République" from the address columns."""
    number = _value(record, "numerovoieetablissement")
    repetition = _value(record, "indicerepetitionetablissement")
    kind = _value(record, "typevoieetablissement")
    parts = [number, REPETITION.get(repetition.upper(), repetition.lower()) if number else "",
             STREET_TYPES.get(kind.upper(), kind.lower()), _value(record, "libellevoieetablissement")]
    return " ".join(part for part in parts if part)


def _float(record: dict, column: str) -> float:
    try:
        return float(record[column].replace(",", "."))
    except ValueError as exc:
        raise RowError(column, "Nombre attendu (coordonnée en notation décimale).") from exc


def position(record: dict) -> tuple[Location | None, str]:
    """The establishment's position and the column that gave it, or (None, "") when it has none."""
    for lat_column, lon_column in POSITION_COLUMNS:
        if _value(record, lat_column) and _value(record, lon_column):
            lat, lon = _float(record, lat_column), _float(record, lon_column)
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise RowError(lat_column, "Coordonnées hors des bornes (latitude -90 à 90, longitude "
                                           "-180 à 180) : colonnes inversées ?")
            return Location(lat=lat, lon=lon), lat_column
    x_column, y_column = LAMBERT_COLUMNS
    if _value(record, x_column) and _value(record, y_column):
        lat, lon = lambert93.from_lambert93(_float(record, x_column), _float(record, y_column))
        return Location(lat=round(lat, 6), lon=round(lon, 6)), x_column
    return None, ""


def organisation(record: dict, territory: Territory, *,
                 outside_is_error: bool = True) -> tuple[RegisterOrganisation, list[tuple[str, str]]]:
    """The registration command of one StockEtablissement record and the remarks to report.
    RowError (skip and report) or Filtered (count only)."""
    if record.get("etatadministratifetablissement", "").upper() != "A":
        raise Filtered(CLOSED)
    if record.get("statutdiffusionetablissement", "O").upper() == "P":
        raise Filtered(PARTIAL)
    try:
        siret = normalise_siret(record["siret"])
    except InvalidValue as exc:
        raise RowError("siret", str(exc)) from exc
    try:
        return _organisation(record, siret, territory, outside_is_error)
    except RowError as exc:
        exc.key = siret
        raise


def _organisation(record: dict, siret: str, territory: Territory, outside_is_error: bool):
    notes: list[tuple[str, str]] = []
    siren, nic = record.get("siren", ""), record.get("nic", "")
    if siren and nic and siren + nic != siret:
        raise RowError("siret", "SIRET incohérent : il doit être le SIREN (9 chiffres) suivi du NIC (5 chiffres).")
    town_code = record["codecommuneetablissement"]
    if not INSEE_CODE.match(town_code):
        raise RowError("codeCommuneEtablissement", "Code commune invalide : code INSEE de 5 caractères "
                                                   "attendu (ex. 94080).")
    if town_code not in territory.towns:
        if not outside_is_error:
            raise Filtered(OUTSIDE)
        raise RowError("codeCommuneEtablissement", f"Commune hors du territoire {territory.name} : "
                                                   f"ce code INSEE n'est pas celui d'une de ses communes.")
    town = territory.towns[town_code]
    nomenclature = record.get("nomenclatureactiviteprincipaleetablissement", "")
    if nomenclature and nomenclature != "NAFRev2":
        raise RowError("nomenclatureActivitePrincipaleEtablissement",
                       f"Nomenclature {nomenclature} non prise en charge : seul un code NAF rév. 2 "
                       f"(NAFRev2) est accepté.")
    try:
        naf_code = normalise_naf(record["activiteprincipaleetablissement"])
    except InvalidValue as exc:
        raise RowError("activitePrincipaleEtablissement", str(exc)) from exc
    name = next((_value(record, column) for column in NAME_COLUMNS if _value(record, column)), "")
    if not name:
        raise RowError("denominationUsuelleEtablissement",
                       "Nom manquant : ni dénomination usuelle, ni enseigne (joignez denominationUniteLegale "
                       "du fichier StockUniteLegale).")
    if len(name) > NAME_MAX:
        notes.append(("denominationUsuelleEtablissement", f"Nom tronqué à {NAME_MAX} caractères."))
        name = name[:NAME_MAX].rstrip()
    location, column = position(record)
    if location is None:
        location = town.centre
        notes.append(("latitude", f"Pas de coordonnées : établissement placé au centre de {town.name}."))
    try:
        check_organisation_town(territory, town_code, location, from_outside=False)
    except InvalidPlace as exc:
        raise RowError(column or exc.field, str(exc)) from exc
    postcode = _value(record, "codepostaletablissement")
    if not (len(postcode) == 5 and postcode.isdigit()):
        postcode = town.postcodes[0] if town.postcodes else ""
        notes.append(("codePostalEtablissement", f"Code postal absent ou invalide : {postcode} retenu."))
    address = street(record)
    if not address:
        notes.append(("libelleVoieEtablissement", "Adresse sans voie."))
    kind = "craftsman" if _value(record, "activiteprincipaleregistremetiersetablissement") else "company"
    command = RegisterOrganisation(kind=kind, name=name, contact_email="", siret=siret, naf_code=naf_code,
                                   address=Address(street=address, postcode=postcode), town=town_code,
                                   location=location, serves_territory_from_outside=False)
    return command, notes


def actor_id(siret: str) -> str:
    return derived_id("act", f"siret:{siret}")


def prepare(line: int, record: dict, *, territory: Territory, outside_is_error: bool = True) -> Prepared:
    """A record as the actor document and event the API would make, with an id derived from its SIRET."""
    command, notes = organisation(record, territory, outside_is_error=outside_is_error)
    return prepared_actor(line, command.siret, actor_id(command.siret), command, notes)


def import_file(path: str | Path, uow, territory: Territory, *,
                report_path: str | Path | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                encoding: str = "utf-8", outside_is_error: bool = True,
                show_progress: bool = False) -> ImportReport:
    return import_actor_file(path, uow, label='SIRENE', required=REQUIRED,
                             prepare=partial(prepare, territory=territory, outside_is_error=outside_is_error),
                             report_path=report_path, batch_size=batch_size, encoding=encoding,
                             show_progress=show_progress)
