"""A small demo data set of Paris Est Marne et Bois, loaded through the gateway like any client:
the pledges of 13 professionals; 3 schools (2 collèges and a lycée professionnel, in three towns)
with the levels they teach and their internship weeks; a request of each school kind posted by a
school's referent; 2 pupils and a request of each (a discovery internship, a job information);
a territory manager and the initiative they publish. Organisations and people are invented;
addresses use the reserved `.test` domain; UAIs are made up (0949xxx) but carry their check letter.

Pledges, the territory manager, the initiative and the requests need an access token: the demo
signs its own with the stack's private key (AUTH_PRIVATE_KEY_FILE, or AUTH_PRIVATE_KEY, else
var/auth/private.pem, the key `make run` uses). The pledges name no organisation of the directory
(the demo does not register the 13 organisations): as an import does, a territory manager
registers them, with the demo's set-up token.
Their dates and internship weeks are picked with the school calendar of the territory's zone
(`vitawin_requests.calendar`), relative to today: school days and school weeks a few weeks ahead,
so the demo is valid whatever day it runs. The requests service learns a school from the actors
service's events, a moment after it is registered: a request refused on `school_uai` is posted
again, for up to SCHOOL_WAIT_S seconds."""
from __future__ import annotations

import json
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import Request, urlopen

from vitawin_common import config, identity
from vitawin_common.identity import TokenIssuer

from vitawin_requests.calendar import CalendarNotPublished, SchoolCalendar, week_days

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PRIVATE_KEY = ROOT / "var" / "auth" / "private.pem"  # what Stack writes for `make run`
SCHOOL_WAIT_S = 30.0  # how long a request is retried while the requests service does not know its school
RETRY_EVERY_S = 0.2

VOLUNTEERS = [
    ("Boulangerie des Vignerons", "94080", 48.8478, 2.4385, ["testimony", "internship"]),
    ("Garage Marne Auto", "94017", 48.8160, 2.5120, ["internship", "apprenticeship"]),
    ("Mairie de Fontenay-sous-Bois, service jeunesse", "94033", 48.8515, 2.4760, ["intervention", "job_fair"]),
    ("Cabinet d'architectes Rive Est", "94052", 48.8365, 2.4830, ["testimony", "mentoring"]),
    ("Association Jeunesse et Entreprises du Val-de-Marne", "94068", 48.8000, 2.4990, ["intervention", "mentoring"]),
    ("Pharmacie du Bois", "94067", 48.8425, 2.4190, ["testimony", "internship"]),
    ("Menuiserie Alforte", "94046", 48.8060, 2.4380, ["internship", "apprenticeship"]),
    ("Studio graphique Le Perreux", "94058", 48.8420, 2.5030, ["testimony", "job_fair"]),
    ("Clinique vétérinaire de Joinville", "94042", 48.8212, 2.4735, ["testimony", "internship"]),
    ("Hôtel-restaurant des Bords de Marne", "94015", 48.8380, 2.5220, ["internship", "job_fair"]),
    ("Société de transports de l'Est parisien", "94079", 48.8270, 2.5440, ["intervention", "job_fair"]),
    ("Laboratoire d'analyses de Charenton", "94018", 48.8215, 2.4125, ["testimony", "mentoring"]),
    ("Maison de santé de Saint-Maurice", "94069", 48.8170, 2.4580, ["testimony", "intervention"]),
]

