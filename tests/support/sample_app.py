"""A minimal app for testing ``revlink app run``: copies DI 0 to DO 0 every 50 ms.

With SAMPLE_APP_FAIL=1 its main_loop always raises, to show the process exits non-zero.
"""

from __future__ import annotations

import os

from apps.sdk.app import Application


class Mirror(Application):
    loop_target_period = 0.05
    error_wait_period = 0.01
    max_consecutive_failures = 3

    def main_loop(self) -> None:  # a plain (sync) loop, run in a worker thread
        if os.environ.get("SAMPLE_APP_FAIL") == "1":
            raise RuntimeError("always failing, on purpose")
        self.platform_iface.set_do(0, self.platform_iface.get_di(0))

    def on_shutdown(self) -> None:
        print("on_shutdown ran", flush=True)
