"""MongoDB access. MongoClient is not fork-safe: one client per process, made after the fork."""
from __future__ import annotations

import os
from contextlib import contextmanager

from pymongo import MongoClient
from pymongo.database import Database

from vitawin_common.config import Settings

_clients: dict[tuple[int, str], MongoClient] = {}


def client(settings: Settings) -> MongoClient:
    key = (os.getpid(), settings.mongodb_uri)
    if key not in _clients:
        _clients[key] = MongoClient(settings.mongodb_uri, serverSelectionTimeoutMS=5000,
                                    appname=settings.service_name, tz_aware=True)
    return _clients[key]


def database(settings: Settings) -> Database:
    return client(settings)[settings.mongodb_database]


@contextmanager
def transaction(mongo_client: MongoClient):
    """Yield a session whose writes commit together or not at all."""
    with mongo_client.start_session() as session:
        with session.start_transaction():
            yield session


def ping(settings: Settings) -> bool:
    try:
        client(settings).admin.command("ping")
        return True
    except Exception:
        return False
