"""The webhooks API: who may do what (partners their own subscriptions, territory managers read
all, anyone else 403, anonymous 401), French 422s that change nothing, secrets shown only at
creation and rotation, pause and resume, replay from a date, rotation with a grace period."""
from __future__ import annotations

from datetime import timedelta

import pytest

from vitawin_common import identity
from vitawin_common.identity import TokenIssuer, TokenVerifier

from vitawin_webhooks import domain, handlers, public
from vitawin_webhooks.api import create_app

from tests.unit.webhooks.webhooks_fakes import example

POLICY = domain.RetryPolicy(jitter_s=0)
TOWNS = frozenset({"94080", "94068", "94033"})
BODY = {"url": "https://partenaire.example/hooks", "event_types": [public.REQUEST_PUBLISHED, public.REQUEST_CLOSED],
        "towns": ["94080"], "label": "Tableau de bord"}
CALLERS = ("anonymous", "partner A", "partner B", "territory manager", "pupil", "professional", "school referent")


@pytest.fixture(scope="module")
def keys():
    return identity.generate_keys()


@pytest.fixture
def headers(keys):
    issuer = TokenIssuer(keys[0])

    def bearer(role, **claims):
        return {"Authorization": f"Bearer {issuer.issue('sub-' + role, role, **claims)}"}
    return {"anonymous": {}, "partner A": bearer("partner", actor_id="act-" + "a" * 32),
            "partner B": {"Authorization": f"Bearer {issuer.issue('key-partner-b', 'partner')}"},
            "territory manager": bearer("territory_manager"), "pupil": bearer("pupil", actor_id="act-" + "9" * 32),
            "professional": bearer("professional", actor_id="act-" + "c" * 32),
            "school referent": bearer("school_referent", school_uai="0940585A")}


@pytest.fixture
def client(keys, uow, clock):
    subscriptions = handlers.Subscriptions(lambda: uow, POLICY, clock)
    app = create_app(uow_factory=lambda: uow, subscriptions=subscriptions, ready=lambda: True, allow_local=False,
                     towns=lambda: TOWNS, clock=clock)
    identity.init_app(app, TokenVerifier(keys[1]))
    return app.test_client()


@pytest.fixture
def mine(client, headers):
    answer = client.post("/api/v1/webhooks/subscriptions", json=BODY, headers=headers["partner A"])
    assert answer.status_code == 201, answer.json
    return answer.json


def statuses(client, headers, method, path, **kwargs):
    return {name: client.open(path, method=method, headers=headers[name], **kwargs).status_code for name in CALLERS}


def test_partners_create_subscriptions_and_get_their_secret_once(client, headers, mine, uow):
    assert mine["secret"].startswith("whsec_")
    assert (mine["status"], mine["owner"], mine["towns"]) == ("active", "act-" + "a" * 32, ["94080"])
    assert mine["event_types"] == sorted(BODY["event_types"])
    shown = client.get(f"/api/v1/webhooks/subscriptions/{mine['subscription_id']}", headers=headers["partner A"]).json
    assert "secret" not in shown and "previous_secrets" not in shown
    assert uow.subscriptions.get(mine["subscription_id"])["secret"] == mine["secret"]


def test_only_partners_create_subscriptions(client, headers, uow):
    codes = statuses(client, headers, "POST", "/api/v1/webhooks/subscriptions", json=BODY)
    assert codes == {"anonymous": 401, "partner A": 201, "partner B": 201, "territory manager": 403, "pupil": 403,
                     "professional": 403, "school referent": 403}
    assert {d["owner"] for d in uow.subscriptions.docs.values()} == {"act-" + "a" * 32, "key-partner-b"}


def test_a_partner_sees_its_own_subscriptions_and_a_territory_manager_all(client, headers, mine):
    theirs = client.post("/api/v1/webhooks/subscriptions", json=BODY, headers=headers["partner B"]).json
    listed = {name: client.get("/api/v1/webhooks/subscriptions", headers=headers[name]) for name in CALLERS}
    assert {name: answer.status_code for name, answer in listed.items()} == {
        "anonymous": 401, "partner A": 200, "partner B": 200, "territory manager": 200, "pupil": 403,
        "professional": 403, "school referent": 403}
    ids = {name: {s["subscription_id"] for s in listed[name].json} for name in ("partner A", "partner B",
                                                                                 "territory manager")}
    assert ids == {"partner A": {mine["subscription_id"]}, "partner B": {theirs["subscription_id"]},
                   "territory manager": {mine["subscription_id"], theirs["subscription_id"]}}
    assert all("secret" not in s for s in listed["territory manager"].json)
    one = statuses(client, headers, "GET", f"/api/v1/webhooks/subscriptions/{mine['subscription_id']}")
    assert one == {"anonymous": 401, "partner A": 200, "partner B": 404, "territory manager": 200, "pupil": 403,
                   "professional": 403, "school referent": 403}
    deliveries = statuses(client, headers, "GET", f"/api/v1/webhooks/subscriptions/{mine['subscription_id']}/deliveries")
    assert deliveries == one


