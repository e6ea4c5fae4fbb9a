"""The base every app of the Hub uses: the JSON error shape and its handler, Prometheus metrics, log
redaction, the JSON parser, the page middleware, outbound HTTP with its egress policy, secret
encryption and the resilience primitives (circuit breaker, bulkhead). It imports only Django, DRF and
third-party packages, never another package of ours."""
