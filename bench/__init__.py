"""Benchmark of the service against the fake vendors, run as `python -m bench` (see
__main__.py). Not a test: it asserts nothing about time, it prints figures."""
