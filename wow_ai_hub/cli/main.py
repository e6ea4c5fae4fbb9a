"""The ``wow-ai-ml`` command line (see the package's docstring for its commands)."""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from jobs.cli import add_preannotate_parser, run_preannotate
from wow_ai_hub.cli.common import CONFIG_FILE, CliError
from wow_ai_hub.cli.start import start as cmd_start

SDK_BASES = {"WOWAIHUB", "LabelStudioMLBase"}


# -- init -------------------------------------------------------------------------------------------


def model_classes(script: Path) -> list[str]:
    """Classes of the script that subclass the SDK base class, found without importing it."""
    tree = ast.parse(script.read_text(), filename=str(script))
    names = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            bases = {
                b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else ""
                for b in node.bases
            }
            if bases & SDK_BASES:
                names.append(node.name)
    return names


def slug_for(directory: Path) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", directory.resolve().name.lower()).strip("-") or "model"


DOCKERFILE = """FROM python:3.11-slim
WORKDIR /app
# The Hub itself: copy your checkout of WOW AI Hub next to this folder as ./wow-ai-hub, or change this line.
COPY wow-ai-hub /opt/wow-ai-hub
RUN pip install --no-cache-dir /opt/wow-ai-hub
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
ENV PORT=9090
EXPOSE 9090
CMD ["sh", "-c", "wow-ai-ml start /app --host 0.0.0.0 -p $PORT"]
"""

COMPOSE = """services:
  model:
    build: .
    ports:
      - "9090:9090"
    environment:
      - HUB_BASIC_AUTH_USER=
      - HUB_BASIC_AUTH_PASS=
    volumes:
      - ./data:/app/.hub-data
"""

README = """# {slug}

A WOW AI Hub backend for `{cls}` (from `{script}`), made by `wow-ai-ml init`.

    wow-ai-ml start {directory} -p 9090

serves it alone: Label Studio connects to `http://localhost:9090` (Project settings > Model), or to
`http://localhost:9090/ml/{slug}`. Add `--basic-auth-user U --basic-auth-pass P` to require credentials
(Label Studio: authentication method "Basic auth"). Its state and database live in `.hub-data/`.

Put the libraries the model imports in `requirements.txt`; `start` installs nothing and names a missing one.
`docker compose up` builds and runs it (see the comment in the Dockerfile about the Hub's source).
"""


def init_backend(directory: Path, script: Path, *, force: bool, class_name: str | None = None) -> str:
    if not script.is_file():
        raise CliError(f"{script}: no such model script")
    classes = model_classes(script)
    if class_name:
        if class_name not in classes:
            raise CliError(
                f"{script} has no model class {class_name!r} (found: {', '.join(classes) or 'none'})"
            )
        classes = [class_name]
    if not classes:
        raise CliError(f"{script} defines no class derived from WOWAIHUB or LabelStudioMLBase")
    if len(classes) > 1:
        raise CliError(
            f"{script} defines several model classes ({', '.join(classes)}): choose one with --class-name"
        )
    if directory.exists() and any(directory.iterdir()) and not force:
        raise CliError(f"{directory} exists and is not empty; use --force to overwrite its files")
    directory.mkdir(parents=True, exist_ok=True)
    slug = slug_for(directory)
    shutil.copyfile(script, directory / "model.py")
    files = {
        "requirements.txt": "# Libraries model.py imports besides the Hub (which provides wow_ai_hub).\n",
        "Dockerfile": DOCKERFILE,
        "docker-compose.yml": COMPOSE,
        "README.md": README.format(slug=slug, cls=classes[0], script=script.name, directory=directory),
        CONFIG_FILE: json.dumps({"model_class": classes[0], "slug": slug}, indent=2) + "\n",
    }
    for name, text in files.items():
        (directory / name).write_text(text)
    return classes[0]


def cmd_init(args: argparse.Namespace) -> int:
    cls = init_backend(Path(args.dir), Path(args.script), force=args.force, class_name=args.class_name)
    print(f"Created {args.dir} for {cls}. Start it with: wow-ai-ml start {args.dir}")
    return 0


# -- register / models (against the configured database) --------------------------------------------


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hubsite.settings")
    import django

    django.setup()


