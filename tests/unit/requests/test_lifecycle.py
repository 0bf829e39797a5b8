"""A request's lifecycle through the API and the handlers the worker calls: edits validated as a
whole, cancellation, acceptances (partly matched, then fulfilled), expiry with a fixed clock; the
events of each request in order, with their versions, each validating against its contract."""
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from vitawin_requests import handlers
from vitawin_requests.domain import Request

CREATED, UPDATED = "fr.vitawin.request.created.v2", "fr.vitawin.request.updated.v1"
CANCELLED, FULFILLED, EXPIRED = ("fr.vitawin.request.cancelled.v1", "fr.vitawin.request.fulfilled.v1",
                                 "fr.vitawin.request.expired.v1")


def _events(uow, request_id):
    return [event for event, channel in uow.published if event.subject == request_id and channel == "requests"]


def _validated(uow, request_id, contract_set):
    events = _events(uow, request_id)
    for event in events:
        contract_set.validate(event.type, event.data)
    return [(event.type, event.data["version"]) for event in events]


def _patch(client, auth, request_id, changes, who="referent"):
    return client.patch(f"/api/v1/requests/{request_id}", json=changes, headers=auth(who))


# --- edits ----------------------------------------------------------------------------------------------

def test_an_edit_publishes_the_whole_new_state_with_the_next_version(client, auth, uow, created, contract_set):
    request_id = created("class_testimony")["request_id"]
    response = _patch(client, auth, request_id, {"date": "2027-01-20", "professionals_wanted": 3})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["version"], body["date"], body["professionals_wanted"]) == (2, "2027-01-20", 3)
    assert body["expires_at"] == "2027-01-20T23:00:00+00:00"
    assert body["level"] == "3e" and body["contact_email"]  # the rest is kept
    assert _validated(uow, request_id, contract_set) == [(CREATED, 1), (UPDATED, 2)]
    event = _events(uow, request_id)[-1]
    assert {key: body[key] for key in ("date", "professionals_wanted", "status", "version")} == \
           {key: event.data[key] for key in ("date", "professionals_wanted", "status", "version")}


def test_an_edit_is_validated_as_a_whole_like_a_new_request(client, auth, uow, created):
    request_id = created("internship_hosting")["request_id"]  # 3e, week 2027-W03
    response = _patch(client, auth, request_id, {"level": "4e"})  # the college has no internship weeks for 4e
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"]["period"]["0"][0].endswith("(semaines prévues : aucune).")
    saturday = _patch(client, auth, created("class_testimony")["request_id"], {"date": "2026-12-05"})
    assert saturday.get_json()["errors"]["json"]["date"] == ["Le samedi 05/12/2026 n'est pas un jour de classe."]
    assert all(doc["version"] == 1 for doc in uow.requests.docs.values())


def test_an_edit_that_changes_nothing_publishes_nothing(client, auth, uow, created):
    request_id = created("class_testimony")["request_id"]
    response = _patch(client, auth, request_id, {"level": "3e"})
    assert response.status_code == 200 and response.get_json()["version"] == 1
    assert len(_events(uow, request_id)) == 1


def test_null_removes_an_optional_field(client, auth, created):
    request_id = created("class_testimony")["request_id"]
    body = _patch(client, auth, request_id, {"start_time": None, "end_time": None}).get_json()
    assert "start_time" not in body and "end_time" not in body and body["version"] == 2
    required = _patch(client, auth, request_id, {"date": None})
    assert required.get_json()["errors"]["json"]["date"] == ["Champ obligatoire."]


@pytest.mark.parametrize("changes, field, message", [
    ({}, "_schema", "Indiquez au moins un champ à modifier."),
    ({"kind": "job_fair"}, "kind", "Le type d'une demande ne change pas : annulez-la et déposez-en une autre."),
    ({"town": "94033"}, "town", "Champ inconnu."),
    ({"topic": "x"}, "topic", "Champ inconnu."),  # not a field of a testimony
])
def test_an_edit_refuses_what_a_testimony_cannot_change(client, auth, created, changes, field, message):
    response = _patch(client, auth, created("class_testimony")["request_id"], changes)
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"][field] == [message]


def test_a_pupil_moves_a_discovery_internship_from_their_town_to_the_school_and_back(client, auth, created, the):
    request_id = created("discovery_internship")["request_id"]  # around Fontenay-sous-Bois
    to_school = _patch(client, auth, request_id, {"around": "school"}, who="pupil").get_json()
    assert (to_school["town"], to_school["location"]) == ("94080", the.SCHOOLS[the.COLLEGE]["location"])
    no_town = _patch(client, auth, request_id, {"around": "town"}, who="pupil")
    assert no_town.get_json()["errors"]["json"]["town"][0].startswith("Indiquez la commune")
    back = _patch(client, auth, request_id, {"around": "town", "town": "94052"}, who="pupil").get_json()
    assert (back["town"], back["location"], back["version"]) == ("94052", {"lat": 48.83659, "lon": 2.48169}, 3)


