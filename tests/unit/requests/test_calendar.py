"""The school calendar rules of requests, against the real data of `vacances_scolaires_france`
0.12.0 (school holidays, zone C unless said otherwise) and `holidays` (French public holidays).

Dates relied on (from the package CSV, zone C, school year 2026-2027): Noël 19/12/2026-03/01/2027,
hiver 06/02-21/02/2027 (zones A and B: 20/02-07/03/2027), printemps 03/04-18/04/2027, Pont de
l'Ascension 06/05-08/05/2027, été from 03/07/2027; the data ends with the summer holidays on
31/08/2028 (2028-2029 is not published). Public holidays: Armistice Thu 11/11/2027, Lundi de Pâques
29/03/2027, Ascension Thu 06/05/2027, Fête du Travail Mon 01/05/2028 (last day of the zone C spring
holidays 2028)."""
from __future__ import annotations

from datetime import date

import pytest

from vitawin_requests.calendar import (CalendarNotPublished, InvalidWeek, SchoolCalendar, week_days,
                                       week_of)

TODAY = date(2026, 11, 27)  # a Friday


@pytest.fixture
def calendar() -> SchoolCalendar:
    return SchoolCalendar("C", lambda: TODAY)


# --- construction and data coverage ------------------------------------------------------------------

def test_unknown_zone_is_refused():
    with pytest.raises(ValueError):
        SchoolCalendar("D", lambda: TODAY)


def test_coverage_ends_with_the_last_published_summer_holidays(calendar):
    assert calendar.coverage_end == date(2028, 8, 31)


def test_a_day_after_the_data_says_the_school_calendar_is_not_published(calendar):
    reason = calendar.check_day(date(2028, 9, 1), field="La date")  # a Friday, no public holiday
    assert reason == ("Le calendrier scolaire de l'année 2028-2029 n'est pas encore publié : "
                      "impossible de vérifier le 01/09/2028.")


def test_the_last_covered_school_day_is_accepted(calendar):
    assert calendar.check_day(date(2028, 6, 30), field="La date") is None  # Friday before summer


def test_a_week_after_the_data_says_the_school_calendar_is_not_published(calendar):
    reasons = calendar.check_period(["2028-W40"])
    assert reasons == {0: "Le calendrier scolaire de l'année 2028-2029 n'est pas encore publié : "
                          "impossible de vérifier la semaine 2028-W40."}


def test_a_week_straddling_the_end_of_the_data_is_not_published(calendar):
    # 2028-W35 runs from Monday 28/08/2028 (summer holidays) to Friday 01/09/2028 (not covered)
    assert "n'est pas encore publié" in calendar.check_period(["2028-W35"])[0]


def test_school_weeks_of_an_unpublished_year_raise(calendar):
    with pytest.raises(CalendarNotPublished, match="2028-2029"):
        calendar.school_weeks(2028)


def test_the_holiday_data_is_loaded_once_per_process():
    first = SchoolCalendar("C", lambda: TODAY)
    second = SchoolCalendar("C", lambda: TODAY)
    assert first._school_holidays is second._school_holidays


# --- holiday_name -----------------------------------------------------------------------------------

@pytest.mark.parametrize("day, name", [
    (date(2026, 12, 21), "Vacances de Noël"),
    (date(2027, 2, 8), "Vacances d'hiver"),
    (date(2027, 4, 12), "Vacances de printemps"),
    (date(2027, 5, 7), "Pont de l'Ascension"),
    (date(2027, 7, 5), "Vacances d'été"),
    (date(2027, 11, 11), "Armistice"),
    (date(2027, 3, 29), "Lundi de Pâques"),
    (date(2027, 5, 6), "Ascension"),
    (date(2026, 12, 25), "Noël"),  # a public holiday inside school holidays: its own name
    (date(2028, 5, 1), "Fête du Travail"),
])
def test_holiday_name_in_french(calendar, day, name):
    assert calendar.holiday_name(day) == name


@pytest.mark.parametrize("day", [date(2026, 12, 18), date(2027, 1, 4), date(2027, 2, 5),
                                 date(2027, 2, 22), date(2027, 4, 2), date(2027, 4, 19)])
