"""What the webhooks service keeps in MongoDB, and its unit of work (documents + outbox in one
transaction). No personal data anywhere here:

- `request_facts`, `pledge_facts`, `initiative_facts`, `organisation_facts`, `accepted_proposals`:
  the translator's read model (see `public`);
- `public_events`: every public event, as published, for the deliveries and for replays (kept for
  the public topics' retention, 30 days);
- `subscriptions`: the partners' endpoints, event types, towns, status and signing secrets;
- `deliveries`: one per (subscription, public event), and one per replay."""
from __future__ import annotations

from datetime import datetime

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database

from vitawin_common import mongo
from vitawin_common.config import Settings
from vitawin_common.outbox import Outbox
from vitawin_common.uow import UnitOfWork

from vitawin_webhooks import domain, topics

NO_ID = {"_id": False}


class _Repository:
    collection_name = ""
    id_field = ""
    indexes: tuple = ()

    def __init__(self, db: Database):
        self.collection: Collection = db[self.collection_name]
        self.session = None

    def ensure_indexes(self) -> None:
        for keys in self.indexes:
            self.collection.create_index(keys)

    def get(self, id_: str) -> dict | None:
        return self.collection.find_one({"_id": id_}, NO_ID, session=self.session)

    def add(self, doc: dict) -> None:
        self.collection.insert_one({"_id": doc[self.id_field], **doc}, session=self.session)

    def put(self, doc: dict) -> None:
        self.collection.replace_one({"_id": doc[self.id_field]}, {"_id": doc[self.id_field], **doc}, upsert=True,
                                    session=self.session)

    def delete(self, id_: str) -> None:
        self.collection.delete_one({"_id": id_}, session=self.session)


class RequestFacts(_Repository):
    collection_name, id_field = "request_facts", "request_id"


class PledgeFacts(_Repository):
    collection_name, id_field = "pledge_facts", "volunteer_id"


class InitiativeFacts(_Repository):
    collection_name, id_field = "initiative_facts", "initiative_id"


class OrganisationFacts(_Repository):
    collection_name, id_field = "organisation_facts", "actor_id"


class AcceptedProposals(_Repository):
    collection_name, id_field = "accepted_proposals", "proposal_id"


class PublicEvents(_Repository):
    collection_name, id_field = "public_events", "event_id"
    indexes = ([("time", ASCENDING)],)

    def since(self, moment: datetime, types: list[str], towns: list[str], limit: int) -> list[dict]:
        cursor = self.collection.find({"time": {"$gte": moment}, "type": {"$in": list(types)},
                                       "town": {"$in": list(towns)}}, NO_ID, session=self.session)
        return list(cursor.sort([("time", ASCENDING), ("_id", ASCENDING)]).limit(limit))

    def purge_before(self, moment: datetime) -> int:
        return self.collection.delete_many({"time": {"$lt": moment}}, session=self.session).deleted_count


class Subscriptions(_Repository):
    collection_name, id_field = "subscriptions", "subscription_id"
    indexes = ([("owner", ASCENDING), ("created_at", DESCENDING)], [("status", ASCENDING)])

    def list(self, owner: str | None, limit: int) -> list[dict]:
        query = {} if owner is None else {"owner": owner}
        cursor = self.collection.find(query, NO_ID, session=self.session)
        return list(cursor.sort([("created_at", DESCENDING), ("_id", DESCENDING)]).limit(limit))

    def count(self, owner: str) -> int:
        return self.collection.count_documents({"owner": owner}, session=self.session)

    def matching(self, event_type: str, town: str) -> list[dict]:
        """Active subscriptions that want `event_type` in `town`."""
        return list(self.collection.find({"status": domain.ACTIVE, "event_types": event_type, "towns": town},
                                         NO_ID, session=self.session))

    def active(self) -> list[dict]:
        return list(self.collection.find({"status": domain.ACTIVE}, NO_ID, session=self.session))

    def flag_failing(self, subscription_id: str, at: datetime) -> bool:
        """Active -> failing; True if it changed (a paused one stays paused)."""
        result = self.collection.update_one({"_id": subscription_id, "status": domain.ACTIVE},
                                            {"$set": {"status": domain.FAILING, "failing_since": at, "updated_at": at}},
                                            session=self.session)
        return result.modified_count == 1


