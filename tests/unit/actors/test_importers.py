"""The open-data importers (vitawin_actors.importers), on small files written here in the real
formats (INSEE StockEtablissement, Annuaire de l'éducation export, pledges in JSON lines), with an
in-memory unit of work: good rows become actors or volunteers whose events satisfy their contract,
each bad row is reported with its line, field and French reason while the import goes on, and
importing the same file again adds nothing. A school (which has a contact e-mail) also brings its
fr.vitawin.contact.registered.v1 on the internal `contacts` channel, in the same transaction; an
organisation from SIRENE (no e-mail) brings none."""
from __future__ import annotations

import csv
import json
from unittest.mock import MagicMock

import pytest

from vitawin_common import contracts
from vitawin_common.config import Settings
from vitawin_common.events import new_event
from vitawin_common.outbox import Outbox
from vitawin_common.testing import InMemoryRepository, InMemoryUnitOfWork

from vitawin_actors import bootstrap, handlers
from vitawin_actors.domain import ActionSettings, Pledge, normalise_siret, normalise_uai
from vitawin_actors.importers import cli, education, lambert93, pledges, sirene
from vitawin_actors.importers.reading import NOTED, SKIPPED, FileRejected, ImportReport
from vitawin_actors.importers.writing import ImportUnitOfWork, Prepared, derived_id, outbox_entry, run_import

ACTOR_REGISTERED = "fr.vitawin.actor.registered.v1"
CONTACT_REGISTERED = "fr.vitawin.contact.registered.v1"
VOLUNTEER_REGISTERED = "fr.vitawin.volunteer.registered.v1"


# --- an in-memory unit of work with the importers' two bulk methods ------------------------------

class Docs(InMemoryRepository):
    def __init__(self, id_field):
        super().__init__()
        self.id_field = id_field


class ImportUow(InMemoryUnitOfWork):
    """known_ids, outbox_entry and add_all over dicts; outbox_entry checks the event against its
    contract, as the real one does. `blocks` counts the committed transactions; `batches` keeps,
    for each `add_all`, its entity ids and the ids of its events."""

    def __init__(self, contract_set):
        super().__init__()
        self.contract_set = contract_set
        self.actors = self.attach(Docs("actor_id"))
        self.volunteers = self.attach(Docs("volunteer_id"))
        self.blocks = 0
        self.batches: list[tuple[list[str], list[str]]] = []

    def known_ids(self, collection):
        return set(getattr(self, collection).docs)

    def outbox_entry(self, event, channel):
        self.contract_set.validate(event.type, event.data)
        return event, channel

    def add_all(self, collection, docs, entries):
        repository = getattr(self, collection)
        for doc in docs:
            repository.add(doc)
        for event, channel in entries:  # the documents' own events, then the other ones
            self.publish(event, channel)
        self.batches.append(([doc[repository.id_field] for doc in docs], [event.id for event, _ in entries]))

    def commit(self):
        super().commit()
        self.blocks += 1


@pytest.fixture
def contract_set():
    return contracts.load(Settings(service_name="actors-tests").contracts_dir)


@pytest.fixture
def territory():
    return bootstrap.territory()


@pytest.fixture
def uow(contract_set):
    return ImportUow(contract_set)


# --- SIRENE --------------------------------------------------------------------------------------

SIRENE_COLUMNS = [
    "siren", "nic", "siret", "statutDiffusionEtablissement", "dateCreationEtablissement",
    "trancheEffectifsEtablissement", "activitePrincipaleRegistreMetiersEtablissement", "etablissementSiege",
    "numeroVoieEtablissement", "indiceRepetitionEtablissement", "typeVoieEtablissement",
    "libelleVoieEtablissement", "codePostalEtablissement", "libelleCommuneEtablissement",
    "codeCommuneEtablissement", "coordonneeLambertAbscisseEtablissement",
    "coordonneeLambertOrdonneeEtablissement", "dateDebut", "etatAdministratifEtablissement",
    "enseigne1Etablissement", "denominationUsuelleEtablissement", "activitePrincipaleEtablissement",
    "nomenclatureActivitePrincipaleEtablissement", "caractereEmployeurEtablissement", "longitude", "latitude",
]
# Valid SIRETs (Luhn): 732 829 320 00074 and others computed with stdnum.
SIRETS = ["73282932000074", "55203253400646", "44306184100047", "40483304800022", "35600000000048",
          "83014132100034", "12345678200010"]


def establishment(siret="73282932000074", **overrides) -> dict:
    """A valid active bakery of Vincennes (94080), a few hundred metres from the town centre."""
    row = dict.fromkeys(SIRENE_COLUMNS, "")
    row.update(siren=siret[:9], nic=siret[9:], siret=siret, statutDiffusionEtablissement="O",
               trancheEffectifsEtablissement="01", numeroVoieEtablissement="12", typeVoieEtablissement="RUE",
               libelleVoieEtablissement="DE FONTENAY", codePostalEtablissement="94300",
               libelleCommuneEtablissement="VINCENNES", codeCommuneEtablissement="94080",
               etatAdministratifEtablissement="A", denominationUsuelleEtablissement="Boulangerie des Vignerons",
               activitePrincipaleEtablissement="10.71C", nomenclatureActivitePrincipaleEtablissement="NAFRev2",
               latitude="48.8478", longitude="2.4385")
    row.update(overrides)
    return row


