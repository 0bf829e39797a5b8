"""In-memory fakes for the matching service: a shared fake database (what several workers would
see) and a unit of work per message over it, with the same semantics as the Mongo adapter:
first-write-wins stores, newer-version-wins replaces, final withdrawals, request closings and
moderation (hidden, shown again) that apply unless a newer state is stored (and hold before the
request arrives), active-only candidates, open and not hidden requests only, bounding-box
pre-filter, keyed proposal insert, all-or-nothing transactions, and an outbox that checks each
event against its contract."""
from __future__ import annotations

import copy
from datetime import datetime, timezone
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from vitawin_common.contracts import load
from vitawin_common.events import Event, new_event
from vitawin_common.territory import Location

from vitawin_matching.domain import CLOSED, OPEN, WITHDRAWN, Proposal, Volunteer, is_newer
from vitawin_matching.handlers import ConcurrentAnswer, ProposalExists
from vitawin_matching.workflow import PENDING, ProposalState

CONTRACTS_DIR = Path(__file__).resolve().parents[3] / "contracts"


@dataclass
class FakeDatabase:
    volunteers: dict[str, Volunteer] = field(default_factory=dict)
    requests: dict[str, dict] = field(default_factory=dict)  # see FakeRequests
    proposals: dict[str, Proposal] = field(default_factory=dict)
    outbox: list[tuple[Event, str]] = field(default_factory=list)
    proposal_docs: dict[str, dict] = field(default_factory=dict)  # workflow state and context
    usage: dict[tuple, int] = field(default_factory=dict)  # (volunteer, action, bucket) -> count
    volunteer_changes: dict[str, datetime] = field(default_factory=dict)  # as MongoVolunteers' changed_at


class FakeVolunteers:
    def __init__(self, db: FakeDatabase):
        self.db = db

    def _holds(self, volunteer):
        stored = self.db.volunteers.get(volunteer.volunteer_id)
        return stored is not None and stored.status != WITHDRAWN and stored.version == volunteer.version

    def _changed(self, volunteer_id):
        self.db.volunteer_changes[volunteer_id] = datetime.now(timezone.utc)

    def add(self, volunteer):
        if volunteer.volunteer_id not in self.db.volunteers:
            self.db.volunteers[volunteer.volunteer_id] = volunteer
            self._changed(volunteer.volunteer_id)
        return self._holds(volunteer)

    def replace(self, volunteer):
        stored = self.db.volunteers.get(volunteer.volunteer_id)
        if stored is None or (stored.status != WITHDRAWN and is_newer(volunteer.version, stored.version)):
            self.db.volunteers[volunteer.volunteer_id] = volunteer
            self._changed(volunteer.volunteer_id)
        return self._holds(volunteer)

    def get(self, volunteer_id):
        return self.db.volunteers.get(volunteer_id)

    def changed_since(self, moment):
        return [(vid, self.db.volunteers[vid].version,
                 self.db.volunteers[vid] if self.db.volunteers[vid].is_candidate else None)
                for vid, at in self.db.volunteer_changes.items() if at >= moment]

    def all_active(self):
        return [v for v in self.db.volunteers.values() if v.is_candidate]

    def withdraw(self, volunteer_id, version):
        stored = self.db.volunteers.get(volunteer_id)
        if stored is None:  # the withdrawal came first: status and version only
            stored = Volunteer(volunteer_id, "", "", "", Location(0.0, 0.0), (), 0.0, WITHDRAWN, version)
        self.db.volunteers[volunteer_id] = replace(stored, status=WITHDRAWN, version=max(version, stored.version),
                                                   organisation_name="", contact_email="")  # purged, as the adapter
        self._changed(volunteer_id)

    def candidates(self, action_type, box):
        return [v for v in self.db.volunteers.values()
                if v.is_candidate and action_type in v.action_types and box.contains(v.location)]


