from datetime import datetime, timezone

import pytest

from vitawin_requests.domain import (ACTION_TYPES, REQUESTER_KINDS, CreateRequest, InvalidField, Location,
                                     Request, check_location, check_town, distance_km)

FONTENAY_CENTRE = Location(48.8511, 2.4772)


def command(**changes) -> CreateRequest:
    values = dict(requester_kind="pupil", contact_email="referent@college.example.fr",
                  action_type="internship", town="94017", location=Location(48.8175, 2.5150))
    return CreateRequest(**{**values, **changes})


def test_action_types_and_requester_kinds_have_french_labels():
    assert ACTION_TYPES == {"testimony": "témoignage métier", "intervention": "intervention en classe",
                            "internship": "stage", "apprenticeship": "alternance",
                            "mentoring": "mentorat", "job_fair": "forum des métiers"}
    assert REQUESTER_KINDS == {"school": "établissement scolaire", "pupil": "élève"}


def test_distance_km_is_the_great_circle_distance():
    assert distance_km(FONTENAY_CENTRE, FONTENAY_CENTRE) == 0
    assert distance_km(FONTENAY_CENTRE, Location(48.8511 - 0.18, 2.4772)) == pytest.approx(20.0, abs=0.05)


def test_territory_is_read_from_the_territory_data(territory):
    assert territory.name == "Paris Est Marne et Bois"
    assert territory.towns["94033"].centre == FONTENAY_CENTRE


def test_check_town_returns_a_town_of_the_territory(territory):
    assert check_town(territory, "94017").name == "Champigny-sur-Marne"


@pytest.mark.parametrize("code", ["75056", "93048", ""])
def test_check_town_refuses_a_code_outside_the_territory_in_french(territory, code):
    with pytest.raises(InvalidField) as caught:
        check_town(territory, code)
    assert caught.value.field == "town"
    assert str(caught.value).startswith("Commune inconnue : ce n'est pas le code INSEE")


def test_check_location_accepts_a_point_within_5_km_of_the_town_centre(territory):
    check_location(territory.towns["94033"], Location(48.8511, 2.4772 + 0.066))  # 4.8 km east


def test_check_location_refuses_a_point_20_km_off_naming_the_field_in_french(territory):
    with pytest.raises(InvalidField) as caught:
        check_location(territory.towns["94033"], Location(48.8511 - 0.18, 2.4772))
    assert caught.value.field == "location"
    assert str(caught.value) == ("La position doit se trouver à 5 km au plus du centre de Fontenay-sous-Bois, "
                                 "la commune indiquée ; elle en est à 20 km.")


def test_create_opens_a_request_with_an_id_and_a_creation_time():
    now = datetime(2026, 11, 27, 9, 30, 0, 987654, tzinfo=timezone.utc)
    request = Request.create(command(), now=now)
    assert request.request_id.startswith("req-") and len(request.request_id) == 36
    assert request.status == "open"
    assert request.created_at == datetime(2026, 11, 27, 9, 30, 0, 987000, tzinfo=timezone.utc)
    assert request.max_distance_km == 10.0
    assert Request.create(command()).request_id != request.request_id


def test_event_data_satisfies_the_contract_and_carries_no_status(contract_set):
    request = Request.create(command(max_distance_km=12))
    data = request.event_data()
    contract_set.validate("fr.vitawin.request.created.v1", data)
    assert set(data) == {"request_id", "requester_kind", "contact_email", "action_type", "town", "location",
                         "max_distance_km"}
    assert request.to_document() == {**data, "status": "open", "created_at": request.created_at}
