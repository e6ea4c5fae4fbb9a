"""Runners for each kind of registered model; importing this package registers them."""

from inference.runners import python  # noqa: F401
