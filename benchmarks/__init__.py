"""Benchmarks run by `make bench-*`; each prints figures and ratios against a same-run baseline."""
