"""The web app the gateway serves: its French pages (/, /connexion, /mon-espace, and the forms
/inscription, /engagement, /demande; /initiatives), their settings (/app-config.json), the list of jobs the forms
offer (/app-rome.json), the app's own static files (/static/app/...) and the front-end libraries
vendored from npm (/static/vendor/...).

Where things are:

- WEB_APP_DIR [the repository's web/app, found from the working directory or this file]: the app's
  sources. `templates/` holds the Jinja pages (a shared layout.html), `static/` the ES modules and
  the CSS served under /static/app/, `labels.json` the French names of the API's codes (actor kinds,
  action types, roles...), read here for the filters of the pages and sent to the scripts in
  /app-config.json. Without that folder the pages say so (503) and the API goes on.
- WEB_VENDOR_DIR [<repository>/web/node_modules]: where `npm ci` put Leaflet and
  leaflet.markercluster. Only leaflet/dist/** and leaflet.markercluster/dist/** are served, files
  with a known extension only, and swagger-ui-dist's swagger-ui-bundle.js and swagger-ui.css (the
  API documentation, /api/v1/docs; without them it shows its plain list of operations). When the
  map libraries are missing, the gateway logs a warning at start and the map page shows its list
  with a French message that the map library is missing.
- GATEWAY_TILE_URL [https://tile.openstreetmap.org/{z}/{x}/{y}.png] and GATEWAY_TILE_ATTRIBUTION
  [© les contributeurs d'OpenStreetMap]: the base map, sent in /app-config.json. Its origin must
  be allowed by GATEWAY_TILE_ORIGINS (the pages' img-src, vitawin_gateway.security): a warning is
  logged at start when it is not.
- TERRITORY_FILE (vitawin_common.config): the territory's name, map centre and towns.
- ROME_FILE [<CONTRACTS_DIR>/reference/rome.json]: the ROME job sheets (code, French label) the
  actors and requests services check jobs against; /app-rome.json gives them to the forms' job
  pickers, sorted by label. Without it, /app-rome.json answers 503 in French and the forms take
  ROME codes typed as they are.

The pages run under the strict Content-Security-Policy of vitawin_gateway.security: no inline
script or style; the scripts read their settings from /app-config.json and from data- attributes.

Caching: pages and /app-config.json are revalidated at each use (no-cache, with an ETag); the app's
files too (they change with each deployment and ES modules import each other by plain URLs);
vendored files are kept a day, and a year (immutable) when asked with ?v=<the package's version>,
as the pages do."""
from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Mapping
from urllib.parse import urlsplit

import jinja2
from flask import Flask, Response, abort, request, send_file

from vitawin_common import config
from vitawin_common.web import error_response

log = logging.getLogger(__name__)

DEFAULT_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
DEFAULT_TILE_ATTRIBUTION = ('© les contributeurs d’<a href="https://www.openstreetmap.org/copyright">'
                            'OpenStreetMap</a>')
SITE_NAME = "Vitawin"

# The vendored files that may be served: URL /static/vendor/<package>/dist/<file>, read from
# <WEB_VENDOR_DIR>/<package>/dist/<file>. `entry` is what a page needs of the package.
VENDOR_PACKAGES = {
    "leaflet": {"dist": "dist", "script": "dist/leaflet.js", "styles": ("dist/leaflet.css",)},
    "leaflet.markercluster": {"dist": "dist", "script": "dist/leaflet.markercluster.js",
                              "styles": ("dist/MarkerCluster.css", "dist/MarkerCluster.Default.css")},
}
# Single files of other packages, for the gateway's own pages: URL /static/vendor/<package>/<file>,
# these files only. swagger-ui-dist: the interactive API documentation (/api/v1/docs, pages.py).
VENDOR_FILES = {"swagger-ui-dist": ("swagger-ui-bundle.js", "swagger-ui.css")}
CONTENT_TYPES = {  # the files served, by extension (werkzeug adds "; charset=utf-8" to text types)
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".map": "application/json",
    ".json": "application/json",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
}
VENDOR_MAX_AGE = 24 * 3600
VENDOR_IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

