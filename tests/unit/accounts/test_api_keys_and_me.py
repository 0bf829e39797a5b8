"""API keys (territory managers only; client_credentials), GET /me, and what never reaches the logs."""
from __future__ import annotations

import json
import logging

import pytest

from vitawin_common.identity import TokenIssuer, TokenVerifier, generate_keys

from vitawin_accounts.domain import GrantError

KEYS = "/api/v1/auth/api-keys"
TOKEN = "/api/v1/auth/token"
ME = "/api/v1/auth/me"
PARTNER = "act-" + "7" * 32


def bearer(keys, role, subject="acc-" + "0" * 32, **claims):
    return {"Authorization": f"Bearer {TokenIssuer(keys[0]).issue(subject, role, **claims)}"}


@pytest.fixture
def manager(keys):
    return bearer(keys, "territory_manager")


@pytest.fixture
def api_key(client, manager):
    response = client.post(KEYS, json={"name": "Appli mobile du partenaire", "role": "partner", "actor_id": PARTNER},
                           headers=manager)
    assert response.status_code == 201
    return response.json


def credentials(client, key, secret=None):
    return client.post(TOKEN, json={"grant_type": "client_credentials", "client_id": key["client_id"],
                                    "client_secret": secret or key["client_secret"]})


# --- who may manage keys ---------------------------------------------------------------------------
@pytest.mark.parametrize("method, path", [("post", KEYS), ("get", KEYS), ("delete", KEYS + "/key-1")])
def test_api_keys_need_a_signed_in_caller(client, method, path):
    response = getattr(client, method)(path, json={"name": "x"} if method == "post" else None)

    assert response.status_code == 401
    assert response.json["message"] == "Connexion requise."
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("role", ["pupil", "school_referent", "professional", "partner"])
@pytest.mark.parametrize("method, path", [("post", KEYS), ("get", KEYS), ("delete", KEYS + "/key-1")])
def test_api_keys_are_for_territory_managers_only(client, keys, role, method, path):
    response = getattr(client, method)(path, json={"name": "x"} if method == "post" else None,
                                       headers=bearer(keys, role))

    assert response.status_code == 403
    assert response.json["message"] == "Action réservée aux rôles : gestionnaire de territoire."


def test_a_territory_manager_creates_a_key_whose_secret_is_shown_once(api_key, client, manager, db):
    assert set(api_key) == {"client_id", "client_secret", "name", "role", "actor_id", "created_at"}
    assert api_key["client_id"].startswith("key-") and len(api_key["client_id"]) == 36
    assert (api_key["name"], api_key["role"], api_key["actor_id"]) == ("Appli mobile du partenaire", "partner", PARTNER)
    assert len(api_key["client_secret"]) >= 43
    assert api_key["client_secret"] not in repr(db["api_keys"].docs)

    listed = client.get(KEYS, headers=manager)

    assert listed.status_code == 200
    assert listed.json == {"items": [{"client_id": api_key["client_id"], "name": "Appli mobile du partenaire",
                                      "role": "partner", "actor_id": PARTNER, "created_at": api_key["created_at"],
                                      "revoked_at": None}]}
    assert api_key["client_secret"] not in listed.get_data(as_text=True)
    assert "secret" not in listed.get_data(as_text=True)


def test_a_key_carries_the_partner_role_only(client, manager):
    response = client.post(KEYS, json={"name": "Clé", "role": "territory_manager"}, headers=manager)

    assert response.status_code == 422
    assert response.json["errors"]["json"]["role"] == ["Rôle non autorisé pour une clé d'API : partner uniquement."]
    assert client.post(KEYS, json={"name": "Clé"}, headers=manager).json["role"] == "partner"


# --- client_credentials ----------------------------------------------------------------------------
def test_a_key_gets_an_access_token_with_its_role_and_actor_and_no_refresh_token(api_key, client, keys):
    response = credentials(client, api_key)

    assert response.status_code == 200
    body = response.json
    assert "refresh_token" not in body
    assert (body["role"], body["actor_id"], body["school_uai"], body["memberships"]) == ("partner", PARTNER, None, [])
    caller = TokenVerifier(keys[1]).verify(body["access_token"])
    assert (caller.subject, caller.role, caller.actor_id) == (api_key["client_id"], "partner", PARTNER)


def test_a_wrong_secret_or_an_unknown_key_is_refused(api_key, client):
    for response in (credentials(client, api_key, secret="faux"),
                     credentials(client, {**api_key, "client_id": "key-inconnue"})):
        assert response.status_code == 400
        assert response.json["error"] == "invalid_grant"
        assert response.json["message"] == "Identifiant ou secret de clé d'API invalide, ou clé révoquée."


