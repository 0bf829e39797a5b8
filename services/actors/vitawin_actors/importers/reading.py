"""Reading import files row by row, and the report of what became of each row.

CSV files are read as bytes and decoded line by line, so that one line in another encoding is
reported and skipped instead of stopping the import (its characters come out as lone surrogates,
which `read_csv` looks for). The delimiter is the one the header line uses (`,` in the SIRENE
stock, `;` in the Education nationale export), column names are matched without regard to case
(the export's CSV says `Code_commune`, its API `code_commune`), and a row whose number of fields
is not the header's is reported as malformed.

Nothing here knows a file format: `sirene`, `education` and `pledges` say which columns they need
and turn a record into documents, raising `RowError` (skip and report) or `Filtered` (count only:
a closed establishment, a primary school...)."""
from __future__ import annotations

import csv
import json
import os
import re
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterator, Sequence

SURROGATE = re.compile("[\udc80-\udcff]")
DELIMITERS = (",", ";", "\t", "|")
ROW = "ligne"  # the `field` of a problem with the whole row
ISSUES_KEPT = 10_000  # in memory (all of them go to the report file)


class RowError(ValueError):
    """A row that breaks a rule: skipped and reported. `field` names the column (or "ligne")."""

    def __init__(self, field: str, reason: str, key: str = ""):
        super().__init__(reason)
        self.field = field
        self.reason = reason
        self.key = key  # the row's SIRET, UAI... when known


