"""GET /api/v1/actors/map.geojson served from the in-memory index, against the in-memory unit of
work: the zoom, kind and town parameters (French 422s), an actor registered or erased through the
API is on (or off) the very next answer, clusters past the cap or below the zoom threshold keep
the GeoJSON content type and count every actor, never an e-mail or a pupil; 503 in French when
no index can be loaded; the OpenAPI document in French."""
from __future__ import annotations

import json

import pytest

from vitawin_actors.api import create_app
from vitawin_actors.domain import MapSettings

URL = "/api/v1/actors"
MAP = f"{URL}/map.geojson"
VINCENNES = {"lat": 48.8478, "lon": 2.4385}
FONTENAY = {"lat": 48.8515, "lon": 2.4760}
TERRITORY = "bbox=2.3,48.7,2.7,48.95"


def organisation(name, kind="company", town="94080", location=VINCENNES, siret="12345678200010") -> dict:
    return {"kind": kind, "name": name, "contact_email": "contact@example.fr", "siret": siret, "naf_code": "10.71C",
            "address": {"street": "12 rue de Fontenay", "postcode": "94300"}, "town": town, "location": dict(location)}


def school(name="Lycée Hector-Berlioz") -> dict:
    return {"kind": "school", "name": name, "contact_email": "referent@lycee.example.fr", "uai": "0940120V",
            "school_type": "college", "levels": ["3e"], "address": {"street": "106 avenue de Paris", "postcode": "94300"},
            "town": "94080", "location": dict(VINCENNES)}


