"""Benchmarks: speed and memory measured side by side in one run (medians), never in timed tests."""
