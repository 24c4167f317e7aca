"""``revlink plugins ...`` as an operator runs it: real CLI processes against a real host."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from revlink.plugins.v1 import plugins_pb2 as pb
from tests.rig.bridges import REPO_ROOT, free_port
from tests.rig.platform import wait_for
from tests.rig.plugins import PluginHostProcess

T = TypeVar("T")


@pytest.fixture(scope="module")
def host(module_plugin_host: PluginHostProcess) -> PluginHostProcess:
    return module_plugin_host


def cli(
    *args: str, host: str | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``revlink plugins ARGS [--host HOST]``; PLUGINS_URI only when ``env`` sets it."""
    argv = [sys.executable, "-m", "revlink", "plugins", *args]
    if host is not None:
        argv += ["--host", host]
    child_env = {k: v for k, v in os.environ.items() if k != "PLUGINS_URI"}
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env={**child_env, **(env or {})},
        cwd=REPO_ROOT,
        timeout=30,
        check=False,
    )


def concurrently(*calls: Callable[[], T]) -> list[T]:
    """Run independent CLI calls side by side: each process spends most of a second starting."""
    with ThreadPoolExecutor(len(calls)) as pool:
        return [future.result() for future in [pool.submit(call) for call in calls]]


def ok(*args: str, host: str) -> str:
    result = cli(*args, host=host)
    assert result.returncode == 0, result.stderr
    return result.stdout


def ok_json(*args: str, host: str) -> Any:
    return json.loads(ok(*args, "--json", host=host))


def refused(*args: str, host: str) -> str:
    """Run a command that must fail: exit code 1, one line on stderr (returned)."""
    result = cli(*args, host=host)
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def running(host: PluginHostProcess, name: str) -> bool:
    """Asked over gRPC directly: waiting through the CLI would cost a process per poll."""
    return host.status(name).state == pb.INSTANCE_STATE_RUNNING


def dead_target() -> str:
    return f"127.0.0.1:{free_port()}"


def test_help() -> None:
    result = cli("--help")
    assert result.returncode == 0, result.stderr
    assert "Manage the plugin host's plugins and instances." in result.stdout
    for command in ("list", "add", "status", "start", "stop", "remove"):
        assert command in result.stdout


