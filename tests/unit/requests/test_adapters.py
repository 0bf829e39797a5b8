"""The requests repository, the schools read model and the unit of work, against a mocked pymongo
client; the ROME file and the territory's school-holiday zone. What they inherit from
vitawin_common.uow (transaction rules) is tested in tests/unit/common/test_uow.py; that the list
queries select what `RequestFilter.matches` selects, in tests/unit/requests/test_access.py. A change
is written over the version and the report count read; a report is one atomic update."""
from datetime import datetime, timezone
from unittest.mock import MagicMock

import pytest
from pymongo import ReturnDocument

from vitawin_common.config import Settings

from vitawin_requests import bootstrap
from vitawin_requests.access import RequestFilter, Viewer
from vitawin_requests.adapters import MongoUnitOfWork, load_rome_reference
from vitawin_requests.handlers import ConcurrentChange
from vitawin_requests.moderation import AlreadyReported


@pytest.fixture
def uow():
    db = MagicMock()
    collections = {}
    db.__getitem__.side_effect = lambda name: collections.setdefault(name, MagicMock(name=name))
    return MongoUnitOfWork(MagicMock(), db, outbox=MagicMock())


def test_the_unit_of_work_holds_the_requests_and_the_schools_collections(uow):
    assert uow.requests.collection is uow.db["requests"]
    assert uow.schools.collection is uow.db["schools"]


def test_the_request_and_its_event_are_written_in_the_same_transaction(uow):
    event = object()
    with uow:
        uow.requests.add({"request_id": "req-1", "town": "94080"})
        uow.publish(event, "requests")
        uow.commit()
    session = uow.client.start_session.return_value.__enter__.return_value
    uow.requests.collection.insert_one.assert_called_once_with(
        {"_id": "req-1", "request_id": "req-1", "town": "94080"}, session=session)
    uow.outbox.add.assert_called_once_with(event, "requests", session=session)
    session.commit_transaction.assert_called_once_with()


def test_page_counts_and_reads_one_page_of_what_the_filter_selects_newest_first(uow):
    where = RequestFilter(viewer=Viewer("pupil", "act-p", "0940585A"), town="94080", week="2027-W03")
    collection = uow.requests.collection
    collection.count_documents.return_value = 12
    cursor = collection.find.return_value
    cursor.sort.return_value.skip.return_value.limit.return_value = iter([{"request_id": "req-1"}])

    assert uow.requests.page(where, page=3, page_size=5) == ([{"request_id": "req-1"}], 12)
    collection.count_documents.assert_called_once_with(where.to_query(), session=None)
    collection.find.assert_called_once_with(where.to_query(), {"_id": False}, session=None)
    cursor.sort.assert_called_once_with([("created_at", -1), ("_id", -1)])
    cursor.sort.return_value.skip.assert_called_once_with(10)
    cursor.sort.return_value.skip.return_value.limit.assert_called_once_with(5)


def test_the_query_of_a_pupil_s_list_is_one_or_of_plain_clauses():
    query = RequestFilter(viewer=Viewer("pupil", "act-p", "0940585A"), town="94080", week="2027-W03").to_query()
    not_hidden = {"$in": [False, None]}
    assert query == {"$or": [
        {"town": "94080", "requester_kind": "school", "hidden": not_hidden, "period": "2027-W03"},
        {"town": "94080", "requester_kind": "school", "hidden": not_hidden,
         "date": {"$gte": "2027-01-18", "$lte": "2027-01-24"}},
        {"town": "94080", "requester_kind": "pupil", "requester_actor_id": "act-p", "period": "2027-W03"},
        {"town": "94080", "requester_kind": "pupil", "requester_actor_id": "act-p",
         "date": {"$gte": "2027-01-18", "$lte": "2027-01-24"}},
    ]}


def test_the_map_query_drops_the_branches_of_pupil_requests_and_of_hidden_ones():
    query = RequestFilter.on_map(Viewer("school_referent", "act-s", "0940585A")).to_query()
    assert query == {"status": {"$in": ["open", "partly_matched"]}, "requester_kind": "school",
                     "hidden": {"$in": [False, None]}}


def test_the_query_of_a_referent_s_reported_requests_is_that_of_the_school():
    query = RequestFilter(viewer=Viewer("school_referent", "act-s", "0940585A"), reported=True).to_query()
    assert query == {"report_count": {"$gte": 1}, "school_uai": "0940585A"}
    assert RequestFilter(viewer=Viewer("territory_manager", "act-m"), reported=True).to_query() == \
        {"report_count": {"$gte": 1}}
    assert RequestFilter(viewer=Viewer("professional", "act-p"), reported=True).to_query() == {"_id": {"$in": []}}


