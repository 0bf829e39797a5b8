"""vitawin_common.territory: the territory file, distances, and the two checks services apply to a
town code and a location (their French messages are what a person sees in a 422)."""
import json

import pytest

from vitawin_common import territory
from vitawin_common.territory import InvalidPlace, Location, check_near_centre, distance_km

VINCENNES_CENTRE = Location(48.84741, 2.43795)
FONTENAY_CENTRE = Location(48.85102, 2.47421)


@pytest.fixture(scope="module")
def paris_est():
    return territory.load()


def test_distance_km_is_the_great_circle_distance():
    assert distance_km(VINCENNES_CENTRE, VINCENNES_CENTRE) == 0
    assert distance_km(Location(48.8, 2.4), Location(48.8, 2.4)) == 0
    # 0.18 degree of latitude is 20.0 km, northwards or southwards
    assert distance_km(VINCENNES_CENTRE, Location(48.84741 + 0.18, 2.43795)) == pytest.approx(20.0, abs=0.05)
    assert distance_km(FONTENAY_CENTRE, Location(48.85102 - 0.18, 2.47421)) == pytest.approx(20.0, abs=0.05)
    # Vincennes to Fontenay-sous-Bois town centres: about 2.7 km
    assert distance_km(VINCENNES_CENTRE, FONTENAY_CENTRE) == pytest.approx(2.7, abs=0.1)
    # Paris to London: about 344 km
    assert distance_km(Location(48.8566, 2.3522), Location(51.5074, -0.1278)) == pytest.approx(343.6, abs=0.5)


def test_the_territory_is_read_from_the_territory_data(paris_est):
    assert paris_est.name == "Paris Est Marne et Bois"
    assert len(paris_est.towns) == 13
    assert paris_est.towns["94080"].name == "Vincennes"
    assert paris_est.towns["94080"].centre == VINCENNES_CENTRE
    assert paris_est.towns["94033"].centre == FONTENAY_CENTRE
    assert paris_est.towns["94080"].postcodes == ("94300",)
    assert paris_est.towns["94068"].postcodes == ("94100", "94210")  # Saint-Maur-des-Fossés has two


def test_load_reads_the_file_named_by_territory_file(tmp_path, monkeypatch):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps({"name": "Petit territoire", "towns": [
        {"insee": "99001", "name": "Bourg", "postcodes": ["99100"], "centre": {"lat": 45.0, "lon": 5.0}}]}))
    monkeypatch.setenv("TERRITORY_FILE", str(path))
    tiny = territory.load()
    assert tiny.name == "Petit territoire"
    assert tiny.towns == {"99001": territory.Town("99001", "Bourg", ("99100",), Location(45.0, 5.0))}
    assert territory.load(path) == tiny


@pytest.mark.parametrize("code, name", [("94033", "Fontenay-sous-Bois"), ("94017", "Champigny-sur-Marne")])
def test_town_looks_a_town_up_by_its_insee_code(paris_est, code, name):
    town = paris_est.town(code)
    assert (town.insee, town.name) == (code, name)


@pytest.mark.parametrize("code", ["75056", "94081", "93048", "", "vincennes"])
def test_town_refuses_a_code_outside_the_territory_naming_the_field_in_french(paris_est, code):
    with pytest.raises(InvalidPlace) as caught:
        paris_est.town(code)
    assert caught.value.field == "town"
    assert str(caught.value) == ("Commune inconnue : ce n'est pas le code INSEE d'une commune du "
                                 "territoire Paris Est Marne et Bois.")
    with pytest.raises(InvalidPlace) as caught:
        paris_est.town(code, field="commune")
    assert caught.value.field == "commune"


def test_check_near_centre_accepts_a_point_within_the_radius_and_gives_its_distance(paris_est):
    vincennes, fontenay = paris_est.towns["94080"], paris_est.towns["94033"]
    assert check_near_centre(vincennes, VINCENNES_CENTRE, 5) == 0
    assert check_near_centre(vincennes, Location(48.84741 + 0.044, 2.43795), 5) == pytest.approx(4.9, abs=0.05)  # north
    assert check_near_centre(fontenay, Location(48.85102, 2.47421 + 0.066), 5) == pytest.approx(4.8, abs=0.05)  # east


@pytest.mark.parametrize("code, point, message", [
    ("94080", Location(48.84741 + 0.18, 2.43795),
     "La position doit se trouver à 5 km au plus du centre de Vincennes, la commune indiquée ; elle en est à 20 km."),
    ("94033", Location(48.85102 - 0.18, 2.47421),
     "La position doit se trouver à 5 km au plus du centre de Fontenay-sous-Bois, la commune indiquée ; "
     "elle en est à 20 km."),
])
def test_check_near_centre_refuses_a_point_farther_naming_the_field_in_french(paris_est, code, point, message):
    with pytest.raises(InvalidPlace) as caught:
        check_near_centre(paris_est.towns[code], point, 5)
    assert caught.value.field == "location"
    assert str(caught.value) == message


def test_check_near_centre_writes_distances_the_french_way_and_names_the_given_field(paris_est):
    with pytest.raises(InvalidPlace) as caught:
        check_near_centre(paris_est.towns["94080"], Location(48.84741 + 0.03, 2.43795), 2.5, field="lieu")
    assert caught.value.field == "lieu"
    assert str(caught.value) == ("La position doit se trouver à 2,5 km au plus du centre de Vincennes, "
                                 "la commune indiquée ; elle en est à 3,3 km.")


def test_check_near_centre_is_relative_to_the_chosen_town(paris_est):
    bry_centre = paris_est.towns["94015"].centre  # in the territory, but about 8 km from Charenton
    with pytest.raises(InvalidPlace, match="Charenton-le-Pont"):
        check_near_centre(paris_est.towns["94018"], bry_centre, 5)
