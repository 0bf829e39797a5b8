from datetime import datetime, timezone

import pytest

from vitawin_actors.domain import (ACTION_TYPES, InvalidField, Location, RegisterVolunteer, Territory,
                                   Volunteer, check_location, check_town, distance_km)

VINCENNES_CENTRE = Location(48.8475, 2.4392)


def command(**changes) -> RegisterVolunteer:
    values = dict(organisation_name="Pharmacie du Bois", contact_email="contact@pharmacie.example.fr",
                  town="94067", location=Location(48.8425, 2.4190), action_types=["testimony"])
    return RegisterVolunteer(**{**values, **changes})


def test_action_types_have_french_labels():
    assert ACTION_TYPES == {"testimony": "témoignage métier", "intervention": "intervention en classe",
                            "internship": "stage", "apprenticeship": "alternance",
                            "mentoring": "mentorat", "job_fair": "forum des métiers"}


def test_distance_km_is_the_great_circle_distance():
    assert distance_km(VINCENNES_CENTRE, VINCENNES_CENTRE) == 0
    # 0.18 degree of latitude is 20.0 km
    assert distance_km(VINCENNES_CENTRE, Location(48.8475 + 0.18, 2.4392)) == pytest.approx(20.0, abs=0.05)
    # Vincennes to Fontenay-sous-Bois town centres: about 2.8 km
    assert distance_km(VINCENNES_CENTRE, Location(48.8511, 2.4772)) == pytest.approx(2.8, abs=0.1)


def test_territory_is_read_from_the_territory_data(territory):
    assert territory.name == "Paris Est Marne et Bois"
    assert len(territory.towns) == 13
    assert territory.towns["94080"].name == "Vincennes"
    assert territory.towns["94080"].centre == VINCENNES_CENTRE


def test_check_town_returns_a_town_of_the_territory(territory):
    assert check_town(territory, "94033").name == "Fontenay-sous-Bois"


@pytest.mark.parametrize("code", ["75056", "94081", "", "vincennes"])
def test_check_town_refuses_a_code_outside_the_territory_in_french(territory, code):
    with pytest.raises(InvalidField) as caught:
        check_town(territory, code)
    assert caught.value.field == "town"
    assert str(caught.value) == ("Commune inconnue : ce n'est pas le code INSEE d'une commune du "
                                 "territoire Paris Est Marne et Bois.")


def test_check_location_accepts_a_point_within_5_km_of_the_town_centre(territory):
    vincennes = territory.towns["94080"]
    check_location(vincennes, VINCENNES_CENTRE)
    check_location(vincennes, Location(48.8475 + 0.044, 2.4392))  # 4.9 km north


def test_check_location_refuses_a_point_20_km_off_naming_the_field_in_french(territory):
    with pytest.raises(InvalidField) as caught:
        check_location(territory.towns["94080"], Location(48.8475 + 0.18, 2.4392))
    assert caught.value.field == "location"
    assert str(caught.value) == ("La position doit se trouver à 5 km au plus du centre de Vincennes, "
                                 "la commune indiquée ; elle en est à 20 km.")


def test_check_location_is_relative_to_the_chosen_town(territory):
    bry_centre = territory.towns["94015"].centre  # in the territory, but about 8 km from Charenton
    with pytest.raises(InvalidField, match="Charenton-le-Pont"):
        check_location(territory.towns["94018"], bry_centre)


def test_register_gives_an_id_a_creation_time_and_keeps_the_command():
    now = datetime(2026, 11, 27, 9, 30, 0, 123456, tzinfo=timezone.utc)
    volunteer = Volunteer.register(command(max_distance_km=8), now=now)
    assert volunteer.volunteer_id.startswith("vol-") and len(volunteer.volunteer_id) == 36
    assert int(volunteer.volunteer_id[4:], 16) >= 0
    assert volunteer.created_at == datetime(2026, 11, 27, 9, 30, 0, 123000, tzinfo=timezone.utc)
    assert (volunteer.organisation_name, volunteer.town, volunteer.action_types, volunteer.max_distance_km) == (
        "Pharmacie du Bois", "94067", ("testimony",), 8.0)
    assert Volunteer.register(command()).volunteer_id != volunteer.volunteer_id


def test_event_data_satisfies_the_contract(contract_set):
    volunteer = Volunteer.register(command(action_types=["testimony", "mentoring"]))
    data = volunteer.event_data()
    contract_set.validate("fr.vitawin.volunteer.registered.v1", data)
    assert set(data) == {"volunteer_id", "organisation_name", "contact_email", "town", "location",
                         "action_types", "max_distance_km"}
    assert data["location"] == {"lat": 48.8425, "lon": 2.4190}
    assert volunteer.to_document() == {**data, "created_at": volunteer.created_at}
