"""``revlink cloud ...``: serve the cloud, migrate its database, create users and devices."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from revlink.commands._common import fail, settings_from

__all__ = ["cloud_app"]

cloud_app = typer.Typer(
    rich_markup_mode=None, help="The cloud: API, WebSocket doors, storage.", no_args_is_help=True
)

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL [env REVLINK_DATABASE_URL; default SQLite in the data dir].",
        show_default=False,
    ),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Data directory [env REVLINK_DATA_DIR; default var].", show_default=False
    ),
]


def _settings(command: str, **flags: object):  # type: ignore[no-untyped-def]
    from cloud.core.config import CloudSettings

    return settings_from(command, CloudSettings, **flags)


@cloud_app.command("serve")
def serve(
    listen: Annotated[
        str | None,
        typer.Option(
            "--listen",
            help="HOST:PORT [env REVLINK_CLOUD_LISTEN; default 127.0.0.1:8000].",
            show_default=False,
        ),
    ] = None,
    database_url: DatabaseOption = None,
    data_dir: DataDirOption = None,
    migrate: Annotated[
        bool, typer.Option(help="Bring the database schema up to date before serving.")
    ] = True,
) -> None:
    """Serve the REST API, the WebSocket doors and the OpenAPI docs (/docs)."""
    command = "revlink cloud serve"
    settings = _settings(command, cloud_listen=listen, database_url=database_url, data_dir=data_dir)
    from cloud import runner

    try:
        runner.serve(settings, run_migrations=migrate)
    except (OSError, ValueError) as exc:
        fail(command, exc)


@cloud_app.command("worker")
def worker(
    listen: Annotated[
        str | None,
        typer.Option(
            "--listen",
            help="HOST:PORT for /healthz and /metrics [env REVLINK_WORKER_LISTEN; "
            "default 127.0.0.1:8001].",
            show_default=False,
        ),
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Evaluate rules and deliver webhooks for API replicas run with
    REVLINK_RUN_AUTOMATION=false (PostgreSQL only)."""
    command = "revlink cloud worker"
    settings = _settings(command, worker_listen=listen, database_url=database_url)
    from cloud import runner

    try:
        runner.serve_worker(settings)
    except (OSError, ValueError, runner.SchemaNotCurrentError) as exc:
        fail(command, exc)


@cloud_app.command("migrate")
def migrate(database_url: DatabaseOption = None, data_dir: DataDirOption = None) -> None:
    """Bring the database schema to the newest migration (Alembic)."""
    command = "revlink cloud migrate"
    settings = _settings(command, database_url=database_url, data_dir=data_dir)
    from cloud import runner

    try:
        revision = runner.migrate(settings)
    except (OSError, ValueError) as exc:
        fail(command, exc)
    typer.echo(f"database schema at revision {revision}")


@cloud_app.command("create-user")
def create_user(
    email: str,
    role: Annotated[str, typer.Option(help="admin, operator or viewer.")] = "viewer",
    password: Annotated[
        str | None,
        typer.Option(help="Prompted (hidden, twice) when omitted.", show_default=False),
    ] = None,
    database_url: DatabaseOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create a user account."""
    command = "revlink cloud create-user"
    from cloud import runner
    from cloud.models import Role
    from cloud.services.errors import ConflictError

    try:
        parsed_role = Role(role)
    except ValueError:
        fail(command, f"--role must be admin, operator or viewer, not {role!r}")
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    settings = _settings(command, database_url=database_url, data_dir=data_dir)
    try:
        public_id = runner.create_user(settings, email, password, parsed_role)
    except (ValueError, ConflictError, runner.SchemaNotCurrentError, OSError) as exc:
        fail(command, exc)
    typer.echo(f"created {parsed_role.value} {email.strip().lower()} ({public_id})")


@cloud_app.command("create-device")
def create_device(
    name: str,
    as_json: Annotated[bool, typer.Option("--json", help='Print {"id","name","token"}.')] = False,
    database_url: DatabaseOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Register a device and print its token (shown this once; stored hashed)."""
    command = "revlink cloud create-device"
    from cloud import runner
    from cloud.services.errors import ConflictError

    settings = _settings(command, database_url=database_url, data_dir=data_dir)
    try:
        device = runner.create_device(settings, name)
    except (ValueError, ConflictError, runner.SchemaNotCurrentError, OSError) as exc:
        fail(command, exc)
    if as_json:
        typer.echo(json.dumps({"id": str(device.id), "name": device.name, "token": device.token}))
    else:
        typer.echo(
            f"device {device.name} id {device.id}\ntoken {device.token}\n"
            "(the token is shown only now; keep it for REVLINK_DEVICE_TOKEN)"
        )
