"""Service layer: use cases of the requests service, given a unit of work. Each change of a request
writes its new state and its event in ONE transaction (the outbox relay publishes the event), over
the version it was read at. Hiding a request and showing it again are changes too; a report is
not (it keeps the version) but is written with its event in one transaction all the same."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Callable

from vitawin_common.events import Event, new_event

from vitawin_requests.domain import CANCELLED, EXPIRED, FULFILLED, Request, RequestConflict, RequestSpec, Requester
from vitawin_requests.moderation import AlreadyReported, Moderator, Report

log = logging.getLogger(__name__)

SOURCE = "/vitawin/requests"
CHANNEL = "requests"
REQUEST_CREATED = "fr.vitawin.request.created.v2"
REQUEST_UPDATED = "fr.vitawin.request.updated.v1"
REQUEST_CANCELLED = "fr.vitawin.request.cancelled.v1"
REQUEST_FULFILLED = "fr.vitawin.request.fulfilled.v1"
REQUEST_EXPIRED = "fr.vitawin.request.expired.v1"
REQUEST_HIDDEN = "fr.vitawin.request.hidden.v1"
REQUEST_UNHIDDEN = "fr.vitawin.request.unhidden.v1"
REQUEST_REPORTED = "fr.vitawin.request.reported.v1"
REQUEST_REQUESTER = "fr.vitawin.request.requester.v1"
# Internal, never partner-visible: the link request -> pupil (the pupil's pseudonymous actor id),
# for notify to find the pupil's guardian. Its data is never logged.
REQUESTERS_CHANNEL = "requesters"


class RequestNotFound(LookupError):
    """No request has this id (a 404)."""


class ConcurrentChange(Exception):
    """The request changed between its read and its write (another change came first): nothing was
    written; the caller may read it again and retry (a 409)."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def create_request(spec: RequestSpec, requester: Requester, uow, now: datetime | None = None) -> Request:
    """Store a new open request (version 1) with fr.vitawin.request.created.v2 (`requests`) and,
    for a pupil's request, fr.vitawin.request.requester.v1 (internal `requesters` channel: which
    pupil asked, for notify only), all in ONE transaction."""
    request = Request.create(spec, requester, now or _now())
    event = new_event(REQUEST_CREATED, SOURCE, request.request_id, request.created_event_data())
    who = (new_event(REQUEST_REQUESTER, SOURCE, request.request_id, request.requester_event_data())
           if spec.requester_kind == "pupil" else None)
    with uow:
        uow.requests.add(request.to_document())
        uow.publish(event, CHANNEL)
        if who is not None:
            uow.publish(who, REQUESTERS_CHANNEL)
        uow.commit()
    log.info("request created", extra={"request_id": request.request_id, "kind": request.kind,
                                       "event_id": event.id, "requester_event_id": who.id if who else None})
    return request


def update_request(request_id: str, spec: RequestSpec, uow, *, expected_version: int | None = None,
                   now: datetime | None = None) -> Request:
    """Give an open or partly matched request its new `spec` (validated as a whole on the version
    `expected_version`, if given: ConcurrentChange when the stored one is another):
    fr.vitawin.request.updated.v1. A change that changes nothing writes and publishes nothing.
    RequestConflict once closed."""
    return _change(request_id, uow, lambda request: request.edit(spec, now or _now()), "request updated",
                   expected_version)[0]


def cancel_request(request_id: str, uow, *, reason: str | None = None, expected_version: int | None = None,
                   now: datetime | None = None) -> Request:
    """Cancel an open or partly matched request: fr.vitawin.request.cancelled.v1. RequestConflict
    once closed."""
    return _change(request_id, uow, lambda request: request.cancel(reason, now or _now()), "request cancelled",
                   expected_version)[0]


def expire_due(uow, now: datetime) -> int:
    """Expire every open or partly matched request whose `expires_at` is `now` or earlier, each in
    its own transaction with fr.vitawin.request.expired.v1; how many expired. A request changed
    meanwhile (accepted, cancelled, edited to a later date) is read again and left alone if no
    longer due; one that changes under the write is left for the next round."""
    expired = 0
    for request_id in uow.requests.due(now):
        def expire(request: Request) -> Request:
            return request.expire(now) if request.is_due(now) else request
        try:
            _, changed = _change(request_id, uow, expire, "request expired")
        except (ConcurrentChange, RequestNotFound):
            log.info("request not expired: changed meanwhile", extra={"request_id": request_id})
            continue
        expired += changed
    return expired


