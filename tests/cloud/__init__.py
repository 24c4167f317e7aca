"""Tests of the cloud: one module per router or door."""
