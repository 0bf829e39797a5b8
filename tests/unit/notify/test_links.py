"""The links of the emails: signed tokens (answer and unsubscribe, each only usable as what it is),
the call that forwards an answer to matching, and the French pages behind the links. Opening a
link changes nothing; its button does it; an answer link works once; a link whose answer did not
reach matching works again."""
from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from vitawin_common import identity

from vitawin_notify import links
from vitawin_notify.api import create_app
from vitawin_notify.domain import recipient_hash
from vitawin_notify.links import (LinkExpired, LinkInvalid, LinkSigner, LinkVerifier, MatchingAnswers, MatchingReply,
                                  MatchingUnavailable)
from vitawin_notify.preferences import InMemoryPreferences, InMemoryRecipientDeliveries, InMemoryUsedLinks

ANSWER = "/api/v1/notifications/links/answer"
UNSUBSCRIBE = "/api/v1/notifications/unsubscribe"
ADDRESS = "Camille.Martin@Boulangerie.example.fr"


@pytest.fixture(scope="module")
def keys():
    return identity.generate_keys()


@pytest.fixture
def signer(keys):
    return LinkSigner(keys[0], "https://vitawin.example.fr/")


@pytest.fixture
def verifier(keys):
    return LinkVerifier(keys[1])


def later(days=3):
    return datetime.now(timezone.utc) + timedelta(days=days)


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


# --- tokens ----------------------------------------------------------------------------------------
def test_an_answer_link_round_trips_its_claims(signer, verifier):
    deadline = later().replace(microsecond=0)
    url = signer.answer_url("prop-3b1f0e6a9d2c4e55", "volunteer", "accept", deadline)

    assert url.startswith("https://vitawin.example.fr/api/v1/notifications/links/answer?token=")
    claims = verifier.answer(token_of(url))
    assert (claims.proposal_id, claims.side, claims.answer, claims.accept) == (
        "prop-3b1f0e6a9d2c4e55", "volunteer", "accept", True)
    assert claims.exp == deadline
    assert re.fullmatch(r"[0-9a-f]{32}", claims.jti)


def test_each_answer_link_has_its_own_jti(signer, verifier):
    first = verifier.answer(signer.answer_token("prop-1", "requester", "decline", later()))
    second = verifier.answer(signer.answer_token("prop-1", "requester", "decline", later()))
    assert first.jti != second.jti
    assert first.accept is False


def test_an_unsubscribe_link_names_the_address_hash_and_the_category_only(signer, verifier):
    url = signer.unsubscribe_url(ADDRESS, "requests")

    assert url.startswith("https://vitawin.example.fr/api/v1/notifications/unsubscribe?token=")
    claims = verifier.unsubscribe(token_of(url))
    assert claims.rcpt == recipient_hash(ADDRESS) == recipient_hash(ADDRESS.lower())
    assert claims.category == "requests"
    payload = jwt.decode(token_of(url), options={"verify_signature": False})
    assert "camille" not in str(payload).lower() and "exp" not in payload  # no address, no expiry


def test_an_unsubscribe_link_is_stable_for_one_person_and_category(signer):
    assert signer.unsubscribe_url(ADDRESS, "proposals") == signer.unsubscribe_url(ADDRESS.lower(), "proposals")
    assert signer.unsubscribe_url(ADDRESS, "proposals") != signer.unsubscribe_url(ADDRESS, "requests")


def tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["answer"] = "decline" if claims.get("answer") == "accept" else "accept"
    forged = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return ".".join((header, forged, signature))


