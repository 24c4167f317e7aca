"""The cloud's OpenAPI document as the dashboard's typed client is generated from it.

``python -m cloud.openapi [PATH]`` writes it (stdout without PATH). The output is stable:
keys sorted, two-space indent, a final newline, so the committed copy can be compared.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from cloud.core.config import CloudSettings
from cloud.main import create_app

__all__ = ["openapi_document", "render"]


def openapi_document() -> dict[str, Any]:
    # The document depends only on the routes; settings are never read to build it.
    return create_app(CloudSettings(database_url="sqlite+aiosqlite://")).openapi()


def render() -> str:
    return json.dumps(openapi_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if argv:
        Path(argv[0]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