def test_list_shows_plugins_and_load_errors(host: PluginHostProcess) -> None:
    text, as_json = concurrently(
        lambda: ok("list", host=host.target), lambda: ok_json("list", host=host.target)
    )
    lines = text.splitlines()
    assert lines[0].split() == ["ID", "VERSION", "NAME", "DISTRIBUTION", "LOAD", "ERROR"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert {"counter", "system", "simulated", "stuck", "broken"} <= set(rows)
    assert rows["counter"].split()[:4] == ["counter", "1.0", "Counter", "revlink-testplugins"]
    assert "revlink" in rows["system"].split()
    assert "NoSuchClass" in rows["broken"]
    assert "NoSuchClass" not in rows["counter"]

    plugins = {p["id"]: p for p in as_json}
    assert plugins["counter"]["config_schema"]["required"] == ["start"]
    assert plugins["counter"]["load_error"] == ""
    assert "NoSuchClass" in plugins["broken"]["load_error"]
    assert plugins["simulated"]["distribution"] == "revlink"


def test_add_then_status_shows_it_running_with_readings(host: PluginHostProcess) -> None:
    target = host.target
    options = ["--config", '{"start": 100}', "--interval", "0.05"]
    out = ok("add", "counter", "--name", "cli-a", *options, host=target)
    assert "cli-a" in out
    assert '{"start": 100}' in out
    assert "0.05s" in out
    wait_for(lambda: running(host, "cli-a"), 10, "cli-a running")
    wait_for(lambda: host.status("cli-a").HasField("last_poll_time"), 5, "a poll")

    table, detail, status, everything = concurrently(
        lambda: ok("status", host=target),
        lambda: ok("status", "cli-a", host=target),
        lambda: ok_json("status", "cli-a", host=target),
        lambda: ok_json("status", host=target),
    )
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["NAME", "PLUGIN", "STATE", "RESTARTS"]
    row = next(line.split() for line in lines[1:] if line.startswith("cli-a "))
    assert row[:4] == ["cli-a", "counter", "running", "0"]
    assert row[4:] == [row[4], "ago", "-"]  # last poll age ("0.0s ago"), no error
    assert row[4].endswith("s")

    assert "state      running" in detail
    channels = {line.split()[0]: line.split() for line in detail.splitlines() if line[:2] == "  "}
    assert set(channels) == {"ID", "count", "level"}
    assert channels["ID"][-1] == "VALUE"
    assert int(channels["count"][-1]) > 100
    assert channels["level"][-4:] == ["%", "0..10", "0", "0"]

    assert (status["name"], status["plugin_id"], status["state"]) == ("cli-a", "counter", "running")
    assert status["config"] == {"start": 100}
    assert status["poll_interval"] == pytest.approx(0.05)
    assert [c["id"] for c in status["channels"]] == ["count", "level"]
    assert status["channels"][1]["max_value"] == 10
    assert isinstance(status["readings"]["count"], int)
    assert status["readings"]["count"] > 100
    assert status["last_poll_time"].endswith("+00:00")
    assert {i["name"]: i["state"] for i in everything}["cli-a"] == "running"


def test_stop_start_remove(host: PluginHostProcess) -> None:
    target = host.target
    options = ["--config", '{"start": 0}', "--no-start"]
    added = ok_json("add", "counter", "--name", "cli-b", *options, host=target)
    assert added["state"] == "configured"
    assert ok("start", "cli-b", host=target).strip() in ("cli-b: connecting", "cli-b: running")
    wait_for(lambda: host.status("cli-b").HasField("last_poll_time"), 10, "cli-b polls")

    assert ok("stop", "cli-b", host=target).strip() == "cli-b: stopped"
    assert host.status("cli-b").state == pb.INSTANCE_STATE_STOPPED
    started = ok_json("start", "cli-b", host=target)
    assert started["state"] in ("connecting", "running")
    wait_for(lambda: running(host, "cli-b"), 10, "cli-b running again")

    assert ok_json("remove", "cli-b", host=target) == {"name": "cli-b", "removed": True}
    status_error, remove_error, instances = concurrently(
        lambda: refused("status", "cli-b", host=target),
        lambda: refused("remove", "cli-b", host=target),
        lambda: ok_json("status", host=target),
    )
    assert status_error == "revlink plugins status: no instance named 'cli-b'"
    assert remove_error == "revlink plugins remove: no instance named 'cli-b'"
    assert "cli-b" not in {i["name"] for i in instances}


def test_a_bad_config_names_the_field(host: PluginHostProcess) -> None:
    error = refused(
        "add", "counter", "--name", "cli-c", "--config", '{"start": "zero"}', host=host.target
    )
    assert error == "revlink plugins add: config start: 'zero' is not of type 'integer'"
    assert "cli-c" not in {i["name"] for i in ok_json("status", host=host.target)}


def test_bad_json_is_refused_before_contacting_the_host() -> None:
    # Nothing listens there: a command that tried would say the host is not reachable.
    target = dead_target()
    not_json, not_object = concurrently(
        lambda: refused("add", "counter", "--name", "x", "--config", "{start: 1}", host=target),
        lambda: refused("add", "counter", "--name", "x", "--config", "[1]", host=target),
    )
    assert not_json.startswith("revlink plugins add: --config is not JSON (")
    assert not_object == "revlink plugins add: --config must be a JSON object, not list"


def test_an_absent_host_fails_fast_and_says_so() -> None:
    target = dead_target()
    began = time.monotonic()
    error = refused("list", host=target)
    assert time.monotonic() - began < 10
    assert error.startswith(f"revlink plugins list: the plugin host at {target} is not reachable")


def test_plugins_uri_is_the_default_host(host: PluginHostProcess) -> None:
    from_env, flag_wins = concurrently(
        lambda: cli("status", "--json", env={"PLUGINS_URI": host.target}),
        # --host wins over the variable.
        lambda: cli("list", host=host.target, env={"PLUGINS_URI": dead_target()}),
    )
    assert from_env.returncode == 0, from_env.stderr
    assert isinstance(json.loads(from_env.stdout), list)
    assert flag_wins.returncode == 0, flag_wins.stderr
    assert "counter" in flag_wins.stdout
