"""MongoDB side of matching: the read models (`volunteers`, `requests`), the `proposals`
collection, the volunteers' `counters`, and the unit of work (vitawin_common.uow) that writes
proposals and their outbox entries together.

Transaction granularity: ONE TRANSACTION FOR THE PROPOSALS OF A SEARCH (of the searches of a
batch of new requests, handlers.on_requests_created), one per proposal when that one meets a
conflict.
- The store of the incoming entity must be committed before the search (see handlers.py): it is
  a single-document upsert on its own, outside any transaction.
- A request's search proposes its best candidates together: its slots, the volunteers' weekly
  contacts, the proposals and their outbox entries, in one transaction of six commands whatever
  the number of proposals (`take_slots`, `take_many`, `add_many`, `publish_many`). In a MongoDB
  transaction a duplicate key error aborts the whole transaction: when one of the pairs was
  proposed meanwhile, or a volunteer reached its weekly cap since the search read its counters,
  or another worker moved the request's slots, nothing of it is written and the handler proposes
  the same candidates again one transaction each, where such an abort is exactly "skip this pair".
- A volunteer's search (a pledge against the open requests) proposes one transaction per request:
  short transactions hold fewer documents, so they collide less with the other workers taking
  slots on the same requests.
A crash between two transactions leaves the first ones committed; the redelivered event skips them
and makes the rest (handlers.py explains why that is still "at most once" per proposal). A
transient error (e.g. a write conflict on a request's slot counter) propagates: the consumer loop
retries the event from the same offset, which is safe for the same reason."""
from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from typing import Iterable

from pymongo import ASCENDING, DESCENDING, MongoClient, UpdateOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from vitawin_common.outbox import Outbox
from vitawin_common.periods import MonthPeriod
from vitawin_common.uow import UnitOfWork

from vitawin_matching.domain import (ACTIVE, CLOSED, OPEN, WITHDRAWN, ActionOffer, BoundingBox, Location, Proposal,
                                    Request, Volunteer, is_newer)
from vitawin_matching.handlers import ConcurrentAnswer, ProposalExists
from vitawin_matching.workflow import DEFAULT_ANSWER_DAYS, PENDING, ProposalState


def ensure_indexes(db: Database, outbox: Outbox) -> None:
    db["volunteers"].create_index([("action_types", ASCENDING), ("location.lat", ASCENDING),
                                   ("location.lon", ASCENDING)])
    db["volunteers"].create_index([("changed_at", ASCENDING)])
    db["requests"].create_index([("status", ASCENDING), ("action_type", ASCENDING),
                                 ("location.lat", ASCENDING), ("location.lon", ASCENDING)])
    db["proposals"].create_index([("request_id", ASCENDING), ("rank", ASCENDING)])
    db["proposals"].create_index([("volunteer_id", ASCENDING), ("created_at", DESCENDING)])
    db["proposals"].create_index([("created_at", DESCENDING)])
    db["proposals"].create_index([("status", ASCENDING), ("deadline", ASCENDING)])
    # what a professional or a school's referent may list (api.visible_scope), newest first
    db["proposals"].create_index([("volunteer_actor_id", ASCENDING), ("created_at", DESCENDING)])
    db["proposals"].create_index([("school_uai", ASCENDING), ("created_at", DESCENDING)])
    outbox.ensure_indexes()


IN_CHUNK = 50  # keys per $in query (see MongoUsage.counts_many)


# The bounding box on plain fields, not a 2dsphere query (slow on SecantusDB, and $near does not
# sort there). SecantusDB's planner only uses an index for equalities plus ONE range: add the
# longitude range, an $in or any other predicate and it scans the whole collection. So the
# database gets `equality(ies) + latitude range`, and the longitude and the rest are checked here
# (the exact distance test is domain.match, in the handler).
def _lat_band(box: BoundingBox) -> dict:
    return {"location.lat": {"$gte": box.lat_min, "$lte": box.lat_max}}


# Conditions on one document (`_id` equality) written with $not rather than $or: SecantusDB plans a
# query with a top-level $or as a scan of the whole collection, whatever else it says (50 ms an
# update among 10,000 counters against 0.6 ms, measured), where MongoDB uses the _id index for both.
def _older_than(version: int) -> dict:
    """The stored state is older than `version` (a state stored without a version is 1)."""
    if is_newer(version, None):
        return {"version": {"$not": {"$gte": version}}}  # older, or absent (1 < version)
    return {"version": {"$lt": version}}


