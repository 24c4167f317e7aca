"""An app stand-in for the watchdog test: writes outputs under a lease and keeps renewing.

Usage: python -m tests.support.lease_client TARGET TTL_S DO_PIN DO_VALUE AO_PIN AO_VALUE
Prints READY once the outputs are written, then renews every TTL/4 until killed.
"""

from __future__ import annotations

import sys
import time

import grpc
from google.protobuf.duration_pb2 import Duration

from revlink.platform.v1 import platform_pb2 as pb
from revlink.platform.v1 import platform_pb2_grpc as pb_grpc


def main() -> None:
    target, ttl, do_pin, do_value, ao_pin, ao_value = sys.argv[1:7]
    ttl_s = float(ttl)
    with grpc.insecure_channel(target) as channel:
        platform = pb_grpc.PlatformServiceStub(channel)
        duration = Duration()
        duration.FromNanoseconds(int(ttl_s * 1e9))
        lease = platform.AcquireLease(pb.AcquireLeaseRequest(holder="lease-client", ttl=duration))
        platform.SetDO(
            pb.SetDORequest(pins=[int(do_pin)], values=[do_value == "1"], lease_id=lease.lease_id)
        )
        platform.SetAO(
            pb.SetAORequest(pins=[int(ao_pin)], values=[int(ao_value)], lease_id=lease.lease_id)
        )
        print("READY", flush=True)
        while True:
            time.sleep(ttl_s / 4)
            platform.RenewLease(pb.RenewLeaseRequest(lease_id=lease.lease_id))


if __name__ == "__main__":
    main()
