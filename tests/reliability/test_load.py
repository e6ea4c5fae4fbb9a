"""The bounded load run (bench/load.py), short: many concurrent clients over several models, with
broken models among them, and no error but the injected ones."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import REPO_ROOT

pytestmark = pytest.mark.live


def test_a_short_load_run_with_injected_faults_has_no_unexpected_error(tmp_path: Path) -> None:
    output = tmp_path / "load.json"
    subprocess.run(
        [sys.executable, "bench/load.py", "--duration", "5", "--clients", "32", "--output", str(output)],
        cwd=REPO_ROOT,
        check=True,
        timeout=180,
        capture_output=True,
    )
    report = json.loads(output.read_text())
    assert report["unexpected_errors"] == 0, report["unexpected_examples"]
    rows = {row["endpoint"]: row for row in report["rows"]}
    broken = {name for name in rows if name.startswith(("v7-failing", "v7-down", "raising"))}
    assert len(broken) == 3 and len(rows) == 7
    # Every endpoint was exercised; the healthy ones always answered, the broken ones always failed as designed.
    for name, row in rows.items():
        expected = "injected_errors" if name in broken else "ok"
        assert row["requests"] > 0 and row[expected] == row["requests"], row
