"""The school calendar rules of requests: on which days a dated event can take place in a school,
and which ISO weeks an internship period may use. Plain Python, no I/O besides the data shipped by
two packages:

- `vacances_scolaires_france` (the official school-holiday calendar of zones A, B and C, a CSV of
  about 500 KB parsed once per process, lazily, on first use);
- `holidays` (French public holidays of metropolitan France, without the Alsace-Moselle extra
  days, named in French).

Messages returned by the checks are in French: they are shown to the person who typed the value.
"""
from __future__ import annotations

import functools
import re
from datetime import date, datetime, timedelta
from typing import Callable, Iterable, Sequence

import holidays
from vacances_scolaires_france import SchoolHolidayDates

ZONES = ("A", "B", "C")
DEFAULT_MAX_WEEKS = 6  # lycée professionnel periods run up to 4-6 weeks; collège "stage de 3e" is 1
WEEK_FORMAT = "AAAA-Sss, par exemple 2027-W05"

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


class InvalidWeek(ValueError):
    """An ISO week that is malformed or does not exist; the message is in French."""


class CalendarNotPublished(ValueError):
    """The school-holiday data does not cover the dates asked for; the message is in French."""


@functools.lru_cache(maxsize=1)
def _school_holiday_dates() -> SchoolHolidayDates:
    return SchoolHolidayDates()  # parses the whole CSV: once per process


@functools.lru_cache(maxsize=None)
def _zone_data(zone: str) -> tuple[dict[date, str], date, date]:
    """{day: holiday name} of the zone's school holidays, and the first and last day the data
    covers. The CSV has rows up to 31 December of its last year, but those after the last summer
    holidays are all False (the next school year is not published): the coverage ends on the last
    holiday day of any zone, not on the package's `max_year`."""
    data = _school_holiday_dates()
    days: dict[date, str] = {}
    for year in range(data.min_year, data.max_year + 1):
        days.update((day, row["nom_vacances"])
                    for day, row in data.holidays_for_year_and_zone(year, zone).items())
    last = max(data.holidays_for_year(data.max_year))
    return days, date(data.min_year, 1, 1), last