def register(client, body) -> str:
    response = client.post(URL, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["actor_id"]


def geojson(client, query="") -> dict:
    response = client.get(f"{MAP}?{query}")
    assert response.status_code == 200, response.get_json()
    assert response.headers.getlist("Content-Type") == ["application/geo+json"]
    return json.loads(response.data)


def members(collection) -> int:
    return sum(f["properties"].get("count", 1) for f in collection["features"])


@pytest.fixture
def small_map(uow, territory):
    """An app that clusters past 3 actors (cells of 80 px), and always below zoom 12."""
    app = create_app(uow_factory=lambda: uow, territory=territory,
                     map_settings=MapSettings(max_points=3, cluster_below_zoom=12, cell_px=80))
    return app.test_client()


def test_registered_and_erased_actors_show_on_the_very_next_answer(client, manager):
    first = register(client, organisation("Boulangerie"))
    assert [f["id"] for f in geojson(client, TERRITORY)["features"]] == [first]  # loads the index
    second = register(client, organisation("Imprimerie", town="94033", location=FONTENAY))
    assert {f["id"] for f in geojson(client, TERRITORY)["features"]} == {first, second}
    assert client.delete(f"{URL}/{first}", headers=manager).status_code == 204
    assert [f["id"] for f in geojson(client, TERRITORY)["features"]] == [second]


def test_zoom_kind_and_town_select_what_the_map_shows(client):
    bakery = register(client, organisation("Boulangerie"))
    lycee = register(client, school())
    printer = register(client, organisation("Imprimerie", kind="craftsman", town="94033", location=FONTENAY))
    register(client, {"kind": "pupil", "first_name": "Léa", "level": "3e", "school_uai": "0940120V", "town": "94080",
                      "guardian_contact_email": "parent@example.fr"})

    def found(query):
        collection = geojson(client, query)
        assert collection["clustered"] is False and collection["total"] == len(collection["features"])
        return sorted(f["id"] for f in collection["features"])

    assert found(f"{TERRITORY}&zoom=14") == sorted([bakery, lycee, printer])
    assert found(f"{TERRITORY}&zoom=14&kind=school") == [lycee]
    assert found(f"{TERRITORY}&zoom=14&kind=school&kind=craftsman") == sorted([lycee, printer])
    assert found(f"{TERRITORY}&zoom=14&town=94033") == [printer]
    assert found("zoom=14&town=94080&kind=company") == [bakery]
    assert found(f"{TERRITORY}&zoom=14&town=94017") == []


@pytest.mark.parametrize("query, field, french", [
    ("zoom=21", "zoom", "Niveau de zoom invalide : un entier de 0 à 20."),
    ("zoom=-1", "zoom", "Niveau de zoom invalide : un entier de 0 à 20."),
    ("zoom=douze", "zoom", "Nombre entier attendu."),
    ("kind=pupil", "kind", "Type d'acteur absent de la carte"),
    ("kind=territory_manager", "kind", "Type d'acteur absent de la carte"),
    ("town=Vincennes", "town", "Code INSEE de commune invalide"),
])
def test_bad_parameters_give_422_in_french(client, query, field, french):
    response = client.get(f"{MAP}?{query}")
    assert response.status_code == 422
    assert french in json.dumps(response.get_json()["errors"]["query"][field], ensure_ascii=False)


def test_past_the_cap_the_answer_is_clusters_that_count_every_actor(small_map):
    spots = [(48.8478, 2.4385), (48.8479, 2.4386), (48.8480, 2.4387), (48.8515, 2.4760), (48.8516, 2.4761)]
    ids = [register(small_map, organisation(f"Organisation {n}", town="94080" if lon < 2.45 else "94033",
                                            location={"lat": lat, "lon": lon}))
           for n, (lat, lon) in enumerate(spots)]
    collection = geojson(small_map, f"{TERRITORY}&zoom=13")  # Vincennes' three in a cell, Fontenay's two in another
    assert collection["total"] == 5 and collection["clustered"] is True and members(collection) == 5
    vincennes, fontenay = collection["features"]
    assert vincennes["type"] == "Feature" and vincennes["geometry"]["type"] == "Point"
    assert vincennes["properties"]["cluster"] is True and vincennes["properties"]["count"] == 3
    assert vincennes["properties"]["kinds"] == {"company": 3}
    assert vincennes["properties"]["bbox"] == [2.4385, 48.8478, 2.4387, 48.848]
    assert fontenay["properties"]["count"] == 2
    text = json.dumps(collection, ensure_ascii=False)
    assert "@" not in text and "Organisation" not in text  # a cluster names no actor
    zoomed = geojson(small_map, "bbox=2.4384,48.8477,2.4388,48.8481&zoom=19")  # the first cluster's box
    assert sorted(f["id"] for f in zoomed["features"]) == sorted(ids[:3]) and zoomed["clustered"] is False


def test_below_the_zoom_threshold_even_few_actors_are_clustered(small_map):
    for n in range(2):
        register(small_map, organisation(f"Organisation {n}", location={"lat": 48.8478, "lon": 2.4385 + n / 1e5}))
    low = geojson(small_map, f"{TERRITORY}&zoom=11")
    assert low["clustered"] is True and [f["properties"]["count"] for f in low["features"]] == [2]
    assert geojson(small_map, f"{TERRITORY}&zoom=12")["clustered"] is False


def test_no_index_gives_503_in_french(uow, territory):
    class Down:
        def __getattr__(self, name):
            raise ConnectionError("MongoDB unreachable")

    class Broken:
        actors = Down()
    app = create_app(uow_factory=lambda: Broken(), territory=territory)
    response = app.test_client().get(MAP)
    assert response.status_code == 503
    assert response.get_json()["message"] == ("La carte des acteurs est momentanément indisponible : réessayez "
                                              "dans un instant.")


def test_openapi_documents_the_parameters_and_the_clusters_in_french(client):
    spec = client.get("/openapi.json").get_json()
    operation = spec["paths"][MAP]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert {"bbox", "zoom", "kind", "town"} <= set(parameters)
    assert parameters["zoom"]["schema"]["minimum"] == 0 and parameters["zoom"]["schema"]["maximum"] == 20
    assert "regroupe" in parameters["zoom"]["description"]
    assert "répétable" in parameters["kind"]["description"]
    assert parameters["kind"]["schema"]["items"]["enum"][-1] == "school"
    assert "pupil" not in parameters["kind"]["schema"]["items"]["enum"]
    assert "groupes" in operation["description"] and "Jamais d'élève" in operation["description"]
    assert "application/geo+json" in operation["responses"]["200"]["content"]
    assert "503" in operation["responses"]
    properties = spec["components"]["schemas"]["MapProperties"]["properties"]
    assert {"actor_id", "kind", "name", "town", "cluster", "count", "kinds", "bbox"} <= set(properties)
    assert "Pour un groupe" in properties["count"]["description"]
    collection = spec["components"]["schemas"]["MapFeatureCollection"]["properties"]
    assert {"total", "clustered"} <= set(collection)
