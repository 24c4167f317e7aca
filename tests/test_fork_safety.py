"""A revlink process can start children while its gRPC clients are busy.

With gRPC's fork handlers on, a child forked while another thread is inside a gRPC call may
abort before it reaches exec (seen as a PostgreSQL cluster or a demo part that "exits -6").
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from tests.rig.bridges import free_port

FORKS = 150

STRESS = textwrap.dedent(
    """
    import subprocess, sys, threading
    import revlink  # first, as every revlink entry point imports it
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    stop = threading.Event()

    def call_a_dead_bridge():
        with grpc.insecure_channel(sys.argv[1]) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while not stop.is_set():
                try:
                    stub.Check(health_pb2.HealthCheckRequest(), timeout=0.01)
                except grpc.RpcError:
                    pass

    callers = [threading.Thread(target=call_a_dead_bridge) for _ in range(4)]
    for caller in callers:
        caller.start()
    failed = sum(
        subprocess.run(["/bin/true"], preexec_fn=lambda: None).returncode != 0
        for _ in range(int(sys.argv[2]))
    )
    stop.set()
    for caller in callers:
        caller.join()
    print(failed)
    """
)


def test_children_start_while_grpc_calls_are_in_flight() -> None:
    env = {k: v for k, v in os.environ.items() if k != "GRPC_ENABLE_FORK_SUPPORT"}
    result = subprocess.run(
        [sys.executable, "-c", STRESS, f"127.0.0.1:{free_port()}", str(FORKS)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "0", f"children that failed to start: {result.stdout}"
