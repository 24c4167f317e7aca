"""Platform bridge speed: gRPC reads against reading the same values with revpimodio2 directly.

Run: ``make bench`` or ``python -m tests.bench.bench_platform [--calls N]``.

Baselines run in this process on the same image file: a direct read is ``readprocimg()``
plus the value lookup, which is what the bridge does per call. Reported: p50/p99 latency and
calls per second, and the bridge/direct ratio. Also the WatchInputs delivery delay (time
from the plant writing an input to the change arriving at a subscriber) against the cycle.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import grpc

from bridges.platform import SAMPLE_CONFIGRSC
from bridges.platform.image import create_image_file, open_process_image
from bridges.platform.iotable import IOTable
from revlink.platform.v1 import platform_pb2 as pb
from revlink.platform.v1 import platform_pb2_grpc as pb_grpc
from tests.rig.bridges import free_port, start_bridge
from tests.rig.platform import Plant, platform_argv


def measure(call: Callable[[], object], calls: int) -> tuple[float, float, float]:
    """(p50 µs, p99 µs, calls/s) over ``calls`` calls after a warm-up."""
    for _ in range(min(200, calls)):
        call()
    samples = []
    started = time.perf_counter()
    for _ in range(calls):
        t0 = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - t0) / 1000)
    elapsed = time.perf_counter() - started
    samples.sort()
    return samples[len(samples) // 2], samples[int(len(samples) * 0.99)], calls / elapsed


def report(
    name: str, bridge: tuple[float, float, float], direct: tuple[float, float, float]
) -> None:
    print(
        f"{name:<28} bridge p50 {bridge[0]:8.1f} µs  p99 {bridge[1]:8.1f} µs  {bridge[2]:9.0f}/s"
        f" | direct p50 {direct[0]:6.1f} µs  p99 {direct[1]:6.1f} µs  {direct[2]:9.0f}/s"
        f" | ratio p50 {bridge[0] / direct[0]:6.1f}x  throughput {direct[2] / bridge[2]:6.1f}x"
    )


def watch_delay(target: str, plant: Plant, changes: int) -> list[float]:
    """Milliseconds from the plant writing I_3 to the change arriving on WatchInputs."""
    delays: list[float] = []
    written_at: list[float] = []
    ready = threading.Event()

    def consume() -> None:
        with grpc.insecure_channel(target) as channel:
            stream = pb_grpc.PlatformServiceStub(channel).WatchInputs(
                pb.WatchInputsRequest(names=["I_3"], send_initial=True)
            )
            for reply in stream:
                if not reply.changes[0].HasField("old_value"):
                    ready.set()
                    continue
                delays.append((time.perf_counter() - written_at[-1]) * 1000)
                if len(delays) == changes:
                    stream.cancel()
                    return

    consumer = threading.Thread(target=consume)
    consumer.start()
    ready.wait(10)
    for i in range(changes):
        written_at.append(time.perf_counter())
        plant.set_inputs(I_3=i % 2 == 0)
        time.sleep(0.05)
    consumer.join(10)
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--changes", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        image = create_image_file(Path(scratch) / "procimg.bin")
        plant = Plant(image)
        plant.set_inputs(I_1=True, InputValue_1=4200)
        direct_rpi = open_process_image(image, SAMPLE_CONFIGRSC)
        table = IOTable.from_modio(direct_rpi)
        inputs = [spec.name for spec in table.inputs()]
        target = f"127.0.0.1:{free_port()}"
        with (
            start_bridge(platform_argv(image, target), target, Path(scratch) / "logs"),
            grpc.insecure_channel(target) as channel,
        ):
            stub = pb_grpc.PlatformServiceStub(channel)
            one_pin = pb.GetDIRequest(pins=[0])
            every_input = pb.GetIORequest(names=inputs)

            def direct_one() -> object:
                direct_rpi.readprocimg()
                return direct_rpi.io.I_1.value

            def direct_all() -> object:
                direct_rpi.readprocimg()
                return [direct_rpi.io[name].value for name in inputs]

            print(f"platform bridge benchmark: {args.calls} calls each, loopback TCP, sync client")
            report(
                "GetDI, one pin",
                measure(lambda: stub.GetDI(one_pin), args.calls),
                measure(direct_one, args.calls),
            )
            report(
                f"GetIO, all {len(inputs)} inputs",
                measure(lambda: stub.GetIO(every_input), args.calls),
                measure(direct_all, args.calls),
            )
            delays = sorted(watch_delay(target, plant, args.changes))
            p99 = delays[int(len(delays) * 0.99) - 1]
            print(
                f"WatchInputs delivery ({len(delays)} changes, cycle 20 ms): "
                f"p50 {statistics.median(delays):.1f} ms  p99 {p99:.1f} ms"
                f"  max {delays[-1]:.1f} ms  = {delays[-1] / 20:.2f} cycles at worst"
            )
        direct_rpi.cleanup()
        plant.close()


if __name__ == "__main__":
    main()
