"""Benchmarks: `python -m bench.<name>`. Not tests; results are recorded in docs/benchmarks.md."""
