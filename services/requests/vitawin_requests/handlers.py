"""Service layer: use cases of the requests service, given a unit of work."""
from __future__ import annotations

import logging

from vitawin_common.events import new_event

from vitawin_requests.domain import CreateRequest, Request

log = logging.getLogger(__name__)

SOURCE = "/vitawin/requests"
REQUEST_CREATED = "fr.vitawin.request.created.v1"
CHANNEL = "requests"


def create_request(command: CreateRequest, uow) -> Request:
    """Store the request and its event together; the outbox relay publishes the event."""
    request = Request.create(command)
    event = new_event(REQUEST_CREATED, SOURCE, request.request_id, request.event_data())
    with uow:
        uow.requests.add(request.to_document())
        uow.publish(event, CHANNEL)
        uow.commit()
    log.info("request created", extra={"request_id": request.request_id, "event_id": event.id})
    return request
