"""The data directory and what the Hub writes there are its own user's only, whatever the umask:
another local user must not read the SQLite database (its sessions table is the admin's logins)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.processes import REPO_ROOT

# Migrates a fresh SQLite database in HUB_DATA_DIR and, with the connection still open (so the
# -wal and -shm files exist), prints the mode of everything in the folder.
PROBE = """
import json, os, django
django.setup()
from django.core.management import call_command
from django.db import connection
call_command("migrate", verbosity=0)
with connection.cursor() as cursor:
    cursor.execute("SELECT count(*) FROM django_session")
data = os.environ["HUB_DATA_DIR"]
modes = {name: oct(os.stat(os.path.join(data, name)).st_mode & 0o777) for name in os.listdir(data)}
modes["."] = oct(os.stat(data).st_mode & 0o777)
print(json.dumps(modes))
"""


def probe_in_new_process(script: str, env: dict[str, str]) -> dict[str, object]:
    """Run ``script`` in a fresh interpreter (settings are read at start); the JSON of its last line."""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    answer: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


def test_the_data_directory_and_its_files_are_private_under_a_permissive_umask(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY", "HUB_ENCRYPTION_KEYS")
    }
    env.update(HUB_DATA_DIR=str(data), DJANGO_SETTINGS_MODULE="hubsite.settings")
    modes = probe_in_new_process(f"import os; os.umask(0o022)\n{PROBE}", env)
    assert modes["."] == oct(0o700)
    for name in ("hub.sqlite3", "hub.sqlite3-wal", "hub.sqlite3-shm", "secret_key", "encryption_key"):
        assert modes[name] == oct(0o600), (name, modes)


def test_files_an_earlier_version_left_readable_are_tightened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    for name in ("hub.sqlite3", "hub.sqlite3-wal"):
        (data / name).touch(mode=0o644)
        (data / name).chmod(0o644)
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(HUB_DATA_DIR=str(data), DJANGO_SETTINGS_MODULE="hubsite.settings")
    subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        timeout=60,
    )
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("hub.sqlite3", "hub.sqlite3-wal"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name
