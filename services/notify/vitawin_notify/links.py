"""Signed links in the emails: accept/decline a proposal, unsubscribe from a category.

Each link carries a JWT (EdDSA) signed with notify's own Ed25519 key (NOTIFY_LINK_PRIVATE_KEY or
NOTIFY_LINK_PRIVATE_KEY_FILE), never with the platform's access-token key, and with its own
audience, so that no link can be used as another kind of link, nor as an access token:
- answer links (`vitawin-answer-link`): {proposal_id, side (volunteer|requester), answer
  (accept|decline), jti}, expiring at the proposal's deadline. Matching verifies the same token with
  the public key (NOTIFY_LINK_PUBLIC_KEY(_FILE)) before applying the answer;
- unsubscribe links (`vitawin-unsubscribe`): {rcpt (domain.recipient_hash of the address),
  category}; no expiry (an unsubscribe link must keep working), no address in clear.

Links point to the gateway's public URL (APP_URL); opening one never changes anything: the page it
shows has one button, whose POST does it (vitawin_notify.api).

`MatchingAnswers` forwards an answer token to matching (`POST {MATCHING_URL}/api/v1/proposals/<id>/
link-answers`)."""
from __future__ import annotations

import logging
import os
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping
from urllib.parse import quote, urlencode

import requests

from vitawin_common import correlation, identity

from vitawin_notify.domain import recipient_hash

log = logging.getLogger(__name__)

ISSUER = "vitawin-notify"
ANSWER_AUDIENCE = "vitawin-answer-link"
UNSUBSCRIBE_AUDIENCE = "vitawin-unsubscribe"
SIDES = ("volunteer", "requester")
ANSWERS = ("accept", "decline")
UNSUBSCRIBABLE = ("proposals", "requests")  # `account` emails are transactional: no unsubscribe
ANSWER_PATH = "/api/v1/notifications/links/answer"
UNSUBSCRIBE_PATH = "/api/v1/notifications/unsubscribe"
PREFERENCES_PATH = "/api/v1/notifications/preferences"
DEFAULT_APP_URL = "http://127.0.0.1:8080"  # the local gateway (docs/conventions.md)
MATCHING_TIMEOUT_S = 5.0

_RECIPIENT = re.compile(r"^[0-9a-f]{64}$")


def _is_proposal_id(value: Any) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 64  # as in the proposal.created contract


class LinkInvalid(Exception):
    """A link that cannot be trusted: bad signature, another kind of link, malformed."""


class LinkExpired(LinkInvalid):
    """An answer link past the proposal's deadline."""


@dataclass(frozen=True)
class AnswerClaims:
    proposal_id: str
    side: str  # volunteer | requester
    answer: str  # accept | decline
    jti: str
    exp: datetime

    @property
    def accept(self) -> bool:
        return self.answer == "accept"


@dataclass(frozen=True)
class UnsubscribeClaims:
    rcpt: str  # domain.recipient_hash(address)
    category: str


class LinkSigner:
    """Makes the links of the emails (the `Links` the message code calls)."""

    def __init__(self, private_key_pem: bytes | str, base_url: str = DEFAULT_APP_URL):
        self.key = identity.load_private_key(private_key_pem)
        self.base_url = base_url.rstrip("/")

    def answer_token(self, proposal_id: str, side: str, answer: str, expires_at: datetime) -> str:
        if side not in SIDES:
            raise ValueError(f"unknown side {side!r}")
        if answer not in ANSWERS:
            raise ValueError(f"unknown answer {answer!r}")
        if not _is_proposal_id(proposal_id):
            raise ValueError("invalid proposal id")
        expires_at = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=timezone.utc)
        claims = {"iss": ISSUER, "aud": ANSWER_AUDIENCE, "iat": datetime.now(timezone.utc),
                  "exp": expires_at, "jti": uuid.uuid4().hex,
                  "proposal_id": proposal_id, "side": side, "answer": answer}
        return identity.sign_claims(claims, self.key)

    def answer_url(self, proposal_id: str, side: str, answer: str, expires_at: datetime) -> str:
        """The link that shows the page to accept or decline `proposal_id` for `side`, valid until
        `expires_at` (the proposal's deadline). Each link has its own jti: used once."""
        return self._url(ANSWER_PATH, self.answer_token(proposal_id, side, answer, expires_at))

    def unsubscribe_token(self, address: str, category: str) -> str:
        if category not in UNSUBSCRIBABLE:
            raise ValueError(f"category {category!r} has no unsubscribe link")
        # No iat nor jti: Ed25519 signatures are deterministic, so one person has one stable link
        # per category, and the token holds nothing but the address hash and the category.
        return identity.sign_claims({"iss": ISSUER, "aud": UNSUBSCRIBE_AUDIENCE,
                                     "rcpt": recipient_hash(address), "category": category}, self.key)

    def unsubscribe_url(self, address: str, category: str) -> str:
        """The link (and RFC 8058 one-click target) that unsubscribes `address` from `category`."""
        return self._url(UNSUBSCRIBE_PATH, self.unsubscribe_token(address, category))

    def preferences_url(self, address: str, category: str = "proposals") -> str:
        """The preferences API of the recipient (the unsubscribe token identifies them)."""
        return self._url(PREFERENCES_PATH, self.unsubscribe_token(address, category))

    def _url(self, path: str, token: str) -> str:
        return f"{self.base_url}{path}?{urlencode({'token': token})}"