class FakeRequests:
    """Rows as MongoRequests stores them: `request` (None in a placeholder left by a closing or
    moderation event that came first), `status` open/closed, `request_status`, `version`,
    `proposal_count`, and `hidden` once a moderation event came (written by hide and unhide only)."""

    def __init__(self, db: FakeDatabase):
        self.db = db

    @staticmethod
    def _stored(request):
        # a closed request keeps no contact e-mail, as the adapter
        return request if request.is_open else replace(request, contact_email=None)

    def _row(self, request):
        return {"request": self._stored(request), "status": OPEN if request.is_open else CLOSED,
                "request_status": request.status, "version": request.version}

    def _holds(self, request):
        row = self.db.requests.get(request.request_id)
        return (row is not None and row["status"] == OPEN and not row.get("hidden")
                and row["version"] == request.version)

    def add(self, request):
        self.db.requests.setdefault(request.request_id, {**self._row(request), "proposal_count": 0})
        return self._holds(request)

    def replace(self, request):
        row = self.db.requests.get(request.request_id)
        if row is None:
            self.db.requests[request.request_id] = {**self._row(request), "proposal_count": 0}
        elif is_newer(request.version, row["version"]):
            row.update(self._row(request))  # the slots taken stay
        return self._holds(request)

    def close(self, request_id, request_status, version):
        row = self.db.requests.get(request_id)
        if row is None:  # the closing event came first: a closed placeholder
            self.db.requests[request_id] = {"request": None, "status": CLOSED, "request_status": request_status,
                                            "version": version, "proposal_count": 0}
        elif version >= row["version"]:  # not older than the stored state
            version = max(version, row["version"])
            row.update(status=CLOSED, request_status=request_status, version=version,
                       request=row["request"] and replace(row["request"], contact_email=None,
                                                          status=request_status, version=version))

    def _moderate(self, request_id, hidden, version):
        row = self.db.requests.get(request_id)
        if row is None:  # the moderation event came first: a closed placeholder
            self.db.requests[request_id] = {"request": None, "status": CLOSED, "version": version,
                                            "proposal_count": 0, "hidden": hidden}
        elif version >= row["version"]:  # not older than the stored state
            version = max(version, row["version"])
            row.update(hidden=hidden, version=version,
                       request=row["request"] and replace(row["request"], version=version))

    def hide(self, request_id, version):
        self._moderate(request_id, True, version)

    def unhide(self, request_id, version):
        self._moderate(request_id, False, version)
        row = self.db.requests[request_id]
        held = row["status"] == OPEN and not row.get("hidden") and row["version"] == version
        return row["request"] if held else None

    def open_candidates(self, action_types, box, k):
        return [row["request"] for row in self.db.requests.values()
                if row["status"] == OPEN and not row.get("hidden")
                and row["proposal_count"] < row["request"].slots(extra=k - 1)
                and row["request"].action_type in action_types and box.contains(row["request"].location)]

    def take_slot(self, request_id, k):
        row = self.db.requests.get(request_id)
        if row is None or row["status"] != OPEN or row.get("hidden") or row["proposal_count"] >= k:
            return None
        row["proposal_count"] += 1
        row["proposal_seq"] = row.get("proposal_seq", 0) + 1
        return row["proposal_seq"]

    def take_slots(self, wants):
        ranks = {}
        for request_id, k, wanted in wants:
            row = self.db.requests.get(request_id)
            if row is None or row["status"] != OPEN or row.get("hidden") or request_id in ranks:
                ranks.setdefault(request_id, range(0))
                continue
            n = max(min(k - row["proposal_count"], wanted), 0)
            seq = row.get("proposal_seq", 0)
            row["proposal_count"] += n
            row["proposal_seq"] = seq + n
            ranks[request_id] = range(seq + 1, seq + n + 1)
        return ranks

    def add_many(self, requests):
        return {request.request_id for request in requests if self.add(request)}

    def release_slot(self, request_id):
        row = self.db.requests.get(request_id)
        if row is not None and row["proposal_count"] > 0:
            row["proposal_count"] -= 1

    def get(self, request_id):
        row = self.db.requests.get(request_id)
        return row.get("request") if row else None

    def take_place(self, request_id, wanted):
        row = self.db.requests.get(request_id)
        if row is None or row["status"] != OPEN or row.get("placed_count", 0) >= wanted:
            return False
        row["placed_count"] = row.get("placed_count", 0) + 1
        return True


