"""The routing table: which upstream service answers which path prefix. Plain data, no I/O."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, Mapping

API_PREFIX = "/api/v1"


@dataclass(frozen=True)
class Route:
    prefix: str  # e.g. "/api/v1/volunteers"; matches the prefix itself and anything below it
    service: str  # short name of the upstream ("actors"), used in logs and the merged document
    base_url: str  # e.g. "http://127.0.0.1:8081", without a trailing slash

    def matches(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")


# prefix -> (service, environment variable holding its base URL, default base URL)
DEFAULT_TABLE: tuple[tuple[str, str, str, str], ...] = (
    (f"{API_PREFIX}/volunteers", "actors", "ACTORS_URL", "http://127.0.0.1:8081"),
    (f"{API_PREFIX}/actors", "actors", "ACTORS_URL", "http://127.0.0.1:8081"),
    (f"{API_PREFIX}/requests", "requests", "REQUESTS_URL", "http://127.0.0.1:8082"),
    (f"{API_PREFIX}/initiatives", "requests", "REQUESTS_URL", "http://127.0.0.1:8082"),
    (f"{API_PREFIX}/proposals", "matching", "MATCHING_URL", "http://127.0.0.1:8083"),
    (f"{API_PREFIX}/notifications", "notify", "NOTIFY_URL", "http://127.0.0.1:8084"),
    # Sign-in, access tokens and API keys.
    (f"{API_PREFIX}/auth", "accounts", "ACCOUNTS_URL", "http://127.0.0.1:8085"),
    # Partners' webhook subscriptions (public events, no personal data).
    (f"{API_PREFIX}/webhooks", "webhooks", "WEBHOOKS_URL", "http://127.0.0.1:8086"),
)


def routes_from_env(environ: Mapping[str, str] | None = None) -> list[Route]:
    env = os.environ if environ is None else environ
    return [Route(prefix, service, env.get(variable, default).rstrip("/"))
            for prefix, service, variable, default in DEFAULT_TABLE]


def _service_for(prefix: str) -> str:
    for known_prefix, service, _, _ in DEFAULT_TABLE:
        if known_prefix == prefix:
            return service
    return prefix.rstrip("/").rsplit("/", 1)[-1] or "upstream"


def normalize(routes) -> list[Route]:
    """Accept None (from the environment), Route objects, or a mapping prefix -> base URL, or
    prefix -> (service, base URL). The order given is kept (it orders the merged document)."""
    if routes is None:
        result = routes_from_env()
    elif isinstance(routes, Mapping):
        result = []
        for prefix, target in routes.items():
            if isinstance(target, Route):
                result.append(target)
            elif isinstance(target, str):
                result.append(Route(prefix.rstrip("/"), _service_for(prefix.rstrip("/")), target.rstrip("/")))
            else:
                service, base_url = target
                result.append(Route(prefix.rstrip("/"), service, base_url.rstrip("/")))
    else:
        result = list(routes)
    return result


def resolve(routes: Iterable[Route], path: str) -> Route | None:
    """The route with the longest prefix matching `path`, or None."""
    matching = [route for route in routes if route.matches(path)]
    return max(matching, key=lambda r: len(r.prefix)) if matching else None


def upstreams(routes: Iterable[Route]) -> dict[str, str]:
    """service -> base URL, each service once, in table order."""
    result: dict[str, str] = {}
    for route in routes:
        result.setdefault(route.service, route.base_url)
    return result