class LinkVerifier:
    """Checks the tokens of the links (notify's pages)."""

    def __init__(self, public_key_pem: bytes | str):
        self.key = identity.load_public_key(public_key_pem)

    def answer(self, token: str) -> AnswerClaims:
        claims = self._verify(token, ANSWER_AUDIENCE, ("iss", "aud", "exp", "jti"))
        proposal_id, side, answer, jti = (claims.get(k) for k in ("proposal_id", "side", "answer", "jti"))
        if (not _is_proposal_id(proposal_id) or side not in SIDES
                or answer not in ANSWERS or not isinstance(jti, str) or not 1 <= len(jti) <= 64):
            raise LinkInvalid("malformed answer link")
        return AnswerClaims(proposal_id, side, answer, jti, datetime.fromtimestamp(claims["exp"], timezone.utc))

    def unsubscribe(self, token: str) -> UnsubscribeClaims:
        claims = self._verify(token, UNSUBSCRIBE_AUDIENCE, ("iss", "aud"))
        rcpt, category = claims.get("rcpt"), claims.get("category")
        if not isinstance(rcpt, str) or not _RECIPIENT.match(rcpt) or category not in UNSUBSCRIBABLE:
            raise LinkInvalid("malformed unsubscribe link")
        return UnsubscribeClaims(rcpt, category)

    def _verify(self, token: Any, audience: str, require: tuple[str, ...]) -> Mapping[str, Any]:
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise LinkInvalid("no token")
        try:
            return identity.verify_signed(token, self.key, audience=audience, issuer=ISSUER, require=require)
        except identity.ExpiredToken as exc:
            raise LinkExpired("link expired") from exc
        except identity.InvalidToken as exc:
            raise LinkInvalid("link invalid") from exc


# --- Keys and base URL from the environment --------------------------------------------------------
def signer_from_env(env: Mapping[str, str] = os.environ) -> LinkSigner:
    """NOTIFY_LINK_PRIVATE_KEY (PEM text) or NOTIFY_LINK_PRIVATE_KEY_FILE, and APP_URL (the
    gateway's public URL, http://127.0.0.1:8080 by default)."""
    pem = identity.pem_from_env("NOTIFY_LINK_PRIVATE_KEY", env)
    if not pem:
        raise RuntimeError("set NOTIFY_LINK_PRIVATE_KEY_FILE (or NOTIFY_LINK_PRIVATE_KEY) to sign the links")
    return LinkSigner(pem, env.get("APP_URL") or DEFAULT_APP_URL)


def verifier_from_env(env: Mapping[str, str] = os.environ) -> LinkVerifier | None:
    """NOTIFY_LINK_PUBLIC_KEY(_FILE); failing that, the public half of NOTIFY_LINK_PRIVATE_KEY(_FILE);
    None when no key is set (the link pages then say the service is unavailable)."""
    pem = identity.pem_from_env("NOTIFY_LINK_PUBLIC_KEY", env)
    if pem:
        return LinkVerifier(pem)
    private = identity.pem_from_env("NOTIFY_LINK_PRIVATE_KEY", env)
    if private:
        return LinkVerifier(identity.load_private_key(private).public_key())
    return None


# --- Matching, which applies the answers -----------------------------------------------------------
class MatchingUnavailable(Exception):
    """Matching could not be reached, or did not answer as expected: the person may try again."""


@dataclass(frozen=True)
class MatchingReply:
    status: int  # 200, 404 or 409 (anything else is MatchingUnavailable)
    body: dict

    @property
    def message(self) -> str | None:
        message = self.body.get("message")
        return message if isinstance(message, str) else None


class MatchingAnswers:
    """`answers(proposal_id, token)` posts the answer token to matching and returns its reply
    (200, 404 or 409); MatchingUnavailable when matching is down, slow, or answers otherwise
    (401 there means the keys of the two services do not match: an operator's problem)."""

    def __init__(self, base_url: str, timeout: float = MATCHING_TIMEOUT_S, session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = session
        self._lock = threading.Lock()

    @property
    def session(self) -> requests.Session:
        with self._lock:  # made on first use, in the gunicorn worker (after the fork)
            if self._session is None:
                self._session = requests.Session()
                self._session.trust_env = False  # matching is on the internal network
            return self._session

    def __call__(self, proposal_id: str, token: str) -> MatchingReply:
        url = f"{self.base_url}/api/v1/proposals/{quote(proposal_id, safe='')}/link-answers"
        headers = {correlation.HEADER: correlation.get() or correlation.new_id()}
        try:
            response = self.session.post(url, json={"token": token}, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            log.warning("matching unreachable", extra={"proposal_id": proposal_id, "error": type(exc).__name__})
            raise MatchingUnavailable(type(exc).__name__) from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code not in (200, 404, 409) or not isinstance(body, dict):
            log.error("matching refused a link answer", extra={"proposal_id": proposal_id,
                                                               "status": response.status_code})
            raise MatchingUnavailable(f"HTTP {response.status_code}")
        return MatchingReply(response.status_code, body)


def matching_from_env(env: Mapping[str, str] = os.environ) -> MatchingAnswers:
    return MatchingAnswers(env.get("MATCHING_URL") or "http://127.0.0.1:8083")
