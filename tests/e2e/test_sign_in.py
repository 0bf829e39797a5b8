"""Accounts end to end through the gateway, on the real stack: a school referent signs in with the
link the accounts service emails (the SMTP sink receives it), uses the access token at another
service, refreshes it (rotation; a replayed refresh token ends the session); an unknown address
gets the same answer and no email; the gateway refuses expired and tampered tokens itself; a
partner's API key gets tokens until it is revoked; a gateway with low limits answers 429 with
Retry-After, per client."""
from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from pymongo import MongoClient

from stack import wait_for_url
from support import bearer, eventually, mails_to, next_school_day, register_school, unique_email
from vitawin_common.identity import TokenIssuer

pytestmark = pytest.mark.integration

LINK = re.compile(r"#jeton=([A-Za-z0-9_\-]+)")
SENT = "Si un compte existe pour cette adresse, un lien de connexion vient d'y être envoyé."


@pytest.fixture(scope="module")
def mongo(stack):
    client = MongoClient(stack.env["MONGODB_URI"], tz_aware=True)
    yield client
    client.close()


def link_token(stack, email: str, already: int = 0) -> str:
    """The token of the newest sign-in link emailed to `email`, once more than `already` came."""
    def arrived():
        found = [m for m in mails_to(stack.maildir, email) if "lien de connexion" in str(m["Subject"])]
        return found if len(found) > already else None
    found = eventually(arrived, timeout=30, message=f"sign-in email number {already + 1}")
    body = found[-1].get_body(preferencelist=("plain",)).get_content()
    return LINK.search(body).group(1)


def test_a_school_referent_signs_in_with_the_emailed_link_and_uses_the_token(stack, mongo):
    api = f"{stack.gateway_url}/api/v1"
    school = register_school(stack.gateway_url, mongo, town="94058", location={"lat": 48.8640, "lon": 2.5030})
    email = school["contact_email"]
    eventually(lambda: mongo.vitawin_accounts.accounts.find_one({"email": email}), timeout=30,
               message="the referent's account, from the contacts channel")

    answer = requests.post(f"{api}/auth/sign-in", json={"email": email.upper()})  # the address as typed
    assert answer.status_code == 202 and answer.json()["message"] == SENT
    token = link_token(stack, email)

    answer = requests.post(f"{api}/auth/token", json={"grant_type": "magic_link", "token": token})
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    session = answer.json()
    assert (session["role"], session["actor_id"], session["school_uai"]) == (
        "school_referent", school["actor_id"], school["uai"])
    assert session["token_type"] == "Bearer" and 0 < session["expires_in"] <= 15 * 60
    referent = {"Authorization": f"Bearer {session['access_token']}"}

    me = requests.get(f"{api}/auth/me", headers=referent)
    assert me.status_code == 200 and me.json()["role"] == "school_referent"
    # The token is the platform's: the requests service accepts it for the school's own request
    created = requests.post(f"{api}/requests", headers=referent, json={
        "kind": "class_testimony", "date": next_school_day(21).isoformat(), "level": "3e",
        "professionals_wanted": 1, "contact_email": unique_email("signed-in")})
    assert created.status_code == 201, created.text

    again = requests.post(f"{api}/auth/token", json={"grant_type": "magic_link", "token": token})
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"  # a link signs in once

    first = session["refresh_token"]
    renewed = requests.post(f"{api}/auth/token", json={"grant_type": "refresh_token", "refresh_token": first})
    assert renewed.status_code == 200 and renewed.json()["refresh_token"] != first
    replayed = requests.post(f"{api}/auth/token", json={"grant_type": "refresh_token", "refresh_token": first})
    assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_grant"
    # A replayed refresh token may be a stolen one: the whole session ends, the renewed token too
    after = requests.post(f"{api}/auth/token", json={"grant_type": "refresh_token",
                                                      "refresh_token": renewed.json()["refresh_token"]})
    assert after.status_code == 400


def test_an_unknown_address_gets_the_same_answer_and_no_email(stack):
    email = unique_email("nobody")
    answer = requests.post(f"{stack.gateway_url}/api/v1/auth/sign-in", json={"email": email})
    assert answer.status_code == 202 and answer.json()["message"] == SENT
    time.sleep(1.0)
    assert mails_to(stack.maildir, email) == []


