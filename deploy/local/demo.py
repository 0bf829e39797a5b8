"""A small demo data set of Paris Est Marne et Bois, loaded through the gateway like any client.
Organisations and people are invented; addresses use the reserved `.test` domain."""
from __future__ import annotations

import json
from urllib.request import Request, urlopen

VOLUNTEERS = [
    ("Boulangerie des Vignerons", "94080", 48.8478, 2.4385, ["testimony", "internship"]),
    ("Garage Marne Auto", "94017", 48.8160, 2.5120, ["internship", "apprenticeship"]),
    ("Mairie de Fontenay-sous-Bois, service jeunesse", "94033", 48.8515, 2.4760, ["intervention", "job_fair"]),
    ("Cabinet d'architectes Rive Est", "94052", 48.8365, 2.4830, ["testimony", "mentoring"]),
    ("Association Jeunesse et Entreprises du Val-de-Marne", "94068", 48.8000, 2.4990, ["intervention", "mentoring"]),
    ("Pharmacie du Bois", "94067", 48.8425, 2.4190, ["testimony", "internship"]),
    ("Menuiserie Alforte", "94046", 48.8060, 2.4380, ["internship", "apprenticeship"]),
    ("Studio graphique Le Perreux", "94058", 48.8420, 2.5030, ["testimony", "job_fair"]),
    ("Clinique vétérinaire de Joinville", "94042", 48.8212, 2.4735, ["testimony", "internship"]),
    ("Hôtel-restaurant des Bords de Marne", "94015", 48.8380, 2.5220, ["internship", "job_fair"]),
    ("Société de transports de l'Est parisien", "94079", 48.8270, 2.5440, ["intervention", "job_fair"]),
    ("Laboratoire d'analyses de Charenton", "94018", 48.8215, 2.4125, ["testimony", "mentoring"]),
    ("Maison de santé de Saint-Maurice", "94069", 48.8170, 2.4580, ["testimony", "intervention"]),
]

REQUESTS = [
    ("school", "testimony", "94080", 48.8470, 2.4400, "referent.college-vincennes@demo.vitawin.test"),
    ("school", "job_fair", "94033", 48.8505, 2.4780, "referent.lycee-fontenay@demo.vitawin.test"),
    ("pupil", "internship", "94017", 48.8175, 2.5150, "referent.college-champigny@demo.vitawin.test"),
    ("pupil", "internship", "94046", 48.8050, 2.4390, "referent.college-maisons-alfort@demo.vitawin.test"),
]


def _post(url: str, body: dict) -> dict:
    request = Request(url, data=json.dumps(body).encode(), method="POST",
                      headers={"Content-Type": "application/json"})
    with urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def load_demo(gateway_url: str) -> dict:
    for i, (name, town, lat, lon, actions) in enumerate(VOLUNTEERS):
        _post(f"{gateway_url}/api/v1/volunteers", {
            "organisation_name": name, "contact_email": f"contact{i + 1}@demo.vitawin.test",
            "town": town, "location": {"lat": lat, "lon": lon}, "action_types": actions,
            "max_distance_km": 8})
    for kind, action, town, lat, lon, email in REQUESTS:
        _post(f"{gateway_url}/api/v1/requests", {
            "requester_kind": kind, "contact_email": email, "action_type": action, "town": town,
            "location": {"lat": lat, "lon": lon}, "max_distance_km": 8})
    return {"volunteers": len(VOLUNTEERS), "requests": len(REQUESTS)}
