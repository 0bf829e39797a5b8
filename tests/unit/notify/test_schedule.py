"""Notify's clock (handlers.Notify.tick): reminders of pending proposals, digests at their time
(Europe/Paris, DST included), forgetting settled proposals; all idempotent. The clock is moved by
the test (conftest.NotifyHarness)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.message import EmailMessage

import pytest

from vitawin_common.events import Event

from vitawin_notify import delivery
from vitawin_notify.adapters import TransientMailError
from vitawin_notify.delivery import DAILY, WEEKLY
from vitawin_notify.handlers import last_digest_time

VOLUNTEER = "contact@boulangerie-vignerons.example.fr"
SCHOOL = "referent@college-saint-exupery.example.fr"
REFERENT = "referente.stages@lycee-berlioz.example.fr"
PID = "prop-3b1f0e6a9d2c4e55"
PUPIL_PID = "prop-1794725dc0ee84c2d4b0"
T0 = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)  # the examples' time: proposals made then
REMINDER_AFTER = timedelta(hours=72)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def reminders(h):
    return [(email, message) for email, message in h.mailer.outbox if email.template == "proposal_reminder"]


def made(h, **changes):
    """The school's proposal of the examples, made at T0; the mailer emptied after it."""
    h.handle(h.example("proposal.created.v1", **changes))
    h.mailer.outbox.clear()


def other_proposal(h, n=2, **changes):
    return h.example("proposal.created.v1", event_id=f"5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a{n:02d}",
                     proposal_id=f"prop-other-{n}", request_id=f"req-other-{n}", **changes)


# --- reminders -----------------------------------------------------------------------------------
def test_a_pending_proposal_gets_one_reminder_once_the_delay_has_passed(harness):
    h = harness
    made(h)

    h.clock.set(T0 + REMINDER_AFTER - timedelta(minutes=1))
    assert h.notify.tick() == {"reminders": 0, "digests": 0, "school_digests": 0, "forgotten": 0}
    assert h.mailer.outbox == []

    h.clock.set(T0 + REMINDER_AFTER)
    assert h.notify.tick()["reminders"] == 1
    [(email, message)] = h.mailer.outbox
    assert (email.template, email.to, email.role, email.category) == ("proposal_reminder", VOLUNTEER, "volunteer",
                                                                        "proposals")
    assert message["Subject"] == "Rappel : une demande de témoignage métier attend votre réponse"
    text = text_of(message)
    assert email.context["accept_url"] in text and email.context["decline_url"] in text
    assert f"/liens/{PID}/volunteer/accept" in email.context["accept_url"]
    assert h.proposals.get(PID)["reminded_at"] == T0 + REMINDER_AFTER
    assert h.delivery(f"reminder:{PID}", VOLUNTEER, "proposal_reminder")["status"] == "sent"

    for later in (timedelta(minutes=1), timedelta(hours=1), timedelta(days=3)):
        h.clock.set(T0 + REMINDER_AFTER + later)
        assert h.notify.tick()["reminders"] == 0
    assert len(h.mailer.outbox) == 1


def test_the_requester_is_not_reminded(harness):
    h = harness
    made(h)
    h.clock.set(T0 + REMINDER_AFTER + timedelta(hours=1))
    h.notify.tick()
    assert [email.to for email, _ in h.mailer.outbox] == [VOLUNTEER]


@pytest.mark.parametrize("name, changes", [("proposal.accepted.v1", {}), ("proposal.declined.v1", {}),
                                           ("proposal.expired.v1", {})])
def test_an_answered_proposal_gets_no_reminder(name, changes, harness):
    h = harness
    made(h)
    h.clock.set(T0 + timedelta(hours=10))
    h.handle(h.example(name, **changes))
    h.mailer.outbox.clear()
    h.clock.set(T0 + REMINDER_AFTER + timedelta(hours=1))
    assert h.notify.tick()["reminders"] == 0
    assert reminders(h) == []


def test_a_pupils_placement_waiting_for_the_school_gets_no_reminder_to_the_professional(harness):
    h = harness
    h.handle(h.example("contact.registered.v1", "school"))
    h.handle(h.example("proposal.created.v1", "pupil_without_email", request__school_uai="0940120V"))
    h.handle(h.example("proposal.confirmation_requested.v1", proposal_id=PUPIL_PID))
    h.clock.set(T0 + REMINDER_AFTER + timedelta(hours=1))
    assert h.notify.tick()["reminders"] == 0
    assert reminders(h) == []


