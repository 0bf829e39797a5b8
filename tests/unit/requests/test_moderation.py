"""Moderation of requests through the API and the handlers (issue 4, point 5): territory managers
and the referents of a request's school hide it with a reason and show it again; anyone who may
read a request reports it, anonymous callers included. Caller by caller (401, 403, and 404 where
the caller may not even see the request); French 422s; 409s; what each caller sees once a request
is hidden (lists, map, reading); the reports shown to moderators and the `reported` list filter;
the events in order with their versions, each valid against its contract, never with a comment,
a reporter or a moderator's account."""
import copy
import json
from datetime import datetime, timezone

import pytest

from vitawin_requests import handlers
from vitawin_requests.domain import Request
from vitawin_requests.moderation import AlreadyReported, Moderation, Moderator, Report

CALLERS = ("anonymous", "pupil", "other_pupil", "referent", "other_referent", "professional", "partner", "manager")
REASON = "Coordonnées personnelles dans la demande."
COMMENT = "Le numéro de portable de Léa est dans le texte (06 12 34 56 78)."
CREATED, UPDATED = "fr.vitawin.request.created.v2", "fr.vitawin.request.updated.v1"
NOW_TEST = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)
HIDDEN, UNHIDDEN, REPORTED = ("fr.vitawin.request.hidden.v1", "fr.vitawin.request.unhidden.v1",
                              "fr.vitawin.request.reported.v1")


def _who(caller):
    return None if caller == "anonymous" else caller


@pytest.fixture
def pupil_request(created):
    return created("job_information")  # by "pupil", of the college


@pytest.fixture
def school_request(created):
    return created("class_testimony")  # by "referent", of the college


@pytest.fixture
def act(client, auth):
    """act(action, request_id, who, body=None) → the response to POST /api/v1/requests/<id>/<action>."""
    def post(action: str, request_id: str, who: str | None, body=None):
        return client.post(f"/api/v1/requests/{request_id}/{action}", json=body, headers=auth(_who(who)))
    return post


def _hide(act, request_id, who="manager", reason=REASON):
    response = act("hide", request_id, who, {"reason": reason})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _events(uow, request_id):
    return [event for event, channel in uow.published if event.subject == request_id and channel == "requests"]


def _listed(client, auth, caller, query="") -> set[str]:
    response = client.get(f"/api/v1/requests{query}", headers=auth(_who(caller)))
    assert response.status_code == 200, response.get_json()
    return {item["request_id"] for item in response.get_json()["items"]}


# --- who may hide and show again ------------------------------------------------------------------------

@pytest.mark.parametrize("caller, status", [
    ("anonymous", 401), ("pupil", 403), ("other_pupil", 404), ("referent", 200), ("other_referent", 404),
    ("professional", 404), ("partner", 404), ("manager", 200)])
def test_hiding_a_pupil_request(act, uow, pupil_request, caller, status):
    request_id = pupil_request["request_id"]
    response = act("hide", request_id, caller, {"reason": REASON})
    assert response.status_code == status, response.get_json()
    stored = uow.requests.docs[request_id]
    assert (stored["hidden"], stored["version"]) == ((True, 2) if status == 200 else (False, 1))
    if status == 200:
        body = response.get_json()
        assert (body["hidden"], body["hidden_reason"], body["status"], body["version"]) == (True, REASON, "open", 2)
    if status == 403:
        assert response.get_json()["message"] == ("Seuls les gestionnaires de territoire et les référents de "
                                                  "l'établissement de la demande peuvent la masquer ou l'afficher "
                                                  "de nouveau.")
    if status == 404:
        assert response.get_json()["message"] == "Demande introuvable."


@pytest.mark.parametrize("caller, status", [
    ("anonymous", 401), ("pupil", 403), ("other_pupil", 403), ("referent", 200), ("other_referent", 403),
    ("lycee_referent", 403), ("professional", 403), ("partner", 403), ("manager", 200)])
