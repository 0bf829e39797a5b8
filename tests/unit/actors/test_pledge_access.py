"""Who may register a pledge (POST) and change one (PATCH, DELETE, pause, resume).

Registering: a professional whose token names its organisation, for that organisation only (the
token's actor_id, taken from the token when the body names none), and territory managers (any
organisation, or none). Changing: the professional of its organisation (a token whose actor_id is
the pledge's) and territory managers; moving a pledge to another organisation, or unlinking it, is
for territory managers only. Anonymous callers get a 401, anyone else a 403 in French, an unknown
pledge a 404 whoever signed in asks. Every refused call changes nothing: the stored pledges and the
outbox stay as they were, and the body of a refused POST or PATCH is not even validated."""
from __future__ import annotations

import copy
from datetime import date

import pytest

from vitawin_common import identity
from vitawin_common.identity import TokenIssuer

from vitawin_actors import handlers
from vitawin_actors.api import create_app

ORG = "act-" + "c1" * 16  # the pledge's organisation
OTHER = "act-" + "d2" * 16  # another organisation of the directory
SCHOOL_UAI = "0941030J"
CALLERS = {  # name: (role, claims); None: no token
    "anonymous": None,
    "owning professional": ("professional", {"actor_id": ORG}),
    "professional of another organisation": ("professional", {"actor_id": OTHER}),
    "professional without actor_id": ("professional", {}),
    "pupil": ("pupil", {"actor_id": "act-" + "e3" * 16, "school_uai": SCHOOL_UAI}),
    "school_referent": ("school_referent", {"actor_id": "act-" + "f4" * 16, "school_uai": SCHOOL_UAI}),
    "partner": ("partner", {}),
    "territory_manager": ("territory_manager", {}),
}
ALLOWED = ("owning professional", "territory_manager")
OPERATIONS = {  # name: (method, path after the pledge's, request kwargs, status when done, French verb)
    "edit": ("patch", "", {"json": {"max_distance_km": 12}}, 200, "modifier"),
    "withdraw": ("delete", "", {}, 204, "retirer"),
    "pause": ("post", "/pause", {}, 200, "mettre en pause"),
    "resume": ("post", "/resume", {}, 200, "reprendre"),
}
NOT_YOURS = "Seul le professionnel de cet engagement, ou un gestionnaire de territoire, peut le {verb}."
INCOMPLETE = ("Jeton d'accès incomplet : il ne nomme pas l'organisation du professionnel ; seul le "
              "professionnel de cet engagement, ou un gestionnaire de territoire, peut le {verb}.")
UNLINKED = ("Cet engagement n'est lié à aucune organisation de l'annuaire : seul un gestionnaire de territoire "
            "peut le {verb}.")
RELINK = ("Seul un gestionnaire de territoire peut rattacher un engagement à une autre organisation, ou l'en "
          "détacher (actor_id).")


@pytest.fixture
def client(uow, territory, verified):
    for actor_id, name in ((ORG, "Boulangerie des Vignerons"), (OTHER, "Imprimerie Dalayrac")):
        uow.actors.docs[actor_id] = {"actor_id": actor_id, "kind": "company", "name": name, "town": "94080"}
    return verified(create_app(uow_factory=lambda: uow, territory=territory,
                               today=lambda: date(2026, 11, 27))).test_client()


@pytest.fixture
def headers_of(bearer):
    """The headers of a caller of CALLERS (none for anonymous)."""
    def headers(caller: str) -> dict:
        if CALLERS[caller] is None:
            return {}
        role, claims = CALLERS[caller]
        return bearer(role, **claims)
    return headers


@pytest.fixture
def pledge_of(client, uow, payload, manager):
    """pledge_of(actor_id, paused=False): a new pledge of that organisation (None: of none),
    registered by a territory manager, and paused if asked."""
    def make(actor_id: str | None, paused: bool = False) -> str:
        body = copy.deepcopy(payload) | ({"actor_id": actor_id} if actor_id else {})
        response = client.post("/api/v1/volunteers", json=body, headers=manager)
        assert response.status_code == 201, response.get_json()
        volunteer_id = response.get_json()["volunteer_id"]
        if paused:
            handlers.pause_volunteer(volunteer_id, uow)
        return volunteer_id
    return make


def url(volunteer_id: str, action: str = "") -> str:
    return f"/api/v1/volunteers/{volunteer_id}{action}"


