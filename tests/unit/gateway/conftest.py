import sys
from pathlib import Path

import pytest

# Lets the tests of this folder `import gateway_fakes` (pytest runs with --import-mode=importlib).
sys.path.insert(0, str(Path(__file__).resolve().parent))

# Read by create_app when no security settings are given: the shell running the tests (a local
# stack's environment) must not change what the tests see.
GATEWAY_ENVIRONMENT = ("AUTH_PUBLIC_KEY", "AUTH_PUBLIC_KEY_FILE", "APP_URL", "GATEWAY_CORS_ORIGINS",
                       "GATEWAY_RATE_LIMIT", "GATEWAY_AUTH_RATE_LIMIT", "GATEWAY_RATELIMIT_STORAGE_URI",
                       "GATEWAY_TRUSTED_PROXIES", "GATEWAY_MAX_BODY_BYTES", "GATEWAY_TILE_ORIGINS",
                       "GATEWAY_HSTS", "ACCOUNTS_URL", "WEBHOOKS_URL", "WEB_APP_DIR", "WEB_VENDOR_DIR", "GATEWAY_TILE_URL",
                       "GATEWAY_TILE_ATTRIBUTION")


@pytest.fixture(autouse=True)
def _clean_gateway_environment(monkeypatch):
    for name in GATEWAY_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
