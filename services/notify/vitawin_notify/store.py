"""What notify keeps in MongoDB, and its unit of work (documents + outbox in one transaction).

- `deliveries`: one document per email (`_id` = delivery key): status, attempts, template, the
  subject's id, the recipient's address hash; the email itself (`job`, address included) only
  while it waits for a retry or a digest, removed once settled.
- `digest_items`: emails waiting for a person's daily or weekly digest.
- `remembered_proposals`: what the emails after a proposal need (both parties' addresses, labels,
  deadline, whether the professional was reminded), forgotten when the proposal is settled and
  a retention delay has passed.
- `contacts`: the contact book from the `contacts` channel (school referents by UAI), forgotten
  on `actor.erased.v1`.
- `requesters`: request id -> the pupil who made it (pseudonymous actor id) and the request's
  school, from the internal `requesters` channel, so that the pupil's guardian can get copies of
  the request's proposals; forgotten on the pupil's `actor.erased.v1`."""
from __future__ import annotations

from datetime import datetime

from pymongo import ASCENDING
from pymongo.database import Database

from vitawin_common import contracts, mongo
from vitawin_common.config import Settings
from vitawin_common.outbox import Outbox
from vitawin_common.uow import UnitOfWork


class MongoDeliveries:
    indexes = ([("recipient_sha256", ASCENDING), ("at", ASCENDING)], [("subject_id", ASCENDING), ("at", ASCENDING)])

    def __init__(self, db: Database):
        self.collection = db["deliveries"]
        self.session = None

    def ensure_indexes(self) -> None:
        for keys in self.indexes:
            self.collection.create_index(keys)

    def get(self, key: str) -> dict | None:
        return self.collection.find_one({"_id": key}, session=self.session)

    def status(self, key: str) -> str | None:
        doc = self.collection.find_one({"_id": key}, {"status": 1}, session=self.session)
        return doc.get("status") if doc else None

    def attempts(self, key: str) -> int:
        doc = self.collection.find_one({"_id": key}, {"attempts": 1}, session=self.session)
        return int(doc.get("attempts", 0)) if doc else 0

    def record(self, key: str, *, status: str, attempts: int, at: datetime, recipient_hash: str,
               job: dict | None = None, **fields) -> None:
        """The delivery's new state; the kept email (`job`) goes unless given again."""
        update: dict = {"$set": {"status": status, "attempts": attempts, "at": at,
                                 "recipient_sha256": recipient_hash, **fields},
                        "$setOnInsert": {"first_at": at}}
        if job is None:
            update["$unset"] = {"job": "", "next_at": ""}
        else:
            update["$set"]["job"] = job
        if status == "sent":
            update["$set"]["sent_at"] = at
        self.collection.update_one({"_id": key}, update, upsert=True, session=self.session)

    def for_subject(self, subject_id: str) -> list[dict]:
        cursor = self.collection.find({"subject_id": subject_id}, {"_id": 0, "job": 0, "recipient_sha256": 0},
                                      session=self.session)
        return list(cursor.sort([("first_at", ASCENDING), ("template", ASCENDING)]))

    def for_recipient(self, recipient_hash: str, limit: int = 200) -> list[dict]:
        cursor = self.collection.find({"recipient_sha256": recipient_hash}, {"_id": 0, "job": 0, "recipient_sha256": 0},
                                      session=self.session)
        return list(cursor.sort([("at", ASCENDING)]).limit(limit))


