"""A realistic demo territory, in the real open-data formats, generated then loaded into the
actors service's database by its own importers.

    python deploy/local/demo_territory.py --actors 60000 --out var/demo           # generate + load
    python deploy/local/demo_territory.py --actors 60000 --out var/demo --wait    # ... then wait for
                                                 # the actors relay and matching to digest it
    python deploy/local/demo_territory.py --actors 600 --out /tmp/demo --generate-only

What it writes in --out (with faker fr_FR, from a seed: the same options give the same files,
which are reused by the next run unless --regenerate):
- StockEtablissement_utf8_geo.csv: the INSEE StockEtablissement columns followed by the Etalab
  geolocation columns (longitude, latitude, geo_score...), `,` delimiter. The establishments are
  spread over the towns in proportion to their population, with valid SIRETs (Luhn), plausible
  NAF codes (craftsmen registered with the Répertoire des métiers among the trades), a position
  inside their town's boundary (ray casting in the territory file's polygons) given both in
  WGS 84 and Lambert-93; about 1% have no position (the importer puts them at the town's centre).
  On top of these: closed establishments and establishments with partial diffusion (passed over
  by the importer), and a few deliberately bad rows (bad SIRET, bad NAF, town outside the
  territory, a position far from its town, no name, an old nomenclature, a line with `;`, a
  repeated SIRET).
- annuaire_education.csv: the Education nationale "Annuaire de l'éducation" export columns, `;`
  delimiter: the collèges and lycées (--schools, 47 by default) with invented names and valid
  UAIs (094....), at least one collège per town, plus a few primary schools, a closed collège and
  a bad UAI (passed over or reported by the importer).
- engagements.jsonl: pledges (volunteers) of a share (--pledge-share, 30%) of the valid
  establishments, with action types and travel distances.
- manifest.json: the options and what the files hold.
`--actors` is the number of actors the load makes: the valid establishments plus the schools.

The load talks to MongoDB through the environment of the stack (MONGODB_URI, MONGODB_DATABASE,
by default vitawin_actors), as `python -m vitawin_actors.importers` does, and writes the import
reports (rapport_*.csv) into --out. `--wait` then waits until the actors worker has relayed the
whole outbox to Kafka and, when MATCHING_WORKER_PORT is set (deploy/local/stack.py sets it),
until matching has caught up on the volunteers topic; it prints each duration (`--wait-only`
does only that)."""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import re
import sys
import time
import unicodedata
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

from faker import Faker
from stdnum import luhn

ROOT = Path(__file__).resolve().parents[2]
TERRITORY_FILE = ROOT / "territories" / "paris-est-marne-et-bois.json"
GENERATOR_VERSION = 1
TOWN_RADIUS_KM = 5.0  # the actors service's rule: a position within 5 km of its town's centre

# --- the real column names ------------------------------------------------------------------------
SIRENE_COLUMNS = [
    "siren", "nic", "siret", "statutDiffusionEtablissement", "dateCreationEtablissement",
    "trancheEffectifsEtablissement", "anneeEffectifsEtablissement",
    "activitePrincipaleRegistreMetiersEtablissement", "dateDernierTraitementEtablissement",
    "etablissementSiege", "nombrePeriodesEtablissement", "complementAdresseEtablissement",
    "numeroVoieEtablissement", "indiceRepetitionEtablissement", "dernierNumeroVoieEtablissement",
    "indiceRepetitionDernierNumeroVoieEtablissement", "typeVoieEtablissement", "libelleVoieEtablissement",
    "codePostalEtablissement", "libelleCommuneEtablissement", "libelleCommuneEtrangerEtablissement",
    "distributionSpecialeEtablissement", "codeCommuneEtablissement", "codeCedexEtablissement",
    "libelleCedexEtablissement", "codePaysEtrangerEtablissement", "libellePaysEtrangerEtablissement",
    "identifiantAdresseEtablissement", "coordonneeLambertAbscisseEtablissement",
    "coordonneeLambertOrdonneeEtablissement", "complementAdresse2Etablissement", "numeroVoie2Etablissement",
    "indiceRepetition2Etablissement", "typeVoie2Etablissement", "libelleVoie2Etablissement",
    "codePostal2Etablissement", "libelleCommune2Etablissement", "libelleCommuneEtranger2Etablissement",
    "distributionSpeciale2Etablissement", "codeCommune2Etablissement", "codeCedex2Etablissement",
    "libelleCedex2Etablissement", "codePaysEtranger2Etablissement", "libellePaysEtranger2Etablissement",
    "dateDebut", "etatAdministratifEtablissement", "enseigne1Etablissement", "enseigne2Etablissement",
    "enseigne3Etablissement", "denominationUsuelleEtablissement", "activitePrincipaleEtablissement",
    "nomenclatureActivitePrincipaleEtablissement", "caractereEmployeurEtablissement",
    "activitePrincipaleNAF25Etablissement",
]
GEO_COLUMNS = ["longitude", "latitude", "geo_score", "geo_type", "geo_adresse", "geo_id", "geo_ligne",
               "geo_l4", "geo_l5"]
