"""POST /api/v1/auth/token (magic_link, refresh_token) and /sign-out: single-use links that
expire, refresh-token rotation with reuse detection, the choice of membership, the access token's
claims, RFC 6749 errors with French messages."""
from __future__ import annotations

import pytest

from vitawin_common.identity import Caller, TokenVerifier

TOKEN = "/api/v1/auth/token"
SIGN_IN = "/api/v1/auth/sign-in"
SIGN_OUT = "/api/v1/auth/sign-out"
EMAIL = "referent@college.example.fr"
LINK_INVALID = "Lien de connexion invalide ou expiré : demandez-en un nouveau."
REFRESH_INVALID = "Session expirée ou révoquée : reconnectez-vous en demandant un nouveau lien de connexion."


@pytest.fixture
def link(register, client, mailer, helpers):
    """A fresh sign-in link's token for EMAIL (a school referent, then a professional)."""
    register("school", 1, EMAIL)
    register("company", 2, EMAIL)

    def new() -> str:
        client.post(SIGN_IN, json={"email": EMAIL})
        return helpers.token(mailer.sent[-1])
    return new


def exchange(client, token, **extra):
    return client.post(TOKEN, json={"grant_type": "magic_link", "token": token, **extra})


def refresh(client, token, **extra):
    return client.post(TOKEN, json={"grant_type": "refresh_token", "refresh_token": token, **extra})


def assert_refused(response, error, message):
    assert response.status_code == 400
    assert response.json["code"] == 400
    assert response.json["error"] == error
    assert response.json["message"] == message
    assert "correlation_id" in response.json
    assert response.headers["Cache-Control"] == "no-store"


# --- magic_link ------------------------------------------------------------------------------------
def test_a_link_gives_an_access_token_for_the_oldest_membership_and_the_list_of_them(link, client, helpers, keys, db):
    response = exchange(client, link())

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert (body["role"], body["actor_id"], body["school_uai"]) == ("school_referent", helpers.actor_id(1), "0940002X")
    assert body["memberships"] == [
        {"role": "school_referent", "actor_id": helpers.actor_id(1), "school_uai": "0940002X",
         "display_name": "Collège Saint-Exupéry"},
        {"role": "professional", "actor_id": helpers.actor_id(2), "school_uai": None,
         "display_name": "Boulangerie des Vignerons"}]
    account_id = next(iter(db["accounts"].docs))
    assert TokenVerifier(keys[1]).verify(body["access_token"]) == Caller(
        subject=account_id, role="school_referent", actor_id=helpers.actor_id(1), school_uai="0940002X")
    assert body["refresh_token"] and body["refresh_token"] not in repr(db["refresh_tokens"].docs)


def test_actor_id_chooses_the_membership_of_the_access_token(link, client, helpers, keys):
    response = exchange(client, link(), actor_id=helpers.actor_id(2))

    assert response.status_code == 200
    caller = TokenVerifier(keys[1]).verify(response.json["access_token"])
    assert (caller.role, caller.actor_id, caller.school_uai) == ("professional", helpers.actor_id(2), None)


def test_a_foreign_actor_id_is_refused_and_does_not_use_the_link(link, client, helpers):
    token = link()

    refused = exchange(client, token, actor_id=helpers.actor_id(99))

    assert_refused(refused, "invalid_request",
                   "Ce compte ne peut pas agir pour cet acteur : choisissez l'un de ses rattachements (memberships).")
    assert exchange(client, token).status_code == 200


def test_a_link_works_once(link, client):
    token = link()

    assert exchange(client, token).status_code == 200
    assert_refused(exchange(client, token), "invalid_grant", LINK_INVALID)


def test_a_link_expires_after_15_minutes(link, client, clock):
    early, late = link(), link()

    clock.move(minutes=14, seconds=59)
    assert exchange(client, early).status_code == 200
    clock.move(seconds=1)
    assert_refused(exchange(client, late), "invalid_grant", LINK_INVALID)


def test_a_wrong_token_is_refused(link, client):
    link()

    assert_refused(exchange(client, "x" * 43), "invalid_grant", LINK_INVALID)


def test_a_link_of_a_deleted_account_is_refused(link, client, memberships, helpers):
    token = link()
    memberships.on_actor_erased(helpers.erased(1, "school"))
    memberships.on_actor_erased(helpers.erased(2))

    assert_refused(exchange(client, token), "invalid_grant", LINK_INVALID)