class MongoDigests:
    def __init__(self, db: Database):
        self.collection = db["digest_items"]
        self.session = None

    def ensure_indexes(self) -> None:
        self.collection.create_index([("recipient_sha256", ASCENDING), ("queued_at", ASCENDING)])
        self.collection.create_index([("mode", ASCENDING), ("queued_at", ASCENDING)])

    def add(self, key: str, *, recipient_hash: str, mode: str, job: dict, queued_at: datetime) -> None:
        self.collection.update_one({"_id": key}, {"$setOnInsert": {
            "recipient_sha256": recipient_hash, "mode": mode, "job": job, "queued_at": queued_at}},
            upsert=True, session=self.session)

    def recipients_due(self, mode: str, queued_before: datetime) -> list[str]:
        return sorted(self.collection.distinct("recipient_sha256", {"mode": mode, "queued_at": {"$lt": queued_before}},
                                               session=self.session))

    def items(self, recipient_hash: str, queued_before: datetime, mode: str) -> list[dict]:
        cursor = self.collection.find({"recipient_sha256": recipient_hash, "mode": mode,
                                       "queued_at": {"$lt": queued_before}}, session=self.session)
        return list(cursor.sort([("queued_at", ASCENDING), ("_id", ASCENDING)]))

    def remove(self, keys: list[str]) -> None:
        self.collection.delete_many({"_id": {"$in": keys}}, session=self.session)

    def forget_recipient(self, recipient_hash: str) -> int:
        """GDPR erasure: an erased person's queued emails go, address and all."""
        return self.collection.delete_many({"recipient_sha256": recipient_hash}, session=self.session).deleted_count


class MongoRememberedProposals:
    def __init__(self, db: Database):
        self.collection = db["remembered_proposals"]
        self.session = None

    def ensure_indexes(self) -> None:
        self.collection.create_index([("status", ASCENDING), ("created_at", ASCENDING)])

    def remember(self, doc: dict) -> None:
        self.collection.update_one({"_id": doc["proposal_id"]}, {"$setOnInsert": doc}, upsert=True,
                                   session=self.session)

    def get(self, proposal_id: str) -> dict | None:
        return self.collection.find_one({"_id": proposal_id}, {"_id": 0}, session=self.session)

    def settle(self, proposal_id: str, status: str, at: datetime) -> None:
        """Once: a redelivered outcome does not restart the forgetting delay."""
        self.collection.update_one({"_id": proposal_id, "settled_at": None},
                                   {"$set": {"status": status, "settled_at": at}}, session=self.session)

    def set_status(self, proposal_id: str, status: str) -> None:
        """An intermediate status (awaiting_confirmation), never over a settled one (a late or
        replayed event)."""
        self.collection.update_one({"_id": proposal_id, "settled_at": None}, {"$set": {"status": status}},
                                   session=self.session)

    def due_for_reminder(self, created_before: datetime, now: datetime, limit: int = 500) -> list[dict]:
        cursor = self.collection.find({"status": "pending", "reminded_at": None, "created_at": {"$lte": created_before},
                                       "deadline_at": {"$gt": now}}, {"_id": 0}, session=self.session)
        return list(cursor.sort([("created_at", ASCENDING)]).limit(limit))

    def mark_reminded(self, proposal_id: str, at: datetime) -> bool:
        # update_one, not find_one_and_update: a findAndModify scans the collection on SecantusDB
        done = self.collection.update_one({"_id": proposal_id, "reminded_at": None}, {"$set": {"reminded_at": at}},
                                          session=self.session)
        return done.modified_count == 1

    def forget_settled(self, settled_before: datetime) -> int:
        return self.collection.delete_many({"settled_at": {"$lt": settled_before}}, session=self.session).deleted_count

    def forget_addresses_of(self, email_hashes: set[str]) -> None:
        """GDPR erasure: no remembered proposal keeps an erased person's address."""
        for field in ("volunteer_email", "requester_email"):
            self.collection.update_many({f"{field}_sha256": {"$in": sorted(email_hashes)}},
                                        {"$unset": {field: ""}}, session=self.session)


class MongoContacts:
    def __init__(self, db: Database):
        self.collection = db["contacts"]
        self.session = None

    def ensure_indexes(self) -> None:
        self.collection.create_index([("kind", ASCENDING), ("school_uai", ASCENDING)])

    def add(self, doc: dict) -> None:
        self.collection.replace_one({"_id": doc["actor_id"]}, doc, upsert=True, session=self.session)

    def get(self, actor_id: str) -> dict | None:
        return self.collection.find_one({"_id": actor_id}, {"_id": 0}, session=self.session)

    def referent_of(self, school_uai: str) -> dict | None:
        """The school's contact (its referent teacher): the latest registration of that UAI."""
        cursor = self.collection.find({"kind": "school", "school_uai": school_uai}, {"_id": 0},
                                      session=self.session).sort([("registered_at", -1)]).limit(1)
        return next(iter(cursor), None)

    def forget(self, actor_id: str) -> None:
        self.collection.delete_one({"_id": actor_id}, session=self.session)


