"""Fixtures of the tests on the real stack: the machine's Chromium (for the browser tests, helpers in
tests/e2e/browser.py) and a MongoDB client of the stack; one of each per test module."""
from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import sync_playwright
from pymongo import MongoClient

from e2e.browser import ARTIFACTS, CHROMIUM_ARGS


@pytest.fixture(scope="module")
def browser():
    executable = shutil.which("chromium")
    assert executable, "Chromium is missing: `make test` installs it (deploy/local/install_chromium.sh)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def mongo(stack):
    client = MongoClient(stack.env["MONGODB_URI"], tz_aware=True)
    yield client
    client.close()