def test_on_map_reads_newest_first(uow):
    where = RequestFilter.on_map()
    cursor = uow.requests.collection.find.return_value
    cursor.sort.return_value.limit.return_value = iter([])
    assert uow.requests.on_map(where, limit=7) == []
    uow.requests.collection.find.assert_called_once_with(where.to_query(), {"_id": False}, session=None)
    cursor.sort.return_value.limit.assert_called_once_with(7)


def test_due_asks_for_active_requests_expired_at_now(uow):
    now = datetime(2027, 1, 14, tzinfo=timezone.utc)
    uow.requests.collection.find.return_value = iter([{"request_id": "req-1"}, {"request_id": "req-2"}])
    assert uow.requests.due(now) == ["req-1", "req-2"]
    uow.requests.collection.find.assert_called_once_with(
        {"status": {"$in": ["open", "partly_matched"]}, "expires_at": {"$lte": now}},
        {"_id": False, "request_id": True}, session=None)


def test_replace_writes_only_over_the_version_and_the_reports_read(uow):
    collection = uow.requests.collection
    collection.replace_one.return_value.matched_count = 1
    uow.requests.replace({"request_id": "req-1", "version": 3, "report_count": 0}, expected_version=2)
    collection.replace_one.assert_called_once_with(
        {"_id": "req-1", "version": 2, "report_count": {"$in": [0, None]}},  # none: stored before reports
        {"_id": "req-1", "request_id": "req-1", "version": 3, "report_count": 0}, session=None)
    collection.replace_one.reset_mock()
    uow.requests.replace({"request_id": "req-1", "version": 3, "report_count": 2}, expected_version=2)
    assert collection.replace_one.call_args.args[0] == {"_id": "req-1", "version": 2, "report_count": 2}
    collection.replace_one.return_value.matched_count = 0  # changed or reported meanwhile
    with pytest.raises(ConcurrentChange):
        uow.requests.replace({"request_id": "req-1", "version": 3, "report_count": 2}, expected_version=2)


def test_a_report_is_one_atomic_update_once_per_reporter(uow):
    collection = uow.requests.collection
    report = {"category": "spam", "reporter": "account-1", "reporter_role": "pupil", "at": "t"}
    collection.find_one_and_update.return_value = {"report_count": 3}
    assert uow.requests.add_report("req-1", report, once_per_reporter=True) == 3
    query, update = collection.find_one_and_update.call_args.args
    assert query == {"_id": "req-1", "reports.reporter": {"$ne": "account-1"}}
    assert update == {"$push": {"reports": {"$each": [report], "$slice": -200}}, "$inc": {"report_count": 1}}
    assert collection.find_one_and_update.call_args.kwargs["return_document"] == ReturnDocument.AFTER

    uow.requests.add_report("req-1", {**report, "reporter": "anonymous"}, once_per_reporter=False)
    assert collection.find_one_and_update.call_args.args[0] == {"_id": "req-1"}


def test_a_report_that_matches_nothing_is_a_duplicate_or_an_unknown_request(uow):
    collection = uow.requests.collection
    collection.find_one_and_update.return_value = None
    collection.find_one.return_value = {"_id": "req-1"}
    with pytest.raises(AlreadyReported):
        uow.requests.add_report("req-1", {"reporter": "account-1"}, once_per_reporter=True)
    collection.find_one.return_value = None
    assert uow.requests.add_report("req-unknown", {"reporter": "account-1"}, once_per_reporter=True) is None


def test_ensure_indexes_indexes_the_requests_the_schools_and_the_outbox(uow):
    uow.ensure_indexes()
    uow.outbox.ensure_indexes.assert_called_once_with()
    keys = [call.args[0] for call in uow.requests.collection.create_index.call_args_list]
    assert [("status", 1), ("expires_at", 1)] in keys and [("created_at", -1)] in keys
    assert [("requester_actor_id", 1)] in keys and [("levels", 1)] in keys and [("report_count", 1)] in keys
    assert uow.schools.collection.create_index.called


def test_the_rome_reference_is_the_contracts_file_read_once():
    settings = Settings(service_name="requests-tests")
    rome = bootstrap.rome(settings)
    assert rome.job("D1102").label == "Boulanger / Boulangère" and len(rome) > 1000
    assert bootstrap.rome(settings) is rome
    assert load_rome_reference(settings.contracts_dir / "reference" / "rome.json") is rome


def test_the_school_holiday_zone_comes_from_the_territory_file():
    assert bootstrap.school_holiday_zone() == "C"
