"""Bundled sample feeds and a loopback feed server for the offline demo, tests and benchmarks."""
