"""Subscriptions and deliveries: plain Python, no I/O.

A subscription belongs to one partner (`owner`: the actor id of its token, or its subject for an API
key without one): an endpoint, the public event types and the towns it wants, a status (`active`;
`paused` by the partner; `failing` once a delivery was given up after a day of retries: nothing
new is recorded for it and nothing is sent until the partner sets it `active` again), its signing
secret(s).

A delivery is one public event for one subscription: `pending` (due at `next_attempt_at`),
`sending` (claimed by a dispatcher until `lease_until`), `delivered`, or `dead` (given up). Each
failed attempt schedules the next after an exponential wait with jitter (tenacity's), never past
`deadline_at` = creation + a day: the last attempt is at the deadline itself, and a failure then
is final."""
from __future__ import annotations

import base64
import ipaddress
import os
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Mapping
from urllib.parse import urlsplit

import tenacity

ACTIVE, PAUSED, FAILING = "active", "paused", "failing"
SUBSCRIPTION_STATUSES = {ACTIVE: "actif", PAUSED: "en pause", FAILING: "en échec (livraisons abandonnées)"}
PENDING, SENDING, DELIVERED, DEAD = "pending", "sending", "delivered", "dead"
DELIVERY_STATUSES = {PENDING: "en attente", SENDING: "en cours d'envoi", DELIVERED: "livrée",
                     DEAD: "abandonnée après un jour d'essais"}
MAX_URL_LENGTH = 2048
MAX_SUBSCRIPTIONS_PER_OWNER = 20
SECRET_PREFIX = "whsec_"
LOCAL_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def owner_of(caller) -> str:
    """Whom a partner's subscriptions belong to: its organisation (actor id) when its token names
    one, otherwise the token's subject (an API key's client id)."""
    return caller.actor_id or caller.subject


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def new_secret() -> str:
    """A Standard Webhooks secret: whsec_ and 32 random bytes in base64 (the spec asks 24 to 64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


# --- endpoints ----------------------------------------------------------------------------------

def allow_local_http(env: Mapping[str, str] = os.environ) -> bool:
    """WEBHOOKS_ALLOW_LOCAL_HTTP=1 (local and test stacks only): http://127.0.0.1 and
    http://localhost endpoints are accepted. Never set in production."""
    return env.get("WEBHOOKS_ALLOW_LOCAL_HTTP", "").strip().lower() in {"1", "true", "yes", "on"}