class Deliveries(_Repository):
    collection_name, id_field = "deliveries", "delivery_id"
    indexes = ([("subscription_id", ASCENDING), ("created_at", DESCENDING)],
               [("subscription_id", ASCENDING), ("status", ASCENDING), ("next_attempt_at", ASCENDING)],  # due()
               [("status", ASCENDING), ("next_attempt_at", ASCENDING)],
               [("status", ASCENDING), ("lease_until", ASCENDING)])

    def add_many(self, docs: list[dict]) -> None:
        if docs:
            self.collection.insert_many([{"_id": d["delivery_id"], **d} for d in docs], ordered=True,
                                        session=self.session)

    def list(self, subscription_id: str, status: str | None, limit: int) -> list[dict]:
        query = {"subscription_id": subscription_id}
        if status:
            query["status"] = status
        cursor = self.collection.find(query, NO_ID, session=self.session)
        return list(cursor.sort([("created_at", DESCENDING), ("_id", DESCENDING)]).limit(limit))

    def due(self, subscription_id: str, now: datetime, limit: int) -> list[dict]:
        cursor = self.collection.find({"subscription_id": subscription_id, "status": domain.PENDING,
                                       "next_attempt_at": {"$lte": now}}, NO_ID, session=self.session)
        return list(cursor.sort([("next_attempt_at", ASCENDING), ("_id", ASCENDING)]).limit(limit))

    def claim(self, delivery_id: str, now: datetime, lease_until: datetime) -> dict | None:
        """pending and due -> sending until `lease_until`, atomically: one dispatcher only."""
        return self.collection.find_one_and_update(
            {"_id": delivery_id, "status": domain.PENDING, "next_attempt_at": {"$lte": now}},
            {"$set": {"status": domain.SENDING, "lease_until": lease_until}},
            projection=NO_ID, return_document=ReturnDocument.AFTER, session=self.session)

    def update(self, delivery_id: str, fields: dict) -> None:
        self.collection.update_one({"_id": delivery_id}, {"$set": fields}, session=self.session)

    def release_stale(self, now: datetime) -> int:
        """Deliveries claimed by a dispatcher that died (lease over) go back to pending, due now."""
        result = self.collection.update_many({"status": domain.SENDING, "lease_until": {"$lt": now}},
                                             {"$set": {"status": domain.PENDING, "next_attempt_at": now,
                                                       "lease_until": None}}, session=self.session)
        return result.modified_count

    def delete_for(self, subscription_id: str) -> int:
        return self.collection.delete_many({"subscription_id": subscription_id}, session=self.session).deleted_count


class WebhooksUnitOfWork(UnitOfWork):
    def __init__(self, client, db: Database, outbox: Outbox):
        super().__init__(client, db, outbox)
        self.requests = self.attach(RequestFacts(db))
        self.pledges = self.attach(PledgeFacts(db))
        self.initiatives = self.attach(InitiativeFacts(db))
        self.organisations = self.attach(OrganisationFacts(db))
        self.accepted = self.attach(AcceptedProposals(db))
        self.events = self.attach(PublicEvents(db))
        self.subscriptions = self.attach(Subscriptions(db))
        self.deliveries = self.attach(Deliveries(db))

    @classmethod
    def from_settings(cls, settings: Settings) -> "WebhooksUnitOfWork":
        """This process's client, the service's database, and an outbox that knows the public
        topics (partners.asyncapi.yaml) as well as the internal ones."""
        db = mongo.database(settings)
        return cls(mongo.client(settings), db, Outbox(db, topics.load(settings.contracts_dir)))


def event_document(event) -> dict:
    """A public event as `public_events` keeps it (and as signing.body_of reads it)."""
    return {"event_id": event.id, "type": event.type, "source": event.source, "subject": event.subject,
            "time": event.time, "town": event.data["town"], "data": event.data}