@pytest.mark.parametrize("method, suffix, body", [
    ("PATCH", "", {"status": "paused"}), ("DELETE", "", None),
    ("POST", "/replay", {"since": "2026-11-30T00:00:00Z"}), ("POST", "/rotate-secret", {}),
])
def test_only_its_partner_changes_a_subscription(client, headers, mine, uow, method, suffix, body):
    before = uow.subscriptions.get(mine["subscription_id"])
    path = f"/api/v1/webhooks/subscriptions/{mine['subscription_id']}{suffix}"
    refused = {name: client.open(path, method=method, json=body, headers=headers[name]).status_code
               for name in CALLERS if name != "partner A"}
    assert refused == {"anonymous": 401, "partner B": 404, "territory manager": 403, "pupil": 403,
                       "professional": 403, "school referent": 403}
    assert uow.subscriptions.get(mine["subscription_id"]) == before
    expected = {"PATCH": 200, "DELETE": 204}.get(method, 202 if suffix == "/replay" else 200)
    assert client.open(path, method=method, json=body, headers=headers["partner A"]).status_code == expected


@pytest.mark.parametrize("change, field, reason", [
    ({"url": "http://partenaire.example/hooks"}, "url", "HTTPS obligatoire"),
    ({"url": "https://192.168.0.10/hooks"}, "url", "Adresse IP privée"),
    ({"url": "http://127.0.0.1:9000/hooks"}, "url", "HTTPS obligatoire"),
    ({"event_types": ["fr.vitawin.request.created.v2"]}, "event_types", "Type d'événement inconnu"),
    ({"event_types": []}, "event_types", "au moins un type"),
    ({"towns": ["75056"]}, "towns", "Commune inconnue du territoire"),
    ({"towns": []}, "towns", "au moins une commune"),
    ({"label": ""}, "label", "Libellé de 1 à 100"),
    ({"colour": "bleu"}, "colour", "Champ inconnu"),
])
def test_bad_subscriptions_get_a_french_422_and_store_nothing(client, headers, uow, change, field, reason):
    answer = client.post("/api/v1/webhooks/subscriptions", json={**BODY, **change}, headers=headers["partner A"])
    assert answer.status_code == 422, answer.json
    assert reason in str(answer.json["errors"]["json"][field])
    assert uow.subscriptions.docs == {}


def test_a_missing_field_is_named(client, headers, uow):
    answer = client.post("/api/v1/webhooks/subscriptions", json={"url": BODY["url"]}, headers=headers["partner A"])
    assert answer.status_code == 422
    assert set(answer.json["errors"]["json"]) == {"event_types", "towns"}


def test_changes_pause_and_resume(client, headers, mine, uow, clock):
    path = f"/api/v1/webhooks/subscriptions/{mine['subscription_id']}"
    paused = client.patch(path, json={"status": "paused", "towns": ["94068", "94080"]}, headers=headers["partner A"])
    assert (paused.json["status"], paused.json["towns"]) == ("paused", ["94068", "94080"])
    uow.subscriptions.flag_failing(mine["subscription_id"], clock())  # paused stays paused
    assert uow.subscriptions.get(mine["subscription_id"])["status"] == "paused"
    uow.subscriptions._set(mine["subscription_id"], {"status": "failing", "failing_since": clock()})
    resumed = client.patch(path, json={"status": "active"}, headers=headers["partner A"])
    assert resumed.json["status"] == "active" and "failing_since" not in resumed.json
    for bad, field in (({}, "_schema"), ({"status": "failing"}, "status"), ({"url": "http://x.example"}, "url")):
        answer = client.patch(path, json=bad, headers=headers["partner A"])
        assert answer.status_code == 422 and field in answer.json["errors"]["json"], bad
    assert uow.subscriptions.get(mine["subscription_id"])["status"] == "active"


def test_deleting_removes_the_subscription_and_its_deliveries(client, headers, mine, uow, clock):
    recorder = handlers.Recorder(lambda: uow, POLICY, clock)
    cause = example("fr.vitawin.request.created.v2", "class_testimony.json")
    recorder.record(public.public_event(public.REQUEST_PUBLISHED, "req-1", {"town": "94080"}, cause))
    assert len(uow.deliveries.docs) == 1
    assert client.delete(f"/api/v1/webhooks/subscriptions/{mine['subscription_id']}",
                         headers=headers["partner A"]).status_code == 204
    assert uow.subscriptions.docs == {} and uow.deliveries.docs == {}


