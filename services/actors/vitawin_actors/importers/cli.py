"""The command line of the importers:

    python -m vitawin_actors.importers {sirene|education|pledges} FILE [--report report.csv]


Writes to the actors service's database (MONGODB_URI, MONGODB_DATABASE, by default
vitawin_actors), shows a progress bar on stderr, prints the counts at the end. Exit status 0 when
the file was read to its end (bad rows are skipped and reported), 2 when it could not be read."""
from __future__ import annotations

import argparse
import sys
import time

from vitawin_common import correlation

from vitawin_actors import bootstrap
from vitawin_actors.importers import education, pledges, sirene
from vitawin_actors.importers.reading import FileRejected, ImportReport
from vitawin_actors.importers.writing import DEFAULT_BATCH_SIZE, ImportUnitOfWork

IMPORTERS = {"sirene": sirene, "education": education, "pledges": pledges}


def run(kind: str, path: str, *, report_path: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
        encoding: str = "utf-8", only_territory: bool = False, show_progress: bool = True,
        uow=None, territory=None) -> ImportReport:
    """Import one file with the real wiring (or the `uow` and `territory` given)."""
    settings = bootstrap.settings()
    if uow is None:
        uow = ImportUnitOfWork.from_settings(settings)
    options = {} if kind == "pledges" else {"outside_is_error": not only_territory}
    token = correlation.set(correlation.get() or correlation.new_id())  # one id for the whole import
    try:
        report = IMPORTERS[kind].import_file(
            path, uow, territory or bootstrap.territory(), report_path=report_path, batch_size=batch_size,
            encoding=encoding, show_progress=show_progress, **options)
    finally:
        correlation.reset(token)
    # After the import, not before: building an index once costs less than keeping it up to date
    # row by row (on a database already in use, the indexes are there and this does nothing).
    uow.ensure_indexes()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vitawin_actors.importers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=list(IMPORTERS),
                        help="sirene: StockEtablissement (CSV) ; education: annuaire de l'éducation (CSV) ; "
                             "pledges: engagements (JSON lines)")
    parser.add_argument("file")
    parser.add_argument("--report", help="rapport des lignes ignorées ou remarquées (CSV ;)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                        help="documents par transaction (défaut %(default)s)")
    parser.add_argument("--encoding", default="utf-8", help="encodage du fichier (défaut utf-8 ; latin-1...)")
    parser.add_argument("--only-territory", action="store_true",
                        help="fichier national ou départemental : compter sans les signaler les lignes "
                             "hors du territoire")
    parser.add_argument("--no-progress", action="store_true", help="sans barre de progression")
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error("--batch-size doit être au moins 1")
    started = time.monotonic()
    try:
        report = run(args.kind, args.file, report_path=args.report, batch_size=args.batch_size,
                     encoding=args.encoding, only_territory=args.only_territory,
                     show_progress=not args.no_progress)
    except FileRejected as exc:
        print(f"Import impossible : {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    if report.issues and not args.report:
        print("Premières lignes ignorées ou remarquées (--report FICHIER pour toutes) :")
        for issue in report.issues[:10]:
            print(f"  ligne {issue.line} [{issue.key or '-'}] {issue.status}, {issue.field} : {issue.reason}")
    print(f"Durée : {time.monotonic() - started:.1f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
