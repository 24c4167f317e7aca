"""Simulated field devices for ``revlink demo`` and the tests: pure models, served for real.

``energy_meter`` is the model of a single-phase energy meter (no I/O, no clock, seeded
noise); ``meter_server`` serves it over Modbus TCP with pymodbus, optionally following the
simulated plant's pump through the process image. ``revlink sim-modbus`` runs it.
"""
