"""Notify end to end, on the real broker, database and SMTP server (aiosmtpd), through the gateway:
who gets which email; the one-click answer links (once, then refused); unsubscribe honoured at
once; a redelivered event sends nothing; SMTP down for a while then back: every email arrives
exactly once; the reminder on a clock the test moves (NOTIFY_CLOCK_FILE)."""
from __future__ import annotations

import html
import re
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from pymongo import MongoClient

from support import (bearer, eventually, headers, mails_to, next_school_day, post_pledge, read_topic, register_school,
                     unique_email)
from vitawin_common.contracts import load

pytestmark = pytest.mark.integration

PROPOSAL = "fr.vitawin.proposal.created.v1"


@pytest.fixture(scope="module")
def mongo(stack):
    client = MongoClient(stack.env["MONGODB_URI"], tz_aware=True)
    yield client
    client.close()


def template_of(message) -> str:
    return str(message["X-Vitawin-Template"])


def mails(stack, address: str, template: str) -> list:
    return [m for m in mails_to(stack.maildir, address) if template_of(m) == template]


def text(message) -> str:
    return message.get_body(("plain",)).get_content()


def links_in(message) -> list[str]:
    return [html.unescape(url) for url in re.findall(r'href="([^"]+)"', message.get_body(("html",)).get_content())]


def pledge(email: str, lat: float, lon: float, town: str = "94080") -> dict:
    return {"organisation_name": "Menuiserie du Bois de Vincennes", "contact_email": email, "town": town,
            "location": {"lat": lat, "lon": lon}, "action_types": ["testimony"], "max_distance_km": 1.0}


def class_testimony(email: str) -> dict:
    return {"kind": "class_testimony", "date": next_school_day().isoformat(), "level": "3e",
            "contact_email": email, "max_distance_km": 1.0}


def pair(stack, mongo, lat: float, lon: float, town: str = "94080"):
    """A professional, a school and its request, close together (apart from other tests' places);
    returns (professional's address, school's address, request id, volunteer id)."""
    gateway = stack.gateway_url
    pro, school_email = unique_email("pro"), unique_email("referent")
    school = register_school(gateway, mongo, town=town, location={"lat": lat + 0.0005, "lon": lon + 0.0005})
    answer = post_pledge(f"{gateway}/api/v1/volunteers", stack.env, pledge(pro, lat, lon, town))
    assert answer.status_code == 201, answer.text
    volunteer_id = answer.json()["volunteer_id"]
    eventually(lambda: mongo.vitawin_matching.volunteers.find_one({"_id": volunteer_id}), message="pledge in matching")
    answer = requests.post(f"{gateway}/api/v1/requests", json=class_testimony(school_email),
                           headers=bearer(stack.env, "school_referent", actor_id=school["actor_id"],
                                          school_uai=school["uai"]))
    assert answer.status_code == 201, answer.text
    return pro, school_email, answer.json()["request_id"], volunteer_id


def proposal_id_for(mongo, request_id: str) -> str:
    doc = eventually(lambda: mongo.vitawin_matching.proposals.find_one({"request_id": request_id}),
                     message="proposal made")
    return doc["_id"]


def test_the_professional_answers_with_the_emailed_link_once_and_both_parties_hear_it(stack, mongo):
    pro, school, request_id, _ = pair(stack, mongo, 48.8452, 2.4402)
    [to_pro] = eventually(lambda: mails(stack, pro, "proposal_to_volunteer"), message="proposal email")
    assert eventually(lambda: mails(stack, school, "proposal_to_requester"), message="email to the school")
    assert eventually(lambda: mails(stack, pro, "pledge_confirmation"), message="pledge confirmation")
    accept = next(url for url in links_in(to_pro) if "/links/answer" in url and "Accepter" in text(to_pro))
    assert accept.startswith(stack.gateway_url)

    # Opening the link changes nothing (mail scanners open links): a page with a button.
    page = requests.get(accept)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert '<html lang="fr"' in page.text and "<button" in page.text
    pid = proposal_id_for(mongo, request_id)
    assert mongo.vitawin_matching.proposals.find_one({"_id": pid})["status"] == "pending"

    token = re.search(r"token=([^&]+)", accept).group(1)
    done = requests.post(accept.split("?")[0], data={"token": requests.utils.unquote(token)})
    assert done.status_code == 200, done.text
    assert mongo.vitawin_matching.proposals.find_one({"_id": pid})["status"] == "accepted"
    again = requests.post(accept.split("?")[0], data={"token": requests.utils.unquote(token)})
    assert again.status_code == 409 and "déjà" in again.text

    [accepted] = eventually(lambda: mails(stack, school, "proposal_accepted_requester"), message="acceptance to school")
    assert pro in text(accepted)  # now the school may write to the professional
    assert eventually(lambda: mails(stack, pro, "proposal_accepted_volunteer"), message="acceptance to the pro")


def test_a_tampered_link_gets_a_clear_french_page_through_the_gateway(stack):  # expired: tests/unit/notify/test_links.py
    base = f"{stack.gateway_url}/api/v1/notifications/links/answer"
    bad = requests.get(base, params={"token": "not-a-token"})
    assert bad.status_code == 400 and "lien" in bad.text.lower()