def test_holiday_name_is_none_on_school_days_around_the_holidays(calendar, day):
    assert calendar.holiday_name(day) is None


def test_holiday_name_depends_on_the_zone():
    zone_a = SchoolCalendar("A", lambda: TODAY)
    assert zone_a.holiday_name(date(2027, 2, 22)) == "Vacances d'hiver"
    assert zone_a.holiday_name(date(2027, 2, 8)) is None


def test_holiday_name_after_the_data_knows_public_holidays_only(calendar):
    assert calendar.holiday_name(date(2028, 11, 1)) == "Toussaint"
    assert calendar.holiday_name(date(2028, 10, 23)) is None  # Toussaint holidays not published


# --- check_day ---------------------------------------------------------------------------------------

def test_a_school_day_in_the_future_is_accepted(calendar):
    assert calendar.check_day(date(2027, 3, 30), field="La date") is None


@pytest.mark.parametrize("day, reason", [
    (date(2027, 3, 13), "Le samedi 13/03/2027 n'est pas un jour de classe."),
    (date(2027, 3, 14), "Le dimanche 14/03/2027 n'est pas un jour de classe."),
])
def test_weekends_are_refused(calendar, day, reason):
    assert calendar.check_day(day, field="La date") == reason


@pytest.mark.parametrize("day, reason", [
    (date(2027, 11, 11), "Le jeudi 11/11/2027 est un jour férié (Armistice)."),
    (date(2027, 3, 29), "Le lundi 29/03/2027 est un jour férié (Lundi de Pâques)."),
    (date(2027, 5, 6), "Le jeudi 06/05/2027 est un jour férié (Ascension)."),
    (date(2028, 5, 1), "Le lundi 01/05/2028 est un jour férié (Fête du Travail)."),
])
def test_public_holidays_are_refused_and_named(calendar, day, reason):
    assert calendar.check_day(day, field="La date") == reason


@pytest.mark.parametrize("day, name", [
    (date(2026, 12, 21), "Vacances de Noël"),
    (date(2027, 2, 8), "Vacances d'hiver"),
    (date(2027, 4, 5), "Vacances de printemps"),
    (date(2027, 5, 7), "Pont de l'Ascension"),
])
def test_school_holidays_of_the_zone_are_refused_and_named(calendar, day, name):
    weekday = ["lundi", "mardi", "mercredi", "jeudi", "vendredi"][day.weekday()]
    assert calendar.check_day(day, field="La date") == (
        f"Le {weekday} {day:%d/%m/%Y} tombe pendant les vacances scolaires de la zone C ({name}).")


def test_school_holidays_of_another_zone_are_accepted(calendar):
    assert calendar.check_day(date(2027, 2, 22), field="La date") is None  # zones A and B only


def test_a_past_day_is_refused_naming_both_dates(calendar):
    assert calendar.check_day(date(2026, 11, 20), field="La date") == (
        "La date doit être dans le futur (après le 27/11/2026) : le 20/11/2026 ne convient pas.")


def test_today_is_not_in_the_future(calendar):
    assert calendar.check_day(TODAY, field="La date").startswith("La date doit être dans le futur")


def test_tomorrow_school_day_is_accepted():
    calendar = SchoolCalendar("C", lambda: date(2026, 11, 26))
    assert calendar.check_day(date(2026, 11, 27), field="La date") is None


def test_the_field_label_is_the_subject_of_the_past_date_message(calendar):
    reason = calendar.check_day(date(2026, 11, 11), field="La date de l'intervention")
    assert reason.startswith("La date de l'intervention doit être dans le futur")


def test_a_past_day_is_refused_before_its_other_reasons(calendar):
    # 11/11/2026 is a public holiday too, but the past comes first
    assert "dans le futur" in calendar.check_day(date(2026, 11, 11), field="La date")


def test_a_datetime_is_checked_as_its_day(calendar):
    from datetime import datetime
    assert "jour férié" in calendar.check_day(datetime(2027, 11, 11, 10, 30), field="La date")


