"""The benchmark suite of pv-simulator: ``python benchmarks/run.py [--quick]`` (see RESULTS.md)."""
