"""Apply each protection mutation of ``mutations/catalog.yaml`` to a scratch copy of the tree, run the
tests it names, and report whether they caught it (``make mutations``).

A mutation is *killed* when its tests fail (pytest exit status 1) and *survives* when they pass.
Anything else is a broken catalog entry: a ``find`` text that does not occur exactly once, tests that
do not exist or select nothing, a mutation that stops the tests from even being collected, or a run
past the time limit. The exit status is non-zero when any mutation survives or any entry is broken.

The working tree is never written: its files (tracked and untracked, not ignored) are copied into a
temporary folder, which every mutation edits and restores, and which is removed at the end, also
when the run is interrupted. Before the mutations, the union of their tests runs once unmutated (the
baseline): a test that already fails would "kill" any mutation and prove nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
CATALOG = Path(__file__).resolve().parent / "catalog.yaml"
FIELDS = ("id", "promise", "source", "file", "find", "replace", "tests")
# Generous: one mutation's tests take seconds; a mutation that makes them hang is a broken entry.
TIMEOUT_SECONDS = 300
# Each job has its scratch copy and test database; two keep both cores of the CI machine busy.
DEFAULT_JOBS = min(2, os.cpu_count() or 1)

_T = TypeVar("_T")
# The pytest runs under way, each the leader of its own process group (see Slot.run_tests).
_running: set[subprocess.Popen[str]] = set()


def _stop_running() -> None:
    for process in list(_running):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


class CatalogError(Exception):
    """The catalog file is malformed."""


@dataclass(frozen=True)
class Mutation:
    """One catalog entry: ``find`` occurs exactly once in ``file``; with it replaced by ``replace``,
    at least one of ``tests`` (pytest node ids) must fail."""

    id: str
    promise: str
    source: str
    file: str
    find: str
    replace: str
    tests: tuple[str, ...]


def load_catalog(path: Path = CATALOG) -> list[Mutation]:
    """The catalog's entries, checked for shape; CatalogError names the first malformed one."""
    entries = yaml.safe_load(path.read_text())
    if not isinstance(entries, list):
        raise CatalogError(f"{path}: expected a list of mutations")
    mutations: list[Mutation] = []
    seen: set[str] = set()
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or set(entry) != set(FIELDS):
            raise CatalogError(f"{path}: entry {number} must have exactly the fields {', '.join(FIELDS)}")
        tests = entry["tests"]
        if not isinstance(tests, list) or not tests or not all(isinstance(t, str) and t for t in tests):
            raise CatalogError(f"{path}: {entry['id']}: tests must be a non-empty list of pytest node ids")
        if not all(isinstance(entry[key], str) for key in FIELDS if key != "tests"):
            raise CatalogError(f"{path}: {entry['id']}: every field but tests is a string")
        if entry["id"] in seen:
            raise CatalogError(f"{path}: the id {entry['id']} is used twice")
        if entry["find"] == entry["replace"]:
            raise CatalogError(f"{path}: {entry['id']}: replace must differ from find")
        seen.add(entry["id"])
        mutations.append(Mutation(**{**entry, "tests": tuple(tests)}))
    return mutations


def problems_in_tree(mutation: Mutation, root: Path) -> str:
    """Why the mutation cannot be applied to the tree at ``root`` ("" when it can)."""
    path = root / mutation.file
    if not path.is_file():
        return f"{mutation.file} does not exist"
    count = path.read_text().count(mutation.find)
    if count != 1:
        return f"its find text occurs {count} times in {mutation.file} (it must occur exactly once)"
    return ""


