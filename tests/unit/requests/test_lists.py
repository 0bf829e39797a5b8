"""GET /api/v1/requests (filters, pages, newest first) and GET /api/v1/requests/map.geojson (active
school requests only)."""
import pytest

from vitawin_requests import handlers


@pytest.fixture
def requests_made(created, client, auth, uow):
    """Eight requests, oldest first, by name."""
    made = {
        "testimony": created("class_testimony"),  # college, Vincennes, 3e, 13/01/2027 (W02), D1102
        "intervention": created("class_intervention"),  # college, 4e, 14/01/2027 (W02), M1805
        "fair": created("job_fair"),  # college, 4e+3e, 18/03/2027 (W11)
        "hosting": created("internship_hosting"),  # college, 3e, W03, G1602
        "lycee_hosting": created("internship_hosting", who="lycee_referent", level="2nde",
                                 period=["2027-W24", "2027-W25"]),  # the lycée, Champigny-sur-Marne
        "information": created("job_information"),  # pupil of the college, K2111
        "discovery": created("discovery_internship"),  # pupil of the college, around Fontenay (94033), W05, D1102
        "apprenticeship": created("apprenticeship_search"),  # pupil of the lycée, Champigny, D1102
    }
    client.post(f"/api/v1/requests/{made['intervention']['request_id']}/cancel", headers=auth("referent"))
    handlers.record_acceptance(uow, made["fair"]["request_id"], "prop-1")
    return made


def _names(response, made) -> list[str]:
    assert response.status_code == 200, response.get_json()
    by_id = {request["request_id"]: name for name, request in made.items()}
    return [by_id[item["request_id"]] for item in response.get_json()["items"]]


@pytest.mark.parametrize("query, expected", [
    ("", ["apprenticeship", "discovery", "information", "lycee_hosting", "hosting", "fair", "intervention",
          "testimony"]),
    ("kind=internship_hosting", ["lycee_hosting", "hosting"]),
    ("kind=discovery_internship&kind=job_information", ["discovery", "information"]),
    ("town=94033", ["discovery"]),
    ("town=94017", ["apprenticeship", "lycee_hosting"]),
    ("level=4e", ["fair", "intervention"]),
    ("level=3e&kind=class_testimony", ["testimony"]),
    ("week=2027-W02", ["intervention", "testimony"]),
    ("week=2027-W05", ["discovery"]),
    ("week=2027-W11", ["fair"]),
    ("rome=D1102", ["apprenticeship", "discovery", "testimony"]),
    ("rome=d1102&status=open", ["apprenticeship", "discovery", "testimony"]),
    ("status=cancelled", ["intervention"]),
    ("status=partly_matched", ["fair"]),
    ("bbox=2.46,48.84,2.49,48.86", ["discovery"]),  # around Fontenay's centre
    ("bbox=2.40,48.84,2.45,48.86&status=open", ["information", "hosting", "testimony"]),
])
def test_list_filters_for_a_territory_manager(client, auth, requests_made, query, expected):
    assert _names(client.get(f"/api/v1/requests?{query}", headers=auth("manager")), requests_made) == expected


def test_the_lycee_pupil_sees_their_request_and_the_schools_ones(client, auth, requests_made):
    assert _names(client.get("/api/v1/requests?rome=D1102", headers=auth("lycee_pupil")), requests_made) == \
        ["apprenticeship", "testimony"]


def test_a_referent_lists_its_schools_requests_its_pupils_included_and_no_other_schools(client, auth,
                                                                                      requests_made):
    assert _names(client.get("/api/v1/requests?school_uai=0940585A", headers=auth("referent")), requests_made) == \
        ["discovery", "information", "hosting", "fair", "intervention", "testimony"]
    assert _names(client.get("/api/v1/requests?school_uai=0941301D", headers=auth("referent")), requests_made) == \
        ["lycee_hosting"]  # another school's public requests only
    assert _names(client.get("/api/v1/requests?school_uai=0941301D", headers=auth("lycee_referent")),
                  requests_made) == ["apprenticeship", "lycee_hosting"]


