"""A proposal's life after matching made it, in plain Python (no I/O): who may answer, what each
answer does, and the event it publishes (docs/matching.md, "Workflow of a proposal").

    pending --professional accepts--> accepted                (a school's request)
    pending --professional accepts--> awaiting_confirmation   (a pupil's request; notify asks the school)
    awaiting_confirmation --the school's referent confirms--> accepted
    pending | awaiting_confirmation --either side declines--> declined
    pending | awaiting_confirmation --deadline passed--> expired

accepted, declined and expired are final. Each transition returns the new state and the type of
the event to publish (None when the answer is a repeat of the one already recorded: answering
twice the same way is not an error, so a double click or a replayed message changes nothing). An
answer that contradicts the state (declining an accepted proposal...) is a ProposalConflict with
a French message, for a 409."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

PENDING = "pending"
AWAITING_CONFIRMATION = "awaiting_confirmation"
ACCEPTED = "accepted"
DECLINED = "declined"
EXPIRED = "expired"
STATUSES = {PENDING: "en attente de réponse", AWAITING_CONFIRMATION: "acceptée, en attente de confirmation",
            ACCEPTED: "acceptée", DECLINED: "refusée", EXPIRED: "expirée"}
OUTSTANDING = frozenset({PENDING, AWAITING_CONFIRMATION, ACCEPTED})  # hold a slot of the request
ANSWERABLE = frozenset({PENDING, AWAITING_CONFIRMATION})

VOLUNTEER, REQUESTER = "volunteer", "requester"
PROPOSAL_ACCEPTED = "fr.vitawin.proposal.accepted.v1"
PROPOSAL_DECLINED = "fr.vitawin.proposal.declined.v1"
PROPOSAL_EXPIRED = "fr.vitawin.proposal.expired.v1"
CONFIRMATION_REQUESTED = "fr.vitawin.proposal.confirmation_requested.v1"
DEFAULT_ANSWER_DAYS = 7


class ProposalConflict(Exception):
    """An answer the proposal's state forbids (French message)."""


@dataclass(frozen=True)
class ProposalState:
    proposal_id: str
    request_id: str
    volunteer_id: str
    requester_kind: str  # "school" or "pupil": a pupil's placement needs the referent's confirmation
    status: str
    created_at: datetime
    deadline: datetime
    version: int = 1
    answered_at: datetime | None = None  # the professional's answer
    closed_at: datetime | None = None  # accepted, declined or expired
    declined_by: str | None = None

    @classmethod
    def new(cls, proposal_id: str, request_id: str, volunteer_id: str, requester_kind: str, now: datetime,
            answer_days: int = DEFAULT_ANSWER_DAYS) -> "ProposalState":
        return cls(proposal_id, request_id, volunteer_id, requester_kind, PENDING, now,
                   now + timedelta(days=answer_days))

    @property
    def is_final(self) -> bool:
        return self.status not in ANSWERABLE

    # --- transitions ----------------------------------------------------------------------------
    def accept(self, by: str, now: datetime) -> tuple["ProposalState", str | None]:
        """The professional accepts (pending), or the school's referent confirms a pupil's
        placement (awaiting_confirmation)."""
        if by == VOLUNTEER:
            if self.status in (AWAITING_CONFIRMATION, ACCEPTED):
                return self, None  # already accepted by the professional
            self._refuse_if_final("acceptée")
            if self.requester_kind == "pupil":
                return self._next(status=AWAITING_CONFIRMATION, answered_at=now), CONFIRMATION_REQUESTED
            return self._next(status=ACCEPTED, answered_at=now, closed_at=now), PROPOSAL_ACCEPTED
        if by == REQUESTER:
            if self.status == ACCEPTED:
                return self, None
            if self.status == PENDING:
                raise ProposalConflict("Le professionnel n'a pas encore accepté cette proposition : "
                                       "la confirmation vient après son accord.")
            self._refuse_if_final("confirmée")
            return self._next(status=ACCEPTED, closed_at=now), PROPOSAL_ACCEPTED
        raise ValueError(f"unknown side {by!r}")

    def decline(self, by: str, now: datetime) -> tuple["ProposalState", str | None]:
        if by not in (VOLUNTEER, REQUESTER):
            raise ValueError(f"unknown side {by!r}")
        if self.status == DECLINED and self.declined_by == by:
            return self, None
        self._refuse_if_final("refusée")
        answered = now if by == VOLUNTEER else self.answered_at
        return self._next(status=DECLINED, declined_by=by, answered_at=answered, closed_at=now), PROPOSAL_DECLINED

    def expire(self, now: datetime) -> tuple["ProposalState", str | None]:
        """Past its deadline without the professional's answer: expired. A pupil's placement the
        professional accepted is waiting for the school, not for the professional: it does not
        expire here (the referent is reminded by notify)."""
        if self.status != PENDING or now < self.deadline:
            return self, None
        return self._next(status=EXPIRED, closed_at=now), PROPOSAL_EXPIRED

    def _refuse_if_final(self, what: str) -> None:
        if self.is_final:
            raise ProposalConflict(f"Cette proposition est déjà {STATUSES[self.status]} : elle ne peut plus "
                                   f"être {what}.")

    def _next(self, **changes) -> "ProposalState":
        return replace(self, version=self.version + 1, **changes)

    # --- what is published ------------------------------------------------------------------------
    def event_data(self, event_type: str) -> dict:
        ids = {"proposal_id": self.proposal_id, "request_id": self.request_id, "volunteer_id": self.volunteer_id}
        if event_type == CONFIRMATION_REQUESTED:
            return {**ids, "answered_at": _iso(self.answered_at)}
        moment = _iso(self.closed_at)
        if event_type == PROPOSAL_ACCEPTED:
            return {**ids, "accepted_at": moment}
        if event_type == PROPOSAL_DECLINED:
            reason = "declined_by_volunteer" if self.declined_by == VOLUNTEER else "declined_by_requester"
            return {**ids, "declined_at": moment, "reason": reason}
        if event_type == PROPOSAL_EXPIRED:
            return {**ids, "expired_at": moment}
        raise ValueError(f"no data for {event_type!r}")


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