def test_a_tampered_answer_link_is_invalid(signer, verifier):
    token = signer.answer_token("prop-1", "volunteer", "accept", later())
    with pytest.raises(LinkInvalid):
        verifier.answer(tampered(token))
    with pytest.raises(LinkInvalid):
        verifier.answer(token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB"))


def test_a_link_signed_with_another_key_is_invalid(verifier):
    other = LinkSigner(identity.generate_keys()[0])
    with pytest.raises(LinkInvalid):
        verifier.answer(other.answer_token("prop-1", "volunteer", "accept", later()))
    with pytest.raises(LinkInvalid):
        verifier.unsubscribe(other.unsubscribe_token(ADDRESS, "proposals"))


def test_an_answer_link_past_the_deadline_is_expired(signer, verifier):
    token = signer.answer_token("prop-1", "volunteer", "accept", datetime.now(timezone.utc) - timedelta(hours=1))
    with pytest.raises(LinkExpired):
        verifier.answer(token)


def test_an_answer_link_is_no_unsubscribe_link_and_the_reverse(signer, verifier, keys):
    answer = signer.answer_token("prop-1", "volunteer", "accept", later())
    unsubscribe = signer.unsubscribe_token(ADDRESS, "proposals")
    with pytest.raises(LinkInvalid):
        verifier.unsubscribe(answer)
    with pytest.raises(LinkInvalid):
        verifier.answer(unsubscribe)
    access_token = identity.TokenIssuer(keys[0]).issue("acc-1", "territory_manager")  # same key, other audience
    with pytest.raises(LinkInvalid):
        verifier.answer(access_token)


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", None, "x" * 5000])
def test_garbage_is_an_invalid_link(verifier, token):
    with pytest.raises(LinkInvalid):
        verifier.answer(token)
    with pytest.raises(LinkInvalid):
        verifier.unsubscribe(token)


def test_the_signer_refuses_what_no_link_may_say(signer):
    with pytest.raises(ValueError):
        signer.answer_url("prop-1", "pupil", "accept", later())
    with pytest.raises(ValueError):
        signer.answer_url("prop-1", "volunteer", "maybe", later())
    with pytest.raises(ValueError):
        signer.unsubscribe_url(ADDRESS, "account")  # transactional emails have no unsubscribe


def test_keys_and_base_url_come_from_the_environment(keys, tmp_path):
    (tmp_path / "private.pem").write_bytes(keys[0])
    (tmp_path / "public.pem").write_bytes(keys[1])
    signer = links.signer_from_env({"NOTIFY_LINK_PRIVATE_KEY_FILE": str(tmp_path / "private.pem"),
                                    "APP_URL": "http://127.0.0.1:8080"})
    url = signer.answer_url("prop-1", "volunteer", "accept", later())
    assert url.startswith("http://127.0.0.1:8080/api/v1/notifications/links/answer?token=")

    from_public = links.verifier_from_env({"NOTIFY_LINK_PUBLIC_KEY_FILE": str(tmp_path / "public.pem")})
    from_private = links.verifier_from_env({"NOTIFY_LINK_PRIVATE_KEY": keys[0].decode()})
    assert from_public.answer(token_of(url)).proposal_id == from_private.answer(token_of(url)).proposal_id == "prop-1"
    assert links.verifier_from_env({}) is None
    with pytest.raises(RuntimeError):
        links.signer_from_env({})


# --- the call to matching (HTTP boundary: a fake session) --------------------------------------------
class FakeResponse:
    def __init__(self, status, body):
        self.status_code, self._body = status, body

    def json(self):
        if isinstance(self._body, Exception):
            raise self._body
        return self._body


class FakeSession:
    """requests.Session's `post`, answering from `replies` (a response or an exception each)."""

    def __init__(self, *replies):
        self.replies, self.calls = list(replies), []

    def post(self, url, **kwargs):
        self.calls.append((url, kwargs))
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


def test_the_answer_goes_to_matching_with_the_token_and_a_timeout():
    session = FakeSession(FakeResponse(200, {"status": "accepted"}))
    reply = MatchingAnswers("http://matching:8083/", session=session)("prop-1", "tok")

    assert reply == MatchingReply(200, {"status": "accepted"})
    [(url, kwargs)] = session.calls
    assert url == "http://matching:8083/api/v1/proposals/prop-1/link-answers"
    assert kwargs["json"] == {"token": "tok"}
    assert kwargs["timeout"] == 5
    assert kwargs["headers"]["X-Correlation-ID"]


@pytest.mark.parametrize("status", [404, 409])
def test_matching_refusals_are_replies_with_their_french_message(status):
    session = FakeSession(FakeResponse(status, {"code": status, "message": "Cette proposition est déjà refusée."}))
    reply = MatchingAnswers("http://matching", session=session)("prop-1", "tok")
    assert (reply.status, reply.message) == (status, "Cette proposition est déjà refusée.")


@pytest.mark.parametrize("outcome", [
    requests.ConnectionError("refused"), requests.Timeout("slow"), FakeResponse(500, {"message": "x"}),
    FakeResponse(401, {"message": "Lien de réponse invalide."}), FakeResponse(502, ValueError("not json")),
])
def test_matching_down_slow_or_answering_otherwise_is_unavailable(outcome):
    with pytest.raises(MatchingUnavailable):
        MatchingAnswers("http://matching", session=FakeSession(outcome))("prop-1", "tok")


# --- the pages -------------------------------------------------------------------------------------
class FakeMatching:
    """matching(proposal_id, token) -> MatchingReply; `replies` in order (an exception is raised)."""

    def __init__(self, *replies):
        self.replies = list(replies) or [MatchingReply(200, {"status": "accepted"})]
        self.calls = []

    def __call__(self, proposal_id, token):
        self.calls.append((proposal_id, token))
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, Exception):
            raise reply
        return reply


