"""The rules of accounts, in plain Python (no I/O): which role each kind of actor signs in with,
the memberships of an account, the secrets (sign-in links, refresh tokens, API keys) and their
expiry, and the French messages of refused grants.

An account is a person's e-mail address (normalised: stripped, lower case) with one membership
per actor the person acts for: an organisation's contact acts for it as a professional (or a
partner), a school's referent teacher for the school, a territory manager for themself, and a
pupil's guardian receives the pupil's sign-in link (pupils have no e-mail in Vitawin). The access
token names one membership: its role, actor_id and school_uai.

Secrets are 32 random bytes (`secrets.token_urlsafe(32)`), stored as their SHA-256 only: a
256-bit random secret cannot be guessed or brute-forced from its hash, so it needs no slow
password hash (bcrypt, argon2), and a stolen database yields no usable secret."""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

from vitawin_common import identity

PROFESSIONAL_KINDS = ("company", "craftsman", "local_authority", "association", "public_institution")
ROLE_BY_KIND = {
    **{kind: "professional" for kind in PROFESSIONAL_KINDS},
    "partner_organisation": "partner",
    "school": "school_referent",
    "territory_manager": "territory_manager",
    "pupil": "pupil",
}
API_KEY_ROLES = ("partner",)  # the only role an API key may carry for now

# --- Grant types and their errors (RFC 6749 names, French messages) --------------------------------
MAGIC_LINK, REFRESH_TOKEN, CLIENT_CREDENTIALS = "magic_link", "refresh_token", "client_credentials"
GRANT_TYPES = (MAGIC_LINK, REFRESH_TOKEN, CLIENT_CREDENTIALS)
INVALID_GRANT, INVALID_REQUEST, UNSUPPORTED_GRANT_TYPE = "invalid_grant", "invalid_request", "unsupported_grant_type"

SIGN_IN_ACCEPTED = "Si un compte existe pour cette adresse, un lien de connexion vient d'y être envoyé."
LINK_INVALID = "Lien de connexion invalide ou expiré : demandez-en un nouveau."
REFRESH_INVALID = "Session expirée ou révoquée : reconnectez-vous en demandant un nouveau lien de connexion."
CLIENT_INVALID = "Identifiant ou secret de clé d'API invalide, ou clé révoquée."
FOREIGN_ACTOR = "Ce compte ne peut pas agir pour cet acteur : choisissez l'un de ses rattachements (memberships)."
NO_MEMBERSHIP = "Ce compte n'est plus rattaché à aucun acteur : il ne permet plus de se connecter."
UNSUPPORTED = ("Type d'autorisation non pris en charge : magic_link, refresh_token ou client_credentials "
               "(grant_type).")
MISSING = {
    MAGIC_LINK: "Indiquez le jeton du lien de connexion reçu par e-mail (token).",
    REFRESH_TOKEN: "Indiquez le jeton de rafraîchissement (refresh_token).",
    CLIENT_CREDENTIALS: "Indiquez l'identifiant et le secret de la clé d'API (client_id et client_secret).",
}


class GrantError(Exception):
    """A token request refused: `error` (RFC 6749) and a French `message` for the person."""

    def __init__(self, error: str, message: str):
        super().__init__(message)
        self.error = error
        self.message = message


class UnknownKind(ValueError):
    """A contact whose kind gives no role (a contract newer than this code)."""


# --- Memberships -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Membership:
    role: str
    actor_id: str
    display_name: str
    school_uai: str | None = None
    added_at: datetime | None = None

    def to_document(self) -> dict:
        doc = {"role": self.role, "actor_id": self.actor_id, "display_name": self.display_name,
               "added_at": self.added_at}
        if self.school_uai:
            doc["school_uai"] = self.school_uai
        return doc

    @classmethod
    def from_document(cls, doc: dict) -> "Membership":
        return cls(role=doc["role"], actor_id=doc["actor_id"], display_name=doc.get("display_name", ""),
                   school_uai=doc.get("school_uai"), added_at=doc.get("added_at"))

    def public(self) -> dict:
        """What the person sees in the list of their memberships."""
        return {"role": self.role, "actor_id": self.actor_id, "school_uai": self.school_uai,
                "display_name": self.display_name}

    @property
    def label(self) -> str:
        """« Boulangerie des Vignerons (professionnel) »; a pupil's is its display name already."""
        if self.role == "pupil":
            return self.display_name
        return f"{self.display_name} ({identity.ROLES[self.role]})"


def normalise_email(address: str) -> str:
    return address.strip().lower()


def pupil_display_name(school_uai: str | None) -> str:
    """Never a name: pupils are known by their school only."""
    return f"Élève (établissement {school_uai})" if school_uai else "Élève"


