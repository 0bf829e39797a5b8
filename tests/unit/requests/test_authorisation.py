"""The object-level rules through the API, caller by caller: a pupil's request exists only for
that pupil, the referents of the pupil's school and territory managers (404 for anyone else, never
403, so that its existence does not leak; left out of lists); a school's request is public but its
referent's e-mail is shown only to the school's referents and territory managers; who may edit and
cancel what."""
import pytest

CALLERS = ("anonymous", "pupil", "other_pupil", "referent", "other_referent", "professional", "partner", "manager")


@pytest.fixture
def pupil_request(created):
    return created("job_information")  # by "pupil", of the college


@pytest.fixture
def school_request(created):
    return created("class_testimony")  # by "referent", of the college


def _who(caller):
    return None if caller == "anonymous" else caller


def _listed(client, auth, caller) -> dict:
    response = client.get("/api/v1/requests", headers=auth(_who(caller)))
    assert response.status_code == 200
    return {item["request_id"]: item for item in response.get_json()["items"]}


# --- a pupil's request -----------------------------------------------------------------------------------

@pytest.mark.parametrize("caller, status", [
    ("anonymous", 404), ("pupil", 200), ("other_pupil", 404), ("referent", 200), ("other_referent", 404),
    ("professional", 404), ("partner", 404), ("manager", 200)])
def test_reading_a_pupil_request(client, auth, pupil_request, caller, status):
    response = client.get(f"/api/v1/requests/{pupil_request['request_id']}", headers=auth(_who(caller)))
    assert response.status_code == status
    if status == 404:
        assert response.get_json()["message"] == "Demande introuvable."
    else:
        assert response.get_json()["keywords"] == "pâtisserie, chocolatier"


@pytest.mark.parametrize("caller, listed", [
    ("anonymous", False), ("pupil", True), ("other_pupil", False), ("referent", True), ("other_referent", False),
    ("professional", False), ("partner", False), ("manager", True)])
def test_listing_a_pupil_request(client, auth, pupil_request, school_request, caller, listed):
    found = _listed(client, auth, caller)
    assert (pupil_request["request_id"] in found) == listed
    assert school_request["request_id"] in found
    response = client.get("/api/v1/requests", headers=auth(_who(caller)))
    assert response.get_json()["total"] == len(found)  # the count does not leak either


@pytest.mark.parametrize("caller, status", [
    ("anonymous", 401), ("pupil", 200), ("other_pupil", 404), ("referent", 200), ("other_referent", 404),
    ("professional", 404), ("partner", 404), ("manager", 403)])
def test_editing_a_pupil_request(client, auth, uow, pupil_request, caller, status):
    response = client.patch(f"/api/v1/requests/{pupil_request['request_id']}", json={"keywords": "boulangerie"},
                            headers=auth(_who(caller)))
    assert response.status_code == status, response.get_json()
    stored = uow.requests.docs[pupil_request["request_id"]]
    if status == 200:
        assert (stored["keywords"], stored["version"]) == ("boulangerie", 2)
    else:
        assert (stored["keywords"], stored["version"]) == ("pâtisserie, chocolatier", 1)
        assert [channel for _, channel in uow.published] == ["requests", "requesters"]  # the creation only
    if status == 403:
        assert response.get_json()["message"] == ("Seuls l'élève qui a déposé la demande et les référents de son "
                                                  "établissement peuvent la modifier.")


@pytest.mark.parametrize("caller, status", [
    ("anonymous", 401), ("pupil", 200), ("other_pupil", 404), ("referent", 200), ("other_referent", 404),
    ("professional", 404), ("partner", 404), ("manager", 200)])
def test_cancelling_a_pupil_request(client, auth, uow, pupil_request, caller, status):
    response = client.post(f"/api/v1/requests/{pupil_request['request_id']}/cancel", headers=auth(_who(caller)))
    assert response.status_code == status, response.get_json()
    assert uow.requests.docs[pupil_request["request_id"]]["status"] == ("cancelled" if status == 200 else "open")


# --- a school's request -----------------------------------------------------------------------------------

@pytest.mark.parametrize("caller, sees_contact", [
    ("anonymous", False), ("pupil", False), ("other_pupil", False), ("referent", True), ("other_referent", False),
    ("professional", False), ("partner", False), ("manager", True)])
def test_a_school_request_is_public_but_its_contact_is_not(client, auth, school_request, caller, sees_contact, the):
    response = client.get(f"/api/v1/requests/{school_request['request_id']}", headers=auth(_who(caller)))
    assert response.status_code == 200
    assert ("contact_email" in response.get_json()) == sees_contact
    listed = _listed(client, auth, caller)[school_request["request_id"]]
    assert (listed.get("contact_email") == the.REFERENT_EMAIL) == sees_contact
    assert ("contact_email" in listed) == sees_contact


@pytest.mark.parametrize("caller, status", [
    ("anonymous", 401), ("pupil", 403), ("other_pupil", 403), ("referent", 200), ("other_referent", 403),
    ("professional", 403), ("partner", 403), ("manager", 403)])
def test_editing_a_school_request(client, auth, uow, school_request, caller, status):
    response = client.patch(f"/api/v1/requests/{school_request['request_id']}", json={"class_size": 30},
                            headers=auth(_who(caller)))
    assert response.status_code == status, response.get_json()
    assert uow.requests.docs[school_request["request_id"]]["class_size"] == (30 if status == 200 else 28)
    if status == 403:
        assert response.get_json()["message"] == ("Seuls les référents de l'établissement peuvent modifier cette "
                                                  "demande.")
    if status == 401:
        assert response.get_json()["message"] == "Connexion requise."


@pytest.mark.parametrize("caller, status", [
    ("anonymous", 401), ("pupil", 403), ("other_pupil", 403), ("referent", 200), ("other_referent", 403),
    ("professional", 403), ("partner", 403), ("manager", 200)])
def test_cancelling_a_school_request(client, auth, uow, school_request, caller, status):
    response = client.post(f"/api/v1/requests/{school_request['request_id']}/cancel",
                           json={"reason": "Sortie scolaire ce jour-là."}, headers=auth(_who(caller)))
    assert response.status_code == status, response.get_json()
    assert uow.requests.docs[school_request["request_id"]]["status"] == ("cancelled" if status == 200 else "open")
    if status == 403:
        assert response.get_json()["message"] == "Vous ne pouvez pas annuler cette demande."


def test_a_referent_of_the_lycee_does_not_see_the_college_pupils_requests(client, auth, pupil_request, created):
    lycee_request = created("apprenticeship_search")
    found = _listed(client, auth, "lycee_referent")
    assert lycee_request["request_id"] in found and pupil_request["request_id"] not in found
    assert client.get(f"/api/v1/requests/{lycee_request['request_id']}",
                      headers=auth("lycee_referent")).status_code == 200
    assert client.get(f"/api/v1/requests/{lycee_request['request_id']}", headers=auth("referent")).status_code == 404