def _location(doc: dict) -> Location:
    return Location(doc["location"]["lat"], doc["location"]["lon"])


class MongoVolunteers:
    """The latest known state of each volunteer, with its `version` and `status`. A document stored
    before versions existed is version 1 and active. A withdrawal may leave a document with no
    more than its status and version (if it came first): it is never a candidate. A withdrawn
    volunteer loses its personal data (PERSONAL_FIELDS): a withdrawal is final, so matching never
    needs them again."""

    PERSONAL_FIELDS = ("organisation_name", "contact_email")

    def __init__(self, db: Database):
        self.collection = db["volunteers"]

    @staticmethod
    def _state(volunteer: Volunteer) -> dict:
        return {"organisation_name": volunteer.organisation_name, "contact_email": volunteer.contact_email,
                "town": volunteer.town,
                "location": {"lat": volunteer.location.lat, "lon": volunteer.location.lon},
                "action_types": list(volunteer.action_types), "max_distance_km": volunteer.max_distance_km,
                "actor_id": volunteer.actor_id,
                "actions": {t: offer_plain(o) for t, o in volunteer.actions.items()},
                "status": volunteer.status, "version": volunteer.version}

    def get(self, volunteer_id: str) -> Volunteer | None:
        doc = self.collection.find_one({"_id": volunteer_id})
        return _volunteer(doc) if doc and "location" in doc else None

    def changed_since(self, moment: datetime) -> list[tuple[str, int, Volunteer | None]]:
        """(volunteer_id, version, Volunteer or None when no longer a candidate) of every volunteer
        written at or after `moment`: what an in-memory index built earlier has to catch up with."""
        found = []
        for doc in self.collection.find({"changed_at": {"$gte": moment}}):
            candidate = doc.get("status", ACTIVE) == ACTIVE and "location" in doc
            found.append((doc["_id"], doc.get("version", 1), _volunteer(doc) if candidate else None))
        return found

    def all_active(self) -> Iterable[Volunteer]:
        """Every active volunteer, for the start-up load of the in-memory index."""
        for doc in self.collection.find({"status": {"$in": [ACTIVE, None]}}):
            if "location" in doc:
                yield _volunteer(doc)

    def _holds(self, volunteer: Volunteer) -> bool:
        """Whether the stored state is this very one: its version, and not withdrawn."""
        doc = self.collection.find_one({"_id": volunteer.volunteer_id}, {"version": True, "status": True})
        return (doc is not None and doc.get("status", ACTIVE) != WITHDRAWN
                and doc.get("version", 1) == volunteer.version)

    def add(self, volunteer: Volunteer) -> bool:
        now = datetime.now(timezone.utc)
        doc = {**self._state(volunteer), "stored_at": now, "changed_at": now}
        try:  # $setOnInsert: the first delivery writes, a replay changes nothing
            self.collection.update_one({"_id": volunteer.volunteer_id}, {"$setOnInsert": doc}, upsert=True)
        except DuplicateKeyError:
            pass  # the same volunteer inserted at the same moment by another worker
        return self._holds(volunteer)

    def replace(self, volunteer: Volunteer) -> bool:
        try:  # matches only an older, not withdrawn state; absent, the upsert inserts it
            self.collection.update_one(
                {"_id": volunteer.volunteer_id, "status": {"$ne": WITHDRAWN}, **_older_than(volunteer.version)},
                {"$set": {**self._state(volunteer), "updated_at": datetime.now(timezone.utc),
                          "changed_at": datetime.now(timezone.utc)}}, upsert=True)
        except DuplicateKeyError:
            pass  # present but newer, the same, or withdrawn: the upsert's insert collides, nothing changes
        return self._holds(volunteer)

    def withdraw(self, volunteer_id: str, version: int) -> None:
        update = {"$set": {"status": WITHDRAWN, "changed_at": datetime.now(timezone.utc)}, "$max": {"version": version},
                  "$unset": {name: "" for name in self.PERSONAL_FIELDS},
                  "$setOnInsert": {"stored_at": datetime.now(timezone.utc)}}
        try:
            self.collection.update_one({"_id": volunteer_id}, update, upsert=True)
        except DuplicateKeyError:  # inserted at the same moment by another worker: now it exists
            self.collection.update_one({"_id": volunteer_id}, update)

    def candidates(self, action_type: str, box: BoundingBox) -> list[Volunteer]:
        # The status is checked here, not in the query (see _lat_band): most volunteers are active.
        docs = self.collection.find({"action_types": action_type, **_lat_band(box)})
        return [_volunteer(d) for d in docs if d.get("status", ACTIVE) == ACTIVE and box.contains(_location(d))]


