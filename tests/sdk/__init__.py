"""Tests of the Application SDK."""