def write_sirene(path, rows, columns=SIRENE_COLUMNS):
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def import_sirene(path, uow, territory, contract_set, **options):
    return sirene.import_file(path, uow, territory, **options)


def test_a_valid_establishment_becomes_a_company_actor_with_its_registered_event(tmp_path, uow, territory,
                                                                                contract_set):
    path = write_sirene(tmp_path / "stock.csv", [establishment(denominationUsuelleEtablissement="Café de la Gare",
                                                               activitePrincipaleEtablissement="56.30Z")])
    report = import_sirene(path, uow, territory, contract_set)

    assert (report.read, report.imported, report.skipped, report.already_present) == (1, 1, 0, 0)
    actor_id = derived_id("act", "siret:73282932000074")
    doc = uow.actors.docs[actor_id]
    assert doc["kind"] == "company" and doc["name"] == "Café de la Gare" and doc["naf_code"] == "56.30Z"
    assert doc["siret"] == "73282932000074" and doc["town"] == "94080"
    assert doc["address"] == {"street": "12 rue DE FONTENAY", "postcode": "94300"}
    assert doc["location"] == {"lat": 48.8478, "lon": 2.4385}
    assert doc["contact_email"] == "" and doc["serves_territory_from_outside"] is False
    [(event, channel)] = uow.published  # no contact event: SIRENE gives no e-mail, nowhere to write to
    assert channel == "actors" and event.type == ACTOR_REGISTERED and event.source == "/vitawin/actors"
    assert event.subject == actor_id
    contract_set.validate(event.type, event.data)
    assert event.data == {"actor_id": actor_id, "kind": "company", "name": "Café de la Gare", "town": "94080",
                          "location": {"lat": 48.8478, "lon": 2.4385}, "naf_code": "56.30Z",
                          "serves_territory_from_outside": False}


def test_an_establishment_of_the_repertoire_des_metiers_is_a_craftsman(tmp_path, uow, territory, contract_set):
    path = write_sirene(tmp_path / "stock.csv", [
        establishment(activitePrincipaleRegistreMetiersEtablissement="1071CA"),
        establishment(SIRETS[1], denominationUsuelleEtablissement="Conseil Est",
                      activitePrincipaleEtablissement="70.22Z")])
    import_sirene(path, uow, territory, contract_set)
    kinds = {doc["siret"]: doc["kind"] for doc in uow.actors.docs.values()}
    assert kinds == {SIRETS[0]: "craftsman", SIRETS[1]: "company"}


def test_each_bad_row_is_reported_with_its_line_field_and_reason_and_the_import_goes_on(tmp_path, uow, territory,
                                                                                       contract_set):
    rows = [
        establishment(SIRETS[0]),                                                   # line 2: good
        establishment("73282932000075"),                                            # 3: bad checksum
        establishment(SIRETS[1], activitePrincipaleEtablissement="5610"),           # 4: bad NAF
        establishment(SIRETS[2], codeCommuneEtablissement="75056", latitude="48.857", longitude="2.38"),  # 5
        establishment(SIRETS[3], latitude="48.90", longitude="2.30"),               # 6: far from Vincennes
        establishment(SIRETS[5], denominationUsuelleEtablissement=""),              # 7: no name
        establishment(SIRETS[6], activitePrincipaleEtablissement="52.4C",
                      nomenclatureActivitePrincipaleEtablissement="NAFRev1"),       # 8: old nomenclature
        establishment("55203253400646", codeCommuneEtablissement="94X80"),          # 9: malformed town code
        establishment("44306184100047", siren="443061842"),                          # 10: siret != siren + nic
    ]
    path = write_sirene(tmp_path / "stock.csv", rows)
    with open(path, "a", encoding="utf-8") as f:
        f.write(";".join(establishment(SIRETS[4]).values()) + "\n")                 # 11: other delimiter
        f.write("40483304800022,404833048,00022\n")                                   # 12: missing columns
    with open(path, "ab") as f:                                                      # 13: latin-1 line
        f.write(",".join(establishment("83014132100034", denominationUsuelleEtablissement="Caf\xe9 Cr\xe8me")
                         .values()).encode("latin-1") + b"\n")
    with open(path, "a", encoding="utf-8") as f:
        f.write(",".join(establishment("12345678200010", denominationUsuelleEtablissement="Dernière ligne")
                         .values()) + "\n")                                           # 14: good

    report = import_sirene(path, uow, territory, contract_set)

    skipped = {issue.line: (issue.field, issue.reason) for issue in report.issues if issue.status == SKIPPED}
    assert sorted(skipped) == list(range(3, 14))
    assert skipped[3] == ("siret", "SIRET invalide : la clé de contrôle ne correspond pas ; vérifiez les 14 "
                                   "chiffres.")
    assert skipped[4][0] == "activitePrincipaleEtablissement" and "Code NAF invalide" in skipped[4][1]
    assert skipped[5][0] == "codeCommuneEtablissement"
    assert "hors du territoire Paris Est Marne et Bois" in skipped[5][1]
    assert skipped[6][0] == "latitude" and "5 km au plus du centre de Vincennes" in skipped[6][1]
    assert skipped[7][0] == "denominationUsuelleEtablissement" and "Nom manquant" in skipped[7][1]
    assert skipped[8][0] == "nomenclatureActivitePrincipaleEtablissement" and "NAFRev1" in skipped[8][1]
    assert skipped[9][0] == "codeCommuneEtablissement" and "Code commune invalide" in skipped[9][1]
    assert skipped[10][0] == "siret" and "SIREN" in skipped[10][1]
    assert skipped[11][0] == "ligne" and "Ligne mal formée" in skipped[11][1] and "« , »" in skipped[11][1]
    assert skipped[12][0] == "ligne" and "3 champ(s) au lieu de 26" in skipped[12][1]
    assert skipped[13][0] == "ligne" and "Encodage invalide" in skipped[13][1]
    assert (report.read, report.imported, report.skipped) == (13, 2, 11)
    assert {doc["siret"] for doc in uow.actors.docs.values()} == {SIRETS[0], "12345678200010"}
    assert len(uow.published) == 2
    identified = {issue.line: issue.key for issue in report.issues}
    assert identified[4] == SIRETS[1] and identified[3] == ""  # the key once the SIRET is known


