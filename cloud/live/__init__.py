"""Live fan-out of datapoints to stream subscribers."""
