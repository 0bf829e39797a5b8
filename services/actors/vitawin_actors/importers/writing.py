"""Writing imported rows in batches: each batch is ONE transaction holding the documents and their
outbox entries, exactly as one API call holds one document and its entry.

Idempotency: ids are derived from the row's natural key (`derived_id`), the ids already in the
collection are read once at the start, and a row whose id is there is counted as already present
and not written again; a key seen twice in the same file is reported on its second line. Run one
import of a given file at a time: two at once would collide on the same ids, and the second
batch to commit would fail with a duplicate key (its transaction rolls back, nothing is doubled).

The port the importers use is `known_ids`, `outbox_entry` (the event checked against its
contract and turned into what the outbox stores: ContractViolation otherwise) and `add_all`
(inside `with uow:` ... `commit()`). A row may bring more than one event (an actor with somewhere
to write to also brings its fr.vitawin.contact.registered.v1, on the `contacts` channel): each is
checked, and a row whose events do not all satisfy their contracts is skipped as a whole.
`ImportUnitOfWork` implements the port for MongoDB: the actors service's `MongoUnitOfWork` with
one `insert_many` for the documents and one for the outbox entries of a batch, instead of an
`insert_one` each (and `Outbox.add` reads contracts/asyncapi.yaml again for every event, about
4 ms: 60,000 of those would take four minutes)."""
from __future__ import annotations

import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Protocol


from vitawin_common.contracts import ContractViolation
from vitawin_common.events import Event
from vitawin_common import outbox as outbox_module
from vitawin_common.outbox import Outbox

from vitawin_actors.adapters import MongoUnitOfWork
from vitawin_actors.importers.reading import ROW, Filtered, ImportReport, Progress, RowError

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://vitawin.fr/actors/imports")
DEFAULT_BATCH_SIZE = 500


def derived_id(prefix: str, key: str) -> str:
    """`prefix` and 32 hex digits derived from `key` ("siret:12345678200010", "uai:0940120V"): the
    same key always gives the same id, and the id has the form the contracts ask for
    (`act-` and 32 hex digits for an actor)."""
    return f"{prefix}-{uuid.uuid5(NAMESPACE, key).hex}"


def derived_event_id(entity_id: str, fact: str = "registered") -> str:
    """The CloudEvent id of an event of an imported entity: derived too. `fact` tells apart the
    events of one entity (the outbox is keyed by event id): "registered" for its registration
    event, "contact.registered" for an actor's contact event."""
    return str(uuid.uuid5(NAMESPACE, f"{fact}:{entity_id}"))


@dataclass(frozen=True)
class Prepared:
    """A row turned into what will be stored: its document (keyed by `entity_id`), its event (on
    the import's channel), remarks to report if it is written (field, French reason), and the
    other events written with it, each with its channel (`more_events`: an actor's contact event)."""
    line: int
    key: str
    entity_id: str
    doc: dict
    event: Event
    notes: tuple[tuple[str, str], ...] = ()
    more_events: tuple[tuple[Event, str], ...] = ()


class ImportUnitOfWorkPort(Protocol):
    def known_ids(self, collection: str) -> set[str]: ...
    def outbox_entry(self, event: Event, channel: str) -> Any: ...  # ContractViolation if it breaks its contract
    def add_all(self, collection: str, docs: list[dict], entries: list) -> None: ...  # inside `with uow:`
    # `entries`: the entry of each document's own event, in the order of `docs`, then the entries
    # of the other events of the batch (`Prepared.more_events`), if any.
    def __enter__(self): ...
    def __exit__(self, *exc_info) -> None: ...
    def commit(self) -> None: ...


def outbox_entry(outbox: Outbox, event: Event, topic: str) -> dict:
    """The entry `Outbox.add` writes for `event` (checked against its contract first), for a topic
    looked up once (tests/unit/actors/test_importers.py compares the two)."""
    outbox.contracts.validate(event.type, event.data)
    return outbox_module.entry(event, topic)