def test_closed_and_partially_diffusible_establishments_are_counted_not_reported(tmp_path, uow, territory,
                                                                                contract_set):
    path = write_sirene(tmp_path / "stock.csv", [
        establishment(SIRETS[0], etatAdministratifEtablissement="F"),
        establishment(SIRETS[1], statutDiffusionEtablissement="P", libelleVoieEtablissement="[ND]"),
        establishment(SIRETS[2])])
    report = import_sirene(path, uow, territory, contract_set)
    assert report.imported == 1 and report.skipped == 0 and report.issues == []
    assert report.filtered == {sirene.CLOSED: 1, sirene.PARTIAL: 1}


def test_without_coordinates_the_establishment_is_placed_at_its_town_centre_and_the_report_says_so(
        tmp_path, uow, territory, contract_set):
    path = write_sirene(tmp_path / "stock.csv", [establishment(latitude="", longitude="")])
    report = import_sirene(path, uow, territory, contract_set)
    [doc] = uow.actors.docs.values()
    centre = territory.towns["94080"].centre
    assert doc["location"] == {"lat": centre.lat, "lon": centre.lon}
    assert report.imported == 1 and report.noted == 1
    [issue] = report.issues
    assert issue.status == NOTED and issue.line == 2 and issue.key == SIRETS[0]
    assert issue.reason == "Pas de coordonnées : établissement placé au centre de Vincennes."


def test_the_lambert_93_coordinates_of_the_stock_file_are_used_when_there_is_no_latitude(
        tmp_path, uow, territory, contract_set):
    x, y = lambert93.to_lambert93(48.8478, 2.4385)
    path = write_sirene(tmp_path / "stock.csv", [establishment(
        latitude="", longitude="", coordonneeLambertAbscisseEtablissement=f"{x:.1f}",
        coordonneeLambertOrdonneeEtablissement=f"{y:.1f}")])
    report = import_sirene(path, uow, territory, contract_set)
    [doc] = uow.actors.docs.values()
    assert report.noted == 0
    assert doc["location"]["lat"] == pytest.approx(48.8478, abs=2e-6)
    assert doc["location"]["lon"] == pytest.approx(2.4385, abs=2e-6)


def test_the_insee_geolocation_columns_are_read_too(tmp_path, uow, territory, contract_set):
    columns = [c for c in SIRENE_COLUMNS if c not in ("latitude", "longitude")] + ["x_longitude", "y_latitude"]
    row = {k: v for k, v in establishment().items() if k not in ("latitude", "longitude")}
    path = write_sirene(tmp_path / "stock.csv", [{**row, "x_longitude": "2.4385", "y_latitude": "48.8478"}], columns)
    import_sirene(path, uow, territory, contract_set)
    [doc] = uow.actors.docs.values()
    assert doc["location"] == {"lat": 48.8478, "lon": 2.4385}


def test_a_file_in_latin_1_is_read_with_its_encoding_and_a_byte_order_mark_is_ignored(tmp_path, uow, territory,
                                                                                     contract_set):
    latin = tmp_path / "latin.csv"
    rows = [SIRENE_COLUMNS, establishment(denominationUsuelleEtablissement="Café Crème").values()]
    latin.write_bytes("".join(",".join(row) + "\r\n" for row in rows).encode("latin-1"))
    assert import_sirene(latin, uow, territory, contract_set, encoding="latin-1").imported == 1
    [doc] = uow.actors.docs.values()
    assert doc["name"] == "Café Crème"
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + write_sirene(tmp_path / "plain.csv", [establishment(SIRETS[1])]).read_bytes())
    assert import_sirene(bom, uow, territory, contract_set).imported == 1


def test_importing_the_same_file_again_adds_nothing(tmp_path, uow, territory, contract_set):
    path = write_sirene(tmp_path / "stock.csv", [establishment(siret) for siret in SIRETS[:4]])
    first = import_sirene(path, uow, territory, contract_set)
    docs, published = dict(uow.actors.docs), list(uow.published)

    again = import_sirene(path, uow, territory, contract_set)

    assert first.imported == 4
    assert (again.read, again.imported, again.already_present, again.skipped) == (4, 0, 4, 0)
    assert uow.actors.docs == docs and uow.published == published