def _fmt(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def _school_year(day: date) -> str:
    start = day.year if day.month >= 9 else day.year - 1
    return f"{start}-{start + 1}"


def _names(names: Iterable[str]) -> str:
    return ", ".join(dict.fromkeys(names))  # unique, in order


def parse_week(week: str) -> tuple[int, int]:
    """(ISO year, ISO week number) of "YYYY-Www"; InvalidWeek (French message) when `week` is
    malformed or does not exist (week 53 of a 52-week year, week 00)."""
    match = _WEEK.match(week) if isinstance(week, str) else None
    if match is None:
        raise InvalidWeek(f"« {week} » n'est pas une semaine au format {WEEK_FORMAT}.")
    year, number = int(match[1]), int(match[2])
    try:
        date.fromisocalendar(year, number, 1)
    except ValueError:
        raise InvalidWeek(f"La semaine {week} n'existe pas : l'année {year} compte "
                          f"{date(year, 12, 28).isocalendar().week} semaines.") from None
    return year, number


def week_days(week: str) -> list[date]:
    """Monday to Friday of the ISO week "YYYY-Www"; InvalidWeek as `parse_week`."""
    year, number = parse_week(week)
    monday = date.fromisocalendar(year, number, 1)
    return [monday + timedelta(days=offset) for offset in range(5)]


def week_of(day: date) -> str:
    """The ISO week "YYYY-Www" that contains `day`."""
    year, number, _ = day.isocalendar()
    return f"{year}-W{number:02d}"


class SchoolCalendar:
    """The calendar of the schools of one zone ("A", "B" or "C": the territory file's
    `school_holiday_zone`), with `today` as the clock (the checks refuse dates not in the future)."""

    def __init__(self, zone: str, today: Callable[[], date]):
        if zone not in ZONES:
            raise ValueError(f"unknown school holiday zone {zone!r}; expected one of {ZONES}")
        self.zone = zone
        self.today = today
        self._school_holidays, self.coverage_start, self.coverage_end = _zone_data(zone)
        self._public_holidays = holidays.country_holidays("FR", language="fr")

    # --- days -------------------------------------------------------------------------------------

    def public_holiday_name(self, day: date) -> str | None:
        """The French name of the public holiday on `day` ("Lundi de Pâques"...), else None."""
        return self._public_holidays.get(_as_date(day))

    def school_holiday_name(self, day: date) -> str | None:
        """The name of the zone's school holidays on `day` ("Vacances d'hiver"...), else None;
        CalendarNotPublished when the data does not cover `day`."""
        day = _as_date(day)
        if not self.coverage_start <= day <= self.coverage_end:
            raise CalendarNotPublished(
                f"Le calendrier scolaire de l'année {_school_year(day)} n'est pas encore publié : "
                f"impossible de vérifier le {_fmt(day)}." if day > self.coverage_end else
                f"Le calendrier scolaire de l'année {_school_year(day)} n'est pas disponible : "
                f"impossible de vérifier le {_fmt(day)}.")
        return self._school_holidays.get(day)

    def holiday_name(self, day: date) -> str | None:
        """The public holiday on `day` ("Lundi de Pâques"), else the zone's school holidays
        ("Vacances d'hiver"), else None. A public holiday inside school holidays gives the public
        holiday's name (25/12 gives "Noël"). Outside the school-holiday data only public holidays
        are known."""
        day = _as_date(day)
        public = self.public_holiday_name(day)
        if public is not None or not self.coverage_start <= day <= self.coverage_end:
            return public
        return self._school_holidays.get(day)

    def check_day(self, day: date, *, field: str = "La date") -> str | None:
        """Why a dated event in a school (a testimony, an intervention, a job fair) cannot take
        place on `day`, in French, else None. Refused: a day not after today(), a Saturday or a
        Sunday, a public holiday, a day the school-holiday data does not cover yet (the school
        calendar of that year is not published), a day of the zone's school holidays.

        `field` is how the date is called in a sentence, in French ("La date de l'intervention"):
        it is the subject of the message about past dates; the caller files the reason under its
        own input key."""
        day = _as_date(day)
        today = self.today()
        if day <= today:
            return (f"{field} doit être dans le futur (après le {_fmt(today)}) : "
                    f"le {_fmt(day)} ne convient pas.")
        if day.weekday() >= 5:
            return f"Le {_weekday(day)} {_fmt(day)} n'est pas un jour de classe."
        public = self.public_holiday_name(day)
        if public is not None:
            return f"Le {_weekday(day)} {_fmt(day)} est un jour férié ({public})."
        try:
            school = self.school_holiday_name(day)
        except CalendarNotPublished as exc:
            return str(exc)
        if school is not None:
            return (f"Le {_weekday(day)} {_fmt(day)} tombe pendant les vacances scolaires de la "
                    f"zone {self.zone} ({school}).")
        return None

    # --- internship weeks -------------------------------------------------------------------------

    def check_period(self, weeks: Sequence[str], *, allowed_weeks: Iterable[str] | None = None,
                     max_weeks: int = DEFAULT_MAX_WEEKS) -> dict[int, str]:
        """Why the weeks of an internship period cannot be used: {index in `weeks`: French reason},
        empty when all are fine (an empty list is fine here: requiring weeks is the schema's job).

        Refused, first rule that applies: a malformed week ("YYYY-Www"), a week that does not exist
        (W53 of a 52-week year), a week already in the period, a week beyond `max_weeks`, a week
        already started (its Monday is not after today()), a week the school-holiday data does not
        cover yet, a week with any Monday-Friday day in the zone's school holidays (bridges
        included: the Pont de l'Ascension Friday refuses its week), a week with no working day
        left, a week not in `allowed_weeks` (the school's internship weeks for the pupil's level,
        when given; ValueError if one of them is malformed).

        A week that contains a public holiday is allowed: a 4-day internship week is common (Easter
        Monday, 11 November, Ascension Thursday where the zone has no bridge); only a week made
        entirely of public holidays is refused."""
        allowed = None
        if allowed_weeks is not None:
            allowed = {parse_week(week): week for week in allowed_weeks}  # ValueError if malformed
        reasons: dict[int, str] = {}
        seen: set[tuple[int, int]] = set()
        for index, week in enumerate(weeks):
            try:
                key = parse_week(week)
            except InvalidWeek as exc:
                reasons[index] = str(exc)
                continue
            if key in seen:
                reasons[index] = f"La semaine {week} figure déjà dans la période de stage."
                continue
            seen.add(key)
            if index >= max_weeks:
                reasons[index] = (f"La période de stage compte {len(weeks)} semaines, {max_weeks} au "
                                  f"plus : la semaine {week} est en trop.")
                continue
            reason = self._check_week(week, allowed)
            if reason is not None:
                reasons[index] = reason
        return reasons

    def _check_week(self, week: str, allowed: dict[tuple[int, int], str] | None) -> str | None:
        days = week_days(week)
        span = f"La semaine {week} (du {_fmt(days[0])} au {_fmt(days[-1])})"
        today = self.today()
        if days[0] <= today:
            return f"{span} est déjà commencée ou passée : choisissez une semaine après le {_fmt(today)}."
        try:
            school = [name for name in map(self.school_holiday_name, days) if name is not None]
        except CalendarNotPublished:
            return (f"Le calendrier scolaire de l'année {_school_year(days[-1])} n'est pas encore "
                    f"publié : impossible de vérifier la semaine {week}.")
        if school:
            return (f"{span} tombe en partie ou en totalité pendant les vacances scolaires de la "
                    f"zone {self.zone} ({_names(school)}).")
        public = [self.public_holiday_name(day) for day in days]
        if all(public):
            return f"{span} ne compte que des jours fériés ({_names(public)})."
        if allowed is not None and parse_week(week) not in allowed:
            planned = ", ".join(allowed[key] for key in sorted(allowed)) or "aucune"
            return (f"La semaine {week} n'est pas une semaine de stage prévue par l'établissement "
                    f"pour ce niveau (semaines prévues : {planned}).")
        return None

    def school_weeks(self, year_start: int) -> list[str]:
        """The ISO weeks of the school year starting in September `year_start` (to the summer
        holidays of the next year) with no school-holiday day from Monday to Friday; weeks with a
        public holiday are kept, as in `check_period`. CalendarNotPublished when the data does not
        cover that school year."""
        first, last = date(year_start, 9, 1), date(year_start + 1, 8, 31)
        if first < self.coverage_start or last > self.coverage_end:
            raise CalendarNotPublished(f"Le calendrier scolaire de l'année {year_start}-{year_start + 1} "
                                       f"n'est pas disponible (données du {_fmt(self.coverage_start)} "
                                       f"au {_fmt(self.coverage_end)}).")
        monday = first - timedelta(days=first.weekday())
        weeks = []
        while monday <= last:
            days = [monday + timedelta(days=offset) for offset in range(5)]
            if (all(first <= day <= last and self._school_holidays.get(day) is None for day in days)
                    and not all(self.public_holiday_name(day) for day in days)):
                weeks.append(week_of(monday))
            monday += timedelta(days=7)
        return weeks


def _as_date(day: date) -> date:
    return day.date() if isinstance(day, datetime) else day


def _weekday(day: date) -> str:
    return _WEEKDAYS[day.weekday()]