@pytest.fixture
def world(keys):
    class World:
        matching = FakeMatching()
        preferences = InMemoryPreferences()
        used = InMemoryUsedLinks()

        def client(self, matching=None):
            self.matching = matching or self.matching
            app = create_app(object(), ready=lambda: True, link_verifier=LinkVerifier(keys[1]),
                             matching=self.matching, preferences=self.preferences, used_links=self.used,
                             recipient_deliveries=InMemoryRecipientDeliveries())
            return app.test_client()
    return World()


def page(response) -> str:
    return response.get_data(as_text=True)


def assert_accessible(html: str) -> None:
    assert '<html lang="fr">' in html
    assert html.count("<h1>") == 1 and html.count("</h1>") == 1
    assert "<title>" in html and ":focus-visible" in html


def test_opening_an_answer_link_shows_what_it_does_and_changes_nothing(world, signer):
    client = world.client()
    token = signer.answer_token("prop-1", "volunteer", "accept", later())

    response = client.get(ANSWER, query_string={"token": token})

    html = page(response)
    assert response.status_code == 200
    assert response.content_type == "text/html; charset=utf-8"
    assert_accessible(html)
    assert "<h1>Accepter la proposition</h1>" in html
    assert "prop-1" in html
    assert re.search(r'<form method="post" action="/api/v1/notifications/links/answer">', html)
    assert f'<input type="hidden" name="token" value="{token}">' in html
    assert '<button type="submit"' in html and "J&#39;accepte la proposition</button>" in html
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert world.matching.calls == [] and world.used.docs == {}


@pytest.mark.parametrize("side, answer, title", [
    ("volunteer", "accept", "Accepter la proposition"), ("volunteer", "decline", "Refuser la proposition"),
    ("requester", "accept", "Confirmer la proposition"), ("requester", "decline", "Refuser la proposition"),
])
def test_the_page_names_the_answer_of_the_link(world, signer, side, answer, title):
    response = world.client().get(ANSWER, query_string={"token": signer.answer_token("p", side, answer, later())})
    assert f"<h1>{title}</h1>" in page(response)


def test_a_bad_answer_link_shows_lien_invalide(world, signer):
    client = world.client()
    for token in ("nonsense", tampered(signer.answer_token("p", "volunteer", "accept", later())),
                  signer.unsubscribe_token(ADDRESS, "proposals")):
        for response in (client.get(ANSWER, query_string={"token": token}), client.post(ANSWER, data={"token": token})):
            assert response.status_code == 400
            assert "<h1>Lien invalide</h1>" in page(response)
            assert_accessible(page(response))
    assert client.get(ANSWER).status_code == 400  # no token at all
    assert world.matching.calls == [] and world.used.docs == {}


def test_an_expired_answer_link_shows_lien_expire(world, signer):
    client = world.client()
    token = signer.answer_token("p", "volunteer", "accept", datetime.now(timezone.utc) - timedelta(days=1))
    for response in (client.get(ANSWER, query_string={"token": token}), client.post(ANSWER, data={"token": token})):
        assert response.status_code == 410
        assert "<h1>Lien expiré</h1>" in page(response)
    assert world.matching.calls == []


def test_the_button_forwards_the_answer_to_matching_once(world, signer, verifier):
    client = world.client()
    token = signer.answer_token("prop-1", "volunteer", "accept", later())

    response = client.post(ANSWER, data={"token": token})

    assert response.status_code == 200
    assert "<h1>Proposition acceptée</h1>" in page(response)
    assert_accessible(page(response))
    assert world.matching.calls == [("prop-1", token)]
    [(jti, used)] = world.used.docs.items()
    assert used["proposal_id"] == "prop-1" and jti == verifier.answer(token).jti

    again = client.post(ANSWER, data={"token": token})
    assert again.status_code == 409
    assert "<h1>Lien déjà utilisé</h1>" in page(again)
    opened = client.get(ANSWER, query_string={"token": token})
    assert opened.status_code == 409 and "Lien déjà utilisé" in page(opened)
    assert len(world.matching.calls) == 1


@pytest.mark.parametrize("status, title", [
    ("awaiting_confirmation", "Proposition acceptée"), ("declined", "Proposition refusée")])
def test_the_done_page_follows_the_state_matching_returned(world, signer, status, title):
    client = world.client(FakeMatching(MatchingReply(200, {"status": status})))
    response = client.post(ANSWER, data={"token": signer.answer_token("p", "volunteer", "accept", later())})
    assert f"<h1>{title}</h1>" in page(response)


def test_a_refusal_by_matching_shows_its_french_message_and_the_link_stays_used(world, signer):
    message = "Cette proposition est déjà refusée : elle ne peut plus être acceptée."
    client = world.client(FakeMatching(MatchingReply(409, {"code": 409, "message": message})))
    token = signer.answer_token("prop-1", "volunteer", "accept", later())

    response = client.post(ANSWER, data={"token": token})

    assert response.status_code == 409
    assert "Cette proposition est déjà refusée : elle ne peut plus être acceptée." in page(response)
    assert client.post(ANSWER, data={"token": token}).status_code == 409
    assert "Lien déjà utilisé" in page(client.get(ANSWER, query_string={"token": token}))
    assert len(world.matching.calls) == 1