def copy_tree(source: Path, target: Path) -> None:
    """The files git knows or would add (tracked, and untracked but not ignored), as they are on disk."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607
        cwd=source,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        origin = source / name
        if not origin.is_file():  # deleted in the working tree but not yet in the index
            continue
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(origin, target / name)


def scratch_database_url(slot: int) -> str | None:
    """The tests' database URL with a name of this job's own, so that the jobs never share one nor
    touch the database ``make test`` keeps (pytest-django adds ``test_`` in front)."""
    url = os.environ.get("DATABASE_URL")
    if not url or url.startswith("sqlite"):
        return None  # SQLite: each scratch copy's own data folder already holds it
    parts = urlsplit(url)
    suffix = "_mutations" + (str(slot) if slot else "")
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + suffix))


@dataclass
class Slot:
    """One job: a scratch copy of the tree and a test database of its own."""

    number: int
    root: Path
    database_ready: bool = False

    def run_tests(self, tests: list[str]) -> tuple[int, str]:
        """Run pytest on ``tests`` here: its exit status (-1 past the time limit) and output tail."""
        env = {
            **os.environ,
            "PYTHONDONTWRITEBYTECODE": "1",  # a restored file must never meet a stale .pyc
            # Only pytest-django: the other installed plugins (hypothesis, faker, schemathesis) cost
            # seconds of start-up per run, and no test named in the catalog needs them.
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        }
        if database_url := scratch_database_url(self.number):
            env["DATABASE_URL"] = database_url
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-x",
            "-q",
            "-p",
            "pytest_django.plugin",
            "-p",
            "no:cacheprovider",
            "--reuse-db" if self.database_ready else "--create-db",
            *tests,
        ]
        # A session of its own, so that a run past the limit is ended with the servers it started.
        process = subprocess.Popen(  # noqa: S603
            command,
            cwd=self.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        _running.add(process)
        try:
            output, _ = process.communicate(timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            return -1, output[-3000:]
        finally:
            _running.discard(process)
        self.database_ready = True
        return process.returncode, output[-3000:]

    def judge(self, mutation: Mutation) -> tuple[int, str, float]:
        """Apply the mutation to this copy, run its tests, restore the file."""
        path = self.root / mutation.file
        original = path.read_text()
        path.write_text(original.replace(mutation.find, mutation.replace, 1))
        began = time.monotonic()
        try:
            status, output = self.run_tests(list(mutation.tests))
        finally:
            path.write_text(original)
        return status, output, time.monotonic() - began


def describe(status: int) -> str:
    return {
        -1: f"broken: the tests ran past {TIMEOUT_SECONDS} s",
        0: "SURVIVED: its tests pass with the protection removed",
        1: "killed",
        2: "broken: collecting the tests failed, or the run was interrupted",
        4: "broken: pytest could not collect the selected tests (no such node id, or a failed import)",
        5: "broken: the test selection selected no tests",
    }.get(status, f"broken: pytest exited with status {status}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ids", nargs="*", help="run only these mutations (default: all)")
    parser.add_argument("--list", action="store_true", help="list the catalog and check it applies")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unmutated run of the tests")
    parser.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=DEFAULT_JOBS,
        help=f"mutations judged at once (default {DEFAULT_JOBS})",
    )
    parser.add_argument("--catalog", type=Path, default=CATALOG, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    mutations = load_catalog(args.catalog)
    if unknown := set(args.ids) - {m.id for m in mutations}:
        parser.error(f"no such mutation: {', '.join(sorted(unknown))}")
    chosen = [m for m in mutations if not args.ids or m.id in args.ids]
    broken = {m.id: problem for m in chosen if (problem := problems_in_tree(m, args.root))}
    if args.list:
        for m in chosen:
            print(f"{m.id:40} {m.file:36} {broken.get(m.id, 'applies')}")
        return 1 if broken else 0

    started = time.monotonic()
    outcomes: dict[str, str] = {}
    runnable = [m for m in chosen if m.id not in broken]
    for m in chosen:
        if m.id in broken:
            outcomes[m.id] = f"broken: {broken[m.id]}"
            print(f"{m.id}: {outcomes[m.id]}", flush=True)
    jobs = max(1, min(args.jobs, len(runnable)))
    with tempfile.TemporaryDirectory(prefix="hub-mutations-") as scratch:
        slots: queue.Queue[Slot] = queue.Queue()
        for number in range(jobs):
            root = Path(scratch) / str(number)
            copy_tree(args.root, root)
            slots.put(Slot(number, root))
        pool = ThreadPoolExecutor(max_workers=jobs)
        try:

            def on_a_free_slot(work: Callable[[Slot], _T]) -> _T:
                slot = slots.get()
                try:
                    return work(slot)
                finally:
                    slots.put(slot)

            if not args.no_baseline:
                union = list(dict.fromkeys(t for m in runnable for t in m.tests))
                print(f"baseline: {len(union)} test selections, unmutated, in {jobs} job(s) ...", flush=True)
                parts = [union[i::jobs] for i in range(jobs)]
                for status, output in pool.map(
                    lambda part: on_a_free_slot(lambda slot: slot.run_tests(part)), parts
                ):
                    if status != 0:
                        print(output)
                        print(f"baseline failed ({describe(status)}): fix the tests before judging mutations")
                        pool.shutdown()  # the other parts end before their copies are removed
                        return 2
                print(f"baseline passes ({time.monotonic() - started:.0f} s)", flush=True)
            futures = {pool.submit(on_a_free_slot, lambda slot, m=m: slot.judge(m)): m for m in runnable}
            for future in as_completed(futures):
                m = futures[future]
                status, output, took = future.result()
                outcomes[m.id] = describe(status)
                print(f"{m.id}: {outcomes[m.id]} ({took:.1f} s)", flush=True)
                if status not in (0, 1):
                    print(output)
        except BaseException:  # interrupted: end the runs under way before the copies are removed
            pool.shutdown(wait=False, cancel_futures=True)
            _stop_running()
            raise
        pool.shutdown()

    killed = sum(outcome == "killed" for outcome in outcomes.values())
    survived = [i for i, outcome in outcomes.items() if outcome.startswith("SURVIVED")]
    failed = [i for i, outcome in outcomes.items() if outcome.startswith("broken")]
    print(
        f"\n{len(outcomes)} mutations: {killed} killed, {len(survived)} survived, {len(failed)} broken "
        f"in {time.monotonic() - started:.0f} s"
    )
    for label, ids in (("survived", survived), ("broken", failed)):
        if ids:
            print(f"{label}: {', '.join(ids)}")
    return 0 if killed == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
