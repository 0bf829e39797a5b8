"""The actors domain: a professional's pledge (a volunteer), the directory of actors (organisations,
schools, pupils, territory managers) and the rules their town and location must meet within the
territory. Plain Python, no I/O.

Its public API is this package: `from vitawin_actors.domain import Pledge` (or
`domain.Pledge`) for every name below, whichever module defines it. The modules:

- `places`: distances, the location rule within a town (`check_location`), `BoundingBox`,
  `InvalidValue`, and the clock;
- `actions`: action types, each action's settings (`ActionSettings`) and their defaults, the ROME
  reference;
- `pledges`: `RegisterVolunteer`, `Volunteer`, `Pledge` and its lifecycle;
- `directory`: actor kinds, the SIRET/NAF/UAI/ISO-week checks, the `Register*` commands, `Actor`,
  `public_view`;
- `filters`: `PledgeFilter`, what the list of pledges selects, in memory and in MongoDB;
- `erasure`: the tombstone of an erased actor and the purge of its pledges;
- `maps`: GeoJSON features of organisations and schools;
- `mapindex`: the map's in-memory index of them (`MapIndex`, `MapPoint`) and its clustering
  (`MapSettings`).

The clock: every default `now` of the domain is `datetime.now(timezone.utc)` with `datetime` read
from this package, so a test that replaces `vitawin_actors.domain.datetime` sets it everywhere."""
from __future__ import annotations

from datetime import datetime  # the clock of the whole domain: see above

from vitawin_actors.domain.actions import (ACTION_TYPES, AUDIENCES, COLLEGE_LEVELS, DEFAULT_AUDIENCE,
                                           DEFAULT_MODALITY, DEFAULT_WEEKLY_CONTACT_CAP, DIPLOMAS, LYCEE_LEVELS,
                                           MAX_COUNT, MENTORING_MONTHS, MODALITIES, ROME_CODE, SPECIFIC_DEFAULTS,
                                           ActionSettings, RomeJob, RomeReference, check_job_fair_dates,
                                           check_levels_for_audience, complete_actions)
from vitawin_actors.domain.directory import (ACTOR_KINDS, INSEE_CODE, ISO_WEEK, LEVELS, MAPPED_KINDS, NAF_CODE,
                                             ORGANISATION_KINDS, PUBLIC_FIELDS, SCHOOL_TYPES, UAI,
                                             UAI_CHECK_LETTERS, Actor, Address, RegisterActor,
                                             RegisterOrganisation, RegisterPupil, RegisterSchool,
                                             RegisterTerritoryManager, check_internship_periods,
                                             check_organisation_town, check_place, normalise_iso_week,
                                             normalise_naf, normalise_siret, normalise_uai, public_view)
from vitawin_actors.domain.erasure import (ERASED, PLEDGE_PERSONAL_FIELDS, TOMBSTONE_FIELDS, erased_event_data,
                                           is_erased, purge_pledge_document, tombstone)
from vitawin_actors.domain.filters import AUDIENCE_MATCHES, PledgeFilter
from vitawin_actors.domain.mapindex import MAX_ZOOM, MapIndex, MapPoint, MapSettings, fit_zoom
from vitawin_actors.domain.maps import feature_collection, to_feature
from vitawin_actors.domain.places import (DEFAULT_MAX_DISTANCE_KM, MAX_DISTANCE_KM, TOWN_RADIUS_KM, BoundingBox,
                                          InvalidValue, check_location)
from vitawin_actors.domain.pledges import (EDITABLE_FIELDS, STATUSES, VOLUNTEER_FIELDS, Pledge, PledgeConflict,
                                           RegisterVolunteer, Volunteer)

__all__ = [
    # places
    "DEFAULT_MAX_DISTANCE_KM", "MAX_DISTANCE_KM", "TOWN_RADIUS_KM", "BoundingBox", "InvalidValue", "check_location",
    # actions
    "ACTION_TYPES", "AUDIENCES", "COLLEGE_LEVELS", "DEFAULT_AUDIENCE", "DEFAULT_MODALITY",
    "DEFAULT_WEEKLY_CONTACT_CAP", "DIPLOMAS", "LYCEE_LEVELS", "MAX_COUNT", "MENTORING_MONTHS", "MODALITIES",
    "ROME_CODE", "SPECIFIC_DEFAULTS", "ActionSettings", "RomeJob", "RomeReference", "check_job_fair_dates",
    "check_levels_for_audience", "complete_actions",
    # pledges
    "EDITABLE_FIELDS", "STATUSES", "VOLUNTEER_FIELDS", "Pledge", "PledgeConflict", "RegisterVolunteer", "Volunteer",
    # filters
    "AUDIENCE_MATCHES", "PledgeFilter",
    # directory
    "ACTOR_KINDS", "INSEE_CODE", "ISO_WEEK", "LEVELS", "MAPPED_KINDS", "NAF_CODE", "ORGANISATION_KINDS",
    "PUBLIC_FIELDS", "SCHOOL_TYPES", "UAI", "UAI_CHECK_LETTERS", "Actor", "Address", "RegisterActor",
    "RegisterOrganisation", "RegisterPupil", "RegisterSchool", "RegisterTerritoryManager",
    "check_internship_periods", "check_organisation_town", "check_place", "normalise_iso_week", "normalise_naf",
    "normalise_siret", "normalise_uai", "public_view",
    # erasure
    "ERASED", "PLEDGE_PERSONAL_FIELDS", "TOMBSTONE_FIELDS", "erased_event_data", "is_erased",
    "purge_pledge_document", "tombstone",
    # maps
    "feature_collection", "to_feature",
    # mapindex
    "MAX_ZOOM", "MapIndex", "MapPoint", "MapSettings", "fit_zoom",
]