COLLEGE_LEVELS = ["6e", "5e", "4e", "3e"]
LYCEE_PRO_LEVELS = ["2nde", "1re", "Tle", "CAP1", "CAP2"]
# The schools: UAI, name, type, levels, town, location, address, and their internship weeks per
# level: (n, count) is the first run of `count` consecutive weeks from the n-th upcoming school
# week on (see `upcoming_weeks`).
MARVINGT, TILLION, BORDS_DE_MARNE = "0949101G", "0949102H", "0949103J"
SCHOOLS = [
    {"uai": MARVINGT, "name": "Collège Marie-Marvingt", "school_type": "college", "levels": COLLEGE_LEVELS,
     "town": "94080", "location": {"lat": 48.8452, "lon": 2.4410},
     "address": {"street": "14 rue des Lilas", "postcode": "94300"},
     "contact_email": "referent.college-marvingt@demo.vitawin.test", "weeks": {"3e": (1, 2)}},
    {"uai": TILLION, "name": "Collège Germaine-Tillion", "school_type": "college", "levels": COLLEGE_LEVELS,
     "town": "94033", "location": {"lat": 48.8532, "lon": 2.4788},
     "address": {"street": "5 allée des Tilleuls", "postcode": "94120"},
     "contact_email": "referent.college-tillion@demo.vitawin.test", "weeks": {"3e": (3, 1)}},
    {"uai": BORDS_DE_MARNE, "name": "Lycée professionnel des Bords de Marne", "school_type": "lycee_professionnel",
     "levels": LYCEE_PRO_LEVELS, "town": "94017", "location": {"lat": 48.8208, "lon": 2.5155},
     "address": {"street": "30 quai des Mariniers", "postcode": "94500"},
     "contact_email": "referent.lp-bords-de-marne@demo.vitawin.test",
     "weeks": {"2nde": (4, 3), "1re": (8, 3), "Tle": (12, 3), "CAP1": (4, 3), "CAP2": (8, 3)}},
]
PUPILS = [  # first name, level, school, town where the pupil lives
    ("Inès", "3e", MARVINGT, "94080"),
    ("Hugo", "4e", TILLION, "94052"),
]
MANAGER = {"kind": "territory_manager", "name": "Nadia Benali", "contact_email": "gestion.territoire@demo.vitawin.test",
           "organisation_name": "Établissement public territorial Paris Est Marne et Bois"}


# --- dates and weeks ------------------------------------------------------------------------------

def school_day(calendar: SchoolCalendar, earliest: date, horizon_days: int = 366) -> date | None:
    """The first day from `earliest` on where a class can meet (calendar.check_day), else None
    when none within `horizon_days` (the next school year's calendar is not published yet)."""
    for offset in range(horizon_days):
        day = earliest + timedelta(days=offset)
        if calendar.check_day(day) is None:
            return day
    return None


def upcoming_weeks(calendar: SchoolCalendar, after: date) -> list[str]:
    """The school weeks (no school-holiday weekday) of this school year and the next, as far as
    their calendar is published, that start after `after` and that an internship period may use."""
    first_year = after.year if after.month >= 9 else after.year - 1
    weeks: list[str] = []
    for year in (first_year, first_year + 1):
        try:
            weeks += calendar.school_weeks(year)
        except CalendarNotPublished:
            break
    return [week for week in weeks if week_days(week)[0] > after and not calendar.check_period([week])]


def consecutive_weeks(weeks: list[str], first: int, count: int) -> list[str]:
    """The first run of `count` consecutive ISO weeks of `weeks` (sorted) from index `first` on;
    empty when there is none (a period does not straddle school holidays)."""
    mondays = [week_days(week)[0] for week in weeks]
    for start in range(first, len(weeks) - count + 1):
        if mondays[start + count - 1] - mondays[start] == timedelta(weeks=count - 1):
            return weeks[start:start + count]
    return []


# --- what the demo posts ----------------------------------------------------------------------------

def school_bodies(weeks: list[str]) -> list[dict]:
    """The POST /api/v1/actors bodies of the schools, their internship weeks taken from `weeks`
    (a level without any week left is left out)."""
    bodies = []
    for school in SCHOOLS:
        periods = {level: consecutive_weeks(weeks, first, count) for level, (first, count) in school["weeks"].items()}
        bodies.append({"kind": "school", **{k: v for k, v in school.items() if k != "weeks"},
                       "internship_periods": {level: chosen for level, chosen in periods.items() if chosen}})
    return bodies


def pupil_bodies() -> list[dict]:
    return [{"kind": "pupil", "first_name": first_name, "level": level, "school_uai": uai, "town": town,
             "guardian_contact_email": f"responsable.{index + 1}@demo.vitawin.test"}
            for index, (first_name, level, uai, town) in enumerate(PUPILS)]


