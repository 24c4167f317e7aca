"""The Modbus bridge: TCP and RTU buses through pymodbus, and Modbus servers, over gRPC."""

__all__: list[str] = []
