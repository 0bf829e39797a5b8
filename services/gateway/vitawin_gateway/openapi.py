"""The OpenAPI document of the whole API, merged from each upstream's `/openapi.json`.

Paths are merged (only those the gateway really routes to that service). Components are merged
kind by kind (schemas, responses, parameters...): a name defined identically by two services is
kept once; a name defined differently is a conflict, logged as an error, and the later definition
is renamed `<service>_<name>` with every `$ref` of that service's document rewritten to it. A
service whose document cannot be fetched is listed in `x-missing-services` instead of failing.

The gateway adds what no single service says: how to authenticate. Every operation is open to
anonymous callers and to callers with a Bearer access token (each service then decides what they
may do), so the document declares the `jeton` scheme (HTTP Bearer, JWT) and the root requirement
`[{"jeton": []}, {}]` (a token, or none): Swagger UI's Authorize button then sends the token with
every "Try it out". API keys are no scheme of their own: a partner exchanges its key for an access
token (client_credentials grant of POST /api/v1/auth/token), then sends that token."""
from __future__ import annotations

import copy
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable

from vitawin_gateway.routing import Route, resolve, upstreams

log = logging.getLogger(__name__)

TITLE = "API Vitawin"
DESCRIPTION = (
    "API publique de Vitawin, qui met en relation des professionnels bénévoles avec les "
    "établissements scolaires et les élèves qui les sollicitent. Toutes les requêtes passent par "
    "la passerelle ; ce document réunit ceux des services."
)
REF_PREFIX = "#/components/"
BEARER_SCHEME = "jeton"
SECURITY_SCHEMES = {
    BEARER_SCHEME: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": (
            "Jeton d'accès Vitawin (JWT, valable 15 minutes), envoyé dans l'en-tête "
            "`Authorization: Bearer <jeton>`. Pour l'obtenir : connectez-vous sur le site avec le lien "
            "de connexion reçu par e-mail, ou échangez une clé d'API contre un jeton avec "
            "`POST /api/v1/auth/token` et le corps JSON `{\"grant_type\": \"client_credentials\", "
            "\"client_id\": \"…\", \"client_secret\": \"…\"}` (champ `access_token` de la réponse). "
            "Sans jeton, seules les opérations publiques répondent."
        ),
    },
}
SECURITY = [{BEARER_SCHEME: []}, {}]  # a token, or none: each service decides what anonymous callers may do


def _rename(name: str, service: str, taken) -> str:
    candidate = f"{service}_{name}"
    number = 2
    while candidate in taken:
        candidate = f"{service}_{name}_{number}"
        number += 1
    return candidate


def rewrite_refs(node, renames: dict[tuple[str, str], str]):
    """A copy of `node` whose local `$ref`s to renamed components point at their new names."""
    if isinstance(node, dict):
        result = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(REF_PREFIX):
                parts = value[len(REF_PREFIX):].split("/", 1)
                if len(parts) == 2 and (parts[0], parts[1]) in renames:
                    value = f"{REF_PREFIX}{parts[0]}/{renames[(parts[0], parts[1])]}"
                result[key] = value
            else:
                result[key] = rewrite_refs(value, renames)
        return result
    if isinstance(node, list):
        return [rewrite_refs(value, renames) for value in node]
    return node


def _merge_components(merged: dict, service: str, components: dict) -> dict[tuple[str, str], str]:
    """Add one service's components to `merged`; return its renames (kind, name) -> new name."""
    renames: dict[tuple[str, str], str] = {}
    # Renaming one component changes the content of those that refer to it, which may make them
    # conflict in turn: repeat until nothing new has to be renamed (renames only ever grow).
    changed = True
    while changed:
        changed = False
        for kind, entries in components.items():
            if not isinstance(entries, dict):
                continue
            existing = merged.get(kind, {})
            for name, content in entries.items():
                if (kind, name) in renames or name not in existing:
                    continue
                if existing[name] != rewrite_refs(content, renames):
                    taken = set(existing) | set(entries) | set(renames.values())
                    renames[(kind, name)] = _rename(name, service, taken)
                    changed = True
    for kind, entries in components.items():
        if not isinstance(entries, dict):
            continue
        target = merged.setdefault(kind, {})
        for name, content in entries.items():
            new_name = renames.get((kind, name), name)
            if new_name != name:
                log.error("openapi component conflict: renamed",
                          extra={"component_kind": kind, "component": name, "upstream": service,
                                 "renamed_to": new_name})
            target.setdefault(new_name, rewrite_refs(content, renames))
    return renames


