"""The translator (handlers.Translator with vitawin_webhooks.public): internal events become public
events that satisfy their contracts and carry nothing personal; pupils' own requests are never
published; ids that lead to people are replaced or dropped; each event is translated once, in
version order."""
from __future__ import annotations

import json
import re

import pytest

from vitawin_webhooks import handlers, public

from tests.unit.webhooks.webhooks_fakes import CONTRACTS, KEY, example

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
PHONE = re.compile(r"(?:\+33\s?|0)[1-9](?:[\s.-]?\d{2}){4}")
NAME = "Boulangerie de Jeanne Martin"  # a sole trader's name is a person's
EMAIL_ADDRESS = "jeanne.martin@example.fr"


@pytest.fixture
def translator(uow):
    return handlers.Translator(lambda: uow, KEY)


def apply(translator, event):
    translator.handlers()[event.type](event)


def public_json(uow) -> str:
    return json.dumps([{"subject": e.subject, "data": e.data} for e, _ in uow.published], ensure_ascii=False)


def school_request(**changes):
    return example("fr.vitawin.request.created.v2", "class_testimony.json", **changes)


def test_a_school_request_is_published_with_codes_counts_and_levels_only(translator, uow):
    apply(translator, school_request())
    [(event, channel)] = uow.published
    assert (event.type, channel, event.source) == (public.REQUEST_PUBLISHED, "publicRequests", "/vitawin/public")
    assert event.subject == "req-5f3a9c10d2e84b7c9a1b2c3d4e5f6a7b"
    assert event.data == {
        "request_id": "req-5f3a9c10d2e84b7c9a1b2c3d4e5f6a7b", "kind": "class_testimony", "action_type": "testimony",
        "town": "94080", "school_uai": "0940585A", "levels": ["3e"], "pupil_count": 28, "professionals_wanted": 2,
        "month": "2027-01", "rome_codes": ["D1102"], "version": 1, "published_at": "2026-11-27T09:30:00.000Z"}
    assert event.correlation_id is None, "internal tracing ids stay inside"


def test_an_intervention_topic_typed_by_a_referent_never_goes_out(translator, uow):
    created = school_request(kind="class_intervention", action_type="intervention",
                             topic=f"Rencontre avec {NAME}, {EMAIL_ADDRESS}")
    apply(translator, created)
    assert len(uow.published) == 1
    assert NAME not in public_json(uow) and EMAIL_ADDRESS not in public_json(uow)
    assert "contact_email" not in uow.published[0][0].data and "location" not in uow.published[0][0].data


def test_a_pupil_s_own_request_is_never_published_but_is_remembered(translator, uow):
    apply(translator, example("fr.vitawin.request.created.v2", "pupil_job_information.json"))
    assert uow.published == []
    assert uow.requests.get("req-078c17f641fd455f85521ea7351c544a")["requester_kind"] == "pupil"


def test_a_closed_school_request_says_where_and_how_never_why(translator, uow):
    apply(translator, school_request())
    cancelled = example("fr.vitawin.request.cancelled.v1", request_id="req-5f3a9c10d2e84b7c9a1b2c3d4e5f6a7b",
                        reason=f"Annulé par {NAME}")
    apply(translator, cancelled)
    event = uow.published_of(public.REQUEST_CLOSED)[0]
    assert event.data == {"request_id": "req-5f3a9c10d2e84b7c9a1b2c3d4e5f6a7b", "kind": "class_testimony",
                          "action_type": "testimony", "town": "94080", "school_uai": "0940585A",
                          "outcome": "cancelled", "closed_at": "2027-01-08T10:00:00.000Z"}
    assert NAME not in public_json(uow)


def test_a_fulfilled_request_counts_its_accepted_proposals(translator, uow):
    apply(translator, school_request())
    apply(translator, example("fr.vitawin.request.fulfilled.v1"))
    event = uow.published_of(public.REQUEST_CLOSED)[0]
    assert (event.data["outcome"], event.data["accepted_count"]) == ("fulfilled", 3)
    assert "prop-" not in public_json(uow), "no proposal id"


def test_a_pupil_s_request_closing_publishes_nothing(translator, uow):
    apply(translator, example("fr.vitawin.request.created.v2", "pupil_job_information.json"))
    apply(translator, example("fr.vitawin.request.expired.v1", request_id="req-078c17f641fd455f85521ea7351c544a"))
    assert uow.published == []


