"""deploy/local/demo_territory.py (a script, loaded from its path), on a small territory: its files
are in the real formats with valid SIRETs and UAIs, its points lie inside their town's boundary,
its establishments follow the towns' population, and the actors importers read them (in memory,
no server) with exactly the bad rows it meant to put in."""
from __future__ import annotations

import csv
import importlib.util
import json
from collections import Counter
from pathlib import Path

import pytest

from vitawin_common import contracts
from vitawin_common.config import Settings
from vitawin_common.territory import Location, distance_km
from vitawin_common.testing import InMemoryRepository, InMemoryUnitOfWork

from vitawin_actors import bootstrap
from vitawin_actors.domain import ACTION_TYPES, InvalidValue, normalise_naf, normalise_siret, normalise_uai
from vitawin_actors.importers import education, pledges, sirene

SCRIPT = Path(__file__).resolve().parents[3] / "deploy" / "local" / "demo_territory.py"
ACTORS = 1200
SCHOOLS = 47


@pytest.fixture(scope="module")
def demo():
    spec = importlib.util.spec_from_file_location("demo_territory", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def territory_data(demo):
    return demo.load_territory()


@pytest.fixture(scope="module")
def generated(demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    manifest = demo.generate(out, ACTORS, schools=SCHOOLS, seed=7)
    return out, manifest


def read_csv(path: Path, delimiter: str) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter=delimiter))


def valid_siret(value: str) -> bool:
    try:
        normalise_siret(value)
        return True
    except InvalidValue:
        return False


def near_its_town(row: dict, towns: dict) -> bool:
    if not row["latitude"]:
        return True
    centre = towns[row["codeCommuneEtablissement"]]["centre"]
    return distance_km(Location(**centre), Location(float(row["latitude"]), float(row["longitude"]))) <= 5


def active_valid(rows: list[dict], towns: dict) -> list[dict]:
    """The rows the importer should take, told apart without the generator's own geometry."""
    return [r for r in rows if r.get("etatAdministratifEtablissement") == "A" and valid_siret(r["siret"] or "")
            and r["statutDiffusionEtablissement"] == "O" and r["codeCommuneEtablissement"] in towns
            and r["nomenclatureActivitePrincipaleEtablissement"] == "NAFRev2"
            and "." in r["activitePrincipaleEtablissement"]
            and (r["denominationUsuelleEtablissement"] or r["enseigne1Etablissement"])
            and near_its_town(r, towns)]


# --- geometry --------------------------------------------------------------------------------------

def test_ray_casting_tells_inside_from_outside_holes_included(demo):
    square = {"type": "Polygon", "coordinates": [[[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]],
                                                 [[1, 1], [2, 1], [2, 2], [1, 2], [1, 1]]]}
    assert demo.in_boundary(3, 3, square)          # (lat, lon)
    assert not demo.in_boundary(1.5, 1.5, square)  # in the hole
    assert not demo.in_boundary(5, 1, square)
    multi = {"type": "MultiPolygon", "coordinates": [[[[0, 0], [1, 0], [1, 1], [0, 0]]],
                                                     [[[10, 10], [11, 10], [11, 11], [10, 10]]]]}
    assert demo.in_boundary(10.2, 10.8, multi) and not demo.in_boundary(5, 5, multi)


def test_each_town_centre_is_inside_its_own_boundary_only(demo, territory_data):
    for town in territory_data["towns"]:
        inside = [other["insee"] for other in territory_data["towns"]
                  if demo.in_boundary(town["centre"]["lat"], town["centre"]["lon"], other["boundary"])]
        assert inside == [town["insee"]], town["name"]


def test_shares_follow_the_population_and_add_up(demo, territory_data):
    towns = territory_data["towns"]
    counts = demo.shares(towns, 1000)
    total = sum(t["population"] for t in towns)
    assert sum(counts.values()) == 1000
    for town in towns:
        assert abs(counts[town["insee"]] - 1000 * town["population"] / total) < 1
    assert min(demo.shares(towns, 20, minimum=1).values()) >= 1


# --- the SIRENE file --------------------------------------------------------------------------------

