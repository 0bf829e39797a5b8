"""What accounts keeps in MongoDB (its own database, `Settings.from_env("accounts")`):

- `accounts`: {_id: "acc-...", email (normalised, unique), created_at, memberships: [{role,
  actor_id, display_name, school_uai?, added_at}] oldest first, sign_in_links: [the last sign-in
  links' dates, newest first]};
- `challenges`: one per sign-in link, `_id` = the SHA-256 of its token: account_id, created_at,
  expires_at, used_at (None until used); removed an hour after expiry (TTL);
- `refresh_tokens`: `_id` = the SHA-256 of the token: family_id, account_id, actor_id, created_at,
  expires_at, rotated_at, revoked_at (+ revoked_reason); removed at expiry (TTL);
- `api_keys`: `_id` = client_id: name, role, actor_id, secret_sha256, created_by, created_at,
  revoked_at;
- `erased_actors`: tombstones of erased actors, {_id: actor_id, erased_at} (ids only).

"Use once" is one atomic single-document update whose filter says "not used yet", checked by its
modified_count: never find_one_and_update, and never a top-level $or (SecantusDB, the local
MongoDB stand-in, scans the whole collection for both). No transaction is needed: each handler
and each request writes documents whose every step is safe to repeat."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from vitawin_accounts.domain import new_account_id

SIGN_IN_WINDOW = timedelta(hours=1)
CHALLENGES_KEPT_AFTER_EXPIRY = timedelta(hours=1)


class MongoAccounts:
    def __init__(self, db: Database):
        self.collection = db["accounts"]

    def ensure_indexes(self) -> None:
        self.collection.create_index([("email", ASCENDING)], unique=True)
        self.collection.create_index([("memberships.actor_id", ASCENDING)])

    def get(self, account_id: str) -> dict | None:
        return self.collection.find_one({"_id": account_id})

    def by_email(self, email: str) -> dict | None:
        return self.collection.find_one({"email": email})

    def ensure(self, email: str, now: datetime) -> dict:
        """The account of `email` (normalised), made if missing."""
        try:
            self.collection.update_one({"email": email}, {"$setOnInsert": {
                "_id": new_account_id(), "created_at": now, "memberships": []}}, upsert=True)
        except DuplicateKeyError:
            pass  # made by another consumer between this upsert's read and its write
        return self.by_email(email)

    def add_membership(self, account_id: str, membership: dict) -> bool:
        """Once per actor: False when the account holds that actor's membership already."""
        done = self.collection.update_one(
            {"_id": account_id, "memberships.actor_id": {"$ne": membership["actor_id"]}},
            {"$push": {"memberships": membership}})
        return done.modified_count == 1

    def holding(self, actor_id: str) -> list[dict]:
        """The accounts with a membership of `actor_id` (one, unless its address changed)."""
        return list(self.collection.find({"memberships.actor_id": actor_id}))

    def remove_membership(self, account_id: str, actor_id: str) -> bool:
        done = self.collection.update_one({"_id": account_id}, {"$pull": {"memberships": {"actor_id": actor_id}}})
        return done.modified_count == 1

    def delete_if_only(self, account_id: str, actor_id: str) -> bool:
        """Delete the account if `actor_id`'s is its only membership (one atomic delete: a
        membership added meanwhile keeps the account)."""
        done = self.collection.delete_one({"_id": account_id, "memberships.actor_id": actor_id,
                                           "memberships.1": {"$exists": False}})
        return done.deleted_count == 1

    def delete_if_empty(self, account_id: str) -> bool:
        """Forget the account (its e-mail with it) once it has no membership left."""
        return self.collection.delete_one({"_id": account_id, "memberships": []}).deleted_count == 1

    def record_sign_in_link(self, account_id: str, now: datetime, per_hour: int) -> bool:
        """Count one more sign-in link, atomically, unless `per_hour` were counted in the last hour:
        the dates are kept newest first, `per_hour` of them, so the limit is reached exactly when
        the oldest kept one (index per_hour - 1) is within the hour. One update, no $or."""
        if per_hour <= 0:
            return False
        done = self.collection.update_one(
            {"_id": account_id, f"sign_in_links.{per_hour - 1}": {"$not": {"$gt": now - SIGN_IN_WINDOW}}},
            {"$push": {"sign_in_links": {"$each": [now], "$position": 0, "$slice": per_hour}}})
        return done.modified_count == 1


class MongoChallenges:
    def __init__(self, db: Database):
        self.collection = db["challenges"]

    def ensure_indexes(self) -> None:
        self.collection.create_index([("account_id", ASCENDING)])
        self.collection.create_index([("expires_at", ASCENDING)],
                                     expireAfterSeconds=int(CHALLENGES_KEPT_AFTER_EXPIRY.total_seconds()))

    def add(self, doc: dict) -> None:
        self.collection.insert_one(doc)

    def get(self, token_digest: str) -> dict | None:
        return self.collection.find_one({"_id": token_digest})

    def use(self, token_digest: str, now: datetime) -> bool:
        """Mark the challenge used if it is unused and unexpired: True for exactly one caller."""
        done = self.collection.update_one({"_id": token_digest, "used_at": None, "expires_at": {"$gt": now}},
                                          {"$set": {"used_at": now}})
        return done.modified_count == 1

    def forget_account(self, account_id: str) -> int:
        return self.collection.delete_many({"account_id": account_id}).deleted_count


