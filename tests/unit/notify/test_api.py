"""Notify's JSON API: the operator's view of what was sent (territory managers only; templates,
statuses, dates, never an address) and the preferences of the recipient of a link."""
from datetime import datetime, timedelta, timezone

import pytest

from vitawin_common import identity
from vitawin_common.identity import TokenIssuer, TokenVerifier

from vitawin_notify.api import create_app
from vitawin_notify.domain import recipient_hash
from vitawin_notify.links import LinkSigner, LinkVerifier
from vitawin_notify.preferences import InMemoryPreferences, InMemoryRecipientDeliveries, InMemoryUsedLinks

SENT_AT = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)
ADDRESS = "referent@college.example.fr"
DELIVERIES = "/api/v1/notifications/deliveries"
PREFERENCES = "/api/v1/notifications/preferences"


class FakeDeliveries:
    """The deliveries repository's `for_proposal` over a list of delivery documents."""

    def __init__(self, docs):
        self.docs = docs

    def for_proposal(self, proposal_id):
        return [{k: d[k] for k in ("template", "status", "sent_at")} for d in self.docs
                if d["proposal_id"] == proposal_id]


DOCS = [
    {"proposal_id": "prop-1", "subject_id": "prop-1", "template": "proposal_to_volunteer", "status": "sent",
     "sent_at": SENT_AT, "at": SENT_AT, "attempts": 1, "recipient_sha256": recipient_hash("pro@entreprise.example.fr")},
    {"proposal_id": "prop-1", "subject_id": "prop-1", "template": "proposal_to_requester", "status": "sent",
     "sent_at": SENT_AT, "at": SENT_AT, "attempts": 2, "recipient_sha256": recipient_hash(ADDRESS)},
    {"proposal_id": "prop-2", "subject_id": "prop-2", "template": "proposal_accepted", "status": "failed",
     "at": SENT_AT + timedelta(days=1), "attempts": 6, "recipient_sha256": recipient_hash(ADDRESS)},
]


@pytest.fixture(scope="module")
def keys():
    return identity.generate_keys()


@pytest.fixture(scope="module")
def link_keys():
    return identity.generate_keys()


@pytest.fixture
def preferences():
    return InMemoryPreferences()


class FakeContacts:
    """The contact book's `get(actor_id)`."""

    def __init__(self, docs):
        self.docs = {doc["actor_id"]: doc for doc in docs}

    def get(self, actor_id):
        return self.docs.get(actor_id)


SCHOOL_ACTOR, PUPIL_ACTOR, SILENT_ACTOR = "act-" + "1" * 32, "act-" + "2" * 32, "act-" + "3" * 32
GUARDIAN = "parent@example.fr"
CONTACTS = [{"actor_id": SCHOOL_ACTOR, "kind": "school", "email": ADDRESS, "school_uai": "0940001A"},
            {"actor_id": PUPIL_ACTOR, "kind": "pupil", "guardian_email": GUARDIAN, "school_uai": "0940001A"}]


@pytest.fixture
def client(keys, link_keys, preferences):
    app = create_app(FakeDeliveries(DOCS), ready=lambda: True, link_verifier=LinkVerifier(link_keys[1]),
                     matching=lambda *a: None, preferences=preferences, used_links=InMemoryUsedLinks(),
                     recipient_deliveries=InMemoryRecipientDeliveries(DOCS),
                     clock=lambda: SENT_AT, contacts=FakeContacts(CONTACTS))
    identity.init_app(app, TokenVerifier(keys[1]))
    return app.test_client()


def as_role(keys, role):
    return {"Authorization": f"Bearer {TokenIssuer(keys[0]).issue('acc-1', role)}"}


# --- operator's view -------------------------------------------------------------------------------
def test_a_territory_manager_sees_the_deliveries_of_a_proposal_templates_statuses_and_dates_only(client, keys):
    response = client.get(DELIVERIES, query_string={"proposal_id": "prop-1"},
                          headers=as_role(keys, "territory_manager"))

    assert response.status_code == 200
    assert sorted(response.json, key=lambda d: d["template"]) == [
        {"template": "proposal_to_requester", "status": "sent", "sent_at": "2026-11-27T09:30:00+00:00"},
        {"template": "proposal_to_volunteer", "status": "sent", "sent_at": "2026-11-27T09:30:00+00:00"},
    ]
    assert client.get(DELIVERIES, query_string={"proposal_id": "other"},
                      headers=as_role(keys, "territory_manager")).json == []