def test_no_reminder_past_the_deadline(harness):
    h = harness
    made(h, deadline="2026-11-29T09:30:00Z")  # 48 hours: over before the reminder is due
    h.handle(other_proposal(h, deadline="2026-11-30T09:30:00Z"))  # exactly when it is due: over too
    h.handle(other_proposal(h, n=3, deadline="2026-11-30T09:31:00Z"))  # a minute left: reminded
    h.mailer.outbox.clear()
    h.clock.set(T0 + REMINDER_AFTER)
    assert h.notify.tick()["reminders"] == 1
    assert [email.subject_id for email, _ in reminders(h)] == ["prop-other-3"]


def test_each_proposal_is_reminded_on_its_own_schedule(harness):
    h = harness
    made(h)
    h.clock.set(T0 + timedelta(hours=5))
    h.handle(other_proposal(h))
    h.clock.set(T0 + REMINDER_AFTER)
    h.notify.tick()
    h.clock.set(T0 + REMINDER_AFTER + timedelta(hours=4))
    h.notify.tick()
    assert [email.subject_id for email, _ in reminders(h)] == [PID]
    h.clock.set(T0 + REMINDER_AFTER + timedelta(hours=5))
    h.notify.tick()
    assert [email.subject_id for email, _ in reminders(h)] == [PID, "prop-other-2"]


def test_the_reminder_delay_is_a_setting(make_harness):
    h = make_harness(reminder_after=timedelta(hours=24))
    made(h)
    h.clock.set(T0 + timedelta(hours=24))
    assert h.notify.tick()["reminders"] == 1


def test_a_tick_repeated_after_a_crash_does_not_send_the_reminder_twice(harness, monkeypatch):
    h = harness
    made(h)
    h.clock.set(T0 + REMINDER_AFTER)
    original = type(h.proposals).mark_reminded
    crashes = [RuntimeError("worker killed")]

    def mark_reminded(self, proposal_id, at):
        if crashes:
            raise crashes.pop()
        return original(self, proposal_id, at)
    monkeypatch.setattr(type(h.proposals), "mark_reminded", mark_reminded)

    with pytest.raises(RuntimeError):
        h.notify.tick()
    assert len(reminders(h)) == 1 and h.proposals.get(PID)["reminded_at"] is None

    h.clock.advance(minutes=1)
    h.notify.tick()
    assert len(reminders(h)) == 1
    assert h.proposals.get(PID)["reminded_at"] == T0 + REMINDER_AFTER + timedelta(minutes=1)


def test_a_reminder_the_relay_cannot_take_is_retried_not_sent_again_by_the_next_tick(harness):
    h = harness
    made(h)
    tries = h.mailer.tries
    h.mailer.failures = [TransientMailError("ConnectionRefusedError")]
    h.clock.set(T0 + REMINDER_AFTER)
    h.notify.tick()
    [retry] = [e for e, _ in h.published if e.type == delivery.NOTIFICATION_RETRY]
    assert h.proposals.get(PID)["reminded_at"] == T0 + REMINDER_AFTER
    h.clock.advance(minutes=1)
    h.notify.tick()
    assert h.mailer.tries == tries + 1

    assert delivery.on_retry(retry, h.deliverer, h.clock.set) == "sent"
    assert len(reminders(h)) == 1


def test_a_professional_who_wants_a_daily_digest_gets_the_reminder_in_it(harness):
    h = harness
    made(h)
    h.prefer(VOLUNTEER, proposals="daily")
    h.clock.set(T0 + REMINDER_AFTER)  # Monday 30 November, 10:30 Paris
    assert h.notify.tick()["reminders"] == 1
    assert reminders(h) == []
    h.clock.set(utc(2026, 12, 1, 7, 0))  # Tuesday 08:00 Paris
    h.notify.tick()
    [(digest, message)] = [(e, m) for e, m in h.mailer.outbox if e.template == "digest"]
    assert "Rappel : une demande de témoignage métier attend votre réponse" in text_of(message)


