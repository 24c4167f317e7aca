"""apps.sdk.testing: an app developer's rig of real bridges on a simulated RevPi."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from apps.pulse_meter import PulseMeter
from apps.sdk.testing import SimulatedRevPi
from apps.tank_level import TankLevel


async def test_step_an_app_with_the_plant_under_the_tests_control(tmp_path: Path) -> None:
    async with SimulatedRevPi(tmp_path) as rig:
        app = rig.app(TankLevel, config={"start_below": 30, "stop_above": 80})
        async with rig.running(app):
            rig.plant.set_ai(0, 2000)  # 20 % of 10 V
            await app.next()
            assert rig.plant.get_do(0) is True
            rig.plant.set_ai(0, 9000)
            await app.next()
            assert rig.plant.get_do(0) is False
        meter = rig.app(PulseMeter, config={"pulse_di": 2, "litres_per_pulse": 1})
        async with rig.running(meter):
            for level in (True, False, True, False):
                rig.plant.set_di(2, level)
                await asyncio.sleep(0.06)
            await meter.next()
            assert meter.last["pulses"] == 2


def test_the_sdk_never_imports_bridges_or_cloud() -> None:
    code = (
        "import sys, apps.sdk, apps.sdk.testing, apps.tank_level, apps.pulse_meter\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('bridges', 'cloud'))\n"
        "assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
