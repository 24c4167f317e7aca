"""Tests of the platform bridge: the process image, the IO table and the plant simulator."""