def test_the_professional_is_reminded_even_after_the_schools_referent_erased_their_account(harness):
    """The school's referent (the request's contact) is erased: the professional is still
    reminded (without the school's address), and the tick does not fail."""
    h = harness
    school = "act-2b3c4d5e6f708192a3b4c5d6e7f8091a"
    h.handle(h.example("contact.registered.v1", "school", email=SCHOOL, school_uai="0940585A"))
    made(h)
    h.clock.set(T0 + timedelta(days=1))
    h.handle(h.example("actor.erased.v1", actor_id=school, kind="school"))
    assert "requester_email" not in h.proposals.get(PID)

    h.clock.set(T0 + REMINDER_AFTER)
    h.notify.tick()

    [(email, message)] = reminders(h)
    assert email.to == VOLUNTEER and SCHOOL not in text_of(message)


def test_an_erased_professional_is_not_reminded_and_others_still_are(harness):
    """A pending proposal whose professional erased their account: no reminder to the forgotten
    address, and the tick goes on with the other proposals, the digests and the forgetting
    (a tick that fails on one proposal fails on it at every tick)."""
    h = harness
    h.handle(h.example("contact.registered.v1"))  # the company: the pledge's address
    made(h)
    h.handle(h.example("actor.erased.v1"))
    other = "autre.pro@menuiserie.example.fr"
    h.handle(other_proposal(h, volunteer__contact_email=other))
    h.mailer.outbox.clear()

    h.clock.set(T0 + REMINDER_AFTER)
    counts = h.notify.tick()

    assert [email.to for email, _ in reminders(h)] == [other]
    assert counts["reminders"] == 1
    h.clock.advance(hours=1)
    assert h.notify.tick()["reminders"] == 0


# --- forgetting ----------------------------------------------------------------------------------
def test_a_settled_proposal_is_forgotten_after_the_retention_delay_a_pending_one_never(harness):
    h = harness
    made(h)
    h.handle(other_proposal(h))
    h.clock.set(T0 + timedelta(hours=1))
    h.handle(h.example("proposal.declined.v1"))

    h.clock.set(T0 + timedelta(hours=1, days=30))
    assert h.notify.tick()["forgotten"] == 0
    h.clock.advance(seconds=1)
    assert h.notify.tick()["forgotten"] == 1
    assert h.proposals.get(PID) is None
    assert h.proposals.get("prop-other-2")["status"] == "pending"
    h.clock.advance(days=365)
    assert h.notify.tick()["forgotten"] == 0


# --- digests at their time -------------------------------------------------------------------------
@pytest.mark.parametrize("now, mode, expected", [
    # daily at 08:00 Paris; 2027-03-28: summer time starts (02:00 CET -> 03:00 CEST)
    (utc(2027, 3, 28, 6, 30), DAILY, utc(2027, 3, 28, 6, 0)),
    (utc(2027, 3, 28, 6, 0), DAILY, utc(2027, 3, 28, 6, 0)),
    (utc(2027, 3, 28, 5, 59), DAILY, utc(2027, 3, 27, 7, 0)),
    (utc(2027, 3, 28, 1, 30), DAILY, utc(2027, 3, 27, 7, 0)),
    (utc(2027, 3, 27, 7, 0), DAILY, utc(2027, 3, 27, 7, 0)),
    # 2026-10-25: summer time ends (03:00 CEST -> 02:00 CET), 02:30 happens twice
    (utc(2026, 10, 25, 7, 0), DAILY, utc(2026, 10, 25, 7, 0)),
    (utc(2026, 10, 25, 6, 30), DAILY, utc(2026, 10, 24, 6, 0)),
    (utc(2026, 10, 25, 0, 30), DAILY, utc(2026, 10, 24, 6, 0)),
    (utc(2026, 10, 25, 1, 30), DAILY, utc(2026, 10, 24, 6, 0)),
    # around midnight: Paris is already on the next day (and year)
    (utc(2026, 12, 31, 22, 59), DAILY, utc(2026, 12, 31, 7, 0)),
    (utc(2026, 12, 31, 23, 30), DAILY, utc(2026, 12, 31, 7, 0)),
    (utc(2027, 1, 1, 7, 0), DAILY, utc(2027, 1, 1, 7, 0)),
    # weekly on Monday at 08:00 Paris
    (utc(2027, 3, 29, 6, 0), WEEKLY, utc(2027, 3, 29, 6, 0)),
    (utc(2027, 3, 29, 5, 59), WEEKLY, utc(2027, 3, 22, 7, 0)),
    (utc(2027, 3, 28, 12, 0), WEEKLY, utc(2027, 3, 22, 7, 0)),
    (utc(2027, 4, 4, 21, 59), WEEKLY, utc(2027, 3, 29, 6, 0)),
    (utc(2026, 10, 26, 7, 0), WEEKLY, utc(2026, 10, 26, 7, 0)),
    (utc(2026, 10, 26, 6, 59), WEEKLY, utc(2026, 10, 19, 6, 0)),
    (utc(2026, 11, 29, 23, 30), WEEKLY, utc(2026, 11, 23, 7, 0)),  # Monday 00:30 in Paris
    (utc(2026, 11, 30, 7, 0), WEEKLY, utc(2026, 11, 30, 7, 0)),
])
def test_the_last_digest_moment_is_read_in_paris(now, mode, expected):
    moment = last_digest_time(now, mode, 8, 0)
    assert moment == expected and moment.utcoffset() == timedelta(0)


