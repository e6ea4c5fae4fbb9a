"""The mutation catalog stays applicable, and the runner judges mutations rightly (make mutations)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from mutations.run import load_catalog, main, problems_in_tree
from tests.processes import REPO_ROOT


def test_every_mutation_applies_to_the_tree_and_names_tests_that_exist() -> None:
    mutations = load_catalog()
    assert mutations
    for mutation in mutations:
        assert problems_in_tree(mutation, REPO_ROOT) == "", mutation.id
        for node in mutation.tests:
            path, _, name = node.partition("::")
            assert (REPO_ROOT / path).is_file(), f"{mutation.id}: {path} does not exist"
            function = re.sub(r"\[.*\]$", "", name.split("::")[-1])
            assert re.search(rf"def {function}\(", (REPO_ROOT / path).read_text()), (
                f"{mutation.id}: {node} is not a test in {path}"
            )


def test_the_security_page_names_the_mutation_of_each_of_its_promises() -> None:
    page = (REPO_ROOT / "docs" / "security.md").read_text()
    missing = [
        m.id for m in load_catalog() if m.source.startswith("docs/security.md") and f"`{m.id}`" not in page
    ]
    assert not missing, f"docs/security.md does not name {missing}"


# The tables whose every row is a promise, and whose last column names its mutations.
PROMISE_SECTIONS = ("## Access", "## Secrets", "## Outbound requests", "## Input", "## Faults")


def promise_rows() -> list[tuple[str, str]]:
    """(promise, mutations cell) of each row of docs/security.md's promise tables."""
    rows, section = [], ""
    for line in (REPO_ROOT / "docs" / "security.md").read_text().splitlines():
        if line.startswith("## "):
            section = line
        cells = [cell.strip() for cell in line.split("|")[1:-1]]
        heading = not cells or cells[0] in ("Promise", "Fault") or set(cells[0]) <= set("- ")
        if section.startswith(PROMISE_SECTIONS) and not heading:
            rows.append((cells[0], cells[-1]))
    return rows


def test_every_promise_on_the_security_page_names_mutations_of_the_catalog() -> None:
    rows = promise_rows()
    assert len(rows) > 40
    catalog = {m.id for m in load_catalog()}
    for promise, cell in rows:
        named = re.findall(r"`([a-z0-9-]+)`", cell)
        # A row without a mutation says why, after a dash (a measurement of the whole, say).
        assert named or cell.startswith("—"), f"{promise[:60]!r} names no mutation"
        assert set(named) <= catalog, f"{promise[:60]!r} names {set(named) - catalog}, not in the catalog"


TINY_MODULE = "def limit(n):\n    return min(n, 10)\n"
TINY_TESTS = (
    "from limits import limit\n\n\n"
    "def test_the_limit_holds():\n    assert limit(50) == 10\n\n\n"
    "def test_small_numbers_pass():\n    assert limit(3) == 3\n"
)
TINY_CATALOG = """
- id: {id}
  promise: Numbers are limited to 10.
  source: here
  file: limits.py
  find: "{find}"
  replace: "{replace}"
  tests: [{tests}]
"""


@pytest.fixture(autouse=True)
def no_django_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tiny trees the runner is tried on are no Django projects."""
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)


def tiny_tree(tmp_path: Path, **fields: str) -> tuple[Path, Path]:
    entry = {
        "id": "limit",
        "find": "min(n, 10)",
        "replace": "n",
        "tests": "test_limits.py::test_the_limit_holds",
    }
    entry.update(fields)
    root = tmp_path / "tree"
    root.mkdir()
    (root / "limits.py").write_text(TINY_MODULE)
    (root / "test_limits.py").write_text(TINY_TESTS)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(TINY_CATALOG.format(**entry))
    return root, catalog


@pytest.mark.parametrize(
    ("find", "replace", "tests", "status", "verdict"),
    [
        ("min(n, 10)", "n", "test_limits.py::test_the_limit_holds", 0, "killed"),
        ("min(n, 10)", "n", "test_limits.py::test_small_numbers_pass", 1, "SURVIVED"),
        ("min(n, 99)", "n", "test_limits.py::test_the_limit_holds", 1, "occurs 0 times"),
        ("min(n, 10)", "min(n,", "test_limits.py::test_the_limit_holds", 1, "could not collect"),
        ("min(n, 10)", "n", "test_limits.py::test_no_such_test", 1, "could not collect"),
    ],
)
def test_the_runner_reports_killed_survived_and_broken_mutations_and_leaves_the_tree_alone(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    find: str,
    replace: str,
    tests: str,
    status: int,
    verdict: str,
) -> None:
    root, catalog = tiny_tree(tmp_path, find=find, replace=replace, tests=tests)
    assert main(["--catalog", str(catalog), "--root", str(root), "--no-baseline"]) == status
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("limit: "))
    assert verdict in line
    assert f"1 mutations: {1 - status} killed" in out
    assert (root / "limits.py").read_text() == TINY_MODULE


def test_a_baseline_that_fails_stops_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, catalog = tiny_tree(tmp_path)
    (root / "test_limits.py").write_text(TINY_TESTS.replace("== 10", "== 11"))
    assert main(["--catalog", str(catalog), "--root", str(root)]) == 2
    assert "baseline failed" in capsys.readouterr().out


def test_two_jobs_judge_mutations_side_by_side_each_on_its_own_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, catalog = tiny_tree(tmp_path)
    # The second edits the same line differently: on a shared copy one would see the other's edit.
    catalog.write_text(
        catalog.read_text()
        + TINY_CATALOG.format(
            id="small",
            find="min(n, 10)",
            replace="min(n, 10.0)",
            tests="test_limits.py::test_the_limit_holds",
        )
    )
    assert main(["--catalog", str(catalog), "--root", str(root), "--jobs", "2"]) == 1
    out = capsys.readouterr().out
    assert "baseline: 1 test selections, unmutated, in 2 job(s)" in out
    assert "limit: killed" in out and "small: SURVIVED" in out
    assert "2 mutations: 1 killed, 1 survived, 0 broken" in out
    assert (root / "limits.py").read_text() == TINY_MODULE
