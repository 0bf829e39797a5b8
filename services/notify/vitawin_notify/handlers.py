"""Service layer: what the notify worker does with each event it reads."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Mapping

from vitawin_common.consumer import PoisonEvent
from vitawin_common.events import Event

from vitawin_notify import domain

log = logging.getLogger(__name__)

PROPOSAL_CREATED = "fr.vitawin.proposal.created.v1"


def on_proposal_created(event: Event, uow, mailer, towns: Mapping[str, str]) -> None:
    """Email both parties of a new proposal, each at most once however often the event comes (only
    the professional when the request has no contact e-mail: a pupil's request from v2 on).

    `uow.deliveries` remembers what was sent; `mailer.send(email)` hands one email to the relay
    and raises on failure (domain.RecipientRejected when retrying cannot help); `towns` maps
    INSEE codes to town names. Any other exception leaves the event to be retried from its
    offset: the emails already recorded are skipped then, the others are sent."""
    try:
        emails = domain.emails_for_proposal(event.id, event.data, towns)
    except domain.InvalidAddress as exc:
        raise PoisonEvent(str(exc)) from None
    proposal_id = event.data["proposal_id"]
    if all(email.template != domain.PROPOSAL_TO_REQUESTER for email in emails):
        log.info("request without contact email: only the professional is emailed",
                 extra={"event_id": event.id, "proposal_id": proposal_id})
    for email in emails:
        ids = {"event_id": event.id, "proposal_id": proposal_id, "template": email.template}
        if uow.deliveries.is_sent(email.key):
            log.info("email already sent; skipped", extra=ids)
            continue
        try:
            mailer.send(email)
        except domain.RecipientRejected as exc:
            raise PoisonEvent(f"{email.template}: {exc}") from None
        # Remaining window: a crash (or a lost Mongo write) after the relay accepted the email and
        # before this record is durable sends that one email again when the event is retried.
        # SMTP cannot join a transaction with MongoDB, so some window is unavoidable; this one is
        # milliseconds wide, costs at worst one duplicate notification (never a lost one), and the
        # resent copy has the same Message-ID (derived from the delivery key), which lets mail
        # clients and relays that deduplicate on it drop it.
        uow.deliveries.record_sent(email.key, proposal_id=proposal_id, template=email.template,
                                   event_id=event.id, recipient_hash=domain.recipient_hash(email.to),
                                   sent_at=datetime.now(timezone.utc))
        log.info("email sent", extra=ids)
