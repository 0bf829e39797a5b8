"""Service layer: what notify does with each event it reads, and with the clock (docs/notify.md).

Each handler works out the emails an event calls for (`messages`), hands each to the `Deliverer`
(once per delivery key, preferences read at send time, retries through the retry channel) and
keeps what the later emails need: the proposal's parties (`remembered_proposals`), the contact
book (school referents by UAI), the link request -> pupil of pupils' requests (`requesters`, for
the guardians' copies). A bad address in an event makes it poison (dead letter); any other
failure leaves the event to be read again, and what was already delivered is skipped then.

Guardians' copies (issue 6): a proposal for a pupil's request, then its acceptance, is copied to
the pupil's guardian when the request's school asks for it (`guardian_copies` of the school's
contact) and the pupil has a guardian's address in the contact book. The link request -> pupil
comes from another topic (`requesters`) than the proposal: when it has not been read yet, the
copy of that event is not sent (nothing waits for it); the acceptance's copy still goes if the
link has arrived by then. The professional never gets the guardian's address, and no log line
names the pupil."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from typing import Callable
from zoneinfo import ZoneInfo

from vitawin_common.consumer import PoisonEvent
from vitawin_common.events import Event

from vitawin_notify import domain, messages
from vitawin_notify.delivery import DAILY, WEEKLY, Deliverer, email_from_job, utcnow

log = logging.getLogger(__name__)

PROPOSAL_CREATED = "fr.vitawin.proposal.created.v1"
PROPOSAL_CONFIRMATION_REQUESTED = "fr.vitawin.proposal.confirmation_requested.v1"
PROPOSAL_ACCEPTED = "fr.vitawin.proposal.accepted.v1"
PROPOSAL_DECLINED = "fr.vitawin.proposal.declined.v1"
PROPOSAL_EXPIRED = "fr.vitawin.proposal.expired.v1"
REQUEST_CREATED = "fr.vitawin.request.created.v2"
REQUEST_REQUESTER = "fr.vitawin.request.requester.v1"
REQUEST_CLOSED = ("fr.vitawin.request.cancelled.v1", "fr.vitawin.request.fulfilled.v1", "fr.vitawin.request.expired.v1")
VOLUNTEER_REGISTERED = "fr.vitawin.volunteer.registered.v1"
CONTACT_REGISTERED = "fr.vitawin.contact.registered.v1"
ACTOR_ERASED = "fr.vitawin.actor.erased.v1"
PARIS = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class Settings:
    """What a person reads depends on: the territory, the links, the web app's address; and the
    schedule: reminder delay, how long a school has to confirm, when digests go out."""
    territory: messages.Territory
    links: messages.Links
    app_url: str
    reminder_after: timedelta = timedelta(hours=72)
    confirmation_days: int = 7
    digest_hour: int = 8  # Europe/Paris
    digest_weekday: int = 0  # Monday
    forget_after: timedelta = timedelta(days=30)  # settled proposals' addresses


@dataclass
class Notify:
    uow_factory: Callable
    deliverer: Deliverer
    settings: Settings
    clock: Callable[[], datetime] = field(default=utcnow)

    # --- events ---------------------------------------------------------------------------------
    def handlers(self) -> dict[str, Callable[[Event], None]]:
        return {PROPOSAL_CREATED: self.on_proposal_created,
                PROPOSAL_CONFIRMATION_REQUESTED: self.on_confirmation_requested,
                PROPOSAL_ACCEPTED: self.on_proposal_outcome, PROPOSAL_DECLINED: self.on_proposal_outcome,
                PROPOSAL_EXPIRED: self.on_proposal_outcome, REQUEST_CREATED: self.on_request_created,
                **{closed: self.on_request_closed for closed in REQUEST_CLOSED},
                VOLUNTEER_REGISTERED: self.on_volunteer_registered, CONTACT_REGISTERED: self.on_contact_registered,
                ACTOR_ERASED: self.on_actor_erased, REQUEST_REQUESTER: self.on_requester}

    def on_proposal_created(self, event: Event) -> None:
        """Both parties of a new proposal (for a pupil's request: the school's referent, and the
        pupil's guardian when the school asks for it), and remember them for the emails that
        follow."""
        s, data = self.settings, event.data
        referent = self._referent_email(messages.school_of(data)) if data["request"]["requester_kind"] == "pupil" else None
        deadline = messages.answer_deadline(data, event.time)
        with _poison_on_bad_address():
            emails = messages.proposal_created(event.id, data, s.territory, s.links, deadline=deadline,
                                               referent_email=referent)
            remembered = messages.remember(data, deadline=deadline, referent_email=referent)
        emails += self._guardian_copy(messages.guardian_proposal, event, remembered)
        uow = self.uow_factory()
        with uow:
            uow.proposals.remember(_stored(remembered, deadline, self.clock()))
            if data["request"]["requester_kind"] == "pupil":
                uow.pupil_requests.proposal_made(data["request_id"], data["proposal_id"])
            uow.commit()
        self._deliver_all(emails)

    def on_confirmation_requested(self, event: Event) -> None:
        """The professional accepted a pupil's placement: the school's referent confirms it."""
        proposal = self._remembered(event)
        if proposal is None:
            return
        answered = messages.parse_moment(event.data["answered_at"])
        with _poison_on_bad_address():
            emails = messages.confirmation_request(event.id, proposal, self.settings.territory, self.settings.links,
                                                   expires_at=answered + timedelta(days=self.settings.confirmation_days))
        self._set_status(proposal["proposal_id"], "awaiting_confirmation")
        self._deliver_all(emails)

    def on_proposal_outcome(self, event: Event) -> None:
        """Accepted, declined or expired: both parties hear it; the proposal is settled."""
        proposal = self._remembered(event)
        if proposal is None:
            return
        s = self.settings
        with _poison_on_bad_address():
            if event.type == PROPOSAL_ACCEPTED:
                emails = messages.proposal_accepted(event.id, proposal, s.territory, s.links)
            elif event.type == PROPOSAL_DECLINED:
                emails = messages.proposal_declined(event.id, proposal, s.territory, s.links,
                                                    reason=event.data.get("reason", "declined_by_volunteer"))
            else:
                emails = messages.proposal_expired(event.id, proposal, s.territory, s.links)
        if event.type == PROPOSAL_ACCEPTED:
            emails += self._guardian_copy(messages.guardian_accepted, event, proposal)
        uow = self.uow_factory()
        with uow:
            uow.proposals.settle(proposal["proposal_id"], event.type.rsplit(".", 2)[-2], self.clock())
            if proposal["requester_kind"] == "pupil":
                uow.pupil_requests.proposal_settled(proposal["request_id"], proposal["proposal_id"],
                                                    accepted=event.type == PROPOSAL_ACCEPTED)
            uow.commit()
        self._deliver_all(emails)

    def on_request_created(self, event: Event) -> None:
        """A pupil asked for something: the school's referent hears it (a school's own request
        needs no email: its referent wrote it)."""
        data = event.data
        if data.get("requester_kind") != "pupil":
            return
        uow = self.uow_factory()
        with uow:  # for the referent's weekly digest
            uow.pupil_requests.track(_pupil_request(data))
            uow.commit()
        referent = self._referent_email(data.get("school_uai"))
        if referent is None:
            log.info("no referent known for the school: nobody to tell",
                     extra={"event_id": event.id, "request_id": data["request_id"]})
            return
        with _poison_on_bad_address():
            emails = messages.pupil_request(event.id, data, referent, self.settings.territory, self.settings.links,
                                            app_url=self.settings.app_url)
        self._deliver_all(emails)

    def on_requester(self, event: Event) -> None:
        """Who made a pupil's request (internal `requesters` channel): kept for the guardian's
        copies of its proposals. Ids only; the pupil's actor id is never logged."""
        data = event.data
        uow = self.uow_factory()
        with uow:
            uow.requesters.add({"request_id": data["request_id"], "requester_actor_id": data["requester_actor_id"],
                                "school_uai": data["school_uai"]})
            uow.commit()
        log.info("pupil's request linked to its requester", extra={"event_id": event.id,
                                                                    "request_id": data["request_id"]})

    def on_request_closed(self, event: Event) -> None:
        """Cancelled, fulfilled or expired: out of the referent's weekly digest."""
        uow = self.uow_factory()
        with uow:
            uow.pupil_requests.close(event.data["request_id"], event.type.rsplit(".", 2)[-2])
            uow.commit()

    def on_volunteer_registered(self, event: Event) -> None:
        with _poison_on_bad_address():
            emails = messages.pledge_confirmation(event.id, event.data, self.settings.territory,
                                                  app_url=self.settings.app_url)
        self._deliver_all(emails)

    def on_contact_registered(self, event: Event) -> None:
        """Keep the contact (referents by UAI, addresses for the erasure confirmation); welcome."""
        data = event.data
        with _poison_on_bad_address():
            for name in ("email", "guardian_email"):
                if name in data:
                    domain.check_address(data[name], name)
            emails = messages.welcome(event.id, data, self.settings.territory, app_url=self.settings.app_url)
        uow = self.uow_factory()
        with uow:
            uow.contacts.add({"actor_id": data["actor_id"], **data})
            uow.commit()
        self._deliver_all(emails)

    def on_actor_erased(self, event: Event) -> None:
        """Confirm the erasure to the address still known, then forget it everywhere in notify."""
        actor_id = event.data["actor_id"]
        uow = self.uow_factory()
        contact = uow.contacts.get(actor_id)
        address = (contact or {}).get("email") or (contact or {}).get("guardian_email")
        if address:
            with _poison_on_bad_address():
                emails = messages.erasure_confirmation(event.id, event.data, address, self.settings.territory)
            self._deliver_all(emails)
        with uow:
            uow.contacts.forget(actor_id)
            links = uow.requesters.forget_actor(actor_id)  # a pupil's requests: no more guardian copies
            if address:
                uow.proposals.forget_addresses_of({domain.recipient_hash(address)})
                uow.digests.forget_recipient(domain.recipient_hash(address))
            uow.commit()
        log.info("contact forgotten after erasure", extra={"actor_id": actor_id, "had_address": bool(address),
                                                           "requests_unlinked": links})

    # --- the clock ------------------------------------------------------------------------------
    def tick(self) -> dict[str, int]:
        """What is due now: reminders, digests, forgetting settled proposals. Idempotent: each
        email has a stable key, so a tick repeated after a crash sends nothing twice."""
        return {"reminders": self.send_reminders(), "digests": self.send_digests(),
                "school_digests": self.send_school_digests(), "forgotten": self.forget_settled()}

    def send_reminders(self) -> int:
        now, s = self.clock(), self.settings
        uow = self.uow_factory()
        sent = 0
        for proposal in uow.proposals.due_for_reminder(now - s.reminder_after, now):
            pid = proposal["proposal_id"]
            with _poison_on_bad_address(reraise=False):
                emails = messages.reminder(f"reminder:{pid}", proposal, s.territory, s.links)
                self._deliver_all(emails)  # first: a crash before the mark only repeats a no-op
                sent += len(emails)
            with uow:
                uow.proposals.mark_reminded(pid, now)
                uow.commit()
        return sent

    def send_digests(self) -> int:
        """Each person's queued emails, daily at `digest_hour` (Paris time) or weekly on
        `digest_weekday`: everything queued before the last such moment goes in one email."""
        now, s = self.clock(), self.settings
        uow = self.uow_factory()
        sent = 0
        for mode in (DAILY, WEEKLY):
            cutoff = last_digest_time(now, mode, s.digest_hour, s.digest_weekday)
            for recipient in uow.digests.recipients_due(mode, cutoff):
                items = uow.digests.items(recipient, cutoff, mode)
                by_category: dict[str, list] = {}
                for item in items:
                    email = email_from_job(item["job"])
                    if mode == WEEKLY and email.template == messages.PUPIL_REQUEST:
                        continue  # the school's weekly digest lists every open pupil request
                    by_category.setdefault(email.category, []).append(email)
                for category, emails in sorted(by_category.items()):
                    digest_id = f"digest:{mode}:{cutoff.date().isoformat()}:{category}:{recipient}"
                    for email in messages.digest_of_emails(digest_id, emails[0].to, emails, s.territory, s.links,
                                                           app_url=s.app_url, frequency=mode, subject_id=recipient[:16]):
                        self.deliverer.deliver(email)
                        sent += 1
                with uow:
                    uow.digests.remove([item["_id"] for item in items])
                    uow.commit()
        return sent

    def send_school_digests(self) -> int:
        """Each week (digest_weekday, digest_hour, Paris time), every school's referent gets the
        open requests of the school's pupils and where their proposals stand; once per week (the
        key carries the week), and only on the day itself (a worker started on a Friday does not
        send last Monday's)."""
        now, s = self.clock(), self.settings
        cutoff = last_digest_time(now, WEEKLY, s.digest_hour, s.digest_weekday)
        if now - cutoff >= timedelta(days=1):
            return 0
        uow = self.uow_factory()
        sent = 0
        for school_uai in uow.pupil_requests.schools_with_open_requests():
            referent = self._referent_email(school_uai)
            if referent is None:
                continue
            items = [_digest_item(doc, s.app_url) for doc in uow.pupil_requests.open_for(school_uai)]
            with _poison_on_bad_address(reraise=False):
                for email in messages.digest(f"school-digest:{school_uai}:{cutoff.date().isoformat()}", referent,
                                             items, s.territory, s.links, role="referent", category="requests",
                                             frequency=WEEKLY, subject_id=school_uai):
                    if self.deliverer.deliver(email) == "sent":
                        sent += 1
        return sent

    def forget_settled(self) -> int:
        uow = self.uow_factory()
        with uow:
            count = uow.proposals.forget_settled(self.clock() - self.settings.forget_after)
            uow.commit()
        return count

    # --- helpers --------------------------------------------------------------------------------
    def _deliver_all(self, emails: list[domain.Email]) -> None:
        for email in emails:
            self.deliverer.deliver(email)

    def _referent_email(self, school_uai: str | None) -> str | None:
        if not school_uai:
            return None
        contact = self.uow_factory().contacts.referent_of(school_uai)
        return contact.get("email") if contact else None

    def _guardian_email(self, request_id: str) -> str | None:
        """The address of the guardian of the pupil who made `request_id`, when the request's school
        asks for guardian copies; None when there is no copy to send: no link request -> pupil yet
        (or the pupil was erased), the school unknown or not asking, no guardian's address."""
        uow = self.uow_factory()
        requester = uow.requesters.get(request_id)
        if requester is None:
            return None
        school = uow.contacts.referent_of(requester["school_uai"])
        if not (school or {}).get("guardian_copies"):
            return None
        pupil = uow.contacts.get(requester["requester_actor_id"])
        if not pupil or pupil.get("kind") != "pupil":
            return None
        return pupil.get("guardian_email")

    def _guardian_copy(self, make: Callable[..., list[domain.Email]], event: Event,
                       proposal: dict) -> list[domain.Email]:
        """The guardian's copy `make` writes of a pupil's proposal event, or [] (see
        `_guardian_email`). An address that cannot be sent to only skips the copy: the parties'
        emails still go."""
        if proposal.get("requester_kind") != "pupil":
            return []
        guardian = self._guardian_email(proposal["request_id"])
        if guardian is None:
            log.info("no guardian copy", extra={"event_id": event.id, "request_id": proposal["request_id"],
                                                "proposal_id": proposal["proposal_id"]})
            return []
        with _poison_on_bad_address(reraise=False):
            return make(event.id, proposal, guardian, self.settings.territory, self.settings.links)
        return []

    def _remembered(self, event: Event) -> dict | None:
        proposal = self.uow_factory().proposals.get(event.data["proposal_id"])
        if proposal is None:
            log.info("proposal not remembered (made before notify knew it, or forgotten): nobody told",
                     extra={"event_id": event.id, "proposal_id": event.data["proposal_id"]})
        return proposal

    def _set_status(self, proposal_id: str, status: str) -> None:
        uow = self.uow_factory()
        with uow:
            uow.proposals.set_status(proposal_id, status)
            uow.commit()


