"""The WebMACS-compatible WebSocket doors, byte for byte where WebMACS defines the bytes.

``/ws/controller/telemetry`` takes datapoint batches from WebMACS controllers (operators and
admins only) and ``/ws/datapoints/stream`` sends live ``datapoints_batch`` messages to any
signed-in user. Both take the access token as ``?token=``, accept the socket first and then
close it with 1008 and WebMACS's reason when the token is refused, because WebMACS clients
read that reason. Devices use their own uplink door, not these.
"""