PAGES = {  # path -> (template, navigation key, title, whether it shows the map)
    "/": ("carte.html", "carte", "Carte des acteurs", True),
    "/connexion": ("connexion.html", "connexion", "Connexion", False),
    "/mon-espace": ("mon-espace.html", "mon-espace", "Mon espace", False),
    "/inscription": ("inscription.html", "inscription", "Inscription", False),
    "/engagement": ("engagement.html", "engagement", "Proposer un engagement", False),
    "/demande": ("demande.html", "demande", "Publier une demande", False),
    "/initiatives": ("initiatives.html", "initiatives", "Initiatives et appels à projets", False),
    "/tableau-de-bord": ("tableau-de-bord.html", "tableau-de-bord", "Tableau de bord du territoire", False),
}
NO_VENDOR: dict = {"scripts": [], "styles": []}
MSG_NO_APP = ("Le site web de Vitawin n'est pas installé sur ce serveur (dossier web/app introuvable). "
              "L'API reste disponible.")
MSG_NO_TERRITORY = "Territoire non configuré sur ce serveur : les réglages de la carte sont indisponibles."
MSG_NO_ROME = ("Liste des métiers (référentiel ROME) indisponible sur ce serveur : indiquez les codes ROME "
               "directement (ex. D1102).")


def _find_repository_folder(relative: str, marker: str) -> Path | None:
    """The first `<folder>/<relative>` holding `marker`, from the working directory then from this
    file upwards (the repository in development, /app in the container image)."""
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for folder in (start, *start.parents):
            candidate = folder / relative
            if (candidate / marker).exists():
                return candidate
    return None


def _default_territory_file() -> Path | None:
    try:
        return config.territory_file()
    except RuntimeError:  # no contracts/ to find the repository by, and no TERRITORY_FILE
        return None


def _default_rome_file() -> Path | None:
    try:
        return config.Settings(service_name="gateway").contracts_dir / "reference" / "rome.json"
    except RuntimeError:  # no contracts/ found and no CONTRACTS_DIR
        return None


@dataclass(frozen=True)
class WebSettings:
    """What the web app needs; tests build one directly, `from_env` reads the environment."""

    app_dir: Path | None = None
    vendor_dir: Path | None = None
    tile_url: str = DEFAULT_TILE_URL
    tile_attribution: str = DEFAULT_TILE_ATTRIBUTION
    territory_file: Path | None = None
    rome_file: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "WebSettings":
        env = os.environ if env is None else env
        if env.get("WEB_APP_DIR"):
            app_dir = Path(env["WEB_APP_DIR"])
        else:
            app_dir = _find_repository_folder("web/app", "templates")
        if env.get("WEB_VENDOR_DIR"):
            vendor_dir = Path(env["WEB_VENDOR_DIR"])
        else:  # web/package.json is there even before `npm ci` made node_modules
            web = _find_repository_folder("web", "package.json")
            vendor_dir = web / "node_modules" if web is not None else None
        territory_file = Path(env["TERRITORY_FILE"]) if env.get("TERRITORY_FILE") else _default_territory_file()
        rome_file = Path(env["ROME_FILE"]) if env.get("ROME_FILE") else _default_rome_file()
        return cls(app_dir=app_dir, vendor_dir=vendor_dir,
                   tile_url=env.get("GATEWAY_TILE_URL") or DEFAULT_TILE_URL,
                   tile_attribution=env.get("GATEWAY_TILE_ATTRIBUTION") or DEFAULT_TILE_ATTRIBUTION,
                   territory_file=territory_file, rome_file=rome_file)