def test_a_siret_repeated_in_the_file_is_reported_on_its_second_line(tmp_path, uow, territory, contract_set):
    path = write_sirene(tmp_path / "stock.csv", [establishment(), establishment(SIRETS[1]), establishment()])
    report = import_sirene(path, uow, territory, contract_set)
    assert report.imported == 2
    [issue] = report.issues
    assert (issue.line, issue.key, issue.reason) == (4, SIRETS[0], "En double dans le fichier : déjà lu ligne 2.")


def test_rows_are_written_in_batches_one_transaction_each(tmp_path, uow, territory, contract_set):
    path = write_sirene(tmp_path / "stock.csv", [establishment(siret) for siret in SIRETS])
    report = import_sirene(path, uow, territory, contract_set, batch_size=3)
    assert report.imported == 7 and uow.blocks == 3 and len(uow.published) == 7


def test_a_national_file_may_count_rows_outside_the_territory_without_reporting_them(tmp_path, uow, territory,
                                                                                     contract_set):
    path = write_sirene(tmp_path / "stock.csv", [
        establishment(SIRETS[0], codeCommuneEtablissement="75056", latitude="48.857", longitude="2.38"),
        establishment(SIRETS[1])])
    report = import_sirene(path, uow, territory, contract_set, outside_is_error=False)
    assert report.imported == 1 and report.issues == [] and report.filtered == {sirene.OUTSIDE: 1}


def test_a_file_without_the_needed_columns_is_refused_as_a_whole(tmp_path, uow, territory, contract_set):
    path = tmp_path / "stock.csv"
    path.write_text("siren;nic;siret\n732829320;00074;73282932000074\n", encoding="utf-8")
    with pytest.raises(FileRejected, match="Colonnes manquantes dans stock.csv : etatadministratifetablissement"):
        import_sirene(path, uow, territory, contract_set)
    assert uow.published == []