def test_hiding_a_school_request(act, uow, school_request, caller, status):
    request_id = school_request["request_id"]
    response = act("hide", request_id, caller, {"reason": REASON})
    assert response.status_code == status, response.get_json()
    assert uow.requests.docs[request_id]["hidden"] is (status == 200)
    if status == 200:
        role = "territory_manager" if caller == "manager" else "school_referent"
        assert response.get_json()["hidden_by_role"] == role
    if status == 401:
        assert response.get_json()["message"] == "Connexion requise."


@pytest.mark.parametrize("caller, status", [
    ("anonymous", 401), ("pupil", 404), ("other_pupil", 404), ("referent", 200), ("other_referent", 404),
    ("professional", 404), ("partner", 404), ("manager", 200)])
def test_showing_a_hidden_school_request_again(act, uow, school_request, caller, status):
    request_id = school_request["request_id"]
    _hide(act, request_id)
    response = act("unhide", request_id, caller)
    assert response.status_code == status, response.get_json()  # hidden: others cannot even see it
    stored = uow.requests.docs[request_id]
    assert (stored["hidden"], stored["version"]) == ((False, 3) if status == 200 else (True, 2))
    if status == 200:
        body = response.get_json()
        assert body["hidden"] is False and not {"hidden_reason", "hidden_by_role", "hidden_at"} & set(body)


@pytest.mark.parametrize("caller, status", [
    ("anonymous", 401), ("pupil", 403), ("other_pupil", 404), ("referent", 200), ("other_referent", 404),
    ("professional", 404), ("partner", 404), ("manager", 200)])
def test_showing_a_hidden_pupil_request_again(act, uow, pupil_request, caller, status):
    request_id = pupil_request["request_id"]
    _hide(act, request_id, "referent")
    response = act("unhide", request_id, caller)
    assert response.status_code == status, response.get_json()
    assert uow.requests.docs[request_id]["hidden"] is (status != 200)


def test_a_request_of_the_lycee_is_moderated_by_the_lycee_referent_not_the_college_one(act, created):
    request_id = created("apprenticeship_search")["request_id"]  # a lycée pupil's
    assert act("hide", request_id, "referent", {"reason": REASON}).status_code == 404
    assert act("hide", request_id, "lycee_referent", {"reason": REASON}).status_code == 200


# --- bodies and conflicts -------------------------------------------------------------------------------

@pytest.mark.parametrize("body, field, message", [
    (None, "_schema", "Corps JSON invalide : un objet JSON est attendu."),
    ([REASON], "_schema", "Corps JSON invalide : un objet JSON est attendu."),
    ({}, "reason", "Champ obligatoire : indiquez la raison du masquage."),
    ({"reason": "ab"}, "reason", "La raison doit compter entre 3 et 500 caractères."),
    ({"reason": "   ab   "}, "reason", "La raison doit compter entre 3 et 500 caractères."),
    ({"reason": "x" * 501}, "reason", "La raison doit compter entre 3 et 500 caractères."),
    ({"reason": None}, "reason", "Ce champ ne peut pas être vide."),
    ({"reason": 12}, "reason", "Texte attendu."),
    ({"reason": REASON, "until": "2027-01-01"}, "until", "Champ inconnu."),
])
def test_a_hide_without_a_valid_reason_is_refused_in_french(act, uow, school_request, body, field, message):
    response = act("hide", school_request["request_id"], "manager", body)
    assert response.status_code == 422
    assert response.get_json()["message"] == "Les données envoyées sont invalides."
    assert response.get_json()["errors"]["json"][field] == [message]
    assert uow.requests.docs[school_request["request_id"]]["version"] == 1 and len(uow.published) == 1


def test_a_reason_is_kept_without_its_surrounding_blanks_and_500_characters_pass(act, school_request):
    assert _hide(act, school_request["request_id"], reason="  " + "x" * 500 + "  ")["hidden_reason"] == "x" * 500