def offer_plain(offer: ActionOffer) -> dict:
    """An offer as stored (BSON-friendly): the events' `actions` entry it came from."""
    plain = {}
    for name, value in asdict(offer).items():
        if name in ("action_type",) or value is None:
            continue
        if name == "rome_jobs":
            value = [{"code": job["code"], "label": job["label"]} for job in value]
        elif name == "dates":
            value = [day.isoformat() for day in value]
        elif isinstance(value, tuple):
            value = list(value)
        plain[name] = value
    return plain


def _volunteer(d: dict) -> Volunteer:
    actions = d.get("actions") or {}
    return Volunteer(volunteer_id=d["_id"], organisation_name=d.get("organisation_name", ""),
                     contact_email=d.get("contact_email", ""), town=d["town"], location=_location(d),
                     action_types=tuple(d["action_types"]), max_distance_km=d["max_distance_km"],
                     status=d.get("status", ACTIVE), version=d.get("version", 1), actor_id=d.get("actor_id"),
                     actions={t: ActionOffer.from_settings(t, plain) for t, plain in actions.items()})


def _request(doc: dict) -> Request:
    """A stored request (one stored before versions existed is version 1 and open)."""
    return Request(request_id=doc["_id"], requester_kind=doc["requester_kind"],
                   contact_email=doc.get("contact_email"), action_type=doc["action_type"],
                   town=doc["town"], location=_location(doc), max_distance_km=doc["max_distance_km"],
                   kind=doc.get("kind"), school_uai=doc.get("school_uai"), level=doc.get("level"),
                   levels=tuple(doc.get("levels") or ()),
                   audience=doc.get("audience"), professionals_wanted=doc.get("professionals_wanted"),
                   rome_codes=tuple(doc.get("rome_codes") or ()),
                   status=doc.get("request_status", OPEN), version=doc.get("version", 1))


