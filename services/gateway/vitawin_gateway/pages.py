"""The HTML pages the gateway writes itself, in French, with no inline script or style and nothing
fetched from outside: the API's documentation (/api/v1/docs, interactive: Swagger UI), its plain
list of operations that needs no JavaScript (/api/v1/docs/liste), and the page shown when the web
app (vitawin_gateway.webapp) is not installed.

/api/v1/docs loads Swagger UI (swagger-ui-dist, vendored from npm by vitawin_gateway.webapp) and
our initializer /static/api-docs.js, both files of the gateway: the strict Content-Security-Policy
of vitawin_gateway.security applies unchanged. When swagger-ui-dist is not installed, it shows the
plain list with a French note."""
from __future__ import annotations

from html import escape

from vitawin_gateway.openapi import BEARER_SCHEME

HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
METHOD_FR = {"get": "lire", "post": "créer", "put": "remplacer", "patch": "modifier",
             "delete": "supprimer", "head": "en-têtes", "options": "options"}

# The CSS is a file the gateway serves (no inline <style>: the pages' Content-Security-Policy
# allows styles from the gateway itself only).
STYLESHEET = "/static/gateway.css"
DOCS_STYLESHEET = "/static/api-docs.css"
DOCS_SCRIPT = "/static/api-docs.js"  # an ES module: starts Swagger UI
OPENAPI_URL = "/api/v1/openapi.json"
LIST_URL = "/api/v1/docs/liste"
SIGN_IN_URL = "/connexion"


def _page(title: str, body: str, head: str = "", body_class: str = "") -> str:
    """`head`: more (trusted) markup for <head>, after the gateway's style sheet."""
    body_tag = f'<body class="{escape(body_class)}">' if body_class else "<body>"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="fr">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        f'<link rel="stylesheet" href="{STYLESHEET}">\n{head}</head>\n'
        f"{body_tag}\n{body}\n</body>\n</html>\n"
    )


def unavailable(title: str, message: str) -> str:
    """The page shown instead of the web app's pages when their templates are missing."""
    return _page(f"{title} — Vitawin", f"""<a class="skip-link" href="#contenu">Aller au contenu</a>
<header>
<p><strong>Vitawin</strong></p>
</header>
<main id="contenu" tabindex="-1">
<h1>{escape(title, quote=False)} : page indisponible</h1>
<p>{escape(message, quote=False)}</p>
<p><a href="/api/v1/docs">Documentation de l'API</a></p>
</main>""")


def _missing_note(document: dict) -> str:
    missing = document.get("x-missing-services") or []
    if not missing:
        return ""
    return ("Services momentanément indisponibles, dont les opérations ne figurent pas ci-dessous : "
            f"{', '.join(map(str, missing))}.")


def _title(document: dict) -> str:
    return (document.get("info") or {}).get("title") or "API Vitawin"


def operations_table(document: dict) -> str:
    """The operations of `document` as an HTML table (or a sentence when there is none)."""
    rows = []
    for path, item in (document.get("paths") or {}).items():
        for method in HTTP_METHODS:
            operation = (item or {}).get(method)
            if not isinstance(operation, dict):
                continue
            summary = operation.get("summary") or operation.get("description") or ""
            tags = ", ".join(str(t) for t in operation.get("tags") or [])
            rows.append(
                f"<tr><td><code>{escape(method.upper())}</code> "
                f"<span class=\"fr\">({escape(METHOD_FR[method])})</span></td>"
                f"<td><code>{escape(path)}</code></td><td>{escape(tags)}</td>"
                f"<td>{escape(str(summary))}</td></tr>"
            )
    if not rows:
        return "<p>Aucune opération disponible pour le moment.</p>"
    return ('<table>\n<caption>Opérations de l\'API</caption>\n<thead><tr><th scope="col">Méthode</th>'
            '<th scope="col">Chemin</th><th scope="col">Thème</th><th scope="col">Résumé</th></tr>'
            '</thead>\n<tbody>\n' + "\n".join(rows) + "\n</tbody>\n</table>")


