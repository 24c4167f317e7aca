"""Benchmarks: run by hand (make bench), never by CI; each prints ratios against a baseline."""
