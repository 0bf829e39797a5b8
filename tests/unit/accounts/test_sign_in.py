"""POST /api/v1/auth/sign-in: always 202 with the same body, a French e-mail with a working link
when an account has the address, at most 5 links per account and hour, SMTP failures swallowed."""
from __future__ import annotations

import json
import logging
import smtplib
import time
from datetime import timedelta
from unittest import mock

import pytest

from vitawin_common import identity
from vitawin_common.mail import SmtpRelay

from vitawin_accounts.api import create_app
from vitawin_accounts.domain import SIGN_IN_ACCEPTED, Policy
from vitawin_accounts.service import AccountsService
from tests.unit.accounts.conftest import APP_URL

SIGN_IN = "/api/v1/auth/sign-in"
TOKEN = "/api/v1/auth/token"
EMAIL = "contact@entreprise.example.fr"


def logged(caplog) -> str:
    return "\n".join(json.dumps(record.__dict__, default=str, ensure_ascii=False) for record in caplog.records)


def test_sign_in_answers_202_and_the_same_body_whether_or_not_an_account_exists(register, client, mailer):
    register("company", 1, EMAIL)

    known = client.post(SIGN_IN, json={"email": EMAIL})
    unknown = client.post(SIGN_IN, json={"email": "personne@example.fr"})

    assert known.status_code == unknown.status_code == 202
    assert known.json == unknown.json == {"message": SIGN_IN_ACCEPTED}
    assert known.json["message"] == "Si un compte existe pour cette adresse, un lien de connexion vient d'y être envoyé."
    assert len(mailer.sent) == 1


def test_the_email_goes_once_to_the_account_with_a_link_that_signs_in(register, client, mailer, helpers):
    register("company", 1, EMAIL)

    client.post(SIGN_IN, json={"email": " Contact@Entreprise.example.fr "})

    assert len(mailer.sent) == 1
    message = mailer.sent[0]
    assert message["To"] == EMAIL
    assert message["From"] == "Vitawin <no-reply@vitawin.fr>"
    assert message["Subject"] == "Votre lien de connexion à Vitawin"
    token = helpers.token(message)
    assert f"https://vitawin.example.fr/connexion#jeton={token}" in helpers.html(message)
    signed_in = client.post(TOKEN, json={"grant_type": "magic_link", "token": token})
    assert signed_in.status_code == 200 and signed_in.json["actor_id"] == helpers.actor_id(1)


def test_the_email_is_french_says_how_long_the_link_lasts_and_that_nobody_will_ask_for_it(register, client, mailer,
                                                                                         helpers):
    register("company", 1, EMAIL)

    client.post(SIGN_IN, json={"email": EMAIL})

    text, html = helpers.text(mailer.sent[0]), helpers.html(mailer.sent[0])
    assert '<html lang="fr">' in html
    assert ">Se connecter à Vitawin (lien valable 15 minutes)</a>" in html
    for body in (text, html):
        assert "valable 15 minutes" in body and "qu'une seule fois" in body
        assert "personne chez Vitawin ne vous le demandera jamais" in body
        assert "Boulangerie des Vignerons (professionnel)" in body
        assert "représentant légal" not in body


def test_a_pupils_link_goes_to_the_guardian_and_says_it_is_the_pupils(register, client, mailer, helpers):
    register("pupil", 2, "parent@example.fr")

    client.post(SIGN_IN, json={"email": "parent@example.fr"})

    for body in (helpers.text(mailer.sent[0]), helpers.html(mailer.sent[0])):
        assert "représentant légal d'un élève" in body
        assert "le lien de connexion de l'élève vous est envoyé" in body
        assert "Élève (établissement 0940001W)" in body
        assert "personne d'autre que l'élève" in body


def test_no_email_for_an_unknown_address(client, mailer, db):
    assert client.post(SIGN_IN, json={"email": "personne@example.fr"}).status_code == 202
    assert mailer.sent == [] and db["challenges"].docs == {}


def test_only_the_tokens_hash_is_stored_bound_to_the_account_for_15_minutes(register, client, mailer, db, helpers,
                                                                          clock):
    register("company", 1, EMAIL)
    client.post(SIGN_IN, json={"email": EMAIL})

    token = helpers.token(mailer.sent[0])
    [challenge] = db["challenges"].docs.values()
    assert token not in repr(challenge) and len(challenge["_id"]) == 64
    assert challenge["account_id"] == next(iter(db["accounts"].docs))
    assert challenge["expires_at"] - clock() == timedelta(minutes=15)
    assert challenge["used_at"] is None
    assert len(token) >= 43  # 32 random bytes


def test_after_5_links_in_an_hour_the_account_gets_no_more_until_the_hour_has_passed(register, client, mailer, clock,
                                                                                     db, caplog):
    register("company", 1, EMAIL)
    caplog.set_level(logging.INFO)
    for _ in range(5):
        assert client.post(SIGN_IN, json={"email": EMAIL}).status_code == 202
        clock.move(minutes=5)

    throttled = client.post(SIGN_IN, json={"email": EMAIL})

    assert throttled.status_code == 202 and throttled.json == {"message": SIGN_IN_ACCEPTED}
    assert len(mailer.sent) == 5
    [record] = [r for r in caplog.records if r.getMessage() == "sign-in link throttled"]
    assert record.account_id == next(iter(db["accounts"].docs))
    assert EMAIL not in logged(caplog)

    clock.move(minutes=36)  # the first link is now more than an hour old
    client.post(SIGN_IN, json={"email": EMAIL})
    assert len(mailer.sent) == 6