EDUCATION_COLUMNS = [
    "Identifiant_de_l_etablissement", "Nom_etablissement", "Type_etablissement", "Statut_public_prive",
    "Adresse_1", "Adresse_2", "Adresse_3", "Code_postal", "Code_commune", "Nom_commune", "Code_departement",
    "Code_academie", "Code_region", "Ecole_maternelle", "Ecole_elementaire", "Voie_generale",
    "Voie_technologique", "Voie_professionnelle", "Telephone", "Fax", "Web", "Mail", "Restauration",
    "Hebergement", "ULIS", "Apprentissage", "Segpa", "Section_arts", "Section_cinema", "Section_theatre",
    "Section_sport", "Section_internationale", "Section_europeenne", "Lycee_Agricole", "Lycee_militaire",
    "Lycee_des_metiers", "Post_BAC", "Appartenance_Education_Prioritaire", "GRETA", "SIREN_SIRET",
    "Nombre_d_eleves", "Fiche_onisep", "position", "Type_contrat_prive", "Libelle_departement",
    "Libelle_academie", "Libelle_region", "coordX_origine", "coordY_origine", "epsg_origine",
    "nom_circonscription", "latitude", "longitude", "precision_localisation", "date_ouverture",
    "date_maj_ligne", "etat", "ministere_tutelle", "multi_uai", "rpi_concentre", "rpi_disperse",
    "code_nature", "libelle_nature", "Code_type_contrat_prive", "PIAL", "etablissement_mere",
    "type_rattachement_etablissement_mere", "code_circonscription", "code_zone_animation_pedagogique",
    "libelle_zone_animation_pedagogique", "code_bassin_formation", "libelle_bassin_formation",
]
SIRENE_FILE = "StockEtablissement_utf8_geo.csv"
EDUCATION_FILE = "annuaire_education.csv"
PLEDGES_FILE = "engagements.jsonl"
MANIFEST = "manifest.json"

# NAF rév. 2 codes of an urban territory: (code, weight, trade name used for a shop sign or "",
# share of them registered with the Répertoire des métiers).
NAF_CODES = [
    ("68.20A", 5, "", 0), ("68.20B", 6, "", 0), ("70.22Z", 7, "", 0), ("62.01Z", 4, "", 0),
    ("62.02A", 3, "", 0), ("47.11B", 2, "Supérette", 0), ("47.71Z", 2, "Boutique", 0),
    ("47.73Z", 1, "Pharmacie", 0), ("47.24Z", 1, "Pâtisserie", 0.6), ("56.10A", 4, "Restaurant", 0),
    ("56.10C", 4, "Snack", 0), ("56.30Z", 1, "Café", 0), ("10.71C", 2, "Boulangerie", 0.9),
    ("43.21A", 3, "Électricité", 0.8), ("43.22A", 3, "Plomberie", 0.8), ("43.31Z", 1, "Plâtrerie", 0.8),
    ("43.32A", 1, "Menuiserie", 0.8), ("43.34Z", 2, "Peinture", 0.8), ("43.99C", 2, "Maçonnerie", 0.8),
    ("41.20A", 1, "", 0), ("45.20A", 2, "Garage", 0.7), ("96.02A", 3, "Salon de coiffure", 0.9),
    ("96.02B", 2, "Institut de beauté", 0.8), ("49.32Z", 4, "", 0), ("49.41A", 1, "Transports", 0),
    ("53.20Z", 3, "", 0), ("69.10Z", 2, "Cabinet", 0), ("69.20Z", 1, "Cabinet comptable", 0),
    ("86.21Z", 2, "Cabinet médical", 0), ("86.23Z", 1, "Cabinet dentaire", 0), ("86.90E", 1, "Kinésithérapie", 0),
    ("75.00Z", 0.3, "Clinique vétérinaire", 0), ("85.59A", 1, "", 0), ("85.59B", 2, "", 0),
    ("71.11Z", 1, "Atelier d'architecture", 0), ("71.12B", 1, "", 0), ("73.11Z", 1, "", 0),
    ("74.10Z", 1, "Studio", 0), ("74.90B", 1, "", 0), ("81.21Z", 1, "", 0), ("81.30Z", 0.5, "", 0),
    ("88.10A", 1, "", 0), ("90.01Z", 1, "Compagnie", 0), ("93.13Z", 0.5, "Salle de sport", 0),
    ("46.90Z", 1, "", 0), ("55.10Z", 0.3, "Hôtel", 0), ("64.20Z", 2, "", 0), ("66.22Z", 0.5, "", 0),
    ("82.99Z", 1, "", 0), ("95.11Z", 0.3, "", 0.5), ("25.62B", 0.3, "Atelier", 0.7),
]
STREET_TYPES = [("RUE", 55), ("AV", 22), ("BD", 6), ("PL", 3), ("ALL", 4), ("IMP", 3), ("QUAI", 1),
                ("CHE", 2), ("SQ", 1), ("VLA", 2), ("PAS", 1)]