def test_an_edit_cannot_ask_for_fewer_professionals_than_accepted(client, auth, uow, created):
    request_id = created("class_testimony", professionals_wanted=3)["request_id"]
    handlers.record_acceptance(uow, request_id, "prop-1")
    handlers.record_acceptance(uow, request_id, "prop-2")
    response = _patch(client, auth, request_id, {"professionals_wanted": 2})
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"]["professionals_wanted"] == [
        "Déjà 2 proposition(s) acceptée(s) : indiquez au moins 3 professionnels, ou annulez la demande si elle ne "
        "sert plus."]


def test_an_edit_over_a_change_made_meanwhile_is_409(client, auth, uow, created, monkeypatch):
    request_id = created("class_testimony", professionals_wanted=3)["request_id"]
    read_school = uow.schools.get

    def school_read_while_a_proposal_is_accepted(uai):  # between the API's read and the handler's write
        handlers.record_acceptance(uow, request_id, "prop-1")
        return read_school(uai)
    monkeypatch.setattr(uow.schools, "get", school_read_while_a_proposal_is_accepted)
    response = _patch(client, auth, request_id, {"class_size": 30})
    assert response.status_code == 409
    assert response.get_json()["message"] == "La demande a été modifiée entre-temps : relisez-la puis recommencez."
    stored = uow.requests.docs[request_id]
    assert (stored["class_size"], stored["version"], stored["status"]) == (28, 2, "partly_matched")


def test_the_handler_refuses_a_version_other_than_the_one_validated(uow, created):
    request_id = created("class_testimony")["request_id"]
    validated = Request.from_document(uow.requests.docs[request_id]).spec
    handlers.record_acceptance(uow, request_id, "prop-1")  # version 2, meanwhile
    with pytest.raises(handlers.ConcurrentChange):
        handlers.update_request(request_id, replace(validated, class_size=30), uow, expected_version=1)
    stored = uow.requests.docs[request_id]
    assert (stored["class_size"], stored["version"]) == (28, 2)


def test_a_request_of_a_school_gone_from_the_territory_can_only_be_cancelled(client, auth, uow, created, the):
    request_id = created("class_testimony")["request_id"]
    del uow.schools.docs[the.COLLEGE]  # erased from the directory (fr.vitawin.actor.erased.v1)
    response = _patch(client, auth, request_id, {"class_size": 30})
    assert response.status_code == 409
    assert response.get_json()["message"] == ("L'établissement de cette demande n'est plus inscrit : elle ne peut "
                                              "plus être modifiée, seulement annulée.")
    assert client.post(f"/api/v1/requests/{request_id}/cancel", headers=auth("referent")).status_code == 200


# --- cancellation -------------------------------------------------------------------------------------------

def test_cancelling_closes_the_request_with_its_event(client, auth, uow, created, contract_set):
    request_id = created("job_fair")["request_id"]
    response = client.post(f"/api/v1/requests/{request_id}/cancel", json={"reason": "  Forum reporté.  "},
                           headers=auth("referent"))
    assert response.status_code == 200
    body = response.get_json()
    assert (body["status"], body["version"], body["cancel_reason"]) == ("cancelled", 2, "Forum reporté.")
    assert body["cancelled_at"].startswith("2026-11-27T09:30:0")
    assert _validated(uow, request_id, contract_set) == [(CREATED, 1), (CANCELLED, 2)]
    assert _events(uow, request_id)[-1].data["reason"] == "Forum reporté."


def test_cancelling_without_a_body_is_fine_and_a_second_time_is_409(client, auth, uow, created):
    request_id = created("job_fair")["request_id"]
    assert client.post(f"/api/v1/requests/{request_id}/cancel", headers=auth("manager")).status_code == 200
    again = client.post(f"/api/v1/requests/{request_id}/cancel", headers=auth("referent"))
    assert again.status_code == 409
    assert again.get_json()["message"] == "La demande est déjà annulée : elle ne peut plus être annulée."
    edit = _patch(client, auth, request_id, {"professionals_wanted": 3})
    assert edit.status_code == 409
    assert edit.get_json()["message"] == "La demande est annulée : elle ne peut plus être modifiée."
    assert len(_events(uow, request_id)) == 2


def test_a_cancellation_reason_is_checked(client, auth, uow, created):
    request_id = created("job_fair")["request_id"]
    response = client.post(f"/api/v1/requests/{request_id}/cancel", json={"reason": "x" * 301},
                           headers=auth("referent"))
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"]["reason"] == ["Entre 1 et 300 caractères attendus."]
    assert uow.requests.docs[request_id]["status"] == "open"


# --- acceptances (from the matching service's outcomes) --------------------------------------------------