def test_hiding_twice_and_showing_a_visible_request_are_409(act, uow, school_request):
    request_id = school_request["request_id"]
    visible = act("unhide", request_id, "manager")
    assert visible.status_code == 409 and visible.get_json()["message"] == "La demande n'est pas masquée."
    _hide(act, request_id, "referent")
    twice = act("hide", request_id, "manager", {"reason": "Autre raison."})
    assert twice.status_code == 409 and twice.get_json()["message"] == "La demande est déjà masquée."
    assert act("hide", request_id, "manager", {}).status_code == 409  # the state is checked before the body
    assert (uow.requests.docs[request_id]["version"], uow.requests.docs[request_id]["hidden_reason"]) == (2, REASON)
    assert [event.type for event in _events(uow, request_id)] == [CREATED, HIDDEN]


def test_the_domain_refuses_hiding_twice_too(uow, school_request):
    request = Request.from_document(uow.requests.docs[school_request["request_id"]])
    moderator = Moderator("territory_manager", "account-manager")
    with pytest.raises(handlers.RequestConflict, match="déjà masquée"):
        request.hide(REASON, moderator).hide(REASON, moderator)
    with pytest.raises(handlers.RequestConflict, match="pas masquée"):
        request.unhide(moderator)


def test_a_closed_request_can_be_hidden_and_keeps_its_status(act, client, auth, school_request):
    request_id = school_request["request_id"]
    client.post(f"/api/v1/requests/{request_id}/cancel", headers=auth("referent"))
    body = _hide(act, request_id)
    assert (body["status"], body["hidden"], body["version"]) == ("cancelled", True, 3)


def test_a_hidden_request_is_still_edited_and_cancelled_by_its_owner_and_stays_hidden(act, client, auth, uow,
                                                                                     pupil_request):
    request_id = pupil_request["request_id"]
    _hide(act, request_id, "referent")
    edit = client.patch(f"/api/v1/requests/{request_id}", json={"keywords": "boulangerie"}, headers=auth("pupil"))
    assert edit.status_code == 200
    assert (edit.get_json()["hidden"], edit.get_json()["hidden_reason"], edit.get_json()["version"]) == \
        (True, REASON, 3)
    cancelled = client.post(f"/api/v1/requests/{request_id}/cancel", headers=auth("pupil")).get_json()
    assert (cancelled["status"], cancelled["hidden"], cancelled["version"]) == ("cancelled", True, 4)
    assert [event.type for event in _events(uow, request_id)] == [
        CREATED, HIDDEN, UPDATED, "fr.vitawin.request.cancelled.v1"]


def test_a_hide_over_a_report_made_meanwhile_is_409_and_loses_nothing(act, uow, school_request, monkeypatch):
    request_id = school_request["request_id"]
    stale = copy.deepcopy(uow.requests.docs[request_id])  # read before the report
    assert act("report", request_id, None, {"category": "spam"}).status_code == 201
    monkeypatch.setattr(uow.requests, "get", lambda _: copy.deepcopy(stale))
    response = act("hide", request_id, "manager", {"reason": REASON})
    assert response.status_code == 409
    assert response.get_json()["message"] == "La demande a été modifiée entre-temps : relisez-la puis recommencez."
    stored = uow.requests.docs[request_id]
    assert (stored["hidden"], stored["version"], stored["report_count"]) == (False, 1, 1)


# --- what each caller sees once a request is hidden ----------------------------------------------------

@pytest.mark.parametrize("caller, sees", [
    ("anonymous", False), ("pupil", False), ("other_pupil", False), ("referent", True), ("other_referent", False),
    ("professional", False), ("partner", False), ("manager", True)])
def test_a_hidden_school_request_is_read_and_listed_only_by_its_moderators(client, auth, act, school_request,
                                                                          created, caller, sees):
    request_id = school_request["request_id"]
    other = created("job_fair")["request_id"]
    _hide(act, request_id)
    response = client.get(f"/api/v1/requests/{request_id}", headers=auth(_who(caller)))
    assert response.status_code == (200 if sees else 404)
    if sees:
        body = response.get_json()
        assert (body["hidden"], body["hidden_reason"], body["hidden_by_role"], body["status"]) == \
            (True, REASON, "territory_manager", "open")
        assert body["hidden_at"].startswith("2026-11-27T09:30:")
    else:
        assert response.get_json()["message"] == "Demande introuvable."
    listed = _listed(client, auth, caller)
    assert (request_id in listed) is sees and other in listed
    total = client.get("/api/v1/requests", headers=auth(_who(caller))).get_json()["total"]
    assert total == len(listed)  # the count does not leak it