@pytest.mark.parametrize("now, mode, hour, weekday, expected", [
    (utc(2026, 11, 29, 23, 0), DAILY, 0, 0, utc(2026, 11, 29, 23, 0)),  # midnight Paris
    (utc(2026, 11, 29, 22, 59), DAILY, 0, 0, utc(2026, 11, 28, 23, 0)),
    (utc(2027, 3, 27, 23, 30), DAILY, 0, 0, utc(2027, 3, 27, 23, 0)),  # midnight before the change
    (utc(2027, 3, 28, 22, 30), DAILY, 0, 0, utc(2027, 3, 28, 22, 0)),  # midnight after it
    (utc(2026, 11, 30, 10, 0), WEEKLY, 8, 6, utc(2026, 11, 29, 7, 0)),  # Sunday digests
    (utc(2026, 11, 29, 6, 59), WEEKLY, 8, 6, utc(2026, 11, 22, 7, 0)),
    (utc(2027, 3, 28, 6, 0), WEEKLY, 8, 6, utc(2027, 3, 28, 6, 0)),  # Sunday of the change
])
def test_the_digest_hour_and_weekday_are_settings(now, mode, hour, weekday, expected):
    assert last_digest_time(now, mode, hour, weekday) == expected


def test_the_daily_digest_follows_paris_time_when_summer_time_starts(harness):
    h = harness
    h.prefer(VOLUNTEER, proposals="daily")
    h.clock.set(utc(2027, 3, 27, 12, 0))  # Saturday, winter time
    made(h)
    h.clock.set(utc(2027, 3, 28, 5, 59))  # Sunday 07:59 CEST: 06:59 in winter time, too early
    assert h.notify.tick()["digests"] == 0
    h.clock.set(utc(2027, 3, 28, 6, 0))  # Sunday 08:00 CEST
    assert h.notify.tick()["digests"] == 1
    [digest] = [e for e in h.mailer.emails if e.template == "digest"]
    assert digest.event_id.startswith("digest:daily:2027-03-28:proposals:")


def test_the_weekly_digest_waits_for_the_configured_weekday(make_harness):
    h = make_harness(digest_weekday=4, digest_hour=17)  # Friday 17:00 Paris
    h.prefer(VOLUNTEER, proposals="weekly")
    h.clock.set(utc(2026, 11, 27, 16, 0))  # Friday 27 November, 17:00 Paris: that week's is due
    made(h)
    assert h.notify.tick()["digests"] == 0  # queued at 17:00, not before it
    h.clock.set(utc(2026, 12, 4, 15, 59))
    assert h.notify.tick()["digests"] == 0
    h.clock.set(utc(2026, 12, 4, 16, 0))
    assert h.notify.tick()["digests"] == 1
    h.clock.set(utc(2026, 12, 11, 16, 0))
    assert h.notify.tick()["digests"] == 0


def test_a_digest_tick_repeated_after_a_crash_sends_the_digest_once(harness, monkeypatch):
    h = harness
    h.prefer(VOLUNTEER, proposals="daily")
    made(h)
    h.handle(other_proposal(h))
    original = type(h.digests).remove
    crashes = [RuntimeError("worker killed")]

    def remove(self, keys):
        if crashes:
            raise crashes.pop()
        return original(self, keys)
    monkeypatch.setattr(type(h.digests), "remove", remove)

    h.clock.set(utc(2026, 11, 28, 7, 0))
    with pytest.raises(RuntimeError):
        h.notify.tick()
    assert len(h.digests.docs) == 2
    h.clock.advance(minutes=1)
    h.notify.tick()
    assert [e.template for e in h.mailer.emails if e.to == VOLUNTEER] == ["digest"]
    assert h.digests.docs == {}