HEADCOUNT = [("NN", 55), ("00", 15), ("01", 10), ("02", 7), ("03", 5), ("11", 3), ("12", 2), ("21", 1.5),
             ("22", 0.8), ("31", 0.4), ("32", 0.2), ("41", 0.1)]
ACTIONS = [("internship", 35), ("testimony", 25), ("apprenticeship", 15), ("job_fair", 10),
           ("intervention", 8), ("mentoring", 7)]
DISTANCES = [(3, 10), (5, 30), (8, 25), (10, 25), (15, 10)]
UAI_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"  # the UAI check letter: digits mod 23 (no I, O, Q)
SCHOOL_NAMESAKES = ["Jean Moulin", "Victor Hugo", "Jules Ferry", "Louise Michel", "Marie Curie", "Jean Jaurès",
                    "Paul Éluard", "Simone Veil", "Albert Camus", "Condorcet", "Lucie Aubrac", "Pablo Picasso",
                    "Françoise Dolto", "George Sand", "Jacques Prévert", "Rosa Parks", "Olympe de Gouges",
                    "Gustave Eiffel", "Champollion", "Marcel Pagnol", "Germaine Tillion", "Émile Zola"]


# --- geometry ---------------------------------------------------------------------------------------

def load_territory(path: Path = TERRITORY_FILE) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def polygons(boundary: dict) -> list[list[list[list[float]]]]:
    """The polygons (lists of rings of [lon, lat]) of a GeoJSON Polygon or MultiPolygon."""
    if boundary["type"] == "Polygon":
        return [boundary["coordinates"]]
    if boundary["type"] == "MultiPolygon":
        return boundary["coordinates"]
    raise ValueError(f"unsupported boundary type {boundary['type']}")


def in_ring(lon: float, lat: float, ring: list[list[float]]) -> bool:
    """Ray casting: does a ray from the point towards +longitude cross the ring an odd number of times?"""
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i][0], ring[i][1]
        xj, yj = ring[j][0], ring[j][1]
        if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def in_boundary(lat: float, lon: float, boundary: dict) -> bool:
    """Inside the outer ring of one of the polygons and in none of its holes."""
    return any(in_ring(lon, lat, rings[0]) and not any(in_ring(lon, lat, hole) for hole in rings[1:])
               for rings in polygons(boundary))


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


def random_point(town: dict, rng: random.Random) -> tuple[float, float]:
    """A (lat, lon) inside the town's boundary (and so near its centre), to 1e-6 degree."""
    rings = [ring for polygon in polygons(town["boundary"]) for ring in polygon]
    lons = [p[0] for ring in rings for p in ring]
    lats = [p[1] for ring in rings for p in ring]
    centre = town["centre"]
    for _ in range(10_000):
        lat = round(rng.uniform(min(lats), max(lats)), 6)
        lon = round(rng.uniform(min(lons), max(lons)), 6)
        if (in_boundary(lat, lon, town["boundary"])
                and distance_km(lat, lon, centre["lat"], centre["lon"]) <= TOWN_RADIUS_KM):
            return lat, lon
    raise RuntimeError(f"no point found inside {town['name']}")