def test_pages_cut_the_newest_first_list_and_total_counts_them_all(client, auth, requests_made):
    first = client.get("/api/v1/requests?page_size=3", headers=auth("manager")).get_json()
    second = client.get("/api/v1/requests?page_size=3&page=2", headers=auth("manager")).get_json()
    last = client.get("/api/v1/requests?page_size=3&page=4", headers=auth("manager")).get_json()
    assert (first["page"], first["page_size"], first["total"]) == (1, 3, 8)
    assert _names_of(first, requests_made) == ["apprenticeship", "discovery", "information"]
    assert _names_of(second, requests_made) == ["lycee_hosting", "hosting", "fair"]
    assert last["items"] == [] and last["total"] == 8


def _names_of(page, made) -> list[str]:
    by_id = {request["request_id"]: name for name, request in made.items()}
    return [by_id[item["request_id"]] for item in page["items"]]


@pytest.mark.parametrize("query, field, message", [
    ("kind=cooking", "kind", {"0": ["Type de demande inconnu ; valeurs possibles : class_testimony, "
                                    "class_intervention, job_fair, internship_hosting, job_information, "
                                    "discovery_internship, apprenticeship_search."]}),
    ("town=94028", "town", ["Commune inconnue : ce n'est pas le code INSEE d'une commune du territoire Paris Est "
                            "Marne et Bois."]),
    ("level=CM2", "level", ["Niveau inconnu ; valeurs possibles : 6e, 5e, 4e, 3e, 2nde, 1re, Tle, CAP1, CAP2."]),
    ("week=2027-W60", "week", ["La semaine 2027-W60 n'existe pas : l'année 2027 compte 52 semaines."]),
    ("rome=Z1", "rome", ["Code ROME invalide : une lettre de A à N suivie de 4 chiffres attendue (ex. D1102)."]),
    ("status=lost", "status", ["État inconnu ; valeurs possibles : open, partly_matched, fulfilled, cancelled, "
                               "expired."]),
    ("bbox=2.5,48.8,2.4,48.9", "bbox", ["Emprise invalide : le minimum doit précéder le maximum "
                                        "(min_lon,min_lat,max_lon,max_lat)."]),
    ("page=0", "page", ["Page 1 ou plus attendue."]),
    ("page_size=500", "page_size", ["Entre 1 et 200 attendu."]),
    ("school_uai=094058", "school_uai", ["Code UAI invalide : 7 chiffres suivis d'une lettre majuscule (ex. "
                                         "0940585A)."]),
])
def test_bad_filters_are_refused_in_french(client, query, field, message):
    response = client.get(f"/api/v1/requests?{query}")
    assert response.status_code == 422
    assert response.get_json()["errors"]["query"][field] == message


def test_the_map_shows_active_school_requests_only(client, auth, requests_made, the):
    response = client.get("/api/v1/requests/map.geojson", headers=auth("manager"))
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    collection = response.get_json()
    assert collection["type"] == "FeatureCollection"
    by_id = {feature["id"]: feature for feature in collection["features"]}
    names = {name for name, request in requests_made.items() if request["request_id"] in by_id}
    assert names == {"testimony", "fair", "hosting", "lycee_hosting"}  # not cancelled, never a pupil's
    fair = by_id[requests_made["fair"]["request_id"]]
    assert fair["geometry"] == {"type": "Point", "coordinates": [2.4372, 48.8468]}
    assert fair["properties"] == {"request_id": requests_made["fair"]["request_id"], "kind": "job_fair",
                                  "action_type": "job_fair", "town": "94080", "levels": ["4e", "3e"],
                                  "date": "2027-03-18"}
    hosting = by_id[requests_made["hosting"]["request_id"]]["properties"]
    assert (hosting["level"], hosting["period"]) == ("3e", ["2027-W03"])
    assert the.REFERENT_EMAIL not in response.get_data(as_text=True)


@pytest.mark.parametrize("query, expected", [
    ("kind=internship_hosting", {"hosting", "lycee_hosting"}),
    ("town=94017", {"lycee_hosting"}),
    ("week=2027-W11", {"fair"}),
    ("bbox=2.50,48.80,2.53,48.83", {"lycee_hosting"}),
])
def test_the_map_filters(client, requests_made, query, expected):
    features = client.get(f"/api/v1/requests/map.geojson?{query}").get_json()["features"]
    by_id = {request["request_id"]: name for name, request in requests_made.items()}
    assert {by_id[feature["id"]] for feature in features} == expected
