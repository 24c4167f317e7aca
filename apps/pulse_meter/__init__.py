"""Flow metering from a pulse counter: every loop, publish the flow rate and the total.

The platform bridge counts rising edges of the flow meter's DI and averages the rate over
``rate_window`` seconds; with ``litres_per_pulse`` from config that gives litres per minute
and litres so far, published to the ``pulse_meter`` channel (message and aggregate).
"""

from __future__ import annotations

from typing import Any

from apps.sdk import Application, Integer, Number, Schema, String
from apps.sdk.pulses import PulseCounter

__all__ = ["PulseMeter", "PulseMeterConfig", "flow_figures"]


class PulseMeterConfig(Schema):
    pulse_di = Integer("Pulse DI", default=1, minimum=0, description="DI pin of the flow meter")
    litres_per_pulse = Number("Litres Per Pulse", default=0.5, exclusive_minimum=0)
    rate_window = Number("Rate Window", default=20.0, minimum=1, maximum=3600)
    channel = String("Channel", default="pulse_meter", pattern=r"^[A-Za-z0-9_.-]{1,100}$")


def flow_figures(count: int, pulses_per_minute: float, litres_per_pulse: float) -> dict[str, Any]:
    return {
        "pulses": count,
        "flow_l_per_min": round(pulses_per_minute * litres_per_pulse, 3),
        "total_l": round(count * litres_per_pulse, 3),
    }


class PulseMeter(Application):
    config_cls = PulseMeterConfig
    loop_target_period = 1.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.counter: PulseCounter | None = None
        self.last: dict[str, Any] = {}

    @property
    def settings(self) -> PulseMeterConfig:
        assert isinstance(self.config, PulseMeterConfig)
        return self.config

    async def setup(self) -> None:
        await self.device_agent.declare_fields_async(
            self.settings.channel.value,
            {
                "flow_l_per_min": {"unit": "l/min", "name": "Flow"},
                "total_l": {"unit": "l", "name": "Total volume"},
                "pulses": {"name": "Pulses"},
            },
        )
        self.counter = await self.platform_iface.get_new_pulse_counter_async(
            self.settings.pulse_di.value, "rising", rate_window_secs=self.settings.rate_window.value
        )

    async def main_loop(self) -> None:
        assert self.counter is not None
        reading = await self.counter.read_async()
        self.last = flow_figures(
            reading.count, reading.pulses_per_minute, self.settings.litres_per_pulse.value
        )
        await self.device_agent.publish_to_channel_async(
            self.settings.channel.value, self.last, aggregate=self.last
        )
