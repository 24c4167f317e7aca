"""Discovery by entry point: a package installed beside the host appears without code here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PLUGIN = """
from bridges.plugin_host.sdk import Channel, DevicePlugin, PluginMeta

class Thermo(DevicePlugin):
    meta = PluginMeta("thermo", "Thermometer", "2.1", "reads a temperature")

    def channels(self):
        return [Channel("t", "Temperature", unit="degC")]

    async def read_inputs(self):
        return {"t": 21.5}

class NotAPlugin:
    pass
"""


def install(site: Path, name: str, entry_points: str) -> None:
    """A distribution as pip leaves it: the module plus a .dist-info with its entry points."""
    (site / f"{name}.py").write_text(PLUGIN)
    info = site / f"{name}-2.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 2.1\n")
    (info / "entry_points.txt").write_text(f"[revlink.plugins]\n{entry_points}\n")


def test_an_installed_package_is_discovered(tmp_path: Path) -> None:
    install(
        tmp_path,
        "revlink_thermo",
        "thermo = revlink_thermo:Thermo\n"
        "broken = revlink_thermo:NotAPlugin\n"
        "missing = no_such_module:X",
    )
    code = (
        "import json\nfrom bridges.plugin_host.discovery import discover\n"
        "print(json.dumps({k: [v.distribution, v.entry_point, v.load_error,"
        " v.plugin_class.meta.version if v.plugin_class else None]"
        " for k, v in discover().items()}))"
    )
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["thermo"] == ["revlink_thermo", "revlink_thermo:Thermo", "", "2.1"]
    assert "not a DevicePlugin subclass" in found["broken"][2]
    assert "ModuleNotFoundError" in found["missing"][2]