# --- the territory, as the map needs it --------------------------------------------------------------
def territory_view(data: dict) -> dict:
    """The territory file's name, map view and towns (INSEE code, name, centre, boundary when the
    file has one), and the box around them ([min_lon, min_lat, max_lon, max_lat]) that a page
    without a map asks the APIs for."""
    towns = []
    lons, lats = [], []
    for town in data["towns"]:
        item = {"insee": town["insee"], "name": town["name"],
                "centre": {"lat": town["centre"]["lat"], "lon": town["centre"]["lon"]}}
        lons.append(town["centre"]["lon"])
        lats.append(town["centre"]["lat"])
        boundary = town.get("boundary")
        if boundary:
            item["boundary"] = boundary
            for lon, lat in _positions(boundary.get("coordinates")):
                lons.append(lon)
                lats.append(lat)
        towns.append(item)
    centre = data.get("map_centre") or {}
    if "lat" not in centre or "lon" not in centre:
        centre = {"lat": sum(lats) / len(lats), "lon": sum(lons) / len(lons), "zoom": centre.get("zoom", 12)}
    margin = 0.01  # about a kilometre: towns' centres alone would cut their edges off
    return {
        "name": data["name"],
        "centre": {"lat": centre["lat"], "lon": centre["lon"]},
        "zoom": int(centre.get("zoom", 12)),
        "bbox": [round(min(lons) - margin, 5), round(min(lats) - margin, 5),
                 round(max(lons) + margin, 5), round(max(lats) + margin, 5)],
        "towns": towns,
    }


def _positions(coordinates):
    """Every [lon, lat] of a GeoJSON Polygon's or MultiPolygon's nested coordinates."""
    if not isinstance(coordinates, list) or not coordinates:
        return
    if isinstance(coordinates[0], (int, float)):
        yield coordinates[0], coordinates[1]
        return
    for item in coordinates:
        yield from _positions(item)


def _load_territory(path: Path | None) -> dict | None:
    if path is None:
        log.error("territory file not found: the map page has no territory (set TERRITORY_FILE)")
        return None
    try:
        return territory_view(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError) as exc:
        log.error("territory file unreadable", extra={"path": str(path), "error": type(exc).__name__})
        return None


# --- the ROME job sheets, for the forms' job pickers ----------------------------------------------------
def rome_view(document: dict) -> dict:
    """The reference's source and licence, and its jobs as [{code, label}] in French alphabetical
    order of their labels (what a person scrolls through)."""
    jobs = [{"code": str(code), "label": str(label)} for code, label in document["jobs"].items()]
    jobs.sort(key=lambda job: (_alphabetical(job["label"]), job["code"]))
    return {"source": document.get("name", ""), "licence": document.get("licence", ""), "jobs": jobs}