def shares(towns: list[dict], total: int, minimum: int = 0) -> dict[str, int]:
    """`total` split over the towns in proportion to their population (largest remainders),
    each getting at least `minimum`."""
    base = {t["insee"]: minimum for t in towns}
    rest = total - minimum * len(towns)
    if rest < 0:
        raise ValueError(f"{total} is fewer than {minimum} for each of {len(towns)} towns")
    population = sum(t["population"] for t in towns)
    exact = {t["insee"]: rest * t["population"] / population for t in towns}
    counts = {code: base[code] + math.floor(value) for code, value in exact.items()}
    left = total - sum(counts.values())
    for code in sorted(exact, key=lambda c: exact[c] - math.floor(exact[c]), reverse=True)[:left]:
        counts[code] += 1
    return counts


def to_lambert93(lat: float, lon: float) -> tuple[float, float]:
    """Lambert-93 metres (the SIRENE stock's coordinates): the importer's own conversion."""
    from vitawin_actors.importers.lambert93 import to_lambert93 as convert
    return convert(lat, lon)


# --- identifiers -----------------------------------------------------------------------------------

def new_siret(rng: random.Random, used: set[str]) -> str:
    """A SIREN whose Luhn checksum holds, and a NIC that makes the 14 digits hold it too."""
    while True:
        body = str(rng.randint(3, 9)) + "".join(rng.choice("0123456789") for _ in range(7))
        siren = body + luhn.calc_check_digit(body)
        nic = "0" + "".join(rng.choice("0123456789") for _ in range(3))
        siret = siren + nic + luhn.calc_check_digit(siren + nic)
        if siret not in used and not siret.startswith("356000000"):
            used.add(siret)
            return siret


def uai_letter(digits: str) -> str:
    return UAI_LETTERS[int(digits) % 23]


def new_uai(rng: random.Random, used: set[str]) -> str:
    while True:
        digits = "094" + "".join(rng.choice("0123456789") for _ in range(4))
        uai = digits + uai_letter(digits)
        if uai not in used:
            used.add(uai)
            return uai


