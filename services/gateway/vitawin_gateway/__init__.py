"""Vitawin API gateway: routes `/api/v1/...` to the services and merges their OpenAPI documents."""
