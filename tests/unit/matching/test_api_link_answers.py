"""Answering a proposal by the link of an email: notify forwards the link's token, signed with
notify's key (audience vitawin-answer-link, issuer vitawin-notify); matching checks it with
notify's public key and applies the answer of the token's side exactly as the authenticated
endpoints do (French 404 and 409), with no access token. A token replayed after its answer was
applied changes nothing."""
from datetime import datetime, timedelta, timezone

import pytest

from vitawin_common import identity

from vitawin_matching import handlers
from vitawin_matching.api import create_app
from vitawin_matching.workflow import ACCEPTED, AWAITING_CONFIRMATION, DECLINED, PENDING

from tests.unit.matching.conftest import request_v2_event, volunteer_event

ORG = "act-" + "a" * 32


@pytest.fixture(scope="module")
def link_keys():
    return identity.generate_keys()


@pytest.fixture
def client(link_keys, db, uow, monkeypatch):
    monkeypatch.setattr(handlers, "answer_context", _with_actor(handlers.answer_context))
    app = create_app(proposals=uow().proposals, ready=lambda: True, uow_factory=uow, offer_of=lambda doc: None,
                     link_key=link_keys[1])
    return app.test_client()


def _with_actor(context):
    def with_actor(found):
        return {**context(found), "volunteer_actor_id": ORG}
    return with_actor


def made(db, uow, kind="class_testimony"):
    handlers.on_volunteer_registered(volunteer_event("vol-1", lat_offset_km=1, action_types=[
        {"class_testimony": "testimony", "job_information": "testimony"}[kind]]), uow(), k=1)
    handlers.on_request_created(request_v2_event("req-1", kind=kind), uow(), k=1)
    [proposal_id] = db.proposals
    return proposal_id


def link_token(key, proposal_id, side="volunteer", answer="accept", *, expires_in=timedelta(days=3),
               audience="vitawin-answer-link", issuer="vitawin-notify", jti="jti-1", **extra):
    """A token as notify's LinkSigner makes it."""
    now = datetime.now(timezone.utc)
    claims = {"iss": issuer, "aud": audience, "iat": now, "exp": now + expires_in, "jti": jti,
              "proposal_id": proposal_id, "side": side, "answer": answer, **extra}
    return identity.sign_claims(claims, key)


def post(client, proposal_id, token):
    return client.post(f"/api/v1/proposals/{proposal_id}/link-answers", json={"token": token})


def accepted_events(db):
    return [event for event, _ in db.outbox if event.type == "fr.vitawin.proposal.accepted.v1"]


def test_the_professional_accepts_by_the_link_without_an_access_token(client, link_keys, db, uow):
    pid = made(db, uow)

    answer = post(client, pid, link_token(link_keys[0], pid))

    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["status"] == ACCEPTED
    assert answer.get_json()["proposal_id"] == pid
    assert len(accepted_events(db)) == 1


def test_a_replayed_link_changes_nothing(client, link_keys, db, uow):
    pid = made(db, uow)
    token = link_token(link_keys[0], pid)
    first = post(client, pid, token).get_json()

    again = post(client, pid, token)

    assert again.status_code == 200
    assert again.get_json() == first  # same state, same version
    assert len(accepted_events(db)) == 1


def test_the_professional_declines_by_the_link(client, link_keys, db, uow):
    pid = made(db, uow)
    answer = post(client, pid, link_token(link_keys[0], pid, answer="decline"))
    assert answer.get_json()["status"] == DECLINED


def test_a_contrary_link_is_a_409_in_french(client, link_keys, db, uow):
    pid = made(db, uow)
    post(client, pid, link_token(link_keys[0], pid, answer="decline", jti="decline"))

    answer = post(client, pid, link_token(link_keys[0], pid, answer="accept", jti="accept"))

    assert answer.status_code == 409
    assert answer.get_json()["message"] == "Cette proposition est déjà refusée : elle ne peut plus être acceptée."


def test_a_pupil_placement_is_confirmed_by_the_school_link(client, link_keys, db, uow):
    pid = made(db, uow, kind="job_information")
    early = post(client, pid, link_token(link_keys[0], pid, side="requester", jti="r1"))
    assert early.status_code == 409
    assert early.get_json()["message"].startswith("Le professionnel n'a pas encore accepté")

    assert post(client, pid, link_token(link_keys[0], pid, jti="v1")).get_json()["status"] == AWAITING_CONFIRMATION
    confirmed = post(client, pid, link_token(link_keys[0], pid, side="requester", jti="r2"))
    assert confirmed.get_json()["status"] == ACCEPTED


