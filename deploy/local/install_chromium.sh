#!/bin/sh
# Installs Debian's Chromium for the browser tests (tests/e2e/test_web.py), which drive it with
# playwright (never a browser playwright would download: the machine reaches only the package
# registries). Needs root, or sudo without a password; says what to do otherwise.
set -e
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = "0" ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "The browser tests need Chromium: run 'sudo apt-get install chromium' once, then 'make test' again." >&2
    exit 1
fi
echo "Installing Chromium (Debian package) for the browser tests..."
$SUDO apt-get update -qq || true
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium
