"""``python -m apps.pulse_meter``: run the pulse meter app with pydoover's flags/variables."""

from apps.pulse_meter import PulseMeter
from apps.sdk import run_app

run_app(PulseMeter)