@pytest.mark.parametrize("caller, sees", [
    ("anonymous", False), ("pupil", True), ("other_pupil", False), ("referent", True), ("other_referent", False),
    ("professional", False), ("partner", False), ("manager", True)])
def test_a_hidden_pupil_request_is_still_read_by_its_pupil_with_the_flag_and_reason(client, auth, act,
                                                                                   pupil_request, caller, sees):
    request_id = pupil_request["request_id"]
    _hide(act, request_id, "referent")
    response = client.get(f"/api/v1/requests/{request_id}", headers=auth(_who(caller)))
    assert response.status_code == (200 if sees else 404)
    if sees:
        assert (response.get_json()["hidden"], response.get_json()["hidden_reason"]) == (True, REASON)
    assert (request_id in _listed(client, auth, caller)) is sees


def test_a_hidden_request_leaves_the_map_and_comes_back_when_shown_again(client, act, school_request, created):
    request_id = school_request["request_id"]
    other = created("job_fair")["request_id"]

    def on_map():
        return {feature["id"] for feature in client.get("/api/v1/requests/map.geojson").get_json()["features"]}
    assert on_map() == {request_id, other}
    _hide(act, request_id, "referent")
    assert on_map() == {other}
    assert act("unhide", request_id, "manager").status_code == 200
    assert on_map() == {request_id, other}
    assert client.get(f"/api/v1/requests/{request_id}").status_code == 200


def test_a_visible_request_says_it_is_not_hidden(client, school_request):
    body = client.get(f"/api/v1/requests/{school_request['request_id']}").get_json()
    assert body["hidden"] is False and not {"hidden_reason", "reports", "report_count"} & set(body)


# --- reports --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("caller", CALLERS)
def test_anyone_may_report_a_school_request_anonymous_callers_included(act, uow, school_request, caller):
    request_id = school_request["request_id"]
    response = act("report", request_id, caller, {"category": "inappropriate", "comment": COMMENT})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["category"], body["comment"]) == ("inappropriate", COMMENT)
    assert body["at"].startswith("2026-11-27T09:30:") and set(body) == {"category", "comment", "at"}
    stored = uow.requests.docs[request_id]
    assert (stored["report_count"], stored["version"], stored["updated_at"]) == \
        (1, 1, uow.requests.docs[request_id]["created_at"])  # not a change of the request
    [report] = stored["reports"]
    assert report["reporter"] == ("anonymous" if caller == "anonymous" else f"account-{caller}")


@pytest.mark.parametrize("caller, status", [
    ("anonymous", 404), ("pupil", 201), ("other_pupil", 404), ("referent", 201), ("other_referent", 404),
    ("professional", 404), ("partner", 404), ("manager", 201)])
def test_only_those_who_may_read_a_pupil_request_may_report_it(act, uow, pupil_request, caller, status):
    response = act("report", pupil_request["request_id"], caller, {"category": "other"})
    assert response.status_code == status
    assert uow.requests.docs[pupil_request["request_id"]]["report_count"] == (1 if status == 201 else 0)


@pytest.mark.parametrize("caller, status", [
    ("anonymous", 404), ("pupil", 404), ("referent", 201), ("other_referent", 404), ("professional", 404),
    ("manager", 201)])
def test_a_hidden_school_request_is_reported_only_by_those_who_still_see_it(act, school_request, caller, status):
    _hide(act, school_request["request_id"])
    assert act("report", school_request["request_id"], caller, {"category": "spam"}).status_code == status