class MongoRequests:
    """The latest known state of each request. `status` is matching's: "open" (accepts proposals)
    or "closed"; `request_status` is the requests service's (open, partly_matched, fulfilled,
    cancelled, expired); `version` orders the states; `proposal_count` is the slots taken, never
    reset by an update. A document stored before versions existed is version 1 and open. A closing
    event that came first leaves a placeholder with no more than `status`, `request_status`,
    `version` and `proposal_count`: closed, it is never a candidate, and the created event's
    $setOnInsert does not touch it. A closed request keeps no contact e-mail (PERSONAL_FIELDS): a
    reopening update carries the whole state again. `hidden` (moderation) is kept beside `status`
    and written only by `hide` and `unhide`: a hidden request is never a candidate, whatever its
    status; it keeps its contact e-mail (it is not closed, and the unhidden event carries no
    state). A moderation event that came first leaves a closed placeholder, as a closing event."""

    PERSONAL_FIELDS = ("contact_email",)

    def __init__(self, db: Database):
        self.collection = db["requests"]
        self.session = None  # the unit of work's session inside `with uow:`

    @staticmethod
    def _state(request: Request) -> dict:
        is_open = request.is_open
        return {"requester_kind": request.requester_kind,
                "contact_email": request.contact_email if is_open else None,
                "action_type": request.action_type, "town": request.town,
                "location": {"lat": request.location.lat, "lon": request.location.lon},
                "max_distance_km": request.max_distance_km, "kind": request.kind,
                "school_uai": request.school_uai, "level": request.level, "levels": list(request.levels),
                "audience": request.audience,
                "professionals_wanted": request.professionals_wanted,
                "rome_codes": list(request.rome_codes),
                "status": OPEN if is_open else CLOSED, "request_status": request.status,
                "version": request.version}

    def _holds(self, request: Request) -> bool:
        """Whether the stored state is this very one (its version), open and not hidden."""
        doc = self.collection.find_one({"_id": request.request_id}, {"version": True, "status": True, "hidden": True})
        return (doc is not None and doc.get("status") == OPEN and not doc.get("hidden")
                and doc.get("version", 1) == request.version)

    def add(self, request: Request) -> bool:
        doc = {**self._state(request), "proposal_count": 0, "stored_at": datetime.now(timezone.utc)}
        try:  # $setOnInsert: a replay neither reopens the request nor resets its slots
            self.collection.update_one({"_id": request.request_id}, {"$setOnInsert": doc}, upsert=True)
        except DuplicateKeyError:
            pass  # the same request inserted at the same moment by another worker
        return self._holds(request)

    def replace(self, request: Request) -> bool:
        now = datetime.now(timezone.utc)
        update = {"$set": {**self._state(request), "updated_at": now},
                  "$setOnInsert": {"proposal_count": 0, "stored_at": now}}  # slots taken stay
        try:  # matches only an older state; absent, the upsert inserts it
            self.collection.update_one({"_id": request.request_id, **_older_than(request.version)}, update,
                                       upsert=True)
        except DuplicateKeyError:
            pass  # present and as new or newer: the upsert's insert collides, nothing changes
        return self._holds(request)

    def close(self, request_id: str, request_status: str, version: int) -> None:
        # Not older than the stored state: a replayed closing event after a newer (reopening)
        # update changes nothing; the same version again is idempotent.
        not_older = {"_id": request_id, "version": {"$not": {"$gt": version}}}  # absent: version 1
        now = datetime.now(timezone.utc)
        update = {"$set": {"status": CLOSED, "request_status": request_status, "updated_at": now},
                  "$max": {"version": version},
                  "$unset": {name: "" for name in self.PERSONAL_FIELDS},
                  "$setOnInsert": {"proposal_count": 0, "stored_at": now}}
        try:
            self.collection.update_one(not_older, update, upsert=True)
        except DuplicateKeyError:  # newer stored (nothing to do), or inserted at this moment by another worker
            self.collection.update_one(not_older, update)

    def _moderate(self, request_id: str, hidden: bool, version: int) -> None:
        # Not older than the stored state, like a close; the same version again is idempotent.
        not_older = {"_id": request_id, "version": {"$not": {"$gt": version}}}  # absent: version 1
        now = datetime.now(timezone.utc)
        update = {"$set": {"hidden": hidden, "updated_at": now}, "$max": {"version": version},
                  "$setOnInsert": {"status": CLOSED, "proposal_count": 0, "stored_at": now}}  # a placeholder
        try:
            self.collection.update_one(not_older, update, upsert=True)
        except DuplicateKeyError:  # newer stored (nothing to do), or inserted at this moment by another worker
            self.collection.update_one(not_older, update)

    def hide(self, request_id: str, version: int) -> None:
        self._moderate(request_id, True, version)

    def unhide(self, request_id: str, version: int) -> Request | None:
        """Shown again (unless a newer state is stored): the stored request when it is now open, not
        hidden and at this version (what the caller searches for), else None."""
        self._moderate(request_id, False, version)
        doc = self.collection.find_one({"_id": request_id})
        if doc is None or doc.get("status") != OPEN or doc.get("hidden") or doc.get("version", 1) != version:
            return None
        return _request(doc)

    def open_candidates(self, action_types: Iterable[str], box: BoundingBox, k: int) -> list[Request]:
        found = []
        for action_type in action_types:  # one indexed query per type rather than a scanning $in
            for d in self.collection.find({"status": OPEN, "action_type": action_type, **_lat_band(box)}):
                slots = (d.get("professionals_wanted") or 1) + k - 1  # as Request.slots(extra=k - 1)
                if d["proposal_count"] < slots and not d.get("hidden") and box.contains(_location(d)):
                    found.append(_request(d))
        return found

    def take_slot(self, request_id: str, k: int) -> int | None:
        """Atomic and inside the proposal's transaction: rolled back if the proposal is not made.
        A request hidden since it was found gives no slot. `proposal_count` counts the outstanding
        proposals (pending or accepted: a decline or an expiry gives its slot back), `proposal_seq`
        every proposal ever made, which gives the rank (never reused)."""
        # update_one then a read in the same transaction, not find_one_and_update: on SecantusDB a
        # findAndModify scans the whole collection whatever its filter (67 ms at 6,000 requests
        # against 1.2 ms for these two, measured; docs/benchmarks.md).
        taken = self.collection.update_one(
            {"_id": request_id, "status": OPEN, "hidden": {"$ne": True}, "proposal_count": {"$lt": k}},
            {"$inc": {"proposal_count": 1, "proposal_seq": 1}}, session=self.session)
        if taken.modified_count != 1:
            return None
        return self.collection.find_one({"_id": request_id}, {"proposal_seq": True}, session=self.session)["proposal_seq"]

    def take_slots(self, wants: list[tuple[str, int, int]]) -> dict[str, range] | None:
        """For each (request_id, k, wanted), up to `wanted` of the request's `k` slots, all inside
        the proposals' transaction: {request_id: the ranks given} (empty when the request is full,
        closed, hidden or unknown), or None when a request's counters changed between the read and
        the write (nothing is then taken; on MongoDB and SecantusDB another writer's commit in
        between is refused as a write conflict, which is transient: the event is retried). Reads
        then conditional updates in one command, not findAndModify (see take_slot)."""
        ids = list(dict.fromkeys(request_id for request_id, _, _ in wants))
        docs = {}
        for start in range(0, len(ids), IN_CHUNK):
            for doc in self.collection.find({"_id": {"$in": ids[start:start + IN_CHUNK]}},
                                            {"status": True, "hidden": True, "proposal_count": True,
                                             "proposal_seq": True}, session=self.session):
                docs[doc["_id"]] = doc
        ranks: dict[str, range] = {}
        operations = []
        for request_id, k, wanted in wants:
            doc = docs.get(request_id)
            if doc is None or doc.get("status") != OPEN or doc.get("hidden") or request_id in ranks:
                ranks.setdefault(request_id, range(0))
                continue
            count, seq = doc.get("proposal_count", 0), doc.get("proposal_seq")
            n = max(min(k - count, wanted), 0)
            ranks[request_id] = range((seq or 0) + 1, (seq or 0) + n + 1)
            if n:
                operations.append(UpdateOne(
                    {"_id": request_id, "status": OPEN, "hidden": {"$ne": True}, "proposal_count": count,
                     "proposal_seq": seq if seq is not None else {"$exists": False}},
                    {"$inc": {"proposal_count": n, "proposal_seq": n}}))
        if operations:
            result = self.collection.bulk_write(operations, ordered=True, session=self.session)
            if result.modified_count != len(operations):
                return None
        return ranks

    def add_many(self, requests: list[Request]) -> set[str]:
        """`add` for each request (distinct ids), in one command and one read: the ids the read
        model now holds in these very states, open and not hidden."""
        if not requests:
            return set()
        now = datetime.now(timezone.utc)
        operations = [UpdateOne({"_id": r.request_id},
                                {"$setOnInsert": {**self._state(r), "proposal_count": 0, "stored_at": now}},
                                upsert=True) for r in requests]
        try:  # $setOnInsert: a replay neither reopens a request nor resets its slots
            self.collection.bulk_write(operations, ordered=False)
        except BulkWriteError as exc:  # the same request inserted at the same moment by another worker
            if not all(error.get("code") == 11000 for error in exc.details.get("writeErrors", [])):
                raise
        ids = [r.request_id for r in requests]
        stored = {}
        for start in range(0, len(ids), IN_CHUNK):
            for doc in self.collection.find({"_id": {"$in": ids[start:start + IN_CHUNK]}},
                                            {"version": True, "status": True, "hidden": True}):
                stored[doc["_id"]] = doc
        return {r.request_id for r in requests
                if (doc := stored.get(r.request_id)) is not None and doc.get("status") == OPEN
                and not doc.get("hidden") and doc.get("version", 1) == r.version}

    def release_slot(self, request_id: str) -> None:
        """A proposal of the request was declined or expired: its slot is free again (inside the
        transaction that records the answer)."""
        self.collection.update_one({"_id": request_id, "proposal_count": {"$gt": 0}},
                                   {"$inc": {"proposal_count": -1}}, session=self.session)

    def take_place(self, request_id: str, wanted: int) -> bool:
        """An acceptance takes one of the request's `wanted` places, atomically, inside the answer's
        transaction; False when the request is closed or has all its professionals (so that no
        professional is told "booked" for a request that is already complete)."""
        taken = self.collection.update_one(
            {"_id": request_id, "status": OPEN,
             "placed_count": {"$not": {"$gte": wanted}}},  # below `wanted`, or absent
            {"$inc": {"placed_count": 1}}, session=self.session)
        return taken.modified_count == 1

    def get(self, request_id: str) -> Request | None:
        doc = self.collection.find_one({"_id": request_id}, session=self.session)
        return _request(doc) if doc and "action_type" in doc else None