def test_the_sirene_file_has_the_insee_columns_then_the_geolocation_ones(demo, generated):
    out, _ = generated
    with open(out / demo.SIRENE_FILE, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split(",")
    assert header[:3] == ["siren", "nic", "siret"]
    for column in ("etatAdministratifEtablissement", "codeCommuneEtablissement", "activitePrincipaleEtablissement",
                   "nomenclatureActivitePrincipaleEtablissement", "denominationUsuelleEtablissement",
                   "enseigne1Etablissement", "trancheEffectifsEtablissement", "libelleVoieEtablissement",
                   "coordonneeLambertAbscisseEtablissement", "longitude", "latitude", "geo_score"):
        assert column in header


def test_valid_establishments_have_valid_sirets_naf_codes_and_points_inside_their_town(demo, generated,
                                                                                      territory_data):
    out, manifest = generated
    towns = {t["insee"]: t for t in territory_data["towns"]}
    rows = read_csv(out / demo.SIRENE_FILE, ",")
    good = active_valid(rows, towns)
    assert len(good) - 1 == ACTORS - SCHOOLS == manifest["sirene"]["valid_active"]  # - the repeated SIRET
    with_position = 0
    for row in good:
        assert row["siret"] == row["siren"] + row["nic"]
        assert normalise_naf(row["activitePrincipaleEtablissement"]) == row["activitePrincipaleEtablissement"]
        if row["latitude"]:
            with_position += 1
            assert demo.in_boundary(float(row["latitude"]), float(row["longitude"]),
                                    towns[row["codeCommuneEtablissement"]]["boundary"]), row["siret"]
    assert with_position >= 0.97 * len(good)
    assert len({row["siret"] for row in good}) == len(good) - 1  # one SIRET repeated on purpose


def test_establishments_are_spread_over_the_towns_in_proportion_to_their_population(demo, generated,
                                                                                   territory_data):
    out, manifest = generated
    towns = {t["insee"]: t for t in territory_data["towns"]}
    rows = [r for r in read_csv(out / demo.SIRENE_FILE, ",") if r["etatAdministratifEtablissement"] == "A"
            and r["statutDiffusionEtablissement"] == "O"]
    counts = Counter(r["codeCommuneEtablissement"] for r in rows)
    population = sum(t["population"] for t in towns.values())
    n = ACTORS - SCHOOLS
    for code, town in towns.items():
        expected = n * town["population"] / population
        assert abs(counts[code] - expected) <= 8, (town["name"], counts[code], expected)  # + a few bad rows
    assert manifest["sirene"]["by_town"] == demo.shares(territory_data["towns"], n)


def test_the_sirene_file_has_closed_partial_and_deliberately_bad_rows(demo, generated):
    out, manifest = generated
    rows = read_csv(out / demo.SIRENE_FILE, ",")
    states = Counter(r["etatAdministratifEtablissement"] for r in rows)
    assert states["F"] == manifest["sirene"]["closed"] > 0
    assert sum(r["statutDiffusionEtablissement"] == "P" for r in rows) == manifest["sirene"]["partial_diffusion"]
    assert len(manifest["sirene"]["bad"]) == 8
    assert sum(not valid_siret(r["siret"] or "") for r in rows if r["etatAdministratifEtablissement"] == "A") >= 1


# --- the Education nationale file and the pledges -----------------------------------------------------

def test_the_annuaire_has_the_47_colleges_and_lycees_with_valid_uais_in_their_towns(demo, generated,
                                                                                   territory_data):
    out, _ = generated
    towns = {t["insee"]: t for t in territory_data["towns"]}
    rows = read_csv(out / demo.EDUCATION_FILE, ";")
    secondary = [r for r in rows if r["Type_etablissement"] in ("Collège", "Lycée") and r["etat"] == "OUVERT"]
    valid = []
    for row in secondary:
        try:
            normalise_uai(row["Identifiant_de_l_etablissement"])
        except InvalidValue:
            continue
        valid.append(row)
    assert len(valid) == SCHOOLS and len(secondary) == SCHOOLS + 1  # + one bad UAI
    assert len({r["Identifiant_de_l_etablissement"] for r in valid}) == SCHOOLS
    assert all(r["Identifiant_de_l_etablissement"].startswith("094") for r in valid)
    colleges = Counter(r["Code_commune"] for r in valid if r["Type_etablissement"] == "Collège")
    assert set(colleges) == set(towns)  # at least one collège in each town
    for row in valid:
        boundary = towns[row["Code_commune"]]["boundary"]
        assert demo.in_boundary(float(row["latitude"]), float(row["longitude"]), boundary)
    assert list(rows[0]) == demo.EDUCATION_COLUMNS
    assert rows[0]["Identifiant_de_l_etablissement"] and "Mail" in rows[0]


def test_about_30_percent_of_the_establishments_pledge_with_known_action_types(demo, generated, territory_data):
    out, manifest = generated
    towns = {t["insee"]: t for t in territory_data["towns"]}
    good = {r["siret"] for r in active_valid(read_csv(out / demo.SIRENE_FILE, ","), towns)}
    lines = [json.loads(line) for line in (out / demo.PLEDGES_FILE).read_text(encoding="utf-8").splitlines()]
    assert len(lines) == manifest["pledges"] == round(0.3 * manifest["sirene"]["valid_active"])
    assert {line["siret"] for line in lines} <= good
    for line in lines:
        assert line["action_types"] and set(line["action_types"]) <= set(ACTION_TYPES)
        assert line["contact_email"].endswith("@demo.vitawin.test")
        assert 0 < line["max_distance_km"] <= 15


def test_the_same_seed_gives_the_same_files(demo, generated, tmp_path):
    out, _ = generated
    demo.generate(tmp_path, ACTORS, schools=SCHOOLS, seed=7)
    for name in (demo.SIRENE_FILE, demo.EDUCATION_FILE, demo.PLEDGES_FILE):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name
    assert demo.existing(tmp_path, ACTORS, SCHOOLS, 7, 0.3) is not None
    assert demo.existing(tmp_path, ACTORS + 1, SCHOOLS, 7, 0.3) is None


# --- what the importers make of them ------------------------------------------------------------------

class Docs(InMemoryRepository):
    def __init__(self, id_field):
        super().__init__()
        self.id_field = id_field


class ImportUow(InMemoryUnitOfWork):
    def __init__(self, contract_set):
        super().__init__()
        self.contract_set = contract_set
        self.actors = self.attach(Docs("actor_id"))
        self.volunteers = self.attach(Docs("volunteer_id"))

    def known_ids(self, collection):
        return set(getattr(self, collection).docs)

    def outbox_entry(self, event, channel):
        self.contract_set.validate(event.type, event.data)
        return event, channel

    def add_all(self, collection, docs, entries):
        """Every document, then every entry: each document's own event, then the batch's others
        (contact events of schools)."""
        for doc in docs:
            getattr(self, collection).add(doc)
        for event, channel in entries:
            self.publish(event, channel)


def test_the_importers_make_exactly_the_actors_asked_for_and_report_the_bad_rows(demo, generated):
    out, manifest = generated
    contract_set = contracts.load(Settings(service_name="demo-tests").contracts_dir)
    uow, territory = ImportUow(contract_set), bootstrap.territory()
    companies = sirene.import_file(out / demo.SIRENE_FILE, uow, territory)
    schools = education.import_file(out / demo.EDUCATION_FILE, uow, territory)
    pledged = pledges.import_file(out / demo.PLEDGES_FILE, uow, territory)

    assert len(uow.actors.docs) == ACTORS
    assert companies.imported == ACTORS - SCHOOLS and companies.skipped == len(manifest["sirene"]["bad"]) == 8
    assert schools.imported == SCHOOLS and schools.skipped == 1
    assert pledged.imported == manifest["pledges"] and pledged.skipped == 0
    assert all("actor_id" in doc for doc in uow.volunteers.docs.values())  # each linked to its establishment
    # each checked against its contract: one registration per actor, one per pledge, and where a
    # school gave an address, where to write to its referent
    by_channel = Counter(channel for _, channel in uow.published)
    with_address = sum(1 for doc in uow.actors.docs.values() if doc["kind"] == "school" and doc.get("contact_email"))
    assert with_address > 0
    assert by_channel == {"actors": ACTORS, "volunteers": manifest["pledges"], "contacts": with_address}
