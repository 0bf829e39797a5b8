"""Local SMTP server for `make run` and the tests: stores every message it receives in a Maildir
(one file per message under <maildir>/new/) and stops cleanly on SIGTERM or Ctrl-C.

    python deploy/local/mailsink.py --host 127.0.0.1 --port 1025 --maildir var/mail
"""
from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


class Sink(Mailbox):
    def handle_message(self, message) -> None:
        key = self.mailbox.add(message)
        print(f"mailsink: stored {Path(self.mail_dir) / 'new' / key}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--maildir", default="var/mail")
    args = parser.parse_args(argv)

    Path(args.maildir).parent.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    controller = Controller(Sink(args.maildir), hostname=args.host, port=args.port)
    controller.start()
    print(f"mailsink: listening on {args.host}:{args.port}, maildir {args.maildir}", flush=True)
    try:
        stop.wait()
    finally:
        controller.stop()
        print("mailsink: stopped", flush=True)


if __name__ == "__main__":
    main()