def test_a_territory_manager_sees_the_deliveries_of_an_address_found_by_its_hash(client, keys):
    response = client.get(DELIVERIES, query_string={"email": "Referent@College.example.fr"},
                          headers=as_role(keys, "territory_manager"))

    assert response.status_code == 200
    assert response.json == [  # newest first
        {"template": "proposal_accepted", "status": "failed", "sent_at": None, "attempts": 6, "subject_id": "prop-2"},
        {"template": "proposal_to_requester", "status": "sent", "sent_at": "2026-11-27T09:30:00+00:00",
         "attempts": 2, "subject_id": "prop-1"},
    ]
    assert "college" not in response.get_data(as_text=True).lower()
    assert client.get(DELIVERIES, query_string={"email": "nobody@example.fr"},
                      headers=as_role(keys, "territory_manager")).json == []


def test_the_operator_view_is_401_anonymous_and_403_for_other_roles(client, keys):
    for query in ({"proposal_id": "prop-1"}, {"email": ADDRESS}, {}):
        anonymous = client.get(DELIVERIES, query_string=query)
        assert anonymous.status_code == 401  # before any check of the query
        assert anonymous.json["message"] == "Connexion requise."
        for role in ("professional", "school_referent", "pupil", "partner"):
            refused = client.get(DELIVERIES, query_string=query, headers=as_role(keys, role))
            assert refused.status_code == 403
            assert refused.json["message"] == "Action réservée aux rôles : gestionnaire de territoire."


@pytest.mark.parametrize("query, field, message", [
    ({}, "proposal_id", "Indiquez l'identifiant de la proposition (proposal_id) ou l'adresse du destinataire (email)."),
    ({"proposal_id": "prop-1", "email": ADDRESS}, "email", "Un seul critère à la fois : proposal_id ou email."),
    ({"email": "not-an-address"}, "email", "Adresse e-mail invalide."),
])
def test_a_bad_query_is_refused_in_french(client, keys, query, field, message):
    response = client.get(DELIVERIES, query_string=query, headers=as_role(keys, "territory_manager"))

    assert response.status_code == 422
    assert response.json["errors"]["query"][field] == [message]


def test_readiness_follows_the_database_and_the_openapi_document_is_served():
    client = create_app(FakeDeliveries([]), ready=lambda: False).test_client()

    assert client.get("/readyz").status_code == 503
    paths = client.get("/openapi.json").json["paths"]
    for path in (DELIVERIES, PREFERENCES, "/api/v1/notifications/links/answer", "/api/v1/notifications/unsubscribe"):
        assert path in paths


# --- preferences -----------------------------------------------------------------------------------
@pytest.fixture
def token(link_keys):
    return LinkSigner(link_keys[0]).unsubscribe_token(ADDRESS, "proposals")


def test_preferences_are_immediate_by_default(client, token):
    response = client.get(PREFERENCES, query_string={"token": token})

    assert response.status_code == 200
    assert response.json == {"proposals": "immediate", "requests": "immediate", "reminders": "on"}


def test_preferences_change_and_off_unsubscribes(client, token, preferences):
    response = client.put(PREFERENCES, query_string={"token": token}, json={"proposals": "off", "requests": "weekly"})

    assert response.status_code == 200
    assert response.json == {"proposals": "off", "requests": "weekly", "reminders": "on"}
    stored = preferences.get(recipient_hash(ADDRESS))
    assert not stored.sends("proposals") and stored.mode("requests") == "weekly"
    assert client.get(PREFERENCES, query_string={"token": token}).json == {"proposals": "off", "requests": "weekly",
                                                                         "reminders": "on"}

    again = client.put(PREFERENCES, query_string={"token": token}, json={"proposals": "daily"})
    assert again.json == {"proposals": "daily", "requests": "weekly", "reminders": "on"}  # requests kept


def test_an_unsubscribe_link_shows_in_the_preferences(client, token):
    client.post("/api/v1/notifications/unsubscribe", query_string={"token": token}, data=b"List-Unsubscribe=One-Click")
    assert client.get(PREFERENCES, query_string={"token": token}).json["proposals"] == "off"