def test_notify_link_signer_tokens_are_accepted(client, link_keys, db, uow):
    """The two services agree on the token (notify's LinkSigner, as the emails carry it)."""
    from vitawin_notify.links import LinkSigner
    pid = made(db, uow)
    token = LinkSigner(link_keys[0]).answer_token(pid, "volunteer", "accept",
                                                  datetime.now(timezone.utc) + timedelta(days=1))
    assert post(client, pid, token).get_json()["status"] == ACCEPTED


def test_an_unknown_proposal_is_404(client, link_keys):
    answer = post(client, "prop-unknown", link_token(link_keys[0], "prop-unknown"))
    assert answer.status_code == 404
    assert answer.get_json()["message"] == "Proposition introuvable."


def test_a_link_for_another_proposal_is_401(client, link_keys, db, uow):
    pid = made(db, uow)
    answer = post(client, pid, link_token(link_keys[0], "prop-other"))
    assert answer.status_code == 401
    assert answer.get_json()["message"] == "Ce lien de réponse concerne une autre proposition."
    assert db.proposal_docs[pid]["state"].status == PENDING


def test_an_expired_link_is_401_in_french(client, link_keys, db, uow):
    pid = made(db, uow)
    answer = post(client, pid, link_token(link_keys[0], pid, expires_in=-timedelta(hours=1)))
    assert answer.status_code == 401
    assert answer.get_json()["message"] == "Lien expiré : le délai de réponse à cette proposition est passé."


@pytest.mark.parametrize("make", [
    lambda keys, pid: link_token(identity.generate_keys()[0], pid),  # another key
    lambda keys, pid: link_token(keys[0], pid, audience="vitawin-unsubscribe"),  # another kind of link
    lambda keys, pid: link_token(keys[0], pid, issuer="vitawin"),
    lambda keys, pid: identity.TokenIssuer(keys[0]).issue("acc-1", "professional", actor_id=ORG),  # access token
    lambda keys, pid: link_token(keys[0], pid, side="pupil"),
    lambda keys, pid: link_token(keys[0], pid, answer="maybe"),
    lambda keys, pid: link_token(keys[0], pid)[:-4] + "AAAA",  # tampered signature
    lambda keys, pid: "nonsense",
])
def test_a_bad_link_is_401_in_french_and_changes_nothing(client, link_keys, db, uow, make):
    pid = made(db, uow)
    answer = post(client, pid, make(link_keys, pid))
    assert answer.status_code == 401
    assert answer.get_json()["message"] == "Lien de réponse invalide."
    assert db.proposal_docs[pid]["state"].status == PENDING and db.outbox[-1][0].type.endswith("created.v1")


def test_a_missing_token_is_422_in_french(client, db, uow):
    pid = made(db, uow)
    answer = client.post(f"/api/v1/proposals/{pid}/link-answers", json={})
    assert answer.status_code == 422
    assert answer.get_json()["errors"]["json"]["token"] == ["Indiquez le jeton du lien (token)."]


def test_without_notify_key_link_answers_are_unavailable(db, uow, monkeypatch):
    for name in ("NOTIFY_LINK_PUBLIC_KEY", "NOTIFY_LINK_PUBLIC_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    client = create_app(proposals=uow().proposals, ready=lambda: True, uow_factory=uow,
                        offer_of=lambda doc: None).test_client()
    pid = made(db, uow)
    assert post(client, pid, "whatever").status_code == 503


def test_the_key_comes_from_the_environment(link_keys, db, uow, monkeypatch, tmp_path):
    (tmp_path / "public.pem").write_bytes(link_keys[1])
    monkeypatch.delenv("NOTIFY_LINK_PUBLIC_KEY", raising=False)
    monkeypatch.setenv("NOTIFY_LINK_PUBLIC_KEY_FILE", str(tmp_path / "public.pem"))
    monkeypatch.setattr(handlers, "answer_context", _with_actor(handlers.answer_context))
    client = create_app(proposals=uow().proposals, ready=lambda: True, uow_factory=uow,
                        offer_of=lambda doc: None).test_client()
    pid = made(db, uow)
    assert post(client, pid, link_token(link_keys[0], pid)).get_json()["status"] == ACCEPTED
