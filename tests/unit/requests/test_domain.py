from datetime import datetime, timezone

import pytest

from vitawin_common.territory import InvalidPlace, Location

from vitawin_requests.domain import ACTION_TYPES, REQUESTER_KINDS, CreateRequest, Request, check_location

FONTENAY_CENTRE = Location(48.85102, 2.47421)


def command(**changes) -> CreateRequest:
    values = dict(requester_kind="pupil", contact_email="referent@college.example.fr",
                  action_type="internship", town="94017", location=Location(48.8175, 2.5150))
    return CreateRequest(**{**values, **changes})


def test_action_types_and_requester_kinds_have_french_labels():
    assert ACTION_TYPES == {"testimony": "témoignage métier", "intervention": "intervention en classe",
                            "internship": "stage", "apprenticeship": "alternance",
                            "mentoring": "mentorat", "job_fair": "forum des métiers"}
    assert REQUESTER_KINDS == {"school": "établissement scolaire", "pupil": "élève"}


def test_check_location_accepts_a_point_within_5_km_of_the_town_centre(territory):
    check_location(territory.towns["94033"], Location(48.85102, 2.47421 + 0.066))  # 4.8 km east


def test_check_location_refuses_a_point_20_km_off_naming_the_field_in_french(territory):
    with pytest.raises(InvalidPlace) as caught:
        check_location(territory.towns["94033"], Location(48.85102 - 0.18, 2.47421))
    assert caught.value.field == "location"
    assert str(caught.value) == ("La position doit se trouver à 5 km au plus du centre de Fontenay-sous-Bois, "
                                 "la commune indiquée ; elle en est à 20 km.")
    with pytest.raises(InvalidPlace, match="elle en est à 5,2 km"):
        check_location(territory.towns["94033"], Location(48.85102, 2.47421 + 0.071))  # 5.2 km east


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
