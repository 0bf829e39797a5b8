"""The HTML pages the gateway writes itself, in French, with no script, no inline style and nothing
fetched from outside: the API's documentation (/api/v1/docs) and the page shown when the web app
(vitawin_gateway.webapp) is not installed."""
from __future__ import annotations

from html import escape

HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
METHOD_FR = {"get": "lire", "post": "créer", "put": "remplacer", "patch": "modifier",
             "delete": "supprimer", "head": "en-têtes", "options": "options"}

# The CSS is a file the gateway serves (no inline <style>: the pages' Content-Security-Policy
# allows styles from the gateway itself only).
STYLESHEET = "/static/gateway.css"


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="fr">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        f'<link rel="stylesheet" href="{STYLESHEET}">\n</head>\n'
        f"<body>\n{body}\n</body>\n</html>\n"
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


def docs(document: dict) -> str:
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
    missing = document.get("x-missing-services") or []
    note = ""
    if missing:
        note = (f'<p class="note" role="status">Services momentanément indisponibles, dont les '
                f'opérations ne figurent pas ci-dessous : {escape(", ".join(map(str, missing)))}.</p>')
    if rows:
        table = ('<table>\n<caption>Opérations de l\'API</caption>\n<thead><tr><th scope="col">Méthode</th>'
                 '<th scope="col">Chemin</th><th scope="col">Thème</th><th scope="col">Résumé</th></tr>'
                 '</thead>\n<tbody>\n' + "\n".join(rows) + "\n</tbody>\n</table>")
    else:
        table = "<p>Aucune opération disponible pour le moment.</p>"
    title = (document.get("info") or {}).get("title") or "API Vitawin"
    return _page(f"Documentation — {title}", f"""<header>
<h1>Documentation de l'{escape(title)}</h1>
<p><a href="/">Accueil</a> · <a href="/api/v1/openapi.json" type="application/json">Description OpenAPI (JSON)</a></p>
</header>
<main>
{note}
{table}
</main>""")