def test_deliveries_are_listed_newest_first_with_their_state(client, headers, mine, uow, clock):
    recorder = handlers.Recorder(lambda: uow, POLICY, clock)
    for i in range(3):
        cause = example("fr.vitawin.request.created.v2", "class_testimony.json", request_id=f"req-{i}")
        recorder.record(public.public_event(public.REQUEST_PUBLISHED, f"req-{i}", {"town": "94080"}, cause))
        clock.advance(minutes=1)
    path = f"/api/v1/webhooks/subscriptions/{mine['subscription_id']}/deliveries"
    listed = client.get(path, query_string={"limit": 2}, headers=headers["territory manager"]).json
    assert len(listed) == 2 and listed[0]["created_at"] > listed[1]["created_at"]
    assert listed[0]["status"] == "pending" and listed[0]["attempts"] == 0
    bad = client.get(path, query_string={"status": "lost", "limit": 0}, headers=headers["partner A"])
    assert bad.status_code == 422 and set(bad.json["errors"]["query"]) == {"status", "limit"}


def test_a_replay_sends_again_what_the_subscription_wants_since_a_date(client, headers, mine, uow, clock):
    recorder = handlers.Recorder(lambda: uow, POLICY, clock)
    for i, (town, type_) in enumerate([("94080", public.REQUEST_PUBLISHED), ("94068", public.REQUEST_PUBLISHED),
                                       ("94080", public.PLEDGE_PUBLISHED), ("94080", public.REQUEST_CLOSED)]):
        cause = example("fr.vitawin.request.created.v2", "class_testimony.json", request_id=f"req-{i}")
        recorder.record(public.public_event(type_, f"s-{i}", {"town": town}, cause))
    clock.advance(hours=1)
    path = f"/api/v1/webhooks/subscriptions/{mine['subscription_id']}/replay"
    answer = client.post(path, json={"since": "2026-11-20T00:00:00Z"}, headers=headers["partner A"])
    assert answer.status_code == 202 and answer.json == {"replayed": 2}
    replays = [d for d in uow.deliveries.docs.values() if d["replay"]]
    assert len(replays) == 2 and {d["status"] for d in replays} == {"pending"}
    for since, reason in (("2027-01-01T00:00:00Z", "futur"), ("2026-10-01T00:00:00Z", "30 jours"),
                          ("hier", "Date invalide")):
        refused = client.post(path, json={"since": since}, headers=headers["partner A"])
        assert refused.status_code == 422 and reason in str(refused.json["errors"]["json"]["since"]), since
    assert len(uow.deliveries.docs) == 4


def test_a_rotation_shows_the_new_secret_once_and_keeps_the_old_one_for_the_grace_period(client, headers, mine, uow,
                                                                                        clock):
    path = f"/api/v1/webhooks/subscriptions/{mine['subscription_id']}/rotate-secret"
    rotated = client.post(path, json={"grace_hours": 2}, headers=headers["partner A"]).json
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != mine["secret"]
    stored = uow.subscriptions.get(mine["subscription_id"])
    assert domain.signing_secrets(stored, clock()) == [rotated["secret"], mine["secret"]]
    assert domain.signing_secrets(stored, clock() + timedelta(hours=3)) == [rotated["secret"]]
    assert client.post(path, json={"grace_hours": 500}, headers=headers["partner A"]).status_code == 422


def test_a_partner_has_at_most_twenty_subscriptions(client, headers, uow):
    for _ in range(domain.MAX_SUBSCRIPTIONS_PER_OWNER):
        assert client.post("/api/v1/webhooks/subscriptions", json=BODY, headers=headers["partner B"]).status_code == 201
    answer = client.post("/api/v1/webhooks/subscriptions", json=BODY, headers=headers["partner B"])
    assert answer.status_code == 409 and "maximal" in answer.json["message"]


def test_the_event_types_are_listed_with_their_topics(client, headers):
    answer = client.get("/api/v1/webhooks/event-types", headers=headers["partner B"])
    assert answer.status_code == 200
    assert {t["type"]: t["topic"] for t in answer.json}[public.REQUEST_PUBLISHED] == "public.requests.v1"
    assert len(answer.json) == len(public.TYPES)
    assert client.get("/api/v1/webhooks/event-types", headers=headers["pupil"]).status_code == 403