def call(client, operation: str, volunteer_id: str, headers: dict, **overrides):
    method, action, kwargs, _, _ = OPERATIONS[operation]
    return getattr(client, method)(url(volunteer_id, action), headers=headers, **{**kwargs, **overrides})


def state(uow, volunteer_id: str) -> tuple:
    """What a refused call must leave as it was: the stored pledge and the outbox."""
    return copy.deepcopy(uow.volunteers.docs.get(volunteer_id)), list(uow.published)


def assert_refused(response, uow, volunteer_id, before, status: int, message: str) -> None:
    assert response.status_code == status, response.get_json()
    assert response.get_json()["message"] == message
    assert state(uow, volunteer_id) == before, "a refused call changed the pledge or the outbox"


# --- the matrix ------------------------------------------------------------------------------------

@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("caller", list(CALLERS))
def test_who_may_change_a_pledge(client, uow, headers_of, pledge_of, caller, operation):
    volunteer_id = pledge_of(ORG, paused=operation == "resume")
    before = state(uow, volunteer_id)
    response = call(client, operation, volunteer_id, headers_of(caller))
    _, _, _, done, verb = OPERATIONS[operation]
    if caller in ALLOWED:
        assert response.status_code == done, response.get_json()
        stored = uow.volunteers.docs[volunteer_id]
        assert stored["version"] == before[0]["version"] + 1
        assert len(uow.published) == len(before[1]) + 1
        assert stored["status"] == {"edit": "active", "withdraw": "withdrawn", "pause": "paused",
                                    "resume": "active"}[operation]
    elif caller == "anonymous":
        assert_refused(response, uow, volunteer_id, before, 401, "Connexion requise.")
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="vitawin"'
    else:
        message = INCOMPLETE if caller == "professional without actor_id" else NOT_YOURS
        assert_refused(response, uow, volunteer_id, before, 403, message.format(verb=verb))


@pytest.mark.parametrize("role", ["pupil", "school_referent", "partner"])
def test_a_token_naming_the_organisation_with_another_role_is_refused(client, uow, bearer, pledge_of, role):
    volunteer_id = pledge_of(ORG)
    before = state(uow, volunteer_id)
    for operation in ("edit", "pause", "withdraw"):
        response = call(client, operation, volunteer_id, bearer(role, actor_id=ORG, school_uai=SCHOOL_UAI))
        assert_refused(response, uow, volunteer_id, before, 403, NOT_YOURS.format(verb=OPERATIONS[operation][4]))


def test_a_token_that_does_not_verify_gets_401_and_changes_nothing(client, uow, pledge_of):
    volunteer_id = pledge_of(ORG)
    before = state(uow, volunteer_id)
    forged = TokenIssuer(identity.generate_keys()[0]).issue("acc-x", "territory_manager")  # another key
    for operation in OPERATIONS:
        response = call(client, operation, volunteer_id, {"Authorization": f"Bearer {forged}"})
        assert_refused(response, uow, volunteer_id, before, 401, "Jeton d'accès invalide.")
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


# --- 401, 404, 403: in this order ------------------------------------------------------------------

@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_anonymous_callers_get_401_even_for_an_unknown_pledge(client, uow, operation):
    response = call(client, operation, "vol-inconnu", {})
    assert response.status_code == 401 and response.get_json()["message"] == "Connexion requise."
    assert uow.published == []


@pytest.mark.parametrize("caller", [name for name in CALLERS if name != "anonymous"])
def test_an_unknown_pledge_is_404_whoever_signed_in_asks(client, uow, headers_of, caller):
    for operation in OPERATIONS:
        response = call(client, operation, "vol-inconnu", headers_of(caller))
        assert response.status_code == 404, (operation, response.get_json())
        assert response.get_json()["message"] == "Engagement introuvable."
    assert uow.published == []


def test_the_body_of_a_refused_patch_is_not_validated(client, uow, headers_of, pledge_of):
    volunteer_id = pledge_of(ORG)
    before = state(uow, volunteer_id)
    stranger = headers_of("professional of another organisation")
    for body in ({"contact_email": "nope", "town": "75056"}, {}, {"actor_id": "act-inconnu"}):
        response = call(client, "edit", volunteer_id, stranger, json=body)
        assert_refused(response, uow, volunteer_id, before, 403, NOT_YOURS.format(verb="modifier"))
    response = call(client, "edit", volunteer_id, stranger, json=None, data="pas du JSON",
                    content_type="application/json")
    assert_refused(response, uow, volunteer_id, before, 403, NOT_YOURS.format(verb="modifier"))