def test_events_are_translated_once_and_in_version_order(translator, uow):
    created = school_request()
    apply(translator, created)
    apply(translator, created)  # redelivered
    fulfilled = example("fr.vitawin.request.fulfilled.v1")
    apply(translator, fulfilled)
    apply(translator, example("fr.vitawin.request.cancelled.v1", request_id=fulfilled.data["request_id"], version=4))
    assert [e.type for e, _ in uow.published] == [public.REQUEST_PUBLISHED, public.REQUEST_CLOSED]
    assert uow.published[1][0].data["outcome"] == "fulfilled"


def test_the_same_internal_event_always_gives_the_same_public_event_id():
    first = public.public_event(public.REQUEST_PUBLISHED, "s", {}, school_request())
    again = public.public_event(public.REQUEST_PUBLISHED, "s", {}, school_request())
    other = public.public_event(public.REQUEST_CLOSED, "s", {}, school_request())
    assert first.id == again.id != other.id
    assert first.time == school_request().time


# --- pledges ---

def pledge(**changes):
    return example("fr.vitawin.volunteer.registered.v1", **{"organisation_name": NAME, "contact_email": EMAIL_ADDRESS,
                                                             "actor_id": "act-" + "1" * 32, **changes})


def test_a_pledge_is_published_under_a_pseudonym_with_town_kind_and_sector_never_its_name(translator, uow):
    apply(translator, example("fr.vitawin.actor.registered.v1", actor_id="act-" + "1" * 32, kind="craftsman",
                              name=NAME, naf_code="10.71C"))
    apply(translator, pledge())
    [event] = uow.published_of(public.PLEDGE_PUBLISHED)
    assert event.data == {"pledge_id": public.pledge_id("vol-0b7c1d2e", KEY), "town": "94080",
                          "action_types": ["testimony", "internship"], "organisation_kind": "craftsman",
                          "sector": "10", "version": 1, "published_at": "2026-11-27T09:30:00.000Z"}
    assert re.fullmatch(r"plg-[0-9a-f]{32}", event.subject)
    text = public_json(uow)
    for leak in (NAME, EMAIL_ADDRESS, "vol-0b7c1d2e", "act-" + "1" * 32, "48.84"):
        assert leak not in text


def test_the_pledge_pseudonym_depends_on_the_key():
    assert public.pledge_id("vol-1", b"a") != public.pledge_id("vol-1", b"b")
    assert public.pledge_id("vol-1", b"a") == public.pledge_id("vol-1", b"a")


def test_a_paused_pledge_is_withdrawn_then_published_again_when_resumed_then_withdrawn(translator, uow):
    apply(translator, pledge(volunteer_id="vol-5a6b7c8d"))
    update = example("fr.vitawin.volunteer.updated.v1", organisation_name=NAME)
    apply(translator, update)  # version 3, paused
    apply(translator, example("fr.vitawin.volunteer.updated.v1", organisation_name=NAME, version=2,
                              status="active"))  # older: dropped
    apply(translator, example("fr.vitawin.volunteer.updated.v1", version=4, status="active"))
    apply(translator, example("fr.vitawin.volunteer.withdrawn.v1", version=5))
    kinds = [(e.type, e.data.get("reason")) for e, _ in uow.published]
    assert kinds == [(public.PLEDGE_PUBLISHED, None), (public.PLEDGE_WITHDRAWN, "paused"),
                     (public.PLEDGE_PUBLISHED, None), (public.PLEDGE_WITHDRAWN, "withdrawn")]
    assert len({e.subject for e, _ in uow.published}) == 1, "one pledge, one pseudonym"


# --- proposals ---

def test_an_accepted_proposal_for_a_pupil_is_a_count_by_town_and_action(translator, uow):
    apply(translator, example("fr.vitawin.request.created.v2", "pupil_job_information.json"))
    accepted = example("fr.vitawin.proposal.accepted.v1", request_id="req-078c17f641fd455f85521ea7351c544a")
    apply(translator, accepted)
    apply(translator, accepted)
    [event] = uow.published_of(public.PROPOSAL_ACCEPTED)
    assert event.data == {"town": "94080", "action_type": "testimony", "requester_kind": "pupil",
                          "accepted_at": "2026-11-28T08:15:00.000Z"}
    assert event.subject == "94080"
    for leak in ("req-078c17f641fd455f85521ea7351c544a", "prop-", "vol-", "0940585A"):
        assert leak not in public_json(uow)


