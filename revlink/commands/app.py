"""``revlink app run MODULE``: run a device app by its module (found from the current
directory too, as ``python -m`` finds it)."""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from typing import Annotated

import typer

from revlink.commands._common import fail

__all__ = ["app_app"]

app_app = typer.Typer(
    rich_markup_mode=None, help="Device apps built on the Application SDK.", no_args_is_help=True
)


@app_app.command("run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run(
    ctx: typer.Context,
    module: Annotated[
        str,
        typer.Argument(help="The app's module, e.g. apps.tank_level, or mirror for ./mirror.py."),
    ],
) -> None:
    """Run the app in MODULE (its Application subclass); other flags go to run_app."""
    from apps.sdk.app import Application
    from apps.sdk.runner import run_app

    # As `python -m` does: an app module in the current directory is found.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        loaded = importlib.import_module(module)
    except ImportError as exc:
        fail("revlink app run", f"cannot import {module}: {exc}")
    classes = [
        value
        for value in vars(loaded).values()
        if inspect.isclass(value)
        and issubclass(value, Application)
        and value is not Application
        and value.__module__.startswith(module)
    ]
    if len(classes) != 1:
        names = ", ".join(c.__name__ for c in classes) or "none"
        fail("revlink app run", f"{module} must define exactly one Application subclass ({names})")
    run_app(classes[0], argv=ctx.args)
