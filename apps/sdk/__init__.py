"""The Application SDK: what a device app subclasses and calls (pydoover-style).

Import the pieces from their modules for now: ``apps.sdk.platform.PlatformInterface``,
``apps.sdk.errors``; the ``Application`` class and ``run_app`` are still being built.
"""
