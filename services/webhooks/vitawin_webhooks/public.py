"""From internal events to public ones: plain functions, no I/O.

Everything here is an allow-list: a public event is BUILT field by field from what may be public,
never copied from an internal event and trimmed, so a field added to an internal event tomorrow
cannot leak. What never goes out: names (people's, and organisations', a sole trader's name being
a person's), e-mails, phone numbers, positions, any text a person typed (titles, descriptions,
topics, reasons, keywords), the ids of pupils, volunteers, proposals and actors. A pupil's own
request is never published: with its school, level and dates it would single a minor out; it is
only counted, by town and action type, when a proposal for it is accepted.

The facts kept (the read model) hold no personal datum either: a request's kind, town, school and
levels, a pledge's town and action types (and its organisation's id, to find the organisation's
kind and sector), an initiative's kind and town, an organisation's kind and NAF division."""
from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import datetime, timezone

from vitawin_common.events import Event

SOURCE = "/vitawin/public"
SCHEMA_BASE = "https://vitawin.fr/contracts/schemas"

REQUEST_PUBLISHED = "fr.vitawin.public.request.published.v1"
REQUEST_CLOSED = "fr.vitawin.public.request.closed.v1"
PLEDGE_PUBLISHED = "fr.vitawin.public.pledge.published.v1"
PLEDGE_WITHDRAWN = "fr.vitawin.public.pledge.withdrawn.v1"
PROPOSAL_ACCEPTED = "fr.vitawin.public.proposal.accepted.v1"
INITIATIVE_PUBLISHED = "fr.vitawin.public.initiative.published.v1"
INITIATIVE_CLOSED = "fr.vitawin.public.initiative.closed.v1"

# Public type -> its channel in contracts/partners.asyncapi.yaml, and a French label for the API.
TYPES: dict[str, tuple[str, str]] = {
    REQUEST_PUBLISHED: ("publicRequests", "Demande d'un établissement publiée"),
    REQUEST_CLOSED: ("publicRequests", "Demande d'un établissement clôturée (pourvue, annulée ou expirée)"),
    PLEDGE_PUBLISHED: ("publicPledges", "Engagement d'un professionnel proposé"),
    PLEDGE_WITHDRAWN: ("publicPledges", "Engagement d'un professionnel retiré ou mis en pause"),
    PROPOSAL_ACCEPTED: ("publicProposals", "Proposition acceptée"),
    INITIATIVE_PUBLISHED: ("publicInitiatives", "Initiative ou appel à projets publié"),
    INITIATIVE_CLOSED: ("publicInitiatives", "Initiative ou appel à projets clôturé"),
}

SCHOOL_KINDS = frozenset({"class_testimony", "class_intervention", "job_fair", "internship_hosting"})
ORGANISATION_KINDS = frozenset({"company", "craftsman", "local_authority", "association", "public_institution",
                                "partner_organisation"})
_NAMESPACE = uuid.UUID("3c5b0f0e-8f1c-4a55-9d1e-6b7d2f9c1a40")


def iso(moment: datetime) -> str:
    """UTC, milliseconds, Z: the date-time form of the public events."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def public_event(type_: str, subject: str, data: dict, cause: Event) -> Event:
    """The public event `cause` gives rise to. Its id is derived from the cause's, so translating
    the same internal event again gives the same public event (the outbox and partners drop it);
    its time is the cause's (when it happened). No correlation id: internal tracing stays inside."""
    return Event(type=type_, source=SOURCE, subject=subject, data=data,
                 id=str(uuid.uuid5(_NAMESPACE, f"{type_}:{cause.source}:{cause.id}")), time=cause.time,
                 correlation_id=None)


def channel_of(type_: str) -> str:
    return TYPES[type_][0]


def schema_url(type_: str) -> str:
    return f"{SCHEMA_BASE}/{type_}.json"


# --- requests -----------------------------------------------------------------------------------

def request_facts(data: dict) -> dict:
    """What is kept of a request (created.v2 or updated.v1) to say where it closes."""
    return {"request_id": data["request_id"], "requester_kind": data["requester_kind"], "kind": data["kind"],
            "action_type": data["action_type"], "town": data["town"], "school_uai": data["school_uai"],
            "levels": list(data["levels"]), "version": int(data.get("version", 1)), "status": data["status"]}


def is_public_request(facts: dict) -> bool:
    """Schools' requests only: a pupil's own request is never published."""
    return facts["requester_kind"] == "school" and facts["kind"] in SCHOOL_KINDS


