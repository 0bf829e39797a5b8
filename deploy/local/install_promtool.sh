#!/bin/sh
# Puts promtool (Prometheus's checker: configs, rules, rule unit tests) in .venv/bin for
# tests/deploy/test_alerts.py, taken from Debian's `prometheus` package: only the promtool binary
# is extracted, nothing is installed system-wide and no Prometheus server runs. Uses a promtool
# already on PATH when there is one.
set -e
TARGET="${1:-.venv/bin/promtool}"
if [ -x "$TARGET" ]; then
    exit 0
fi
if command -v promtool >/dev/null 2>&1; then
    ln -sf "$(command -v promtool)" "$TARGET"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "The alert tests need promtool: install Prometheus's promtool and put it on PATH." >&2
    exit 1
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
echo "Fetching promtool (Debian package prometheus) for the alert tests..."
if ! (cd "$WORK" && apt-get download prometheus >/dev/null 2>&1); then
    if [ "$(id -u)" = "0" ]; then
        apt-get update -qq || true
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n apt-get update -qq || true
    fi
    (cd "$WORK" && apt-get download prometheus >/dev/null)
fi
dpkg-deb --fsys-tarfile "$WORK"/prometheus_*.deb | tar -x -C "$WORK" ./usr/bin/promtool
mv "$WORK/usr/bin/promtool" "$TARGET"
"$TARGET" --version | head -1