@pytest.mark.parametrize("body, field, reason", [
    ({"proposals": "hourly"}, "proposals",
     "Valeur non autorisée : immediate (tout de suite), daily (un récapitulatif par jour), weekly (un par semaine) "
     "ou off (aucun e-mail)."),
    ({"requests": 3}, "requests", "Texte attendu."),
    ({"account": "off"}, "account", "Champ inconnu."),
    ({"reminders": "weekly"}, "reminders", "Valeur non autorisée : on (recevoir les rappels) ou off (aucun rappel)."),
])
def test_bad_preferences_are_a_422_naming_the_field_in_french(client, token, preferences, body, field, reason):
    response = client.put(PREFERENCES, query_string={"token": token}, json=body)

    assert response.status_code == 422
    assert response.json["errors"]["json"][field] == [reason]
    assert preferences.docs == {}


def test_preferences_need_a_valid_unsubscribe_token_or_a_signed_in_account(client, link_keys):
    for missing in (client.get(PREFERENCES), client.put(PREFERENCES, json={"proposals": "off"})):
        assert missing.status_code == 401
        assert missing.json["message"] == ("Connexion requise : connectez-vous, ou utilisez le lien de "
                                           "désabonnement reçu par e-mail (token).")

    answer_token = LinkSigner(link_keys[0]).answer_token("prop-1", "volunteer", "accept",
                                                         datetime.now(timezone.utc) + timedelta(days=1))
    for bad in ("nonsense", answer_token):
        for response in (client.get(PREFERENCES, query_string={"token": bad}),
                         client.put(PREFERENCES, query_string={"token": bad}, json={"proposals": "off"})):
            assert response.status_code == 401
            assert response.json["message"] == "Lien invalide : utilisez le lien de désabonnement reçu par e-mail."


# --- preferences of the signed-in account ------------------------------------------------------------
def signed_in(keys, role, actor_id, subject="acc-1"):
    token = TokenIssuer(keys[0]).issue(subject, role, actor_id=actor_id)
    return {"Authorization": f"Bearer {token}"}


def test_a_signed_in_account_reads_and_changes_the_preferences_of_its_actors_address(client, keys, token, preferences):
    referent = signed_in(keys, "school_referent", SCHOOL_ACTOR)
    assert client.get(PREFERENCES, headers=referent).json == {"proposals": "immediate", "requests": "immediate",
                                                              "reminders": "on"}

    changed = client.put(PREFERENCES, headers=referent, json={"requests": "weekly", "reminders": "off"})

    assert changed.status_code == 200
    assert changed.json == {"proposals": "immediate", "requests": "weekly", "reminders": "off"}
    stored = preferences.get(recipient_hash(ADDRESS))
    assert stored.mode("requests") == "weekly" and not stored.wants("reminders")
    # the same address's unsubscribe link sees the same preferences
    assert client.get(PREFERENCES, query_string={"token": token}).json["requests"] == "weekly"


def test_a_pupils_membership_sets_the_guardians_preferences(client, keys, preferences):
    guardian = signed_in(keys, "pupil", PUPIL_ACTOR, subject="acc-2")
    assert client.put(PREFERENCES, headers=guardian, json={"proposals": "daily"}).status_code == 200
    assert preferences.get(recipient_hash(GUARDIAN)).mode("proposals") == "daily"
    assert preferences.get(recipient_hash(ADDRESS)).mode("proposals") == "immediate"


def test_signed_in_preferences_need_an_actor_with_a_known_address_and_no_api_key(client, keys, preferences):
    unknown = client.get(PREFERENCES, headers=signed_in(keys, "professional", SILENT_ACTOR))
    assert unknown.status_code == 404
    assert unknown.json["message"].startswith("Aucune adresse e-mail n'est connue pour ce compte")

    no_actor = client.put(PREFERENCES, headers=signed_in(keys, "territory_manager", None), json={"proposals": "off"})
    api_key = client.put(PREFERENCES, headers=signed_in(keys, "partner", SCHOOL_ACTOR, subject="key-1"),
                         json={"proposals": "off"})
    for refused in (no_actor, api_key):
        assert refused.status_code == 403
        assert "clé d'API" in refused.json["message"]
    bad = client.get(PREFERENCES, headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401
    assert preferences.docs == {}


def test_a_bad_body_from_a_signed_in_account_changes_nothing(client, keys, preferences):
    response = client.put(PREFERENCES, headers=signed_in(keys, "school_referent", SCHOOL_ACTOR),
                          json={"reminders": "sometimes"})
    assert response.status_code == 422
    assert response.json["errors"]["json"]["reminders"] == [
        "Valeur non autorisée : on (recevoir les rappels) ou off (aucun rappel)."]
    assert preferences.docs == {}
