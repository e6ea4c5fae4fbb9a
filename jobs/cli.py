"""``wow-ai-ml preannotate``: start a pre-annotation job on the configured Hub database and, with
``--wait``, follow it with a progress bar; exit 0 once every selected task has its prediction."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, TextIO

# How long --wait lets a queued job sit before it says that perhaps no worker is running.
NO_WORKER_HINT_SECONDS = 15.0


def add_preannotate_parser(commands: Any, *, func: Any) -> None:
    """Add the subcommand to ``wow-ai-ml``'s parser; ``func`` is called with the parsed arguments."""
    parser = commands.add_parser(
        "preannotate", help="pre-annotate a Label Studio project in the background (a job on the worker)"
    )
    parser.add_argument("--model", required=True, help="the registered model's slug")
    parser.add_argument("--project", required=True, type=int, help="the Label Studio project id")
    parser.add_argument("--label-studio-url", default="", help="needed unless the project called /setup")
    parser.add_argument("--api-key", default="", help="Label Studio API key (default: the instance's)")
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--tasks", help="only these task ids, comma-separated")
    scope.add_argument("--view", type=int, help="only the tasks of this Data Manager view (tab) id")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--only-missing",
        action="store_true",
        help="only tasks with no prediction at all (default: those without one of the model's version)",
    )
    mode.add_argument(
        "--redo", action="store_true", help="replace the prediction of the version of every task"
    )
    parser.add_argument(
        "--wait", action="store_true", help="follow the job with a progress bar until it ends"
    )
    parser.set_defaults(func=func)


def progress_line(state: dict[str, Any], width: int = 30) -> str:
    total, fraction = state["total"], float(state["fraction"] or 0)
    filled = round(width * fraction)
    counts = f"{state['done'] + state['failed'] + state['skipped']}/{total if total is not None else '?'}"
    rate = f"{state['tasks_per_second']:.1f} tasks/s" if state["tasks_per_second"] else "- tasks/s"
    eta = f"ETA {state['eta_seconds']:.0f} s" if state["eta_seconds"] is not None else ""
    return (
        f"[{'#' * filled}{'.' * (width - filled)}] {counts} done {state['done']} failed {state['failed']} "
        f"skipped {state['skipped']}  {rate}  {eta}  {state['status']}"
    ).rstrip()


def follow(job_id: int, out: TextIO, interval: float = 0.5) -> dict[str, Any]:
    """Print the job's progress until it ends; its final state."""
    from jobs.models import PreannotationJob
    from jobs.selectors import preannotation_job_get, preannotation_job_state

    tty = out.isatty()
    queued_since = time.monotonic()
    hinted = False
    last_printed = 0.0
    while True:
        job = preannotation_job_get(job_id=job_id)
        assert job is not None  # noqa: S101 - jobs are never deleted while followed
        state = preannotation_job_state(job)
        line = progress_line(state)
        ended = job.status in PreannotationJob.FINISHED or job.status == PreannotationJob.Status.PAUSED
        if tty:
            out.write("\r" + line.ljust(110))
        elif ended or time.monotonic() - last_printed >= 5:
            out.write(line + "\n")
            last_printed = time.monotonic()
        out.flush()
        if ended:
            if tty:
                out.write("\n")
            return state
        if job.status == PreannotationJob.Status.QUEUED and not hinted:
            if time.monotonic() - queued_since > NO_WORKER_HINT_SECONDS:
                out.write("\n(still queued: is a worker running? celery -A hubsite worker -Q hub)\n")
                hinted = True
        else:
            queued_since = time.monotonic()
        time.sleep(interval)


def run_preannotate(args: argparse.Namespace, error: type[Exception]) -> int:
    """The subcommand; failures to start raise ``error`` (printed by the CLI without a traceback)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hubsite.settings")
    import django

    django.setup()
    from django.http import Http404

    from core.errors import HubError
    from jobs.models import PreannotationJob
    from jobs.services import preannotation_start

    try:
        task_ids = [int(part) for part in args.tasks.split(",") if part.strip()] if args.tasks else None
    except ValueError as exc:
        raise error(f"--tasks takes task ids separated by commas, got {args.tasks!r}") from exc
    mode = (
        PreannotationJob.Mode.ONLY_EMPTY
        if args.only_missing
        else PreannotationJob.Mode.REDO
        if args.redo
        else PreannotationJob.Mode.MISSING
    )
    try:
        job = preannotation_start(
            model_slug=args.model,
            project_id=args.project,
            label_studio_url=args.label_studio_url,
            api_key=args.api_key,
            task_ids=task_ids,
            view_id=args.view,
            mode=mode,
            actor="cli",
        )
    except HubError as exc:
        raise error(str(exc.detail)) from exc
    except Http404 as exc:
        raise error(str(exc)) from exc
    print(f"Pre-annotation job {job.pk}: {args.model} over project {args.project} ({job.get_mode_display()})")
    if not args.wait:
        print(f"Queued. Follow it in the admin, or: GET /api/preannotations/{job.pk}")
        return 0
    state = follow(job.pk, sys.stdout)
    for failure in state["failures"][:10]:
        print(f"  task {failure['task']}: {failure['reason']}")
    if state["status"] != PreannotationJob.Status.SUCCEEDED:
        print(
            f"The job ended {state['status']}{': ' + state['error'] if state['error'] else ''}",
            file=sys.stderr,
        )
        return 1
    if state["failed"]:
        print(f"{state['failed']} task(s) failed; retry them from the admin or the API.", file=sys.stderr)
        return 1
    print(f"Every task has its prediction ({state['done']} written, {state['skipped']} already had one).")
    return 0