# --- refresh_token ---------------------------------------------------------------------------------
def test_refresh_rotates_the_token_and_keeps_the_sessions_membership(link, client, helpers, keys):
    first = exchange(client, link(), actor_id=helpers.actor_id(2)).json

    second = refresh(client, first["refresh_token"])

    assert second.status_code == 200
    assert second.json["refresh_token"] != first["refresh_token"]
    assert second.json["actor_id"] == helpers.actor_id(2)
    assert TokenVerifier(keys[1]).verify(second.json["access_token"]).actor_id == helpers.actor_id(2)
    assert refresh(client, second.json["refresh_token"]).status_code == 200


def test_refresh_may_switch_to_another_membership_but_not_a_foreign_one(link, client, helpers):
    first = exchange(client, link()).json

    assert_refused(refresh(client, first["refresh_token"], actor_id=helpers.actor_id(99)), "invalid_request",
                   "Ce compte ne peut pas agir pour cet acteur : choisissez l'un de ses rattachements (memberships).")
    switched = refresh(client, first["refresh_token"], actor_id=helpers.actor_id(2))
    assert switched.status_code == 200 and switched.json["role"] == "professional"


def test_a_rotated_token_presented_again_revokes_the_whole_family(link, client, caplog, db):
    first = exchange(client, link()).json
    second = refresh(client, first["refresh_token"]).json
    other_session = exchange(client, link()).json

    reused = refresh(client, first["refresh_token"])

    assert_refused(reused, "invalid_grant", REFRESH_INVALID)
    assert_refused(refresh(client, second["refresh_token"]), "invalid_grant", REFRESH_INVALID)
    assert refresh(client, other_session["refresh_token"]).status_code == 200
    assert any(r.getMessage() == "refresh token refused: family revoked" for r in caplog.records)


def test_a_refresh_token_expires_after_30_days_unused(link, client, clock):
    first = exchange(client, link()).json

    clock.move(days=29)
    second = refresh(client, first["refresh_token"]).json
    clock.move(days=30)

    assert_refused(refresh(client, second["refresh_token"]), "invalid_grant", REFRESH_INVALID)


def test_an_unknown_refresh_token_is_refused(client):
    assert_refused(refresh(client, "inconnu"), "invalid_grant", REFRESH_INVALID)


# --- sign-out --------------------------------------------------------------------------------------
def test_sign_out_revokes_the_session_and_its_successors(link, client):
    first = exchange(client, link()).json
    second = refresh(client, first["refresh_token"]).json

    response = client.post(SIGN_OUT, json={"refresh_token": first["refresh_token"]})

    assert response.status_code == 204
    assert_refused(refresh(client, second["refresh_token"]), "invalid_grant", REFRESH_INVALID)


def test_sign_out_with_an_unknown_token_answers_204(client):
    assert client.post(SIGN_OUT, json={"refresh_token": "inconnu"}).status_code == 204


# --- malformed requests ----------------------------------------------------------------------------
@pytest.mark.parametrize("body, error, message", [
    ({"grant_type": "password", "username": "x"}, None, None),
    ({"grant_type": "password"}, "unsupported_grant_type",
     "Type d'autorisation non pris en charge : magic_link, refresh_token ou client_credentials (grant_type)."),
    ({"grant_type": "magic_link"}, "invalid_request", "Indiquez le jeton du lien de connexion reçu par e-mail (token)."),
    ({"grant_type": "refresh_token"}, "invalid_request", "Indiquez le jeton de rafraîchissement (refresh_token)."),
    ({"grant_type": "client_credentials", "client_id": "key-1"}, "invalid_request",
     "Indiquez l'identifiant et le secret de la clé d'API (client_id et client_secret)."),
])
def test_requests_without_what_their_grant_needs_are_refused_with_rfc_6749_errors(client, body, error, message):
    response = client.post(TOKEN, json=body)

    if error is None:  # an unknown field: a malformed body
        assert response.status_code == 422
        assert response.json["errors"]["json"]["username"] == ["Champ inconnu."]
    else:
        assert_refused(response, error, message)


def test_a_malformed_body_is_refused_with_422_in_french(client):
    response = client.post(TOKEN, json={"grant_type": "magic_link", "token": 12, "actor_id": "moi"})

    assert response.status_code == 422
    assert response.json["errors"]["json"] == {
        "token": ["Texte attendu."],
        "actor_id": ["Identifiant d'acteur invalide : « act- » suivi de 32 caractères hexadécimaux."]}
    assert response.headers["Cache-Control"] == "no-store"
    assert client.post(TOKEN, json={}).json["errors"]["json"] == {
        "grant_type": ["Indiquez le type d'autorisation (grant_type)."]}