def request_published(data: dict) -> dict | None:
    """The public form of a newly created request (created.v2), or None for a pupil's request."""
    if data["requester_kind"] != "school" or data["kind"] not in SCHOOL_KINDS:
        return None
    public = {"request_id": data["request_id"], "kind": data["kind"], "action_type": data["action_type"],
              "town": data["town"], "school_uai": data["school_uai"], "levels": list(data["levels"]),
              "professionals_wanted": int(data["professionals_wanted"]), "version": int(data.get("version", 1)),
              "published_at": data["created_at"]}
    count = data.get("pupils") if data["kind"] == "internship_hosting" else data.get("class_size")
    if count:
        public["pupil_count"] = int(count)
    if data.get("date"):
        public["month"] = data["date"][:7]
    if data.get("period"):
        public["period"] = list(data["period"])
    if data.get("rome_codes"):
        public["rome_codes"] = list(data["rome_codes"])
    return public


def request_closed(facts: dict, outcome: str, closed_at: str, accepted_count: int | None = None) -> dict:
    public = {"request_id": facts["request_id"], "kind": facts["kind"], "action_type": facts["action_type"],
              "town": facts["town"], "school_uai": facts["school_uai"], "outcome": outcome, "closed_at": closed_at}
    if accepted_count is not None:
        public["accepted_count"] = int(accepted_count)
    return public


# --- pledges ------------------------------------------------------------------------------------

def pledge_id(volunteer_id: str, key: bytes) -> str:
    """The pledge's public pseudonym: HMAC-SHA-256 of its internal id with the service's key, so
    that nobody without the key can tell which internal pledge (hence which professional) it is."""
    return "plg-" + hmac.new(key, volunteer_id.encode(), hashlib.sha256).hexdigest()[:32]


def pledge_facts(data: dict, previous: dict | None = None) -> dict:
    """What is kept of a pledge (registered or updated): town, action types, status, version, and
    its organisation's id (only to look up the organisation's kind and sector)."""
    facts = {"volunteer_id": data["volunteer_id"], "town": data["town"], "action_types": list(data["action_types"]),
             "status": data.get("status", "active"), "version": int(data.get("version", 1))}
    actor_id = data.get("actor_id") or (previous or {}).get("actor_id")
    if actor_id:
        facts["actor_id"] = actor_id
    return facts


def pledge_published(facts: dict, organisation: dict | None, published_at: str, key: bytes) -> dict:
    public = {"pledge_id": pledge_id(facts["volunteer_id"], key), "town": facts["town"],
              "action_types": list(facts["action_types"]), "version": facts["version"], "published_at": published_at}
    if organisation:
        if organisation.get("kind") in ORGANISATION_KINDS:
            public["organisation_kind"] = organisation["kind"]
        if organisation.get("sector"):
            public["sector"] = organisation["sector"]
    return public


def pledge_withdrawn(facts: dict, reason: str, version: int, withdrawn_at: str, key: bytes) -> dict:
    return {"pledge_id": pledge_id(facts["volunteer_id"], key), "town": facts["town"],
            "action_types": list(facts["action_types"]), "reason": reason, "version": int(version),
            "withdrawn_at": withdrawn_at}


def organisation_facts(data: dict) -> dict | None:
    """An organisation's kind and NAF division (actor.registered), None for anyone else (schools,
    pupils, territory managers: nothing of them is needed)."""
    if data["kind"] not in ORGANISATION_KINDS:
        return None
    facts = {"actor_id": data["actor_id"], "kind": data["kind"]}
    if data.get("naf_code"):
        facts["sector"] = data["naf_code"][:2]
    return facts


# --- proposals ----------------------------------------------------------------------------------

def proposal_accepted(request: dict, accepted_at: str) -> dict:
    """A count by town and action type; a school's request adds its id and school, a pupil's
    request nothing more."""
    public = {"town": request["town"], "action_type": request["action_type"],
              "requester_kind": request["requester_kind"], "accepted_at": accepted_at}
    if is_public_request(request):
        public["request_id"] = request["request_id"]
        public["school_uai"] = request["school_uai"]
    return public


# --- initiatives --------------------------------------------------------------------------------

def initiative_facts(data: dict) -> dict:
    return {"initiative_id": data["initiative_id"], "kind": data["kind"], "town": data["town"],
            "version": int(data["version"])}


def initiative_published(data: dict) -> dict:
    public = {"initiative_id": data["initiative_id"], "kind": data["kind"], "town": data["town"],
              "partner_kinds_sought": list(data["partner_kinds_sought"]),
              "publisher_role": data["publisher"]["role"], "version": int(data["version"]),
              "published_at": data["published_at"]}
    for field in ("start_date", "end_date", "deadline"):
        if data.get(field):
            public[field] = data[field]
    return public


def initiative_closed(facts: dict, data: dict) -> dict:
    return {"initiative_id": data["initiative_id"], "kind": data["kind"], "town": facts["town"],
            "reason": data["reason"], "participant_count": int(data["participant_count"]),
            "version": int(data["version"]), "closed_at": data["closed_at"]}
