"""The demo's supervisor with real child processes: tiered stops, kills, exits, signals.

Each child is a small Python process that writes to a shared record file when it is signalled
and just before it exits, so the order in which parts were stopped can be read back afterwards.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import structlog

from revlink.supervisor import (
    EXIT_FAILED,
    EXIT_KILLED,
    EXIT_OK,
    Part,
    StartError,
    StopRequested,
    Supervisor,
)

REPO_ROOT = Path(__file__).resolve().parents[1]

# argv: name, record file, behaviour ("stop": exit 0 on SIGTERM; "ignore": ignore SIGTERM;
# "exit": exit 7 once <record>.<name>.go exists; "crash": exit 5 at once).
CHILD = textwrap.dedent(
    """
    import os, signal, sys, time
    name, record, behaviour = sys.argv[1:4]

    def note(event):
        fd = os.open(record, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, f"{name} {event}\\n".encode())
        os.close(fd)

    def on_signal(signum, frame):
        note(signal.Signals(signum).name)
        if behaviour != "ignore":
            time.sleep(0.2)  # some shutdown work: an overlapping next tier would show
            note("exited")
            sys.exit(0)

    if behaviour == "crash":
        sys.exit(5)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    open(f"{record}.{name}.ready", "w").close()
    while True:
        if behaviour == "exit" and os.path.exists(f"{record}.{name}.go"):
            note("exited")
            sys.exit(7)
        time.sleep(0.05)
    """
)


@dataclass
class ChildPart(Part):
    """A part running CHILD instead of a ``revlink`` subcommand."""

    behaviour: str = "stop"
    record: Path = Path()

    def argv(self) -> list[str]:
        return [sys.executable, "-c", CHILD, self.name, str(self.record), self.behaviour]


def child(name: str, record: Path, tier: int, behaviour: str = "stop", grace: float = 10.0) -> Part:
    ready = record.with_name(f"{record.name}.{name}.ready")
    return ChildPart(
        name,
        [],
        ready=ready.exists,
        stop_tier=tier,
        grace_period_s=grace,
        behaviour=behaviour,
        record=record,
    )


def events(record: Path) -> list[tuple[str, str]]:
    pairs = (line.split(" ", 1) for line in record.read_text().splitlines())
    return [(name, event) for name, event in pairs]


def assert_tiers_in_order(record: Path, tiers: Sequence[set[str]]) -> None:
    """Every part of a tier was signalled, and only after every part of the tier before exited."""
    seen = events(record)
    for earlier, later in itertools.pairwise(tiers):
        last_exit = max(i for i, (name, event) in enumerate(seen) if name in earlier)
        first_signal = min(i for i, (name, _) in enumerate(seen) if name in later)
        assert last_exit < first_signal, seen
    assert {name for name, event in seen if event == "SIGTERM"} == set().union(*tiers), seen


def test_parts_stop_tier_by_tier_whatever_the_start_order(tmp_path: Path) -> None:
    record = tmp_path / "record"
    with structlog.testing.capture_logs() as logs, Supervisor(tmp_path / "logs") as supervisor:
        for name, tier in [("cloud", 3), ("agent", 2), ("platform", 2), ("host", 1)]:
            supervisor.start(child(name, record, tier))
        supervisor.start(child("app_a", record, 0))
        supervisor.start(child("app_b", record, 0))
        assert supervisor.stop_all() == EXIT_OK
    assert_tiers_in_order(record, [{"app_a", "app_b"}, {"host"}, {"agent", "platform"}, {"cloud"}])
    assert all(event != "SIGINT" for _, event in events(record))
    assert not [entry for entry in logs if entry["log_level"] == "error"], logs
    stopped = [entry["part"] for entry in logs if entry["event"] == "demo.part_stopped"]
    assert sorted(stopped) == ["agent", "app_a", "app_b", "cloud", "host", "platform"]
    assert all(part.process and part.process.returncode == 0 for part in supervisor.parts)


def test_a_part_that_ignores_sigterm_is_killed_and_the_result_says_so(tmp_path: Path) -> None:
    record = tmp_path / "record"
    with structlog.testing.capture_logs() as logs, Supervisor(tmp_path / "logs") as supervisor:
        supervisor.start(child("bridge", record, 1))
        stubborn = child("stubborn", record, 0, behaviour="ignore", grace=0.5)
        supervisor.start(stubborn)
        supervisor.start(child("polite", record, 0))
        assert supervisor.stop_all() == EXIT_KILLED
    assert stubborn.process is not None
    assert stubborn.process.returncode == -signal.SIGKILL
    # The next tier still stops, after the kill, and cleanly.
    assert_tiers_in_order(record, [{"stubborn", "polite"}, {"bridge"}])
    errors = [entry for entry in logs if entry["log_level"] == "error"]
    assert [(e["event"], e["part"]) for e in errors] == [("demo.part_killed", "stubborn")]
    assert errors[0]["grace_period_s"] == 0.5
    assert errors[0]["log"].endswith("stubborn.log")


def test_a_part_that_exits_on_its_own_stops_the_rest_in_order(tmp_path: Path) -> None:
    record = tmp_path / "record"
    with structlog.testing.capture_logs() as logs, Supervisor(tmp_path / "logs") as supervisor:
        supervisor.start(child("cloud", record, 2))
        supervisor.start(child("agent", record, 1))
        supervisor.start(child("quitter", record, 1, behaviour="exit"))
        supervisor.start(child("app", record, 0))
        (tmp_path / "record.quitter.go").touch()
        assert supervisor.run_until_stopped() == EXIT_FAILED
    seen = events(record)
    assert ("quitter", "SIGTERM") not in seen  # it was gone already
    assert_tiers_in_order(record, [{"app"}, {"agent"}, {"cloud"}])
    errors = [entry for entry in logs if entry["log_level"] == "error"]
    assert [(e["event"], e["part"], e["exit_code"]) for e in errors] == [
        ("demo.part_exited", "quitter", 7)
    ]


def test_a_part_that_dies_while_starting_fails_the_start(tmp_path: Path) -> None:
    record = tmp_path / "record"
    with Supervisor(tmp_path / "logs") as supervisor:
        supervisor.start(child("agent", record, 1))
        with pytest.raises(StartError, match="crasher exited with code 5 while starting"):
            supervisor.start(child("crasher", record, 0, behaviour="crash"))
        assert supervisor.stop_all() == EXIT_FAILED
    assert events(record)[0] == ("agent", "SIGTERM")


def test_a_stop_signal_while_starting_stops_what_was_started(tmp_path: Path) -> None:
    record = tmp_path / "record"

    def signal_while_waiting() -> bool:
        if (tmp_path / "record.slow.ready").exists():  # it has its handlers: stop it now
            os.kill(os.getpid(), signal.SIGTERM)  # caught by the supervisor: a stop request
        return False

    with Supervisor(tmp_path / "logs") as supervisor:
        supervisor.start(child("agent", record, 1))
        part = child("slow", record, 0)
        part.ready = signal_while_waiting
        with pytest.raises(StopRequested):
            supervisor.start(part)
        with pytest.raises(StopRequested):
            supervisor.start(child("never", record, 0))
    assert {name for name, event in events(record) if event == "SIGTERM"} == {"agent", "slow"}
    assert supervisor.result == EXIT_OK
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers are given back


SUPERVISE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from revlink.logs import configure_logging
    from revlink.supervisor import Supervisor
    from tests.test_supervisor import child

    configure_logging("info", "json")
    record = Path(sys.argv[1])
    with Supervisor(record.parent / "logs") as supervisor:
        for name, tier in [("cloud", 2), ("bridge", 1), ("app", 0)]:
            supervisor.start(child(name, record, tier))
        print("started", flush=True)
        code = supervisor.run_until_stopped()
    sys.exit(code)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_to_the_whole_process_group_reaches_only_the_supervisor(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """Ctrl-C in a terminal signals the whole foreground group: the parts must not get it."""
    record = tmp_path / "record"
    argv = [sys.executable, "-c", SUPERVISE, str(record)]
    with subprocess.Popen(
        argv,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as supervisor:
        try:
            assert supervisor.stdout is not None
            assert supervisor.stdout.readline() == "started\n"
            os.killpg(supervisor.pid, sig)
            _, stderr = supervisor.communicate(timeout=60)
        finally:
            supervisor.kill()
    assert supervisor.returncode == EXIT_OK, stderr
    assert_tiers_in_order(record, [{"app"}, {"bridge"}, {"cloud"}])
    assert all(event in ("SIGTERM", "exited") for _, event in events(record)), events(record)
    lines = [json.loads(line) for line in stderr.splitlines()]
    assert not [line for line in lines if line["level"] in ("error", "critical")], lines
    stopping = [line for line in lines if line["event"] == "demo.stopping"]
    assert {line["reason"] for line in stopping} == {sig.name}
