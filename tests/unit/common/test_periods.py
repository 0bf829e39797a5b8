"""Periods of whole months (vitawin_common.periods), shared by the dashboard's aggregate endpoints:
`from`/`to` parsed and refused in French, months in Paris time, the same period as a predicate and
as a MongoDB filter, and the months a table shows."""
import re
from datetime import datetime, timezone

import pytest

from vitawin_common.periods import InvalidPeriod, MonthPeriod, month_of, month_range

UTC = timezone.utc


def test_a_period_is_parsed_from_two_months_both_optional():
    assert MonthPeriod.parse("2026-01", "2026-06") == MonthPeriod("2026-01", "2026-06")
    assert MonthPeriod.parse(None, None) == MonthPeriod()
    assert MonthPeriod.parse("", "2026-06") == MonthPeriod(None, "2026-06")
    assert MonthPeriod.parse("2026-03", "2026-03") == MonthPeriod("2026-03", "2026-03")


@pytest.mark.parametrize("first, last, field, reason", [
    ("2026-13", None, "from", "format attendu AAAA-MM"), ("2026-1", None, "from", "format attendu AAAA-MM"),
    ("janvier", None, "from", "Mois invalide"), (None, "2026/06", "to", "Mois invalide"),
    ("1999-12", None, "from", "de 2000-01 à 2099-12"), (None, "2100-01", "to", "de 2000-01 à 2099-12"),
    ("2026-06", "2026-05", "to", "Le mois de fin (to) doit être le mois de début (from) ou un mois suivant."),
])
def test_a_bad_month_or_period_is_refused_in_french_naming_the_parameter(first, last, field, reason):
    with pytest.raises(InvalidPeriod, match=re.escape(reason)) as caught:
        MonthPeriod.parse(first, last)
    assert caught.value.field == field


def test_months_start_at_midnight_paris_time():
    assert month_of(datetime(2026, 1, 31, 22, 59, tzinfo=UTC)) == "2026-01"
    assert month_of(datetime(2026, 1, 31, 23, 0, tzinfo=UTC)) == "2026-02"  # 00:00 in Paris (winter)
    assert month_of(datetime(2026, 6, 30, 22, 0)) == "2026-07"  # naive: UTC; 00:00 in Paris (summer)
    assert MonthPeriod("2026-02", "2026-06").bounds() == (datetime(2026, 1, 31, 23, tzinfo=UTC),
                                                          datetime(2026, 6, 30, 22, tzinfo=UTC))


def test_the_predicate_and_the_mongodb_filter_select_the_same_moments():
    period = MonthPeriod("2026-02", "2026-06")
    start, end = period.bounds()
    assert period.to_query("created_at") == {"created_at": {"$gte": start, "$lt": end}}
    assert period.contains(start) and not period.contains(end)
    assert period.contains(datetime(2026, 1, 31, 23, 0))  # naive UTC: 1 February in Paris
    assert not period.contains(datetime(2026, 1, 31, 22, 59, tzinfo=UTC))
    assert not period.contains(None)
    assert MonthPeriod("2026-02").to_query("at") == {"at": {"$gte": start}}
    assert MonthPeriod(None, "2026-06").to_query("at") == {"at": {"$lt": end}}
    assert MonthPeriod().to_query() == {} and MonthPeriod().contains(None), "open: everything"


def test_a_december_ends_at_the_next_january():
    assert MonthPeriod("2026-12", "2026-12").bounds()[1] == datetime(2026, 12, 31, 23, tzinfo=UTC)
    assert month_range("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert month_range("2026-02", "2026-01") == []


def test_the_axis_lists_every_month_of_the_period_or_of_the_data_seen():
    assert MonthPeriod("2026-01", "2026-03").axis() == ["2026-01", "2026-02", "2026-03"]
    assert MonthPeriod().axis({"2026-04", "2026-01"}) == ["2026-01", "2026-02", "2026-03", "2026-04"]
    assert MonthPeriod("2025-12").axis({"2026-01"}) == ["2025-12", "2026-01"]
    assert MonthPeriod("2025-12").axis() == ["2025-12"]
    assert MonthPeriod().axis() == []
