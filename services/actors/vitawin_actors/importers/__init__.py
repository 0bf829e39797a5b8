"""Imports of real open-data files into the directory of actors, and of pledges in bulk.

    python -m vitawin_actors.importers sirene StockEtablissement.csv [--report report.csv]
    python -m vitawin_actors.importers education annuaire-education.csv [--report report.csv]
    python -m vitawin_actors.importers pledges pledges.jsonl [--report report.csv]

- `sirene`: the INSEE "StockEtablissement" file (or an extract of it, or its geolocated variant):
  active establishments of the territory's towns become `company` (or `craftsman`) actors.
- `education`: the "Annuaire de l'éducation" export of the Education nationale: open collèges
  and lycées of the territory become `school` actors.
- `pledges`: JSON lines, one professional's pledge a line, stored as volunteers.

Every row is checked with the actors domain's own rules (SIRET checksum, NAF format, UAI check
letter, town of the territory, position near its town's centre); a bad row is skipped and
reported (line, field, French reason) and the import goes on. Writes go to the actors service's
own database in batches, each batch ONE transaction holding the documents and their outbox
entries (`fr.vitawin.actor.registered.v1`, `fr.vitawin.volunteer.registered.v1`, and
`fr.vitawin.contact.registered.v1` for an actor with a contact e-mail: the schools), built by the
same domain code as the API (`Actor.register`, `Actor.event_data`, `Volunteer.register`...). Ids
are derived from the SIRET or the UAI, so importing the same file again adds nothing.

Modules: `reading` (CSV/JSON lines reading, the per-row report, the progress bar), `writing`
(batches, idempotency, the MongoDB bulk unit of work), `sirene`, `education`, `pledges`,
`lambert93` (Lambert-93 to WGS 84 for the SIRENE stock's own coordinates)."""