def _load_rome(path: Path | None) -> bytes | None:
    if path is None:
        log.error("ROME file not found: the forms' job pickers have no list (set ROME_FILE)")
        return None
    try:
        view = rome_view(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.error("ROME file unreadable", extra={"path": str(path), "error": type(exc).__name__})
        return None
    return json.dumps(view, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --- vendored libraries --------------------------------------------------------------------------------
def _package_version(vendor_dir: Path, package: str) -> str | None:
    try:
        return str(json.loads((vendor_dir / package / "package.json").read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def vendor_file(vendor_dir: Path | None, rest: str) -> Path | None:
    """The file for /static/vendor/<rest>, or None when it is not in the allowlist (a package of
    VENDOR_PACKAGES, under its dist/ folder, a known extension), does not exist, or escapes the
    package's dist/ folder (dot segments, symbolic links)."""
    if vendor_dir is None:
        return None
    parts = rest.split("/")
    if len(parts) == 2 and parts[1] in VENDOR_FILES.get(parts[0], ()):
        root = (vendor_dir / parts[0]).resolve()
        path = (vendor_dir / parts[0] / parts[1]).resolve()
        return path if path.is_relative_to(root) and path.is_file() else None
    if len(parts) < 3 or any(part in ("", ".", "..") or "\\" in part or "\x00" in part for part in parts):
        return None
    package, folder = parts[0], parts[1]
    spec = VENDOR_PACKAGES.get(package)
    if spec is None or folder != spec["dist"] or PurePosixPath(rest).suffix.lower() not in CONTENT_TYPES:
        return None
    root = (vendor_dir / package / folder).resolve()
    path = (vendor_dir / Path(*parts)).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def app_file(app_dir: Path | None, rest: str) -> Path | None:
    """The file for /static/app/<rest>: under <WEB_APP_DIR>/static, a known extension."""
    if app_dir is None:
        return None
    parts = rest.split("/")
    if any(part in ("", ".", "..") or "\\" in part or "\x00" in part for part in parts):
        return None
    if PurePosixPath(rest).suffix.lower() not in CONTENT_TYPES:
        return None
    root = (app_dir / "static").resolve()
    path = (root / Path(*parts)).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def _send(path: Path, cache_control: str) -> Response:
    response = send_file(path, mimetype=CONTENT_TYPES[path.suffix.lower()], conditional=True, etag=True,
                         max_age=None)
    response.headers["Cache-Control"] = cache_control
    return response


def _tile_origin_allowed(tile_url: str, tile_origins: str) -> bool:
    """Whether the pages' img-src (GATEWAY_TILE_ORIGINS) lets the browser load the tiles."""
    sample = tile_url.replace("{s}", "a").replace("{z}", "1").replace("{x}", "1").replace("{y}", "1").replace("{r}", "")
    parts = urlsplit(sample)
    if not parts.scheme or not parts.netloc:  # a relative URL: the gateway's own origin ('self')
        return True
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    for source in tile_origins.replace(",", " ").split():
        source = source.lower().rstrip("/")
        if source in ("*", f"{parts.scheme}:") or fnmatch.fnmatchcase(origin, source):
            return True
    return False


# --- the app -------------------------------------------------------------------------------------------
@dataclass
class WebApp:
    settings: WebSettings
    territory: dict | None
    labels: dict
    vendor_versions: dict[str, str | None]
    templates: jinja2.Environment | None
    config_body: bytes = field(default=b"")
    rome_body: bytes | None = None
    file_versions: dict[str, str | None] = field(default_factory=dict)  # VENDOR_FILES' packages

    @property
    def map_library(self) -> bool:
        return all(self.vendor_versions.values())

    def vendor_urls(self) -> dict:
        """The script and style sheets of each package, with ?v=<version> (long cache)."""
        urls: dict = {"scripts": [], "styles": []}
        for package, spec in VENDOR_PACKAGES.items():
            query = f"?v={self.vendor_versions[package]}"
            urls["scripts"].append(f"/static/vendor/{package}/{spec['script']}{query}")
            urls["styles"].extend(f"/static/vendor/{package}/{style}{query}" for style in spec["styles"])
        return urls

    def swagger_ui(self) -> dict | None:
        """Swagger UI's script and style sheet (?v=<version>), None when it is not installed."""
        version = self.file_versions.get("swagger-ui-dist")
        if not version:
            return None
        base = "/static/vendor/swagger-ui-dist"
        return {"script": f"{base}/swagger-ui-bundle.js?v={version}", "style": f"{base}/swagger-ui.css?v={version}"}


def _alphabetical(name: str) -> str:
    """A sort key that puts "Écouen" among the E (French order, accents aside)."""
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()


def _labels(app_dir: Path | None) -> dict:
    if app_dir is None or not app_dir.is_dir():  # already logged: no app at all
        return {}
    try:
        return json.loads((app_dir / "labels.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.error("web app labels unreadable", extra={"error": type(exc).__name__})
        return {}


def build(settings: WebSettings) -> WebApp:
    """Read what the pages need once, at start; log what is missing."""
    app_dir = settings.app_dir
    templates = None
    if app_dir is not None and (app_dir / "templates").is_dir():
        templates = jinja2.Environment(loader=jinja2.FileSystemLoader(str(app_dir / "templates")),
                                       autoescape=True, undefined=jinja2.StrictUndefined,
                                       trim_blocks=True, lstrip_blocks=True)
    else:
        log.error("web app not found: the pages answer 503 (set WEB_APP_DIR)",
                  extra={"path": str(app_dir) if app_dir else None})
    versions = {}
    for package, spec in VENDOR_PACKAGES.items():
        present = settings.vendor_dir is not None and (settings.vendor_dir / package / spec["script"]).is_file()
        versions[package] = (_package_version(settings.vendor_dir, package) or "0") if present else None
    if not all(versions.values()):
        log.warning("map libraries missing: the map page shows its list only (run `npm ci --prefix web`, "
                    "or set WEB_VENDOR_DIR)",
                    extra={"path": str(settings.vendor_dir) if settings.vendor_dir else None,
                           "missing": [package for package, version in versions.items() if not version]})
    web = WebApp(settings, _load_territory(settings.territory_file), _labels(app_dir), versions, templates)
    for package, files in VENDOR_FILES.items():
        present = settings.vendor_dir is not None and all((settings.vendor_dir / package / name).is_file()
                                                          for name in files)
        web.file_versions[package] = (_package_version(settings.vendor_dir, package) or "0") if present else None
        if not present:
            log.warning("front-end library missing (run `npm ci --prefix web`, or set WEB_VENDOR_DIR)",
                        extra={"package": package})
    body = {"tile_url": settings.tile_url, "tile_attribution": settings.tile_attribution,
            "territory": web.territory, "map_library": web.map_library, "labels": web.labels}
    web.config_body = json.dumps(body, ensure_ascii=False).encode("utf-8")
    web.rome_body = _load_rome(settings.rome_file)
    return web


def _asset_version(app_dir: Path | None) -> str:
    """A short digest of the app's static files (names, sizes, times), for the pages' links."""
    if app_dir is None or not (app_dir / "static").is_dir():
        return "0"
    digest = hashlib.sha256()
    for path in sorted((app_dir / "static").rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.relative_to(app_dir)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:12]


def install(app: Flask, settings: WebSettings, tile_origins: str, fallback_page) -> WebApp:
    """Register the pages, /app-config.json and the static routes on `app`. `fallback_page(title,
    message)` renders the French page shown when the app's templates are missing."""
    web = build(settings)
    if not _tile_origin_allowed(settings.tile_url, tile_origins):
        log.warning("the map tiles' origin is not in GATEWAY_TILE_ORIGINS: browsers will not load them",
                    extra={"tile_url": settings.tile_url})
    asset_version = _asset_version(settings.app_dir)
    app.extensions.setdefault("vitawin_gateway", {})["web"] = web

    def render(path: str) -> Response:
        template, nav, title, with_map = PAGES[path]
        if web.templates is None:
            response = Response(fallback_page(title, MSG_NO_APP), status=503,
                                content_type="text/html; charset=utf-8")
            response.headers["Cache-Control"] = REVALIDATE
            return response
        territory = web.territory or {}
        html = web.templates.get_template(template).render(
            site_name=SITE_NAME, title=title, nav=nav, territory_name=territory.get("name"),
            towns=sorted(territory.get("towns", []), key=lambda town: _alphabetical(town["name"])),
            labels=web.labels, map_library=web.map_library,
            vendor=web.vendor_urls() if with_map and web.map_library else NO_VENDOR,
            asset=lambda name: f"/static/app/{name}?v={asset_version}")
        response = Response(html, content_type="text/html; charset=utf-8")
        response.headers["Cache-Control"] = REVALIDATE
        response.add_etag()
        return response.make_conditional(request)

    for path in PAGES:
        app.add_url_rule(path, endpoint=f"page:{path}", view_func=lambda path=path: render(path),
                         methods=["GET"])

    @app.get("/app-config.json")
    def app_config():
        if web.territory is None:
            return error_response(503, MSG_NO_TERRITORY)
        response = Response(web.config_body, content_type="application/json; charset=utf-8")
        response.headers["Cache-Control"] = REVALIDATE
        response.add_etag()
        return response.make_conditional(request)

    @app.get("/app-rome.json")
    def app_rome():
        if web.rome_body is None:
            return error_response(503, MSG_NO_ROME)
        response = Response(web.rome_body, content_type="application/json; charset=utf-8")
        response.headers["Cache-Control"] = REVALIDATE
        response.add_etag()
        return response.make_conditional(request)

    @app.get("/static/app/<path:rest>")
    def app_static(rest: str):
        path = app_file(settings.app_dir, rest)
        if path is None:
            abort(404)
        return _send(path, REVALIDATE)

    @app.get("/static/vendor/<path:rest>")
    def vendor_static(rest: str):
        path = vendor_file(settings.vendor_dir, rest)
        if path is None:
            abort(404)
        package = rest.split("/", 1)[0]
        wanted = request.args.get("v")
        immutable = wanted is not None and wanted == (web.vendor_versions.get(package)
                                                      or web.file_versions.get(package))
        return _send(path, VENDOR_IMMUTABLE if immutable else f"public, max-age={VENDOR_MAX_AGE}")

    return web
