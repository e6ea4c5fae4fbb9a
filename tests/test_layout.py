"""Every package of the Hub is installed by ``pip install .`` and placed in the layers ``make lint``
checks (pyproject.toml): a new package cannot be left out of either."""

from __future__ import annotations

import tomllib

from tests.processes import REPO_ROOT

# Repository folders that are Python packages but not part of the Hub.
NOT_SHIPPED = {"tests", "bench", "mutations"}


def hub_packages() -> set[str]:
    return {
        path.parent.name for path in REPO_ROOT.glob("*/__init__.py") if path.parent.name not in NOT_SHIPPED
    }


def test_every_package_is_installed_and_layered() -> None:
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    installed = {
        pattern.removesuffix("*") for pattern in config["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    layered = set(config["tool"]["importlinter"]["root_packages"])
    assert hub_packages() == installed == layered