def plain_upper(text: str) -> str:
    """SIRENE writes street names in capitals without accents."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().upper()


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", plain_upper(text).lower()).strip("-")[:30] or "contact"


def weighted(rng: random.Random, pairs):
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


# --- generation ------------------------------------------------------------------------------------

class Generator:
    def __init__(self, territory: dict, seed: int):
        self.territory = territory
        self.towns = {t["insee"]: t for t in territory["towns"]}
        self.rng = random.Random(seed)
        self.fake = Faker("fr_FR")
        self.fake.seed_instance(seed)
        self.sirets: set[str] = set()
        self.uais: set[str] = set()
        self.naf_weights = [n[1] for n in NAF_CODES]

    def establishment(self, town_code: str, *, with_position: bool = True) -> dict:
        rng, fake, town = self.rng, self.fake, self.towns[town_code]
        code, _, trade, craft_share = rng.choices(NAF_CODES, weights=self.naf_weights)[0]
        siret = new_siret(rng, self.sirets)
        surname = fake.last_name()
        if trade and rng.random() < 0.7:
            name = f"{trade} {surname}"
        else:
            name = fake.company()
        street_kind = weighted(rng, STREET_TYPES)
        street_name = plain_upper(rng.choice([fake.last_name(), fake.name(), f"de la {fake.last_name()}",
                                              f"du General {fake.last_name()}"]))
        created = fake.date_between(start_date="-40y", end_date="-30d").isoformat()
        row = dict.fromkeys(SIRENE_COLUMNS + GEO_COLUMNS, "")
        row.update({
            "siren": siret[:9], "nic": siret[9:], "siret": siret, "statutDiffusionEtablissement": "O",
            "dateCreationEtablissement": created, "trancheEffectifsEtablissement": weighted(rng, HEADCOUNT),
            "activitePrincipaleRegistreMetiersEtablissement":
                f"{code.replace('.', '')}{rng.choice('ABCD')}" if rng.random() < craft_share else "",
            "dateDernierTraitementEtablissement": "2025-06-01T03:12:45",
            "etablissementSiege": rng.choice(["true", "true", "false"]),
            "nombrePeriodesEtablissement": str(rng.randint(1, 4)),
            "numeroVoieEtablissement": str(rng.randint(1, 180)),
            "indiceRepetitionEtablissement": "B" if rng.random() < 0.03 else "",
            "typeVoieEtablissement": street_kind, "libelleVoieEtablissement": street_name,
            "codePostalEtablissement": rng.choice(town["postcodes"]),
            "libelleCommuneEtablissement": plain_upper(town["name"]),
            "codeCommuneEtablissement": town_code, "dateDebut": created, "etatAdministratifEtablissement": "A",
            "activitePrincipaleEtablissement": code, "nomenclatureActivitePrincipaleEtablissement": "NAFRev2",
            "caractereEmployeurEtablissement": rng.choice(["O", "N", "N"]),
        })
        row["denominationUsuelleEtablissement" if rng.random() < 0.6 else "enseigne1Etablissement"] = name
        if with_position:
            lat, lon = random_point(town, rng)
            x, y = to_lambert93(lat, lon)
            row.update({"latitude": f"{lat:.6f}", "longitude": f"{lon:.6f}",
                        "coordonneeLambertAbscisseEtablissement": f"{x:.1f}",
                        "coordonneeLambertOrdonneeEtablissement": f"{y:.1f}",
                        "geo_score": f"{rng.uniform(0.6, 0.99):.2f}", "geo_type": "housenumber",
                        "geo_adresse": f"{row['numeroVoieEtablissement']} {street_name.title()} "
                                       f"{row['codePostalEtablissement']} {town['name']}",
                        "geo_ligne": "G"})
        return row

    def sirene(self, count: int, closed: int, partial: int) -> tuple[list[dict], list[dict], dict]:
        """The valid active establishments (by town, per population), the extra rows (closed,
        partial diffusion, bad), and what the extra rows are."""
        counts = shares(self.territory["towns"], count)
        rows = []
        for town_code, n in counts.items():
            for _ in range(n):
                rows.append(self.establishment(town_code, with_position=self.rng.random() >= 0.01))
        self.rng.shuffle(rows)
        codes = list(self.towns)
        extra = []
        for _ in range(closed):
            row = self.establishment(self.rng.choice(codes))
            row["etatAdministratifEtablissement"] = "F"
            extra.append(row)
        for _ in range(partial):
            row = self.establishment(self.rng.choice(codes), with_position=False)
            row["statutDiffusionEtablissement"] = "P"
            for column in ("numeroVoieEtablissement", "typeVoieEtablissement", "libelleVoieEtablissement"):
                row[column] = "[ND]"
            extra.append(row)
        bad = self.bad_sirene_rows(rows)
        return rows, extra + [row for row, _ in bad], {"bad": [why for _, why in bad],
                                                       "closed": closed, "partial_diffusion": partial}

    def bad_sirene_rows(self, good: list[dict]) -> list[tuple[dict | str, str]]:
        rng, codes = self.rng, list(self.towns)

        def base():
            return self.establishment(rng.choice(codes))

        wrong_checksum = base()
        wrong_checksum["siret"] = wrong_checksum["siret"][:13] + str((int(wrong_checksum["siret"][13]) + 1) % 10)
        wrong_checksum["nic"] = wrong_checksum["siret"][9:]
        naf = base()
        naf["activitePrincipaleEtablissement"] = "5610"
        paris = base()
        paris.update(codeCommuneEtablissement="75056", codePostalEtablissement="75011",
                     libelleCommuneEtablissement="PARIS", latitude="48.857000", longitude="2.380000")
        far = base()
        far.update(latitude="48.900000", longitude="2.300000")  # in Paris, far from any town of the territory
        nameless = base()
        nameless["denominationUsuelleEtablissement"] = nameless["enseigne1Etablissement"] = ""
        old = base()
        old.update(activitePrincipaleEtablissement="52.4C", nomenclatureActivitePrincipaleEtablissement="NAFRev1")
        semicolons = ";".join(base()[c] for c in SIRENE_COLUMNS + GEO_COLUMNS)  # a line from another file
        repeated = dict(good[0]) if good else base()
        return [(wrong_checksum, "SIRET à la clé fausse"), (naf, "code NAF mal formé"),
                (paris, "commune hors du territoire"), (far, "position loin de sa commune"),
                (nameless, "sans nom"), (old, "nomenclature NAFRev1"),
                (semicolons, "ligne séparée par des « ; »"), (repeated, "SIRET répété")]

    def schools(self, count: int) -> tuple[list[dict], list[dict]]:
        """`count` collèges and lycées (two thirds collèges, at least one per town), and extra rows:
        primary schools, a closed collège, a bad UAI."""
        towns = self.territory["towns"]
        colleges = shares(towns, round(count * 2 / 3), minimum=1)
        lycees = shares(towns, count - sum(colleges.values()))
        rows, names = [], set()
        for town_code in self.towns:
            for _ in range(colleges[town_code]):
                rows.append(self.school(town_code, "Collège", names))
            for i in range(lycees[town_code]):
                rows.append(self.school(town_code, "Lycée", names, vocational=(i % 3 == 2)))
        extra = [self.school(self.rng.choice(list(self.towns)), "Ecole", names) for _ in range(3)]
        closed = self.school(self.rng.choice(list(self.towns)), "Collège", names)
        closed["etat"] = "FERME"
        bad = self.school(self.rng.choice(list(self.towns)), "Collège", names)
        bad["Identifiant_de_l_etablissement"] = bad["Identifiant_de_l_etablissement"][:7] + (
            "A" if bad["Identifiant_de_l_etablissement"][7] != "A" else "B")
        return rows, extra + [closed, bad]

    def school(self, town_code: str, kind: str, names: set[str], vocational: bool = False) -> dict:
        rng, fake, town = self.rng, self.fake, self.towns[town_code]
        uai = new_uai(rng, self.uais)
        while True:
            namesake = rng.choice(SCHOOL_NAMESAKES) if rng.random() < 0.5 else fake.name()
            label = {"Collège": "Collège", "Lycée": "Lycée professionnel" if vocational else "Lycée",
                     "Ecole": "Ecole élémentaire"}[kind]
            name = f"{label} {namesake}"
            if name not in names:
                names.add(name)
                break
        lat, lon = random_point(town, rng)
        x, y = to_lambert93(lat, lon)
        general = kind == "Lycée" and not vocational
        nature = {"Collège": ("340", "COLLEGE"), "Ecole": ("151", "ECOLE DE NIVEAU ELEMENTAIRE")}.get(kind) or (
            ("320", "LYCEE PROFESSIONNEL") if vocational else
            rng.choice([("300", "LYCEE D ENSEIGNEMENT GENERAL ET TECHNOLOGIQUE"), ("306", "LYCEE POLYVALENT")]))
        row = dict.fromkeys(EDUCATION_COLUMNS, "")
        row.update({
            "Identifiant_de_l_etablissement": uai, "Nom_etablissement": name, "Type_etablissement": kind,
            "Statut_public_prive": "Public" if rng.random() < 0.85 else "Privé",
            "Adresse_1": f"{rng.randint(1, 120)} {rng.choice(['rue', 'avenue', 'boulevard'])} {fake.name()}",
            "Code_postal": rng.choice(town["postcodes"]), "Code_commune": town_code,
            "Nom_commune": town["name"], "Code_departement": "094", "Code_academie": "24", "Code_region": "11",
            "Ecole_maternelle": "0", "Ecole_elementaire": "1" if kind == "Ecole" else "0",
            "Voie_generale": "1" if general else ("0" if kind == "Lycée" else ""),
            "Voie_technologique": ("1" if general and nature[0] != "302" else "0") if kind == "Lycée" else "",
            "Voie_professionnelle": ("1" if vocational or nature[0] == "306" else "0") if kind == "Lycée" else "",
            "Telephone": f"01 4{rng.randint(0, 9)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}",
            "Mail": f"ce.{uai.lower()}@demo.vitawin.test",
            "Restauration": "1", "Hebergement": "0", "Nombre_d_eleves": str(rng.randint(300, 1400)),
            "position": f"{lat}, {lon}", "Libelle_departement": "Val-de-Marne", "Libelle_academie": "Créteil",
            "Libelle_region": "Ile-de-France", "coordX_origine": f"{x:.1f}", "coordY_origine": f"{y:.1f}",
            "epsg_origine": "EPSG:2154", "latitude": f"{lat:.6f}", "longitude": f"{lon:.6f}",
            "precision_localisation": "Numéro de rue", "date_ouverture": "1975-09-01",
            "date_maj_ligne": "2025-06-01", "etat": "OUVERT",
            "ministere_tutelle": "MINISTERE DE L'EDUCATION NATIONALE", "code_nature": nature[0],
            "libelle_nature": nature[1],
        })
        return row

    def pledges(self, establishments: list[dict], share: float) -> list[dict]:
        rng = self.rng
        chosen = rng.sample(establishments, round(len(establishments) * share))
        result = []
        for row in chosen:
            name = row["denominationUsuelleEtablissement"] or row["enseigne1Etablissement"]
            town = self.towns[row["codeCommuneEtablissement"]]
            if row["latitude"]:
                location = {"lat": float(row["latitude"]), "lon": float(row["longitude"])}
            else:
                location = dict(town["centre"])
            actions = []
            for _ in range(rng.choice([1, 1, 2, 2, 2, 3])):
                action = weighted(rng, ACTIONS)
                if action not in actions:
                    actions.append(action)
            result.append({"siret": row["siret"], "organisation_name": name,
                           "contact_email": f"{slug(name)}.{row['siret'][-5:]}@demo.vitawin.test",
                           "town": town["insee"], "location": location, "action_types": actions,
                           "max_distance_km": weighted(rng, DISTANCES)})
        return result


def generate(out: Path, actors: int, *, schools: int = 47, seed: int = 2027, pledge_share: float = 0.3,
             territory_file: Path = TERRITORY_FILE) -> dict:
    """Write the three files and the manifest into `out`; return the manifest."""
    if actors < schools:
        raise ValueError(f"--actors ({actors}) must be at least the number of schools ({schools})")
    out.mkdir(parents=True, exist_ok=True)
    territory = load_territory(territory_file)
    generator = Generator(territory, seed)
    establishments = actors - schools
    good, extra, what = generator.sirene(establishments, closed=max(1, establishments * 6 // 100),
                                         partial=max(1, establishments // 200))
    rows = good + extra
    generator.rng.shuffle(rows)
    with open(out / SIRENE_FILE, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=SIRENE_COLUMNS + GEO_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            if isinstance(row, str):
                f.write(row + "\n")
            else:
                writer.writerow(row)
    school_rows, school_extra = generator.schools(schools)
    all_schools = school_rows + school_extra
    generator.rng.shuffle(all_schools)
    with open(out / EDUCATION_FILE, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=EDUCATION_COLUMNS, delimiter=";", lineterminator="\n")
        writer.writeheader()
        writer.writerows(all_schools)
    pledge_rows = generator.pledges(good, pledge_share)
    with open(out / PLEDGES_FILE, "w", encoding="utf-8") as f:
        for pledge in pledge_rows:
            f.write(json.dumps(pledge, ensure_ascii=False) + "\n")
    manifest = {
        "generator_version": GENERATOR_VERSION, "actors": actors, "schools": schools, "seed": seed,
        "pledge_share": pledge_share, "territory": territory["name"],
        "files": {"sirene": SIRENE_FILE, "education": EDUCATION_FILE, "pledges": PLEDGES_FILE},
        "sirene": {"valid_active": len(good), "closed": what["closed"],
                   "partial_diffusion": what["partial_diffusion"], "bad": what["bad"],
                   "by_town": shares(territory["towns"], establishments)},
        "education": {"collèges_lycées": len(school_rows), "other_rows": len(school_extra)},
        "pledges": len(pledge_rows),
    }
    (out / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return manifest


def existing(out: Path, actors: int, schools: int, seed: int, pledge_share: float) -> dict | None:
    """The manifest of files already generated with these options, if all are there."""
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    same = (manifest.get("generator_version") == GENERATOR_VERSION and manifest.get("actors") == actors
            and manifest.get("schools") == schools and manifest.get("seed") == seed
            and manifest.get("pledge_share") == pledge_share)
    files = all((out / name).is_file() for name in manifest.get("files", {}).values())
    return manifest if same and files else None


# --- load --------------------------------------------------------------------------------------------

def load(out: Path, manifest: dict, *, show_progress: bool = True) -> dict:
    """Run the importers on the three files (actors' database from the environment). Returns
    {kind: (report, seconds)}."""
    from vitawin_actors.importers.cli import run

    results = {}
    for kind in ("sirene", "education", "pledges"):
        started = time.monotonic()
        report = run(kind, str(out / manifest["files"][kind]), report_path=str(out / f"rapport_{kind}.csv"),
                     show_progress=show_progress)
        results[kind] = (report, time.monotonic() - started)
        print(report.summary(), f"({results[kind][1]:.1f} s)", flush=True)
    return results


def outbox_backlog() -> int:
    """Entries of the actors service's outbox not yet published."""
    from vitawin_common import mongo
    from vitawin_common.config import Settings
    return mongo.database(Settings.from_env("actors"))["outbox"].count_documents({"sent_at": None})


def matching_metrics(port: str) -> tuple[int, int | None]:
    """From the matching worker's /metrics: the volunteer events it has handled, and its lag on the
    volunteers topic (None while it has no partition, or does not answer)."""
    try:
        with urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except (URLError, OSError):
        return 0, None
    handled, lag = 0.0, None
    for line in text.splitlines():
        if line.startswith("vitawin_events_handled_total{") and f'type="{VOLUNTEER_REGISTERED}"' in line:
            handled += float(line.rsplit(" ", 1)[1])
        if line.startswith("vitawin_consumer_lag{") and f'topic="{VOLUNTEERS_TOPIC}"' in line:
            lag = (lag or 0) + int(float(line.rsplit(" ", 1)[1]))
    return int(handled), lag


VOLUNTEER_REGISTERED = "fr.vitawin.volunteer.registered.v1"
VOLUNTEERS_TOPIC = "vitawin.volunteers"  # contracts/asyncapi.yaml, channel volunteers


def wait_until(condition, timeout: float, every: float = 0.5) -> None:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"not done after {timeout:.0f} s")
        time.sleep(every)


