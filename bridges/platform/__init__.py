"""The platform I/O bridge: the RevPi's process image through revpimodio2, over gRPC."""

from pathlib import Path

SAMPLE_CONFIGRSC = Path(__file__).parent / "data" / "revpi-connect-dio-aio.rsc"
"""The shipped piCtory config: RevPi Connect + DIO + AIO, used by the demo and the tests."""

__all__ = ["SAMPLE_CONFIGRSC"]
