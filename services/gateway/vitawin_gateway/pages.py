"""The two HTML pages the gateway serves itself, in French, with no script, no inline style and
nothing fetched from outside (the real web front end comes later)."""
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


def home() -> str:
    return _page("Vitawin — passerelle de l'API", """<header>
<h1>Vitawin</h1>
</header>
<main>
<p>Vitawin met en relation des professionnels bénévoles avec les établissements scolaires et les
élèves qui cherchent un témoignage métier, une intervention en classe, un stage, une alternance,
un mentorat ou un forum des métiers près de chez eux.</p>
<p>Cette adresse est la porte d'entrée de l'API de Vitawin. Le site destiné au public arrive
bientôt ; en attendant, la documentation de l'API est consultable ici :</p>
<ul>
<li><a href="/api/v1/docs">Liste des opérations de l'API</a></li>
<li><a href="/api/v1/openapi.json" type="application/json">Description OpenAPI de l'API (JSON)</a></li>
</ul>
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