def test_a_withdrawn_pledge_is_403_to_others_and_409_to_its_professional_before_the_body(client, uow, headers_of,
                                                                                         pledge_of):
    volunteer_id = pledge_of(ORG)
    assert call(client, "withdraw", volunteer_id, headers_of("territory_manager")).status_code == 204
    before = state(uow, volunteer_id)
    refused = call(client, "edit", volunteer_id, headers_of("partner"))
    assert_refused(refused, uow, volunteer_id, before, 403, NOT_YOURS.format(verb="modifier"))
    conflict = call(client, "edit", volunteer_id, headers_of("owning professional"), json={"town": "75056"})
    assert_refused(conflict, uow, volunteer_id, before, 409, "L'engagement a été retiré : il ne peut plus être "
                                                             "modifié.")


# --- actor_id: territory managers only -------------------------------------------------------------

@pytest.mark.parametrize("changes", [{"actor_id": OTHER}, {"actor_id": None}, {"actor_id": OTHER, "max_distance_km": 3},
                                     {"actor_id": "act-inconnu"}, {"actor_id": 42}],
                         ids=["move", "unlink", "move-and-edit", "unknown-actor", "not-a-string"])
def test_the_professional_cannot_move_or_unlink_the_pledge(client, uow, headers_of, pledge_of, changes):
    volunteer_id = pledge_of(ORG)
    before = state(uow, volunteer_id)
    response = call(client, "edit", volunteer_id, headers_of("owning professional"), json=changes)
    assert_refused(response, uow, volunteer_id, before, 403, RELINK)


def test_the_professional_may_send_the_pledges_own_actor_id_again(client, uow, headers_of, pledge_of):
    volunteer_id = pledge_of(ORG)
    response = call(client, "edit", volunteer_id, headers_of("owning professional"),
                    json={"actor_id": ORG, "max_distance_km": 3})
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["actor_id"], response.get_json()["max_distance_km"]) == (ORG, 3.0)


@pytest.mark.parametrize("changes, expected", [({"actor_id": OTHER}, OTHER), ({"actor_id": None}, None)])
def test_a_territory_manager_moves_or_unlinks_the_pledge(client, uow, headers_of, pledge_of, changes, expected):
    volunteer_id = pledge_of(ORG)
    response = call(client, "edit", volunteer_id, headers_of("territory_manager"), json=changes)
    assert response.status_code == 200, response.get_json()
    assert response.get_json().get("actor_id") == expected
    assert uow.volunteers.docs[volunteer_id].get("actor_id") == expected


def test_once_moved_the_pledge_belongs_to_the_professional_of_its_new_organisation(client, uow, headers_of,
                                                                                   pledge_of):
    volunteer_id = pledge_of(ORG)
    call(client, "edit", volunteer_id, headers_of("territory_manager"), json={"actor_id": OTHER})
    before = state(uow, volunteer_id)
    refused = call(client, "pause", volunteer_id, headers_of("owning professional"))
    assert_refused(refused, uow, volunteer_id, before, 403, NOT_YOURS.format(verb="mettre en pause"))
    assert call(client, "pause", volunteer_id, headers_of("professional of another organisation")).status_code == 200


# --- a pledge of no organisation -------------------------------------------------------------------

@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_a_pledge_of_no_organisation_is_changed_by_territory_managers_only(client, uow, headers_of, pledge_of,
                                                                           operation):
    volunteer_id = pledge_of(None, paused=operation == "resume")
    before = state(uow, volunteer_id)
    verb = OPERATIONS[operation][4]
    for caller, message in (("owning professional", UNLINKED), ("professional without actor_id", INCOMPLETE),
                            ("school_referent", NOT_YOURS)):
        response = call(client, operation, volunteer_id, headers_of(caller))
        assert_refused(response, uow, volunteer_id, before, 403, message.format(verb=verb))
    done = OPERATIONS[operation][3]
    assert call(client, operation, volunteer_id, headers_of("territory_manager")).status_code == done


# --- the check holds until the write ---------------------------------------------------------------