def request_bodies(calendar: SchoolCalendar, today: date, schools: list[dict]) -> list[tuple[str, dict]]:
    """(poster, body) of each request: the poster is a school's UAI (its referent posts) or
    "pupil:N" (the N-th pupil of PUPILS). A request that needs a day or a week the calendar
    cannot give yet is left out."""
    periods = {school["uai"]: school["internship_periods"] for school in schools}
    email = {school["uai"]: school["contact_email"] for school in schools}
    found: list[tuple[str, dict | None]] = []

    testimony_day = school_day(calendar, today + timedelta(days=14))
    found.append((MARVINGT, testimony_day and {
        "kind": "class_testimony", "date": testimony_day.isoformat(), "start_time": "10:00", "end_time": "12:00",
        "level": "3e", "class_size": 27, "professionals_wanted": 2, "rome_codes": ["D1102", "A1504"],
        "contact_email": email[MARVINGT]}))
    intervention_day = school_day(calendar, today + timedelta(days=21))
    found.append((TILLION, intervention_day and {
        "kind": "class_intervention", "topic": "Les métiers du soin et de la santé",
        "date": intervention_day.isoformat(), "start_time": "14:00", "end_time": "15:30", "level": "4e",
        "class_size": 25, "rome_codes": ["J1501", "J1506"], "contact_email": email[TILLION]}))
    fair_day = school_day(calendar, today + timedelta(days=42))
    found.append((BORDS_DE_MARNE, fair_day and {
        "kind": "job_fair", "date": fair_day.isoformat(), "start_time": "09:00", "end_time": "12:30",
        "levels": ["2nde", "1re"], "professionals_wanted": 12, "contact_email": email[BORDS_DE_MARNE]}))
    second_weeks = periods[BORDS_DE_MARNE].get("2nde")
    found.append((BORDS_DE_MARNE, second_weeks and {
        "kind": "internship_hosting", "level": "2nde", "period": second_weeks, "pupils": 8,
        "rome_codes": ["I1604", "H2206"], "contact_email": email[BORDS_DE_MARNE]}))

    third_weeks = periods[MARVINGT].get("3e")
    found.append(("pupil:0", third_weeks and {
        "kind": "discovery_internship", "level": "3e", "period": third_weeks[:1], "around": "school",
        "rome_codes": ["A1501"]}))
    found.append(("pupil:1", {
        "kind": "job_information", "level": "4e", "rome_codes": ["M1805"],
        "keywords": "dessin, graphisme, jeux vidéo"}))
    return [(poster, body) for poster, body in found if body]


def initiative_body(calendar: SchoolCalendar, today: date) -> dict:
    start = school_day(calendar, today + timedelta(days=35)) or today + timedelta(days=35)
    return {"kind": "initiative", "title": "Semaine des métiers des Bords de Marne",
            "description": "Une semaine pour faire découvrir aux collégiens et lycéens les métiers des "
                           "entreprises, des artisans et des associations du territoire : visites, ateliers, "
                           "témoignages.",
            "partner_kinds_sought": ["company", "craftsman", "association"], "town": "94052",
            "start_date": start.isoformat(), "end_date": (start + timedelta(days=4)).isoformat(),
            "contact_email": "semaine-des-metiers@demo.vitawin.test"}


# --- HTTP -------------------------------------------------------------------------------------------

class DemoError(RuntimeError):
    """A call of the demo was refused: the method, path, status and the service's answer."""