def endpoint_problem(url: str, allow_local: bool = False) -> str | None:
    """Why `url` cannot receive webhooks (French), or None. HTTPS only, a host name or a public
    address, no credentials in the address; http to the loopback only when `allow_local`. Host
    names are not resolved here: the dispatcher's HTTP client connects to what DNS says."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        return f"Adresse invalide (1 à {MAX_URL_LENGTH} caractères)."
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a bad port
    except ValueError:
        return "Adresse invalide."
    host = (parts.hostname or "").lower()
    if not host or parts.scheme not in ("https", "http"):
        return "Adresse invalide : une adresse https://… est attendue."
    if parts.username or parts.password:
        return "L'adresse ne doit pas contenir d'identifiants (utilisateur:mot de passe@)."
    if parts.fragment:
        return "L'adresse ne doit pas contenir de fragment (#…)."
    if port == 0:
        return "Port invalide."
    local = host in LOCAL_HOSTS
    if parts.scheme == "http":
        if allow_local and local:
            return None
        return "HTTPS obligatoire : l'adresse doit commencer par https://."
    if local and not allow_local:
        return "Adresse locale refusée : indiquez une adresse joignable depuis Internet."
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host.endswith((".localhost", ".local", ".internal")) and not allow_local:
            return "Adresse locale refusée : indiquez une adresse joignable depuis Internet."
        return None
    if not address.is_global and not (allow_local and address.is_loopback):
        return "Adresse IP privée ou réservée refusée : indiquez une adresse joignable depuis Internet."
    return None


# --- subscriptions ------------------------------------------------------------------------------

def new_subscription(*, owner: str, url: str, event_types: list[str], towns: list[str], label: str | None,
                     now: datetime, secret: str | None = None) -> dict:
    doc = {"subscription_id": new_id("whs"), "owner": owner, "url": url, "event_types": sorted(set(event_types)),
           "towns": sorted(set(towns)), "status": ACTIVE, "secret": secret or new_secret(), "previous_secrets": [],
           "created_at": now, "updated_at": now}
    if label:
        doc["label"] = label
    return doc


def rotate_secret(subscription: dict, now: datetime, grace: timedelta) -> dict:
    """The subscription with a new secret; the old one still signs (alongside) until now + grace,
    so that the partner can switch without losing a webhook. Expired old secrets are dropped."""
    kept = [p for p in subscription.get("previous_secrets", []) if p["expires_at"] > now]
    if grace > timedelta(0):
        kept = [{"secret": subscription["secret"], "expires_at": now + grace}] + kept
    return {**subscription, "secret": new_secret(), "previous_secrets": kept[:3], "updated_at": now}


def signing_secrets(subscription: dict, now: datetime) -> list[str]:
    """The secrets a webhook is signed with now: the current one first, then any old one still in
    its grace period (the spec allows several signatures in webhook-signature)."""
    return [subscription["secret"]] + [p["secret"] for p in subscription.get("previous_secrets", [])
                                       if p["expires_at"] > now]


def wants(subscription: dict, event_type: str, town: str) -> bool:
    return (subscription["status"] == ACTIVE and event_type in subscription["event_types"]
            and town in subscription["towns"])


# --- deliveries ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class RetryPolicy:
    """Before try n+1 after n failures: tenacity's wait_exponential_jitter, initial_s * 2**(n-1)
    capped at max_s, plus up to jitter_s of random jitter; never past `give_up_after` from the
    delivery's creation (the last try is then at that deadline)."""
    initial_s: float = 30.0
    max_s: float = 3 * 3600.0
    jitter_s: float = 60.0
    give_up_after: timedelta = timedelta(hours=24)

    def __post_init__(self):
        if self.initial_s <= 0 or self.max_s < self.initial_s or self.jitter_s < 0 \
                or self.give_up_after <= timedelta(0):
            raise ValueError(f"invalid retry policy {self}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "RetryPolicy":
        return cls(initial_s=float(env.get("WEBHOOKS_RETRY_INITIAL_S", cls.initial_s)),
                   max_s=float(env.get("WEBHOOKS_RETRY_MAX_S", cls.max_s)),
                   jitter_s=float(env.get("WEBHOOKS_RETRY_JITTER_S", cls.jitter_s)),
                   give_up_after=timedelta(seconds=float(env.get("WEBHOOKS_GIVE_UP_AFTER_S",
                                                                 cls.give_up_after.total_seconds()))))

    def wait_after(self, failed_attempts: int) -> float:
        state = tenacity.RetryCallState(retry_object=None, fn=None, args=(), kwargs={})
        state.attempt_number = failed_attempts
        strategy = tenacity.wait_exponential_jitter(multiplier=self.initial_s, max=self.max_s, jitter=self.jitter_s)
        return float(strategy(state))

    def next_attempt(self, deadline: datetime, failed_at: datetime, failed_attempts: int) -> datetime | None:
        """When to try again after the `failed_attempts`-th failure at `failed_at`; None when that
        failure was at or past the deadline (give up)."""
        if failed_at >= deadline:
            return None
        return min(failed_at + timedelta(seconds=self.wait_after(failed_attempts)), deadline)


def delivery_id(subscription_id: str, event_id: str) -> str:
    """A delivery's id, derived from its subscription and event: recording the same event twice
    cannot make a second delivery. Replays get fresh ids (`new_id("dlv")`)."""
    return "dlv-" + uuid.uuid5(uuid.NAMESPACE_URL, f"vitawin-webhooks:{subscription_id}:{event_id}").hex


def new_delivery(subscription: dict, event: dict, now: datetime, policy: RetryPolicy, *,
                 replay: bool = False) -> dict:
    return {"delivery_id": new_id("dlv") if replay else delivery_id(subscription["subscription_id"], event["event_id"]),
            "subscription_id": subscription["subscription_id"], "owner": subscription["owner"],
            "event_id": event["event_id"], "event_type": event["type"], "town": event["town"],
            "status": PENDING, "attempts": 0, "created_at": now, "next_attempt_at": now,
            "deadline_at": now + policy.give_up_after, "replay": replay}


@dataclass(frozen=True)
class Outcome:
    """What one attempt gave: ok (a 2xx answer), the HTTP status if there was an answer, and for a
    failure its kind: timeout, connection, tls, http_status, redirect or other."""
    ok: bool
    status_code: int | None = None
    error: str | None = None


def after_attempt(delivery: dict, outcome: Outcome, now: datetime, policy: RetryPolicy) -> dict:
    """The fields of `delivery` to set after an attempt that ended at `now`."""
    attempts = int(delivery.get("attempts", 0)) + 1
    fields = {"attempts": attempts, "last_attempt_at": now, "last_status_code": outcome.status_code,
              "last_error": outcome.error, "lease_until": None}
    if outcome.ok:
        return {**fields, "status": DELIVERED, "delivered_at": now, "next_attempt_at": None, "last_error": None}
    following = policy.next_attempt(delivery["deadline_at"], now, attempts)
    if following is None:
        return {**fields, "status": DEAD, "dead_at": now, "next_attempt_at": None}
    return {**fields, "status": PENDING, "next_attempt_at": following}