def test_a_pledge_moved_between_the_check_and_the_change_is_not_changed(client, uow, headers_of, pledge_of):
    """The owner is checked on version 1; a territory manager moves the pledge (version 2) before
    the owner's pause is written: the pause is refused (409) and writes nothing."""
    volunteer_id = pledge_of(ORG)
    real_get, reads = uow.volunteers.get, []

    def read_then_moved(vid):
        found = real_get(vid)
        reads.append(vid)
        if len(reads) == 1:  # the check's read; then the move is committed
            uow.volunteers.docs[vid].update(actor_id=OTHER, version=2)
        return found

    uow.volunteers.get = read_then_moved
    published = list(uow.published)
    response = call(client, "pause", volunteer_id, headers_of("owning professional"))
    assert response.status_code == 409, response.get_json()
    assert "modifié entre-temps" in response.get_json()["message"]
    stored = uow.volunteers.docs[volunteer_id]
    assert (stored["actor_id"], stored["version"], stored.get("status", "active")) == (OTHER, 2, "active")
    assert uow.published == published


# --- registration ----------------------------------------------------------------------------------

REGISTER_ROLE = ("Seul un professionnel, pour sa propre organisation, ou un gestionnaire de territoire peut "
                 "enregistrer un engagement.")
REGISTER_INCOMPLETE = ("Jeton d'accès incomplet : il ne nomme pas l'organisation du professionnel ; un "
                       "professionnel n'enregistre un engagement que pour sa propre organisation.")
REGISTER_NOT_OWN = ("Un professionnel n'enregistre un engagement que pour sa propre organisation : actor_id doit "
                    "être celui de son jeton d'accès, ou être omis.")
REGISTER_REFUSALS = {  # caller of CALLERS: (status, message) of a POST naming ORG
    "anonymous": (401, "Connexion requise."),
    "professional of another organisation": (403, REGISTER_NOT_OWN),
    "professional without actor_id": (403, REGISTER_INCOMPLETE),
    "pupil": (403, REGISTER_ROLE),
    "school_referent": (403, REGISTER_ROLE),
    "partner": (403, REGISTER_ROLE),
}


def register(client, headers: dict, body):
    return client.post("/api/v1/volunteers", json=body, headers=headers)


def stored(uow) -> tuple:
    """What a refused registration must leave as it was: every stored pledge and the outbox."""
    return copy.deepcopy(uow.volunteers.docs), list(uow.published)


def assert_not_registered(response, uow, before, status: int, message: str) -> None:
    assert response.status_code == status, response.get_json()
    assert response.get_json()["message"] == message
    assert stored(uow) == before, "a refused registration stored or published something"


@pytest.mark.parametrize("caller", list(CALLERS))
def test_who_may_register_a_pledge_of_an_organisation(client, uow, headers_of, payload, caller):
    before = stored(uow)
    response = register(client, headers_of(caller), {**payload, "actor_id": ORG})
    if caller in ALLOWED:
        assert response.status_code == 201, response.get_json()
        volunteer_id = response.get_json()["volunteer_id"]
        assert response.get_json()["actor_id"] == uow.volunteers.docs[volunteer_id]["actor_id"] == ORG
        [(event, _)] = uow.published
        assert (event.subject, event.data["actor_id"]) == (volunteer_id, ORG)
    else:
        assert_not_registered(response, uow, before, *REGISTER_REFUSALS[caller])
        if caller == "anonymous":
            assert response.headers["WWW-Authenticate"] == 'Bearer realm="vitawin"'


def test_a_professional_naming_no_organisation_pledges_for_the_one_of_its_token(client, uow, headers_of, payload):
    response = register(client, headers_of("owning professional"), payload)
    assert response.status_code == 201, response.get_json()
    volunteer_id = response.get_json()["volunteer_id"]
    assert response.get_json()["actor_id"] == uow.volunteers.docs[volunteer_id]["actor_id"] == ORG
    [(event, _)] = uow.published
    assert event.data["actor_id"] == ORG


@pytest.mark.parametrize("actor_id", [OTHER, None, "act-inconnu", 42], ids=["other", "null", "unknown", "number"])
def test_a_professional_cannot_pledge_for_another_organisation_nor_for_none(client, uow, headers_of, payload,
                                                                            actor_id):
    before = stored(uow)
    response = register(client, headers_of("owning professional"), {**payload, "actor_id": actor_id})
    assert_not_registered(response, uow, before, 403, REGISTER_NOT_OWN)