class ImportUnitOfWork(MongoUnitOfWork):
    """The actors service's unit of work, with bulk writes for the importers."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._topics: dict[str, str] = {}  # channel -> topic (Contracts.topic reads a file each time)

    def known_ids(self, collection: str) -> set[str]:
        repository = getattr(self, collection)
        return {doc["_id"] for doc in repository.collection.find({}, {"_id": True}, session=self.session)}

    def outbox_entry(self, event: Event, channel: str) -> dict:
        if channel not in self._topics:
            self._topics[channel] = self.outbox.contracts.topic(channel)
        return outbox_entry(self.outbox, event, self._topics[channel])

    def add_all(self, collection: str, docs: list[dict], entries: list[dict]) -> None:
        """Inside `with uow:`: the documents (keyed like `MongoRepository.add`) and the outbox
        entries of their events (from `outbox_entry`), in the open transaction."""
        if self.session is None or not self.session.in_transaction:
            raise RuntimeError("add_all() belongs inside `with uow:`, before commit()")
        repository = getattr(self, collection)
        if docs:
            repository.collection.insert_many([{"_id": doc[repository.id_field], **doc} for doc in docs],
                                              ordered=True, session=self.session)
        if entries:
            self.outbox.entries.insert_many(entries, ordered=True, session=self.session)


@dataclass(frozen=True)
class _Ready:
    prepared: Prepared
    entry: Any  # of `prepared.event`
    more_entries: tuple = ()  # of `prepared.more_events`


def run_import(records: Iterable[tuple[int, dict | RowError]], prepare: Callable[[int, dict], Prepared],
               uow: ImportUnitOfWorkPort, *, collection: str, channel: str, report: ImportReport,
               batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress | None = None) -> ImportReport:
    """Prepare each record, skip and report the bad ones, write the others in batches.

    A batch is written (in a thread) while the next one is read and checked: the database works
    while this process parses, so the two cores are both busy. Only one batch is ever in flight,
    and meanwhile only the writing thread uses the unit of work's session."""
    known = uow.known_ids(collection)
    first_line: dict[str, int] = {}  # entity id -> line that brought it, in this run
    batch: list[_Ready] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer") as writer:
        in_flight: Future | None = None

        def flush(ready: list[_Ready]) -> Future:
            if in_flight is not None:
                in_flight.result()  # raises what the previous batch raised
            return writer.submit(_write, ready, uow, collection, report)

        for line, record in (records if progress is None else _with(progress, records)):
            report.read += 1
            if isinstance(record, RowError):
                report.skip(line, "", record.field, record.reason)
                continue
            try:
                prepared = prepare(line, record)
            except Filtered as exc:
                report.filter(exc.reason)
                continue
            except RowError as exc:
                report.skip(line, exc.key, exc.field, exc.reason)
                continue
            if prepared.entity_id in first_line:
                report.skip(line, prepared.key, ROW, f"En double dans le fichier : déjà lu ligne "
                                                     f"{first_line[prepared.entity_id]}.")
                continue
            first_line[prepared.entity_id] = line
            if prepared.entity_id in known:
                report.already_present += 1
                continue
            try:  # not expected: rows are built by the domain from checked values
                entry = uow.outbox_entry(prepared.event, channel)
                more = tuple(uow.outbox_entry(event, other) for event, other in prepared.more_events)
            except ContractViolation as exc:
                report.skip(line, prepared.key, ROW, f"Événement non conforme à son contrat : {exc}")
                continue
            batch.append(_Ready(prepared, entry, more))
            if len(batch) >= batch_size:
                in_flight = flush(batch)
                batch = []
        if batch:
            in_flight = flush(batch)
        if in_flight is not None:
            in_flight.result()
    return report


def _with(progress: Progress, records):
    with progress:
        yield from records


def _write(batch: list[_Ready], uow, collection: str, report: ImportReport) -> None:
    entries = [ready.entry for ready in batch] + [entry for ready in batch for entry in ready.more_entries]
    with uow:
        uow.add_all(collection, [ready.prepared.doc for ready in batch], entries)
        uow.commit()
    report.written([ready.prepared for ready in batch])
