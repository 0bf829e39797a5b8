"""Use cases of initiatives and calls for projects, given a unit of work whose `initiatives`
repository has add, get, replace(doc, expected_version), add_report, page, on_map and
due_for_closing. Each change writes the initiative and its event in ONE transaction
(`uow.publish(event, CHANNEL)` before `uow.commit()`), over the version read (ConcurrentChange
otherwise). Hiding and showing again are changes; a report is not (the version stays), but it is
written with its event in one transaction all the same."""
from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any, Callable, Mapping

from vitawin_common.events import Event, new_event
from vitawin_common.territory import Territory

from vitawin_requests.initiatives.domain import Initiative, Party, PublishInitiative
from vitawin_requests.initiatives.rules import ConcurrentChange, InitiativeConflict
from vitawin_requests.moderation import AlreadyReported, Moderator, Report

log = logging.getLogger(__name__)

SOURCE = "/vitawin/requests"
CHANNEL = "initiatives"
PUBLISHED = "fr.vitawin.initiative.published.v1"
UPDATED = "fr.vitawin.initiative.updated.v1"
JOINED = "fr.vitawin.initiative.joined.v1"
LEFT = "fr.vitawin.initiative.left.v1"
CLOSED = "fr.vitawin.initiative.closed.v1"
HIDDEN = "fr.vitawin.initiative.hidden.v1"
UNHIDDEN = "fr.vitawin.initiative.unhidden.v1"
REPORTED = "fr.vitawin.initiative.reported.v1"
EVENT_TYPES = (PUBLISHED, UPDATED, JOINED, LEFT, CLOSED, HIDDEN, UNHIDDEN, REPORTED)

__all__ = ["AlreadyReported", "CHANNEL", "CLOSED", "EVENT_TYPES", "HIDDEN", "JOINED", "LEFT", "PUBLISHED", "REPORTED",
           "UNHIDDEN", "UPDATED", "ConcurrentChange", "InitiativeNotFound", "close_due", "close_initiative",
           "hide_initiative", "join_initiative", "leave_initiative", "publish_initiative", "report_initiative",
           "unhide_initiative", "update_initiative"]


class InitiativeNotFound(LookupError):
    """No initiative has this id (a 404)."""


def publish_initiative(command: PublishInitiative, publisher: Party, uow, territory: Territory, today: date,
                       now: datetime | None = None) -> Initiative:
    """Store the initiative (version 1) and fr.vitawin.initiative.published.v1 together.
    domain.NotAllowed or domain.InvalidInitiative store and publish nothing."""
    initiative = Initiative.publish(command, publisher, territory, today, now)
    event = new_event(PUBLISHED, SOURCE, initiative.initiative_id, initiative.published_event_data())
    with uow:
        uow.initiatives.add(initiative.to_document())
        uow.publish(event, CHANNEL)
        uow.commit()
    log.info("initiative published", extra={"initiative_id": initiative.initiative_id, "kind": initiative.kind,
                                            "event_id": event.id})
    return initiative


def update_initiative(initiative_id: str, changes: Mapping[str, Any], by: Party, uow, territory: Territory,
                      today: date, now: datetime | None = None) -> Initiative:
    """The publisher edits its initiative: fr.vitawin.initiative.updated.v1 with the new public
    state and the names of the changed fields. A change that changes nothing writes nothing."""
    def transition(before: Initiative):
        after = before.edit(changes, by, territory, today, now)
        if after is before:
            return before, None
        return after, new_event(UPDATED, SOURCE, initiative_id, after.updated_event_data(after.changed_fields(before)))
    return _change(initiative_id, uow, transition, "initiative updated")


def join_initiative(initiative_id: str, by: Party, message: str | None, uow, today: date,
                    now: datetime | None = None) -> Initiative:
    """`by` joins the initiative or applies to the call for projects: fr.vitawin.initiative.joined.v1
    (ids, role, time and version: never the message)."""
    def transition(before: Initiative):
        after, participation = before.join(by, message, today, now)
        return after, new_event(JOINED, SOURCE, initiative_id, after.joined_event_data(participation))
    return _change(initiative_id, uow, transition, "initiative joined")


