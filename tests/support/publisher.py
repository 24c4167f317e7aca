"""An app stand-in for fault tests: publishes records 0..N-1 in order, exactly once each.

Usage: python -m tests.support.publisher TARGET COUNT
Each record carries {"i": i} and the idempotency key "rec-<i>"; a call that fails (agent
killed, restarting) is retried with the same key until it succeeds, which is what the SDK
does. Prints "published <i>" every 1000 records and "done" at the end.
"""

from __future__ import annotations

import sys
import time

import grpc

from revlink.agent.v1 import agent_pb2 as pb
from revlink.agent.v1 import agent_pb2_grpc as pb_grpc

# CANCELLED is what a call in flight gets when the agent shuts down; with the idempotency key
# every retry is safe, so all three mean "try again".
RETRYABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
}
# Reconnect quickly once the agent is back (gRPC's default backoff grows to two minutes).
CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


def main() -> None:
    target, count = sys.argv[1], int(sys.argv[2])
    channel = grpc.insecure_channel(target, options=CHANNEL_OPTIONS)
    stub = pb_grpc.DeviceAgentServiceStub(channel)
    for i in range(count):
        request = pb.PublishRequest(
            channel="fault", message_json=f'{{"i": {i}}}', idempotency_key=f"rec-{i}"
        )
        while True:
            try:
                stub.Publish(request, timeout=5, wait_for_ready=True)
                break
            except grpc.RpcError as exc:
                if exc.code() not in RETRYABLE:  # type: ignore[attr-defined]
                    raise
                time.sleep(0.05)
        if i % 1000 == 999:
            print(f"published {i + 1}", flush=True)
    print("done", flush=True)
    channel.close()


if __name__ == "__main__":
    main()