def test_a_digest_to_someone_who_unsubscribed_meanwhile_is_not_sent(harness):
    h = harness
    h.prefer(VOLUNTEER, proposals="daily")
    made(h)
    h.prefer(VOLUNTEER, proposals="off")
    h.clock.set(utc(2026, 11, 28, 7, 0))
    h.notify.tick()
    assert [e for e in h.mailer.emails if e.to == VOLUNTEER] == []
    assert h.digests.docs == {}
    digest_keys = [k for k, d in h.deliveries.docs.items() if d.get("template") == "digest"]
    assert [h.deliveries.docs[k]["status"] for k in digest_keys] == ["suppressed"]


# --- the referents' weekly digest of their pupils' requests --------------------------------------
SCHOOL_UAI = "0940585A"  # the pupil request examples' school
REFERENT = "referente.stages@lycee-berlioz.example.fr"


def school_with_pupil_requests(h):
    """A school's referent in the contact book, two pupil requests of the school, one proposal."""
    h.handle(h.example("contact.registered.v1", "school", school_uai=SCHOOL_UAI))
    h.handle(h.example("request.created.v2", "pupil_discovery_internship"))
    h.handle(h.example("request.created.v2", "pupil_job_information", school_uai=SCHOOL_UAI))
    internship = h.example("request.created.v2", "pupil_discovery_internship").data
    return internship["request_id"]


def weekly_digests(h):
    return [(email, message) for email, message in h.mailer.outbox
            if email.template == "digest" and email.to == REFERENT]


def test_the_referent_gets_the_week_of_the_schools_pupil_requests_on_monday_once(harness):
    h = harness  # Friday 27 November 2026
    request_id = school_with_pupil_requests(h)
    h.handle(h.example("proposal.created.v1", "basic", request_id=request_id, request__requester_kind="pupil",
                       request__school_uai=SCHOOL_UAI, drop=("request__contact_email",)))
    h.notify.tick()
    assert weekly_digests(h) == []  # not before Monday

    h.clock.set(utc(2026, 11, 30, 7, 5))  # Monday 08:05 in Paris
    h.notify.tick()
    h.notify.tick()
    [(email, message)] = weekly_digests(h)
    assert (email.role, email.category, email.subject_id) == ("referent", "requests", SCHOOL_UAI)
    body = text_of(message)
    assert "2 éléments" in body and "1 proposition en attente de réponse" in body
    assert "aucune proposition pour l'instant" in body
    assert f"/demandes/{request_id}" in body

    h.clock.set(utc(2026, 12, 1, 7, 5))  # Tuesday: nothing more this week
    h.notify.tick()
    assert len(weekly_digests(h)) == 1


def test_closed_requests_and_settled_proposals_change_the_next_digest(harness):
    h = harness
    request_id = school_with_pupil_requests(h)
    other = h.example("request.created.v2", "pupil_job_information").data["request_id"]
    h.handle(h.example("request.cancelled.v1", "basic", request_id=other))
    created = h.example("proposal.created.v1", "basic", request_id=request_id, request__requester_kind="pupil",
                        request__school_uai=SCHOOL_UAI, drop=("request__contact_email",))
    h.handle(created)
    h.handle(Event(type="fr.vitawin.proposal.accepted.v1", source="/vitawin/matching",
                   subject=created.data["proposal_id"],
                   data={"proposal_id": created.data["proposal_id"], "request_id": request_id,
                         "volunteer_id": created.data["volunteer_id"], "accepted_at": "2026-11-28T10:00:00.000Z"}))
    h.clock.set(utc(2026, 11, 30, 7, 5))
    h.notify.tick()
    [(_, message)] = weekly_digests(h)
    body = text_of(message)
    assert "1 élément" in body and "1 mise en relation confirmée" in body


def test_a_worker_started_later_in_the_week_does_not_send_last_mondays_digest(harness):
    h = harness
    school_with_pupil_requests(h)
    h.clock.set(utc(2026, 12, 2, 10, 0))  # Wednesday
    h.notify.tick()
    assert weekly_digests(h) == []


def test_a_referent_who_turned_requests_off_gets_no_weekly_digest(harness):
    h = harness
    school_with_pupil_requests(h)
    h.prefer(REFERENT, requests="off")
    h.clock.set(utc(2026, 11, 30, 7, 5))
    h.notify.tick()
    assert weekly_digests(h) == []