def test_one_report_per_account_and_request_but_anonymous_ones_are_not_deduplicated(act, uow, school_request,
                                                                                    created):
    request_id = school_request["request_id"]
    assert act("report", request_id, "professional", {"category": "spam"}).status_code == 201
    again = act("report", request_id, "professional", {"category": "other", "comment": "Encore."})
    assert again.status_code == 409 and again.get_json()["message"] == "Vous avez déjà signalé cette demande."
    assert act("report", request_id, "professional", {}).status_code == 409  # the state before the body
    for _ in range(3):
        assert act("report", request_id, None, {"category": "spam"}).status_code == 201
    other = created("job_fair")["request_id"]
    assert act("report", other, "professional", {"category": "spam"}).status_code == 201  # another request
    assert uow.requests.docs[request_id]["report_count"] == 4
    assert [event.data["report_count"] for event in _events(uow, request_id) if event.type == REPORTED] == [1, 2, 3, 4]


def test_the_handler_refuses_a_second_report_of_an_account_even_past_the_api_check(uow, school_request):
    request_id = school_request["request_id"]
    report = Report.make("spam", None, type("Caller", (), {"subject": "account-x", "role": "partner"})())
    assert handlers.report_request(request_id, report, uow) == 1
    with pytest.raises(AlreadyReported):
        handlers.report_request(request_id, report, uow)
    with pytest.raises(handlers.RequestNotFound):
        handlers.report_request("req-unknown", report, uow)
    assert uow.requests.docs[request_id]["report_count"] == 1 and len(_events(uow, request_id)) == 2


@pytest.mark.parametrize("body, field, message", [
    (None, "_schema", "Corps JSON invalide : un objet JSON est attendu."),
    ({}, "category", "Champ obligatoire : choisissez une catégorie de signalement."),
    ({"category": "rude"}, "category",
     "Catégorie inconnue ; valeurs possibles : inappropriate (contenu inapproprié), personal_data (données "
     "personnelles exposées), spam (spam ou publicité), other (autre motif)."),
    ({"category": "spam", "comment": "x" * 501}, "comment", "Le commentaire doit compter au plus 500 caractères."),
    ({"category": "spam", "comment": 5}, "comment", "Texte attendu."),
    ({"category": "spam", "email": "a@b.fr"}, "email", "Champ inconnu."),
])
def test_a_report_is_checked_in_french(act, uow, school_request, body, field, message):
    response = act("report", school_request["request_id"], None, body)
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"][field] == [message]
    assert uow.requests.docs[school_request["request_id"]]["report_count"] == 0 and len(uow.published) == 1


def test_a_report_of_an_unknown_request_is_404(act):
    response = act("report", "req-inconnue", None, {"category": "spam"})
    assert response.status_code == 404 and response.get_json()["message"] == "Demande introuvable."


def test_an_empty_or_null_comment_is_no_comment(act, uow, school_request):
    assert "comment" not in act("report", school_request["request_id"], None, {"category": "spam",
                                                                                "comment": "   "}).get_json()
    assert act("report", school_request["request_id"], None, {"category": "spam", "comment": None}).status_code == 201
    assert all("comment" not in report for report in uow.requests.docs[school_request["request_id"]]["reports"])


@pytest.mark.parametrize("caller, sees_reports", [
    ("anonymous", False), ("pupil", False), ("referent", True), ("other_referent", False), ("professional", False),
    ("manager", True)])
def test_the_reports_are_shown_with_the_request_to_its_moderators_only(client, auth, act, school_request, caller,
                                                                       sees_reports):
    request_id = school_request["request_id"]
    act("report", request_id, "pupil", {"category": "personal_data", "comment": COMMENT})
    act("report", request_id, None, {"category": "spam"})
    body = client.get(f"/api/v1/requests/{request_id}", headers=auth(_who(caller))).get_json()
    assert ("reports" in body) is sees_reports and ("report_count" in body) is sees_reports
    if sees_reports:
        assert body["report_count"] == 2
        first, second = body["reports"]
        assert {k: v for k, v in first.items() if k != "at"} == {
            "category": "personal_data", "comment": COMMENT, "reporter_role": "pupil", "anonymous": False}
        assert (second["category"], second["reporter_role"], second["anonymous"]) == ("spam", None, True)
        assert "account-pupil" not in json.dumps(body)  # never who reported


def test_the_pupil_who_asked_does_not_see_the_reports_of_their_request(client, auth, act, pupil_request):
    act("report", pupil_request["request_id"], "referent", {"category": "personal_data", "comment": COMMENT})
    body = client.get(f"/api/v1/requests/{pupil_request['request_id']}", headers=auth("pupil")).get_json()
    assert "reports" not in body and COMMENT not in json.dumps(body)