def test_the_report_file_lists_every_problem_in_french_with_a_semicolon(tmp_path, uow, territory, contract_set):
    path = write_sirene(tmp_path / "stock.csv", [establishment("73282932000075"),
                                                 establishment(SIRETS[1], latitude="", longitude="")])
    import_sirene(path, uow, territory, contract_set, report_path=tmp_path / "rapport.csv")
    lines = (tmp_path / "rapport.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "ligne;identifiant;statut;champ;motif"
    assert lines[1].startswith("2;;ignorée;siret;")
    assert lines[2] == f"3;{SIRETS[1]};importée, avec remarque;latitude;Pas de coordonnées : établissement " \
                       f"placé au centre de Vincennes."


def test_a_row_whose_event_breaks_its_contract_is_reported_and_the_other_rows_are_written(uow):
    def prepare(line, record):
        actor_id = derived_id("act", record["key"])
        data = {"actor_id": actor_id, "kind": "company", "name": record["name"], "town": "94080",
                "location": {"lat": 48.8478, "lon": 2.4385}, "naf_code": "56.10A",
                "serves_territory_from_outside": False}
        return Prepared(line, record["key"], actor_id, {"actor_id": actor_id, **data},
                        new_event(ACTOR_REGISTERED, "/vitawin/actors", actor_id, data))

    records = [(2, {"key": "a", "name": "Bon"}), (3, {"key": "b", "name": "x" * 201}),
               (4, {"key": "c", "name": "Bon"})]
    report = run_import(records, prepare, uow, collection="actors", channel="actors", report=ImportReport("test"),
                        batch_size=2)
    assert report.imported == 2 and report.skipped == 1
    assert report.issues[0].line == 3 and "non conforme à son contrat" in report.issues[0].reason
    assert len(uow.actors.docs) == 2


# --- Annuaire de l'éducation ----------------------------------------------------------------------

EDUCATION_COLUMNS = ["Identifiant_de_l_etablissement", "Nom_etablissement", "Type_etablissement",
                     "Statut_public_prive", "Adresse_1", "Code_postal", "Code_commune", "Nom_commune",
                     "Voie_generale", "Voie_technologique", "Voie_professionnelle", "Mail", "latitude", "longitude",
                     "etat", "code_nature", "libelle_nature"]


def uai(digits: str) -> str:
    return digits + "ABCDEFGHJKLMNPRSTUVWXYZ"[int(digits) % 23]


def school_row(code="0940001", kind="Collège", **overrides) -> dict:
    row = dict.fromkeys(EDUCATION_COLUMNS, "")
    row.update(Identifiant_de_l_etablissement=uai(code), Nom_etablissement=f"{kind} Jean Moulin",
               Type_etablissement=kind, Statut_public_prive="Public", Adresse_1="2 rue de Fontenay",
               Code_postal="94300", Code_commune="94080", Nom_commune="Vincennes",
               Mail=f"ce.{uai(code).lower()}@ac-creteil.fr", latitude="48.8470", longitude="2.4400", etat="OUVERT")
    row.update(overrides)
    return row


def write_education(path, rows, columns=EDUCATION_COLUMNS):
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, delimiter=";", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_colleges_and_lycees_become_school_actors_with_their_type_and_levels(tmp_path, uow, territory, contract_set):
    path = write_education(tmp_path / "annuaire.csv", [
        school_row("0940001", "Collège"),
        school_row("0940002", "Lycée", Voie_generale="1", Voie_technologique="1", Voie_professionnelle="0"),
        school_row("0940003", "Lycée", Voie_generale="0", Voie_technologique="0", Voie_professionnelle="1"),
        school_row("0940004", "Lycée", Voie_generale="1", Voie_technologique="1", Voie_professionnelle="1"),
        school_row("0940005", "Lycée", libelle_nature="LYCEE PROFESSIONNEL"),
    ])
    report = education.import_file(path, uow, territory)

    assert report.imported == 5 and report.skipped == 0
    by_uai = {doc["uai"]: doc for doc in uow.actors.docs.values()}
    assert (by_uai[uai("0940001")]["school_type"], by_uai[uai("0940001")]["levels"]) == (
        "college", ["6e", "5e", "4e", "3e"])
    assert (by_uai[uai("0940002")]["school_type"], by_uai[uai("0940002")]["levels"]) == (
        "lycee_general_technologique", ["2nde", "1re", "Tle"])
    assert (by_uai[uai("0940003")]["school_type"], by_uai[uai("0940003")]["levels"]) == (
        "lycee_professionnel", ["2nde", "1re", "Tle", "CAP1", "CAP2"])
    assert (by_uai[uai("0940004")]["school_type"], by_uai[uai("0940004")]["levels"]) == (
        "lycee_general_technologique", ["2nde", "1re", "Tle", "CAP1", "CAP2"])
    assert by_uai[uai("0940005")]["school_type"] == "lycee_professionnel"
    college = by_uai[uai("0940001")]
    assert college["actor_id"] == derived_id("act", f"uai:{uai('0940001')}")
    assert college["kind"] == "school" and college["contact_email"] == f"ce.{uai('0940001').lower()}@ac-creteil.fr"
    assert college["address"] == {"street": "2 rue de Fontenay", "postcode": "94300"}
    registered = [event for event, channel in uow.published if channel == "actors"]
    assert len(registered) == 5
    for event in registered:
        assert event.type == ACTOR_REGISTERED
        contract_set.validate(event.type, event.data)
        assert set(event.data) == {"actor_id", "kind", "name", "town", "location", "uai", "school_type",
                                   "levels", "internship_periods"}
    contacts = [event for event, channel in uow.published if channel == "contacts"]
    assert sorted(event.subject for event in contacts) == sorted(uow.actors.docs)
    assert {event.type for event in contacts} == {CONTACT_REGISTERED}


def test_bad_school_rows_are_reported_and_other_establishments_are_passed_over(tmp_path, uow, territory,
                                                                              contract_set):
    path = write_education(tmp_path / "annuaire.csv", [
        school_row("0940001"),                                                    # 2: good
        school_row("0940002", Identifiant_de_l_etablissement="0940002Z"),         # 3: wrong check letter
        school_row("0940003", Code_commune="93048", Nom_commune="Montreuil"),     # 4: outside
        school_row("0940004", Mail=""),                                           # 5: no e-mail
        school_row("0940005", latitude="48.70", longitude="2.20"),                # 6: far away
        school_row("0940006", "Ecole"),                                           # 7: primary school
        school_row("0940007", etat="FERME"),                                      # 8: closed
        school_row("0940008", "Lycée", latitude="", longitude=""),                # 9: no position: noted
    ])
    report = education.import_file(path, uow, territory)

    skipped = {issue.line: (issue.field, issue.reason) for issue in report.issues if issue.status == SKIPPED}
    assert skipped == {
        3: ("Identifiant_de_l_etablissement", "Code UAI invalide : la lettre ne correspond pas aux 7 chiffres."),
        4: ("Code_commune", "Commune hors du territoire Paris Est Marne et Bois : ce code INSEE n'est pas celui "
                            "d'une de ses communes."),
        5: ("Mail", "Adresse e-mail de l'établissement manquante ou invalide : elle sert de contact (jamais "
                    "publiée)."),
        6: ("latitude", skipped[6][1]),
    }
    assert "5 km au plus du centre de Vincennes" in skipped[6][1]
    assert report.filtered == {education.NOT_SECONDARY: 1, education.CLOSED: 1}
    assert report.imported == 2 and report.noted == 1
    assert {doc["uai"] for doc in uow.actors.docs.values()} == {uai("0940001"), uai("0940008")}


def test_the_column_names_of_the_api_export_in_lower_case_are_accepted(tmp_path, uow, territory, contract_set):
    columns = [c.lower() for c in EDUCATION_COLUMNS]
    row = {k.lower(): v for k, v in school_row().items()}
    path = write_education(tmp_path / "annuaire.csv", [row], columns)
    assert education.import_file(path, uow, territory).imported == 1


def test_importing_the_same_annuaire_again_adds_nothing(tmp_path, uow, territory, contract_set):
    path = write_education(tmp_path / "annuaire.csv", [school_row("0940001"), school_row("0940002", "Lycée")])
    education.import_file(path, uow, territory)
    again = education.import_file(path, uow, territory)
    assert (again.imported, again.already_present) == (0, 2)
    assert [channel for _, channel in uow.published] == ["actors", "actors", "contacts", "contacts"]


def test_an_imported_school_publishes_its_contact_event_with_its_registration_in_one_transaction(
        tmp_path, uow, territory, contract_set):
    path = write_education(tmp_path / "annuaire.csv", [school_row("0940001")])
    education.import_file(path, uow, territory)

    actor_id = derived_id("act", f"uai:{uai('0940001')}")
    doc = uow.actors.docs[actor_id]
    [(registered, first), (contact, second)] = uow.published
    assert (first, second) == ("actors", "contacts")
    assert uow.blocks == 1 and uow.batches == [([actor_id], [registered.id, contact.id])]
    assert (contact.type, contact.source, contact.subject) == (CONTACT_REGISTERED, "/vitawin/actors", actor_id)
    contract_set.validate(CONTACT_REGISTERED, contact.data)
    registered_at = doc["created_at"].isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert contact.data == {"actor_id": actor_id, "kind": "school", "email": doc["contact_email"],
                            "display_name": "Collège Jean Moulin", "school_uai": uai("0940001"),
                            "guardian_copies": False, "registered_at": registered_at}
    assert doc["contact_email"] == f"ce.{uai('0940001').lower()}@ac-creteil.fr"
    assert "ac-creteil" not in json.dumps(registered.data)  # the actor event still carries no contact


def test_the_event_ids_of_an_import_are_derived_and_distinct_so_that_a_rerun_gives_the_same_ones(
        tmp_path, territory, contract_set):
    path = write_education(tmp_path / "annuaire.csv", [school_row("0940001")])
    first, second = ImportUow(contract_set), ImportUow(contract_set)
    education.import_file(path, first, territory)
    education.import_file(path, second, territory)
    ids = [event.id for event, _ in first.published]
    assert ids == [event.id for event, _ in second.published] and len(set(ids)) == 2


def test_a_school_address_longer_than_the_contract_allows_is_reported_not_imported(tmp_path, uow, territory):
    long_mail = "ce." + "x" * 240 + "@ac-creteil.fr"
    path = write_education(tmp_path / "annuaire.csv", [school_row("0940001", Mail=long_mail), school_row("0940002")])
    report = education.import_file(path, uow, territory)
    assert report.imported == 1
    [issue] = report.issues
    assert (issue.line, issue.field) == (2, "Mail")
    assert long_mail not in issue.reason


def test_a_row_whose_other_event_breaks_its_contract_is_skipped_as_a_whole(uow, contract_set):
    def prepare(line, record):
        actor_id = derived_id("act", record["key"])
        data = {"actor_id": actor_id, "kind": "company", "name": "Bon", "town": "94080",
                "location": {"lat": 48.8478, "lon": 2.4385}, "naf_code": "56.10A",
                "serves_territory_from_outside": False}
        contact = new_event(CONTACT_REGISTERED, "/vitawin/actors", actor_id,
                            {"actor_id": actor_id, "kind": "company", "email": record["email"],
                             "display_name": "Bon", "registered_at": "2026-11-27T09:30:00.000Z"})
        return Prepared(line, record["key"], actor_id, {"actor_id": actor_id, **data},
                        new_event(ACTOR_REGISTERED, "/vitawin/actors", actor_id, data),
                        more_events=((contact, "contacts"),))

    records = [(2, {"key": "a", "email": "bon@example.fr"}), (3, {"key": "b", "email": "pas-une-adresse"})]
    report = run_import(records, prepare, uow, collection="actors", channel="actors", report=ImportReport("test"))
    assert report.imported == 1 and report.skipped == 1 and report.issues[0].line == 3
    assert "pas-une-adresse" not in report.issues[0].reason  # a reason never quotes the value
    assert list(uow.actors.docs) == [derived_id("act", "a")]
    assert [channel for _, channel in uow.published] == ["actors", "contacts"]


# --- pledges ---------------------------------------------------------------------------------------

def pledge_line(siret=SIRETS[0], **overrides) -> dict:
    line = {"siret": siret, "organisation_name": "Boulangerie des Vignerons",
            "contact_email": "contact@boulangerie.example.fr", "town": "94080",
            "location": {"lat": 48.8478, "lon": 2.4385}, "action_types": ["testimony", "internship"],
            "max_distance_km": 8}
    line.update(overrides)
    return line


def write_pledges(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write((line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)) + "\n")
    return path


def test_pledges_become_volunteers_linked_to_their_establishment_with_their_events(tmp_path, uow, territory,
                                                                                  contract_set):
    import_sirene(write_sirene(tmp_path / "stock.csv", [establishment()]), uow, territory, contract_set)
    path = write_pledges(tmp_path / "engagements.jsonl", [pledge_line(), pledge_line(SIRETS[1], max_distance_km=3)])

    report = pledges.import_file(path, uow, territory)

    assert report.imported == 2 and report.skipped == 0
    linked = uow.volunteers.docs[derived_id("vol", f"pledge:siret:{SIRETS[0]}")]
    assert linked["actor_id"] == derived_id("act", f"siret:{SIRETS[0]}")
    assert linked["action_types"] == ["testimony", "internship"] and linked["max_distance_km"] == 8.0
    unlinked = uow.volunteers.docs[derived_id("vol", f"pledge:siret:{SIRETS[1]}")]
    assert "actor_id" not in unlinked
    [note] = report.issues
    assert note.status == NOTED and note.key == SIRETS[1] and "absent de l'annuaire" in note.reason
    events = [(event, channel) for event, channel in uow.published if event.type == VOLUNTEER_REGISTERED]
    assert len(events) == 2
    for event, channel in events:
        assert channel == "volunteers" and event.source == "/vitawin/actors"
        assert event.subject == event.data["volunteer_id"]
        contract_set.validate(event.type, event.data)


def test_an_imported_pledge_is_stored_and_published_as_the_api_registers_it(tmp_path, uow, territory,
                                                                            contract_set):
    """Per-action settings (the defaults: a line has none; an `actions` field is not read), status
    active and version 1, in the document and in an event that satisfies its contract."""
    line = pledge_line(actions={"testimony": {"audience": "college"}})
    pledges.import_file(write_pledges(tmp_path / "engagements.jsonl", [line]), uow, territory)
    [imported] = uow.volunteers.docs.values()
    [(event, _)] = uow.published

    api_uow = InMemoryUnitOfWork()
    api_uow.volunteers = api_uow.attach(Docs("volunteer_id"))
    registered = handlers.register_volunteer(pledges.pledge(line, territory), api_uow)  # what POST stores
    [(api_event, _)] = api_uow.published

    assert set(imported) == set(registered.to_document())
    assert imported["actions"] == registered.actions_plain() == {
        action_type: ActionSettings.build(action_type).to_plain() for action_type in ("testimony", "internship")}
    assert (imported["status"], imported["version"], imported["updated_at"]) == ("active", 1, imported["created_at"])
    assert Pledge.from_document(imported).to_document() == imported
    assert event.type == api_event.type == VOLUNTEER_REGISTERED
    assert set(event.data) == set(api_event.data) and event.data["volunteer_id"] == imported["volunteer_id"]
    assert {k: v for k, v in event.data.items() if k != "volunteer_id"} == {
        k: v for k, v in api_event.data.items() if k != "volunteer_id"}
    assert event.data["actions"] == imported["actions"] and event.data["version"] == 1
    contract_set.validate(event.type, event.data)


def test_bad_pledge_lines_are_reported_and_the_load_goes_on(tmp_path, uow, territory, contract_set):
    path = write_pledges(tmp_path / "engagements.jsonl", [
        pledge_line(SIRETS[0]),                                               # 1
        "{not json",                                                          # 2
        pledge_line(SIRETS[1], contact_email="pas-une-adresse"),              # 3
        pledge_line(SIRETS[2], action_types=["juggling"]),                    # 4
        pledge_line(SIRETS[3], town="75056"),                                 # 5
        pledge_line(SIRETS[5], location={"lat": 48.70, "lon": 2.20}),         # 6
        pledge_line(SIRETS[6], max_distance_km=0),                            # 7
        pledge_line("73282932000075"),                                        # 8
        {k: v for k, v in pledge_line("55203253400646").items() if k != "town"},  # 9
        pledge_line("44306184100047"),                                        # 10
    ])
    report = pledges.import_file(path, uow, territory)
    skipped = {issue.line: issue.field for issue in report.issues if issue.status == SKIPPED}
    assert skipped == {2: "ligne", 3: "contact_email", 4: "action_types", 5: "town", 6: "location",
                       7: "max_distance_km", 8: "siret", 9: "town"}
    assert report.imported == 2


def test_loading_the_same_pledges_again_adds_nothing(tmp_path, uow, territory, contract_set):
    path = write_pledges(tmp_path / "engagements.jsonl", [pledge_line(SIRETS[0]), pledge_line(SIRETS[1])])
    pledges.import_file(path, uow, territory)
    again = pledges.import_file(path, uow, territory)
    assert (again.imported, again.already_present) == (0, 2) and len(uow.volunteers.docs) == 2


# --- the MongoDB bulk unit of work -------------------------------------------------------------------

@pytest.fixture
def mongo_uow(contract_set):
    db = MagicMock()
    collections = {}
    db.__getitem__.side_effect = lambda name: collections.setdefault(name, MagicMock(name=name))
    return ImportUnitOfWork(MagicMock(), db, Outbox(db, contract_set))


def _event():
    actor_id = derived_id("act", "siret:x")
    data = {"actor_id": actor_id, "kind": "company", "name": "A", "town": "94080",
            "location": {"lat": 48.8478, "lon": 2.4385}, "naf_code": "56.10A", "serves_territory_from_outside": False}
    return {"actor_id": actor_id, **data}, new_event(ACTOR_REGISTERED, "/vitawin/actors", actor_id, data)


def test_the_bulk_writes_go_in_the_open_transaction_documents_keyed_like_the_repository(mongo_uow):
    doc, event = _event()
    entry = mongo_uow.outbox_entry(event, "actors")
    with mongo_uow:
        mongo_uow.add_all("actors", [doc], [entry])
        mongo_uow.commit()
    session = mongo_uow.client.start_session.return_value.__enter__.return_value
    mongo_uow.actors.collection.insert_many.assert_called_once_with(
        [{"_id": doc["actor_id"], **doc}], ordered=True, session=session)
    mongo_uow.outbox.entries.insert_many.assert_called_once_with([entry], ordered=True, session=session)
    assert entry["_id"] == event.id and entry["topic"] == "vitawin.actors"
    session.commit_transaction.assert_called_once_with()


def test_a_batch_writes_the_contact_entries_after_the_documents_own_in_the_same_transaction(mongo_uow):
    doc, event = _event()
    contact = new_event(CONTACT_REGISTERED, "/vitawin/actors", doc["actor_id"],
                        {"actor_id": doc["actor_id"], "kind": "company", "email": "a@example.fr", "display_name": "A",
                         "registered_at": "2026-11-27T09:30:00.000Z"})
    entries = [mongo_uow.outbox_entry(event, "actors"), mongo_uow.outbox_entry(contact, "contacts")]
    with mongo_uow:
        mongo_uow.add_all("actors", [doc], entries)
        mongo_uow.commit()
    session = mongo_uow.client.start_session.return_value.__enter__.return_value
    mongo_uow.outbox.entries.insert_many.assert_called_once_with(entries, ordered=True, session=session)
    assert [entry["topic"] for entry in entries] == ["vitawin.actors", "vitawin.contacts"]
    session.commit_transaction.assert_called_once_with()


def test_an_outbox_entry_written_in_bulk_is_the_one_outbox_add_writes(mongo_uow, contract_set):
    _, event = _event()
    collection = MagicMock()
    outbox = Outbox(MagicMock(**{"__getitem__.return_value": collection}), contract_set)
    outbox.add(event, "actors", session="s")
    [(written,), _] = collection.insert_one.call_args
    bulk = mongo_uow.outbox_entry(event, "actors")
    assert set(bulk) == set(written)
    assert {k: v for k, v in bulk.items() if k != "seq"} == {k: v for k, v in written.items() if k != "seq"}
    assert bulk == outbox_entry(outbox, event, "vitawin.actors") | {"seq": bulk["seq"]}


def test_bulk_writes_refuse_to_run_outside_a_transaction_and_entries_check_the_contract(mongo_uow):
    doc, event = _event()
    with pytest.raises(RuntimeError):
        mongo_uow.add_all("actors", [doc], [mongo_uow.outbox_entry(event, "actors")])
    bad = new_event(ACTOR_REGISTERED, "/vitawin/actors", doc["actor_id"], {"kind": "company"})
    with pytest.raises(contracts.ContractViolation):
        mongo_uow.outbox_entry(bad, "actors")
    mongo_uow.actors.collection.insert_many.assert_not_called()


def test_known_ids_reads_only_the_ids_of_the_collection(mongo_uow):
    mongo_uow.actors.collection.find.return_value = [{"_id": "act-1"}, {"_id": "act-2"}]
    assert mongo_uow.known_ids("actors") == {"act-1", "act-2"}
    mongo_uow.actors.collection.find.assert_called_once_with({}, {"_id": True}, session=None)


# --- the command, Lambert-93, derived ids ------------------------------------------------------------

def test_the_command_prints_the_counts_and_says_when_a_file_cannot_be_read(tmp_path, uow, monkeypatch, capsys):
    monkeypatch.setattr(cli.ImportUnitOfWork, "from_settings", classmethod(lambda cls, settings: uow))
    uow.ensure_indexes = lambda: None
    path = write_sirene(tmp_path / "stock.csv", [establishment(), establishment("73282932000075")])
    assert cli.main(["sirene", str(path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "Import SIRENE : 2 lignes lues, 1 importées, 0 déjà présentes, 1 ignorées (invalides)." in out
    assert "ligne 3 [-] ignorée, siret : SIRET invalide" in out
    assert cli.main(["education", str(tmp_path / "absent.csv"), "--no-progress"]) == 2
    assert "Import impossible : Fichier illisible" in capsys.readouterr().err


def test_lambert_93_puts_its_origin_at_700000_6600000_and_goes_back_and_forth():
    assert lambert93.to_lambert93(46.5, 3.0) == pytest.approx((700_000.0, 6_600_000.0), abs=1e-6)
    assert lambert93.from_lambert93(700_000.0, 6_600_000.0) == pytest.approx((46.5, 3.0), abs=1e-9)
    x, y = lambert93.to_lambert93(48.84741, 2.43795)  # Vincennes: east of Paris (about 652 km, 6862 km)
    assert 655_000 < x < 662_000 and 6_858_000 < y < 6_864_000
    assert lambert93.from_lambert93(x, y) == pytest.approx((48.84741, 2.43795), abs=1e-9)


def test_derived_ids_are_stable_distinct_and_of_the_contract_form(contract_set):
    siret_id, uai_id = sirene.actor_id("73282932000074"), education.actor_id(normalise_uai("0940120V"))
    assert siret_id == sirene.actor_id(normalise_siret("732 829 320 00074")) != uai_id
    assert siret_id.startswith("act-") and len(siret_id) == 36
    contract_set.validate(ACTOR_REGISTERED, {"actor_id": siret_id, "kind": "territory_manager",
                                             "organisation_name": "x"})
    assert pledges.volunteer_id("73282932000074").startswith("vol-")