def test_an_smtp_failure_still_answers_202_and_logs_no_address(register, client, mailer, caplog):
    register("company", 1, EMAIL)
    mailer.fail = smtplib.SMTPRecipientsRefused({EMAIL: (550, b"no such user " + EMAIL.encode())})
    caplog.set_level(logging.INFO)

    response = client.post(SIGN_IN, json={"email": EMAIL})

    assert response.status_code == 202 and response.json == {"message": SIGN_IN_ACCEPTED}
    assert any(r.getMessage() == "sign-in link not sent" for r in caplog.records)
    assert EMAIL not in logged(caplog)


def test_a_refusal_of_the_smtp_relay_gets_the_same_answer_and_is_logged_by_type_only(register, stores, keys, clock,
                                                                                   monkeypatch, caplog):
    """With the production mailer (vitawin_common.mail.SmtpRelay; its session and errors are tested
    in tests/unit/common/test_mail.py) over a relay that refuses the address, quoting it."""
    register("company", 1, EMAIL)
    session = mock.MagicMock()
    session.__enter__.return_value = session
    session.send_message.side_effect = smtplib.SMTPRecipientsRefused({EMAIL: (550, b"no such user " + EMAIL.encode())})
    monkeypatch.setattr(smtplib, "SMTP", mock.Mock(return_value=session))
    service = AccountsService(stores, identity.TokenIssuer(keys[0]), SmtpRelay(), Policy(app_url=APP_URL),
                              clock=clock)
    app = create_app(service, ready=lambda: True, verifier=identity.TokenVerifier(keys[1]), configure_logging=False)
    caplog.set_level(logging.INFO)

    response = app.test_client().post(SIGN_IN, json={"email": EMAIL})

    assert response.status_code == 202 and response.json == {"message": SIGN_IN_ACCEPTED}
    assert session.send_message.call_count == 1
    [record] = [r for r in caplog.records if r.getMessage() == "sign-in link not sent"]
    assert record.error == "RecipientRefused"
    assert EMAIL not in logged(caplog)


@pytest.mark.parametrize("body, field, message", [
    ({}, "email", "Indiquez votre adresse e-mail (email)."),
    ({"email": "pas-une-adresse"}, "email", "Adresse e-mail invalide."),
])
def test_a_malformed_request_is_refused_in_french(client, body, field, message):
    response = client.post(SIGN_IN, json=body)

    assert response.status_code == 422
    assert response.json["errors"]["json"][field] == [message]
    assert response.json["message"] == "Les données envoyées sont invalides."


def test_the_mailer_and_the_sender_come_from_the_environment(stores, keys, monkeypatch):
    from vitawin_accounts import bootstrap
    from vitawin_accounts.mail import sender_from_env

    monkeypatch.setattr(bootstrap, "stores", lambda config: stores)
    service = bootstrap.service(None, identity.TokenIssuer(keys[0]), {
        "SMTP_HOST": "relais.example.fr", "SMTP_PORT": "2525", "SMTP_STARTTLS": "true", "SMTP_FROM": "A <a@vitawin.fr>"})

    assert service.mailer == SmtpRelay("relais.example.fr", 2525, starttls=True)
    assert service.sender == "A <a@vitawin.fr>"
    assert sender_from_env({}) == "Vitawin <no-reply@vitawin.fr>"
    assert sender_from_env({"SMTP_FROM": "A <a@vitawin.fr>", "MAIL_FROM": "B <b@vitawin.fr>"}) == "B <b@vitawin.fr>"


def test_the_answer_comes_before_any_work_on_the_address_so_timing_says_nothing(register, service, keys, mailer,
                                                                             db):
    """The real wiring runs a sign-in's lookup, link and e-mail after answering (api.in_background):
    here the jobs are kept and run by hand, to see the answer did nothing before."""
    register("company", 1, EMAIL)
    jobs = []
    app = create_app(service, ready=lambda: True, verifier=identity.TokenVerifier(keys[1]), configure_logging=False,
                     run_later=jobs.append)
    answer = app.test_client().post(SIGN_IN, json={"email": EMAIL})
    assert answer.status_code == 202 and len(jobs) == 1
    assert mailer.sent == [] and list(db["challenges"].docs) == []
    jobs[0]()
    assert len(mailer.sent) == 1


def test_in_background_runs_the_job_on_another_thread_and_logs_a_failure(caplog):
    import threading

    from vitawin_accounts.api import in_background

    run_later, done, threads = in_background(), threading.Event(), []
    run_later(lambda: threads.append(threading.current_thread().name) or done.set())
    assert done.wait(5) and threads[0].startswith("sign-in")
    failed = threading.Event()

    def boom():
        failed.set()
        raise RuntimeError("relay away")
    def failures():
        return [r.getMessage() for r in caplog.records if r.name == "vitawin_accounts.api"]

    with caplog.at_level(logging.ERROR, logger="vitawin_accounts.api"):
        run_later(boom)
        assert failed.wait(5)
        deadline = time.monotonic() + 5  # logged by the pool's thread, after the job raised
        while not failures() and time.monotonic() < deadline:
            time.sleep(0.01)
        after = threading.Event()
        run_later(after.set)  # after the failure: the pool goes on
        assert after.wait(5)
    assert failures() == ["sign-in request failed"]