def test_a_proposal_matching_does_not_know_shows_proposition_introuvable(world, signer):
    client = world.client(FakeMatching(MatchingReply(404, {"code": 404, "message": "Proposition introuvable."})))
    response = client.post(ANSWER, data={"token": signer.answer_token("prop-x", "volunteer", "accept", later())})
    assert response.status_code == 404
    assert "<h1>Proposition introuvable</h1>" in page(response)


def test_matching_unreachable_asks_to_retry_and_the_same_link_works_again(world, signer):
    client = world.client(FakeMatching(MatchingUnavailable("ConnectionError"),
                                       MatchingReply(200, {"status": "accepted"})))
    token = signer.answer_token("prop-1", "volunteer", "accept", later())

    response = client.post(ANSWER, data={"token": token})

    assert response.status_code == 503
    assert "réessayez dans quelques minutes" in page(response).lower()
    assert world.used.docs == {}  # un-marked
    assert client.get(ANSWER, query_string={"token": token}).status_code == 200
    assert client.post(ANSWER, data={"token": token}).status_code == 200
    assert len(world.matching.calls) == 2


def test_the_correlation_id_goes_to_matching(world, signer):
    session = FakeSession(FakeResponse(200, {"status": "accepted"}))
    client = world.client(MatchingAnswers("http://matching", session=session))

    client.post(ANSWER, data={"token": signer.answer_token("prop-1", "volunteer", "accept", later())},
                headers={"X-Correlation-ID": "corr-42"})

    [(url, kwargs)] = session.calls
    assert url == "http://matching/api/v1/proposals/prop-1/link-answers"
    assert kwargs["headers"]["X-Correlation-ID"] == "corr-42"


def test_pages_say_so_when_no_link_key_is_configured(monkeypatch):
    for name in ("NOTIFY_LINK_PUBLIC_KEY", "NOTIFY_LINK_PUBLIC_KEY_FILE", "NOTIFY_LINK_PRIVATE_KEY",
                 "NOTIFY_LINK_PRIVATE_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    client = create_app(object(), ready=lambda: True, matching=FakeMatching(), preferences=InMemoryPreferences(),
                        used_links=InMemoryUsedLinks()).test_client()
    response = client.get(ANSWER, query_string={"token": "x"})
    assert response.status_code == 503 and "Réessayez dans quelques minutes" in page(response)


# --- unsubscribe pages ------------------------------------------------------------------------------
def test_opening_an_unsubscribe_link_shows_a_button_and_changes_nothing(world, signer):
    token = signer.unsubscribe_token(ADDRESS, "proposals")
    response = world.client().get(UNSUBSCRIBE, query_string={"token": token})

    html = page(response)
    assert response.status_code == 200
    assert_accessible(html)
    assert "<h1>Se désabonner</h1>" in html and "propositions" in html
    assert '<button type="submit"' in html and f'value="{token}"' in html
    assert world.preferences.get(recipient_hash(ADDRESS)).sends("proposals")


def test_the_button_unsubscribes_at_once_and_again_is_fine(world, signer):
    client = world.client()
    token = signer.unsubscribe_token(ADDRESS, "proposals")

    for _ in range(2):
        response = client.post(UNSUBSCRIBE, data={"token": token})
        assert response.status_code == 200
        assert "<h1>Désabonnement confirmé</h1>" in page(response)
    prefs = world.preferences.get(recipient_hash(ADDRESS))
    assert not prefs.sends("proposals") and prefs.sends("requests") and prefs.sends("account")


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                          "text/plain", None])
def test_one_click_unsubscribe_rfc_8058(world, signer, content_type):
    url = signer.unsubscribe_url(ADDRESS, "requests")
    path = urlsplit(url).path + "?" + urlsplit(url).query
    headers = {"Content-Type": content_type} if content_type else {}

    response = world.client().post(path, data=b"List-Unsubscribe=One-Click", headers=headers)

    assert response.status_code == 200
    assert world.preferences.get(recipient_hash(ADDRESS)).choice("requests") == "off"


def test_a_bad_unsubscribe_link_shows_lien_invalide(world, signer):
    client = world.client()
    answer_token = signer.answer_token("p", "volunteer", "accept", later())
    for token in ("nonsense", answer_token):
        assert client.get(UNSUBSCRIBE, query_string={"token": token}).status_code == 400
        response = client.post(UNSUBSCRIBE, query_string={"token": token}, data=b"List-Unsubscribe=One-Click")
        assert response.status_code == 400 and "<h1>Lien invalide</h1>" in page(response)
    assert world.preferences.docs == {}