def record_acceptance(uow, request_id: str, proposal_id: str, now: datetime | None = None) -> Request | None:
    """A proposal for `request_id` was accepted: the request becomes partly_matched
    (fr.vitawin.request.updated.v1), then fulfilled (fr.vitawin.request.fulfilled.v1) when as many
    proposals as `professionals_wanted` are. Idempotent per `proposal_id`; a closed request
    ignores it; an unknown request is logged and ignored (None). ConcurrentChange if the request
    changes under the write (the consumer tries again)."""
    try:
        return _change(request_id, uow, lambda request: request.accept(proposal_id, now or _now()),
                       "request accepted a proposal")[0]
    except RequestNotFound:
        log.warning("acceptance for an unknown request", extra={"request_id": request_id,
                                                                "proposal_id": proposal_id})
        return None


def hide_request(request_id: str, reason: str, by: Moderator, uow, *, expected_version: int | None = None,
                 now: datetime | None = None) -> Request:
    """A moderator hides the request (whatever its status, which it keeps):
    fr.vitawin.request.hidden.v1 with the new version. RequestConflict when already hidden. Who may
    moderate which request is the API's rule (`access.can_moderate`)."""
    def hide(request: Request) -> Request:
        return request.hide(reason, by, now or _now())
    return _change(request_id, uow, hide, "request hidden", expected_version,
                   event_of=lambda request: new_event(REQUEST_HIDDEN, SOURCE, request_id,
                                                      request.hidden_event_data()))[0]


def unhide_request(request_id: str, by: Moderator, uow, *, expected_version: int | None = None,
                   now: datetime | None = None) -> Request:
    """A moderator shows the request again: fr.vitawin.request.unhidden.v1 with the new version.
    RequestConflict when it is not hidden."""
    def unhide(request: Request) -> Request:
        return request.unhide(by, now or _now())
    return _change(request_id, uow, unhide, "request shown again", expected_version,
                   event_of=lambda request: new_event(REQUEST_UNHIDDEN, SOURCE, request_id,
                                                      request.unhidden_event_data()))[0]


def report_request(request_id: str, report: Report, uow) -> int:
    """Store `report` with the request and publish fr.vitawin.request.reported.v1 (category, count
    and time: never the comment, never who reported), in one transaction; the request's version
    does not change. Returns how many reports the request has had. RequestNotFound;
    moderation.AlreadyReported when this account (not an anonymous caller) already reported it."""
    with uow:
        count = uow.requests.add_report(request_id, report.to_document(), once_per_reporter=not report.anonymous)
        if count is None:
            raise RequestNotFound(request_id)
        event = new_event(REQUEST_REPORTED, SOURCE, request_id, report.event_data("request_id", request_id, count))
        uow.publish(event, CHANNEL)
        uow.commit()
    log.info("request reported", extra={"request_id": request_id, "category": report.category,
                                        "report_count": count, "event_id": event.id})
    return count


def _event_of(request: Request) -> Event:
    kind, data = {
        CANCELLED: (REQUEST_CANCELLED, request.cancelled_event_data),
        FULFILLED: (REQUEST_FULFILLED, request.fulfilled_event_data),
        EXPIRED: (REQUEST_EXPIRED, request.expired_event_data),
    }.get(request.status, (REQUEST_UPDATED, request.updated_event_data))
    return new_event(kind, SOURCE, request.request_id, data())


def _change(request_id: str, uow, transition: Callable[[Request], Request], what: str,
            expected_version: int | None = None,
            event_of: Callable[[Request], Event] = _event_of) -> tuple[Request, bool]:
    """Read, change and write a request with its event (`event_of` the changed request: by default
    the one its status calls for) in ONE transaction, over the version read (ConcurrentChange
    otherwise). (request, whether it changed): nothing is written when the transition changes
    nothing."""
    with uow:
        doc = uow.requests.get(request_id)
        if doc is None:
            raise RequestNotFound(request_id)
        before = Request.from_document(doc)
        if expected_version is not None and before.version != expected_version:
            raise ConcurrentChange(request_id)
        after = transition(before)
        if after is before:
            return before, False  # leaving the block without commit() writes nothing
        event = event_of(after)
        uow.requests.replace(after.to_document(), expected_version=before.version)
        uow.publish(event, CHANNEL)
        uow.commit()
    log.info(what, extra={"request_id": request_id, "version": after.version, "status": after.status,
                          "event_id": event.id})
    return after, True


__all__ = ["AlreadyReported", "CHANNEL", "ConcurrentChange", "REQUEST_CANCELLED", "REQUEST_CREATED",
           "REQUEST_EXPIRED", "REQUEST_FULFILLED", "REQUEST_HIDDEN", "REQUEST_REPORTED", "REQUEST_REQUESTER",
           "REQUEST_UNHIDDEN", "REQUEST_UPDATED", "REQUESTERS_CHANNEL", "RequestConflict", "RequestNotFound",
           "SOURCE", "cancel_request", "create_request", "expire_due", "hide_request", "record_acceptance",
           "report_request", "unhide_request", "update_request"]
