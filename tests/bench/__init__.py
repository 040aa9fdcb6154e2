"""Benchmarks: `python -m tests.bench.run` (see README.md)."""
