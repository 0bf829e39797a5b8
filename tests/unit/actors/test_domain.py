from datetime import datetime, timezone

import pytest

from vitawin_common.territory import InvalidPlace, Location

from vitawin_actors.domain import ACTION_TYPES, RegisterVolunteer, Volunteer, check_location

VINCENNES_CENTRE = Location(48.8475, 2.4392)


def command(**changes) -> RegisterVolunteer:
    values = dict(organisation_name="Pharmacie du Bois", contact_email="contact@pharmacie.example.fr",
                  town="94067", location=Location(48.8425, 2.4190), action_types=["testimony"])
    return RegisterVolunteer(**{**values, **changes})


def test_action_types_have_french_labels():
    assert ACTION_TYPES == {"testimony": "témoignage métier", "intervention": "intervention en classe",
                            "internship": "stage", "apprenticeship": "alternance",
                            "mentoring": "mentorat", "job_fair": "forum des métiers"}


def test_check_location_accepts_a_point_within_5_km_of_the_town_centre(territory):
    vincennes = territory.towns["94080"]
    check_location(vincennes, VINCENNES_CENTRE)
    check_location(vincennes, Location(48.8475 + 0.044, 2.4392))  # 4.9 km north


def test_check_location_refuses_a_point_20_km_off_naming_the_field_in_french(territory):
    with pytest.raises(InvalidPlace) as caught:
        check_location(territory.towns["94080"], Location(48.8475 + 0.18, 2.4392))
    assert caught.value.field == "location"
    assert str(caught.value) == ("La position doit se trouver à 5 km au plus du centre de Vincennes, "
                                 "la commune indiquée ; elle en est à 20 km.")
    with pytest.raises(InvalidPlace, match="elle en est à 5,2 km"):
        check_location(territory.towns["94080"], Location(48.8475 + 0.047, 2.4392))  # 5.2 km north


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