def test_unsubscribe_in_one_click_stops_the_next_email_at_once(stack, mongo):
    pro, school, request_id, volunteer_id = pair(stack, mongo, 48.8470, 2.4600)
    [first] = eventually(lambda: mails(stack, pro, "proposal_to_volunteer"), message="first proposal email")
    assert first["List-Unsubscribe"]
    unsubscribe = first["List-Unsubscribe"].strip("<>")
    answer = requests.post(unsubscribe, data="List-Unsubscribe=One-Click",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200, answer.text

    # A second request of another school near the same professional: a second proposal.
    school_email = unique_email("referent")
    other = register_school(stack.gateway_url, mongo, location={"lat": 48.8474, "lon": 2.4604})
    answer = requests.post(f"{stack.gateway_url}/api/v1/requests", json=class_testimony(school_email),
                           headers=bearer(stack.env, "school_referent", actor_id=other["actor_id"],
                                          school_uai=other["uai"]))
    second_request = answer.json()["request_id"]
    pid = proposal_id_for(mongo, second_request)
    eventually(lambda: mails(stack, school_email, "proposal_to_requester"), message="the school still hears")
    delivered = eventually(lambda: list(mongo.vitawin_notify.deliveries.find(
        {"subject_id": pid, "template": "proposal_to_volunteer"})), message="delivery recorded")
    assert [d["status"] for d in delivered] == ["suppressed"]
    assert len(mails(stack, pro, "proposal_to_volunteer")) == 1


def committed_offset(stack, group: str, topic: str, partition: int) -> int | None:
    consumer = KafkaConsumer(bootstrap_servers=stack.env["KAFKA_BOOTSTRAP_SERVERS"], group_id=group,
                             enable_auto_commit=False)
    try:
        return consumer.committed(TopicPartition(topic, partition))
    finally:
        consumer.close()


def test_a_redelivered_proposal_event_sends_nothing_more(stack, mongo):
    pro, school, request_id, _ = pair(stack, mongo, 48.8400, 2.4700)
    eventually(lambda: mails(stack, pro, "proposal_to_volunteer"), message="proposal email")
    eventually(lambda: mails(stack, school, "proposal_to_requester"), message="school email")
    topic = load(stack.env["CONTRACTS_DIR"]).topic("proposals")
    [record] = [r for r in read_topic(stack.env["KAFKA_BOOTSTRAP_SERVERS"], topic, timeout=5)
                if headers(r).get("ce_type") == PROPOSAL and request_id in r.value.decode()]
    producer = KafkaProducer(bootstrap_servers=stack.env["KAFKA_BOOTSTRAP_SERVERS"])
    sent = producer.send(topic, key=record.key, value=record.value, headers=record.headers,
                         partition=record.partition).get(timeout=10)
    producer.close()
    # notify's consumer has read past the replayed copy once its committed offset is beyond it
    eventually(lambda: (committed_offset(stack, "notify", topic, sent.partition) or 0) > sent.offset,
               timeout=30, message="notify read the replayed event")
    assert len(mails(stack, pro, "proposal_to_volunteer")) == 1
    assert len(mails(stack, school, "proposal_to_requester")) == 1


def test_smtp_down_for_a_while_then_back_every_email_arrives_exactly_once(stack, mongo):
    stack.stop("smtp")
    try:
        pro, school, request_id, _ = pair(stack, mongo, 48.8500, 2.4800)
        pid = proposal_id_for(mongo, request_id)
        eventually(lambda: mongo.vitawin_notify.deliveries.count_documents(
            {"subject_id": pid, "status": "retrying"}) == 2, timeout=30, message="both emails waiting for a retry")
    finally:
        stack.start("smtp")
    eventually(lambda: mails(stack, pro, "proposal_to_volunteer") and mails(stack, school, "proposal_to_requester"),
               timeout=60, message="emails after the relay came back")
    time.sleep(3)
    assert len(mails(stack, pro, "proposal_to_volunteer")) == 1
    assert len(mails(stack, school, "proposal_to_requester")) == 1
    statuses = {d["template"]: (d["status"], d["attempts"])
                for d in mongo.vitawin_notify.deliveries.find({"subject_id": pid})}
    assert statuses["proposal_to_volunteer"][0] == "sent" and statuses["proposal_to_volunteer"][1] >= 2
    sent_events = [r for r in read_topic(stack.env["KAFKA_BOOTSTRAP_SERVERS"],
                                         load(stack.env["CONTRACTS_DIR"]).topic("notifications"), timeout=5)
                   if pid in r.value.decode()]
    assert len(sent_events) == 2 and all(pro not in r.value.decode() for r in sent_events)


def test_a_professional_who_does_not_answer_gets_one_reminder_when_the_clock_says_so(stack, mongo):
    clock_file = stack.env["NOTIFY_CLOCK_FILE"]
    pro, school, request_id, _ = pair(stack, mongo, 48.8330, 2.4850)
    eventually(lambda: mails(stack, pro, "proposal_to_volunteer"), message="proposal email")
    assert mails(stack, pro, "proposal_reminder") == []
    later = datetime.now(timezone.utc) + timedelta(hours=73)
    with open(clock_file, "w", encoding="utf-8") as f:
        f.write(later.isoformat())
    try:
        [reminder] = eventually(lambda: mails(stack, pro, "proposal_reminder"), timeout=30, message="reminder")
        assert "Rappel" in reminder["Subject"]
        time.sleep(3)  # more ticks: still one
        assert len(mails(stack, pro, "proposal_reminder")) == 1
    finally:
        with open(clock_file, "w", encoding="utf-8") as f:
            f.write("")
