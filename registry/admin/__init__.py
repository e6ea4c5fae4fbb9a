"""The registry's admin, one module per area; importing the package registers every page."""

from registry.admin import audit, model, projects, versions

__all__ = ["audit", "model", "projects", "versions"]
