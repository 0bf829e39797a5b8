"""Initiatives and calls for projects: any organisation of the territory publishes one (title,
description, kinds of partners sought, dates, town); other actors join an initiative or apply to a
call for projects before its deadline. Modules: `rules` (plain Python: vocabulary, limits,
refusals, the territory's days, the rules across fields), `domain` (plain Python: the initiative
and its changes), `filters` (plain Python: what lists, the map and the closing task select),
`handlers` (use cases over a unit of work with an `initiatives` repository), `adapters` (the
MongoDB repository), `schemas` (the marshmallow bodies and query strings, and the dependencies
the API reads from the app), `api` (the flask-smorest blueprint under /api/v1/initiatives).

Wiring (done by the service's `create_app` and unit of work):
- `app.extensions[api.EXTENSION] = api.InitiativeDependencies(uow_factory, territory, today)` and
  `Api.register_blueprint(api.blueprint)`;
- the unit of work attaches `adapters.InitiativeRepository(db["initiatives"])` as `initiatives`;
- events go to the `initiatives` channel of contracts/asyncapi.yaml;
- a periodic task calls `handlers.close_due(uow, now)` to close calls for projects past their
  deadline."""
