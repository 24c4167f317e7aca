"""Logging: credentials passed in URLs never reach the log."""

from __future__ import annotations

import logging

import pytest

from revlink.logs import RedactTokens


@pytest.mark.parametrize(
    ("message", "args", "expected"),
    [
        (
            '"WebSocket %s" [accepted]',
            ("/ws/x?token=eyJ.a.b&sensor=1",),
            "?token=<redacted>&sensor",
        ),
        ("GET /ws/x?a=1&token=abc HTTP/1.1", (), "&token=<redacted> HTTP"),
    ],
)
def test_tokens_in_urls_are_redacted(message: str, args: tuple[str, ...], expected: str) -> None:
    record = logging.LogRecord("uvicorn", logging.INFO, __file__, 1, message, args, None)
    assert RedactTokens().filter(record)
    text = record.getMessage()
    assert expected in text
    assert "eyJ" not in text
    assert "abc" not in text
