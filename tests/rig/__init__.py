"""Reusable pytest fixtures (rigs) for revlink tests."""
