"""deploy/local/mailsink.py as a subprocess on a free local port (a local server, no network)."""
import mailbox
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from email import message_from_binary_file, message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from vitawin_notify import domain
from vitawin_notify.adapters import SmtpMailer
from tests.unit.notify.conftest import emails_for_proposal

MAILSINK = Path(__file__).resolve().parents[3] / "deploy" / "local" / "mailsink.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mailsink(tmp_path):
    port, maildir = free_port(), tmp_path / "mail"
    process = subprocess.Popen([sys.executable, str(MAILSINK), "--host", "127.0.0.1", "--port", str(port),
                                "--maildir", str(maildir)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"mailsink did not start: {process.communicate()[0].decode()}")
            time.sleep(0.05)
    try:
        yield port, maildir, process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def stop(process) -> int:
    os.kill(process.pid, signal.SIGTERM)
    return process.wait(timeout=10)


def test_mailsink_stores_each_message_in_a_maildir_and_stops_on_sigterm(mailsink):
    port, maildir, process = mailsink
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.fr", "b@example.fr", "Essai é"
    message.set_content("Bonjour depuis le test.")

    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(message)

    (file,) = (maildir / "new").iterdir()  # one message, one file a person can open
    (received,) = mailbox.Maildir(maildir, factory=lambda f: message_from_binary_file(f, policy=policy.default))
    assert received["Subject"] == "Essai é"
    assert received.get_content() == "Bonjour depuis le test.\n"
    assert "Bonjour depuis le test." in file.read_text()
    assert stop(process) == 0


def test_the_smtp_mailer_delivers_a_readable_french_email(mailsink, event_factory, towns):
    port, maildir, process = mailsink
    email = emails_for_proposal("e1", event_factory().data, towns)[0]

    SmtpMailer(host="127.0.0.1", port=port).send(email)

    (file,) = (maildir / "new").iterdir()
    received = message_from_bytes(file.read_bytes(), policy=policy.default)
    assert received["Subject"] == "Vitawin : une demande de témoignage métier près de chez vous"
    assert received["To"] == email.to
    assert "2,8 km" in received.get_body(("plain",)).get_content()
    assert "2,8 km" in received.get_body(("html",)).get_content()
    assert stop(process) == 0