def cmd_register(args: argparse.Namespace) -> int:
    setup_django()
    from django.core.exceptions import ValidationError
    from django.core.management import call_command

    from core.errors import HubError
    from registry.kinds import kind_for_target, kind_get
    from registry.registration import registered_model_put
    from registry.services import model_fetch_classes

    try:  # the kinds are known once Django is set up: --kind is checked here, not by argparse
        target = "import_path" if args.import_path else "url"
        kind = kind_get(args.kind).name if args.kind else kind_for_target(target).name
    except LookupError as exc:
        raise CliError(str(exc)) from exc
    if args.migrate:
        call_command("migrate", verbosity=0)
    fields = {"kind": kind, "import_path": args.import_path or "", "url": args.url or ""}
    if args.name:
        fields["name"] = args.name
    try:
        # The audit log names this command as the actor (registry.audit).
        model, created, bumped = registered_model_put(slug=args.slug, actor=None, **fields)
    except ValidationError as exc:
        raise CliError(
            "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
        ) from exc
    if args.fetch_classes:
        try:
            fetched = model_fetch_classes(model=model)
        except HubError as exc:
            raise CliError(f"fetching classes failed: {exc.detail}") from exc
        print(f"{fetched.total} classes")
    if not args.quiet:
        done = "Registered" if created else "Updated" if bumped else "Already registered"
        print(f"{done} {model.slug} ({model.kind}), version {model.model_version}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    setup_django()
    from registry.models import RegisteredModel

    rows = [("slug", "kind", "version", "enabled", "target")]
    for model in RegisteredModel.objects.order_by("slug"):
        rows.append(
            (
                model.slug,
                model.kind,
                model.model_version,
                "yes" if model.enabled else "no",
                model.url or model.import_path,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


# -- deploy gcp --------------------------------------------------------------------------------------


def mask(secret: str) -> str:
    return secret[:2] + "*" * max(len(secret) - 4, 4) + secret[-2:] if len(secret) > 6 else "****"


def cmd_deploy_gcp(args: argparse.Namespace) -> int:
    region = os.environ.get("GCP_REGION", "us-central1")
    service = args.service or slug_for(Path(args.dir))
    image = f"gcr.io/{args.gcp_project_id}/{service}"

    def commands(key: str) -> list[list[str]]:
        env_vars = f"LABEL_STUDIO_URL={args.wow_ai_host},LABEL_STUDIO_API_KEY={key}"
        return [
            ["gcloud", "builds", "submit", args.dir, "--tag", image, "--project", args.gcp_project_id],
            [
                "gcloud",
                "run",
                "deploy",
                service,
                "--image",
                image,
                "--region",
                region,
                "--platform",
                "managed",
                "--allow-unauthenticated",
                "--project",
                args.gcp_project_id,
                "--set-env-vars",
                env_vars,
            ],
        ]

    if args.dry_run:
        print(f"# would create {args.dir} from {args.script}:")
        for name in (
            "model.py",
            "requirements.txt",
            "Dockerfile",
            "docker-compose.yml",
            "README.md",
            CONFIG_FILE,
        ):
            print(f"#   {Path(args.dir) / name}")
        for command in commands(mask(args.wow_ai_api_key)):
            print(shlex.join(command))
        return 0
    if shutil.which("gcloud") is None:
        raise CliError(
            "gcloud is not on the PATH: install the Google Cloud SDK, or use --dry-run to see the commands"
        )
    init_backend(Path(args.dir), Path(args.script), force=True)
    for command in commands(args.wow_ai_api_key):
        subprocess.run(command, check=True)
    return 0


# -- parser ------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wow-ai-ml", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    init = commands.add_parser("init", help="create a backend folder from a model script")
    init.add_argument("dir")
    init.add_argument("--script", required=True, help="the model file (a WOWAIHUB / LabelStudioMLBase class)")
    init.add_argument("--class-name", help="which class, when the script has several")
    init.add_argument("--force", action="store_true", help="overwrite files in an existing folder")
    init.set_defaults(func=cmd_init)

    start = commands.add_parser("start", help="serve a backend folder alone (at / and at /ml/<slug>)")
    start.add_argument("dir")
    start.add_argument("-p", "--port", type=int, default=9090)
    start.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a server, like the SDK's default
    start.add_argument("--workers", type=int, default=1)
    start.add_argument("--basic-auth-user")
    start.add_argument("--basic-auth-pass")
    start.set_defaults(func=cmd_start)

    register = commands.add_parser("register", help="register a model in the Hub's database")
    register.add_argument("--slug", required=True)
    register.add_argument("--name")
    target = register.add_mutually_exclusive_group(required=True)
    target.add_argument("--import-path", help="a Python model class, e.g. examples.dummy.model.DummyModel")
    target.add_argument("--url", help="a model server: V7 inference URL, or an ML backend's base URL")
    register.add_argument(
        "--kind", help="the model's kind (default: the first that takes --import-path, or --url)"
    )
    register.add_argument("--fetch-classes", action="store_true", help="read an external model's classes")
    register.add_argument("--migrate", action="store_true", help="create or update the database first")
    register.add_argument("--quiet", action="store_true")
    register.set_defaults(func=cmd_register)

    models = commands.add_parser("models", help="list the registered models")
    models.set_defaults(func=cmd_models)

    deploy = commands.add_parser("deploy", help="deploy a model as its own service")
    targets = deploy.add_subparsers(dest="target", required=True)
    gcp = targets.add_parser("gcp", help="Google Cloud Run, through gcloud (region from GCP_REGION)")
    gcp.add_argument("dir")
    gcp.add_argument("--from", dest="script", required=True, help="the model script")
    gcp.add_argument("--gcp-project-id", required=True)
    gcp.add_argument(
        "--wow-ai-host", required=True, help="the labeling tool's URL, for the model to fetch media"
    )
    gcp.add_argument("--wow-ai-api-key", required=True)
    gcp.add_argument("--service", help="the Cloud Run service name (default: the folder's name)")
    gcp.add_argument("--dry-run", action="store_true", help="print the commands and files instead")
    gcp.set_defaults(func=cmd_deploy_gcp)

    add_preannotate_parser(commands, func=lambda args: run_preannotate(args, CliError))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "start" and bool(args.basic_auth_user) != bool(args.basic_auth_pass):
        parser.error("--basic-auth-user and --basic-auth-pass go together")
    try:
        code: int = args.func(args)
    except CliError as exc:
        print(f"wow-ai-ml: {exc}", file=sys.stderr)
        return 1
    return code
