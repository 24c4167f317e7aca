"""Plugins shipped with revlink: ``system`` (host metrics) and ``simulated`` (a test device).

They register through the ``revlink.plugins`` entry-point group exactly like a third-party
plugin does, so they double as worked examples of the SDK.
"""
