"""Test-only programs the tests start as real processes."""