def _proposal(doc: dict) -> Proposal:
    return Proposal(proposal_id=doc["_id"], request_id=doc["request_id"], volunteer_id=doc["volunteer_id"],
                    action_type=doc["action_type"], distance_km=doc["distance_km"], rank=doc["rank"],
                    created_at=doc["created_at"], score=doc.get("score"), reasons=tuple(doc.get("reasons") or ()),
                    status=doc.get("status", PENDING), deadline=_aware(doc.get("deadline")))


class MongoProposals:
    """Proposals hold ids only: contact data stays in the read models and the internal event."""

    def __init__(self, db: Database):
        self.collection = db["proposals"]
        self.session = None  # the unit of work's session inside `with uow:`, if any

    def get(self, proposal_id: str, scope: dict | None = None) -> Proposal | None:
        """The proposal, if it also matches `scope` (equalities on its stored fields: what the
        caller may see, api.visible_scope)."""
        doc = self.collection.find_one({**(scope or {}), "_id": proposal_id})
        return _proposal(doc) if doc else None

    @staticmethod
    def _doc(proposal: Proposal, state: ProposalState | None, context: dict) -> dict:
        doc = {"_id": proposal.proposal_id, "request_id": proposal.request_id,
               "volunteer_id": proposal.volunteer_id, "action_type": proposal.action_type,
               "distance_km": proposal.distance_km, "rank": proposal.rank, "created_at": proposal.created_at,
               **context}
        if state is not None:
            doc.update(_state_fields(state))
        return doc

    def add(self, proposal: Proposal, state: ProposalState | None = None, **context) -> None:
        """Insert the proposal with its workflow state (pending, deadline, version) and the context
        its answers need (`context`: requester_kind, school_uai, volunteer_actor_id, period...)."""
        try:
            self.collection.insert_one(self._doc(proposal, state, context), session=self.session)
        except DuplicateKeyError as exc:
            raise ProposalExists(proposal.proposal_id) from exc

    def existing(self, proposal_ids: Iterable[str]) -> set[str]:
        """Which of these proposals exist (queries of at most IN_CHUNK ids)."""
        ids = list(dict.fromkeys(proposal_ids))
        found: set[str] = set()
        for start in range(0, len(ids), IN_CHUNK):
            found.update(d["_id"] for d in self.collection.find({"_id": {"$in": ids[start:start + IN_CHUNK]}},
                                                                 {"_id": True}, session=self.session))
        return found

    def add_many(self, items: Iterable[tuple[Proposal, ProposalState, dict]]) -> None:
        """`add` for each (proposal, state, context), in ONE command; ProposalExists if any exists
        (the transaction is then aborted: nothing of them is written)."""
        docs = [self._doc(proposal, state, context) for proposal, state, context in items]
        if not docs:
            return
        try:
            self.collection.insert_many(docs, ordered=True, session=self.session)
        except BulkWriteError as exc:
            if all(error.get("code") == 11000 for error in exc.details.get("writeErrors", [])):
                raise ProposalExists(", ".join(d["_id"] for d in docs)) from exc
            raise

    def load(self, proposal_id: str) -> tuple[ProposalState, dict] | None:
        """The workflow state of a proposal and its stored document (context included), read in
        the unit of work's transaction when there is one. A proposal stored before the workflow
        existed reads as pending, answerable for DEFAULT_ANSWER_DAYS from its creation."""
        doc = self.collection.find_one({"_id": proposal_id}, session=self.session)
        if doc is None:
            return None
        created = _aware(doc["created_at"])
        state = ProposalState(
            proposal_id=doc["_id"], request_id=doc["request_id"], volunteer_id=doc["volunteer_id"],
            requester_kind=doc.get("requester_kind", "school"), status=doc.get("status", PENDING),
            created_at=created, deadline=_aware(doc.get("deadline") or created + timedelta(days=DEFAULT_ANSWER_DAYS)),
            version=doc.get("version", 1), answered_at=_aware(doc.get("answered_at")),
            closed_at=_aware(doc.get("closed_at")), declined_by=doc.get("declined_by"))
        return state, doc

    def save_state(self, state: ProposalState, expected_version: int) -> None:
        """Write the new state over the version read (ConcurrentAnswer otherwise), inside the
        transaction that publishes its event."""
        version = {"$in": [1, None]} if expected_version == 1 else expected_version
        result = self.collection.update_one({"_id": state.proposal_id, "version": version},
                                            {"$set": _state_fields(state)}, session=self.session)
        if result.matched_count != 1:
            raise ConcurrentAnswer(state.proposal_id)

    def due_for_expiry(self, now: datetime, limit: int = 500) -> list[str]:
        """Pending proposals whose deadline has passed, oldest deadline first."""
        cursor = self.collection.find({"status": PENDING, "deadline": {"$lte": now}}, {"_id": True})
        return [doc["_id"] for doc in cursor.sort([("deadline", ASCENDING)]).limit(limit)]

    def list(self, request_id: str | None = None, volunteer_id: str | None = None,
             limit: int = 50, scope: dict | None = None) -> list[Proposal]:
        query = {key: value for key, value in (("request_id", request_id), ("volunteer_id", volunteer_id))
                 if value is not None}
        query.update(scope or {})
        order = [("rank", ASCENDING)] if request_id else [("created_at", DESCENDING), ("_id", ASCENDING)]
        return [_proposal(d) for d in self.collection.find(query).sort(order).limit(limit)]