# --- the reported list ----------------------------------------------------------------------------------

@pytest.mark.parametrize("caller, status", [
    ("anonymous", 401), ("pupil", 403), ("professional", 403), ("partner", 403), ("referent", 200),
    ("manager", 200)])
def test_the_reported_filter_is_for_managers_and_referents(client, auth, caller, status):
    response = client.get("/api/v1/requests?reported=true", headers=auth(_who(caller)))
    assert response.status_code == status
    if status == 403:
        assert response.get_json()["message"] == ("Le filtre reported est réservé aux gestionnaires de territoire "
                                                  "et aux référents d'établissement.")


def test_reported_lists_the_reported_requests_each_moderator_moderates(client, auth, act, created):
    college_school = created("class_testimony")["request_id"]
    college_pupil = created("job_information")["request_id"]
    lycee_pupil = created("apprenticeship_search")["request_id"]
    quiet = created("job_fair")["request_id"]
    other_school = created("class_testimony", who="other_referent")["request_id"]
    for request_id, who in ((college_school, None), (college_pupil, "pupil"), (lycee_pupil, "lycee_pupil"),
                            (other_school, None)):
        assert act("report", request_id, who, {"category": "spam"}).status_code == 201
    _hide(act, college_pupil, "referent")
    assert _listed(client, auth, "manager", "?reported=true") == {college_school, college_pupil, lycee_pupil,
                                                                  other_school}
    assert _listed(client, auth, "referent", "?reported=true") == {college_school, college_pupil}
    assert _listed(client, auth, "lycee_referent", "?reported=true") == {lycee_pupil}
    assert _listed(client, auth, "manager", "?reported=true&kind=class_testimony") == {college_school, other_school}
    assert quiet in _listed(client, auth, "professional", "?reported=false")
    listed = client.get("/api/v1/requests?reported=true", headers=auth("referent")).get_json()
    assert listed["total"] == 2 and all(item["report_count"] == 1 for item in listed["items"])


def test_reported_must_be_a_boolean(client, auth):
    response = client.get("/api/v1/requests?reported=maybe", headers=auth("manager"))
    assert response.status_code == 422
    assert response.get_json()["errors"]["query"]["reported"] == ["Booléen attendu : true ou false."]


# --- events ---------------------------------------------------------------------------------------------

def test_moderation_events_come_in_order_with_their_versions_and_contracts(client, auth, act, uow, school_request,
                                                                           contract_set):
    request_id = school_request["request_id"]
    assert act("report", request_id, None, {"category": "spam", "comment": COMMENT}).status_code == 201
    _hide(act, request_id, "referent")
    assert act("report", request_id, None, {"category": "spam"}).status_code == 404  # hidden: not for anyone
    client.patch(f"/api/v1/requests/{request_id}", json={"class_size": 30}, headers=auth("referent"))
    assert act("report", request_id, "referent", {"category": "other"}).status_code == 201
    assert act("unhide", request_id, "manager").status_code == 200
    events = _events(uow, request_id)
    for event in events:
        contract_set.validate(event.type, event.data)
    assert [(event.type, event.data.get("version")) for event in events] == [
        (CREATED, 1), (REPORTED, None), (HIDDEN, 2), (UPDATED, 3), (REPORTED, None), (UNHIDDEN, 4)]
    reported, hidden, unhidden = events[1], events[2], events[5]
    assert hidden.data == {"request_id": request_id, "version": 2, "status": "open",
                           "hidden_by_role": "school_referent", "at": hidden.data["at"], "reason": REASON}
    assert reported.data == {"request_id": request_id, "category": "spam", "report_count": 1,
                             "at": reported.data["at"]}
    assert unhidden.data == {"request_id": request_id, "version": 4, "status": "open",
                             "unhidden_by_role": "territory_manager", "at": unhidden.data["at"]}
    assert {event.subject for event in events} == {request_id}


