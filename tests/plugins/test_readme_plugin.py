"""The README's "Write a plugin" example passes the conformance suite it recommends."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from bridges.plugin_host.conformance import PluginConformance
from bridges.plugin_host.sdk import DevicePlugin

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_block(first_line: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    return next(block for block in blocks if block.startswith(first_line))


@pytest.fixture(scope="module")
def my_pump() -> Any:
    module = types.ModuleType("my_pump")
    exec(compile(readme_block("# my_pump/__init__.py"), "README:my_pump", "exec"), vars(module))
    sys.modules["my_pump"] = module
    yield module
    del sys.modules["my_pump"]


def test_the_readme_plugin_conforms(my_pump: Any) -> None:
    namespace: dict[str, Any] = {}
    exec(readme_block("from bridges.plugin_host.conformance"), namespace)
    suite_class = namespace["TestDosingPump"]
    assert issubclass(suite_class, PluginConformance)
    assert issubclass(suite_class.plugin_class, DevicePlugin)
    suite = suite_class()
    checks = [name for name in dir(suite) if name.startswith("test_")]
    assert len(checks) == 11
    for name in checks:
        getattr(suite, name)()
