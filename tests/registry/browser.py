"""A real browser for the admin's tests: Debian's Chromium driven by Playwright, with axe-core for
accessibility. Without Chromium (or axe-core) the tests skip, saying why, unless
HUB_REQUIRE_BROWSER=1 (CI sets it), which makes a missing piece a failure."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.processes import REPO_ROOT

CHROMIUM = Path(os.environ.get("HUB_CHROMIUM", "/usr/bin/chromium"))
AXE_JS = Path(
    os.environ.get(
        "HUB_AXE_JS",
        Path.home() / ".cache" / "wow-ai-hub" / "axe-core" / "node_modules" / "axe-core" / "axe.min.js",
    )
)
ARTIFACTS = REPO_ROOT / ".artifacts" / "admin"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The admin's pages must have no violation of these impacts.
BLOCKING_IMPACTS = {"serious", "critical"}


def missing(what: str) -> None:
    if os.environ.get("HUB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{what} (HUB_REQUIRE_BROWSER=1)")
    pytest.skip(what)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        missing(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set HUB_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # Playwright's sync API runs an event loop in this thread; the tests' own ORM calls stay synchronous.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
            yield instance
            instance.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """The page's axe-core violations of serious or critical impact (WCAG 2.x A and AA rules)."""
    if not AXE_JS.exists():
        missing(f"no axe-core at {AXE_JS}: npm install --prefix <dir> axe-core (or set HUB_AXE_JS)")
    page.add_script_tag(content=AXE_JS.read_text())
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
        if v["impact"] in BLOCKING_IMPACTS
    ]