def _aware(moment: datetime | None) -> datetime | None:
    """BSON dates come back naive, in UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)


def _state_fields(state: ProposalState) -> dict:
    return {"status": state.status, "deadline": state.deadline, "version": state.version,
            "requester_kind": state.requester_kind, "answered_at": state.answered_at,
            "closed_at": state.closed_at, "declined_by": state.declined_by}



class MongoProposalStats:
    """What the dashboard counts (vitawin_matching.stats): the proposals of a period, some fields
    only, and the town of each request from matching's read model (a proposal stores no town).
    Reads only, outside any transaction."""

    def __init__(self, db: Database):
        self.proposals = db["proposals"]
        self.requests = db["requests"]

    def proposals_in(self, period: MonthPeriod, fields: Iterable[str]) -> Iterable[dict]:
        """`fields` of the proposals made in `period` (a range on created_at, indexed)."""
        return self.proposals.find(period.to_query("created_at"), {"_id": False, **dict.fromkeys(fields, True)})

    def request_towns(self, town: str | None = None) -> dict[str, str | None]:
        """{request_id: town} of the requests matching knows; only those of `town` when given."""
        if town:
            return {doc["_id"]: town for doc in self.requests.find({"town": town}, {"_id": True})}
        return {doc["_id"]: doc.get("town") for doc in self.requests.find({}, {"_id": True, "town": True})}


class MongoUsage:
    """Counters of what volunteers were asked and gave, ONE DOCUMENT PER (volunteer, action) in the
    `counters` collection, its buckets in `counts`: `proposed:<ISO week>` (proposals made that
    week, for the weekly contact cap), `accepted:<ISO week>` (internship placements that week) or
    `accepted:total` (apprenticeship places, mentees), and `stats:received` / `stats:answered`
    (the reactivity). One document per pair rather than per bucket: a search reads the counters of
    its 50 candidates in one query of 50 keys instead of 250 (on SecantusDB, 6.7 queries and
    19.5 ms a request before, docs/benchmarks.md). The older `usage` collection (one document per
    bucket) is not read: no deployment holds data in it yet."""

    def __init__(self, db: Database):
        self.collection = db["counters"]
        self.session = None

    @staticmethod
    def key(volunteer_id: str, action_type: str) -> str:
        return f"{volunteer_id}|{action_type}"

    def counts(self, volunteer_id: str, action_type: str, buckets: Iterable[str]) -> dict[str, int]:
        doc = self.collection.find_one({"_id": self.key(volunteer_id, action_type)}, session=self.session) or {}
        stored = doc.get("counts", {})
        return {bucket: stored.get(bucket, 0) for bucket in buckets}

    def counts_many(self, volunteer_ids: Iterable[str], action_type: str,
                    buckets: Iterable[str]) -> dict[str, dict[str, int]]:
        """{volunteer_id: {bucket: count}} for the volunteers that have any, in queries of at most
        IN_CHUNK keys: SecantusDB checks each document found against the whole $in list, so one
        query of 337 keys took 43 ms where chunks of 50 take about half (bench/matching_kafka.py)."""
        buckets = list(buckets)
        keys = [self.key(v, action_type) for v in dict.fromkeys(volunteer_ids)]
        found: dict[str, dict[str, int]] = {}
        for start in range(0, len(keys), IN_CHUNK):
            for doc in self.collection.find({"_id": {"$in": keys[start:start + IN_CHUNK]}}, session=self.session):
                stored = doc.get("counts", {})
                counts = {bucket: stored[bucket] for bucket in buckets if bucket in stored}
                if counts:
                    found[doc["_id"].rsplit("|", 1)[0]] = counts
        return found

    @staticmethod
    def _below(bucket: str, limit: int) -> dict:
        return {f"counts.{bucket}": {"$not": {"$gte": limit}}}  # below the limit, or absent

    def take(self, volunteer_id: str, action_type: str, bucket: str, limit: int) -> bool:
        """Add one to the bucket if it is below `limit`, atomically, inside the transaction. False
        when the limit is reached: the transaction is then aborted by the server (a duplicate key
        in a transaction ends it), so the caller abandons its unit of work."""
        if limit <= 0:
            return False
        try:
            self.collection.update_one({"_id": self.key(volunteer_id, action_type), **self._below(bucket, limit)},
                                       {"$inc": {f"counts.{bucket}": 1}}, upsert=True, session=self.session)
        except DuplicateKeyError:
            return False  # present and at the limit: the upsert's insert collides
        return True

    def take_many(self, takes: Iterable[tuple[str, str, str, int]], also: str | None = None) -> bool:
        """`take` for each (volunteer_id, action_type, bucket, limit), each on another volunteer,
        in ONE command, adding one to the bucket `also` of each too; all or nothing: False when
        one limit is reached (the transaction is then aborted, as for `take`)."""
        operations = []
        for volunteer_id, action_type, bucket, limit in takes:
            if limit <= 0:
                return False
            increments = {f"counts.{bucket}": 1, **({f"counts.{also}": 1} if also else {})}
            operations.append(UpdateOne({"_id": self.key(volunteer_id, action_type), **self._below(bucket, limit)},
                                        {"$inc": increments}, upsert=True))
        if not operations:
            return True
        try:
            self.collection.bulk_write(operations, ordered=True, session=self.session)
        except BulkWriteError as exc:
            if all(error.get("code") == 11000 for error in exc.details.get("writeErrors", [])):
                return False
            raise
        return True

    def add(self, volunteer_id: str, action_type: str, bucket: str, amount: int = 1) -> None:
        self.collection.update_one({"_id": self.key(volunteer_id, action_type)},
                                   {"$inc": {f"counts.{bucket}": amount}}, upsert=True, session=self.session)


class MongoUnitOfWork(UnitOfWork):
    """One per message. Reads and read-model stores go straight to the database; each `with uow:`
    block opens the transaction in which `requests.take_slot`, `proposals.add` and `publish` write,
    and `commit()` ends it (leaving the block without it rolls back)."""

    def __init__(self, client: MongoClient, db: Database, outbox: Outbox):
        super().__init__(client, db, outbox)
        self.volunteers = MongoVolunteers(db)
        self.requests = self.attach(MongoRequests(db))
        self.proposals = self.attach(MongoProposals(db))
        self.usage = self.attach(MongoUsage(db))
