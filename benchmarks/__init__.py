"""Benchmarks: how fast the service records, rebuilds, projects and answers (BENCHMARKS.md).

``python -m benchmarks.run [--quick]`` (``make bench`` / ``make bench-quick``) builds its own
realistic data in a fresh PostgreSQL database, prints a table and writes
``benchmarks/results.json``. The machine is shared and noisy, so each figure that has a
target is a ratio against a baseline measured in the same run, next to its absolute value.
"""