def test_acceptances_lead_to_fulfilled_with_events_in_order(client, auth, uow, created, contract_set):
    request_id = created("class_testimony")["request_id"]  # 2 professionals wanted
    _patch(client, auth, request_id, {"class_size": 30})
    first = handlers.record_acceptance(uow, request_id, "prop-1")
    assert (first.status, first.version) == ("partly_matched", 3)
    second = handlers.record_acceptance(uow, request_id, "prop-2")
    assert (second.status, second.version) == ("fulfilled", 4)
    assert _validated(uow, request_id, contract_set) == [(CREATED, 1), (UPDATED, 2), (UPDATED, 3), (FULFILLED, 4)]
    assert _events(uow, request_id)[2].data["status"] == "partly_matched"
    assert _events(uow, request_id)[3].data["accepted_proposal_ids"] == ["prop-1", "prop-2"]
    body = client.get(f"/api/v1/requests/{request_id}").get_json()
    assert (body["status"], body["accepted_count"]) == ("fulfilled", 2) and "accepted_proposal_ids" not in body


def test_an_acceptance_is_recorded_once_per_proposal(uow, created):
    request_id = created("class_testimony")["request_id"]
    handlers.record_acceptance(uow, request_id, "prop-1")
    again = handlers.record_acceptance(uow, request_id, "prop-1")
    assert (again.version, again.accepted_proposal_ids) == (2, ("prop-1",))
    assert len(_events(uow, request_id)) == 2


def test_closed_and_unknown_requests_ignore_acceptances(client, auth, uow, created):
    request_id = created("class_testimony")["request_id"]
    client.post(f"/api/v1/requests/{request_id}/cancel", headers=auth("referent"))
    assert handlers.record_acceptance(uow, request_id, "prop-1").status == "cancelled"
    assert handlers.record_acceptance(uow, "req-unknown", "prop-1") is None
    assert len(_events(uow, request_id)) == 2


def test_a_pupil_request_is_fulfilled_by_its_first_acceptance(uow, created, contract_set):
    request_id = created("discovery_internship")["request_id"]
    assert handlers.record_acceptance(uow, request_id, "prop-1").status == "fulfilled"
    assert _validated(uow, request_id, contract_set) == [(CREATED, 1), (FULFILLED, 2)]


def test_internship_hosting_counts_one_accepted_proposal_per_place(uow, created):
    request_id = created("internship_hosting", pupils=2)["request_id"]
    assert handlers.record_acceptance(uow, request_id, "prop-1").status == "partly_matched"
    assert handlers.record_acceptance(uow, request_id, "prop-2").status == "fulfilled"


# --- expiry, with a fixed clock ----------------------------------------------------------------------------

def at(*parts) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


def test_expire_due_expires_what_is_due_at_now_one_event_each(uow, created, contract_set):
    testimony = created("class_testimony")["request_id"]  # expires 13/01/2027 at 23:00 UTC
    internship = created("discovery_internship")["request_id"]  # W05: expires 31/01/2027 at 23:00 UTC
    information = created("job_information")["request_id"]  # expires 90 days after creation: 25/02/2027
    partly = created("job_fair", date="2027-01-13")["request_id"]
    handlers.record_acceptance(uow, partly, "prop-1")

    assert handlers.expire_due(uow, at(2027, 1, 13, 22, 59, 59)) == 0
    assert handlers.expire_due(uow, at(2027, 1, 13, 23, 0)) == 2
    assert {rid: uow.requests.docs[rid]["status"] for rid in (testimony, partly, internship, information)} == {
        testimony: "expired", partly: "expired", internship: "open", information: "open"}
    assert handlers.expire_due(uow, at(2027, 1, 13, 23, 0)) == 0  # nothing twice
    assert handlers.expire_due(uow, at(2027, 2, 1)) == 1
    assert uow.requests.docs[information]["status"] == "open"
    assert handlers.expire_due(uow, at(2027, 2, 25, 9, 30, 4)) == 1

    assert _validated(uow, testimony, contract_set) == [(CREATED, 1), (EXPIRED, 2)]
    assert _validated(uow, partly, contract_set) == [(CREATED, 1), (UPDATED, 2), (EXPIRED, 3)]
    assert _events(uow, testimony)[-1].data == {"request_id": testimony, "version": 2,
                                                "at": "2027-01-13T23:00:00.000Z"}
    assert uow.requests.docs[testimony]["expired_at"] == at(2027, 1, 13, 23, 0)


def test_cancelled_and_fulfilled_requests_never_expire(client, auth, uow, created):
    cancelled = created("class_testimony")["request_id"]
    client.post(f"/api/v1/requests/{cancelled}/cancel", headers=auth("referent"))
    fulfilled = created("class_intervention")["request_id"]
    handlers.record_acceptance(uow, fulfilled, "prop-1")
    assert handlers.expire_due(uow, at(2030, 1, 1)) == 0
    assert [uow.requests.docs[rid]["status"] for rid in (cancelled, fulfilled)] == ["cancelled", "fulfilled"]


def test_a_request_moved_to_a_later_date_since_the_due_list_is_left_alone(client, auth, uow, created, monkeypatch):
    request_id = created("class_testimony")["request_id"]
    monkeypatch.setattr(uow.requests, "due", lambda now: [request_id])  # read before the edit below
    _patch(client, auth, request_id, {"date": "2027-01-20"})
    assert handlers.expire_due(uow, at(2027, 1, 14)) == 0
    assert uow.requests.docs[request_id]["status"] == "open"
