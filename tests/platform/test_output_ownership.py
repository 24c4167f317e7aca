"""Outputs have one owner: the lease that wrote them, until it is released or expires.

All against the real bridge process, with the plant's independent revpimodio2 view of the
outputs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration

from revlink.error_reasons import REASON_KEY
from revlink.platform.v1 import platform_pb2 as pb
from revlink.platform.v1 import platform_pb2_grpc as pb_grpc
from tests.rig.platform import Plant, PlatformBridge, wait_for

Stub = pb_grpc.PlatformServiceStub


async def lease(stub: Stub, holder: str, ttl_s: float = 30.0) -> str:
    ttl = Duration()
    ttl.FromNanoseconds(round(ttl_s * 1e9))
    reply = await stub.AcquireLease(pb.AcquireLeaseRequest(holder=holder, ttl=ttl))
    return str(reply.lease_id)


async def refused(call: Awaitable[object]) -> tuple[grpc.StatusCode, str, str]:
    """(status, reason, message) of a call that must fail."""
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    reasons = [v for k, v in err.value.trailing_metadata() or () if k == REASON_KEY]
    return err.value.code(), str(reasons[0]) if reasons else "", err.value.details() or ""


async def owners(stub: Stub) -> dict[str, pb.IODescriptor]:
    ios = (await stub.ListIO(pb.ListIORequest())).ios
    return {io.name: io for io in ios if io.owner}


async def test_another_lease_or_no_lease_cannot_write_an_owned_output(
    platform_stub: Stub, plant: Plant, platform_bridge: PlatformBridge
) -> None:
    tank, thief = await lease(platform_stub, "tank_level"), await lease(platform_stub, "thief")
    await platform_stub.SetDO(pb.SetDORequest(pins=[0], values=[True], lease_id=tank))
    for lease_id, by in ((thief, "from 'thief'"), ("", "under no lease")):
        code, reason, message = await refused(
            platform_stub.SetDO(pb.SetDORequest(pins=[0], values=[False], lease_id=lease_id))
        )
        assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "OUTPUT_OWNED")
        assert "O_1 is owned by 'tank_level'" in message
        assert "lease expires 20" in message  # the owner's expiry, as a UTC time
        assert by in message
        assert plant.get("O_1") is True
    # The owner writes on as before.
    await platform_stub.SetDO(pb.SetDORequest(pins=[0], values=[False], lease_id=tank))
    assert plant.get("O_1") is False
    assert "output.write_refused" in platform_bridge.process.output()


async def test_a_write_of_several_outputs_is_refused_whole(
    platform_stub: Stub, plant: Plant
) -> None:
    tank, thief = await lease(platform_stub, "tank_level"), await lease(platform_stub, "thief")
    await platform_stub.SetIO(
        pb.SetIORequest(
            values=[pb.NamedValue(name="OutputValue_1", value=pb.IOValue(int_value=2000))],
            lease_id=tank,
        )
    )
    _, reason, message = await refused(
        platform_stub.SetIO(
            pb.SetIORequest(
                values=[
                    pb.NamedValue(name="O_2", value=pb.IOValue(bool_value=True)),
                    pb.NamedValue(name="OutputValue_1", value=pb.IOValue(int_value=9000)),
                ],
                lease_id=thief,
            )
        )
    )
    assert reason == "OUTPUT_OWNED"
    assert "OutputValue_1 is owned by 'tank_level'" in message
    assert "O_2" not in message.split(":")[0]  # only the owned one is named as the problem
    assert (plant.get("O_2"), plant.get("OutputValue_1")) == (False, 2000)
    assert "O_2" not in await owners(platform_stub)  # the free one was not claimed either
    _, reason, _ = await refused(
        platform_stub.SetAO(pb.SetAORequest(pins=[1, 0], values=[100], lease_id=thief))
    )
    assert reason == "OUTPUT_OWNED"
    assert plant.get("OutputValue_2") == 0


async def test_list_io_shows_each_outputs_owner(platform_stub: Stub) -> None:
    tank = await lease(platform_stub, "tank_level", ttl_s=30)
    await platform_stub.SetDO(pb.SetDORequest(pins=[0, 3], values=[True], lease_id=tank))
    await platform_stub.SetDO(pb.SetDORequest(pins=[5], values=[True]))  # unleased: unowned
    ios = {io.name: io for io in (await platform_stub.ListIO(pb.ListIORequest())).ios}
    for name in ("O_1", "O_4"):
        assert ios[name].owner == "tank_level"
        left = ios[name].owner_lease_expire_time.ToNanoseconds() / 1e9 - time.time()
        assert 20 < left <= 31
    for name in ("O_6", "O_2", "I_1", "OutputValue_1"):
        assert ios[name].owner == ""
        assert not ios[name].HasField("owner_lease_expire_time")


async def test_release_and_expiry_free_the_outputs(platform_stub: Stub, plant: Plant) -> None:
    first = await lease(platform_stub, "first")
    await platform_stub.SetDO(pb.SetDORequest(pins=[1], values=[True], lease_id=first))
    await platform_stub.ReleaseLease(pb.ReleaseLeaseRequest(lease_id=first))
    await platform_stub.SetDO(pb.SetDORequest(pins=[1], values=[False]))  # free again
    assert plant.get("O_2") is False

    short = await lease(platform_stub, "short", ttl_s=0.3)
    await platform_stub.SetDO(pb.SetDORequest(pins=[2], values=[True], lease_id=short))
    assert "O_3" in await owners(platform_stub)

    def expired() -> bool:
        return plant.get("O_3") is False  # the watchdog put it back to its safe value

    await asyncio.to_thread(wait_for, expired, 10, "the short lease to expire")
    assert "O_3" not in await owners(platform_stub)
    other = await lease(platform_stub, "other")
    await platform_stub.SetDO(pb.SetDORequest(pins=[2], values=[True], lease_id=other))
    assert (await owners(platform_stub))["O_3"].owner == "other"


async def test_renew_with_a_ttl_resizes_the_lease_and_keeps_its_outputs(
    platform_stub: Stub,
) -> None:
    app = await lease(platform_stub, "app", ttl_s=5)
    await platform_stub.SetDO(pb.SetDORequest(pins=[4], values=[True], lease_id=app))
    reply = await platform_stub.RenewLease(
        pb.RenewLeaseRequest(lease_id=app, ttl=Duration(seconds=120))
    )
    assert reply.expire_time.ToNanoseconds() / 1e9 - time.time() > 100
    io = (await owners(platform_stub))["O_5"]
    assert io.owner == "app"
    assert io.owner_lease_expire_time.ToNanoseconds() / 1e9 - time.time() > 100
    plain = await platform_stub.RenewLease(pb.RenewLeaseRequest(lease_id=app))
    assert plain.expire_time.ToNanoseconds() / 1e9 - time.time() > 100  # the new ttl stays
    code, reason, _ = await refused(
        platform_stub.RenewLease(pb.RenewLeaseRequest(lease_id=app, ttl=Duration(seconds=-1)))
    )
    assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_VALUE")


async def test_takeover_moves_outputs_and_is_logged(
    platform_stub: Stub, plant: Plant, platform_bridge: PlatformBridge
) -> None:
    tank = await lease(platform_stub, "tank_level")
    await platform_stub.SetDO(pb.SetDORequest(pins=[0, 1], values=[True], lease_id=tank))
    operator = await lease(platform_stub, "operator")
    reply = await platform_stub.TakeOverOutputs(
        pb.TakeOverOutputsRequest(
            lease_id=operator, names=["O_1"], do_pins=[1, 7], reason="pump test"
        )
    )
    assert [(t.name, t.previous_owner) for t in reply.outputs] == [
        ("O_1", "tank_level"),
        ("O_2", "tank_level"),
        ("O_8", ""),
    ]
    assert {n: io.owner for n, io in (await owners(platform_stub)).items()} == {
        "O_1": "operator",
        "O_2": "operator",
        "O_8": "operator",
    }
    # The previous owner's next write is refused, naming the new owner.
    _, reason, message = await refused(
        platform_stub.SetDO(pb.SetDORequest(pins=[0], values=[False], lease_id=tank))
    )
    assert reason == "OUTPUT_OWNED"
    assert "O_1 is owned by 'operator'" in message
    await platform_stub.SetDO(pb.SetDORequest(pins=[0], values=[False], lease_id=operator))
    assert plant.get("O_1") is False
    log = platform_bridge.process.output()
    (line,) = [line for line in log.splitlines() if "lease.takeover" in line]
    for word in ("warning", "tank_level", "operator", "O_1", "O_2", "O_8", "pump test"):
        assert word in line, (word, line)
    # Its release gives the outputs back to their safe values and to nobody.
    await platform_stub.ReleaseLease(
        pb.ReleaseLeaseRequest(lease_id=operator, restore_safe_values=True)
    )
    assert plant.get("O_2") is False
    assert await owners(platform_stub) == {}
    await platform_stub.SetDO(pb.SetDORequest(pins=[0], values=[True], lease_id=tank))
    assert plant.get("O_1") is True


async def test_takeover_needs_a_lease_and_outputs(platform_stub: Stub) -> None:
    operator = await lease(platform_stub, "operator")
    for request, expected in (
        (pb.TakeOverOutputsRequest(names=["O_1"]), "INVALID_VALUE"),
        (pb.TakeOverOutputsRequest(lease_id=operator), "INVALID_VALUE"),
        (pb.TakeOverOutputsRequest(lease_id=operator, names=["I_1"]), "NOT_WRITABLE"),
        (pb.TakeOverOutputsRequest(lease_id=operator, ao_pins=[9]), "UNKNOWN_IO"),
        (pb.TakeOverOutputsRequest(lease_id="gone", names=["O_1"]), "UNKNOWN_LEASE"),
    ):
        _, reason, _ = await refused(platform_stub.TakeOverOutputs(request))
        assert reason == expected, request


async def test_scheduled_writes_are_checked_when_scheduled_and_when_due(
    platform_stub: Stub, plant: Plant, platform_bridge: PlatformBridge
) -> None:
    tank, thief = await lease(platform_stub, "tank_level"), await lease(platform_stub, "thief")
    await platform_stub.SetDO(pb.SetDORequest(pins=[0], values=[False], lease_id=tank))
    code, reason, message = await refused(
        platform_stub.ScheduleDO(
            pb.ScheduleDORequest(pins=[0], values=[True], delay=Duration(seconds=1), lease_id=thief)
        )
    )
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "OUTPUT_OWNED")
    assert "O_1 is owned by 'tank_level'" in message
    # Scheduled on a free output, then taken over before it is due: skipped, not applied.
    await platform_stub.ScheduleDO(
        pb.ScheduleDORequest(pins=[6], values=[True], delay=Duration(seconds=3), lease_id=tank)
    )
    operator = await lease(platform_stub, "operator")
    await platform_stub.TakeOverOutputs(
        pb.TakeOverOutputsRequest(lease_id=operator, names=["O_7"], reason="test")
    )

    def skipped() -> bool:
        return "schedule.skipped" in platform_bridge.process.output()

    await asyncio.to_thread(wait_for, skipped, 15, "the due write to be skipped")
    assert plant.get("O_7") is False
    (line,) = [x for x in platform_bridge.process.output().splitlines() if "schedule.skipped" in x]
    for word in ("warning", "O_7", "tank_level", "operator"):
        assert word in line, (word, line)
    # The owner's own scheduled write is applied.
    await platform_stub.ScheduleDO(
        pb.ScheduleDORequest(pins=[0], values=[True], delay=Duration(), lease_id=tank)
    )
    await asyncio.to_thread(wait_for, lambda: plant.get("O_1") is True, 10, "O_1 scheduled")