def test_the_clock_is_read_at_each_check():
    now = [date(2026, 11, 27)]
    calendar = SchoolCalendar("C", lambda: now[0])
    assert calendar.check_day(date(2026, 12, 1), field="La date") is None
    now[0] = date(2026, 12, 2)
    assert "dans le futur" in calendar.check_day(date(2026, 12, 1), field="La date")


# --- weeks -------------------------------------------------------------------------------------------

def test_week_days_are_monday_to_friday():
    assert week_days("2027-W05") == [date(2027, 2, day) for day in range(1, 6)]


def test_2026_has_a_week_53_that_spans_the_new_year():
    assert week_days("2026-W53") == [date(2026, 12, 28), date(2026, 12, 29), date(2026, 12, 30),
                                     date(2026, 12, 31), date(2027, 1, 1)]


def test_2027_has_no_week_53():
    with pytest.raises(InvalidWeek, match="La semaine 2027-W53 n'existe pas : l'année 2027 compte 52"):
        week_days("2027-W53")


@pytest.mark.parametrize("week", ["2027-W5", "2027W05", "2027-05", "2027-w05", " 2027-W05", "", None])
def test_malformed_weeks_raise(week):
    with pytest.raises(InvalidWeek):
        week_days(week)


def test_week_of_gives_the_iso_week():
    assert week_of(date(2027, 1, 1)) == "2026-W53"
    assert week_of(date(2027, 2, 3)) == "2027-W05"


# --- check_period ------------------------------------------------------------------------------------

def test_a_period_of_school_weeks_is_accepted(calendar):
    assert calendar.check_period(["2027-W09", "2027-W10", "2027-W11", "2027-W12"]) == {}


def test_weeks_with_a_public_holiday_are_accepted(calendar):
    # Lundi de Pâques 29/03/2027, Armistice Thursday 11/11/2027, Lundi de Pentecôte 17/05/2027
    assert calendar.check_period(["2027-W13", "2027-W45", "2027-W20"]) == {}


def test_a_week_with_a_bridge_day_is_refused(calendar):
    assert calendar.check_period(["2027-W18"]) == {0: (
        "La semaine 2027-W18 (du 03/05/2027 au 07/05/2027) tombe en partie ou en totalité pendant "
        "les vacances scolaires de la zone C (Pont de l'Ascension).")}


@pytest.mark.parametrize("week, name", [
    ("2026-W52", "Vacances de Noël"),
    ("2026-W53", "Vacances de Noël"),  # exists in 2026, and falls in the Christmas holidays
    ("2027-W06", "Vacances d'hiver"),
    ("2027-W07", "Vacances d'hiver"),
    ("2027-W14", "Vacances de printemps"),
    ("2027-W15", "Vacances de printemps"),
    ("2027-W27", "Vacances d'été"),
])
def test_weeks_in_school_holidays_are_refused_and_named(calendar, week, name):
    reason = calendar.check_period([week])[0]
    assert reason.startswith(f"La semaine {week} (du ")
    assert reason.endswith(f"vacances scolaires de la zone C ({name}).")


def test_a_week_of_the_other_zones_holidays_is_accepted(calendar):
    assert calendar.check_period(["2027-W08"]) == {}  # 22-26/02/2027: zones A and B only


def test_a_started_week_is_refused(calendar):
    assert calendar.check_period(["2026-W48"]) == {0: (
        "La semaine 2026-W48 (du 23/11/2026 au 27/11/2026) est déjà commencée ou passée : "
        "choisissez une semaine après le 27/11/2026.")}


def test_the_week_starting_today_is_already_started():
    calendar = SchoolCalendar("C", lambda: date(2026, 11, 30))  # the Monday of 2026-W49
    assert "2026-W49 (du 30/11/2026 au 04/12/2026) est déjà commencée" in calendar.check_period(["2026-W49"])[0]


def test_next_week_is_accepted(calendar):
    assert calendar.check_period(["2026-W49"]) == {}


