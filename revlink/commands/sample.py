"""``revlink sample-config [PATH]``: the shipped piCtory config (Connect + DIO + AIO).

Apps and their tests run off hardware on this config; the command hands it out so they need
not import the bridges to find it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["sample_config_command"]


def sample_config_command(
    path: Annotated[
        Path | None, typer.Argument(help="Write it here; without a path, print it.")
    ] = None,
) -> None:
    """Print or write the sample piCtory config used by the demo and the tests."""
    from bridges.platform import SAMPLE_CONFIGRSC

    text = SAMPLE_CONFIGRSC.read_text()
    if path is None:
        typer.echo(text, nl=False)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