@pytest.mark.parametrize("actor_id, expected", [(OTHER, OTHER), (None, None)], ids=["any-organisation", "none"])
def test_a_territory_manager_registers_a_pledge_of_any_organisation_or_of_none(client, uow, headers_of, payload,
                                                                               actor_id, expected):
    body = payload | ({"actor_id": actor_id} if actor_id else {})
    response = register(client, headers_of("territory_manager"), body)
    assert response.status_code == 201, response.get_json()
    assert uow.volunteers.docs[response.get_json()["volunteer_id"]].get("actor_id") == expected


@pytest.mark.parametrize("role", ["pupil", "school_referent", "partner"])
def test_a_token_naming_the_organisation_with_another_role_cannot_register(client, uow, bearer, payload, role):
    before = stored(uow)
    headers = bearer(role, actor_id=ORG, school_uai=SCHOOL_UAI)
    for body in ({**payload, "actor_id": ORG}, payload):
        assert_not_registered(register(client, headers, body), uow, before, 403, REGISTER_ROLE)


def test_the_body_of_a_refused_registration_is_not_validated(client, uow, headers_of, payload):
    before = stored(uow)
    bad = {**payload, "contact_email": "nope", "town": "75056", "actor_id": ORG}
    for caller, refusal in REGISTER_REFUSALS.items():
        assert_not_registered(register(client, headers_of(caller), bad), uow, before, *refusal)
        if caller == "professional of another organisation":
            continue  # a body naming no organisation is its to send: then the body decides (422)
        for body in ({}, ["pas", "un", "objet"]):
            assert_not_registered(register(client, headers_of(caller), body), uow, before, *refusal)
        response = client.post("/api/v1/volunteers", data="pas du JSON", content_type="application/json",
                               headers=headers_of(caller))
        assert_not_registered(response, uow, before, *refusal)


def test_a_token_that_does_not_verify_cannot_register(client, uow, payload):
    before = stored(uow)
    forged = TokenIssuer(identity.generate_keys()[0]).issue("acc-x", "territory_manager")  # another key
    response = register(client, {"Authorization": f"Bearer {forged}"}, payload)
    assert_not_registered(response, uow, before, 401, "Jeton d'accès invalide.")


def test_the_organisation_taken_from_the_token_is_checked_in_the_directory(client, uow, bearer, payload):
    before = stored(uow)
    response = register(client, bearer("professional", actor_id="act-" + "99" * 16), payload)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["errors"]["json"]["actor_id"] == [
        "Organisation du jeton d'accès : Acteur inconnu de l'annuaire : inscrivez d'abord l'organisation "
        "(/api/v1/actors)."]
    assert stored(uow) == before


def test_an_allowed_caller_still_gets_the_422_of_a_bad_body(client, uow, headers_of, payload):
    before = stored(uow)
    response = register(client, headers_of("owning professional"), {**payload, "contact_email": "nope"})
    assert response.status_code == 422, response.get_json()
    assert set(response.get_json()["errors"]["json"]) == {"contact_email"}
    assert stored(uow) == before


# --- the documentation -----------------------------------------------------------------------------

def test_the_openapi_document_gives_the_401_and_403_of_each_change_and_of_registration(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    one = "/api/v1/volunteers/{volunteer_id}"
    changes = [paths[one]["patch"], paths[one]["delete"], paths[f"{one}/pause"]["post"], paths[f"{one}/resume"]["post"]]
    for operation in changes:
        assert {"401", "403", "404", "409"} <= set(operation["responses"]), operation["summary"]
        assert "gestionnaire de territoire" in operation["description"]
    assert "actor_id" in changes[0]["responses"]["403"]["description"]
    assert "requestBody" in changes[0]  # the body is still documented (VolunteerPatch)
    registration = paths["/api/v1/volunteers"]["post"]
    assert {"201", "401", "403", "422"} <= set(registration["responses"])
    assert "gestionnaire de territoire" in registration["responses"]["403"]["description"]
    assert "propre organisation" in registration["description"]
    assert "requestBody" in registration  # the body is still documented (Volunteer)
    for reading in (paths["/api/v1/volunteers"]["get"], paths[one]["get"]):
        assert not {"401", "403"} & set(reading["responses"])
