"""The REST API's views, one module per area: thin, each calling services (registry.registration,
registry.services, registry.mapping, training.services, api.tokens)."""
