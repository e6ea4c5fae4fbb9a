"""One example server per kind of auth, and one image host, for the whole package."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.examples.byom_detector.servers import (
    SHORT_READ_TIMEOUT_S,
    SMALL_LIMIT_MB,
    ImageHost,
    RunningServer,
    start_server,
)


@pytest.fixture(scope="package")
def byom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    log = tmp_path_factory.mktemp("byom") / "server.log"
    running = start_server(
        log,
        "--max-image-mb",
        str(SMALL_LIMIT_MB),
        "--read-timeout",
        str(SHORT_READ_TIMEOUT_S),
        "--connect-timeout",
        "2",
    )
    yield running
    running.stop()


@pytest.fixture(scope="package")
def basic_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    log = tmp_path_factory.mktemp("basic") / "server.log"
    running = start_server(log, "--basic-auth-user", "v7", "--basic-auth-pass", "s3cret:with-colon")
    yield running
    running.stop()


@pytest.fixture(scope="package")
def header_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    log = tmp_path_factory.mktemp("header") / "server.log"
    env = {"BYOM_AUTH_HEADER_NAME": "X-My-Auth", "BYOM_AUTH_SECRET": "top-secret"}
    running = start_server(log, env=env)
    yield running
    running.stop()


@pytest.fixture(scope="package")
def image_host() -> Iterator[ImageHost]:
    host = ImageHost()
    yield host
    host.close()
