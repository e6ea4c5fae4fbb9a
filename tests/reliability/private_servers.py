"""A PostgreSQL cluster and a Redis server of a test module's own, to restart and stop without hurting
anyone else."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from contextlib import closing, suppress
from pathlib import Path
from typing import Any

import psycopg2
import redis

from tests.conftest import wait_for
from tests.processes import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the postgres user when we are root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class PrivatePostgres:
    """A throwaway cluster on a free loopback port, trust auth, no fsync."""

    def __init__(self) -> None:
        # Not under pytest's tmp dir: that is private to root, and the postgres user must reach it.
        self.root = Path(tempfile.mkdtemp(prefix="hub-reliability-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/hub"
        initdb = [str(PG_BIN / "initdb"), "-D", str(self.root / "data"), "-A", "trust", "-U", "postgres"]
        subprocess.run(_as_postgres([*initdb, "--no-sync", "-E", "UTF8"]), check=True, capture_output=True)

    def _pg_ctl(self, *args: str) -> None:
        command = [str(PG_BIN / "pg_ctl"), "-D", str(self.root / "data"), "-l", str(self.root / "log"), "-w"]
        subprocess.run(_as_postgres([*command, *args]), check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg_ctl("start", "-o", options)

    def stop(self) -> None:
        self._pg_ctl("stop", "-m", "fast")  # open sessions are terminated, as in a real restart

    def restart(self) -> None:
        self._pg_ctl("restart", "-m", "fast")  # with the options it was started with

    def create_database(self) -> None:
        with closing(psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres")) as conn:
            conn.autocommit = True
            conn.cursor().execute("CREATE DATABASE hub")

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with closing(psycopg2.connect(self.url)) as conn, conn, conn.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())

    def remove(self) -> None:
        with suppress(subprocess.CalledProcessError):  # already stopped
            self._pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            cwd=self.directory,
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        wait_for(answers, timeout=20, what="redis-server to start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
