"""The documents and events of imported actors and volunteers, made by the actors service's own
code, as `handlers.register_actor` and `handlers.register_volunteer` make them: `Actor.register`
and `Pledge.register` build the entity, `to_document` what is stored, `event_data` and
`registered_event_data` what is published, with the event types and source of `handlers`; an
actor with somewhere to write to also brings its contact event (`handlers.contact_event`, on the
`contacts` channel), in the same transaction. Only the ids differ from an API registration:
derived from the SIRET or the UAI (`writing.derived_id`, `writing.derived_event_id`), so that an
import can be run again without doubling anything."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable

from vitawin_common.events import new_event

from vitawin_actors import handlers
from vitawin_actors.domain import Actor, Pledge, RegisterActor, RegisterVolunteer
from vitawin_actors.importers.reading import ImportReport, Progress, open_csv
from vitawin_actors.importers.writing import DEFAULT_BATCH_SIZE, Prepared, derived_event_id, run_import


def prepared_actor(line: int, key: str, actor_id: str, command: RegisterActor,
                   notes: Iterable[tuple[str, str]] = ()) -> Prepared:
    """What `handlers.register_actor` stores and publishes for `command`, under `actor_id`."""
    actor = replace(Actor.register(command), actor_id=actor_id)
    event = new_event(handlers.ACTOR_REGISTERED, handlers.SOURCE, actor.actor_id, actor.event_data(),
                      id=derived_event_id(actor.actor_id))
    contact = handlers.contact_event(actor, id=derived_event_id(actor.actor_id, "contact.registered"))
    more = () if contact is None else ((contact, handlers.CONTACTS_CHANNEL),)
    return Prepared(line, key, actor.actor_id, actor.to_document(), event, tuple(notes), more)


def prepared_volunteer(line: int, key: str, volunteer_id: str, command: RegisterVolunteer,
                       notes: Iterable[tuple[str, str]] = ()) -> Prepared:
    """What `handlers.register_volunteer` stores and publishes for `command`, under `volunteer_id`."""
    pledge = Pledge.register(command)
    pledge = replace(pledge, volunteer=replace(pledge.volunteer, volunteer_id=volunteer_id))
    event = new_event(handlers.VOLUNTEER_REGISTERED, handlers.SOURCE, pledge.volunteer_id,
                      pledge.registered_event_data(), id=derived_event_id(pledge.volunteer_id))
    return Prepared(line, key, pledge.volunteer_id, pledge.to_document(), event, tuple(notes))


def import_actor_file(path: str | Path, uow, *, label: str, required: tuple[str, ...],
                      prepare: Callable[[int, dict], Prepared], report_path: str | Path | None = None,
                      batch_size: int = DEFAULT_BATCH_SIZE, encoding: str = "utf-8",
                      show_progress: bool = False) -> ImportReport:
    """Read a CSV of actors (`required` columns), prepare each row, write them in batches with
    their events, and report what was imported or skipped: the part every actor import shares."""
    report = ImportReport(label)
    with open_csv(path, required, encoding=encoding) as file, report.open_file(report_path):
        progress = Progress(Path(path), label, enabled=show_progress)
        run_import(file.records(progress), prepare, uow, collection="actors",
                   channel=handlers.ACTORS_CHANNEL, report=report, batch_size=batch_size,
                   progress=progress)
    return report
