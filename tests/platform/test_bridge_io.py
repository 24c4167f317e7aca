"""The platform bridge as a real process, checked through an independent revpimodio2 plant."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration

from bridges.platform.iotable import IOKind
from revlink.platform.v1 import platform_pb2 as pb
from revlink.platform.v1 import platform_pb2_grpc as pb_grpc
from tests.rig.platform import Plant, wait_for

Stub = pb_grpc.PlatformServiceStub


async def test_list_io_describes_config(platform_stub: Stub, plant: Plant) -> None:
    ios = (await platform_stub.ListIO(pb.ListIORequest())).ios
    by_kind: dict[int, list[pb.IODescriptor]] = {}
    for io in ios:
        by_kind.setdefault(io.kind, []).append(io)
    assert [len(by_kind[k]) for k in (pb.IO_KIND_DI, pb.IO_KIND_DO, pb.IO_KIND_AI)] == [16, 16, 6]
    assert [len(by_kind[k]) for k in (pb.IO_KIND_AO, pb.IO_KIND_COUNTER)] == [2, 16]
    for kind, specs in by_kind.items():
        assert [io.pin for io in specs] == list(range(len(specs))), kind
    do0 = by_kind[pb.IO_KIND_DO][0]
    assert (do0.name, do0.byte_address, do0.bit_address, do0.writable) == ("O_1", 159, 0, True)
    assert do0.device_name == "RevPi DIO"
    ai0 = by_kind[pb.IO_KIND_AI][0]
    assert (ai0.bit_length, ai0.signed, ai0.writable, ai0.is_input) == (16, True, False, True)
    ao = by_kind[pb.IO_KIND_AO]
    assert [(io.min_value, io.max_value) for io in ao] == [(0, 10000), (-10000, 10000)]
    assert not ai0.HasField("bit_address")
    # The bridge's table agrees with the plant's independent view.
    assert [io.name for io in ios] == [spec.name for spec in plant.table]


async def test_batched_reads_of_inputs(platform_stub: Stub, plant: Plant) -> None:
    di = [plant.name(IOKind.DI, pin) for pin in range(3)]
    ai = [plant.name(IOKind.AI, pin) for pin in (0, 1)]
    plant.set_inputs(**{di[0]: True, di[2]: True, ai[0]: 7321, ai[1]: -2500})
    assert list((await platform_stub.GetDI(pb.GetDIRequest(pins=[0, 1, 2]))).values) == [
        True,
        False,
        True,
    ]
    assert list((await platform_stub.GetDI(pb.GetDIRequest(pins=[2, 0]))).values) == [True, True]
    assert list((await platform_stub.GetAI(pb.GetAIRequest(pins=[0, 1]))).values) == [7321, -2500]


async def test_set_do_lands_on_the_right_bits(platform_stub: Stub, plant: Plant) -> None:
    await platform_stub.SetDO(pb.SetDORequest(pins=[0, 2], values=[True]))
    assert plant.get("O_1") is True
    assert plant.get("O_2") is False
    assert plant.get("O_3") is True
    assert plant.raw(159) == bytes([0b101])  # O_1 and O_3 in the DIO output word
    await platform_stub.SetDO(pb.SetDORequest(pins=[0, 9], values=[False, True]))
    assert plant.raw(159, 2) == bytes([0b100, 0b10])  # O_10 is bit 1 of the next byte
    reply = await platform_stub.GetDO(pb.GetDORequest(pins=[0, 2, 9]))
    assert list(reply.values) == [False, True, True]


async def test_set_ao_and_read_back(platform_stub: Stub, plant: Plant) -> None:
    await platform_stub.SetAO(pb.SetAORequest(pins=[0, 1], values=[7500, -5000]))
    assert plant.get("OutputValue_1") == 7500
    assert plant.raw(22, 2) == (-5000).to_bytes(2, "little", signed=True)
    assert list((await platform_stub.GetAO(pb.GetAORequest(pins=[1, 0]))).values) == [-5000, 7500]


async def test_get_and_set_io_by_name_with_types(platform_stub: Stub, plant: Plant) -> None:
    plant.set_inputs(I_5=True, RTDValue_1=235)
    reply = await platform_stub.GetIO(pb.GetIORequest(names=["I_5", "RTDValue_1", "Input1Range"]))
    assert reply.values[0].bool_value is True
    assert reply.values[1].int_value == 235
    assert reply.values[2].int_value == 2  # memory: the range configured in config.rsc
    await platform_stub.SetIO(
        pb.SetIORequest(
            values=[
                pb.NamedValue(name="O_7", value=pb.IOValue(bool_value=True)),
                pb.NamedValue(name="PWM_3", value=pb.IOValue(int_value=200)),
            ]
        )
    )
    assert plant.get("O_7") is True
    assert plant.get("PWM_3") == 200


@pytest.mark.parametrize(
    ("call", "code", "words"),
    [
        (lambda s: s.GetDI(pb.GetDIRequest(pins=[16])), "NOT_FOUND", ["DI pin 16", "0..15"]),
        (lambda s: s.SetAO(pb.SetAORequest(pins=[5], values=[1])), "NOT_FOUND", ["AO pin 5"]),
        (lambda s: s.GetIO(pb.GetIORequest(names=["Pump_9"])), "NOT_FOUND", ["'Pump_9'"]),
        (
            lambda s: s.SetIO(
                pb.SetIORequest(
                    values=[pb.NamedValue(name="I_1", value=pb.IOValue(bool_value=True))]
                )
            ),
            "FAILED_PRECONDITION",
            ["I_1", "input"],
        ),
        (
            lambda s: s.SetAO(pb.SetAORequest(pins=[0], values=[10001])),
            "INVALID_ARGUMENT",
            ["OutputValue_1", "0..10000"],
        ),
        (
            lambda s: s.SetIO(
                pb.SetIORequest(values=[pb.NamedValue(name="O_1", value=pb.IOValue(int_value=1))])
            ),
            "INVALID_ARGUMENT",
            ["O_1", "bool"],
        ),
        (
            lambda s: s.SetIO(
                pb.SetIORequest(
                    values=[pb.NamedValue(name="PWM_1", value=pb.IOValue(int_value=256))]
                )
            ),
            "INVALID_ARGUMENT",
            ["PWM_1", "0..255"],
        ),
        (
            lambda s: s.SetDO(pb.SetDORequest(pins=[0, 1, 2], values=[True, False])),
            "INVALID_ARGUMENT",
            ["3 pins but 2 values"],
        ),
        (lambda s: s.GetDI(pb.GetDIRequest()), "INVALID_ARGUMENT", ["no DI pins"]),
    ],
)
async def test_clear_errors(platform_stub: Stub, call: object, code: str, words: list[str]) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call(platform_stub)  # type: ignore[operator]
    assert err.value.code().name == code
    for word in words:
        assert word in (err.value.details() or "")


async def test_a_bad_write_in_a_batch_writes_nothing(platform_stub: Stub, plant: Plant) -> None:
    request = pb.SetIORequest(
        values=[
            pb.NamedValue(name="O_1", value=pb.IOValue(bool_value=True)),
            pb.NamedValue(name="OutputValue_1", value=pb.IOValue(int_value=-1)),
        ]
    )
    with pytest.raises(grpc.aio.AioRpcError):
        await platform_stub.SetIO(request)
    assert plant.get("O_1") is False
    assert plant.get("OutputValue_1") == 0


async def test_watch_inputs_streams_changes(platform_stub: Stub, plant: Plant) -> None:
    stream = platform_stub.WatchInputs(
        pb.WatchInputsRequest(names=["I_2", "InputValue_3"], send_initial=True)
    )
    initial = await asyncio.wait_for(stream.read(), 5)
    assert {c.name: c.HasField("old_value") for c in initial.changes} == {
        "I_2": False,
        "InputValue_3": False,
    }
    await asyncio.to_thread(plant.set_inputs, I_2=True, InputValue_3=4321, I_4=True)
    update = await asyncio.wait_for(stream.read(), 5)
    changes = {c.name: c for c in update.changes}
    assert set(changes) == {"I_2", "InputValue_3"}  # I_4 was not asked for
    assert changes["I_2"].old_value.bool_value is False
    assert changes["I_2"].new_value.bool_value is True
    assert (changes["I_2"].kind, changes["I_2"].pin) == (pb.IO_KIND_DI, 1)
    assert changes["InputValue_3"].new_value.int_value == 4321
    assert changes["I_2"].time.seconds > 0
    stream.cancel()


async def test_watch_rejects_outputs(platform_stub: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        async for _ in platform_stub.WatchInputs(pb.WatchInputsRequest(names=["O_1"])):
            pass
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_schedule_do_and_later_write_cancels(platform_stub: Stub, plant: Plant) -> None:
    delay = Duration(nanos=300_000_000)
    reply = await platform_stub.ScheduleDO(
        pb.ScheduleDORequest(pins=[3], values=[True], delay=delay)
    )
    assert reply.due_time.seconds > 0
    assert plant.get("O_4") is False
    await asyncio.to_thread(wait_for, lambda: plant.get("O_4") is True, 5.0, "scheduled O_4")

    await platform_stub.ScheduleDO(pb.ScheduleDORequest(pins=[4], values=[True], delay=delay))
    await platform_stub.ScheduleAO(pb.ScheduleAORequest(pins=[0], values=[5000], delay=delay))
    await platform_stub.SetDO(pb.SetDORequest(pins=[4], values=[False]))  # cancels O_5 only
    await asyncio.to_thread(wait_for, lambda: plant.get("OutputValue_1") == 5000, 5.0, "AO")
    assert plant.get("O_5") is False


async def test_hardware_counters(platform_stub: Stub, plant: Plant) -> None:
    plant.set_inputs(Counter_2=42, Counter_16=2**32 - 1)
    reply = await platform_stub.GetCounters(pb.GetCountersRequest(pins=[1, 15]))
    assert list(reply.counts) == [42, 2**32 - 1]
    await platform_stub.ResetCounters(pb.ResetCountersRequest(pins=[1]))
    assert plant.raw(89 + 6 + 4, 4) == bytes(4)  # Counter_2's four bytes in the image
    assert list((await platform_stub.GetCounters(pb.GetCountersRequest(pins=[1]))).counts) == [0]


async def test_edge_counter_on_a_di(platform_stub: Stub, plant: Plant) -> None:
    rising = await platform_stub.StartPulseCounter(pb.StartPulseCounterRequest(di_pin=5))
    both = await platform_stub.StartPulseCounter(
        pb.StartPulseCounterRequest(di_pin=5, edge=pb.EDGE_BOTH)
    )
    name = plant.name(IOKind.DI, 5)
    for _ in range(4):
        for level in (True, False):
            plant.set_inputs(**{name: level})
            await asyncio.sleep(0.08)  # longer than the IO cycle, as a real pulse must be
    counted = await platform_stub.GetPulseCount(
        pb.GetPulseCountRequest(counter_id=rising.counter_id)
    )
    assert counted.count == 4
    assert counted.pulses_per_minute == pytest.approx(4 * 60 / 20)
    assert counted.last_pulse_time.seconds > 0
    stopped = await platform_stub.StopPulseCounter(
        pb.StopPulseCounterRequest(counter_id=both.counter_id)
    )
    assert stopped.count == 8
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform_stub.GetPulseCount(pb.GetPulseCountRequest(counter_id=both.counter_id))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_system_status(platform_stub: Stub, plant: Plant) -> None:
    plant.set_inputs(RevPiStatus=1, RevPiIOCycle=7, Core_Temperature=47, Core_Frequency=120)
    status = await platform_stub.GetSystemStatus(pb.GetSystemStatusRequest())
    assert status.core_temperature_celsius == 47
    assert status.cpu_frequency_mhz == 1200
    assert status.picontrol_running is True
    assert status.io_cycle_ms == 7
    assert status.bridge_cycle_ms == 20
    assert status.simulated is True
