"""Benchmarks that drive a running Parley the way real clients do, next to a bare baseline.

Figures are only meaningful as ratios against a baseline measured in the same run on the same
machine; see `bench/README.md`.
"""