class FakeProposals:
    def __init__(self, db: FakeDatabase):
        self.db = db

    def get(self, proposal_id):
        return self.db.proposals.get(proposal_id)

    def add(self, proposal, state=None, **context):
        if proposal.proposal_id in self.db.proposals:
            raise ProposalExists(proposal.proposal_id)
        self.db.proposals[proposal.proposal_id] = proposal
        self.db.proposal_docs[proposal.proposal_id] = {
            "request_id": proposal.request_id, "volunteer_id": proposal.volunteer_id,
            "action_type": proposal.action_type, **context,
            "state": state or ProposalState.new(proposal.proposal_id, proposal.request_id, proposal.volunteer_id,
                                                context.get("requester_kind", "school"), proposal.created_at)}

    def existing(self, proposal_ids):
        return {pid for pid in proposal_ids if pid in self.db.proposals}

    def add_many(self, items):
        items = list(items)
        if any(proposal.proposal_id in self.db.proposals for proposal, _, _ in items):
            raise ProposalExists(items[0][0].proposal_id)  # like the server: nothing of them is written
        for proposal, state, context in items:
            self.add(proposal, state, **context)

    def load(self, proposal_id):
        doc = self.db.proposal_docs.get(proposal_id)
        if doc is None:
            return None
        return doc["state"], {"_id": proposal_id, **{k: v for k, v in doc.items() if k != "state"}}

    def save_state(self, state, expected_version):
        doc = self.db.proposal_docs.get(state.proposal_id)
        if doc is None or doc["state"].version != expected_version:
            raise ConcurrentAnswer(state.proposal_id)
        doc["state"] = state

    def due_for_expiry(self, now, limit=500):
        due = [(doc["state"].deadline, pid) for pid, doc in self.db.proposal_docs.items()
               if doc["state"].status == PENDING and doc["state"].deadline <= now]
        return [pid for _, pid in sorted(due)][:limit]

    def list(self, request_id=None, volunteer_id=None, limit=50):
        found = [p for p in self.db.proposals.values()
                 if request_id in (None, p.request_id) and volunteer_id in (None, p.volunteer_id)]
        return sorted(found, key=lambda p: (p.request_id, p.rank))[:limit]


class FakeUsage:
    """MongoUsage's counters: take refuses at the limit (and, like the server, the transaction is
    then lost: the caller leaves without commit)."""

    def __init__(self, db: FakeDatabase):
        self.db = db

    def counts(self, volunteer_id, action_type, buckets):
        return {b: self.db.usage.get((volunteer_id, action_type, b), 0) for b in buckets}

    def counts_many(self, volunteer_ids, action_type, buckets):
        found = {}
        for volunteer_id in volunteer_ids:
            for bucket in buckets:
                if (volunteer_id, action_type, bucket) in self.db.usage:
                    found.setdefault(volunteer_id, {})[bucket] = self.db.usage[(volunteer_id, action_type, bucket)]
        return found

    def take(self, volunteer_id, action_type, bucket, limit):
        key = (volunteer_id, action_type, bucket)
        if self.db.usage.get(key, 0) >= limit:
            return False
        self.db.usage[key] = self.db.usage.get(key, 0) + 1
        return True

    def take_many(self, takes, also=None):
        takes = list(takes)
        if any(self.db.usage.get((v, a, b), 0) >= limit for v, a, b, limit in takes):
            return False  # all or nothing (the transaction is lost)
        for volunteer_id, action_type, bucket, limit in takes:
            self.take(volunteer_id, action_type, bucket, limit)
            if also:
                self.add(volunteer_id, action_type, also)
        return True

    def add(self, volunteer_id, action_type, bucket, amount=1):
        key = (volunteer_id, action_type, bucket)
        self.db.usage[key] = self.db.usage.get(key, 0) + amount


class FakeUnitOfWork:
    """`with uow:` is a transaction: what it wrote is kept only if commit() was called in it."""

    def __init__(self, db: FakeDatabase):
        self.db = db
        self.in_transaction = False
        self.volunteers = FakeVolunteers(db)
        self.requests = FakeRequests(db)
        self.proposals = FakeProposals(db)
        self.usage = FakeUsage(db)
        self.contracts = load(CONTRACTS_DIR)

    def __enter__(self):
        assert not self.in_transaction, "transactions do not nest"
        self._saved = copy.deepcopy((self.db.requests, self.db.proposals, self.db.outbox, self.db.proposal_docs,
                                     self.db.usage))
        self.in_transaction = True
        return self

    def __exit__(self, *exc_info):
        if self.in_transaction:  # not committed: roll back
            (self.db.requests, self.db.proposals, self.db.outbox, self.db.proposal_docs,
             self.db.usage) = self._saved
        self.in_transaction = False

    def commit(self):
        assert self.in_transaction, "commit outside a transaction"
        self.in_transaction = False

    def publish(self, event, channel):
        assert self.in_transaction, "publish outside a transaction"
        self.contracts.validate(event.type, event.data)  # as Outbox.add does
        self.contracts.topic(channel)  # the channel exists
        self.db.outbox.append((event, channel))

    def publish_many(self, events, channel):
        for event in events:
            self.publish(event, channel)