def test_an_accepted_proposal_for_a_school_names_the_request_and_the_school(translator, uow):
    apply(translator, school_request())
    apply(translator, example("fr.vitawin.proposal.accepted.v1", request_id="req-5f3a9c10d2e84b7c9a1b2c3d4e5f6a7b"))
    event = uow.published_of(public.PROPOSAL_ACCEPTED)[0]
    assert (event.data["request_id"], event.data["school_uai"]) == ("req-5f3a9c10d2e84b7c9a1b2c3d4e5f6a7b", "0940585A")


def test_a_proposal_of_a_request_never_seen_publishes_nothing(translator, uow):
    apply(translator, example("fr.vitawin.proposal.accepted.v1"))
    assert uow.published == []


# --- initiatives ---

def test_an_initiative_goes_out_without_its_title_description_or_publisher(translator, uow):
    published = example("fr.vitawin.initiative.published.v1", title=f"Projet de {NAME}",
                        description=f"Écrire à {EMAIL_ADDRESS} ou au 06 12 34 56 78")
    apply(translator, published)
    apply(translator, example("fr.vitawin.initiative.updated.v1"))
    apply(translator, example("fr.vitawin.initiative.closed.v1"))
    assert [e.type for e, _ in uow.published] == [public.INITIATIVE_PUBLISHED, public.INITIATIVE_CLOSED]
    assert uow.published[0][0].data["publisher_role"] == "professional"
    assert uow.published[1][0].data["town"] == "94080"
    text = public_json(uow)
    for leak in (NAME, EMAIL_ADDRESS, "06 12 34 56 78", "act-0b7c1d2e3f40516273849a0b1c2d3e4f", "numérique"):
        assert leak not in text


# --- every example at once ---

PERSONAL_KEYS = re.compile(r"name|email|title|description|topic|reason|keywords|comment|message|label|first")


def personal_strings(value, key="") -> set[str]:
    """Strings of an internal event that are, or may be, personal: under a personal-looking key,
    or shaped like an e-mail or a phone number."""
    found = set()
    if isinstance(value, dict):
        for k, v in value.items():
            found |= personal_strings(v, k)
    elif isinstance(value, list):
        for v in value:
            found |= personal_strings(v, key)
    elif isinstance(value, str) and not re.fullmatch(r"[a-z0-9_]+", value) and (
            PERSONAL_KEYS.search(key) or EMAIL.search(value) or PHONE.search(value)):
        found.add(value)
    return found


def test_no_personal_string_of_any_internal_example_reaches_a_public_event(translator, uow):
    handled = translator.handlers()
    order = ["actor", "volunteer", "request.created", "request", "proposal", "initiative.published", "initiative"]
    paths = sorted((CONTRACTS / "examples").glob("fr.vitawin.*/*.json"),
                   key=lambda p: next(i for i, prefix in enumerate(order + [""]) if f"fr.vitawin.{prefix}" in p.parent.name))
    personal = set()
    translated = 0
    for path in paths:
        if path.parent.name not in handled:
            continue
        event = example(path.parent.name, path.name)
        personal |= personal_strings(event.data)
        apply(translator, event)
        translated += 1
    assert translated >= 12 and len(uow.published) >= 5
    text = public_json(uow)
    assert personal and not [s for s in personal if s in text]
    assert not EMAIL.search(text) and not PHONE.search(text)


def test_a_public_event_with_a_field_its_contract_does_not_name_never_reaches_the_outbox(uow):
    from vitawin_common.contracts import ContractViolation

    data = {"pledge_id": "plg-" + "0" * 32, "town": "94080", "action_types": ["testimony"], "version": 1,
            "published_at": "2026-12-01T09:30:00.000Z"}
    cause = example("fr.vitawin.volunteer.registered.v1")
    with uow:
        uow.publish(public.public_event(public.PLEDGE_PUBLISHED, data["pledge_id"], data, cause), "publicPledges")
        with pytest.raises(ContractViolation):
            uow.publish(public.public_event(public.PLEDGE_PUBLISHED, data["pledge_id"],
                                            {**data, "organisation_name": NAME}, cause), "publicPledges")
        uow.commit()
    assert len(uow.published) == 1