class MongoRequesters:
    """The link request -> pupil of pupils' requests (fr.vitawin.request.requester.v1): ids only,
    {request_id, requester_actor_id, school_uai}, keyed by request id (a redelivery rewrites the
    same document). Never logged: the pupil's actor id stays in notify's database."""

    def __init__(self, db: Database):
        self.collection = db["requesters"]
        self.session = None

    def ensure_indexes(self) -> None:
        self.collection.create_index([("requester_actor_id", ASCENDING)])

    def add(self, doc: dict) -> None:
        self.collection.replace_one({"_id": doc["request_id"]}, doc, upsert=True, session=self.session)

    def get(self, request_id: str) -> dict | None:
        return self.collection.find_one({"_id": request_id}, {"_id": 0}, session=self.session)

    def forget_actor(self, actor_id: str) -> int:
        """GDPR erasure: every link to that pupil goes."""
        return self.collection.delete_many({"requester_actor_id": actor_id}, session=self.session).deleted_count


class MongoPupilRequests:
    """The open requests of each school's pupils and their proposals, for the referents' weekly
    digest: what was asked (kind, level, town, when), never by whom. Idempotent under
    redelivery: proposals are kept as sets of ids."""

    def __init__(self, db: Database):
        self.collection = db["pupil_requests"]
        self.session = None

    def ensure_indexes(self) -> None:
        self.collection.create_index([("school_uai", ASCENDING), ("status", ASCENDING)])

    def track(self, doc: dict) -> None:
        self.collection.update_one({"_id": doc["request_id"]}, {"$setOnInsert": {
            **doc, "status": "open", "pending": [], "accepted": []}}, upsert=True, session=self.session)

    def close(self, request_id: str, status: str) -> None:
        self.collection.update_one({"_id": request_id}, {"$set": {"status": status}}, session=self.session)

    def proposal_made(self, request_id: str, proposal_id: str) -> None:
        self.collection.update_one({"_id": request_id}, {"$addToSet": {"pending": proposal_id}}, session=self.session)

    def proposal_settled(self, request_id: str, proposal_id: str, accepted: bool) -> None:
        update: dict = {"$pull": {"pending": proposal_id}}
        if accepted:
            update["$addToSet"] = {"accepted": proposal_id}
        self.collection.update_one({"_id": request_id}, update, session=self.session)

    def schools_with_open_requests(self) -> list[str]:
        return sorted(self.collection.distinct("school_uai", {"status": "open"}, session=self.session))

    def open_for(self, school_uai: str) -> list[dict]:
        cursor = self.collection.find({"school_uai": school_uai, "status": "open"}, session=self.session)
        return list(cursor.sort([("created_at", ASCENDING), ("_id", ASCENDING)]))


class NotifyUnitOfWork(UnitOfWork):
    """Notify's repositories over one MongoDB session, and its outbox (notification events, retry
    messages, dead-letter entries)."""

    def __init__(self, client, db: Database, outbox: Outbox, preferences=None):
        super().__init__(client, db, outbox)
        self.deliveries = self.attach(MongoDeliveries(db))
        self.digests = self.attach(MongoDigests(db))
        self.proposals = self.attach(MongoRememberedProposals(db))
        self.contacts = self.attach(MongoContacts(db))
        self.pupil_requests = self.attach(MongoPupilRequests(db))
        self.requesters = self.attach(MongoRequesters(db))
        if preferences is not None:
            self.preferences = self.attach(preferences)

    @classmethod
    def from_settings(cls, settings: Settings, preferences_factory=None):
        db = mongo.database(settings)
        preferences = preferences_factory(db) if preferences_factory else None
        return cls(mongo.client(settings), db, Outbox(db, contracts.load(settings.contracts_dir)), preferences)