def leave_initiative(initiative_id: str, actor_id: str, by: Party, uow, today: date,
                     now: datetime | None = None) -> Initiative:
    """`actor_id` stops taking part (itself, or removed by a territory manager):
    fr.vitawin.initiative.left.v1."""
    def transition(before: Initiative):
        after, participation = before.leave(actor_id, by, today, now)
        return after, new_event(LEFT, SOURCE, initiative_id, after.left_event_data(participation, by))
    return _change(initiative_id, uow, transition, "initiative left")


def close_initiative(initiative_id: str, by: Party | None, uow, now: datetime | None = None) -> Initiative:
    """Close it (its publisher, a territory manager, or `by` None at its deadline):
    fr.vitawin.initiative.closed.v1."""
    def transition(before: Initiative):
        after = before.close(by, now)
        return after, new_event(CLOSED, SOURCE, initiative_id, after.closed_event_data())
    return _change(initiative_id, uow, transition, "initiative closed")


def hide_initiative(initiative_id: str, reason: str, by: Moderator, uow, now: datetime | None = None) -> Initiative:
    """A territory manager hides it: fr.vitawin.initiative.hidden.v1 (the role, never the
    account). domain.NotAllowed, InitiativeConflict (already hidden)."""
    def transition(before: Initiative):
        after = before.hide(reason, by, now)
        return after, new_event(HIDDEN, SOURCE, initiative_id, after.hidden_event_data())
    return _change(initiative_id, uow, transition, "initiative hidden")


def unhide_initiative(initiative_id: str, by: Moderator, uow, now: datetime | None = None) -> Initiative:
    """A territory manager shows it again: fr.vitawin.initiative.unhidden.v1. domain.NotAllowed,
    InitiativeConflict (not hidden)."""
    def transition(before: Initiative):
        after = before.unhide(by, now)
        return after, new_event(UNHIDDEN, SOURCE, initiative_id, after.unhidden_event_data())
    return _change(initiative_id, uow, transition, "initiative shown again")


def report_initiative(initiative_id: str, report: Report, uow) -> int:
    """Store `report` with the initiative and publish fr.vitawin.initiative.reported.v1 (category,
    count and time: never the comment, never who reported) in one transaction; the version does
    not change. The number of reports so far. InitiativeNotFound; AlreadyReported when this
    account (not an anonymous caller) already reported it."""
    with uow:
        count = uow.initiatives.add_report(initiative_id, report.to_document(), once_per_reporter=not report.anonymous)
        if count is None:
            raise InitiativeNotFound(initiative_id)
        event = new_event(REPORTED, SOURCE, initiative_id, report.event_data("initiative_id", initiative_id, count))
        uow.publish(event, CHANNEL)
        uow.commit()
    log.info("initiative reported", extra={"initiative_id": initiative_id, "category": report.category,
                                           "report_count": count, "event_id": event.id})
    return count


def close_due(uow, now: datetime) -> list[str]:
    """Close every open call for projects whose deadline has passed at `now` (one transaction
    each; one changed meanwhile is left for the next run). Returns the ids closed."""
    closed = []
    for doc in uow.initiatives.due_for_closing(now):
        initiative_id = doc["initiative_id"]

        def transition(before: Initiative):
            if not before.is_due(now):  # closed or moved meanwhile
                return before, None
            after = before.close(None, now)
            return after, new_event(CLOSED, SOURCE, before.initiative_id, after.closed_event_data())
        try:
            after = _change(initiative_id, uow, transition, "call for projects closed at its deadline")
        except (ConcurrentChange, InitiativeConflict, InitiativeNotFound):
            log.warning("call for projects not closed, left for the next run", extra={"initiative_id": initiative_id})
            continue
        if after.status == "closed" and after.close_reason == "deadline_passed":
            closed.append(initiative_id)
    return closed


def _change(initiative_id: str, uow, transition: Callable[[Initiative], tuple[Initiative, Event | None]],
            what: str) -> Initiative:
    """Read, change and write an initiative with its event in ONE transaction, over the version
    read. InitiativeNotFound; whatever the transition raises leaves nothing written."""
    with uow:
        doc = uow.initiatives.get(initiative_id)
        if doc is None:
            raise InitiativeNotFound(initiative_id)
        before = Initiative.from_document(doc)
        after, event = transition(before)
        if event is None:
            return before  # nothing changed: leaving the block without commit() writes nothing
        uow.initiatives.replace(after.to_document(), expected_version=before.version)
        uow.publish(event, CHANNEL)
        uow.commit()
    log.info(what, extra={"initiative_id": initiative_id, "version": after.version, "event_id": event.id})
    return after
