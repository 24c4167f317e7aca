"""revlink: the ``revlink`` command and the generated protobuf packages.

``revlink.<service>.v1`` subpackages are generated from ``protos/`` by ``make protos`` and
are never edited by hand. Everything else here is the command line that starts processes.
"""

import os

# gRPC's fork handlers can crash a child forked while another thread is inside a gRPC call,
# before it reaches exec. revlink forks only to exec (the demo's parts, tools), never to go
# on using gRPC in the child, so they are switched off; grpc reads this when it is imported.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

__version__ = "0.1.0"
