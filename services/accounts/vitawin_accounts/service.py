"""What the accounts API does (the HTTP side is in `api`): sign-in links, the token grants,
sign-out, API keys, and who the caller is.

Grants (`token`), each refused with a GrantError (RFC 6749 error, French message):
- magic_link: the sign-in link's token; its challenge must exist, be unused and unexpired, and is
  marked used atomically (a second use fails). The requested actor_id is checked first, so a
  wrong one does not burn the link. Starts a new refresh-token family.
- refresh_token: rotation: the presented token is marked rotated and a new one issued in its
  family; a token presented again after its rotation (someone else has it: theft) revokes the
  whole family and fails; a revoked or expired one fails.
- client_credentials: an API key's client_id and secret: an access token with the key's role and
  actor, no refresh token.

The access token names one membership of the account: the one `actor_id` asks for (one of the
account's), else the session's (refresh), else the oldest. Logs carry account ids only: never an
address, a token or a secret."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from vitawin_common.identity import Caller, TokenIssuer

from vitawin_accounts import domain
from vitawin_accounts.domain import GrantError, Membership, Policy
from vitawin_accounts.mail import DEFAULT_SENDER, Mailer, sign_in_email
from vitawin_accounts.store import Stores

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Grant:
    access_token: str
    expires_in: int
    role: str
    actor_id: str | None
    school_uai: str | None
    memberships: list[Membership]
    refresh_token: str | None = None

    def to_json(self) -> dict:
        body = {"access_token": self.access_token, "token_type": "Bearer", "expires_in": self.expires_in,
                "role": self.role, "actor_id": self.actor_id, "school_uai": self.school_uai,
                "memberships": [m.public() for m in self.memberships]}
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        return body


@dataclass
class AccountsService:
    stores: Stores
    issuer: TokenIssuer
    mailer: Mailer
    policy: Policy = field(default_factory=Policy)
    sender: str = DEFAULT_SENDER
    clock: Callable[[], datetime] = field(default=utcnow)

    # --- sign-in links -----------------------------------------------------------------------------
    def sign_in(self, email: str) -> None:
        """Send a sign-in link if an account has this address; the caller answers the same either
        way. At most `policy.links_per_hour` links per account and hour; a relay that fails is
        logged (the person asks again)."""
        now = self.clock()
        account = self.stores.accounts.by_email(domain.normalise_email(email))
        memberships = domain.memberships_of(account) if account else []
        if not memberships:
            log.info("sign-in requested: no account")
            return
        account_id = account["_id"]
        if not self.stores.accounts.record_sign_in_link(account_id, now, self.policy.links_per_hour):
            log.warning("sign-in link throttled", extra={"account_id": account_id})
            return
        token = domain.new_secret()
        self.stores.challenges.add(domain.challenge_document(account_id, token, now, self.policy))
        try:  # an address the relay or the e-mail headers refuse gets the same answer as any other
            self.mailer.send(sign_in_email(account["email"], domain.sign_in_url(self.policy.app_url, token),
                                           memberships, minutes=self.policy.link_minutes, sender=self.sender))
        except Exception as exc:  # noqa: BLE001 - the answer is the same; the person asks again
            log.warning("sign-in link not sent", extra={"account_id": account_id, "error": type(exc).__name__})
            return
        log.info("sign-in link sent", extra={"account_id": account_id})

    # --- grants -----------------------------------------------------------------------------------
    def token(self, request: dict) -> Grant:
        grant_type = request.get("grant_type")
        if grant_type == domain.MAGIC_LINK:
            return self.exchange_link(_required(request, grant_type, "token"), request.get("actor_id"))
        if grant_type == domain.REFRESH_TOKEN:
            return self.refresh(_required(request, grant_type, "refresh_token"), request.get("actor_id"))
        if grant_type == domain.CLIENT_CREDENTIALS:
            return self.client_credentials(_required(request, grant_type, "client_id"),
                                           _required(request, grant_type, "client_secret"))
        raise GrantError(domain.UNSUPPORTED_GRANT_TYPE, domain.UNSUPPORTED)

    def exchange_link(self, token: str, actor_id: str | None = None) -> Grant:
        now = self.clock()
        key = domain.digest(token)
        challenge = self.stores.challenges.get(key)
        if challenge is None or challenge.get("used_at") is not None or challenge["expires_at"] <= now:
            log.info("sign-in link refused", extra={"known": challenge is not None})
            raise GrantError(domain.INVALID_GRANT, domain.LINK_INVALID)
        account = self.stores.accounts.get(challenge["account_id"])
        if account is None:
            raise GrantError(domain.INVALID_GRANT, domain.LINK_INVALID)
        membership = domain.choose_membership(domain.memberships_of(account), actor_id)
        if not self.stores.challenges.use(key, now):  # used or expired since it was read
            log.info("sign-in link refused", extra={"known": True})
            raise GrantError(domain.INVALID_GRANT, domain.LINK_INVALID)
        log.info("signed in with a link", extra={"account_id": account["_id"], "role": membership.role})
        return self._session(account, membership, domain.new_family_id(), now)

    def refresh(self, token: str, actor_id: str | None = None) -> Grant:
        now = self.clock()
        tokens = self.stores.refresh_tokens
        key = domain.digest(token)
        doc = tokens.get(key)
        if doc is None:
            raise GrantError(domain.INVALID_GRANT, domain.REFRESH_INVALID)
        account = self.stores.accounts.get(doc["account_id"])
        membership = None
        if account is not None and domain.refresh_state(doc, now) == "current":  # the actor checked first
            membership = domain.choose_membership(domain.memberships_of(account), actor_id, preferred=doc["actor_id"])
        if membership is None or not tokens.rotate(key, now):
            reason = domain.refresh_state(tokens.get(key), now) if account is not None else "no_account"
            if reason in ("reused", "no_account"):
                revoked = tokens.revoke_family(doc["family_id"], now, reason)
                log.warning("refresh token refused: family revoked",
                            extra={"account_id": doc["account_id"], "family_id": doc["family_id"], "reason": reason,
                                   "revoked": revoked})
            else:
                log.info("refresh token refused", extra={"account_id": doc["account_id"], "reason": reason})
            raise GrantError(domain.INVALID_GRANT, domain.REFRESH_INVALID)
        grant = self._session(account, membership, doc["family_id"], now)
        # A reuse detected between the rotation and the new token's insert revoked the presented
        # token before the new one existed: revoke the family again, the new token with it.
        presented = tokens.get(key)
        if presented is None or presented.get("revoked_at") is not None:
            tokens.revoke_family(doc["family_id"], now, "reused")
            raise GrantError(domain.INVALID_GRANT, domain.REFRESH_INVALID)
        return grant

    def client_credentials(self, client_id: str, secret: str) -> Grant:
        now = self.clock()
        key = self.stores.api_keys.get(client_id) if client_id.startswith("key-") else None
        if key is None or key.get("revoked_at") is not None or not domain.same_secret(secret, key.get("secret_sha256")):
            log.info("client credentials refused", extra={"known": key is not None})
            raise GrantError(domain.INVALID_GRANT, domain.CLIENT_INVALID)
        access = self.issuer.issue(client_id, key["role"], actor_id=key.get("actor_id"), now=now)
        log.info("access token issued to an API key", extra={"client_id": client_id})
        return Grant(access, self._ttl(), key["role"], key.get("actor_id"), None, [])

    def sign_out(self, token: str) -> None:
        """Revoke the session (the token's family); an unknown token changes nothing."""
        doc = self.stores.refresh_tokens.get(domain.digest(token))
        if doc is not None:
            self.stores.refresh_tokens.revoke_family(doc["family_id"], self.clock(), "signed_out")
            log.info("signed out", extra={"account_id": doc["account_id"], "family_id": doc["family_id"]})

    def _session(self, account: dict, membership: Membership, family_id: str, now: datetime) -> Grant:
        refresh = domain.new_secret()
        self.stores.refresh_tokens.add(domain.refresh_document(
            refresh, account_id=account["_id"], actor_id=membership.actor_id, family_id=family_id, now=now,
            policy=self.policy))
        access = self.issuer.issue(account["_id"], membership.role, actor_id=membership.actor_id,
                                   school_uai=membership.school_uai, now=now)
        return Grant(access, self._ttl(), membership.role, membership.actor_id, membership.school_uai,
                     domain.memberships_of(account), refresh)

    def _ttl(self) -> int:
        return int(self.issuer.ttl.total_seconds())

    # --- API keys (territory managers) ------------------------------------------------------------
    def create_api_key(self, *, name: str, role: str, actor_id: str | None, created_by: str) -> dict:
        """The new key with its secret: the only time the secret is shown."""
        secret = domain.new_secret()
        doc = domain.api_key_document(name=name, role=role, actor_id=actor_id, secret=secret, created_by=created_by,
                                      now=self.clock())
        self.stores.api_keys.add(doc)
        log.info("API key created", extra={"client_id": doc["client_id"], "created_by": created_by})
        return {**_public_key(doc), "client_secret": secret}

    def api_keys(self) -> list[dict]:
        return [_public_key(doc) for doc in self.stores.api_keys.all()]

    def revoke_api_key(self, client_id: str, revoked_by: str) -> bool:
        found = self.stores.api_keys.revoke(client_id, self.clock())
        if found:
            log.info("API key revoked", extra={"client_id": client_id, "revoked_by": revoked_by})
        return found

    # --- who is calling ---------------------------------------------------------------------------
    def me(self, caller: Caller) -> dict:
        body = {"subject": caller.subject, "role": caller.role, "actor_id": caller.actor_id,
                "school_uai": caller.school_uai, "memberships": []}
        if caller.subject.startswith("key-"):
            key = self.stores.api_keys.public(caller.subject)
            body["name"] = key["name"] if key else None
        else:
            account = self.stores.accounts.get(caller.subject)
            if account is not None:
                body["memberships"] = [m.public() for m in domain.memberships_of(account)]
        return body


def _required(request: dict, grant_type: str, name: str) -> str:
    value = request.get(name)
    if not value:
        raise GrantError(domain.INVALID_REQUEST, domain.MISSING[grant_type])
    return value


def _public_key(doc: dict) -> dict:
    return {name: doc.get(name) for name in ("client_id", "name", "role", "actor_id", "created_at", "revoked_at")}