def _call(method: str, url: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    """(status, JSON answer) of one call; a 4xx or 5xx is an answer too."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    try:
        with urlopen(Request(url, data=data, method=method, headers=headers), timeout=10) as response:
            status, raw = response.status, response.read()
    except HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw) if raw else {}
    except ValueError:
        return status, {"message": raw.decode(errors="replace")[:500]}


def _created(gateway_url: str, path: str, body: dict, token: str | None = None) -> dict:
    status, answer = _call("POST", gateway_url + path, body, token)
    if status != 201:
        raise DemoError(f"POST {path} answered {status}: {answer}")
    return answer


def _unknown_school(status: int, answer: dict) -> bool:
    return status == 422 and "school_uai" in ((answer.get("errors") or {}).get("json") or {})


def _request_created(gateway_url: str, body: dict, token: str, deadline: float) -> dict:
    """POST /api/v1/requests, again while the requests service does not know the school yet."""
    while True:
        status, answer = _call("POST", gateway_url + "/api/v1/requests", body, token)
        if status == 201:
            return answer
        if not (_unknown_school(status, answer) and time.monotonic() < deadline):
            raise DemoError(f"POST /api/v1/requests ({body['kind']}) answered {status}: {answer}")
        time.sleep(RETRY_EVERY_S)


def default_issuer() -> TokenIssuer:
    """The issuer of the stack's private key: from the environment, else var/auth/private.pem."""
    try:
        return identity.issuer_from_env()
    except RuntimeError:
        if not DEFAULT_PRIVATE_KEY.is_file():
            raise
        return TokenIssuer(DEFAULT_PRIVATE_KEY.read_bytes())


def school_holiday_zone() -> str:
    return json.loads(config.territory_file().read_text(encoding="utf-8"))["school_holiday_zone"]


# --- loading ----------------------------------------------------------------------------------------

def load_demo(gateway_url: str, *, issuer: TokenIssuer | None = None, today: date | None = None) -> dict:
    """Post the demo through the gateway at `gateway_url`; the counts of what was created.
    `issuer` signs the tokens (default_issuer() by default); `today` is the day the dates are
    chosen from (the real today by default: the services check them against theirs)."""
    issuer = issuer or default_issuer()
    today = today or date.today()
    calendar = SchoolCalendar(school_holiday_zone(), lambda: today)
    schools = school_bodies(upcoming_weeks(calendar, today + timedelta(days=21)))

    # Schools first: the requests service learns them while the rest is posted.
    school_actor = {body["uai"]: _created(gateway_url, "/api/v1/actors", body)["actor_id"] for body in schools}
    # A set-up token of a territory manager (in production, the first one is registered with
    # `make token ROLE=territory_manager`'s): only a territory manager registers a pledge that
    # names no organisation, and another territory manager.
    setup = issuer.issue("demo-setup", "territory_manager")
    for i, (name, town, lat, lon, actions) in enumerate(VOLUNTEERS):
        _created(gateway_url, "/api/v1/volunteers", {
            "organisation_name": name, "contact_email": f"contact{i + 1}@demo.vitawin.test",
            "town": town, "location": {"lat": lat, "lon": lon}, "action_types": actions,
            "max_distance_km": 8}, setup)
    pupils = [(body["school_uai"], _created(gateway_url, "/api/v1/actors", body)["actor_id"])
              for body in pupil_bodies()]
    manager_id = _created(gateway_url, "/api/v1/actors", MANAGER, setup)["actor_id"]
    _created(gateway_url, "/api/v1/initiatives", initiative_body(calendar, today),
             issuer.issue("demo-territory-manager", "territory_manager", actor_id=manager_id))

    deadline = time.monotonic() + SCHOOL_WAIT_S
    requests = request_bodies(calendar, today, schools)
    for poster, body in requests:
        if poster.startswith("pupil:"):
            index = int(poster.removeprefix("pupil:"))
            uai, actor_id = pupils[index]
            token = issuer.issue(f"demo-pupil-{index + 1}", "pupil", actor_id=actor_id, school_uai=uai)
        else:
            token = issuer.issue(f"demo-referent-{poster}", "school_referent", actor_id=school_actor[poster],
                                 school_uai=poster)
        _request_created(gateway_url, body, token, deadline)
    return {"volunteers": len(VOLUNTEERS), "schools": len(schools), "pupils": len(pupils), "territory_managers": 1,
            "initiatives": 1, "requests": len(requests)}