def test_the_hidden_event_of_a_pupil_request_carries_no_reason(act, uow, pupil_request, contract_set):
    _hide(act, pupil_request["request_id"], "referent", reason="Léa a mis son adresse : 3 rue des Lilas.")
    event = _events(uow, pupil_request["request_id"])[-1]
    contract_set.validate(event.type, event.data)
    assert event.type == HIDDEN and "reason" not in event.data
    assert "Lilas" not in json.dumps(event.data, ensure_ascii=False)


def test_no_event_carries_a_comment_a_reporter_or_a_moderator_s_account(act, uow, pupil_request, school_request):
    for request in (pupil_request, school_request):
        request_id = request["request_id"]
        for who in (None, "manager", "referent"):
            act("report", request_id, who, {"category": "personal_data", "comment": COMMENT})
        _hide(act, request_id, "referent")
        act("unhide", request_id, "manager")
    text = json.dumps([event.data for event, _ in uow.published], ensure_ascii=False)
    for secret in (COMMENT, "06 12", "account-", "anonymous", "comment", "reporter", "subject"):
        assert secret not in text, secret


def test_the_contract_refuses_a_reported_event_with_a_comment_a_reporter_or_a_version(act, uow, school_request,
                                                                                     contract_set):
    act("report", school_request["request_id"], "professional", {"category": "spam", "comment": COMMENT})
    event = _events(uow, school_request["request_id"])[-1]
    for extra in ({"comment": COMMENT}, {"reporter": "account-professional"}, {"version": 2}):
        with pytest.raises(ValueError):
            contract_set.validate(event.type, {**event.data, **extra})


def test_the_contract_refuses_a_hidden_event_with_the_moderator_s_account(act, uow, school_request, contract_set):
    _hide(act, school_request["request_id"])
    event = _events(uow, school_request["request_id"])[-1]
    with pytest.raises(ValueError):
        contract_set.validate(event.type, {**event.data, "hidden_by_subject": "account-manager"})


def test_the_moderator_s_account_is_kept_in_the_document_for_the_audit(act, uow, school_request):
    request_id = school_request["request_id"]
    _hide(act, request_id, "referent")
    act("unhide", request_id, "manager")
    stored = uow.requests.docs[request_id]
    assert [(entry["action"], entry["by_role"], entry["by_subject"], entry.get("reason"))
            for entry in stored["moderation_log"]] == [
        ("hidden", "school_referent", "account-referent", REASON),
        ("unhidden", "territory_manager", "account-manager", None)]
    assert stored["hidden"] is False and "hidden_by_subject" not in stored


def test_the_openapi_document_describes_moderation_in_french(client):
    spec = client.get("/openapi.json").get_json()
    paths = spec["paths"]
    assert {"/api/v1/requests/{request_id}/hide", "/api/v1/requests/{request_id}/unhide",
            "/api/v1/requests/{request_id}/report"} <= set(paths)
    assert paths["/api/v1/requests/{request_id}/hide"]["post"]["summary"] == "Masquer une demande (modération)"
    assert "passerelle" in paths["/api/v1/requests/{request_id}/report"]["post"]["description"]
    body = paths["/api/v1/requests/{request_id}/report"]["post"]["requestBody"]["content"]["application/json"]
    report = spec["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[-1]]
    assert "données personnelles exposées" in report["properties"]["category"]["description"]
    assert {"hidden", "hidden_reason", "reports", "report_count"} <= set(spec["components"]["schemas"]["Request"]
                                                                         ["properties"])
    assert any(parameter["name"] == "reported" for parameter in paths["/api/v1/requests"]["get"]["parameters"])


def test_the_domain_refuses_what_the_api_refuses_first():
    moderator = Moderator("territory_manager", "account-manager")
    with pytest.raises(ValueError):
        Report("rude", None, "anonymous", None, NOW_TEST)
    with pytest.raises(ValueError):
        Report("spam", "x" * 501, "anonymous", None, NOW_TEST)
    with pytest.raises(ValueError):
        Moderation().hide("ab", moderator, NOW_TEST)
    assert Moderation().hide("abc", moderator, NOW_TEST).hidden