@pytest.fixture
def contracts():
    return load(CONTRACTS_DIR)


@pytest.fixture
def new_world():
    """Makes an independent fake database and its unit-of-work factory (one unit per message)."""
    def make():
        database = FakeDatabase()
        return database, lambda: FakeUnitOfWork(database)
    return make


@pytest.fixture
def world(new_world):
    return new_world()


@pytest.fixture
def db(world):
    return world[0]


@pytest.fixture
def uow(world):
    return world[1]


# --- events ------------------------------------------------------------------------------------
# Around Vincennes (48.8475, 2.4392); 0.01 degree of latitude is about 1.11 km.
CENTRE = (48.8475, 2.4392)


def volunteer_event(volunteer_id, lat_offset_km=0.0, action_types=("testimony",), max_distance_km=10,
                    town="94080"):
    lat = CENTRE[0] + lat_offset_km / 111.195
    return new_event("fr.vitawin.volunteer.registered.v1", "/vitawin/actors", volunteer_id, {
        "volunteer_id": volunteer_id, "organisation_name": f"Entreprise {volunteer_id}",
        "contact_email": f"{volunteer_id}@entreprise.example.fr", "town": town,
        "location": {"lat": lat, "lon": CENTRE[1]}, "action_types": list(action_types),
        "max_distance_km": max_distance_km})


def volunteer_updated_event(volunteer_id, version, status="active", lat_offset_km=0.0, action_types=("testimony",),
                            max_distance_km=10, town="94080"):
    """fr.vitawin.volunteer.updated.v1: the whole new state, with default action settings."""
    registered = volunteer_event(volunteer_id, lat_offset_km, action_types, max_distance_km, town)
    actions = {action_type: {"rome_codes": [], "rome_jobs": [], "audience": "all", "modality": "in_class",
                             "weekly_contact_cap": 5, **ACTION_SPECIFIC[action_type]}
               for action_type in action_types}
    return new_event("fr.vitawin.volunteer.updated.v1", "/vitawin/actors", volunteer_id, {
        **registered.data, "actions": actions, "status": status, "version": version})


ACTION_SPECIFIC = {
    "testimony": {}, "intervention": {"topics": []},
    "internship": {"capacity_per_period": 1, "levels": [], "periods": []},
    "apprenticeship": {"diplomas": [], "places": 1}, "mentoring": {"duration_months": 6, "mentees": 1},
    "job_fair": {"dates": [], "on_request": True},
}


def volunteer_withdrawn_event(volunteer_id, version):
    return new_event("fr.vitawin.volunteer.withdrawn.v1", "/vitawin/actors", volunteer_id, {
        "volunteer_id": volunteer_id, "withdrawn_at": "2027-01-15T10:00:00.000Z", "version": version})


def request_event(request_id, lat_offset_km=0.0, action_type="testimony", max_distance_km=15,
                  requester_kind="school", town="94033"):
    lat = CENTRE[0] + lat_offset_km / 111.195
    return new_event("fr.vitawin.request.created.v1", "/vitawin/requests", request_id, {
        "request_id": request_id, "requester_kind": requester_kind,
        "contact_email": f"referent-{request_id}@college.example.fr", "action_type": action_type,
        "town": town, "location": {"lat": lat, "lon": CENTRE[1]}, "max_distance_km": max_distance_km})


KIND_ACTIONS = {"class_testimony": "testimony", "class_intervention": "intervention", "job_fair": "job_fair",
                "internship_hosting": "internship", "job_information": "testimony",
                "discovery_internship": "internship", "apprenticeship_search": "apprenticeship"}
PUPIL_KINDS = {"job_information", "discovery_internship", "apprenticeship_search"}
KIND_FIELDS = {  # the kind's own fields (matching reads none of them yet)
    "class_testimony": {"date": "2027-02-10", "start_time": "09:00", "end_time": "11:00", "class_size": 25},
    "class_intervention": {"topic": "Les métiers de bouche", "date": "2027-02-10", "start_time": "09:00",
                           "end_time": "11:00", "class_size": 25},
    "job_fair": {"date": "2027-02-10", "start_time": "09:00", "end_time": "16:00"},
    "internship_hosting": {"period": ["2027-W06"], "pupils": 10},
    "job_information": {},
    "discovery_internship": {"period": ["2027-W06"], "around": "school"},
    "apprenticeship_search": {"diploma": "CAP", "start": "2027-09"},
}