def merge_documents(documents: Iterable[tuple[str, dict]], routes: Iterable[Route],
                    missing: Iterable[str] = ()) -> dict:
    """Merge upstream documents, given in order as (service, document)."""
    routes = list(routes)
    merged: dict = {
        "openapi": "3.0.3",
        "info": {"title": TITLE, "version": "1.0.0", "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "security": copy.deepcopy(SECURITY),
        "paths": {},
        # The gateway's scheme first: a service's scheme of the same name and another content is
        # renamed like any conflicting component.
        "components": {"securitySchemes": copy.deepcopy(SECURITY_SCHEMES)},
        "tags": [],
        "x-missing-services": list(missing),
    }
    tag_names: set[str] = set()
    for service, document in documents:
        document = copy.deepcopy(document)
        renames = _merge_components(merged["components"], service, document.get("components") or {})
        for path, item in (document.get("paths") or {}).items():
            route = resolve(routes, path)
            if route is None or route.service != service:
                log.warning("openapi path not routed to its service; left out",
                            extra={"path": path, "upstream": service})
                continue
            if path in merged["paths"]:
                log.error("openapi path defined twice; first kept", extra={"path": path, "upstream": service})
                continue
            merged["paths"][path] = rewrite_refs(item, renames)
        for tag in document.get("tags") or []:
            if isinstance(tag, dict) and tag.get("name") not in tag_names:
                tag_names.add(tag.get("name"))
                merged["tags"].append(tag)
    for kind in merged["components"]:
        merged["components"][kind] = dict(sorted(merged["components"][kind].items()))
    return merged


class MergedDocument:
    """Fetches the upstream documents and keeps the merge for a short time (per process)."""

    def __init__(self, routes: list[Route], get: Callable[..., object], ttl: float = 30.0,
                 ttl_incomplete: float = 5.0, timeout: float = 3.0,
                 clock: Callable[[], float] = time.monotonic):
        self.routes = routes
        self.get = get  # like requests.Session.get
        self.ttl = ttl
        self.ttl_incomplete = ttl_incomplete  # retry sooner when a service was missing
        self.timeout = timeout
        self.clock = clock
        self._lock = threading.Lock()
        self._cached: dict | None = None
        self._expires = 0.0

    def fetch(self, service: str, base_url: str) -> dict | None:
        try:
            response = self.get(f"{base_url}/openapi.json", timeout=self.timeout,
                                headers={"Accept": "application/json"})
            if response.status_code != 200:
                log.warning("openapi document unavailable",
                            extra={"upstream": service, "status": response.status_code})
                return None
            document = response.json()
        except Exception as exc:  # down, timeout, not JSON: the service is missing, not the doc
            log.warning("openapi document unavailable", extra={"upstream": service, "error": type(exc).__name__})
            return None
        if not isinstance(document, dict) or not isinstance(document.get("paths", {}), dict):
            log.warning("openapi document malformed", extra={"upstream": service})
            return None
        return document

    def build(self) -> dict:
        services = list(upstreams(self.routes).items())
        with ThreadPoolExecutor(max_workers=max(len(services), 1)) as pool:
            fetched = list(pool.map(lambda item: self.fetch(*item), services))
        documents = [(service, doc) for (service, _), doc in zip(services, fetched) if doc is not None]
        missing = [service for (service, _), doc in zip(services, fetched) if doc is None]
        return merge_documents(documents, self.routes, missing)

    def get_document(self) -> dict:
        with self._lock:
            now = self.clock()
            if self._cached is None or now >= self._expires:
                self._cached = self.build()
                ttl = self.ttl_incomplete if self._cached["x-missing-services"] else self.ttl
                self._expires = now + ttl
            return self._cached
