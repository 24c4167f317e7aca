"""Tests of the plugin host and its SDK."""