def request_state(request_id, lat_offset_km=0.0, kind="class_testimony", max_distance_km=15, town="94033",
                  professionals_wanted=2, version=1, status="open"):
    """The whole public state of a request, as fr.vitawin.request.created.v2 and updated.v1 carry it:
    the kind says who asks and the action; a school's request carries its referent's e-mail, a
    pupil's (job_information, discovery_internship, apprenticeship_search) none and nothing that
    names the pupil."""
    lat = CENTRE[0] + lat_offset_km / 111.195
    requester_kind = "pupil" if kind in PUPIL_KINDS else "school"
    data = {"request_id": request_id, "kind": kind, "requester_kind": requester_kind,
            "action_type": KIND_ACTIONS[kind], "school_uai": "0940001A"}
    if kind != "job_fair":  # the kinds of one level
        data["level"] = "3e"
    data.update({"levels": ["3e"], "audience": "college", "town": town,
                 "location": {"lat": lat, "lon": CENTRE[1]}, **KIND_FIELDS[kind], "rome_codes": ["D1102"],
                 "rome_jobs": [{"code": "D1102", "label": "Boulanger / Boulangère"}],
                 "professionals_wanted": professionals_wanted, "max_distance_km": max_distance_km})
    if requester_kind == "school":
        data["contact_email"] = f"referent-{request_id}@college.example.fr"
    data.update({"status": status, "version": version, "accepted_count": 0,
                 "created_at": "2027-01-10T09:00:00.000Z", "updated_at": "2027-01-10T09:00:00.000Z",
                 "expires_at": "2027-03-01T23:00:00.000Z"})
    return data


def request_v2_event(request_id, **state):
    return new_event("fr.vitawin.request.created.v2", "/vitawin/requests", request_id,
                     request_state(request_id, **state))


def request_updated_event(request_id, version, status="open", **state):
    """fr.vitawin.request.updated.v1: the whole new state, its status and version."""
    return new_event("fr.vitawin.request.updated.v1", "/vitawin/requests", request_id,
                     request_state(request_id, version=version, status=status, **state))


CLOSED_AT = {"cancelled": "cancelled_at", "fulfilled": "at", "expired": "at"}


def request_closed_event(request_id, version, status="cancelled"):
    """fr.vitawin.request.cancelled.v1, fulfilled.v1 or expired.v1."""
    data = {"request_id": request_id, "version": version, CLOSED_AT[status]: "2027-01-15T10:00:00.000Z"}
    if status == "fulfilled":
        data["accepted_proposal_ids"] = ["prop-0123456789abcdef0123"]
    return new_event(f"fr.vitawin.request.{status}.v1", "/vitawin/requests", request_id, data)


def request_moderated_event(request_id, version, hidden=True, status="open"):
    """fr.vitawin.request.hidden.v1 (by a territory manager, about a school's request: with a
    reason) or fr.vitawin.request.unhidden.v1."""
    data = {"request_id": request_id, "version": version, "status": status, "at": "2027-01-12T10:00:00.000Z"}
    if hidden:
        data.update(hidden_by_role="territory_manager", reason="Demande en double.")
        return new_event("fr.vitawin.request.hidden.v1", "/vitawin/requests", request_id, data)
    data["unhidden_by_role"] = "territory_manager"
    return new_event("fr.vitawin.request.unhidden.v1", "/vitawin/requests", request_id, data)


@pytest.fixture
def events():
    class Events:
        volunteer = staticmethod(volunteer_event)
        volunteer_updated = staticmethod(volunteer_updated_event)
        volunteer_withdrawn = staticmethod(volunteer_withdrawn_event)
        request = staticmethod(request_event)
        request_v2 = staticmethod(request_v2_event)
        request_updated = staticmethod(request_updated_event)
        request_closed = staticmethod(request_closed_event)
        request_hidden = staticmethod(lambda request_id, version, status="open":
                                      request_moderated_event(request_id, version, True, status))
        request_unhidden = staticmethod(lambda request_id, version, status="open":
                                        request_moderated_event(request_id, version, False, status))
    return Events
