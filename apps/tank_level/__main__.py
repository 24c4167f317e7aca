"""``python -m apps.tank_level``: run the tank level app with pydoover's flags/variables."""

from apps.sdk import run_app
from apps.tank_level import TankLevel

run_app(TankLevel)
