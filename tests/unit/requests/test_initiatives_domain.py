"""The initiatives domain on its own (no HTTP, no unit of work): the rules across fields, dates
already stored not checked again, the territory's day for deadlines, documents read back as
MongoDB gives them, the list filter agreeing with its MongoDB query, and who sees what."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from vitawin_common.territory import Location

from vitawin_requests.initiatives.domain import Initiative, Party, PublishInitiative
from vitawin_requests.initiatives.filters import BoundingBox, InitiativeFilter, due_for_closing
from vitawin_requests.initiatives.rules import InitiativeConflict, NotAllowed, check_rules, local_date
from vitawin_requests.moderation import Moderator

from tests.unit.requests.initiatives_fakes import NOW, ORG, PARTNER, SCHOOL, TODAY, load_territory

PUBLISHER = Party("professional", ORG)


@pytest.fixture(scope="module")
def places():
    return load_territory()


def publish(places, **changes) -> Initiative:
    fields = {"kind": "initiative", "title": "Semaine de l'artisanat", "partner_kinds_sought": ["craftsman"],
              "town": "94033", "contact_email": "contact@example.fr", "start_date": date(2027, 1, 11),
              "end_date": date(2027, 1, 15)}
    fields.update(changes)
    return Initiative.publish(PublishInitiative(**fields), PUBLISHER, places, TODAY, now=NOW)


# --- rules --------------------------------------------------------------------------------------

def test_dates_already_stored_are_not_checked_against_today_again(places):
    stored = {"kind": "call_for_projects", "town": "94033", "start_date": date(2026, 1, 5),
              "end_date": date(2026, 11, 1), "deadline": date(2026, 10, 1)}  # all in the past now
    assert check_rules(stored, places, TODAY, changed={"title"}) == {}
    assert "end_date" in check_rules(stored, places, TODAY, changed={"end_date"})
    assert "deadline" in check_rules(stored, places, TODAY, changed={"deadline"})


def test_a_location_is_checked_against_the_town_it_would_have(places):
    far_from_fontenay = Location(48.7900, 2.5600)
    errors = check_rules({"kind": "initiative", "town": "94033", "location": far_from_fontenay}, places, TODAY,
                         changed={"town"})
    assert list(errors) == ["town"]  # the new town is what moved away from the stored location
    errors = check_rules({"kind": "initiative", "town": "94033", "location": far_from_fontenay}, places, TODAY,
                         changed={"location"})
    assert list(errors) == ["location"] and "Fontenay-sous-Bois" in errors["location"][0]


def test_the_partner_kinds_are_checked_by_the_domain_too(places):
    errors = check_rules({"kind": "initiative", "partner_kinds_sought": ["pupil"]}, places, TODAY)
    assert errors["partner_kinds_sought"][0].startswith("Type de partenaire inconnu")


def test_a_publication_without_location_is_at_the_town_centre_and_open_in_version_1(places):
    initiative = publish(places)
    assert initiative.location == places.towns["94033"].centre
    assert (initiative.status, initiative.version, initiative.participants) == ("open", 1, ())
    assert initiative.initiative_id.startswith("ini-") and len(initiative.initiative_id) == 36


@pytest.mark.parametrize("party", [Party("partner", PARTNER), Party("pupil", "act-9"), Party("professional", None)])
def test_only_an_organisation_school_or_manager_account_with_an_actor_publishes(places, party):
    with pytest.raises(NotAllowed):
        Initiative.publish(PublishInitiative("initiative", "Titre", ["school"], "94033", "c@example.fr"), party,
                           places, TODAY)


def test_an_empty_message_is_no_message(places):
    _, participation = publish(places).join(Party("school_referent", SCHOOL), "", TODAY, now=NOW)
    assert participation.message is None


def test_a_call_for_projects_past_its_deadline_may_still_be_left_before_its_end(places):
    call = publish(places, kind="call_for_projects", deadline=date(2026, 12, 15), start_date=None,
                   end_date=date(2027, 6, 30))
    call, _ = call.join(Party("school_referent", SCHOOL), None, TODAY, now=NOW)
    after, gone = call.leave(SCHOOL, Party("school_referent", SCHOOL), date(2027, 1, 5), now=NOW)
    assert gone.actor_id == SCHOOL and after.participants == () and after.version == call.version + 1


def test_a_pupil_cannot_join_even_through_the_domain(places):
    with pytest.raises(NotAllowed, match="Un élève ne peut pas rejoindre"):
        publish(places).join(Party("pupil", "act-9"), None, TODAY)


def test_a_closed_call_for_projects_speaks_of_applications(places):
    call = publish(places, kind="call_for_projects", deadline=date(2026, 12, 15)).close(PUBLISHER, now=NOW)
    with pytest.raises(InitiativeConflict, match="Cet appel à projets est clôturé : il n'accepte plus de candidatures."):
        call.join(Party("partner", PARTNER), None, TODAY)


# --- the territory's day -------------------------------------------------------------------------

@pytest.mark.parametrize("moment, day", [
    (datetime(2026, 12, 15, 22, 59, tzinfo=timezone.utc), date(2026, 12, 15)),  # 23:59 in winter
    (datetime(2026, 12, 15, 23, 0, tzinfo=timezone.utc), date(2026, 12, 16)),
    (datetime(2027, 6, 15, 21, 59, tzinfo=timezone.utc), date(2027, 6, 15)),  # 23:59 in summer
    (datetime(2027, 6, 15, 22, 0, tzinfo=timezone.utc), date(2027, 6, 16)),
    (datetime(2026, 12, 15, 23, 30), date(2026, 12, 16)),  # naive, as BSON gives it: UTC
])
def test_days_are_those_of_paris(moment, day):
    assert local_date(moment) == day


def test_a_call_is_due_the_day_after_its_deadline(places):
    call = publish(places, kind="call_for_projects", deadline=date(2026, 12, 15))
    assert not call.is_due(datetime(2026, 12, 15, 22, 59, tzinfo=timezone.utc))
    assert call.is_due(datetime(2026, 12, 15, 23, 0, tzinfo=timezone.utc))
    assert not publish(places).is_due(datetime(2030, 1, 1, tzinfo=timezone.utc))  # an initiative never is


# --- storage ------------------------------------------------------------------------------------

def test_a_document_reads_back_as_the_initiative_even_with_naive_datetimes(places):
    initiative, _ = publish(places).join(Party("school_referent", SCHOOL), "Présents", TODAY, now=NOW)
    doc = initiative.to_document()
    assert Initiative.from_document(doc) == initiative

    def naive(value):  # what MongoDB gives back: UTC without tzinfo
        if isinstance(value, datetime):
            return value.replace(tzinfo=None)
        if isinstance(value, list):
            return [naive(v) for v in value]
        if isinstance(value, dict):
            return {k: naive(v) for k, v in value.items()}
        return value
    assert Initiative.from_document(naive(doc)) == initiative
    assert doc["start_date"] == "2027-01-11" and doc["deadline"] is None  # ISO days: ranges compare as strings


def test_times_are_kept_to_the_millisecond(places):
    initiative = Initiative.publish(
        PublishInitiative("initiative", "Titre", ["school"], "94033", "c@example.fr"), PUBLISHER, places, TODAY,
        now=datetime(2026, 11, 27, 9, 30, 0, 123456, tzinfo=timezone.utc))
    assert initiative.created_at.microsecond == 123000
    assert initiative.published_event_data()["published_at"] == "2026-11-27T09:30:00.123Z"


# --- who sees what ------------------------------------------------------------------------------

def test_the_view_keeps_the_contact_and_messages_for_the_publisher_and_participants(places):
    initiative, _ = publish(places).join(Party("school_referent", SCHOOL), "Présents", TODAY, now=NOW)
    for viewer, private in [(None, False), (Party("partner", PARTNER), False), (Party("territory_manager"), False),
                            (Party("professional", ORG), True), (Party("school_referent", SCHOOL), True)]:
        view = initiative.view(viewer)
        assert ("contact_email" in view) is private
        assert ("message" in view["participants"][0]) is private


# --- the filter ---------------------------------------------------------------------------------

MISSING = object()


def _value(doc: dict, path: str):
    value = doc
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


def _equals(value, wanted) -> bool:
    if wanted is None:  # MongoDB: null matches a missing field too
        return value is MISSING or value is None
    if isinstance(value, list):
        return wanted in value
    return value is not MISSING and value == wanted


def evaluate(query: dict, doc: dict) -> bool:
    """A tiny MongoDB evaluator for what to_query uses: equality (an array matches one of its
    elements, null a missing field), $in, $or, $gte/$lte/$lt, dotted paths; anything else fails."""
    for path, condition in query.items():
        if path == "$or":
            if not any(evaluate(branch, doc) for branch in condition):
                return False
            continue
        assert not path.startswith("$"), f"operator {path} is not in the subset"
        value = _value(doc, path)
        if isinstance(condition, dict):
            checks = {"$gte": lambda v, c: v >= c, "$lte": lambda v, c: v <= c, "$lt": lambda v, c: v < c}
            for op, bound in condition.items():
                if op == "$in":
                    if not any(_equals(value, item) for item in bound):
                        return False
                elif op in checks:
                    if value is MISSING or value is None or not checks[op](value, bound):
                        return False
                else:
                    raise AssertionError(f"operator {op} is not in the subset")
        elif not _equals(value, condition):
            return False
    return True


def _reported(doc: dict, count: int) -> dict:
    return {**doc, "reports": [{"category": "spam", "reporter": f"account-{n}", "reporter_role": "pupil",
                                "at": NOW} for n in range(count)], "report_count": count}


def _stored_before_moderation(doc: dict) -> dict:
    return {name: value for name, value in doc.items()
            if name not in ("hidden", "moderation_log", "reports", "report_count")}


MANAGER_PARTY = Party("territory_manager", "act-00000000000000000000000000000005")
OTHER_PUBLISHER = Party("professional", "act-00000000000000000000000000000002")
VIEWERS = {"anyone": None, "publisher": PUBLISHER, "other publisher": OTHER_PUBLISHER, "manager": MANAGER_PARTY,
           "account without actor": Party("partner", None)}


def test_the_filter_and_its_mongodb_query_agree(places):
    moderator = Moderator("territory_manager", "account-manager")
    other = Initiative.publish(PublishInitiative(kind="initiative", title="Forum", partner_kinds_sought=["school"],
                                                 town="94080", contact_email="c@example.fr"),
                               OTHER_PUBLISHER, places, TODAY, now=NOW)
    docs = [
        publish(places).to_document(),
        publish(places, town="94080", partner_kinds_sought=["school", "company"]).to_document(),
        publish(places, kind="call_for_projects", deadline=date(2026, 12, 15), town="94015").to_document(),
        publish(places, kind="call_for_projects", deadline=date(2026, 12, 31)).close(PUBLISHER, now=NOW).to_document(),
        publish(places).hide("Contenu hors sujet.", moderator, NOW).to_document(),  # hidden, by PUBLISHER
        other.hide("Contenu hors sujet.", moderator, NOW).to_document(),  # hidden, by OTHER_PUBLISHER
        _reported(publish(places, town="94080").to_document(), 2),
        _reported(publish(places, kind="call_for_projects", deadline=date(2026, 12, 10)).hide(
            "Spam.", moderator, NOW).to_document(), 1),  # hidden, reported, due for closing
        _stored_before_moderation(publish(places, town="94017").to_document()),
    ]
    filters = [
        InitiativeFilter(), InitiativeFilter(kind="call_for_projects"), InitiativeFilter(town="94080"),
        InitiativeFilter(partner_kind="school"), InitiativeFilter(partner_kind="craftsman", status="open"),
        InitiativeFilter(status="closed"), InitiativeFilter(bbox=BoundingBox(2.42, 48.84, 2.46, 48.86)),
        InitiativeFilter(bbox=BoundingBox(2.46, 48.84, 2.53, 48.86), kind="initiative"),
        InitiativeFilter(reported=True), InitiativeFilter(reported=True, town="94080"),
        InitiativeFilter(include_hidden=True),
        due_for_closing(datetime(2026, 12, 20, tzinfo=timezone.utc)),
        due_for_closing(datetime(2027, 1, 10, tzinfo=timezone.utc)),
    ]
    for base in filters:
        for viewer in VIEWERS.values():
            flt = replace(base, viewer=viewer)
            assert [flt.matches(doc) for doc in docs] == [evaluate(flt.to_query(), doc) for doc in docs], flt
    assert [d["town"] for d in docs if due_for_closing(datetime(2026, 12, 20, tzinfo=timezone.utc)).matches(d)] == [
        "94015", "94033"]  # the closed call is not due again; the hidden one is due all the same


@pytest.mark.parametrize("who, seen", [
    ("anyone", {0, 2, 3}), ("publisher", {0, 1, 2, 3}), ("other publisher", {0, 2, 3}),
    ("manager", {0, 1, 2, 3}), ("account without actor", {0, 2, 3})])
def test_a_hidden_initiative_is_listed_only_for_its_publisher_and_territory_managers(places, who, seen):
    moderator = Moderator("territory_manager", "account-manager")
    docs = [publish(places).to_document(), publish(places).hide("Hors sujet.", moderator, NOW).to_document(),
            _stored_before_moderation(publish(places).to_document()),
            publish(places).hide("Hors sujet.", moderator, NOW).unhide(moderator, NOW).to_document()]
    assert {i for i, doc in enumerate(docs) if InitiativeFilter(viewer=VIEWERS[who]).matches(doc)} == seen


@pytest.mark.parametrize("who, seen", [("anyone", set()), ("publisher", set()), ("manager", {1, 2})])
def test_only_territory_managers_list_the_reported_initiatives(places, who, seen):
    docs = [publish(places).to_document(), _reported(publish(places).to_document(), 1),
            _reported(publish(places).hide("Spam.", Moderator("territory_manager", "m"), NOW).to_document(), 3)]
    reported = InitiativeFilter(viewer=VIEWERS[who], reported=True)
    assert {i for i, doc in enumerate(docs) if reported.matches(doc)} == seen


def test_an_edit_moves_the_version_and_the_update_time_only_when_something_changes(places):
    initiative = publish(places)
    assert initiative.edit({"title": initiative.title}, PUBLISHER, places, TODAY) is initiative
    later = NOW + timedelta(days=1)
    edited = initiative.edit({"partner_kinds_sought": ["craftsman", "school"]}, PUBLISHER, places, TODAY, now=later)
    assert (edited.version, edited.updated_at, edited.created_at) == (2, later, initiative.created_at)
    assert edited.changed_fields(initiative) == ["partner_kinds_sought"]
    assert replace(edited, partner_kinds_sought=("craftsman",)).changed_fields(initiative) == []


def test_the_same_town_keeps_a_chosen_location_and_a_new_one_moves_to_its_centre(places):
    initiative = publish(places, location=Location(48.8530, 2.4800))
    assert initiative.edit({"town": "94033"}, PUBLISHER, places, TODAY) is initiative
    moved = initiative.edit({"town": "94052"}, PUBLISHER, places, TODAY, now=NOW)
    assert moved.location == places.towns["94052"].centre
    assert moved.changed_fields(initiative) == ["town", "location"]
