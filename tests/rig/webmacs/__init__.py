"""WebMACS's two clients of a cloud, re-implemented in Python as they behave on the wire.

revlink promises that WebMACS's edge controller (``stefanposs/webmacs``,
``controller/src/webmacs_controller``) and its browser client
(``frontend/src/composables/useRealtimeDatapoints.ts`` on ``services/websocket.ts``) work
against revlink's cloud unchanged. These classes do what those do, request for request,
with the same timings and the same tolerance (or intolerance) of what comes back, and keep
a log of what they sent, received and went through, for tests to check. Where they depart
from the originals it is said at the place, and only to make a run checkable (a controller
restricted to named instances, events read on every page) or to record what the original
only logs.
"""
