"""revlink: the ``revlink`` command and the generated protobuf packages.

``revlink.<service>.v1`` subpackages are generated from ``protos/`` by ``make protos`` and
are never edited by hand. Everything else here is the command line that starts processes.
"""

__version__ = "0.1.0"
