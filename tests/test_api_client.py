"""The dashboard's typed API client is generated from the cloud's routes and is not stale.

``make api-client`` writes ``frontend/openapi.json`` from the routes and
``frontend/src/api/schema.d.ts`` from that document; both are committed, like the protos.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cloud.openapi import render

FRONTEND = Path(__file__).resolve().parents[1] / "frontend"
TOOLS = FRONTEND / "node_modules" / ".bin"


def _tool(name: str) -> str:
    path = TOOLS / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make install`")
    return str(path)


def test_the_committed_openapi_document_matches_the_routes() -> None:
    committed = (FRONTEND / "openapi.json").read_text(encoding="utf-8")
    fresh = render()
    assert json.loads(fresh)["paths"], "the cloud documents no routes"
    assert fresh == committed, "frontend/openapi.json is stale: run `make api-client`"


def test_the_committed_client_types_match_the_document(tmp_path: Path) -> None:
    generated = tmp_path / "schema.d.ts"
    subprocess.run(
        [_tool("openapi-typescript"), "openapi.json", "-o", str(generated)],
        cwd=FRONTEND,
        check=True,
        capture_output=True,
        timeout=120,
    )
    # Formatted as the committed copy is: prettier with the dashboard's own settings.
    formatted = subprocess.run(
        [_tool("prettier"), "--stdin-filepath", "src/api/schema.d.ts"],
        cwd=FRONTEND,
        input=generated.read_text(encoding="utf-8"),
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    committed = (FRONTEND / "src" / "api" / "schema.d.ts").read_text(encoding="utf-8")
    assert "/api/v1/datapoints/latest" in committed
    assert formatted == committed, "frontend/src/api/schema.d.ts is stale: run `make api-client`"