def test_the_gateway_refuses_expired_and_tampered_tokens_itself(stack):
    issuer = TokenIssuer(Path(stack.env["AUTH_PRIVATE_KEY_FILE"]).read_bytes())
    expired = issuer.issue("tests-expired", "territory_manager", now=datetime.now(timezone.utc) - timedelta(hours=1))
    good = issuer.issue("tests-good", "territory_manager")
    tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    for token, message in ((expired, "Jeton d'accès expiré : reconnectez-vous."), (tampered, "Jeton d'accès invalide.")):
        answer = requests.get(f"{stack.gateway_url}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401 and answer.json()["message"] == message
        assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
    answer = requests.get(f"{stack.gateway_url}/api/v1/auth/me", headers={"Authorization": f"Bearer {good}"})
    assert answer.status_code == 200 and answer.json()["role"] == "territory_manager"


def test_a_partner_key_gets_tokens_until_it_is_revoked(stack):
    api = f"{stack.gateway_url}/api/v1"
    manager = bearer(stack.env, "territory_manager")
    assert requests.post(f"{api}/auth/api-keys", json={"name": "CCI", "role": "partner"}).status_code == 401
    refused = requests.post(f"{api}/auth/api-keys", headers=bearer(stack.env, "professional"),
                            json={"name": "CCI", "role": "partner"})
    assert refused.status_code == 403
    made = requests.post(f"{api}/auth/api-keys", headers=manager, json={"name": "CCI Paris Est", "role": "partner"})
    assert made.status_code == 201, made.text
    key = made.json()
    listed = requests.get(f"{api}/auth/api-keys", headers=manager).json()["items"]
    assert key["client_id"] in {item["client_id"] for item in listed}
    assert all("client_secret" not in item for item in listed)

    grant = {"grant_type": "client_credentials", "client_id": key["client_id"], "client_secret": key["client_secret"]}
    answer = requests.post(f"{api}/auth/token", json=grant)
    assert answer.status_code == 200 and answer.json()["role"] == "partner" and "refresh_token" not in answer.json()
    me = requests.get(f"{api}/auth/me", headers={"Authorization": f"Bearer {answer.json()['access_token']}"})
    assert me.status_code == 200 and me.json()["role"] == "partner"

    assert requests.delete(f"{api}/auth/api-keys/{key['client_id']}", headers=manager).status_code == 204
    assert requests.post(f"{api}/auth/token", json=grant).status_code == 400


def test_a_gateway_with_low_limits_answers_429_per_client_with_retry_after(stack):
    """A gateway of its own (one process, low limits), beside the stack's: the suite's gateway has
    limits so high that the whole suite, all from 127.0.0.1, never reaches them."""
    name, port = "gateway-limits", int(stack.env["GATEWAY_PORT"]) + 900
    command = stack.commands["gateway"].replace("$GATEWAY_PORT", str(port)).replace(
        "prometheus/gateway", "prometheus/gateway-limits")
    stack.commands[name] = ("GATEWAY_RATE_LIMIT='5 per minute' GATEWAY_AUTH_RATE_LIMIT='2 per minute' "
                            f"WEB_CONCURRENCY=1 {command}")
    stack.start(name)
    try:
        wait_for_url(f"http://127.0.0.1:{port}/readyz", 60, stack)
        api = f"http://127.0.0.1:{port}/api/v1"
        statuses = [requests.get(f"{api}/volunteers").status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]
        refused = requests.get(f"{api}/volunteers")
        retry = int(refused.headers["Retry-After"])
        assert refused.status_code == 429 and 1 <= retry <= 60
        assert refused.json()["message"].startswith("Trop de requêtes") and f"{retry} seconde" in refused.json()["message"]
        # Another client (a token's subject) has its own budget
        professional = bearer(stack.env, "professional")
        assert [requests.get(f"{api}/volunteers", headers=professional).status_code for _ in range(5)] == [200] * 5
        # Sign-in is limited per address whatever the token: 2 a minute here
        other = bearer(stack.env, "pupil")  # a fresh subject: its general budget is whole
        signs = [requests.post(f"{api}/auth/sign-in", headers=other,
                               json={"email": unique_email("limits")}).status_code for _ in range(3)]
        assert signs == [202, 202, 429]
    finally:
        stack.stop(name)