def wait_digested(timeout: float, port: str | None = None) -> None:
    """Wait until the actors worker has published its whole outbox, then (with the matching
    worker's metrics port) until matching has caught up on the volunteers topic: lag 0 three
    times in a row. Prints how long each took."""
    started = time.monotonic()
    wait_until(lambda: outbox_backlog() == 0, timeout)
    print(f"Demo territory: the actors outbox is published to Kafka ({time.monotonic() - started:.1f} s).",
          flush=True)
    if not port:
        return
    zeros = []

    def caught_up() -> bool:
        handled, lag = matching_metrics(port)
        zeros.append(lag == 0)
        return handled > 0 and zeros[-3:] == [True, True, True]

    wait_until(caught_up, timeout, every=1.0)
    handled, _ = matching_metrics(port)
    print(f"Demo territory: matching has handled every volunteer ({handled} events since it started; "
          f"{time.monotonic() - started:.1f} s).", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--actors", type=int, default=60_000, help="actors to make (establishments + schools)")
    parser.add_argument("--schools", type=int, default=47, help="collèges and lycées")
    parser.add_argument("--pledge-share", type=float, default=0.3, help="share of establishments that pledge")
    parser.add_argument("--seed", type=int, default=2027)
    parser.add_argument("--out", default=str(ROOT / "var" / "demo"), help="folder of the generated files")
    parser.add_argument("--regenerate", action="store_true", help="generate even if the files are there")
    parser.add_argument("--generate-only", action="store_true", help="write the files, load nothing")
    parser.add_argument("--wait", action="store_true",
                        help="after the load, wait for the actors relay and matching to digest the events")
    parser.add_argument("--wait-only", action="store_true", help="generate and load nothing, only wait")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds --wait waits at most")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    port = os.environ.get("MATCHING_WORKER_PORT")
    if args.wait_only:
        wait_digested(args.timeout, port)
        return 0
    out = Path(args.out)
    started = time.monotonic()
    manifest = None if args.regenerate else existing(out, args.actors, args.schools, args.seed, args.pledge_share)
    if manifest is None:
        manifest = generate(out, args.actors, schools=args.schools, seed=args.seed, pledge_share=args.pledge_share)
        print(f"Generated {args.actors} actors ({manifest['sirene']['valid_active']} establishments, "
              f"{manifest['education']['collèges_lycées']} schools) and {manifest['pledges']} pledges "
              f"in {out} in {time.monotonic() - started:.1f} s.", flush=True)
    else:
        print(f"Reusing the files generated in {out} ({args.actors} actors, seed {args.seed}).", flush=True)
    if args.generate_only:
        return 0
    load_started = time.monotonic()
    load(out, manifest, show_progress=not args.no_progress)
    print(f"Loaded in {time.monotonic() - load_started:.1f} s (reports: {out}/rapport_*.csv).", flush=True)
    if args.wait:
        wait_digested(args.timeout, port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
