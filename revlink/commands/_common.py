"""Helpers shared by the subcommands: settings from flags, one-line fatal errors."""

from __future__ import annotations

from typing import Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from pydantic_settings import BaseSettings

__all__ = ["fail", "settings_from"]

S = TypeVar("S", bound=BaseSettings)


def fail(command: str, reason: object, code: int = 2) -> NoReturn:
    """Exit with one line on stderr: what failed and why, no traceback."""
    typer.echo(f"{command}: {reason}", err=True)
    raise typer.Exit(code)


def settings_from(command: str, cls: type[S], **flags: Any) -> S:
    """Build settings from the environment, with the flags that were given on top."""
    try:
        return cls(**{key: value for key, value in flags.items() if value is not None})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        fail(command, f"invalid settings: {problems}")
