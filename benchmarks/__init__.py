"""The benchmark suite of pv-simulator: ``python -m benchmarks.run [--quick]`` (see RESULTS.md)."""
