"""Plugins shipped with revlink: ``system`` (host metrics), ``simulated`` (a test device) and
``modbus`` (a Modbus TCP or RTU device mapped to channels by its config).

They register through the ``revlink.plugins`` entry-point group exactly like a third-party
plugin does, so they double as worked examples of the SDK.
"""