def test_a_revoked_key_is_refused(api_key, client, manager):
    assert client.delete(f"{KEYS}/{api_key['client_id']}", headers=manager).status_code == 204

    assert credentials(client, api_key).json["error"] == "invalid_grant"
    assert client.get(KEYS, headers=manager).json["items"][0]["revoked_at"] is not None
    assert client.delete(f"{KEYS}/{api_key['client_id']}", headers=manager).status_code == 204


def test_revoking_an_unknown_key_answers_404_in_french(client, manager):
    response = client.delete(f"{KEYS}/key-inconnue", headers=manager)

    assert response.status_code == 404 and response.json["message"] == "Clé d'API introuvable."


# --- /me -------------------------------------------------------------------------------------------
def test_me_names_the_membership_of_the_token_and_lists_the_accounts(register, sign_in, client, helpers):
    register("pupil", 1, "parent@example.fr")
    register("territory_manager", 2, "parent@example.fr")
    signed_in = sign_in("parent@example.fr", helpers.actor_id(2)).json

    response = client.get(ME, headers={"Authorization": f"Bearer {signed_in['access_token']}"})

    assert response.status_code == 200
    assert response.json["role"] == "territory_manager" and response.json["actor_id"] == helpers.actor_id(2)
    assert response.json["subject"].startswith("acc-")
    assert [m["role"] for m in response.json["memberships"]] == ["pupil", "territory_manager"]
    assert response.json["memberships"][0]["display_name"] == "Élève (établissement 0940001W)"


def test_me_for_an_api_key_gives_its_name_and_role(api_key, client):
    access = credentials(client, api_key).json["access_token"]

    response = client.get(ME, headers={"Authorization": f"Bearer {access}"})

    assert response.json == {"subject": api_key["client_id"], "role": "partner", "actor_id": PARTNER,
                             "school_uai": None, "name": "Appli mobile du partenaire", "memberships": []}


def test_me_needs_a_valid_token(client, keys):
    assert client.get(ME).status_code == 401
    foreign = TokenIssuer(generate_keys()[0])
    response = client.get(ME, headers={"Authorization": f"Bearer {foreign.issue('acc-1', 'pupil')}"})
    assert response.status_code == 401 and response.json["message"] == "Jeton d'accès invalide."


# --- Races and logs --------------------------------------------------------------------------------
def test_a_reuse_detected_while_the_new_token_is_written_revokes_it_too(register, sign_in, service, stores):
    register("company", 1, "contact@entreprise.example.fr")
    first = sign_in("contact@entreprise.example.fr").json["refresh_token"]
    add = stores.refresh_tokens.add
    outcome = {}

    def add_during_a_theft(doc):  # the thief presents the same token between rotation and insert
        stores.refresh_tokens.add = add
        with pytest.raises(GrantError):
            service.refresh(first)
        outcome["new"] = doc["_id"]
        add(doc)
    stores.refresh_tokens.add = add_during_a_theft

    with pytest.raises(GrantError):
        service.refresh(first)
    assert stores.refresh_tokens.get(outcome["new"])["revoked_at"] is not None


def test_no_address_token_or_secret_reaches_the_logs(register, sign_in, client, manager, caplog, mailer, helpers):
    caplog.set_level(logging.DEBUG)
    register("pupil", 1, "parent@example.fr")
    register("company", 2, "parent@example.fr")
    granted = sign_in("parent@example.fr").json
    link = helpers.token(mailer.sent[-1])
    refreshed = client.post(TOKEN, json={"grant_type": "refresh_token", "refresh_token": granted["refresh_token"]}).json
    client.post(TOKEN, json={"grant_type": "refresh_token", "refresh_token": granted["refresh_token"]})  # reuse
    client.post("/api/v1/auth/sign-out", json={"refresh_token": refreshed["refresh_token"]})
    client.post("/api/v1/auth/sign-in", json={"email": "inconnu@example.fr"})
    key = client.post(KEYS, json={"name": "Clé"}, headers=manager).json
    client.post(TOKEN, json={"grant_type": "client_credentials", "client_id": key["client_id"],
                             "client_secret": key["client_secret"]})

    logged = "\n".join(json.dumps(record.__dict__, default=str, ensure_ascii=False) for record in caplog.records)
    assert caplog.records
    for secret in ("parent@example.fr", "inconnu@example.fr", link, granted["refresh_token"], granted["access_token"],
                   refreshed["refresh_token"], key["client_secret"], helpers.actor_id(1)):
        assert secret not in logged
