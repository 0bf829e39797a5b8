"""Vitawin webhooks service: the partners' side of the platform.

- It turns the internal events a partner may see into public events with no personal data at all
  (`public`: an allow-list, field by field), published through its outbox on the partner-facing
  topics `public.<domain>.v1` (contracts/partners.asyncapi.yaml);
- it delivers those public events to the HTTPS endpoints partners register through the gateway
  (role partner): signed by the Standard Webhooks scheme, retried with exponential backoff for up
  to a day, then dead-lettered and the subscription flagged `failing` (`dispatch`).

Why a service of its own, not a part of notify: notify writes to people and therefore holds
personal data (its contact book, guardians' addresses); this service talks to third parties over
the internet and holds none, so what faces partners has nothing personal to leak. It fails and
scales on its own: a slow or dead partner ties up this worker's sending slots only, never notify's
emails nor the core flow (the core services do not even know partners exist).

Why the translation lives here rather than in each owning service: what is public is decided in
one place, one allow-list reviewed against one contract and one personal-data test, and the owning
services stay as they are. The price is a small read model (`facts`: a request's town and kind, a
pledge's town and action types, an organisation's kind and sector) so that an event that carries
ids only (a cancellation, an accepted proposal) can say where it happened."""
