"""What each recipient wants, the answer links already used, and the deliveries of one recipient.

Recipients are known by their address hash only (domain.recipient_hash: sha256 of the lowercased
address): no address in clear is stored here.

- Preferences, per recipient: a mode per category (`proposals`, `requests`: `immediate` by
  default, `daily` or `weekly` digest) and the categories they unsubscribed from. `account` emails
  (welcome, pledge confirmation, erasure) are transactional: always sent. One switch besides:
  `reminders` (`on` by default, `off`: no reminder of a proposal still to answer, the proposal's
  own emails still go). MongoDB collection `preferences`, `_id` = recipient hash: {modes:
  {category: mode}, unsubscribed: {category or switch: when}, updated_at}.
- Used answer links: collection `used_links`, `_id` = the link's jti, {proposal_id, used_at,
  expires_at}; `mark_used` is one insert (the unique `_id` makes it atomic: a second click, even
  at the same moment, gets False). Documents go with a TTL index a day after the link expired
  (an expired link is refused anyway).
- `MongoRecipientDeliveries.for_recipient`: the operator's view of what was sent to one address,
  over the `deliveries` collection (one document per email, with `recipient_sha256`), read only.

In-memory stand-ins with the same rules (`InMemoryPreferences`, `InMemoryUsedLinks`) serve the
unit tests."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterable, Mapping, Protocol

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

CATEGORIES = ("proposals", "requests")  # what a person can unsubscribe from, or get as a digest
TRANSACTIONAL = "account"
IMMEDIATE, DAILY, WEEKLY = "immediate", "daily", "weekly"
MODES = (IMMEDIATE, DAILY, WEEKLY)
DEFAULT_MODE = IMMEDIATE
OFF = "off"  # in the preferences API: unsubscribed
CHOICES = MODES + (OFF,)
REMINDERS = "reminders"  # a switch, not a category of emails: reminders are `proposals` emails
ON = "on"
SWITCHES = (REMINDERS,)  # on (default) or off
SWITCH_CHOICES = (ON, OFF)
USED_LINK_KEPT_AFTER_EXPIRY = timedelta(days=1)


@dataclass(frozen=True)
class Preferences:
    recipient: str  # the address hash
    modes: Mapping[str, str] = field(default_factory=dict)  # category -> mode; absent: immediate
    unsubscribed: frozenset[str] = frozenset()

    def mode(self, category: str) -> str:
        return self.modes.get(category, DEFAULT_MODE)

    def sends(self, category: str) -> bool:
        """Whether emails of `category` may go to this recipient at all (account ones always)."""
        return category == TRANSACTIONAL or category not in self.unsubscribed

    def choice(self, category: str) -> str:
        """The mode, or `off` when unsubscribed (as the preferences API shows it)."""
        return OFF if category in self.unsubscribed else self.mode(category)

    def wants(self, switch: str) -> bool:
        """Whether the switch (`reminders`) is on: it is unless turned off."""
        return switch not in self.unsubscribed

    def choices(self) -> dict[str, str]:
        shown = {category: self.choice(category) for category in CATEGORIES}
        shown.update({switch: ON if self.wants(switch) else OFF for switch in SWITCHES})
        return shown


def _check_category(category: str) -> None:
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}")


def _check_choices(choices: Mapping[str, str]) -> None:
    for category, choice in choices.items():
        if category in SWITCHES:
            if choice not in SWITCH_CHOICES:
                raise ValueError(f"unknown choice {choice!r} for {category!r}")
            continue
        _check_category(category)
        if choice not in CHOICES:
            raise ValueError(f"unknown choice {choice!r}")


class PreferenceStore(Protocol):
    def get(self, recipient: str) -> Preferences: ...
    def mode(self, recipient: str, category: str) -> str: ...
    def unsubscribe(self, recipient: str, category: str, now: datetime) -> None: ...
    def choose(self, recipient: str, choices: Mapping[str, str], now: datetime) -> Preferences: ...


class UsedLinkStore(Protocol):
    def is_used(self, jti: str) -> bool: ...
    def mark_used(self, jti: str, proposal_id: str, now: datetime, expires_at: datetime | None = None) -> bool: ...
    def release(self, jti: str) -> None: ...


# --- MongoDB ---------------------------------------------------------------------------------------
class MongoPreferences:
    """`session`: set by a unit of work that attaches this repository (store.NotifyUnitOfWork)."""

    def __init__(self, db: Database):
        self.collection = db["preferences"]
        self.session = None

    def get(self, recipient: str) -> Preferences:
        doc = self.collection.find_one({"_id": recipient}, session=self.session)
        return _from_doc(recipient, doc)

    def mode(self, recipient: str, category: str) -> str:
        """immediate, daily, weekly, or off (unsubscribed): read just before each send."""
        return self.get(recipient).choice(category)

    def unsubscribe(self, recipient: str, category: str, now: datetime) -> None:
        """At once and idempotent: a second unsubscribe only moves the date."""
        _check_category(category)
        self.collection.update_one({"_id": recipient},
                                   {"$set": {f"unsubscribed.{category}": now, "updated_at": now}}, upsert=True,
                                   session=self.session)

    def choose(self, recipient: str, choices: Mapping[str, str], now: datetime) -> Preferences:
        """`choices`: category -> immediate|daily|weekly|off; categories not given are left as
        they are. A mode other than `off` subscribes the category again."""
        _check_choices(choices)
        update = _choices_update(choices, now)
        self.collection.update_one({"_id": recipient}, update, upsert=True, session=self.session)
        return self.get(recipient)


def _choices_update(choices: Mapping[str, str], now: datetime) -> dict:
    to_set: dict = {"updated_at": now}
    to_unset: dict = {}
    for category, choice in choices.items():
        if choice == OFF:
            to_set[f"unsubscribed.{category}"] = now
        else:
            if category not in SWITCHES:
                to_set[f"modes.{category}"] = choice
            to_unset[f"unsubscribed.{category}"] = ""
    return {"$set": to_set, **({"$unset": to_unset} if to_unset else {})}


def _from_doc(recipient: str, doc: Mapping | None) -> Preferences:
    if not doc:
        return Preferences(recipient)
    modes = {c: m for c, m in (doc.get("modes") or {}).items() if c in CATEGORIES and m in MODES}
    unsubscribed = frozenset(c for c in (doc.get("unsubscribed") or {}) if c in CATEGORIES + SWITCHES)
    return Preferences(recipient, modes, unsubscribed)


class MongoUsedLinks:
    def __init__(self, db: Database):
        self.collection = db["used_links"]

    def ensure_indexes(self) -> None:
        self.collection.create_index([("expires_at", ASCENDING)],
                                     expireAfterSeconds=int(USED_LINK_KEPT_AFTER_EXPIRY.total_seconds()))

    def is_used(self, jti: str) -> bool:
        return self.collection.count_documents({"_id": jti}, limit=1) > 0

    def mark_used(self, jti: str, proposal_id: str, now: datetime, expires_at: datetime | None = None) -> bool:
        """True if this call marked it; False if the link was already used (atomic: unique _id)."""
        doc = {"_id": jti, "proposal_id": proposal_id, "used_at": now}
        if expires_at is not None:
            doc["expires_at"] = expires_at
        try:
            self.collection.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    def release(self, jti: str) -> None:
        """Forget a use that did not go through (matching unreachable), so the person can retry."""
        self.collection.delete_one({"_id": jti})


class MongoRecipientDeliveries:
    """The `deliveries` collection (one document per email, keyed by delivery key), read by
    recipient, newest first (`at`: the delivery's last change; older documents have `sent_at` only)."""

    def __init__(self, db: Database):
        self.collection = db["deliveries"]

    def ensure_indexes(self) -> None:
        self.collection.create_index([("recipient_sha256", ASCENDING), ("at", ASCENDING)])

    def for_recipient(self, recipient: str, limit: int = 200) -> list[dict]:
        cursor = self.collection.find({"recipient_sha256": recipient},
                                      {"_id": 0, "template": 1, "status": 1, "sent_at": 1, "at": 1, "attempts": 1,
                                       "subject_id": 1, "proposal_id": 1})
        cursor = cursor.sort([("at", DESCENDING), ("sent_at", DESCENDING)]).limit(limit)
        return [delivery_view(doc) for doc in cursor]


def delivery_view(doc: Mapping) -> dict:
    """What the operator sees of one delivery: template, status, sent_at, attempts, subject_id (the
    proposal, request or actor it is about); never an address."""
    view = {"template": doc.get("template"), "status": doc.get("status"), "sent_at": doc.get("sent_at"),
            "subject_id": doc.get("subject_id") or doc.get("proposal_id")}
    if doc.get("attempts") is not None:
        view["attempts"] = doc["attempts"]
    return view


def _newest_first_key(doc: Mapping) -> tuple[float, float]:
    def stamp(value):
        return value.timestamp() if isinstance(value, datetime) else float("-inf")
    return stamp(doc.get("at")), stamp(doc.get("sent_at"))


def prepare(db: Database) -> None:
    """The indexes of the collections above (idempotent)."""
    MongoUsedLinks(db).ensure_indexes()
    MongoRecipientDeliveries(db).ensure_indexes()


# --- In memory (unit tests) ------------------------------------------------------------------------
class InMemoryPreferences:
    def __init__(self):
        self.docs: dict[str, dict] = {}

    def get(self, recipient: str) -> Preferences:
        return _from_doc(recipient, self.docs.get(recipient))

    def mode(self, recipient: str, category: str) -> str:
        return self.get(recipient).choice(category)

    def unsubscribe(self, recipient: str, category: str, now: datetime) -> None:
        _check_category(category)
        doc = self.docs.setdefault(recipient, {"modes": {}, "unsubscribed": {}})
        doc["unsubscribed"][category] = now
        doc["updated_at"] = now

    def choose(self, recipient: str, choices: Mapping[str, str], now: datetime) -> Preferences:
        _check_choices(choices)
        doc = self.docs.setdefault(recipient, {"modes": {}, "unsubscribed": {}})
        for category, choice in choices.items():
            if choice == OFF:
                doc["unsubscribed"][category] = now
            else:
                if category not in SWITCHES:
                    doc["modes"][category] = choice
                doc["unsubscribed"].pop(category, None)
        doc["updated_at"] = now
        return self.get(recipient)


class InMemoryUsedLinks:
    def __init__(self):
        self.docs: dict[str, dict] = {}

    def is_used(self, jti: str) -> bool:
        return jti in self.docs

    def mark_used(self, jti: str, proposal_id: str, now: datetime, expires_at: datetime | None = None) -> bool:
        if jti in self.docs:
            return False
        self.docs[jti] = {"proposal_id": proposal_id, "used_at": now, "expires_at": expires_at}
        return True

    def release(self, jti: str) -> None:
        self.docs.pop(jti, None)


class InMemoryRecipientDeliveries:
    """Deliveries as documents of the `deliveries` collection (recipient_sha256, template, ...)."""

    def __init__(self, docs: Iterable[Mapping] = ()):
        self.docs = [dict(doc) for doc in docs]

    def for_recipient(self, recipient: str, limit: int = 200) -> list[dict]:
        found = [doc for doc in self.docs if doc.get("recipient_sha256") == recipient]
        found.sort(key=_newest_first_key, reverse=True)
        return [delivery_view(doc) for doc in found[:limit]]
