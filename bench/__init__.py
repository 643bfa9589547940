"""Benchmarks of dualauth: `python -m bench` (throughput, scaling) and `python -m bench.compare`."""
