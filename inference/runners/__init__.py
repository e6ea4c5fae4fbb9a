"""Runners for each kind of registered model; importing this package registers them."""

from inference.runners import http, ml_backend, python  # noqa: F401