class Filtered(Exception):
    """A row that is fine but not for this import (a closed establishment, a primary school...):
    counted by reason, not listed in the report."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class FileRejected(ValueError):
    """The file as a whole cannot be imported (missing columns, unreadable): French message."""


@dataclass(frozen=True)
class Issue:
    line: int
    key: str          # SIRET, UAI... when the row got that far, else ""
    status: str       # SKIPPED or NOTED
    field: str
    reason: str


SKIPPED = "ignorée"
NOTED = "importée, avec remarque"
REPORT_COLUMNS = ("ligne", "identifiant", "statut", "champ", "motif")


@dataclass
class ImportReport:
    """Counts of an import and the problems of its rows. `issues` keeps the first ISSUES_KEPT;
    a report file given to `open_file` gets every one of them as they come (a skipped row when it
    is read, the remarks on an imported row once its batch is written)."""
    kind: str
    read: int = 0
    imported: int = 0
    already_present: int = 0
    skipped: int = 0
    filtered: Counter = field(default_factory=Counter)
    noted: int = 0
    issues: list[Issue] = field(default_factory=list)
    _writer: object = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        self._lock = threading.Lock()  # rows are read in one thread and written in another

    def skip(self, line: int, key: str, field_name: str, reason: str) -> None:
        with self._lock:
            self.skipped += 1
            self._add(Issue(line, key, SKIPPED, field_name, reason))

    def filter(self, reason: str) -> None:
        with self._lock:
            self.filtered[reason] += 1

    def written(self, rows) -> None:
        """Rows (`writing.Prepared`) now stored: counted, and their remarks reported."""
        with self._lock:
            self.imported += len(rows)
            for row in rows:
                if row.notes:
                    self.noted += 1
                for field_name, reason in row.notes:
                    self._add(Issue(row.line, row.key, NOTED, field_name, reason))

    def _add(self, issue: Issue) -> None:
        if len(self.issues) < ISSUES_KEPT:
            self.issues.append(issue)
        if self._writer is not None:
            self._writer.writerow([issue.line, issue.key, issue.status, issue.field, issue.reason])

    @contextmanager
    def open_file(self, path: str | Path | None):
        """Write every issue to `path` (CSV, `;`, UTF-8 with BOM for spreadsheets) while open."""
        if path is None:
            yield self
            return
        with open(path, "w", encoding="utf-8-sig", newline="") as out:
            self._writer = csv.writer(out, delimiter=";")
            self._writer.writerow(REPORT_COLUMNS)
            try:
                yield self
            finally:
                self._writer = None

    def summary(self) -> str:
        """The closing lines the command prints, in French."""
        lines = [f"Import {self.kind} : {self.read} lignes lues, {self.imported} importées, "
                 f"{self.already_present} déjà présentes, {self.skipped} ignorées (invalides).",]
        if self.noted:
            lines.append(f"{self.noted} lignes importées avec une remarque (voir le rapport).")
        if self.filtered:
            details = ", ".join(f"{reason} : {count}" for reason, count in sorted(self.filtered.items()))
            lines.append(f"Écartées sans erreur ({sum(self.filtered.values())}) : {details}.")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {"read": self.read, "imported": self.imported, "already_present": self.already_present,
                "skipped": self.skipped, "noted": self.noted, "filtered": dict(self.filtered)}


# --- progress ------------------------------------------------------------------------------------

class Progress:
    """A rich progress bar over the bytes of the file (silent when `enabled` is false)."""

    def __init__(self, path: Path, description: str, enabled: bool = True):
        self.enabled = enabled
        self.total = os.path.getsize(path)
        self.description = description
        self._bar = None
        self._task = None

    def __enter__(self):
        if self.enabled:
            from rich.console import Console
            from rich.progress import (BarColumn, DownloadColumn, Progress as RichProgress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)
            self._bar = RichProgress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                     TextColumn("{task.fields[rows]} lignes"), TimeElapsedColumn(),
                                     TimeRemainingColumn(), console=Console(stderr=True))
            self._bar.__enter__()
            self._task = self._bar.add_task(self.description, total=self.total, rows=0)
        return self

    def update(self, done_bytes: int, rows: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done_bytes, rows=rows)

    def __exit__(self, *exc_info):
        if self._bar is not None:
            self._bar.__exit__(*exc_info)


class _Lines:
    """Decoded lines of a binary file, counting the bytes read (for the progress bar)."""

    def __init__(self, raw: IO[bytes], encoding: str):
        self.raw = raw
        self.encoding = encoding
        self.done = 0

    def __iter__(self) -> Iterator[str]:
        for chunk in self.raw:
            self.done += len(chunk)
            yield chunk.decode(self.encoding, "surrogateescape")


# --- CSV -----------------------------------------------------------------------------------------

@dataclass
class CsvFile:
    """An open CSV file: `columns` (as in the header, lower case) and `records()`."""
    path: Path
    columns: list[str]
    delimiter: str
    lines: _Lines
    header_lines: int = 1

    def records(self, progress: Progress | None = None) -> Iterator[tuple[int, dict[str, str] | RowError]]:
        """(line number, {column in lower case: stripped value}) for each record, or
        (line number, RowError) for a malformed one. Blank lines are passed over."""
        reader = csv.reader(self.lines, delimiter=self.delimiter)
        expected = len(self.columns)
        count = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:  # e.g. a field larger than the csv module allows
                yield reader.line_num + self.header_lines, RowError(ROW, f"Ligne illisible : {exc}.")
                continue
            count += 1
            if progress is not None and count % 2000 == 0:
                progress.update(self.lines.done, count)
            line = reader.line_num + self.header_lines
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if any(SURROGATE.search(value) for value in row):
                yield line, RowError(ROW, f"Encodage invalide : la ligne n'est pas en {self.lines.encoding} "
                                          f"(réenregistrez le fichier en UTF-8, ou donnez --encoding).")
                continue
            if len(row) != expected:
                yield line, RowError(ROW, f"Ligne mal formée : {len(row)} champ(s) au lieu de {expected} "
                                          f"(séparateur attendu « {_shown(self.delimiter)} », guillemets "
                                          f"fermés).")
                continue
            yield line, {name: value.strip() for name, value in zip(self.columns, row)}
        if progress is not None:
            progress.update(self.lines.done, count)


def _shown(delimiter: str) -> str:
    return {"\t": "tabulation"}.get(delimiter, delimiter)


def _header(line: str) -> tuple[str, list[str]]:
    text = line.lstrip("\ufeff").rstrip("\r\n")
    delimiter = max(DELIMITERS, key=text.count)
    columns = next(csv.reader([text], delimiter=delimiter), [])
    return delimiter, [name.strip().lower() for name in columns]


@contextmanager
def open_csv(path: str | Path, required: Sequence[str], *, encoding: str = "utf-8",
             any_of: Sequence[Sequence[str]] = ()):
    """Open `path` and check its header: every column of `required`, and at least one of each
    group in `any_of` (lower case names). FileRejected (French) otherwise."""
    path = Path(path)
    try:
        raw = open(path, "rb")
    except OSError as exc:
        raise FileRejected(f"Fichier illisible : {path} ({exc.strerror}).") from exc
    with raw:
        first = raw.readline()
        try:
            header = first.decode("utf-8-sig" if encoding.lower().replace("_", "-") == "utf-8" else encoding)
        except UnicodeDecodeError as exc:
            raise FileRejected(f"En-tête illisible en {encoding} : réenregistrez le fichier en UTF-8 "
                               f"ou donnez --encoding.") from exc
        delimiter, columns = _header(header)
        missing = [name for name in required if name not in columns]
        missing += [" ou ".join(group) for group in any_of if not any(name in columns for name in group)]
        if missing:
            hint = (" L'en-tête n'a qu'une colonne : le séparateur n'est ni « , » ni « ; » ?"
                    if len(columns) <= 1 else "")
            raise FileRejected(f"Colonnes manquantes dans {path.name} : {', '.join(missing)}.{hint}")
        lines = _Lines(raw, encoding)
        lines.done = len(first)
        yield CsvFile(path, columns, delimiter, lines)


# --- JSON lines ----------------------------------------------------------------------------------

@contextmanager
def open_jsonl(path: str | Path, *, encoding: str = "utf-8"):
    """Yield an iterator of (line number, dict | RowError) over a JSON lines file."""
    path = Path(path)
    try:
        raw = open(path, "rb")
    except OSError as exc:
        raise FileRejected(f"Fichier illisible : {path} ({exc.strerror}).") from exc
    with raw:
        yield _JsonLines(_Lines(raw, encoding))


@dataclass
class _JsonLines:
    lines: _Lines

    def records(self, progress: Progress | None = None) -> Iterator[tuple[int, dict | RowError]]:
        number = 0
        for number, text in enumerate(self.lines, start=1):
            if progress is not None and number % 2000 == 0:
                progress.update(self.lines.done, number)
            text = text.lstrip("\ufeff").strip()
            if not text:
                continue
            if SURROGATE.search(text):
                yield number, RowError(ROW, f"Encodage invalide : la ligne n'est pas en {self.lines.encoding}.")
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                yield number, RowError(ROW, f"JSON invalide (colonne {exc.colno}) : un objet JSON par ligne attendu.")
                continue
            if not isinstance(record, dict):
                yield number, RowError(ROW, "Objet JSON attendu sur chaque ligne.")
                continue
            yield number, record
        if progress is not None:
            progress.update(self.lines.done, number)
