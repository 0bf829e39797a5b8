"""Moderation of initiatives and calls for projects (issue 4, point 5), over HTTP in memory and
through the handlers: only territory managers hide one (with a reason) and show it again; anyone
who can see one reports it, anonymous callers included. Caller by caller (401, 403, 404 where the
caller cannot even see it); French 422s; 409s; what each caller sees once it is hidden (list, map,
reading, joining); the reports for territory managers; events in order with their versions, each
valid against its contract, without comment, reporter or moderator's account."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from vitawin_common import identity

from vitawin_requests.initiatives import handlers
from vitawin_requests.initiatives.domain import Initiative, Party, PublishInitiative
from vitawin_requests.initiatives.rules import NotAllowed
from vitawin_requests.moderation import AlreadyReported, Moderator, Report

from tests.unit.requests.initiatives_fakes import (MANAGER, NOW, ORG, OTHER_ORG, PARTNER, SCHOOL, TODAY, Tokens,
                                                   call_body, initiative_body, load_territory, make_app, make_uow,
                                                   validate_event)

URL = "/api/v1/initiatives"
REASON = "Publicité sans rapport avec l'orientation des élèves."
COMMENT = "C'est une publicité pour une salle de sport, voir contact@salle.example.fr"
PUBLISHED, UPDATED, JOINED = ("fr.vitawin.initiative.published.v1", "fr.vitawin.initiative.updated.v1",
                              "fr.vitawin.initiative.joined.v1")
HIDDEN, UNHIDDEN, REPORTED = ("fr.vitawin.initiative.hidden.v1", "fr.vitawin.initiative.unhidden.v1",
                              "fr.vitawin.initiative.reported.v1")
# Who calls: role, actor and account (each its own account, for the one-report-per-account rule).
CALLERS = {
    "anonymous": None,
    "publisher": ("professional", ORG),
    "other_professional": ("professional", OTHER_ORG),
    "referent": ("school_referent", SCHOOL),
    "pupil": ("pupil", "act-00000000000000000000000000000009"),
    "partner": ("partner", PARTNER),
    "manager": ("territory_manager", MANAGER),
}


@pytest.fixture(scope="module")
def keys():
    return identity.generate_keys()


@pytest.fixture(scope="module")
def places():
    return load_territory()


@pytest.fixture
def store():
    return make_uow()


@pytest.fixture
def http(store, places, keys):
    return make_app(store, places, keys[1]).test_client()


@pytest.fixture
def as_(keys):
    """as_(caller) → the Authorization header of that caller of CALLERS ({} for anonymous)."""
    tokens = Tokens(keys[0])

    def headers(caller: str) -> dict:
        if CALLERS[caller] is None:
            return {}
        role, actor_id = CALLERS[caller]
        return tokens.header(role, actor_id, subject=f"account-{caller}")
    return headers


@pytest.fixture
def initiative_id(http, as_):
    response = http.post(URL, json=initiative_body(), headers=as_("publisher"))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["initiative_id"]


def _post(http, as_, initiative_id, action, caller, body=None):
    return http.post(f"{URL}/{initiative_id}/{action}", json=body, headers=as_(caller))


def _hide(http, as_, initiative_id, reason=REASON):
    response = _post(http, as_, initiative_id, "hide", "manager", {"reason": reason})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _events(store, initiative_id):
    return [event for event, channel in store.published if event.subject == initiative_id and channel == "initiatives"]


def _listed(http, as_, caller, query="") -> set[str]:
    response = http.get(f"{URL}{query}", headers=as_(caller))
    assert response.status_code == 200, response.get_json()
    return {item["initiative_id"] for item in response.get_json()["items"]}


# --- who may hide and show again ------------------------------------------------------------------------

@pytest.mark.parametrize("caller, status", [
    ("anonymous", 401), ("publisher", 403), ("other_professional", 403), ("referent", 403), ("pupil", 403),
    ("partner", 403), ("manager", 200)])
def test_only_a_territory_manager_hides_an_initiative(http, as_, store, initiative_id, caller, status):
    response = _post(http, as_, initiative_id, "hide", caller, {"reason": REASON})
    assert response.status_code == status, response.get_json()
    stored = store.initiatives.docs[initiative_id]
    assert (stored["hidden"], stored["version"]) == ((True, 2) if status == 200 else (False, 1))
    if status == 200:
        body = response.get_json()
        assert (body["hidden"], body["hidden_reason"], body["hidden_by_role"], body["status"]) == \
            (True, REASON, "territory_manager", "open")
    if status == 403:
        assert response.get_json()["message"] == ("Seul un gestionnaire de territoire peut masquer une initiative "
                                                  "ou l'afficher de nouveau.")


@pytest.mark.parametrize("caller, status", [
    ("anonymous", 401), ("publisher", 403), ("other_professional", 404), ("referent", 404), ("pupil", 404),
    ("partner", 404), ("manager", 200)])
def test_only_a_territory_manager_shows_it_again_others_cannot_even_see_it(http, as_, store, initiative_id,
                                                                          caller, status):
    _hide(http, as_, initiative_id)
    response = _post(http, as_, initiative_id, "unhide", caller)
    assert response.status_code == status, response.get_json()
    assert store.initiatives.docs[initiative_id]["hidden"] is (status != 200)
    if status == 404:
        assert response.get_json()["message"] == "Initiative introuvable."


def test_the_domain_lets_only_territory_managers_moderate(places):
    initiative = Initiative.publish(PublishInitiative(kind="initiative", title="Forum", partner_kinds_sought=["school"],
                                                      town="94080", contact_email="c@example.fr"),
                                    Party("professional", ORG), places, TODAY, now=NOW)
    with pytest.raises(NotAllowed):
        initiative.hide(REASON, Moderator("school_referent", "account-referent"))
    hidden = initiative.hide(REASON, Moderator("territory_manager", "account-manager"), NOW)
    with pytest.raises(NotAllowed):
        hidden.unhide(Moderator("professional", "account-publisher"))


@pytest.mark.parametrize("body, field, message", [
    (None, "_schema", "Corps JSON invalide : un objet JSON est attendu."),
    ({}, "reason", "Champ obligatoire : indiquez la raison du masquage."),
    ({"reason": " x "}, "reason", "La raison doit compter entre 3 et 500 caractères."),
    ({"reason": "x" * 501}, "reason", "La raison doit compter entre 3 et 500 caractères."),
    ({"reason": REASON, "notify": True}, "notify", "Champ inconnu."),
])
def test_a_hide_without_a_valid_reason_is_refused_in_french(http, as_, store, initiative_id, body, field, message):
    response = _post(http, as_, initiative_id, "hide", "manager", body)
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"][field] == [message]
    assert store.initiatives.docs[initiative_id]["version"] == 1 and len(store.published) == 1


def test_hiding_twice_and_showing_a_visible_one_are_409_with_words_that_agree(http, as_, store, initiative_id):
    visible = _post(http, as_, initiative_id, "unhide", "manager")
    assert visible.status_code == 409 and visible.get_json()["message"] == "Cette initiative n'est pas masquée."
    _hide(http, as_, initiative_id)
    twice = _post(http, as_, initiative_id, "hide", "manager", {"reason": "Autre raison."})
    assert twice.status_code == 409 and twice.get_json()["message"] == "Cette initiative est déjà masquée."
    call = http.post(URL, json=call_body(), headers=as_("publisher")).get_json()["initiative_id"]
    _hide(http, as_, call)
    assert _post(http, as_, call, "hide", "manager", {"reason": REASON}).get_json()["message"] == \
        "Cet appel à projets est déjà masqué."
    assert [event.type for event in _events(store, initiative_id)] == [PUBLISHED, HIDDEN]


def test_unknown_initiative_is_404(http, as_):
    assert _post(http, as_, "ini-" + "0" * 32, "hide", "manager", {"reason": REASON}).status_code == 404
    assert _post(http, as_, "ini-" + "0" * 32, "report", "anonymous", {"category": "spam"}).status_code == 404


# --- what each caller sees once it is hidden ---------------------------------------------------------

@pytest.mark.parametrize("caller, sees", [
    ("anonymous", False), ("publisher", True), ("other_professional", False), ("referent", False),
    ("pupil", False), ("partner", False), ("manager", True)])
def test_a_hidden_initiative_is_read_and_listed_only_by_its_publisher_and_territory_managers(http, as_,
                                                                                            initiative_id,
                                                                                            caller, sees):
    other = http.post(URL, json=call_body(), headers=as_("publisher")).get_json()["initiative_id"]
    _hide(http, as_, initiative_id)
    response = http.get(f"{URL}/{initiative_id}", headers=as_(caller))
    assert response.status_code == (200 if sees else 404)
    if sees:
        body = response.get_json()
        assert (body["hidden"], body["hidden_reason"], body["hidden_by_role"]) == (True, REASON, "territory_manager")
        assert body["hidden_at"]
    listed = _listed(http, as_, caller)
    assert (initiative_id in listed) is sees and other in listed
    assert http.get(URL, headers=as_(caller)).get_json()["total"] == len(listed)


def test_a_hidden_initiative_leaves_the_map_for_everyone_and_comes_back(http, as_, initiative_id):
    def on_map(caller):
        return {f["id"] for f in http.get(f"{URL}/map.geojson", headers=as_(caller)).get_json()["features"]}
    assert on_map("anonymous") == {initiative_id}
    _hide(http, as_, initiative_id)
    assert on_map("anonymous") == on_map("manager") == on_map("publisher") == set()
    _post(http, as_, initiative_id, "unhide", "manager")
    assert on_map("anonymous") == {initiative_id}
    assert http.get(f"{URL}/{initiative_id}").get_json()["hidden"] is False


@pytest.mark.parametrize("caller, status", [("referent", 404), ("partner", 404), ("manager", 409)])
def test_a_hidden_initiative_accepts_no_participant(http, as_, store, initiative_id, caller, status):
    _hide(http, as_, initiative_id)
    response = http.post(f"{URL}/{initiative_id}/participants", json={}, headers=as_(caller))
    assert response.status_code == status
    if status == 409:
        assert response.get_json()["message"] == ("Cette initiative est masquée par la modération : elle n'accepte "
                                                  "pas de participants.")
    assert store.initiatives.docs[initiative_id]["participants"] == []


def test_a_hidden_initiative_is_still_edited_by_its_publisher_and_stays_hidden(http, as_, store, initiative_id):
    _hide(http, as_, initiative_id)
    edited = http.patch(f"{URL}/{initiative_id}", json={"title": "Semaine de l'artisanat (corrigée)"},
                        headers=as_("publisher"))
    assert edited.status_code == 200
    assert (edited.get_json()["hidden"], edited.get_json()["version"]) == (True, 3)
    assert [event.type for event in _events(store, initiative_id)] == [PUBLISHED, HIDDEN, UPDATED]


def test_a_hidden_call_for_projects_still_closes_at_its_deadline(http, as_, store):
    call = http.post(URL, json=call_body(), headers=as_("publisher")).get_json()["initiative_id"]  # deadline 15/12
    _hide(http, as_, call)
    assert handlers.close_due(store, datetime(2026, 12, 16, 9, tzinfo=timezone.utc)) == [call]
    stored = store.initiatives.docs[call]
    assert (stored["status"], stored["hidden"], stored["version"]) == ("closed", True, 3)


# --- reports --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("caller", sorted(CALLERS))
def test_anyone_may_report_a_visible_initiative(http, as_, store, initiative_id, caller):
    response = _post(http, as_, initiative_id, "report", caller, {"category": "spam", "comment": COMMENT})
    assert response.status_code == 201, response.get_json()
    assert (response.get_json()["category"], response.get_json()["comment"]) == ("spam", COMMENT)
    stored = store.initiatives.docs[initiative_id]
    assert (stored["report_count"], stored["version"]) == (1, 1)  # not a change of the initiative
    assert stored["reports"][0]["reporter"] == ("anonymous" if caller == "anonymous" else f"account-{caller}")


@pytest.mark.parametrize("caller, status", [
    ("anonymous", 404), ("publisher", 201), ("other_professional", 404), ("referent", 404), ("manager", 201)])
def test_a_hidden_initiative_is_reported_only_by_those_who_still_see_it(http, as_, initiative_id, caller, status):
    _hide(http, as_, initiative_id)
    assert _post(http, as_, initiative_id, "report", caller, {"category": "other"}).status_code == status


def test_one_report_per_account_anonymous_ones_are_not_deduplicated(http, as_, store, initiative_id):
    assert _post(http, as_, initiative_id, "report", "partner", {"category": "spam"}).status_code == 201
    again = _post(http, as_, initiative_id, "report", "partner", {"category": "inappropriate"})
    assert again.status_code == 409 and again.get_json()["message"] == "Vous avez déjà signalé cette initiative."
    for _ in range(2):
        assert _post(http, as_, initiative_id, "report", "anonymous", {"category": "spam"}).status_code == 201
    assert store.initiatives.docs[initiative_id]["report_count"] == 3


def test_the_handler_refuses_a_second_report_of_an_account(store, places):
    initiative = handlers.publish_initiative(
        PublishInitiative(kind="initiative", title="Forum", partner_kinds_sought=["school"], town="94080",
                          contact_email="c@example.fr"), Party("professional", ORG), store, places, TODAY, now=NOW)
    report = Report("spam", None, "account-x", "partner", NOW)
    assert handlers.report_initiative(initiative.initiative_id, report, store) == 1
    with pytest.raises(AlreadyReported):
        handlers.report_initiative(initiative.initiative_id, report, store)
    with pytest.raises(handlers.InitiativeNotFound):
        handlers.report_initiative("ini-" + "0" * 32, report, store)
    assert [event.type for event in _events(store, initiative.initiative_id)] == [PUBLISHED, REPORTED]


@pytest.mark.parametrize("body, field, message", [
    ({}, "category", "Champ obligatoire : choisissez une catégorie de signalement."),
    ({"category": "offensive"}, "category",
     "Catégorie inconnue ; valeurs possibles : inappropriate (contenu inapproprié), personal_data (données "
     "personnelles exposées), spam (spam ou publicité), other (autre motif)."),
    ({"category": "other", "comment": "x" * 501}, "comment", "Le commentaire doit compter au plus 500 caractères."),
])
def test_a_report_is_checked_in_french(http, as_, store, initiative_id, body, field, message):
    response = _post(http, as_, initiative_id, "report", "anonymous", body)
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"][field] == [message]
    assert store.initiatives.docs[initiative_id]["report_count"] == 0


@pytest.mark.parametrize("caller, sees_reports", [
    ("anonymous", False), ("publisher", False), ("referent", False), ("manager", True)])
def test_the_reports_are_shown_to_territory_managers_only(http, as_, initiative_id, caller, sees_reports):
    _post(http, as_, initiative_id, "report", "referent", {"category": "personal_data", "comment": COMMENT})
    body = http.get(f"{URL}/{initiative_id}", headers=as_(caller)).get_json()
    assert ("reports" in body) is sees_reports and (COMMENT in json.dumps(body, ensure_ascii=False)) is sees_reports
    if sees_reports:
        assert body["report_count"] == 1
        assert {k: v for k, v in body["reports"][0].items() if k != "at"} == {
            "category": "personal_data", "comment": COMMENT, "reporter_role": "school_referent", "anonymous": False}
        assert "account-referent" not in json.dumps(body)


@pytest.mark.parametrize("caller, status", [("anonymous", 401), ("publisher", 403), ("referent", 403),
                                            ("manager", 200)])
def test_the_reported_filter_is_for_territory_managers(http, as_, caller, status):
    response = http.get(f"{URL}?reported=true", headers=as_(caller))
    assert response.status_code == status
    if status == 403:
        assert response.get_json()["message"] == "Le filtre reported est réservé aux gestionnaires de territoire."


def test_reported_lists_the_reported_initiatives_hidden_ones_included(http, as_, initiative_id):
    quiet = http.post(URL, json=call_body(), headers=as_("publisher")).get_json()["initiative_id"]
    hidden = http.post(URL, json=initiative_body(title="Soirée privée"), headers=as_("publisher")).get_json()
    _post(http, as_, initiative_id, "report", "anonymous", {"category": "spam"})
    _post(http, as_, hidden["initiative_id"], "report", "anonymous", {"category": "spam"})
    _hide(http, as_, hidden["initiative_id"])
    assert _listed(http, as_, "manager", "?reported=true") == {initiative_id, hidden["initiative_id"]}
    assert quiet in _listed(http, as_, "manager", "?reported=false")
    items = http.get(f"{URL}?reported=true", headers=as_("manager")).get_json()["items"]
    assert all(item["report_count"] == 1 and item["reports"] for item in items)


# --- events ---------------------------------------------------------------------------------------------

def test_moderation_events_come_in_order_with_their_versions_and_contracts(http, as_, store, initiative_id):
    _post(http, as_, initiative_id, "report", "anonymous", {"category": "spam", "comment": COMMENT})
    _hide(http, as_, initiative_id)
    http.patch(f"{URL}/{initiative_id}", json={"title": "Semaine de l'artisanat"}, headers=as_("publisher"))
    _post(http, as_, initiative_id, "report", "publisher", {"category": "other", "comment": COMMENT})
    assert _post(http, as_, initiative_id, "unhide", "manager").status_code == 200
    assert http.post(f"{URL}/{initiative_id}/participants", json={}, headers=as_("referent")).status_code == 201
    events = _events(store, initiative_id)
    for event in events:
        validate_event(event)
    assert [(event.type, event.data.get("version")) for event in events] == [
        (PUBLISHED, 1), (REPORTED, None), (HIDDEN, 2), (UPDATED, 3), (REPORTED, None), (UNHIDDEN, 4), (JOINED, 5)]
    reported, hidden, unhidden = events[1], events[2], events[5]
    assert reported.data == {"initiative_id": initiative_id, "category": "spam", "report_count": 1,
                             "at": reported.data["at"]}
    assert hidden.data == {"initiative_id": initiative_id, "kind": "initiative", "status": "open",
                           "hidden_by_role": "territory_manager", "reason": REASON, "at": hidden.data["at"],
                           "version": 2}
    assert unhidden.data == {"initiative_id": initiative_id, "kind": "initiative", "status": "open",
                             "unhidden_by_role": "territory_manager", "at": unhidden.data["at"], "version": 4}
    text = json.dumps([event.data for event in events], ensure_ascii=False)
    for secret in (COMMENT, "account-", "anonymous", "comment", "reporter", "@"):
        assert secret not in text, secret


def test_the_moderator_s_account_is_kept_for_the_audit_never_shown(http, as_, store, initiative_id):
    _hide(http, as_, initiative_id)
    stored = store.initiatives.docs[initiative_id]
    assert (stored["hidden_by_subject"], stored["moderation_log"][0]["by_subject"]) == (
        "account-manager", "account-manager")
    body = http.get(f"{URL}/{initiative_id}", headers=as_("manager")).get_json()
    assert "account-manager" not in json.dumps(body) and "moderation_log" not in body


def test_the_openapi_document_describes_moderation(http):
    spec = http.get("/openapi.json").get_json()
    paths = spec["paths"]
    assert {f"/api/v1/initiatives/{{initiative_id}}/{action}" for action in ("hide", "unhide", "report")} <= set(paths)
    assert paths["/api/v1/initiatives/{initiative_id}/hide"]["post"]["summary"] == (
        "Masquer une initiative ou un appel à projets (modération)")
    assert "passerelle" in paths["/api/v1/initiatives/{initiative_id}/report"]["post"]["description"]
    assert {"hidden", "hidden_reason", "reports"} <= set(spec["components"]["schemas"]["Initiative"]["properties"])
