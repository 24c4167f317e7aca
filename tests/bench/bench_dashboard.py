"""Dashboard speed in a real browser (Debian chromium, headless, through playwright-core).

Run: ``make bench`` or ``python -m tests.bench.bench_dashboard [--seconds S] [--runs N]``.
Needs what tests/e2e needs: /usr/bin/chromium, frontend/node_modules and frontend/dist.

(a) History: 10,000 points of one sensor lie in the range (sent through the real uplink).
    Navigating to ``/history?sensor=…&start=…&end=…`` until the page's
    ``performance.mark('revlink:chart-painted')``, against two baselines from the same
    navigations: the first contentful paint, and the bare ``/api/v1/datapoints`` request the
    page makes, fetched again alone from the page (network + JSON parse).
(b) Live: 50 sensors updated at 5 Hz through a real device agent for ``--seconds``, the live
    page showing all 50. Frame time (requestAnimationFrame deltas) p50/p95 against the same
    page idle for as long; updates sent vs datapoints that reached the page's socket vs value
    changes seen on screen (a MutationObserver on the ``live-value`` elements). The cloud
    forwards at most one point per sensor every 200 ms, so 5 Hz is right at its limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from apps.sdk.agent import DeviceAgentInterface
from revlink.uplink.v1 import uplink_pb2 as pb
from tests.bench.support import fresh_database
from tests.e2e.harness import browser_problems, check, poll, sensor_ids, start_script
from tests.rig.agent import agent_status, start_agent
from tests.rig.cloud import CloudServer, start_cloud
from tests.rig.uplink import uplink_client

SCRIPT = "bench/dashboard.perf.ts"
SENSORS = 50
RATE_HZ = 5


async def seed_history(cloud: CloudServer, token: str, points: int, start: datetime) -> None:
    """``points`` values of ``hist.value``, evenly over the hour after ``start``."""
    step = timedelta(hours=1) / points
    async with uplink_client(cloud.ws_url, token) as link:
        await link.hello()
        for first in range(1, points + 1, 500):
            batch = pb.Batch()
            for seq in range(first, min(first + 500, points + 1)):
                rec = batch.records.add(seq=seq, channel="hist")
                rec.message_json = json.dumps({"value": round(50 + 40 * math.sin(seq / 300), 3)})
                rec.source_time.FromDatetime(start + step * (seq - 1))
            await link.send(pb.DeviceFrame(batch=batch))
            ack, errors = await link.until_ack()
            if ack is None or errors:
                raise RuntimeError(f"the cloud refused the history seed: {errors}")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def history_bench(cloud: CloudServer, admin: str, runs: int, points: int) -> None:
    _, token = cloud.device("bench-history")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1, minutes=1)
    asyncio.run(seed_history(cloud, token, points, start))
    with cloud.http(admin) as client:
        sensors = client.get("/api/v1/sensors").json()
    (sensor,) = [s["public_id"] for s in sensors if s["key"] == "hist.value"]
    query = urlencode(
        {
            "sensor": sensor,
            "start": start.isoformat().replace("+00:00", "Z"),
            "end": (start + timedelta(hours=1, minutes=1)).isoformat().replace("+00:00", "Z"),
        }
    )
    env = {
        "E2E_BASE_URL": cloud.base_url,
        "E2E_TOKEN": admin,
        "E2E_BENCH_MODE": "history",
        "E2E_BENCH_RUNS": str(runs),
        "E2E_HISTORY_PATH": f"/history?{query}",
    }
    run = start_script(SCRIPT, "bench-history", env)
    check(run, 600)
    results: list[dict[str, Any]] = json.loads((run.output_dir / "history.json").read_text())
    fcp = statistics.median(r["fcp"] for r in results)
    painted = statistics.median(r["painted"] for r in results)
    page_request = statistics.median(r["pageRequest"] for r in results)
    bare = statistics.median(r["bareRequest"] for r in results)
    plotted = results[-1]["points"]
    asked = results[-1]["requests"][0].split("?", 1)[1]
    print(f"(a) history page, {points:,} points in range, median of {len(results)} navigations")
    print(f"    the page asked /api/v1/datapoints?{asked}; chart data-points={plotted}")
    print(f"    first contentful paint           {fcp:8.1f} ms   (baseline 1)")
    print(f"    bare /api/v1/datapoints request  {bare:8.1f} ms   (baseline 2, fetch + JSON)")
    print(f"    the page's own request           {page_request:8.1f} ms")
    print(
        f"    first chart painted              {painted:8.1f} ms   = {painted / fcp:5.2f} x FCP,"
        f" {painted / bare:5.2f} x the bare request"
    )


def live_bench(cloud: CloudServer, admin: str, seconds: float, workdir: Path) -> None:
    device_id, token = cloud.device("bench-live")
    fields = [f"s{i:02d}" for i in range(SENSORS)]
    with start_agent(workdir / "agent", workdir / "logs", cloud.base_url, token) as agent:
        poll(lambda: agent_status(agent.target).cloud_connected, 20, "the bench agent online")
        dda = DeviceAgentInterface("bench", agent.target)
        try:
            dda.publish_to_channel("bench", dict.fromkeys(fields, 0.0))
            keys = [f"bench.{f}" for f in fields]
            ids = sensor_ids(cloud.base_url, admin, device_id, keys)
            env = {
                "E2E_BASE_URL": cloud.base_url,
                "E2E_TOKEN": admin,
                "E2E_BENCH_MODE": "live",
                "E2E_BENCH_SECONDS": str(seconds),
                "E2E_SENSORS": ",".join(ids[f"bench.{f}"] for f in fields),
            }
            run = start_script(SCRIPT, "bench-live", env)
            run.wait_for_signal("load-start", seconds + 120)
            ticks = 0
            began = time.monotonic()
            while time.monotonic() - began < seconds:
                ticks += 1
                dda.publish_to_channel(
                    "bench", {f: round(ticks + i / 100, 2) for i, f in enumerate(fields)}
                )
                next_at = began + ticks / RATE_HZ
                time.sleep(max(0.0, next_at - time.monotonic()))
            elapsed = time.monotonic() - began
            run.answer("load-start", {"ticks": ticks, "seconds": elapsed})
            check(run, 120)
        finally:
            dda.close()
    data = json.loads((run.output_dir / "live.json").read_text())
    idle, loaded = data["idle"], data["loaded"]
    sent = ticks * SENSORS
    print(
        f"(b) live page, {SENSORS} sensors x {RATE_HZ} Hz for {elapsed:.0f} s through the agent"
        f" ({ticks / elapsed:.2f} publishes/s achieved)"
    )
    print(f"    {'':28} {'idle':>10} {'50 x 5 Hz':>10} {'ratio':>7}")
    for label, q in (("frame time p50 (ms)", 0.5), ("frame time p95 (ms)", 0.95)):
        a, b = percentile(idle["frames"], q), percentile(loaded["frames"], q)
        print(f"    {label:28} {a:10.1f} {b:10.1f} {b / a:7.2f}")
    a = sum(1 for f in idle["frames"] if f > 50)
    b = sum(1 for f in loaded["frames"] if f > 50)
    print(f"    {'frames over 50 ms':28} {a:10d} {b:10d}")
    a, b = len(idle["frames"]) / idle["seconds"], len(loaded["frames"]) / loaded["seconds"]
    print(f"    {'frames per second':28} {a:10.1f} {b:10.1f} {b / a:7.2f}")
    socket, seen = loaded["socketPoints"], loaded["changes"]
    print(f"    updates sent                       {sent:8d}")
    print(
        f"    datapoints on the page's socket    {socket:8d}  = {socket / sent:5.3f} of sent"
        f" ({sent - socket} dropped before the browser)"
    )
    print(
        f"    value changes on screen            {seen:8d}  = {seen / sent:5.3f} of sent,"
        f" {seen / max(socket, 1):5.3f} of socket ({socket - seen} received but not shown)"
    )
    print(f"    value changes while idle           {idle['changes']:8d}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="live phase length (each)")
    parser.add_argument("--runs", type=int, default=5, help="history navigations to time")
    parser.add_argument("--points", type=int, default=10_000)
    args = parser.parse_args()
    problems = browser_problems()
    if problems:
        print("dashboard benchmark skipped: " + "; ".join(problems), file=sys.stderr)
        return
    async with fresh_database() as database:
        with (
            tempfile.TemporaryDirectory() as scratch,
            start_cloud(database.url, Path(scratch)) as cloud,
        ):
            admin = await asyncio.to_thread(cloud.admin_token)
            print("dashboard benchmark: headless /usr/bin/chromium, cloud on PostgreSQL")
            await asyncio.to_thread(history_bench, cloud, admin, args.runs, args.points)
            await asyncio.to_thread(live_bench, cloud, admin, args.seconds, Path(scratch))


if __name__ == "__main__":
    asyncio.run(main())