def membership_from_contact(data: dict, now: datetime) -> tuple[str, Membership]:
    """(normalised e-mail of the account, membership) of a fr.vitawin.contact.registered.v1: the
    pupil's goes on its guardian's account."""
    kind = data["kind"]
    role = ROLE_BY_KIND.get(kind)
    if role is None:
        raise UnknownKind(f"no role for the kind {kind!r}")
    if role == "pupil":
        school_uai = data.get("school_uai")
        return normalise_email(data["guardian_email"]), Membership(
            role=role, actor_id=data["actor_id"], display_name=pupil_display_name(school_uai),
            school_uai=school_uai, added_at=now)
    school_uai = data.get("school_uai") if role == "school_referent" else None
    return normalise_email(data["email"]), Membership(
        role=role, actor_id=data["actor_id"], display_name=data.get("display_name") or identity.ROLES[role],
        school_uai=school_uai, added_at=now)


def memberships_of(account: dict) -> list[Membership]:
    """Oldest first: the default membership of a sign-in is the first one."""
    return [Membership.from_document(doc) for doc in account.get("memberships", [])]


def choose_membership(memberships: Iterable[Membership], actor_id: str | None = None,
                      preferred: str | None = None) -> Membership:
    """The membership `actor_id` asks for (one of the account's, GrantError invalid_request
    otherwise), else `preferred` when it is still one of them, else the oldest."""
    memberships = list(memberships)
    if not memberships:
        raise GrantError(INVALID_GRANT, NO_MEMBERSHIP)
    by_actor = {m.actor_id: m for m in memberships}
    if actor_id:
        if actor_id not in by_actor:
            raise GrantError(INVALID_REQUEST, FOREIGN_ACTOR)
        return by_actor[actor_id]
    return by_actor.get(preferred or "", memberships[0])


# --- Identifiers and secrets -----------------------------------------------------------------------
def new_account_id() -> str:
    return "acc-" + secrets.token_hex(16)


def new_client_id() -> str:
    return "key-" + secrets.token_hex(16)


def new_family_id() -> str:
    return "fam-" + secrets.token_hex(16)


def new_secret() -> str:
    """32 random bytes, URL-safe: a sign-in link's token, a refresh token, an API key's secret."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """What is stored of a secret (see the module docstring: no slow hash needed)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def same_secret(secret: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_digest or "")


def sign_in_url(app_url: str, token: str) -> str:
    """In the fragment: browsers send it neither to servers nor in Referer; the web page posts it."""
    return f"{app_url.rstrip('/')}/connexion#jeton={token}"


# --- Expiry and limits -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Policy:
    """AUTH_LINK_MINUTES (15), AUTH_LINKS_PER_HOUR (5, per account), AUTH_REFRESH_DAYS (30, from
    each refresh token's issue: a session lasts as long as it is used), APP_URL (the web app)."""
    app_url: str = "http://127.0.0.1:8080"
    link_ttl: timedelta = timedelta(minutes=15)
    links_per_hour: int = 5
    refresh_ttl: timedelta = timedelta(days=30)

    @classmethod
    def from_env(cls, env=os.environ) -> "Policy":
        return cls(app_url=env.get("APP_URL", cls.app_url),
                   link_ttl=timedelta(minutes=float(env.get("AUTH_LINK_MINUTES", "15"))),
                   links_per_hour=int(env.get("AUTH_LINKS_PER_HOUR", "5")),
                   refresh_ttl=timedelta(days=float(env.get("AUTH_REFRESH_DAYS", "30"))))

    @property
    def link_minutes(self) -> int:
        return round(self.link_ttl.total_seconds() / 60)


def challenge_document(account_id: str, token: str, now: datetime, policy: Policy) -> dict:
    """A sign-in challenge: the link's token hash, bound to the account, single use."""
    return {"_id": digest(token), "account_id": account_id, "created_at": now,
            "expires_at": now + policy.link_ttl, "used_at": None}


def refresh_document(token: str, *, account_id: str, actor_id: str, family_id: str, now: datetime,
                     policy: Policy) -> dict:
    """A refresh token of a family (one family per sign-in: every rotation stays in it)."""
    return {"_id": digest(token), "family_id": family_id, "account_id": account_id, "actor_id": actor_id,
            "created_at": now, "expires_at": now + policy.refresh_ttl, "rotated_at": None, "revoked_at": None}


def refresh_state(doc: dict | None, now: datetime) -> str:
    """"current" (may be rotated), or why it is refused: "unknown", "reused" (rotated already:
    someone else holds the family), "revoked" or "expired"."""
    if doc is None:
        return "unknown"
    if doc.get("revoked_at") is not None:
        return "revoked"
    if doc.get("rotated_at") is not None:
        return "reused"
    return "expired" if doc["expires_at"] <= now else "current"


def api_key_document(*, name: str, role: str, actor_id: str | None, secret: str, created_by: str,
                     now: datetime) -> dict:
    if role not in API_KEY_ROLES:
        raise ValueError(f"role {role!r} is not for API keys")
    client_id = new_client_id()
    return {"_id": client_id, "client_id": client_id, "name": name, "role": role, "actor_id": actor_id,
            "secret_sha256": digest(secret), "created_by": created_by, "created_at": now, "revoked_at": None}
