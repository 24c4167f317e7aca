"""run_app's options: every pydoover variable is read, and flags win over them."""

from __future__ import annotations

import pytest

from apps.sdk.runner import parse_options

ENV = {
    "APP_KEY": "tank-1",
    "DDA_URI": "agent:1",
    "PLT_URI": "platform:2",
    "PLUGINS_URI": "plugins:3",
    "CONFIG_FP": "/etc/app.json",
    "HEALTHCHECK_PORT": "49999",
    "DEBUG": "1",
}


def test_every_variable_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    options = parse_options([])
    assert (options.app_key, options.dda_uri, options.plt_uri, options.plugins_uri) == (
        "tank-1",
        "agent:1",
        "platform:2",
        "plugins:3",
    )
    assert (options.config_fp, options.healthcheck_port, options.debug) == (
        "/etc/app.json",
        49999,
        True,
    )


def test_flags_override_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    options = parse_options(["--plt-uri", "other:9", "--app-key", "k2", "--healthcheck-port", "1"])
    assert (options.plt_uri, options.app_key, options.healthcheck_port) == ("other:9", "k2", 1)
    assert options.dda_uri == "agent:1"


def test_defaults_without_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ENV:
        monkeypatch.delenv(key, raising=False)
    options = parse_options([])
    assert (options.dda_uri, options.plt_uri, options.plugins_uri) == (
        "localhost:50051",
        "localhost:50053",
        "localhost:50055",
    )
    assert (options.config_fp, options.healthcheck_port, options.debug) == (None, 49200, False)
