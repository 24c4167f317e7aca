"""``revlink sim``: a simulated plant that drives a process image from the field side.

Without RevPi hardware the bridge and the apps still need a live process to talk to: a tank
that fills while the pump output is on, a float switch, a temperature probe and a pulse
counter. ``plant`` is the pure model; ``runner`` binds it to a process image through
revpimodio2. Import ``runner`` explicitly: it needs the device extra (revpimodio2).
"""

from bridges.platform.sim.plant import Plant, PlantParameters, PlantReadings

__all__ = ["Plant", "PlantParameters", "PlantReadings"]
