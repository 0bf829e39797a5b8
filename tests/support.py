"""Helpers for tests on the real stack: read topics, read the mail sink, poll until true."""
from __future__ import annotations

import mailbox
import time
import uuid
from email import policy
from email.parser import BytesParser
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition


def eventually(check, timeout: float = 30.0, interval: float = 0.2, message: str = "condition"):
    """Poll `check` until it returns a truthy value; return that value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{message} not met within {timeout}s (last: {last!r})")


def read_topic(bootstrap: str, topic: str, stop=lambda records: False, timeout: float = 30.0) -> list:
    """Every record of `topic` from the beginning (no consumer group: assigned partitions), until
    `stop(records)` is true or `timeout` passes."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             auto_offset_reset="earliest", group_id=None)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        records: list = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=300).values():
                records.extend(batch)
            if stop(records):
                break
        return records
    finally:
        consumer.close()


def headers(record) -> dict[str, str]:
    return {key: value.decode() for key, value in (record.headers or [])}


def mails(maildir: Path) -> list:
    """Every message the SMTP sink has stored, parsed."""
    box = mailbox.Maildir(str(maildir), factory=None, create=False)
    parser = BytesParser(policy=policy.default)
    return [parser.parsebytes(box.get_bytes(key)) for key in box.keys()]


def mails_to(maildir: Path, address: str) -> list:
    return [m for m in mails(maildir) if address in str(m["To"])]


def unique_email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@tests.vitawin.test"


UAI_CHECK_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"  # the Education nationale's: no I, O, Q


def unique_uai() -> str:
    """A valid UAI no other test uses: département 94, 4 random digits, the check letter."""
    digits = f"094{uuid.uuid4().int % 10_000:04d}"
    return digits + UAI_CHECK_LETTERS[int(digits) % 23]


def token(env: dict, role: str, *, actor_id: str | None = None, school_uai: str | None = None) -> str:
    """An access token of the stack under test, signed with its private key (env of a Stack)."""
    from vitawin_common.identity import TokenIssuer

    issuer = TokenIssuer(Path(env["AUTH_PRIVATE_KEY_FILE"]).read_bytes())
    return issuer.issue(f"tests-{uuid.uuid4().hex[:8]}", role, actor_id=actor_id, school_uai=school_uai)


def bearer(env: dict, role: str, **claims) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(env, role, **claims)}"}


def post_pledge(url: str, env: dict, body: dict, **kwargs):
    """POST `body` to `url` (the gateway's /api/v1/volunteers) as who may register it: the
    professional of its organisation (a token whose actor_id is body["actor_id"]) or, when it names
    none, a territory manager. The response, whatever its status (`kwargs` go to requests.post)."""
    import requests as http

    actor_id = body.get("actor_id")
    who = bearer(env, "professional", actor_id=actor_id) if actor_id else bearer(env, "territory_manager")
    return http.post(url, json=body, headers={**who, **kwargs.pop("headers", {})}, **kwargs)


def next_school_day(after_days: int = 7, zone: str = "C"):
    """The first school day (no weekend, public or school holiday) at least `after_days` from today."""
    from datetime import date, timedelta

    from vitawin_requests.calendar import SchoolCalendar

    calendar = SchoolCalendar(zone, date.today)
    day = date.today() + timedelta(days=after_days)
    while calendar.check_day(day) is not None:
        day += timedelta(days=1)
    return day


def next_school_weeks(count: int = 2, zone: str = "C") -> list[str]:
    """`count` upcoming ISO weeks without school holidays (internship weeks a school may plan)."""
    from datetime import date

    from vitawin_requests.calendar import SchoolCalendar

    calendar = SchoolCalendar(zone, date.today)
    today = date.today()
    weeks = []
    for year in (today.year - 1, today.year, today.year + 1):
        try:
            weeks += calendar.school_weeks(year)
        except ValueError:  # a school year not published yet
            break
    upcoming = [week for week in weeks if not calendar.check_period([week])]
    return upcoming[:count]


def register_school(gateway: str, mongo, *, town: str = "94080", location: dict | None = None,
                    levels=("4e", "3e"), internship_weeks: list[str] | None = None, timeout: float = 30.0) -> dict:
    """A school registered through the gateway with a UAI of its own, once the requests service
    knows it (its read model, from the actors topic). Returns the school's record, with the referent's
    contact e-mail."""
    import requests as http

    uai = unique_uai()
    body = {"kind": "school", "name": f"Collège {uai}", "contact_email": unique_email("school"), "uai": uai,
            "school_type": "college", "levels": list(levels),
            "internship_periods": {levels[-1]: internship_weeks or next_school_weeks()},
            "address": {"street": "1 rue de l'École", "postcode": "94300"}, "town": town,
            "location": location or {"lat": 48.8478, "lon": 2.4385}}
    answer = http.post(f"{gateway}/api/v1/actors", json=body)
    assert answer.status_code == 201, answer.text
    eventually(lambda: mongo.vitawin_requests.schools.find_one({"_id": uai}), timeout=timeout,
               message=f"school {uai} in the requests service's read model")
    return {**answer.json(), "contact_email": body["contact_email"]}


def register_organisation(gateway: str, name: str, *, town: str, location: dict, email: str | None = None,
                          naf_code: str = "10.71C") -> str:
    """A company registered through the gateway (anonymously, as the directory allows today), at
    `location` in `town` (INSEE code); its actor_id."""
    import requests as http

    answer = http.post(f"{gateway}/api/v1/actors", json={
        "kind": "company", "name": name, "contact_email": email or unique_email("org"), "siret": "73282932000074",
        "naf_code": naf_code, "address": {"street": "1 rue de la Gare", "postcode": "94000"}, "town": town,
        "location": location})
    assert answer.status_code == 201, answer.text
    return answer.json()["actor_id"]
