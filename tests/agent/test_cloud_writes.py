"""The agent's core applying cloud writes: once, told to subscribers, refused with a reason."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from bridges.agent.core import MAX_RECORD_BYTES, DeviceAgent
from bridges.agent.queue import DurableQueue, FullPolicy, QueueLimits


async def test_a_write_is_told_to_subscribers_once(tmp_path: Path) -> None:
    agent = DeviceAgent(DurableQueue(tmp_path / "q.db"))
    try:
        events = agent.events("ui_cmds")
        first = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0)  # the subscription is registered
        outcome = await agent.apply_cloud_write(1, "ui_cmds", '{"cmds": {"go": true}}')
        assert (outcome.duplicate, outcome.refused) == (False, "")
        event = await asyncio.wait_for(first, 2)
        assert (event.kind, json.loads(event.payload_json)) == ("aggregate", {"cmds": {"go": True}})
        assert agent.queue_changed.is_set()  # the change goes up to the cloud
        again = await agent.apply_cloud_write(1, "ui_cmds", '{"cmds": {"go": false}}')
        assert again.duplicate
        second = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0.1)
        assert not second.done()  # the resend told nobody anything
        second.cancel()
        assert json.loads((await agent.aggregate("ui_cmds"))[0]) == {"cmds": {"go": True}}
    finally:
        agent.queue.close()


async def test_a_write_the_device_cannot_take_is_refused_with_the_reason(tmp_path: Path) -> None:
    limits = QueueLimits(max_records=1, policy=FullPolicy.REFUSE_NEW)
    agent = DeviceAgent(DurableQueue(tmp_path / "q.db", limits))
    try:
        bad = await agent.apply_cloud_write(1, "no spaces!", "{}")
        assert "channel 'no spaces!'" in bad.refused
        big = await agent.apply_cloud_write(2, "c", json.dumps({"v": "x" * MAX_RECORD_BYTES}))
        assert "exceeds the limit" in big.refused
        await agent.publish("c", '{"v": 1}')
        full = await agent.apply_cloud_write(3, "c", '{"v": 2}')
        assert "full" in full.refused
        assert agent.queue.stats().last_applied_write_seq == 0
    finally:
        agent.queue.close()