class MongoRefreshTokens:
    def __init__(self, db: Database):
        self.collection = db["refresh_tokens"]

    def ensure_indexes(self) -> None:
        self.collection.create_index([("family_id", ASCENDING)])
        self.collection.create_index([("actor_id", ASCENDING)])
        self.collection.create_index([("account_id", ASCENDING)])
        self.collection.create_index([("expires_at", ASCENDING)], expireAfterSeconds=0)

    def add(self, doc: dict) -> None:
        self.collection.insert_one(doc)

    def get(self, token_digest: str) -> dict | None:
        return self.collection.find_one({"_id": token_digest})

    def rotate(self, token_digest: str, now: datetime) -> bool:
        """Mark the token rotated if it is current (neither rotated nor revoked) and unexpired:
        True for exactly one caller."""
        done = self.collection.update_one(
            {"_id": token_digest, "rotated_at": None, "revoked_at": None, "expires_at": {"$gt": now}},
            {"$set": {"rotated_at": now}})
        return done.modified_count == 1

    def revoke(self, token_digest: str, now: datetime, reason: str) -> bool:
        done = self.collection.update_one({"_id": token_digest, "revoked_at": None},
                                          {"$set": {"revoked_at": now, "revoked_reason": reason}})
        return done.modified_count == 1

    def revoke_family(self, family_id: str, now: datetime, reason: str) -> int:
        return self.collection.update_many({"family_id": family_id, "revoked_at": None},
                                           {"$set": {"revoked_at": now, "revoked_reason": reason}}).modified_count

    def revoke_actor(self, actor_id: str, now: datetime, reason: str) -> int:
        """Every refresh token issued for `actor_id`."""
        return self.collection.update_many({"actor_id": actor_id, "revoked_at": None},
                                           {"$set": {"revoked_at": now, "revoked_reason": reason}}).modified_count

    def forget_account(self, account_id: str) -> int:
        return self.collection.delete_many({"account_id": account_id}).deleted_count


class MongoApiKeys:
    PUBLIC = {"_id": False, "secret_sha256": False}

    def __init__(self, db: Database):
        self.collection = db["api_keys"]

    def ensure_indexes(self) -> None:
        self.collection.create_index([("created_at", DESCENDING)])
        self.collection.create_index([("actor_id", ASCENDING)])

    def add(self, doc: dict) -> None:
        self.collection.insert_one(doc)

    def get(self, client_id: str) -> dict | None:
        """With its secret's hash (client_credentials)."""
        return self.collection.find_one({"_id": client_id})

    def public(self, client_id: str) -> dict | None:
        return self.collection.find_one({"_id": client_id}, self.PUBLIC)

    def all(self, limit: int = 500) -> list[dict]:
        """Newest first, without their secrets' hashes."""
        cursor = self.collection.find({}, self.PUBLIC)
        return list(cursor.sort([("created_at", DESCENDING), ("_id", DESCENDING)]).limit(limit))

    def revoke(self, client_id: str, now: datetime) -> bool:
        """True when the key exists (revoked now or before)."""
        self.collection.update_one({"_id": client_id, "revoked_at": None}, {"$set": {"revoked_at": now}})
        return self.collection.find_one({"_id": client_id}, {"_id": True}) is not None

    def revoke_actor(self, actor_id: str, now: datetime) -> int:
        return self.collection.update_many({"actor_id": actor_id, "revoked_at": None},
                                           {"$set": {"revoked_at": now}}).modified_count


class MongoErasedActors:
    """Tombstones of erased actors (ids only): a registration read after the erasure (the
    `contacts` and `actors` channels are not ordered with each other) makes no membership."""

    def __init__(self, db: Database):
        self.collection = db["erased_actors"]

    def ensure_indexes(self) -> None:
        pass  # read by _id only

    def add(self, actor_id: str, now: datetime) -> None:
        self.collection.update_one({"_id": actor_id}, {"$setOnInsert": {"erased_at": now}}, upsert=True)

    def contains(self, actor_id: str) -> bool:
        return self.collection.find_one({"_id": actor_id}, {"_id": True}) is not None


@dataclass
class Stores:
    """The repositories, over one database (MongoDB, or a fake with the same methods)."""
    accounts: MongoAccounts
    challenges: MongoChallenges
    refresh_tokens: MongoRefreshTokens
    api_keys: MongoApiKeys
    erased_actors: MongoErasedActors

    @classmethod
    def over(cls, db: Database) -> "Stores":
        return cls(MongoAccounts(db), MongoChallenges(db), MongoRefreshTokens(db), MongoApiKeys(db),
                   MongoErasedActors(db))

    def ensure_indexes(self) -> None:
        for store in (self.accounts, self.challenges, self.refresh_tokens, self.api_keys, self.erased_actors):
            store.ensure_indexes()