def _stored(remembered: dict, deadline: datetime, now: datetime) -> dict:
    """The remembered proposal as stored: plus its state, dates as dates (for the clock's
    queries) and address hashes (to forget an erased person's address)."""
    doc = dict(remembered, status="pending", created_at=now, deadline_at=deadline, reminded_at=None)
    for name in ("volunteer_email", "requester_email"):
        if doc.get(name):
            doc[f"{name}_sha256"] = domain.recipient_hash(doc[name])
    return doc


def _pupil_request(data: dict) -> dict:
    """What the referent's digest shows of a pupil's request: what, where, when; never who."""
    when = data.get("date") or (data.get("period") or [None])[0] or data.get("start")
    doc = {"request_id": data["request_id"], "school_uai": data.get("school_uai"), "kind": data["kind"],
           "town": data["town"], "level": data.get("level") or (data.get("levels") or [None])[0],
           "when": when, "created_at": data.get("created_at")}
    return {k: v for k, v in doc.items() if v is not None}


def _digest_item(doc: dict, app_url: str) -> dict:
    pending, accepted = len(doc.get("pending", [])), len(doc.get("accepted", []))
    if accepted:
        status = f"{accepted} mise{'s' if accepted > 1 else ''} en relation confirmée{'s' if accepted > 1 else ''}"
    elif pending:
        status = f"{pending} proposition{'s' if pending > 1 else ''} en attente de réponse"
    else:
        status = "aucune proposition pour l'instant"
    item = {"kind": doc["kind"], "town": doc["town"], "status": status,
            "url": messages.page_url(app_url, messages.REQUEST_PAGE, request_id=doc["request_id"])}
    for name in ("when", "level"):
        if doc.get(name):
            item[name] = doc[name]
    return item


def last_digest_time(now: datetime, mode: str, hour: int, weekday: int) -> datetime:
    """The latest digest moment at or before `now` (Paris time), in UTC."""
    local = now.astimezone(PARIS)
    moment = datetime.combine(local.date(), time(hour), tzinfo=PARIS)
    if moment > local:
        moment -= timedelta(days=1)
    if mode == WEEKLY:
        moment -= timedelta(days=(moment.weekday() - weekday) % 7)
    return moment.astimezone(timezone.utc)


class _poison_on_bad_address:
    """An address that can never work makes the event poison (dead letter, named field only)."""

    def __init__(self, reraise: bool = True):
        self.reraise = reraise

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and issubclass(exc_type, domain.InvalidAddress):
            if not self.reraise:
                log.warning("invalid address: email skipped", extra={"reason": str(exc)})
                return True
            raise PoisonEvent(str(exc)) from None
        return False