def operations_list(document: dict, notice: str = "") -> str:
    """The plain list of the API's operations (/api/v1/docs/liste): no script at all."""
    title = _title(document)
    note = _missing_note(document)
    notes = "".join(f'<p class="note" role="status">{escape(text, quote=False)}</p>\n'
                    for text in (notice, note) if text)
    return _page(f"Liste des opérations — {title}", f"""<a class="skip-link" href="#contenu">Aller au contenu</a>
<header>
<p><a href="/">Vitawin</a></p>
</header>
<main id="contenu" tabindex="-1">
<h1>Liste des opérations de l'{escape(title)}</h1>
<p><a href="/api/v1/docs">Documentation interactive</a> · <a href="{OPENAPI_URL}" type="application/json">Description OpenAPI (JSON)</a></p>
{notes}{operations_table(document)}
</main>""")


MSG_NO_SWAGGER_UI = ("La documentation interactive n'est pas installée sur ce serveur (bibliothèque "
                     "swagger-ui-dist manquante) : voici la liste des opérations.")


def docs(document: dict, swagger_ui: dict | None = None) -> str:
    """The interactive documentation (/api/v1/docs). `swagger_ui`: the URLs of Swagger UI's
    "script" and "style" (vitawin_gateway.webapp.WebApp.swagger_ui); None shows the plain list."""
    if swagger_ui is None:
        return operations_list(document, MSG_NO_SWAGGER_UI)
    title = _title(document)
    description = (document.get("info") or {}).get("description") or ""
    note = _missing_note(document)
    head = (f'<link rel="stylesheet" href="{escape(swagger_ui["style"])}">\n'
            f'<link rel="stylesheet" href="{DOCS_STYLESHEET}">\n'
            f'<script defer src="{escape(swagger_ui["script"])}"></script>\n'
            f'<script type="module" src="{DOCS_SCRIPT}"></script>\n')
    example = '{"grant_type": "client_credentials", "client_id": "…", "client_secret": "…"}'
    return _page(f"Documentation — {title}", f"""<a class="skip-link" href="#contenu">Aller au contenu</a>
<header class="docs-header">
<p><a href="/">Vitawin</a></p>
</header>
<main id="contenu" tabindex="-1">
<div class="docs-intro">
<h1>Documentation de l'{escape(title)}</h1>
<p>{escape(description, quote=False)}</p>
<p>Cette page présente toutes ses opérations et permet de les essayer : les requêtes passent par la
passerelle, comme celles de vos applications.</p>
<h2>Essayer avec un jeton d'accès</h2>
<p>Les opérations publiques répondent sans jeton. Les autres demandent un jeton d'accès, valable
15 minutes, envoyé dans l'en-tête <code>Authorization: Bearer &lt;jeton&gt;</code>.</p>
<ol>
<li><strong>Obtenez un jeton</strong> : <a href="{SIGN_IN_URL}">connectez-vous</a> avec le lien de
connexion reçu par e-mail, puis revenez sur cette page dans le même onglet et choisissez « Utiliser
ma session » ; ou, pour une application partenaire, échangez votre clé d'API contre un jeton avec
l'opération <code>POST /api/v1/auth/token</code> et le corps
<code>{escape(example, quote=False)}</code> : le jeton est le champ <code>access_token</code> de la
réponse.</li>
<li><strong>Autorisez cette page</strong> : bouton « Authorize » (autoriser), collez le jeton dans le
champ « Value » (sans « Bearer »), validez par « Authorize », puis fermez par « Close ».</li>
<li><strong>Essayez une opération</strong> : dépliez-la, choisissez « Try it out » (essayer),
remplissez ses paramètres, puis « Execute » (exécuter). Le jeton ne reste que dans cette page.</li>
</ol>
<p id="doc-session" hidden><button type="button" id="doc-utiliser-session" class="docs-button">Utiliser ma session</button>
<span id="doc-session-etat"></span></p>
<p id="doc-etat" class="note" role="status"{"" if note else " hidden"}>{escape(note, quote=False)}</p>
<noscript><p class="note">JavaScript est désactivé dans votre navigateur : la documentation
interactive ne peut pas s'afficher. Consultez la <a href="{LIST_URL}">liste des opérations</a>.</p></noscript>
<p>Autres formats : <a href="{LIST_URL}">liste des opérations (sans JavaScript)</a> ·
<a href="{OPENAPI_URL}" type="application/json">description OpenAPI (JSON)</a>.</p>
</div>
<h2>Opérations</h2>
<div id="swagger-ui" data-openapi-url="{OPENAPI_URL}" data-scheme="{escape(BEARER_SCHEME)}">
<p class="docs-loading">Chargement de la documentation interactive…</p>
</div>
</main>""", head=head, body_class="api-docs")