def test_reasons_are_given_per_index(calendar):
    reasons = calendar.check_period(["2027-W10", "2027-5", "2027-W53", "2027-W11", "2026-W40"])
    assert sorted(reasons) == [1, 2, 4]
    assert reasons[1] == "« 2027-5 » n'est pas une semaine au format AAAA-Sss, par exemple 2027-W05."
    assert reasons[2] == "La semaine 2027-W53 n'existe pas : l'année 2027 compte 52 semaines."
    assert reasons[4].startswith("La semaine 2026-W40 (du 28/09/2026 au 02/10/2026) est déjà")


def test_a_duplicate_week_is_refused_at_its_second_place(calendar):
    assert calendar.check_period(["2027-W10", "2027-W11", "2027-W10"]) == {
        2: "La semaine 2027-W10 figure déjà dans la période de stage."}


def test_more_weeks_than_the_default_maximum_are_refused(calendar):
    weeks = ["2027-W01", "2027-W02", "2027-W03", "2027-W04", "2027-W05", "2027-W08", "2027-W09"]
    assert calendar.check_period(weeks) == {
        6: "La période de stage compte 7 semaines, 6 au plus : la semaine 2027-W09 est en trop."}


def test_the_maximum_is_a_parameter(calendar):
    reasons = calendar.check_period(["2027-W10", "2027-W11"], max_weeks=1)
    assert reasons == {1: "La période de stage compte 2 semaines, 1 au plus : la semaine 2027-W11 est en trop."}
    assert calendar.check_period(["2027-W10"], max_weeks=1) == {}


def test_allowed_weeks_accept_the_planned_weeks(calendar):
    assert calendar.check_period(["2027-W10", "2027-W11"], allowed_weeks=["2027-W11", "2027-W10"]) == {}


def test_allowed_weeks_refuse_other_weeks_and_list_the_planned_ones(calendar):
    reasons = calendar.check_period(["2027-W05"], allowed_weeks=["2027-W11", "2027-W10"])
    assert reasons == {0: ("La semaine 2027-W05 n'est pas une semaine de stage prévue par l'établissement "
                           "pour ce niveau (semaines prévues : 2027-W10, 2027-W11).")}


def test_no_allowed_week_refuses_every_week(calendar):
    assert calendar.check_period(["2027-W05"], allowed_weeks=[]) == {0: (
        "La semaine 2027-W05 n'est pas une semaine de stage prévue par l'établissement pour ce niveau "
        "(semaines prévues : aucune).")}


def test_malformed_allowed_weeks_raise(calendar):
    with pytest.raises(ValueError):
        calendar.check_period(["2027-W05"], allowed_weeks=["semaine 5"])


def test_an_empty_period_has_no_reason(calendar):
    assert calendar.check_period([]) == {}


class _EveryDayIsAPublicHoliday(SchoolCalendar):
    """No real French week is made only of public holidays: this calendar makes one."""

    def public_holiday_name(self, day):
        return "Jour férié de test"


def test_a_week_made_only_of_public_holidays_is_refused():
    calendar = _EveryDayIsAPublicHoliday("C", lambda: TODAY)
    assert calendar.check_period(["2027-W10"]) == {0: (
        "La semaine 2027-W10 (du 08/03/2027 au 12/03/2027) ne compte que des jours fériés "
        "(Jour férié de test).")}


# --- school_weeks ------------------------------------------------------------------------------------

def test_school_weeks_skip_the_zone_holidays_and_keep_public_holiday_weeks(calendar):
    weeks = calendar.school_weeks(2026)
    assert weeks[0] == "2026-W37"  # 2026-W36 starts on Monday 31/08/2026, still summer
    assert weeks[-1] == "2027-W26"  # summer holidays start on Saturday 03/07/2027
    for holiday_week in ["2026-W43", "2026-W44", "2026-W52", "2026-W53", "2027-W06", "2027-W07",
                         "2027-W14", "2027-W15", "2027-W18"]:
        assert holiday_week not in weeks
    for week in ["2026-W46", "2027-W05", "2027-W08", "2027-W13", "2027-W20"]:
        assert week in weeks
    assert len(weeks) == 34


def test_school_weeks_pass_check_period_when_in_the_future(calendar):
    future = [week for week in calendar.school_weeks(2026) if week > "2026-W48"]
    for start in range(0, len(future), 6):
        assert calendar.check_period(future[start:start + 6]) == {}
